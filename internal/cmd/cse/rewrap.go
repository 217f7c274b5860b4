package cse

import (
	"context"
	"errors"
	"fmt"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/crypto"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/cse"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
)

// RewrapOptions are the inputs of `cse rewrap`.
type RewrapOptions struct {
	IO      *iostreams.IOStreams
	OSS     func() (*oss.Client, error)
	Printer func() *output.Printer
	Ctx     context.Context
	// Keys finds the old master keys and the new one.
	Keys func() *cse.Keys

	URL       cmdutil.OSSURL
	To        cse.Spec
	Recursive bool
}

// RewrapEntry is one JSON line of `cse rewrap`.
type RewrapEntry struct {
	URL    string `json:"url"`
	Status string `json:"status"` // rewrapped, unchanged, skipped (not encrypted), failed
	*cse.RewrapResult
	Error string `json:"error,omitempty"`
}

func newCmdRewrap(f *cmdutil.Factory, runF func(*RewrapOptions) error) *cobra.Command {
	opts := &RewrapOptions{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer}
	var to, keyringPath, passCmd string
	cmd := &cobra.Command{
		Use:   "rewrap oss://BUCKET/KEY|PREFIX --to kms:KEY|key:NAME [-r]",
		Short: "Re-wrap data keys under another master key",
		Long: cmdutil.LongHelp(heredoc.Docf(`
			Re-key encrypted objects without re-encrypting them: for each object, read its
			envelope, unwrap the data key with the old master key (found from the metadata: KMS
			blobs name their key, keyring keys are matched by matdesc), wrap it under --to, and
			rewrite the metadata in place (CopyObject onto itself with the REPLACE directive,
			re-sending every user metadata entry and content header, conditional on the ETag).
			The object's body, and so its CRC-64, stay the same; a changed CRC-64 is reported as
			an integrity failure.

			Without -r the argument is one object; with -r every encrypted object under the
			prefix is re-wrapped and plain objects are skipped. Objects already wrapped by the
			target key are left alone. JSON output is one line per object.

			Keyring keys need the keyring passphrase (--passphrase-command, $%s or a
			prompt); KMS keys need the KMS endpoint (see 'ossctl kms --help').
		`, cse.EnvPassphrase), cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage, cmdutil.ExitNotFound, cmdutil.ExitAuth,
			cmdutil.ExitNetwork, cmdutil.ExitIntegrity, cmdutil.ExitPartial, cmdutil.ExitInterrupted),
		Example: heredoc.Doc(`
			$ ossctl cse rewrap oss://my-bucket/backup.tar --to kms:alias/backups-2027
			$ ossctl cse rewrap oss://my-bucket/photos/ -r --to key:laptop
		`),
		Args:              cmdutil.ExactArgs(1, "oss://BUCKET/KEY"),
		ValidArgsFunction: cmdutil.CompleteOSSPaths(f, 1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := cmdutil.ParseURL(args[0])
			if err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			if !opts.Recursive {
				if u, err = objectURL(args[0]); err != nil {
					return err
				}
			}
			if to == "" {
				return cmdutil.FlagErrorf("--to kms:KEY or key:NAME is required")
			}
			spec, err := cse.ParseSpec(to)
			if err != nil {
				return err
			}
			if spec.IsZero() {
				return cmdutil.FlagErrorf("--to none: rewrap needs a master key; decrypt with 'ossctl cp' to remove encryption")
			}
			opts.URL, opts.To, opts.Ctx = u, spec, cmd.Context()
			src := cse.PassphraseSource{IO: f.IOStreams, LookupEnv: f.Env.LookupEnv, Command: passCmd, Ctx: cmd.Context()}
			opts.Keys = func() *cse.Keys { return cse.NewKeys(f, keyringPath, src) }
			if runF != nil {
				return runF(opts)
			}
			return runRewrap(opts)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "new master key: kms:<key-id|alias/NAME|ARN> or key:<name>")
	cmd.Flags().BoolVarP(&opts.Recursive, "recursive", "r", false, "re-wrap every encrypted object under the prefix")
	cmd.Flags().StringVar(&keyringPath, "keyring", "", "keyring file (default: $OSSCTL_KEYRING or <user config dir>/ossctl/keyring.json)")
	cmd.Flags().StringVar(&passCmd, "passphrase-command", "", "command that prints the keyring passphrase (default: $"+cse.EnvPassphrase+" or a prompt)")
	return cmd
}

func runRewrap(opts *RewrapOptions) error {
	ctx := ctxOr(opts.Ctx)
	c, err := opts.OSS()
	if err != nil {
		return err
	}
	b, err := c.Bucket(opts.URL.Bucket)
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	keys := opts.Keys()
	newKey, err := keys.MasterKey(opts.To)
	if err != nil {
		return fmt.Errorf("using %s: %w", opts.To, err)
	}
	p := opts.Printer()
	if !opts.Recursive {
		res, err := cse.Rewrap(ctx, b, opts.URL.Key, keys, newKey)
		if err != nil {
			return err
		}
		return report(p, entry(opts.URL, res))
	}
	var (
		total, failed int
		first         error
		marker        string
	)
	for {
		page, err := b.ListObjects(oss.Prefix(opts.URL.Key), oss.Marker(marker), oss.MaxKeys(1000), oss.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("listing %s: %w", opts.URL, err)
		}
		for _, o := range page.Objects {
			if err := ctx.Err(); err != nil {
				return err
			}
			u := cmdutil.OSSURL{Bucket: opts.URL.Bucket, Key: o.Key}
			total++
			res, err := cse.Rewrap(ctx, b, o.Key, keys, newKey)
			var e RewrapEntry
			switch {
			case errors.Is(err, crypto.ErrNotEncrypted):
				e = RewrapEntry{URL: u.String(), Status: "skipped"}
			case err != nil:
				if errors.Is(err, context.Canceled) {
					return err
				}
				failed++
				if first == nil {
					first = err
				}
				e = RewrapEntry{URL: u.String(), Status: "failed", Error: err.Error()}
				if !p.IsJSON() {
					opts.IO.Eprintf("ossctl: %s: %v\n", u, err)
					continue
				}
			default:
				e = entry(u, res)
			}
			if err := report(p, e); err != nil {
				return err
			}
		}
		if !page.IsTruncated {
			break
		}
		marker = page.NextMarker
	}
	if failed > 0 {
		return &cmdutil.PartialError{Op: "re-wrapping data keys", Failed: failed, Total: total, First: first}
	}
	return nil
}

func entry(u cmdutil.OSSURL, res *cse.RewrapResult) RewrapEntry {
	st := "rewrapped"
	if res.Unchanged {
		st = "unchanged"
	}
	return RewrapEntry{URL: u.String(), Status: st, RewrapResult: res}
}

func report(p *output.Printer, e RewrapEntry) error {
	if p.IsJSON() {
		return p.JSONLine(e)
	}
	switch e.Status {
	case "rewrapped":
		from := e.FromWrapAlg
		if e.FromKMSKeyID != "" {
			from = "kms:" + e.FromKMSKeyID
		} else if e.FromMatDesc != "" {
			from = e.FromMatDesc
		}
		return p.Printf("rewrapped\t%s\t%s\n", e.URL, from)
	default:
		return p.Printf("%s\t%s\n", e.Status, e.URL)
	}
}
