// Package cp implements `ossctl cp`: upload, download and server-side copy of objects, one at a
// time or recursively, with resumable parallel multipart transfers above a threshold.
package cp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
	"github.com/ossctl/ossctl/internal/transfer"
)

// Mode is the direction of a copy.
type Mode int

// Copy directions.
const (
	Upload   Mode = iota + 1 // local → OSS
	Download                 // OSS → local
	Copy                     // OSS → OSS (server side)
)

// ObjectACLs are the values of --acl.
var ObjectACLs = []string{"private", "public-read", "public-read-write", "default"}

// Options is everything cp needs.
type Options struct {
	IO      *iostreams.IOStreams
	OSS     func() (*oss.Client, error)
	Printer func() *output.Printer
	Ctx     context.Context

	Mode Mode
	// Source and Destination are the arguments as given; SrcURL/DstURL are set for oss:// ends.
	Source, Destination string
	SrcURL, DstURL      cmdutil.OSSURL

	Recursive bool
	Force     bool
	Update    bool
	FailFast  bool
	Jobs      int
	Parallel  int
	PartSize  int64
	Threshold int64
	// CheckpointDir keeps resumable multipart checkpoints ("" disables resuming).
	CheckpointDir string
	Meta          map[string]string
	ACL           string
	ContentType   string
}

