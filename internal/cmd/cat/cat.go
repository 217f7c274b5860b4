// Package cat implements `ossctl cat`: write an object's bytes, or a byte range of it, to stdout.
package cat

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmd/cp"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/cse"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/transfer"
)

// Options is everything cat needs.
type Options struct {
	IO  *iostreams.IOStreams
	OSS func() (*oss.Client, error)
	Ctx context.Context

	URL cmdutil.OSSURL
	// Range is "a-b", "a-" or "-n" (the last n bytes); empty reads the whole object.
	Range string
	// Keys finds the master key of a client-side encrypted object (nil: bytes as stored).
	Keys transfer.KeySource
	// Keyring and PassphraseCommand are --keyring and --passphrase-command.
	Keyring, PassphraseCommand string
}

var rangeRE = regexp.MustCompile(`^(\d*)-(\d*)$`)

// ParseRange validates a --range value: "a-b" (bytes a to b inclusive), "a-" (from a to the
// end) or "-n" (the last n bytes).
func ParseRange(s string) error {
	m := rangeRE.FindStringSubmatch(s)
	if m == nil || (m[1] == "" && m[2] == "") {
		return fmt.Errorf("invalid range %q: expected START-END, START- or -LENGTH (bytes)", s)
	}
	if m[1] != "" && m[2] != "" {
		a, err1 := strconv.ParseUint(m[1], 10, 63)
		b, err2 := strconv.ParseUint(m[2], 10, 63)
		if err1 != nil || err2 != nil || a > b {
			return fmt.Errorf("invalid range %q: START must not exceed END", s)
		}
	}
	if m[1] == "" {
		if n, err := strconv.ParseUint(m[2], 10, 63); err != nil || n == 0 {
			return fmt.Errorf("invalid range %q: the suffix length must be positive", s)
		}
	}
	return nil
}

