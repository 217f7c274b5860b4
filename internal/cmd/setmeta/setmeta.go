// Package setmeta implements `ossctl set-meta`: change an object's content headers and user
// metadata in place, with a self-copy (x-oss-metadata-directive: REPLACE) that re-sends everything
// that must be kept.
package setmeta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
	"github.com/ossctl/ossctl/internal/transfer"
)

// Options is everything set-meta needs.
type Options struct {
	IO      *iostreams.IOStreams
	OSS     func() (*oss.Client, error)
	Printer func() *output.Printer
	Ctx     context.Context

	URL       cmdutil.OSSURL
	Recursive bool
	Jobs      int
	// Meta is the user metadata to set (names lowercased, without x-oss-meta-).
	Meta map[string]string
	// Headers are the content headers to set, by canonical name (Content-Type, Cache-Control...).
	Headers map[string]string
	// Update merges Meta into the existing user metadata; otherwise Meta replaces it.
	Update bool
}

// headerFlags maps flags to the content headers they set.
var headerFlags = []struct{ flag, header, usage string }{
	{"content-type", "Content-Type", "Content-Type"},
	{"cache-control", "Cache-Control", "Cache-Control, e.g. \"max-age=3600\""},
	{"content-disposition", "Content-Disposition", "Content-Disposition, e.g. \"attachment; filename=a.pdf\""},
	{"content-encoding", "Content-Encoding", "Content-Encoding, e.g. gzip"},
	{"content-language", "Content-Language", "Content-Language, e.g. en"},
	{"expires", "Expires", "Expires, an HTTP date such as \"Wed, 21 Oct 2026 07:28:00 GMT\""},
}

