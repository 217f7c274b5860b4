package kms

import (
	"fmt"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	kmssdk "github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/output"
)

// keyFields renders key metadata as a detail view.
func keyFields(m kmssdk.KeyMetadata) []output.Field {
	fields := []output.Field{
		{Name: "Key id", Value: m.KeyId},
		{Name: "ARN", Value: m.Arn},
		{Name: "State", Value: m.KeyState},
		{Name: "Spec", Value: m.KeySpec},
		{Name: "Usage", Value: m.KeyUsage},
		{Name: "Origin", Value: m.Origin},
		{Name: "Protection", Value: m.ProtectionLevel},
		{Name: "Created", Value: m.CreationDate},
		{Name: "Creator", Value: m.Creator},
		{Name: "Primary version", Value: m.PrimaryKeyVersion},
		{Name: "Rotation", Value: m.AutomaticRotation},
	}
	opt := func(name, v string) {
		if v != "" {
			fields = append(fields, output.Field{Name: name, Value: v})
		}
	}
	opt("Rotation interval", m.RotationInterval)
	opt("Last rotation", m.LastRotationDate)
	opt("Next rotation", m.NextRotationDate)
	opt("Deletion date", m.DeleteDate)
	opt("Material expires", m.MaterialExpireTime)
	opt("Description", m.Description)
	return fields
}

func printKey(b Base, m kmssdk.KeyMetadata) error {
	p := b.Printer()
	if p.IsJSON() {
		return p.JSON(m)
	}
	return p.Fields(keyFields(m))
}

// CreateOptions are the inputs of `kms create`.
type CreateOptions struct {
	Base
	Description      string
	KeySpec          string
	Origin           string
	ProtectionLevel  string
	RotationInterval string
}

func newCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Base: newBase(f)}
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a customer master key",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Create a symmetric customer master key (CMK) and print its metadata. With
			--rotation-interval the key rotates automatically (7d to 365d); old versions keep
			decrypting. With --origin EXTERNAL the key waits for imported material (BYOK).
		`), exitCodes...),
		Example: heredoc.Doc(`
			$ ossctl kms create --description "backup data keys"
			$ ossctl kms create --rotation-interval 90d --output json | jq -r .KeyId
		`),
		Args: cmdutil.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runCreate(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Description, "description", "", "description of the key")
	cmd.Flags().StringVar(&opts.KeySpec, "key-spec", "", "key spec (default Aliyun_AES_256)")
	cmdutil.StringEnumFlag(cmd, &opts.Origin, "origin", "", "", []string{"Aliyun_KMS", "EXTERNAL"}, "key material origin (default Aliyun_KMS)")
	cmdutil.StringEnumFlag(cmd, &opts.ProtectionLevel, "protection-level", "", "", []string{"SOFTWARE", "HSM"}, "protection level (default SOFTWARE)")
	cmd.Flags().StringVar(&opts.RotationInterval, "rotation-interval", "", "enable automatic rotation with this interval, e.g. 90d or 604800s")
	return cmd
}

func runCreate(opts *CreateOptions) error {
	c, err := opts.KMS()
	if err != nil {
		return err
	}
	req := kmssdk.CreateCreateKeyRequest()
	req.Scheme = c.Scheme
	req.Description, req.KeySpec, req.Origin, req.ProtectionLevel = opts.Description, opts.KeySpec, opts.Origin, opts.ProtectionLevel
	if opts.RotationInterval != "" {
		req.EnableAutomaticRotation = requests.NewBoolean(true)
		req.RotationInterval = opts.RotationInterval
	}
	resp, err := c.CreateKey(req)
	if err != nil {
		return fmt.Errorf("creating KMS key: %w", err)
	}
	return printKey(opts.Base, resp.KeyMetadata)
}

// KeyOptions are the inputs of verbs that take one key: describe, enable, disable,
// cancel-deletion, rotate.
type KeyOptions struct {
	Base
	// Verb is the command name (enable, disable, cancel-deletion) for newCmdSetState.
	Verb  string
	KeyID string
}

func newCmdDescribe(f *cmdutil.Factory, runF func(*KeyOptions) error) *cobra.Command {
	opts := &KeyOptions{Base: newBase(f), Verb: "describe"}
	return &cobra.Command{
		Use:   "describe KEY_ID|alias/NAME|ARN",
		Short: "Show a key's metadata",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Show a customer master key's metadata: id, ARN, state, spec, origin, primary version,
			rotation settings and deletion date. The key may be named by id, alias or ARN.
		`), exitCodes...),
		Example: heredoc.Doc(`
			$ ossctl kms describe alias/backups
			$ ossctl kms describe KEY_ID --output json | jq -r .KeyState
		`),
		Args: cmdutil.ExactArgs(1, "KEY_ID"),
		RunE: keyArgRunE(opts, runF, runDescribe),
	}
}

