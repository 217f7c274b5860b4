// Package rm implements `ossctl rm`: remove one object, every object under a prefix (in batches
// of up to 1000 keys), or the incomplete multipart uploads under a prefix.
package rm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
	"github.com/ossctl/ossctl/internal/transfer"
)

// maxBatch is the most uploads listed per request.
const maxBatch = 1000

// Options is everything rm needs.
type Options struct {
	IO      *iostreams.IOStreams
	OSS     func() (*oss.Client, error)
	Printer func() *output.Printer
	Ctx     context.Context

	URL cmdutil.OSSURL
	// Recursive removes every object whose key starts with URL.Key.
	Recursive bool
	// Uploads aborts the incomplete multipart uploads under URL.Key instead.
	Uploads bool
	// Force skips the confirmation of -r and -m.
	Force bool
	// DryRun lists what would be removed and removes nothing.
	DryRun bool
	// Jobs is the number of delete batches (of up to 1000 keys) in flight with -r.
	Jobs int
	// Retry is the retry policy of delete requests (zero: the engine's default).
	Retry transfer.Retry
}

// Entry is one line of `rm --output json`.
type Entry struct {
	// Event is "removed", "aborted" (an upload), "would-remove", "would-abort" (--dry-run) or
	// "failed".
	Event    string `json:"event"`
	Bucket   string `json:"bucket"`
	Key      string `json:"key"`
	URL      string `json:"url"`
	UploadID string `json:"uploadId,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Summary is the last line of `rm -r|-m --output json`.
type Summary struct {
	Event   string `json:"event"`
	Removed int    `json:"removed"`
	Failed  int    `json:"failed"`
	DryRun  bool   `json:"dryRun,omitempty"`
}

// NewCmdRm builds `ossctl rm`.
func NewCmdRm(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "rm oss://BUCKET/KEY | rm -r oss://BUCKET[/PREFIX] | rm -m oss://BUCKET[/PREFIX]",
		Short: "Remove objects or incomplete multipart uploads",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Remove one object: oss://BUCKET/KEY. As in OSS itself, removing a key that does not
			exist succeeds.

			With -r, remove every object whose key starts with PREFIX (a plain string match:
			oss://b/logs also matches logs2.txt; write oss://b/logs/ for the directory), in
			batches of up to 1000 keys, --jobs batches at once, on the same transfer engine as cp
			and sync (listing is streamed: any number of keys; server errors are retried). With -m, abort the incomplete multipart uploads whose keys
			start with PREFIX. Both ask for confirmation on a terminal; without a terminal they
			require -f/--force. --dry-run lists what would be removed and changes nothing.

			With --output json, one JSON object per key is printed ({"event":"removed"|"aborted"|
			"failed","bucket","key","url",...}), then {"event":"summary",...} for -r and -m. When
			some keys fail, the others are still removed and the exit status is 7.
		`), cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage, cmdutil.ExitNotFound, cmdutil.ExitAuth,
			cmdutil.ExitNetwork, cmdutil.ExitPartial, cmdutil.ExitInterrupted),
		Example: heredoc.Doc(`
			$ ossctl rm oss://my-bucket/old/report.pdf
			$ ossctl rm -r --dry-run oss://my-bucket/tmp/
			$ ossctl rm -r -f oss://my-bucket/tmp/
			$ ossctl rm -m -f oss://my-bucket
		`),
		Args:              cmdutil.ExactArgs(1, "oss://BUCKET/KEY, or oss://BUCKET[/PREFIX] with -r or -m"),
		ValidArgsFunction: cmdutil.CompleteOSSPaths(f, 1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := cmdutil.ParseURL(args[0])
			if err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			if err := cmdutil.MutuallyExclusive("-r/--recursive and -m/--multipart cannot be combined", opts.Recursive, opts.Uploads); err != nil {
				return err
			}
			if !opts.Recursive && !opts.Uploads {
				if u.Key == "" {
					return cmdutil.FlagErrorf("%s names a bucket: use -r to remove its objects, or 'ossctl rb' to remove the bucket", args[0])
				}
				if strings.HasSuffix(u.Key, "/") {
					return cmdutil.FlagErrorf("%s ends in '/': use -r to remove everything under it", args[0])
				}
				if err := cmdutil.ValidateObjectKey(u.Key); err != nil {
					return cmdutil.FlagErrorf("%q: %v", args[0], err)
				}
			}
			if opts.Jobs < 1 || opts.Jobs > 100 {
				return cmdutil.FlagErrorf("--jobs must be between 1 and 100")
			}
			opts.URL = u
			opts.Ctx = cmd.Context()
			if err := checkConfirmable(opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Recursive, "recursive", "r", false, "remove every object under the prefix")
	fl.BoolVarP(&opts.Uploads, "multipart", "m", false, "abort incomplete multipart uploads under the prefix")
	fl.BoolVarP(&opts.Force, "force", "f", false, "do not ask for confirmation")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "list what would be removed without removing anything")
	fl.IntVarP(&opts.Jobs, "jobs", "j", 4, "delete requests (of up to 1000 keys each) in flight with -r")
	return cmd
}