// NewCmdSetMeta builds `ossctl set-meta`.
func NewCmdSetMeta(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer}
	var (
		meta    []string
		replace bool
		values  = make([]string, len(headerFlags))
	)
	cmd := &cobra.Command{
		Use:   "set-meta oss://BUCKET/KEY [flags] | set-meta -r oss://BUCKET[/PREFIX] [flags]",
		Short: "Change an object's content headers and user metadata",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Change the content headers (--content-type, --cache-control, --content-disposition,
			--content-encoding, --content-language, --expires) and the user metadata (--meta
			NAME:VALUE, sent as x-oss-meta-NAME) of an object, or with -r of every object under a
			prefix, without transferring its data: the object is copied onto itself with the new
			metadata. Headers you do not name keep their values, as do the object's ACL, storage
			class, tags and server-side encryption.

			By default (--replace) the given --meta values replace all user metadata; no --meta
			with --replace removes it all. --update merges them into the existing metadata,
			overwriting names that exist. If the object changes while its metadata is being
			rewritten, the rewrite fails instead of overwriting the new content's metadata.

			The object's Last-Modified time changes. With --output json, one JSON object per
			object ({"event":"done"|"failed","source",...}) and a summary are printed.
		`), cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage, cmdutil.ExitNotFound, cmdutil.ExitAuth,
			cmdutil.ExitNetwork, cmdutil.ExitPartial, cmdutil.ExitInterrupted),
		Example: heredoc.Doc(`
			$ ossctl set-meta oss://my-bucket/index.html --content-type "text/html; charset=utf-8" --cache-control no-cache
			$ ossctl set-meta oss://my-bucket/report.pdf --update --meta reviewed:yes
			$ ossctl set-meta -r oss://my-bucket/assets/ --update --cache-control "max-age=86400"
		`),
		Args:              cmdutil.ExactArgs(1, "oss://BUCKET/KEY, or oss://BUCKET[/PREFIX] with -r"),
		ValidArgsFunction: cmdutil.CompleteOSSPaths(f, 1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := cmdutil.ParseURL(args[0])
			if err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			if !opts.Recursive {
				if u.Key == "" || strings.HasSuffix(u.Key, "/") {
					return cmdutil.FlagErrorf("%s is a bucket or prefix: use -r to change every object under it", args[0])
				}
				if err := cmdutil.ValidateObjectKey(u.Key); err != nil {
					return cmdutil.FlagErrorf("%q: %v", args[0], err)
				}
			}
			if err := cmdutil.MutuallyExclusive("--update and --replace cannot be combined", opts.Update, replace); err != nil {
				return err
			}
			if opts.Meta, err = transfer.ParseMeta(meta); err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			opts.Headers = map[string]string{}
			for i, hf := range headerFlags {
				if !cmd.Flags().Changed(hf.flag) {
					continue
				}
				v := strings.TrimSpace(values[i])
				if v == "" || strings.ContainsAny(v, "\r\n") {
					return cmdutil.FlagErrorf("invalid --%s %q", hf.flag, values[i])
				}
				if hf.header == "Expires" {
					if _, err := http.ParseTime(v); err != nil {
						return cmdutil.FlagErrorf("invalid --expires %q: expected an HTTP date such as %q", v, "Wed, 21 Oct 2026 07:28:00 GMT")
					}
				}
				opts.Headers[hf.header] = v
			}
			if len(opts.Meta) == 0 && len(opts.Headers) == 0 && !replace {
				return cmdutil.FlagErrorf("nothing to change: give --meta or a content header flag (or --replace alone to remove all user metadata)")
			}
			if opts.Jobs < 1 || opts.Jobs > 1000 {
				return cmdutil.FlagErrorf("--jobs must be between 1 and 1000")
			}
			opts.URL = u
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&meta, "meta", nil, "user metadata `NAME:VALUE` (repeatable)")
	for i, hf := range headerFlags {
		fl.StringVar(&values[i], hf.flag, "", hf.usage)
	}
	fl.BoolVar(&opts.Update, "update", false, "merge --meta into the existing user metadata")
	fl.BoolVar(&replace, "replace", false, "replace all user metadata with --meta (the default)")
	fl.BoolVarP(&opts.Recursive, "recursive", "r", false, "change every object under the prefix")
	fl.IntVarP(&opts.Jobs, "jobs", "j", 5, "objects changed at once with -r")
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
	p := opts.Printer()
	jobs := 1
	if opts.Recursive {
		jobs = max(opts.Jobs, 1)
	}
	var printErr error
	sum, err := transfer.Run(opts.Ctx, transfer.Options{Jobs: jobs, OnEvent: func(e transfer.Event) {
		switch {
		case p.IsJSON():
			if perr := p.JSONLine(e); perr != nil && printErr == nil {
				printErr = perr
			}
		case e.Event == transfer.EventFailed && opts.Recursive:
			opts.IO.Eprintf("error: %s\n", output.Text(e.Error))
		}
	}}, func(ctx context.Context, submit transfer.Submit) error {
		if !opts.Recursive {
			return submit(task(opts, b, opts.URL.Key))
		}
		return transfer.WalkRemote(ctx, b, opts.URL.Key, func(o oss.ObjectProperties) error {
			return submit(task(opts, b, o.Key))
		})
	})
	if p.IsJSON() {
		if perr := p.JSONLine(sum); perr != nil && printErr == nil {
			printErr = perr
		}
	} else if err == nil && opts.Recursive && opts.IO.IsStderrTTY() && !opts.IO.IsQuiet() {
		opts.IO.Eprintf("Updated the metadata of %d objects under %s", sum.Done, output.Text(opts.URL.String()))
		if sum.Failed > 0 {
			opts.IO.Eprintf(", %d failed", sum.Failed)
		}
		opts.IO.Eprintln()
	}
	switch {
	case err != nil:
		return fmt.Errorf("setting metadata under %s: %w", opts.URL, err)
	case printErr != nil:
		return printErr
	case sum.Failed > 0 && !opts.Recursive:
		return sum.FirstErr
	case sum.Failed > 0:
		return &cmdutil.PartialError{Op: "setting metadata", Failed: int(sum.Failed), Total: int(sum.Done + sum.Failed), First: sum.FirstErr}
	}
	return nil
}

func task(opts *Options, b *oss.Bucket, key string) transfer.Task {
	url := cmdutil.OSSURL{Bucket: opts.URL.Bucket, Key: key}.String()
	return transfer.Task{Source: url, Run: func(ctx context.Context, _ *transfer.FileListener) (transfer.Outcome, error) {
		if err := SetMeta(ctx, b, key, opts.Meta, opts.Headers, opts.Update); err != nil {
			return transfer.Outcome{}, fmt.Errorf("setting metadata of %s: %w", url, err)
		}
		return transfer.Outcome{}, nil
	}}
}

// SetMeta rewrites one object's metadata with a self-copy. headers are content headers by
// canonical name; meta replaces the user metadata, or is merged into it when update is set.
// Everything else the object has (the other content headers, ACL, storage class, server-side
// encryption) is sent again so that it is kept; the copy is conditional on the ETag read first.
func SetMeta(ctx context.Context, b *oss.Bucket, key string, meta, headers map[string]string, update bool) error {
	h, err := b.GetObjectDetailedMeta(key, oss.WithContext(ctx))
	if err != nil {
		return err
	}
	skip := map[string]bool{}
	var opts []oss.Option
	for name, v := range headers {
		skip[name] = true
		opts = append(opts, oss.SetHeader(name, v))
	}
	opts = append(opts, transfer.KeptHeaderOptions(h, skip)...)
	newMeta := meta
	if update {
		newMeta = transfer.UserMeta(h)
		for k, v := range meta {
			newMeta[k] = v
		}
	}
	opts = append(opts, transfer.MetaOptions(newMeta)...)
	if sc := h.Get("X-Oss-Storage-Class"); sc != "" {
		opts = append(opts, oss.ObjectStorageClass(oss.StorageClassType(sc)))
	}
	acl, err := b.GetObjectACL(key, oss.WithContext(ctx))
	switch {
	case err == nil:
		if acl.ACL != "" && acl.ACL != "default" {
			opts = append(opts, oss.ObjectACL(oss.ACLType(acl.ACL)))
		}
	case isAccessDenied(err):
		// Allowed to rewrite but not to read the ACL: the copy keeps the default.
	default:
		return fmt.Errorf("reading the object's ACL: %w", err)
	}
	if etag := h.Get("ETag"); etag != "" {
		opts = append(opts, oss.CopySourceIfMatch(etag))
	}
	opts = append(opts, oss.MetadataDirective(oss.MetaReplace), oss.WithContext(ctx))
	_, err = b.CopyObject(key, key, opts...)
	return err
}

func isAccessDenied(err error) bool {
	var se oss.ServiceError
	return errors.As(err, &se) && se.Code == "AccessDenied"
}