func describe(c *cmdutil.KMSClient, id string) (kmssdk.KeyMetadata, error) {
	req := kmssdk.CreateDescribeKeyRequest()
	req.Scheme = c.Scheme
	req.KeyId = id
	resp, err := c.DescribeKey(req)
	if err != nil {
		return kmssdk.KeyMetadata{}, fmt.Errorf("describing KMS key %s: %w", id, err)
	}
	return resp.KeyMetadata, nil
}

func runDescribe(opts *KeyOptions) error {
	c, err := opts.KMS()
	if err != nil {
		return err
	}
	m, err := describe(c, opts.KeyID)
	if err != nil {
		return err
	}
	return printKey(opts.Base, m)
}

// keyArgRunE is the RunE of a verb whose one argument names a key: it
// stores the argument and calls runF (tests) or run.
func keyArgRunE(opts *KeyOptions, runF, run func(*KeyOptions) error) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		opts.KeyID = args[0]
		if runF != nil {
			return runF(opts)
		}
		return run(opts)
	}
}

// resolveKey returns the KMS client and the key id that ref (an id, alias
// or ARN) names: key changes take a key id.
func resolveKey(b Base, ref string) (*cmdutil.KMSClient, string, error) {
	c, err := b.KMS()
	if err != nil {
		return nil, "", err
	}
	m, err := describe(c, ref)
	if err != nil {
		return nil, "", err
	}
	return c, m.KeyId, nil
}

// changeKey resolves ref, applies change to the key and prints its new
// metadata; doing names the change in errors ("enabling").
func changeKey(b Base, ref, doing string, change func(c *cmdutil.KMSClient, id string) error) error {
	c, id, err := resolveKey(b, ref)
	if err != nil {
		return err
	}
	if err := change(c, id); err != nil {
		return fmt.Errorf("%s KMS key %s: %w", doing, id, err)
	}
	m, err := describe(c, id)
	if err != nil {
		return err
	}
	return printKey(b, m)
}

// stateChange is one state-changing verb of a key: its help, how errors
// name it, and its request.
type stateChange struct {
	short, long string
	doing       string
	call        func(c *cmdutil.KMSClient, id string) error
}

var stateChanges = map[string]stateChange{
	"enable": {
		short: "Enable a disabled key",
		long:  "Enable a Disabled key so that it can encrypt and decrypt again.",
		doing: "enabling",
		call: func(c *cmdutil.KMSClient, id string) error {
			req := kmssdk.CreateEnableKeyRequest()
			req.Scheme, req.KeyId = c.Scheme, id
			_, err := c.EnableKey(req)
			return err
		},
	},
	"disable": {
		short: "Disable a key",
		long:  "Disable a key: Encrypt, Decrypt and GenerateDataKey fail until it is enabled again. Objects\nencrypted under it cannot be read meanwhile.",
		doing: "disabling",
		call: func(c *cmdutil.KMSClient, id string) error {
			req := kmssdk.CreateDisableKeyRequest()
			req.Scheme, req.KeyId = c.Scheme, id
			_, err := c.DisableKey(req)
			return err
		},
	},
	"cancel-deletion": {
		short: "Cancel a scheduled key deletion",
		long:  "Cancel the scheduled deletion of a key in PendingDeletion; it returns to Enabled.",
		doing: "canceling the deletion of",
		call: func(c *cmdutil.KMSClient, id string) error {
			req := kmssdk.CreateCancelKeyDeletionRequest()
			req.Scheme, req.KeyId = c.Scheme, id
			_, err := c.CancelKeyDeletion(req)
			return err
		},
	},
}

