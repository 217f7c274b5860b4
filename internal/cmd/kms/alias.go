package kms

import (
	"fmt"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	kmssdk "github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
)

func newCmdAlias(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alias <command>",
		Short: "Manage key aliases",
		Long: heredoc.Doc(`
			An alias (alias/NAME) names a key wherever a key id is accepted: 'ossctl kms encrypt
			--key-id alias/NAME', 'ossctl cp --encrypt kms:alias/NAME'. Pointing an alias at a new
			key switches new encryptions over without touching configuration.
		`),
		Example: heredoc.Doc(`
			$ ossctl kms alias create alias/backups KEY_ID
			$ ossctl kms alias update alias/backups NEW_KEY_ID
			$ ossctl kms alias list
		`),
	}
	cmd.AddCommand(
		newCmdAliasSet(f, "create", nil),
		newCmdAliasSet(f, "update", nil),
		newCmdAliasDelete(f, nil),
		newCmdAliasList(f, nil),
	)
	return cmd
}

// AliasOptions are the inputs of `kms alias create|update|delete|list`.
type AliasOptions struct {
	Base
	// Verb is create or update for newCmdAliasSet.
	Verb      string
	AliasName string
	KeyID     string
}

// AliasEntry is one alias (JSON output of alias create/update/list).
type AliasEntry struct {
	AliasName string `json:"AliasName"`
	AliasArn  string `json:"AliasArn,omitempty"`
	KeyID     string `json:"KeyId"`
}

// normalizeAlias accepts NAME or alias/NAME and checks the format KMS documents.
func normalizeAlias(s string) (string, error) {
	if !strings.HasPrefix(s, "alias/") {
		s = "alias/" + s
	}
	name := strings.TrimPrefix(s, "alias/")
	if name == "" || len(name) > 255 {
		return "", cmdutil.FlagErrorf("invalid alias %q: want alias/NAME with 1 to 255 characters", s)
	}
	for _, r := range name {
		if !validAliasRune(r) {
			return "", cmdutil.FlagErrorf("invalid alias %q: only letters, digits, '_', '/' and '-' are allowed", s)
		}
	}
	if strings.HasPrefix(name, "acs/") {
		return "", cmdutil.FlagErrorf("invalid alias %q: alias/acs/ is reserved for cloud services", s)
	}
	return s, nil
}

// aliasSet is a verb that points an alias at a key: its help, how
// messages name it, and its request.
type aliasSet struct {
	short, long string
	doing, done string
	call        func(c *cmdutil.KMSClient, alias, keyID string) error
}

var aliasSets = map[string]aliasSet{
	"create": {
		short: "Create an alias for a key",
		long:  "Create alias/NAME pointing at a key. An alias names one key; a key may have many aliases.",
		doing: "creating", done: "Created",
		call: func(c *cmdutil.KMSClient, alias, keyID string) error {
			req := kmssdk.CreateCreateAliasRequest()
			req.Scheme, req.AliasName, req.KeyId = c.Scheme, alias, keyID
			_, err := c.CreateAlias(req)
			return err
		},
	},
	"update": {
		short: "Point an alias at another key",
		long:  "Point an existing alias at another key. New encryptions through the alias use the new key;\nciphertexts made before still decrypt, as blobs name their key.",
		doing: "updating", done: "Updated",
		call: func(c *cmdutil.KMSClient, alias, keyID string) error {
			req := kmssdk.CreateUpdateAliasRequest()
			req.Scheme, req.AliasName, req.KeyId = c.Scheme, alias, keyID
			_, err := c.UpdateAlias(req)
			return err
		},
	},
}

func newCmdAliasSet(f *cmdutil.Factory, verb string, runF func(*AliasOptions) error) *cobra.Command {
	opts := &AliasOptions{Base: newBase(f), Verb: verb}
	h := aliasSets[verb]
	return &cobra.Command{
		Use:     verb + " alias/NAME KEY_ID",
		Short:   h.short,
		Long:    cmdutil.LongHelp(h.long+"\n", exitCodes...),
		Example: "$ ossctl kms alias " + verb + " alias/backups KEY_ID\n",
		Args:    cmdutil.ExactArgs(2, "alias/NAME KEY_ID"),
		RunE: func(_ *cobra.Command, args []string) error {
			a, err := normalizeAlias(args[0])
			if err != nil {
				return err
			}
			opts.AliasName, opts.KeyID = a, args[1]
			if runF != nil {
				return runF(opts)
			}
			return runAliasSet(opts)
		},
	}
}