// checkConfirmable refuses a bulk removal that would need a confirmation nobody can give.
func checkConfirmable(opts *Options) error {
	bulk := opts.Recursive || opts.Uploads
	if !bulk || opts.Force || opts.DryRun || opts.IO.CanPrompt() {
		return nil
	}
	what := "every object"
	if opts.Uploads {
		what = "every incomplete upload"
	}
	return cmdutil.WithHint(cmdutil.FlagErrorf("refusing to remove %s under %s without confirmation: not a terminal", what, opts.URL),
		"pass -f/--force to remove without asking, or --dry-run to see what would be removed")
}

type remover struct {
	opts    *Options
	p       *output.Printer
	client  *oss.Client
	bucket  *oss.Bucket
	removed int
	failed  int
	total   int
	first   error
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
	r := &remover{opts: opts, p: opts.Printer(), client: c, bucket: b}
	if !opts.Recursive && !opts.Uploads {
		return r.one()
	}
	if err := checkConfirmable(opts); err != nil {
		return err
	}
	if !opts.Force && !opts.DryRun {
		ok, err := r.confirm()
		if err != nil {
			return err
		}
		if !ok {
			return cmdutil.ErrCanceled
		}
	}
	if opts.Uploads {
		err = r.uploads()
	} else {
		err = r.objects()
	}
	if perr := r.summary(); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	if r.failed > 0 {
		op := "removing objects"
		if opts.Uploads {
			op = "aborting uploads"
		}
		return &cmdutil.PartialError{Op: op, Failed: r.failed, Total: r.total, First: r.first}
	}
	return nil
}

func (r *remover) confirm() (bool, error) {
	what := "every object"
	if r.opts.Uploads {
		what = "every incomplete multipart upload"
	}
	ans, err := r.opts.IO.Prompt(fmt.Sprintf("Remove %s under %s? [y/N]", what, output.Text(r.opts.URL.String())), "n")
	if err != nil {
		return false, err
	}
	ans = strings.ToLower(ans)
	return ans == "y" || ans == "yes", nil
}

func (r *remover) url(key string) string {
	return cmdutil.OSSURL{Bucket: r.opts.URL.Bucket, Key: key}.String()
}

// report prints one entry: JSON Lines, or text lines (dry-run lists always; removals only on a
// terminal).
func (r *remover) report(e Entry) error {
	if r.p.IsJSON() {
		return r.p.JSONLine(e)
	}
	switch e.Event {
	case "failed":
		r.opts.IO.Eprintf("error: %s: %s\n", output.Text(e.URL), output.Text(e.Error))
	case "would-remove":
		return r.p.Printf("%s\n", output.Text(e.URL))
	case "would-abort":
		return r.p.Printf("%s\t%s\n", output.Text(e.URL), e.UploadID)
	case "removed":
		r.p.Status("Removed %s\n", output.Text(e.URL))
	case "aborted":
		r.p.Status("Aborted upload %s of %s\n", e.UploadID, output.Text(e.URL))
	}
	return nil
}

func (r *remover) fail(e Entry, err error) error {
	r.failed++
	if r.first == nil {
		r.first = err
	}
	e.Event, e.Error = "failed", err.Error()
	return r.report(e)
}

func (r *remover) one() error {
	u := r.opts.URL
	e := Entry{Bucket: u.Bucket, Key: u.Key, URL: u.String()}
	if r.opts.DryRun {
		e.Event = "would-remove"
		return r.report(e)
	}
	if err := r.bucket.DeleteObject(u.Key, oss.WithContext(r.opts.Ctx)); err != nil {
		return fmt.Errorf("removing %s: %w", u, err)
	}
	e.Event = "removed"
	return r.report(e)
}