// NewCmdCp builds `ossctl cp`.
func NewCmdCp(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer, CheckpointDir: defaultCheckpointDir()}
	var (
		partSize, threshold string
		meta                []string
	)
	cmd := &cobra.Command{
		Use:   "cp SOURCE DESTINATION",
		Short: "Upload, download or copy objects",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Copy a local file to OSS (upload), an object to a local file (download), or an object to
			another key or bucket (a server-side copy: the data never passes through this machine).
			One end must be an oss://BUCKET/KEY URL.

			A destination that ends in '/' (or, locally, an existing directory) receives the source
			under its base name. With -r, SOURCE is a directory or an oss:// prefix and everything
			below it is copied: './dir' uploads dir's contents under the destination prefix;
			'oss://b/photos/' names photos/a.jpg 'a.jpg' at the destination, while 'oss://b/photos'
			(a plain prefix) keeps 'photos/a.jpg'. Keys that cannot be local paths safely (with
			'..', '//' or a leading '/') are reported as failures, never written outside the
			destination.

			Objects at or above --multipart-threshold go part by part, --parallel parts at once,
			with a checkpoint in --checkpoint-dir: an interrupted transfer resumes where it stopped
			when run again. With -r, --jobs files are copied at once. Downloads are written to a
			hidden temporary file in the destination directory and renamed into place only when
			complete and verified, so a failed download never leaves a partial file under the final
			name. CRC-64 checksums are verified end to end.

			An existing destination is overwritten only with -f/--force, after confirmation on a
			terminal, or with -u/--update when the source is newer. The content type of an upload
			comes from --content-type or the file extension. --meta and --content-type on a
			server-side copy replace the destination's metadata; otherwise it is copied.

			With --output json, one JSON object per file is printed ({"event":"done"|"skipped"|
			"failed","source","destination","size","crc64","durationMs",...}) and a final
			{"event":"summary","done","skipped","failed","bytes","durationMs"}. When some files of
			a batch fail, the others are still copied and the exit status is 7; --fail-fast stops at
			the first failure. Interrupting (Ctrl-C) exits 130 and keeps checkpoints.
		`), cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage, cmdutil.ExitNotFound, cmdutil.ExitAuth,
			cmdutil.ExitNetwork, cmdutil.ExitIntegrity, cmdutil.ExitPartial, cmdutil.ExitInterrupted),
		Example: heredoc.Doc(`
			# upload one file, keeping its name
			$ ossctl cp ./report.pdf oss://my-bucket/docs/

			# download an object; upload a directory tree; copy between buckets
			$ ossctl cp oss://my-bucket/docs/report.pdf ./
			$ ossctl cp -r ./site oss://my-bucket/www/ --jobs 8
			$ ossctl cp -r oss://my-bucket/www/ oss://backup-bucket/www/

			# only copy files newer than the destination; never ask
			$ ossctl cp -r -u -f ./logs oss://my-bucket/logs/

			# large files: 64 MiB parts, 8 at once
			$ ossctl cp ./disk.img oss://my-bucket/images/ --part-size 64MiB --parallel 8

			$ ossctl cp ./a.html oss://my-bucket/a.html --content-type text/html --meta owner:web --acl public-read
		`),
		Args:              cmdutil.ExactArgs(2, "SOURCE and DESTINATION"),
		ValidArgsFunction: cmdutil.CompleteOSSPaths(f, 2, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := parseArgs(opts, args[0], args[1]); err != nil {
				return err
			}
			var err error
			if opts.PartSize, err = parseSize("--part-size", partSize); err != nil {
				return err
			}
			if opts.PartSize < transfer.MinPartSize || opts.PartSize > transfer.MaxPartSize {
				return cmdutil.FlagErrorf("--part-size must be between 100KiB and 5GiB")
			}
			if opts.Threshold, err = parseSize("--multipart-threshold", threshold); err != nil {
				return err
			}
			if opts.Jobs < 1 || opts.Jobs > 1000 {
				return cmdutil.FlagErrorf("--jobs must be between 1 and 1000")
			}
			if opts.Parallel < 1 || opts.Parallel > 100 {
				return cmdutil.FlagErrorf("--parallel must be between 1 and 100")
			}
			if opts.Meta, err = transfer.ParseMeta(meta); err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			if opts.Mode == Download && (len(opts.Meta) > 0 || opts.ACL != "" || opts.ContentType != "") {
				return cmdutil.FlagErrorf("--meta, --acl and --content-type apply to uploads and copies, not downloads")
			}
			if strings.ContainsAny(opts.ContentType, "\r\n") {
				return cmdutil.FlagErrorf("invalid --content-type")
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Recursive, "recursive", "r", false, "copy a directory or every object under a prefix")
	fl.BoolVarP(&opts.Force, "force", "f", false, "overwrite existing destinations without asking")
	fl.BoolVarP(&opts.Update, "update", "u", false, "copy only when the destination is missing or older than the source")
	fl.BoolVar(&opts.FailFast, "fail-fast", false, "stop at the first failed file")
	fl.IntVarP(&opts.Jobs, "jobs", "j", 3, "files copied at once with -r")
	fl.IntVar(&opts.Parallel, "parallel", transfer.DefaultParallel, "parts in flight per file in multipart transfers")
	fl.StringVar(&partSize, "part-size", "8MiB", "multipart part `size` (raised as needed to stay within 10000 parts)")
	fl.StringVar(&threshold, "multipart-threshold", "100MiB", "files of at least this `size` are transferred part by part, resumably")
	fl.StringVar(&opts.CheckpointDir, "checkpoint-dir", opts.CheckpointDir, "`directory` for resumable-transfer checkpoints")
	fl.StringArrayVar(&meta, "meta", nil, "user metadata `NAME:VALUE` for the destination (repeatable)")
	cmdutil.StringEnumFlag(cmd, &opts.ACL, "acl", "", "", ObjectACLs, "object ACL of the destination")
	fl.StringVar(&opts.ContentType, "content-type", "", "Content-Type of the destination (default: from the file extension)")
	return cmd
}

func defaultCheckpointDir() string {
	d, err := os.UserCacheDir()
	if err != nil || d == "" {
		return ""
	}
	return filepath.Join(d, "ossctl", "checkpoints")
}

func parseSize(flag, s string) (int64, error) {
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, cmdutil.FlagErrorf("invalid %s %q: %v", flag, s, err)
	}
	if n > 1<<62 {
		return 0, cmdutil.FlagErrorf("invalid %s %q: too large", flag, s)
	}
	return int64(n), nil
}

// parseArgs decides the mode from the two ends and validates them.
func parseArgs(opts *Options, src, dst string) error {
	srcOSS, dstOSS := cmdutil.IsOSSURL(src), cmdutil.IsOSSURL(dst)
	opts.Source, opts.Destination = src, dst
	switch {
	case !srcOSS && !dstOSS:
		return cmdutil.FlagErrorf("one of SOURCE and DESTINATION must be an oss:// URL")
	case !srcOSS:
		opts.Mode = Upload
		if src == "" || dst == "" {
			return cmdutil.FlagErrorf("empty path")
		}
		if src == "-" {
			return cmdutil.FlagErrorf("reading from stdin is not supported; save to a file first")
		}
	case !dstOSS:
		opts.Mode = Download
		if dst == "" {
			return cmdutil.FlagErrorf("empty destination path")
		}
		if dst == "-" {
			return cmdutil.FlagErrorf("to write an object to stdout, use 'ossctl cat'")
		}
	default:
		opts.Mode = Copy
	}
	if srcOSS {
		u, err := cmdutil.ParseURL(src)
		if err != nil {
			return cmdutil.FlagErrorWrap(err)
		}
		if !opts.Recursive {
			if u.Key == "" || strings.HasSuffix(u.Key, "/") {
				return cmdutil.FlagErrorf("%s is a bucket or prefix: use -r to copy everything under it", src)
			}
			if err := cmdutil.ValidateObjectKey(u.Key); err != nil {
				return cmdutil.FlagErrorf("%q: %v", src, err)
			}
		}
		opts.SrcURL = u
	}
	if dstOSS {
		u, err := cmdutil.ParseURL(dst)
		if err != nil {
			return cmdutil.FlagErrorWrap(err)
		}
		if u.Key != "" && !strings.HasSuffix(u.Key, "/") {
			if err := cmdutil.ValidateObjectKey(u.Key); err != nil {
				return cmdutil.FlagErrorf("%q: %v", dst, err)
			}
		}
		opts.DstURL = u
	}
	return nil
}

// copier holds the state of one cp run.
type copier struct {
	opts   *Options
	client *oss.Client
	cfg    *transfer.Config
	p      *output.Printer

	// display draws the progress bar (nil when none is shown).
	display *transfer.Display

	promptMu     sync.Mutex
	overwriteAll bool
}

func run(opts *Options) error {
	if opts.Ctx == nil {
		opts.Ctx = context.Background()
	}
	client, err := opts.OSS()
	if err != nil {
		return err
	}
	c := &copier{
		opts:   opts,
		client: client,
		p:      opts.Printer(),
		cfg: &transfer.Config{
			Client: client, Threshold: opts.Threshold, PartSize: opts.PartSize,
			Parallel: opts.Parallel, CheckpointDir: opts.CheckpointDir,
		},
	}
	acc := &transfer.Accounter{}
	if opts.IO.ProgressEnabled() {
		c.display = transfer.Watch(acc, opts.IO.NewProgressBar(-1, "copying"), iostreams.ProgressThrottle)
	}
	jobs := 1
	if opts.Recursive {
		jobs = opts.Jobs
	}
	var produce func(ctx context.Context, submit transfer.Submit) error
	switch opts.Mode {
	case Upload:
		produce = c.produceUploads
	case Download:
		produce = c.produceDownloads
	default:
		produce = c.produceCopies
	}
	var printErr error
	sum, err := transfer.Run(opts.Ctx, transfer.Options{
		Jobs: jobs, FailFast: opts.FailFast, Accounter: acc,
		OnEvent: func(e transfer.Event) {
			if c.p.IsJSON() {
				if perr := c.p.JSONLine(e); perr != nil && printErr == nil {
					printErr = perr
				}
				return
			}
			if e.Event == transfer.EventFailed && opts.Recursive {
				release := c.display.Hold()
				fmt.Fprintf(opts.IO.ErrOut, "error: %s\n", output.Text(e.Error))
				release()
			}
		},
	}, produce)
	c.display.Stop()
	if c.p.IsJSON() {
		if perr := c.p.JSONLine(sum); perr != nil && printErr == nil {
			printErr = perr
		}
	} else if opts.IO.IsStderrTTY() && !opts.IO.IsQuiet() && (opts.Recursive || sum.Failed == 0) && err == nil {
		c.printSummary(sum)
	}
	switch {
	case err != nil:
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("copying %s to %s: %w", opts.Source, opts.Destination, err)
		}
		return err
	case printErr != nil:
		return printErr
	case sum.Failed > 0 && !opts.Recursive:
		return sum.FirstErr
	case sum.Failed > 0:
		return &cmdutil.PartialError{Op: "copying", Failed: int(sum.Failed),
			Total: int(sum.Done + sum.Skipped + sum.Failed), First: sum.FirstErr}
	}
	return nil
}

func (c *copier) printSummary(s transfer.Summary) {
	msg := fmt.Sprintf("Copied %d %s (%s) in %s", s.Done, plural(s.Done, "file", "files"),
		humanize.IBytes(uint64(max(s.Bytes, 0))), (time.Duration(s.DurationMs) * time.Millisecond).String())
	if s.Skipped > 0 {
		msg += fmt.Sprintf(", %d skipped", s.Skipped)
	}
	if s.Failed > 0 {
		msg += fmt.Sprintf(", %d failed", s.Failed)
	}
	fmt.Fprintln(c.opts.IO.ErrOut, msg)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// failTask is a task that reports a problem found while planning (an unreadable directory, a
// key that cannot be a local path).
func failTask(src, dst string, err error) transfer.Task {
	return transfer.Task{Source: src, Destination: dst, Run: func(context.Context, *transfer.FileListener) (transfer.Outcome, error) {
		return transfer.Outcome{}, err
	}}
}

func wrap(src, dst string, err error) error {
	return fmt.Errorf("copying %s to %s: %w", src, dst, err)
}

// ---- decisions about existing destinations ----

var errNotOverwritten = errors.New("not overwritten")

// decide applies -f, -u and confirmation to an existing destination. It returns a skip reason
// ("" to go ahead) or an error.
func (c *copier) decide(dst string, exists bool, srcMod, dstMod time.Time) (string, error) {
	if !exists || c.opts.Force && !c.opts.Update {
		return "", nil
	}
	if c.opts.Update {
		// -u overwrites an older destination without asking and skips the others.
		if !srcMod.IsZero() && !dstMod.IsZero() && !srcMod.Truncate(time.Second).After(dstMod.Truncate(time.Second)) {
			return "destination is not older than the source", nil
		}
		return "", nil
	}
	ok, err := c.confirm(dst)
	if err != nil {
		return "", err
	}
	if !ok {
		return errNotOverwritten.Error(), nil
	}
	return "", nil
}

func (c *copier) confirm(dst string) (bool, error) {
	c.promptMu.Lock()
	defer c.promptMu.Unlock()
	if c.overwriteAll {
		return true, nil
	}
	if !c.opts.IO.CanPrompt() {
		return false, cmdutil.WithHint(fmt.Errorf("%s already exists", dst),
			"pass -f to overwrite, or -u to copy only when the source is newer")
	}
	release := c.display.Hold()
	defer release()
	ans, err := c.opts.IO.Prompt(fmt.Sprintf("overwrite %s? [y/N/a(ll)]", output.Text(dst)), "n")
	if err != nil {
		return false, err
	}
	switch strings.ToLower(ans) {
	case "y", "yes":
		return true, nil
	case "a", "all":
		c.overwriteAll = true
		return true, nil
	}
	return false, nil
}

// remoteState reads whether an object exists and when it was last modified.
func remoteState(ctx context.Context, b *oss.Bucket, key string) (bool, time.Time, error) {
	info, ok, err := transfer.HeadObject(ctx, b, key)
	if err != nil || !ok {
		return false, time.Time{}, err
	}
	return true, lastModified(info.Header), nil
}

func contentLength(h http.Header) (int64, error) {
	n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad Content-Length %q in the object's metadata", h.Get("Content-Length"))
	}
	return n, nil
}

func lastModified(h http.Header) time.Time {
	t, err := http.ParseTime(h.Get("Last-Modified"))
	if err != nil {
		return time.Time{}
	}
	return t
}

// ---- uploads ----

func (c *copier) uploadKey(rel string) string {
	k := c.opts.DstURL.Key
	if k != "" && !strings.HasSuffix(k, "/") {
		k += "/"
	}
	return k + rel
}

func (c *copier) produceUploads(ctx context.Context, submit transfer.Submit) error {
	src := c.opts.Source
	fi, err := os.Stat(src)
	if err != nil {
		return wrap(src, c.opts.Destination, err)
	}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return wrap(src, c.opts.Destination, fmt.Errorf("not a regular file"))
		}
		key := c.opts.DstURL.Key
		if key == "" || strings.HasSuffix(key, "/") {
			key += filepath.Base(src)
		}
		return submit(c.uploadTask(transfer.LocalFile{Path: src, Size: fi.Size(), ModTime: fi.ModTime()}, key))
	}
	if !c.opts.Recursive {
		return cmdutil.FlagErrorf("%s is a directory: use -r to copy directories", src)
	}
	return transfer.WalkLocal(ctx, src, func(f transfer.LocalFile, werr error) error {
		if werr != nil {
			return submit(failTask(f.Path, c.opts.DstURL.String(), wrap(f.Path, c.opts.DstURL.String(), werr)))
		}
		key := c.uploadKey(f.Rel)
		dst := cmdutil.OSSURL{Bucket: c.opts.DstURL.Bucket, Key: key}.String()
		if err := cmdutil.ValidateObjectKey(key); err != nil {
			return submit(failTask(f.Path, dst, wrap(f.Path, dst, err)))
		}
		return submit(c.uploadTask(f, key))
	})
}

func (c *copier) uploadTask(f transfer.LocalFile, key string) transfer.Task {
	bucket := c.opts.DstURL.Bucket
	dst := cmdutil.OSSURL{Bucket: bucket, Key: key}.String()
	return transfer.Task{Source: f.Path, Destination: dst, Size: f.Size,
		Run: func(ctx context.Context, l *transfer.FileListener) (transfer.Outcome, error) {
			b, err := c.client.Bucket(bucket)
			if err != nil {
				return transfer.Outcome{}, wrap(f.Path, dst, err)
			}
			if !c.opts.Force || c.opts.Update {
				exists, mod, err := remoteState(ctx, b, key)
				if err != nil {
					return transfer.Outcome{}, wrap(f.Path, dst, err)
				}
				reason, err := c.decide(dst, exists, f.ModTime, mod)
				if err != nil {
					return transfer.Outcome{}, wrap(f.Path, dst, err)
				}
				if reason != "" {
					return transfer.Outcome{Skipped: true, Reason: reason}, nil
				}
			}
			ct := c.opts.ContentType
			if ct == "" {
				ct = transfer.ContentTypeFor(f.Path, key)
			}
			hdr := []oss.Option{oss.ContentType(ct)}
			hdr = append(hdr, transfer.MetaOptions(c.opts.Meta)...)
			if c.opts.ACL != "" {
				hdr = append(hdr, oss.ObjectACL(oss.ACLType(c.opts.ACL)))
			}
			// The file may have changed since it was planned: transfer what is there now.
			size := f.Size
			if fi, err := os.Stat(f.Path); err == nil {
				size = fi.Size()
			}
			crc, err := c.cfg.Upload(ctx, transfer.Upload{LocalPath: f.Path, Bucket: bucket, Key: key, Size: size, Options: hdr}, l)
			if err != nil {
				return transfer.Outcome{}, wrap(f.Path, dst, err)
			}
			return transfer.Outcome{CRC64: crc, Size: &size}, nil
		}}
}

// ---- downloads ----

func isDirArg(p string) bool {
	if strings.HasSuffix(p, "/") || strings.HasSuffix(p, string(filepath.Separator)) || p == "." || p == ".." {
		return true
	}
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func (c *copier) produceDownloads(ctx context.Context, submit transfer.Submit) error {
	u := c.opts.SrcURL
	dst := c.opts.Destination
	if !c.opts.Recursive || (u.Key != "" && !strings.HasSuffix(u.Key, "/") && !c.prefixHasChildren(ctx, u)) {
		local := dst
		if isDirArg(dst) {
			local = filepath.Join(dst, path.Base(u.Key))
		}
		return submit(c.downloadTask(u.Key, local, -1, time.Time{}))
	}
	if fi, err := os.Stat(dst); err == nil && !fi.IsDir() {
		return cmdutil.FlagErrorf("%s is not a directory: -r downloads need a destination directory", dst)
	}
	b, err := c.client.Bucket(u.Bucket)
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	base := transfer.PrefixBase(u.Key)
	return transfer.WalkRemote(ctx, b, u.Key, func(o oss.ObjectProperties) error {
		src := cmdutil.OSSURL{Bucket: u.Bucket, Key: o.Key}.String()
		if strings.HasSuffix(o.Key, "/") && o.Size == 0 {
			// A "directory" marker: create the directory, transfer nothing.
			if rel, ok := strings.CutPrefix(o.Key, base); ok && rel != "" {
				if lr, err := transfer.LocalRel(strings.TrimSuffix(rel, "/"), ""); err == nil {
					_ = os.MkdirAll(filepath.Join(dst, filepath.FromSlash(lr)), 0o755)
				}
			}
			return nil
		}
		rel, err := transfer.LocalRel(o.Key, base)
		if err != nil {
			return submit(failTask(src, dst, wrap(src, dst, err)))
		}
		return submit(c.downloadTask(o.Key, filepath.Join(dst, filepath.FromSlash(rel)), o.Size, o.LastModified))
	})
}

// prefixHasChildren reports whether a -r download of oss://b/name (no trailing '/') should be a
// prefix download: true unless name is exactly one object with nothing below it.
func (c *copier) prefixHasChildren(ctx context.Context, u cmdutil.OSSURL) bool {
	b, err := c.client.Bucket(u.Bucket)
	if err != nil {
		return true
	}
	res, err := b.ListObjectsV2(oss.Prefix(u.Key), oss.MaxKeys(2), oss.WithContext(ctx))
	if err != nil {
		return true // let the walk report the error
	}
	return !(len(res.Objects) == 1 && res.Objects[0].Key == u.Key)
}

// downloadTask fetches one key into local. size < 0 means unknown: the object's metadata is
// read first.
func (c *copier) downloadTask(key, local string, size int64, mod time.Time) transfer.Task {
	bucket := c.opts.SrcURL.Bucket
	src := cmdutil.OSSURL{Bucket: bucket, Key: key}.String()
	return transfer.Task{Source: src, Destination: local, Size: max(size, 0),
		Run: func(ctx context.Context, l *transfer.FileListener) (transfer.Outcome, error) {
			b, err := c.client.Bucket(bucket)
			if err != nil {
				return transfer.Outcome{}, wrap(src, local, err)
			}
			crc := ""
			if size < 0 {
				h, err := b.GetObjectDetailedMeta(key, oss.WithContext(ctx))
				if err != nil {
					return transfer.Outcome{}, wrap(src, local, err)
				}
				info := transfer.ObjectInfo{Header: h}
				if size, err = contentLength(h); err != nil {
					return transfer.Outcome{}, wrap(src, local, err)
				}
				crc = info.CRC64()
				mod = lastModified(h)
			}
			fi, err := os.Stat(local)
			switch {
			case err == nil && fi.IsDir():
				return transfer.Outcome{}, wrap(src, local, fmt.Errorf("%s is a directory", local))
			case err != nil && !errors.Is(err, fs.ErrNotExist):
				return transfer.Outcome{}, wrap(src, local, err)
			}
			if err == nil && (!c.opts.Force || c.opts.Update) {
				reason, err := c.decide(local, true, mod, fi.ModTime())
				if err != nil {
					return transfer.Outcome{}, wrap(src, local, err)
				}
				if reason != "" {
					return transfer.Outcome{Skipped: true, Reason: reason, Size: &size}, nil
				}
			}
			if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
				return transfer.Outcome{}, wrap(src, local, err)
			}
			got, err := c.cfg.Download(ctx, transfer.Download{Bucket: bucket, Key: key, LocalPath: local, Size: size, CRC64: crc}, l)
			if err != nil {
				return transfer.Outcome{}, wrap(src, local, err)
			}
			return transfer.Outcome{CRC64: got, Size: &size}, nil
		}}
}

// ---- server-side copies ----

func (c *copier) produceCopies(ctx context.Context, submit transfer.Submit) error {
	su, du := c.opts.SrcURL, c.opts.DstURL
	if !c.opts.Recursive {
		key := du.Key
		if key == "" || strings.HasSuffix(key, "/") {
			key += path.Base(su.Key)
		}
		return submit(c.copyTask(su.Key, key, -1))
	}
	b, err := c.client.Bucket(su.Bucket)
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	base := transfer.PrefixBase(su.Key)
	prefix := du.Key
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return transfer.WalkRemote(ctx, b, su.Key, func(o oss.ObjectProperties) error {
		rel := strings.TrimPrefix(o.Key, base)
		key := prefix + rel
		if key == "" {
			return nil // the source prefix's own marker copied to the bucket root: nothing to name it
		}
		return submit(c.copyTask(o.Key, key, o.Size))
	})
}

func (c *copier) copyTask(srcKey, dstKey string, size int64) transfer.Task {
	su, du := c.opts.SrcURL, c.opts.DstURL
	src := cmdutil.OSSURL{Bucket: su.Bucket, Key: srcKey}.String()
	dst := cmdutil.OSSURL{Bucket: du.Bucket, Key: dstKey}.String()
	replace := len(c.opts.Meta) > 0 || c.opts.ContentType != ""
	return transfer.Task{Source: src, Destination: dst, Size: max(size, 0),
		Run: func(ctx context.Context, l *transfer.FileListener) (transfer.Outcome, error) {
			if su.Bucket == du.Bucket && srcKey == dstKey && !replace && c.opts.ACL == "" {
				return transfer.Outcome{}, wrap(src, dst, errors.New("source and destination are the same object"))
			}
			if err := cmdutil.ValidateObjectKey(dstKey); err != nil {
				return transfer.Outcome{}, wrap(src, dst, err)
			}
			sb, err := c.client.Bucket(su.Bucket)
			if err != nil {
				return transfer.Outcome{}, wrap(src, dst, err)
			}
			db, err := c.client.Bucket(du.Bucket)
			if err != nil {
				return transfer.Outcome{}, wrap(src, dst, err)
			}
			var srcInfo transfer.ObjectInfo
			needHead := size < 0 || replace || c.cfg.Multipart(size) || size > transfer.MaxSingleCopy || c.opts.Update
			if needHead {
				h, err := sb.GetObjectDetailedMeta(srcKey, oss.WithContext(ctx))
				if err != nil {
					return transfer.Outcome{}, wrap(src, dst, err)
				}
				srcInfo.Header = h
				if srcInfo.Size, err = contentLength(h); err != nil {
					return transfer.Outcome{}, wrap(src, dst, err)
				}
				size = srcInfo.Size
			}
			if !c.opts.Force || c.opts.Update {
				exists, mod, err := remoteState(ctx, db, dstKey)
				if err != nil {
					return transfer.Outcome{}, wrap(src, dst, err)
				}
				reason, err := c.decide(dst, exists, lastModified(srcInfo.Header), mod)
				if err != nil {
					return transfer.Outcome{}, wrap(src, dst, err)
				}
				if reason != "" {
					return transfer.Outcome{Skipped: true, Reason: reason, Size: &size}, nil
				}
			}
			var hdr []oss.Option
			multipart := c.cfg.Multipart(size) || size > transfer.MaxSingleCopy
			if replace || multipart {
				// Everything the destination should have must be sent.
				skip := map[string]bool{}
				if c.opts.ContentType != "" {
					skip["Content-Type"] = true
					hdr = append(hdr, oss.ContentType(c.opts.ContentType))
				}
				hdr = append(hdr, transfer.KeptHeaderOptions(srcInfo.Header, skip)...)
				meta := c.opts.Meta
				if len(meta) == 0 {
					meta = transfer.UserMeta(srcInfo.Header)
				}
				hdr = append(hdr, transfer.MetaOptions(meta)...)
				if replace && !multipart {
					hdr = append(hdr, oss.MetadataDirective(oss.MetaReplace))
				}
			}
			if c.opts.ACL != "" {
				hdr = append(hdr, oss.ObjectACL(oss.ACLType(c.opts.ACL)))
			}
			crc, err := c.cfg.Copy(ctx, transfer.Copy{SrcBucket: su.Bucket, SrcKey: srcKey, DstBucket: du.Bucket, DstKey: dstKey,
				Size: size, SrcCRC64: srcInfo.CRC64(), Options: hdr}, l)
			if err != nil {
				return transfer.Outcome{}, wrap(src, dst, err)
			}
			return transfer.Outcome{CRC64: crc, Size: &size}, nil
		}}
}