func runAliasSet(opts *AliasOptions) error {
	set, ok := aliasSets[opts.Verb]
	if !ok {
		return fmt.Errorf("unknown alias verb %q", opts.Verb)
	}
	c, err := opts.KMS()
	if err != nil {
		return err
	}
	if err := set.call(c, opts.AliasName, opts.KeyID); err != nil {
		return fmt.Errorf("%s alias %s: %w", set.doing, opts.AliasName, err)
	}
	p := opts.Printer()
	if p.IsJSON() {
		return p.JSON(AliasEntry{AliasName: opts.AliasName, KeyID: opts.KeyID})
	}
	p.Status("%s %s → %s\n", set.done, opts.AliasName, opts.KeyID)
	return nil
}

func newCmdAliasDelete(f *cmdutil.Factory, runF func(*AliasOptions) error) *cobra.Command {
	opts := &AliasOptions{Base: newBase(f), Verb: "delete"}
	return &cobra.Command{
		Use:     "delete alias/NAME",
		Short:   "Delete an alias",
		Long:    cmdutil.LongHelp("Delete an alias. The key itself is unaffected.\n", exitCodes...),
		Example: "$ ossctl kms alias delete alias/old-backups\n",
		Args:    cmdutil.ExactArgs(1, "alias/NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			a, err := normalizeAlias(args[0])
			if err != nil {
				return err
			}
			opts.AliasName = a
			if runF != nil {
				return runF(opts)
			}
			return runAliasDelete(opts)
		},
	}
}

func runAliasDelete(opts *AliasOptions) error {
	c, err := opts.KMS()
	if err != nil {
		return err
	}
	req := kmssdk.CreateDeleteAliasRequest()
	req.Scheme, req.AliasName = c.Scheme, opts.AliasName
	if _, err := c.DeleteAlias(req); err != nil {
		return fmt.Errorf("deleting alias %s: %w", opts.AliasName, err)
	}
	p := opts.Printer()
	if p.IsJSON() {
		return p.JSON(AliasEntry{AliasName: opts.AliasName})
	}
	p.Status("Deleted %s\n", opts.AliasName)
	return nil
}

func newCmdAliasList(f *cmdutil.Factory, runF func(*AliasOptions) error) *cobra.Command {
	opts := &AliasOptions{Base: newBase(f), Verb: "list"}
	cmd := &cobra.Command{
		Use:   "list [--key-id KEY_ID]",
		Short: "List aliases",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			List all aliases, or with --key-id only those of one key. JSON output is one line per
			alias.
		`), exitCodes...),
		Example: heredoc.Doc(`
			$ ossctl kms alias list
			$ ossctl kms alias list --key-id KEY_ID
		`),
		Args: cmdutil.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runAliasList(opts)
		},
	}
	cmd.Flags().StringVar(&opts.KeyID, "key-id", "", "list only the aliases of this key")
	return cmd
}

func runAliasList(opts *AliasOptions) error {
	c, err := opts.KMS()
	if err != nil {
		return err
	}
	entries, err := fetchAll(func(page int) ([]AliasEntry, int, error) {
		var (
			aliases []kmssdk.Alias
			total   int
		)
		if opts.KeyID != "" {
			req := kmssdk.CreateListAliasesByKeyIdRequest()
			req.Scheme, req.KeyId = c.Scheme, opts.KeyID
			req.PageNumber, req.PageSize = requests.NewInteger(page), requests.NewInteger(pageSize)
			resp, err := c.ListAliasesByKeyId(req)
			if err != nil {
				return nil, 0, fmt.Errorf("listing aliases of %s: %w", opts.KeyID, err)
			}
			aliases, total = resp.Aliases.Alias, resp.TotalCount
		} else {
			req := kmssdk.CreateListAliasesRequest()
			req.Scheme = c.Scheme
			req.PageNumber, req.PageSize = requests.NewInteger(page), requests.NewInteger(pageSize)
			resp, err := c.ListAliases(req)
			if err != nil {
				return nil, 0, fmt.Errorf("listing aliases: %w", err)
			}
			aliases, total = resp.Aliases.Alias, resp.TotalCount
		}
		var out []AliasEntry
		for _, a := range aliases {
			out = append(out, AliasEntry{AliasName: a.AliasName, AliasArn: a.AliasArn, KeyID: a.KeyId})
		}
		return out, total, nil
	})
	if err != nil {
		return err
	}
	p := opts.Printer()
	if p.IsJSON() {
		return printJSONLines(p, entries)
	}
	t := p.Table("ALIAS", "KEY ID")
	for _, e := range entries {
		t.AddRow(e.AliasName, e.KeyID)
	}
	return t.Render()
}

func validAliasRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '/' || r == '-'
}