// objects removes every object under the prefix. The listing is walked page by page and cut
// into batches of up to 1000 keys, which the transfer engine deletes --jobs batches at once
// (each one DeleteMultipleObjects request, retried when retryable).
func (r *remover) objects() error {
	u := r.opts.URL
	cfg := &transfer.Config{Client: r.client, Retry: r.opts.Retry}
	var mu sync.Mutex
	fail := func(k string, err error) error {
		mu.Lock()
		defer mu.Unlock()
		return r.fail(Entry{Bucket: u.Bucket, Key: k, URL: r.url(k)}, err)
	}
	removed := func(k string) error {
		mu.Lock()
		defer mu.Unlock()
		r.removed++
		return r.report(Entry{Event: "removed", Bucket: u.Bucket, Key: k, URL: r.url(k)})
	}
	batchTask := func(keys []string) transfer.Task {
		return transfer.Task{Source: fmt.Sprintf("%s (%d keys)", r.url(keys[0]), len(keys)), Action: "delete",
			Run: func(ctx context.Context, _ *transfer.FileListener) (transfer.Outcome, error) {
				if r.opts.DryRun {
					for _, k := range keys {
						mu.Lock()
						r.removed++
						err := r.report(Entry{Event: "would-remove", Bucket: u.Bucket, Key: k, URL: r.url(k)})
						mu.Unlock()
						if err != nil {
							return transfer.Outcome{}, err
						}
					}
					return transfer.Outcome{}, nil
				}
				deleted, err := cfg.DeleteBatch(ctx, u.Bucket, keys)
				if err != nil {
					if ctx.Err() != nil {
						return transfer.Outcome{}, ctx.Err()
					}
					werr := fmt.Errorf("removing %d objects under %s: %w", len(keys), u, err)
					for _, k := range keys {
						if perr := fail(k, werr); perr != nil {
							return transfer.Outcome{}, perr
						}
					}
					return transfer.Outcome{}, nil
				}
				for _, k := range keys {
					var perr error
					if deleted[k] {
						perr = removed(k)
					} else {
						perr = fail(k, fmt.Errorf("removing %s: the server did not confirm the deletion", r.url(k)))
					}
					if perr != nil {
						return transfer.Outcome{}, perr
					}
				}
				return transfer.Outcome{}, nil
			}}
	}
	jobs := r.opts.Jobs
	if r.opts.DryRun {
		jobs = 1 // list in key order
	}
	_, err := transfer.Run(r.opts.Ctx, transfer.Options{Jobs: max(jobs, 1), FailFast: true},
		func(ctx context.Context, submit transfer.Submit) error {
			batch := make([]string, 0, transfer.MaxDeleteBatch)
			err := transfer.WalkRemote(ctx, r.bucket, u.Key, func(o oss.ObjectProperties) error {
				batch = append(batch, o.Key)
				if len(batch) < transfer.MaxDeleteBatch {
					return nil
				}
				mu.Lock()
				r.total += len(batch)
				mu.Unlock()
				t := batchTask(batch)
				batch = make([]string, 0, transfer.MaxDeleteBatch)
				return submit(t)
			})
			if err != nil || len(batch) == 0 {
				return err
			}
			mu.Lock()
			r.total += len(batch)
			mu.Unlock()
			return submit(batchTask(batch))
		})
	if err != nil && errors.Is(err, context.Canceled) {
		return fmt.Errorf("removing objects under %s: %w", u, err)
	}
	return err
}

func (r *remover) uploads() error {
	u := r.opts.URL
	keyMarker, idMarker := "", ""
	for {
		res, err := r.bucket.ListMultipartUploads(oss.Prefix(u.Key), oss.KeyMarker(keyMarker), oss.UploadIDMarker(idMarker),
			oss.MaxUploads(maxBatch), oss.WithContext(r.opts.Ctx))
		if err != nil {
			return fmt.Errorf("listing multipart uploads under %s: %w", u, err)
		}
		for _, up := range res.Uploads {
			r.total++
			e := Entry{Bucket: u.Bucket, Key: up.Key, URL: r.url(up.Key), UploadID: up.UploadID}
			if r.opts.DryRun {
				r.removed++
				e.Event = "would-abort"
				if err := r.report(e); err != nil {
					return err
				}
				continue
			}
			imur := oss.InitiateMultipartUploadResult{Bucket: u.Bucket, Key: up.Key, UploadID: up.UploadID}
			if err := r.bucket.AbortMultipartUpload(imur, oss.WithContext(r.opts.Ctx)); err != nil {
				if r.opts.Ctx.Err() != nil {
					return fmt.Errorf("aborting uploads under %s: %w", u, r.opts.Ctx.Err())
				}
				var se oss.ServiceError
				if errors.As(err, &se) && se.Code == "NoSuchUpload" {
					continue // finished or aborted meanwhile
				}
				if perr := r.fail(e, fmt.Errorf("aborting upload %s of %s: %w", up.UploadID, r.url(up.Key), err)); perr != nil {
					return perr
				}
				continue
			}
			r.removed++
			e.Event = "aborted"
			if err := r.report(e); err != nil {
				return err
			}
		}
		if !res.IsTruncated {
			return nil
		}
		if res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker {
			return fmt.Errorf("listing multipart uploads under %s: truncated listing without a new marker", u)
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}

func (r *remover) summary() error {
	if r.p.IsJSON() {
		return r.p.JSONLine(Summary{Event: "summary", Removed: r.removed, Failed: r.failed, DryRun: r.opts.DryRun})
	}
	if r.opts.IO.IsQuiet() || !r.opts.IO.IsStderrTTY() {
		return nil
	}
	verb, noun := "Removed", "objects"
	switch {
	case r.opts.DryRun && r.opts.Uploads:
		verb, noun = "Would abort", "uploads"
	case r.opts.DryRun:
		verb = "Would remove"
	case r.opts.Uploads:
		verb, noun = "Aborted", "uploads"
	}
	msg := fmt.Sprintf("%s %d %s under %s", verb, r.removed, noun, output.Text(r.opts.URL.String()))
	if r.failed > 0 {
		msg += fmt.Sprintf(", %d failed", r.failed)
	}
	r.opts.IO.Eprintln(msg)
	return nil
}