// NewCmdCat builds `ossctl cat`.
func NewCmdCat(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, OSS: f.OSSTransfer}
	cmd := &cobra.Command{
		Use:   "cat oss://BUCKET/KEY",
		Short: "Write an object's content to standard output",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Write the object's bytes, exactly, to standard output; nothing else is ever written
			there (--output json does not apply to the data). The whole object's CRC-64 is
			verified after the last byte: a mismatch exits 6.

			--range START-END writes bytes START to END inclusive (counting from 0), START- from
			START to the end, and -LENGTH the last LENGTH bytes. As OSS does by default, a range
			that does not fit the object is ignored and the whole object is written.

			A client-side encrypted object (cp --encrypt, or the official SDKs' encryption
			clients) is decrypted with the master key its metadata names: KMS through the
			configured endpoint, a local key through the keyring (--keyring,
			--passphrase-command or $OSSCTL_KEYRING_PASSPHRASE). Ranges count plaintext bytes and
			fetch only the ciphertext they need. The SDK format is not authenticated: a tampered
			object is detected (exit 6) only by the checks that apply to the whole object (the
			stored CRC-64, the recorded plaintext MD5), after its bytes were written; objects in
			ossctl's authenticated mode are verified chunk by chunk before any byte is written.
		`), cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage, cmdutil.ExitNotFound, cmdutil.ExitAuth,
			cmdutil.ExitNetwork, cmdutil.ExitIntegrity, cmdutil.ExitInterrupted),
		Example: heredoc.Doc(`
			$ ossctl cat oss://my-bucket/config/app.yaml
			$ ossctl cat oss://my-bucket/logs/big.log --range 0-1023
			$ ossctl cat oss://my-bucket/logs/big.log --range -4096 | tail -n 5
		`),
		Args:              cmdutil.ExactArgs(1, "oss://BUCKET/KEY"),
		ValidArgsFunction: cmdutil.CompleteOSSPaths(f, 1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := cmdutil.ParseObjectURL(args[0])
			if err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			if opts.Range != "" {
				if err := ParseRange(opts.Range); err != nil {
					return cmdutil.FlagErrorWrap(err)
				}
			}
			opts.URL = u
			opts.Ctx = cmd.Context()
			opts.Keys = cp.NewKeys(f, cmd, opts.Keyring, opts.PassphraseCommand)
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Range, "range", "", "write only these bytes: `START-END`, START- or -LENGTH")
	cp.RegisterKeyFlags(cmd, &opts.Keyring, &opts.PassphraseCommand)
	return cmd
}

func run(opts *Options) error {
	if opts.Ctx == nil {
		opts.Ctx = context.Background()
	}
	c, err := opts.OSS()
	if err != nil {
		return err
	}
	b, err := c.Bucket(opts.URL.Bucket)
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	var h http.Header
	if opts.Range != "" && opts.Keys != nil {
		// A range of an encrypted object counts plaintext bytes: read the envelope first.
		if h, err = b.GetObjectDetailedMeta(opts.URL.Key, oss.WithContext(opts.Ctx)); err != nil {
			return fmt.Errorf("reading %s: %w", opts.URL, err)
		}
	}
	if h != nil && cse.IsEncrypted(h) {
		return catEncryptedRange(opts, b, h)
	}
	if opts.Range == "" {
		// The whole object: streamed as it arrives, a dropped connection resumed from the last
		// byte written, the CRC-64 verified at the end (and decrypted when encrypted).
		cfg := &transfer.Config{Client: c, Encryption: &transfer.Encryption{Keys: opts.Keys}}
		if _, err := cfg.DownloadTo(opts.Ctx, opts.IO.Out, opts.URL.Bucket, opts.URL.Key, nil); err != nil {
			return fmt.Errorf("reading %s: %w", opts.URL, err)
		}
		return nil
	}
	// A ranged GET carries no CRC-64 of its bytes (the SDK computes none when a Range is set).
	body, err := b.GetObject(opts.URL.Key, oss.WithContext(opts.Ctx), oss.NormalizedRange(opts.Range))
	if err != nil {
		return fmt.Errorf("reading %s: %w", opts.URL, err)
	}
	defer func() { _ = body.Close() }() // a response body: nothing to lose
	if _, err := io.Copy(opts.IO.Out, body); err != nil {
		return fmt.Errorf("reading %s: %w", opts.URL, err)
	}
	return nil
}

// plainRange resolves a --range value against a plaintext of size bytes. ok is false when the
// range does not fit, in which case OSS's default behaviour (the whole object) applies.
func plainRange(r string, size int64) (start, end int64, ok bool) {
	m := rangeRE.FindStringSubmatch(r)
	if m == nil || size == 0 {
		return 0, 0, false
	}
	if m[1] == "" {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		return max(size-n, 0), size - 1, true
	}
	start, _ = strconv.ParseInt(m[1], 10, 64)
	end = size - 1
	if m[2] != "" {
		e, _ := strconv.ParseInt(m[2], 10, 64)
		end = min(e, size-1)
	}
	if start >= size {
		return 0, 0, false
	}
	return start, end, true
}

// catEncryptedRange writes a plaintext range of an encrypted object: the ciphertext that holds
// it is fetched (conditional on the HEAD's ETag) and decrypted.
func catEncryptedRange(opts *Options, b *oss.Bucket, h http.Header) error {
	d, err := cse.OpenDownload(h, opts.Keys)
	if err != nil {
		return fmt.Errorf("decrypting %s: %w", opts.URL, err)
	}
	start, end, ok := plainRange(opts.Range, d.Size())
	if !ok {
		start, end = 0, -1
		if d.Size() == 0 {
			return nil
		}
	}
	plan, err := d.Plan(start, end)
	if err != nil {
		return fmt.Errorf("decrypting %s: %w", opts.URL, cse.Classify(err))
	}
	body, err := b.GetObject(opts.URL.Key, oss.WithContext(opts.Ctx), oss.IfMatch(h.Get("ETag")),
		oss.NormalizedRange(strings.TrimPrefix(plan.HTTPRange(), "bytes=")), oss.RangeBehavior("standard"))
	if err != nil {
		return fmt.Errorf("reading %s: %w", opts.URL, err)
	}
	defer func() { _ = body.Close() }() // a response body: nothing to lose
	pr, err := d.DecryptRange(body, plan)
	if err != nil {
		return fmt.Errorf("decrypting %s: %w", opts.URL, err)
	}
	if _, err := io.Copy(opts.IO.Out, pr); err != nil {
		return fmt.Errorf("decrypting %s: %w", opts.URL, cse.Classify(err))
	}
	return nil
}