func newCmdSetState(f *cmdutil.Factory, verb string, runF func(*KeyOptions) error) *cobra.Command {
	opts := &KeyOptions{Base: newBase(f), Verb: verb}
	h := stateChanges[verb]
	return &cobra.Command{
		Use:     verb + " KEY_ID",
		Short:   h.short,
		Long:    cmdutil.LongHelp(h.long+"\nThe new metadata is printed.\n", exitCodes...),
		Example: "$ ossctl kms " + verb + " KEY_ID\n",
		Args:    cmdutil.ExactArgs(1, "KEY_ID"),
		RunE:    keyArgRunE(opts, runF, runSetState),
	}
}

func runSetState(opts *KeyOptions) error {
	change, ok := stateChanges[opts.Verb]
	if !ok {
		return fmt.Errorf("unknown state change %q", opts.Verb)
	}
	return changeKey(opts.Base, opts.KeyID, change.doing, change.call)
}

// ScheduleDeletionOptions are the inputs of `kms schedule-deletion`.
type ScheduleDeletionOptions struct {
	Base
	KeyID string
	Days  int
}

func newCmdScheduleDeletion(f *cmdutil.Factory, runF func(*ScheduleDeletionOptions) error) *cobra.Command {
	opts := &ScheduleDeletionOptions{Base: newBase(f)}
	cmd := &cobra.Command{
		Use:   "schedule-deletion KEY_ID --pending-window DAYS",
		Short: "Schedule a key for deletion after a waiting period",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Put a key in PendingDeletion: it can no longer encrypt or decrypt, and it is deleted
			for good once the pending window (7 to 366 days) has passed. Until then
			'ossctl kms cancel-deletion' restores it. Everything encrypted under a deleted key is
			lost.
		`), exitCodes...),
		Example: "$ ossctl kms schedule-deletion KEY_ID --pending-window 30\n",
		Args:    cmdutil.ExactArgs(1, "KEY_ID"),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.KeyID = args[0]
			if opts.Days < 1 {
				return cmdutil.FlagErrorf("--pending-window must be a number of days (7 to 366)")
			}
			if runF != nil {
				return runF(opts)
			}
			return runScheduleDeletion(opts)
		},
	}
	cmd.Flags().IntVar(&opts.Days, "pending-window", 30, "days before the key is deleted (7 to 366)")
	return cmd
}

func runScheduleDeletion(opts *ScheduleDeletionOptions) error {
	return changeKey(opts.Base, opts.KeyID, "scheduling the deletion of", func(c *cmdutil.KMSClient, id string) error {
		req := kmssdk.CreateScheduleKeyDeletionRequest()
		req.Scheme, req.KeyId = c.Scheme, id
		req.PendingWindowInDays = requests.NewInteger(opts.Days)
		_, err := c.ScheduleKeyDeletion(req)
		return err
	})
}

// KeyVersionResult is the JSON output of `kms rotate`.
type KeyVersionResult struct {
	KeyID        string `json:"KeyId"`
	KeyVersionID string `json:"KeyVersionId"`
	CreationDate string `json:"CreationDate"`
}

func newCmdRotate(f *cmdutil.Factory, runF func(*KeyOptions) error) *cobra.Command {
	opts := &KeyOptions{Base: newBase(f), Verb: "rotate"}
	return &cobra.Command{
		Use:   "rotate KEY_ID",
		Short: "Create a new primary key version",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Rotate a key: create a new key version (CreateKeyVersion) that becomes primary, so new
			ciphertexts use it, while ciphertexts of older versions still decrypt.
		`), exitCodes...),
		Example: "$ ossctl kms rotate alias/backups\n",
		Args:    cmdutil.ExactArgs(1, "KEY_ID"),
		RunE:    keyArgRunE(opts, runF, runRotate),
	}
}

