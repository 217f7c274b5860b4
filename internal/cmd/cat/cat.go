// Package cat implements `ossctl cat`: write an object's bytes, or a byte range of it, to stdout.
package cat

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
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
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Range, "range", "", "write only these bytes: `START-END`, START- or -LENGTH")
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
	if opts.Range == "" {
		// The whole object: streamed as it arrives, a dropped connection resumed from the last
		// byte written, the CRC-64 verified at the end.
		cfg := &transfer.Config{Client: c}
		if _, err := cfg.DownloadTo(opts.Ctx, opts.IO.Out, opts.URL.Bucket, opts.URL.Key, nil); err != nil {
			return fmt.Errorf("reading %s: %w", opts.URL, err)
		}
		return nil
	}
	options := []oss.Option{oss.WithContext(opts.Ctx), oss.NormalizedRange(opts.Range)}
	res, err := b.DoGetObject(&oss.GetObjectRequest{ObjectKey: opts.URL.Key}, options)
	if err != nil {
		return fmt.Errorf("reading %s: %w", opts.URL, err)
	}
	defer res.Response.Close()
	if _, err := io.Copy(opts.IO.Out, res.Response.Body); err != nil {
		return fmt.Errorf("reading %s: %w", opts.URL, err)
	}
	if res.ClientCRC != nil && res.Response.Headers.Get(oss.HTTPHeaderOssCRC64) != "" {
		res.Response.ClientCRC = res.ClientCRC.Sum64()
		if err := oss.CheckCRC(res.Response, "GetObject"); err != nil {
			return fmt.Errorf("reading %s: %w", opts.URL, err)
		}
	}
	return nil
}