func runRotate(opts *KeyOptions) error {
	c, id, err := resolveKey(opts.Base, opts.KeyID)
	if err != nil {
		return err
	}
	req := kmssdk.CreateCreateKeyVersionRequest()
	req.Scheme, req.KeyId = c.Scheme, id
	resp, err := c.CreateKeyVersion(req)
	if err != nil {
		return fmt.Errorf("rotating KMS key %s: %w", id, err)
	}
	res := KeyVersionResult{KeyID: resp.KeyVersion.KeyId, KeyVersionID: resp.KeyVersion.KeyVersionId, CreationDate: resp.KeyVersion.CreationDate}
	p := opts.Printer()
	if p.IsJSON() {
		return p.JSON(res)
	}
	return p.Fields([]output.Field{
		{Name: "Key id", Value: res.KeyID},
		{Name: "New version", Value: res.KeyVersionID},
		{Name: "Created", Value: res.CreationDate},
	})
}

// ListOptions are the inputs of `kms list`.
type ListOptions struct {
	Base
	// Describe fetches every key's metadata (state, description) for the listing.
	Describe bool
}

// ListEntry is one JSON line of `kms list`.
type ListEntry struct {
	KeyID       string              `json:"KeyId"`
	KeyArn      string              `json:"KeyArn"`
	KeyMetadata *kmssdk.KeyMetadata `json:"KeyMetadata,omitempty"`
}

func newCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Base: newBase(f)}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List customer master keys",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			List the account's keys in the region, all pages. With --long each key is described
			too (state, creation date, description), one DescribeKey request per key.
			JSON output is one line per key.
		`), exitCodes...),
		Example: heredoc.Doc(`
			$ ossctl kms list
			$ ossctl kms list --long
		`),
		Args: cmdutil.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runList(opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Describe, "long", "l", false, "describe every key (state, creation date, description)")
	return cmd
}

func runList(opts *ListOptions) error {
	c, err := opts.KMS()
	if err != nil {
		return err
	}
	entries, err := fetchAll(func(page int) ([]ListEntry, int, error) {
		req := kmssdk.CreateListKeysRequest()
		req.Scheme = c.Scheme
		req.PageNumber, req.PageSize = requests.NewInteger(page), requests.NewInteger(pageSize)
		resp, err := c.ListKeys(req)
		if err != nil {
			return nil, 0, fmt.Errorf("listing KMS keys: %w", err)
		}
		var out []ListEntry
		for _, k := range resp.Keys.Key {
			out = append(out, ListEntry{KeyID: k.KeyId, KeyArn: k.KeyArn})
		}
		return out, resp.TotalCount, nil
	})
	if err != nil {
		return err
	}
	if opts.Describe {
		for i := range entries {
			m, err := describe(c, entries[i].KeyID)
			if err != nil {
				return err
			}
			entries[i].KeyMetadata = &m
		}
	}
	p := opts.Printer()
	if p.IsJSON() {
		return printJSONLines(p, entries)
	}
	if opts.Describe {
		t := p.Table("KEY ID", "STATE", "CREATED", "PRIMARY VERSION", "DESCRIPTION")
		for _, e := range entries {
			m := e.KeyMetadata
			t.AddRow(e.KeyID, m.KeyState, m.CreationDate, m.PrimaryKeyVersion, m.Description)
		}
		return t.Render()
	}
	t := p.Table("KEY ID", "ARN")
	for _, e := range entries {
		t.AddRow(e.KeyID, e.KeyArn)
	}
	return t.Render()
}

// Paging of the list verbs: pages of pageSize entries, at most maxPages.
const (
	pageSize = 100
	maxPages = 10000
)

// fetchAll collects every page of a KMS list action; fetch returns one
// page's entries and the total count.
func fetchAll[T any](fetch func(page int) ([]T, int, error)) ([]T, error) {
	var all []T
	for page := 1; page <= maxPages; page++ {
		items, total, err := fetch(page)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if len(items) == 0 || len(all) >= total {
			break
		}
	}
	return all, nil
}

// printJSONLines prints entries as JSON Lines, one entry a line.
func printJSONLines[T any](p *output.Printer, entries []T) error {
	for _, e := range entries {
		if err := p.JSONLine(e); err != nil {
			return err
		}
	}
	return nil
}
