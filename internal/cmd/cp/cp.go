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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/config"
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
	// FromStdin uploads standard input (SOURCE "-"); ToStdout downloads to standard output
	// (DESTINATION "-").
	FromStdin, ToStdout bool

	Recursive bool
	Force     bool
	Update    bool
	TransferFlags

	// Config resolves the profile (its encrypt setting); Keys finds client-side encryption
	// master keys (nil: no encryption, objects downloaded as stored).
	Config func() (*config.Resolved, error)
	Keys   transfer.KeySource
}

// NewCmdCp builds `ossctl cp`.
func NewCmdCp(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, OSS: f.OSSTransfer, Printer: f.Printer, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "cp SOURCE DESTINATION",
		Short: "Upload, download or copy objects",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Copy a local file to OSS (upload), an object to a local file (download), or an object to
			another key or bucket (a server-side copy: the data never passes through this machine).
			One end must be an oss://BUCKET/KEY URL. SOURCE "-" uploads standard input (any size;
			large streams go part by part); DESTINATION "-" writes the object to standard output.

			A destination that ends in '/' (or, locally, an existing directory) receives the source
			under its base name. With -r, SOURCE is a directory or an oss:// prefix and everything
			below it is copied: './dir' uploads dir's contents under the destination prefix;
			'oss://b/photos/' names photos/a.jpg 'a.jpg' at the destination, while 'oss://b/photos'
			(a plain prefix) keeps 'photos/a.jpg'. Keys that cannot be local paths safely (with
			'..', '//' or a leading '/') are reported as failures, never written outside the
			destination.

			--jobs files are copied at once. Files and objects at or above --multipart-threshold go
			part by part, --parallel parts at once (uploads with multipart, downloads with ranged
			GETs written at their offsets, copies with UploadPartCopy, also between buckets). The
			part size is chosen to stay within 10,000 parts (--part-size overrides it). Multipart
			transfers keep a checkpoint in --checkpoint-dir: run the same command again after an
			interruption (even a killed process) and it continues with the missing parts; a source
			that changed meanwhile starts over. Downloads are written to a hidden temporary file
			in the destination directory and renamed into place only when complete and verified.

			Integrity: CRC-64 is checked end to end for every upload and download (and copy), and
			single PUTs carry Content-MD5. A mismatch exits 6 and leaves nothing at the destination.
			A file that changes while it is uploaded fails and is not written. Failed requests are
			retried with backoff when retrying can help (server errors, timeouts, dropped
			connections), never for client errors (4xx). --max-upload-speed and
			--max-download-speed cap the bandwidth of all transfers together.

			An existing destination is overwritten only with -f/--force, after confirmation on a
			terminal, or with -u/--update when the source is newer. The content type of an upload
			comes from --content-type or the file extension. --meta and --content-type on a
			server-side copy replace the destination's metadata; otherwise it is copied.

			With --output json, JSON Lines are printed: {"event":"started"|"done"|"skipped"|
			"failed","action","source","destination","size","crc64","durationMs",...} per file and
			a final {"event":"summary","done","skipped","failed","bytes","durationMs"}. --quiet
			prints errors only. When some files of a batch fail, the others are still copied and
			the exit status is 7; --fail-fast stops at the first failure. Interrupting (Ctrl-C)
			stops at once, keeps checkpoints, and exits 130.

		`)+FilterHelp+"\n\n"+EncryptionHelp, cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage, cmdutil.ExitNotFound, cmdutil.ExitAuth,
			cmdutil.ExitNetwork, cmdutil.ExitIntegrity, cmdutil.ExitPartial, cmdutil.ExitInterrupted),
		Example: heredoc.Doc(`
			# upload one file, keeping its name
			$ ossctl cp ./report.pdf oss://my-bucket/docs/

			# download an object; upload a directory tree; copy between buckets
			$ ossctl cp oss://my-bucket/docs/report.pdf ./
			$ ossctl cp -r ./site oss://my-bucket/www/ --jobs 8 --exclude '*.tmp' --exclude node_modules
			$ ossctl cp -r oss://my-bucket/www/ oss://backup-bucket/www/

			# streams
			$ tar cz ./logs | ossctl cp - oss://my-bucket/backups/logs.tgz
			$ ossctl cp oss://my-bucket/backups/logs.tgz - | tar xz

			# only copy files newer than the destination; never ask
			$ ossctl cp -r -u -f ./logs oss://my-bucket/logs/

			# large files: 64 MiB parts, 8 at once, at most 20 MiB/s
			$ ossctl cp ./disk.img oss://my-bucket/images/ --part-size 64MiB --parallel 8 --max-upload-speed 20MiB

			$ ossctl cp ./a.html oss://my-bucket/a.html --content-type text/html --meta owner:web --acl public-read

			# client-side encryption under a KMS key or a local key; downloads decrypt by themselves
			$ ossctl cp ./ledger.db oss://my-bucket/private/ --encrypt kms:alias/backups
			$ ossctl cp -r ./keys oss://my-bucket/vault/ --encrypt key:laptop --encrypt-authenticated
			$ ossctl cp oss://my-bucket/private/ledger.db ./
		`),
		Args:              cmdutil.ExactArgs(2, "SOURCE and DESTINATION"),
		ValidArgsFunction: cmdutil.CompleteOSSPaths(f, 2, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := parseArgs(opts, args[0], args[1]); err != nil {
				return err
			}
			if err := opts.Parse(); err != nil {
				return err
			}
			if opts.Mode == Download && opts.HeadersSet() {
				return cmdutil.FlagErrorf("--meta, --acl, --storage-class and --content-type apply to uploads and copies, not downloads")
			}
			if len(opts.Rules) > 0 && !opts.Recursive {
				return cmdutil.FlagErrorf("--include and --exclude apply to recursive copies (-r)")
			}
			if opts.Mode != Upload && opts.EncryptRequested() {
				return cmdutil.FlagErrorf("--encrypt applies to uploads: downloads decrypt by themselves and server-side copies keep the source's encryption")
			}
			opts.Keys = NewKeys(f, cmd, opts.Keyring, opts.PassphraseCommand)
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
	opts.Register(cmd, true)
	return cmd
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
			opts.FromStdin = true
			if opts.Recursive {
				return cmdutil.FlagErrorf("-r cannot read standard input")
			}
		}
	case !dstOSS:
		opts.Mode = Download
		if dst == "" {
			return cmdutil.FlagErrorf("empty destination path")
		}
		if dst == "-" {
			opts.ToStdout = true
			if opts.Recursive {
				return cmdutil.FlagErrorf("-r cannot write to standard output")
			}
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
		} else if opts.FromStdin {
			return cmdutil.FlagErrorf("standard input has no name: give the object's full key, e.g. oss://%s/%sdata.bin", u.Bucket, u.Key)
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
	rep    *Reporter
	filter *transfer.Filter

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
	enc, err := opts.Encryption(opts.Mode == Upload, opts.Config, opts.Keys)
	if err != nil {
		return err
	}
	rep := NewReporter(opts.IO, opts.Printer(), "Copied")
	rep.NoEvents = opts.ToStdout
	c := &copier{opts: opts, client: client, rep: rep, filter: opts.Filter()}
	c.cfg = opts.TransferFlags.Config(client, rep.Warn)
	c.cfg.Encryption = enc
	jobs := 1
	if opts.Recursive {
		jobs = opts.Jobs
	}
	var produce func(ctx context.Context, submit transfer.Submit) error
	switch {
	case opts.FromStdin:
		produce = func(_ context.Context, submit transfer.Submit) error { return submit(c.stdinTask()) }
	case opts.ToStdout:
		produce = func(_ context.Context, submit transfer.Submit) error { return submit(c.stdoutTask()) }
	case opts.Mode == Upload:
		produce = c.produceUploads
	case opts.Mode == Download:
		produce = c.produceDownloads
	default:
		produce = c.produceCopies
	}
	sum, err := transfer.Run(opts.Ctx, transfer.Options{
		Jobs: jobs, FailFast: opts.FailFast, Accounter: rep.Acc, Started: true, Fatal: BatchFatal,
		OnEvent: rep.OnEvent(opts.Recursive),
	}, produce)
	bucket := opts.DstURL.Bucket
	if opts.Mode != Upload {
		bucket = opts.SrcURL.Bucket
	}
	if err == nil && sum.Failed > 0 && BatchFatal(sum.FirstErr) {
		err = sum.FirstErr
	}
	return WithBucketHint(rep.Finish(sum, err, fmt.Sprintf("copying %s to %s", opts.Source, opts.Destination), opts.Recursive, ""), bucket)
}

// failTask is a task that reports a problem found while planning (an unreadable directory, a
// key that cannot be a local path).
func failTask(src, dst string, err error) transfer.Task {
	return transfer.Task{Source: src, Destination: dst, Run: func(context.Context, *transfer.FileListener) (transfer.Outcome, error) {
		return transfer.Outcome{}, err
	}}
}

// SkipTask is a task that reports a file skipped while planning, with the reason.
func SkipTask(src, dst, reason string) transfer.Task {
	return transfer.Task{Source: src, Destination: dst, Run: func(context.Context, *transfer.FileListener) (transfer.Outcome, error) {
		return transfer.Outcome{Skipped: true, Reason: reason}, nil
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
	if !c.opts.IO.CanPrompt() || c.opts.FromStdin {
		return false, cmdutil.WithHint(fmt.Errorf("%s already exists", dst),
			"pass -f to overwrite, or -u to copy only when the source is newer")
	}
	release := c.rep.Hold()
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
func (c *copier) remoteState(ctx context.Context, bucket, key string) (bool, time.Time, error) {
	info, ok, err := c.cfg.Head(ctx, bucket, key)
	if err != nil || !ok {
		return false, time.Time{}, err
	}
	return true, info.ModTime(), nil
}

func lastModified(h http.Header) time.Time {
	t, err := http.ParseTime(h.Get("Last-Modified"))
	if err != nil {
		return time.Time{}
	}
	return t
}

func outcome(r transfer.Result) transfer.Outcome { return r.Outcome() }

// ---- streams ----

func (c *copier) stdinTask() transfer.Task {
	u := c.opts.DstURL
	dst := u.String()
	return transfer.Task{Source: "-", Destination: dst, Action: "upload",
		Run: func(ctx context.Context, l *transfer.FileListener) (transfer.Outcome, error) {
			if !c.opts.Force || c.opts.Update {
				exists, _, err := c.remoteState(ctx, u.Bucket, u.Key)
				if err != nil {
					return transfer.Outcome{}, wrap("standard input", dst, err)
				}
				if exists {
					return transfer.Outcome{}, wrap("standard input", dst, cmdutil.WithHint(fmt.Errorf("%s already exists", dst),
						"pass -f to overwrite it (standard input carries the data, so there is no prompt)"))
				}
			}
			res, err := c.cfg.UploadStream(ctx, c.opts.IO.In, u.Bucket, u.Key, c.opts.Headers(), l)
			if err != nil {
				return transfer.Outcome{}, wrap("standard input", dst, err)
			}
			return outcome(res), nil
		}}
}

func (c *copier) stdoutTask() transfer.Task {
	u := c.opts.SrcURL
	src := u.String()
	return transfer.Task{Source: src, Destination: "-", Action: "download",
		Run: func(ctx context.Context, l *transfer.FileListener) (transfer.Outcome, error) {
			res, err := c.cfg.DownloadTo(ctx, c.opts.IO.Out, u.Bucket, u.Key, l)
			if err != nil {
				return transfer.Outcome{}, fmt.Errorf("writing %s to standard output: %w", src, err)
			}
			return outcome(res), nil
		}}
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
	return transfer.WalkLocalFiltered(ctx, src, c.filter, func(f transfer.LocalFile, werr error) error {
		if werr != nil {
			dst := c.opts.DstURL.String()
			if f.Rel != "" {
				dst = cmdutil.OSSURL{Bucket: c.opts.DstURL.Bucket, Key: c.uploadKey(f.Rel)}.String()
			}
			var nr *transfer.NotRegularError
			if errors.As(werr, &nr) {
				c.rep.Warn(nr.Error() + ": skipped")
				return submit(SkipTask(f.Path, dst, "not a regular file ("+nr.Kind()+")"))
			}
			return submit(failTask(f.Path, dst, wrap(f.Path, dst, werr)))
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
	return transfer.Task{Source: f.Path, Destination: dst, Size: f.Size, Action: "upload",
		Run: func(ctx context.Context, l *transfer.FileListener) (transfer.Outcome, error) {
			if !c.opts.Force || c.opts.Update {
				exists, mod, err := c.remoteState(ctx, bucket, key)
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
			res, err := c.cfg.Upload(ctx, transfer.Upload{LocalPath: f.Path, Bucket: bucket, Key: key, Headers: c.opts.Headers()}, l)
			if err != nil {
				return transfer.Outcome{}, wrap(f.Path, dst, err)
			}
			return outcome(res), nil
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

// isSlash reports whether r separates path elements: '/' or the OS's separator.
func isSlash(r rune) bool { return r == '/' || r == filepath.Separator }

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
	if name := strings.TrimRightFunc(dst, isSlash); name != "" {
		dst = name // "dir/" and "dir" are the same directory; a file named so is in the way
	}
	if fi, err := os.Stat(dst); err == nil && !fi.IsDir() {
		return cmdutil.WithHint(cmdutil.FlagErrorf("%s is a file, but -r downloads need a destination directory", dst),
			"name a directory (it is created if missing), or remove the file")
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
				if lr, err := transfer.LocalRel(strings.TrimSuffix(rel, "/"), ""); err == nil && !c.filter.SkipDir(lr) {
					// Best effort, with the mode PrepareLocal uses.
					_ = os.MkdirAll(filepath.Join(dst, filepath.FromSlash(lr)), 0o755) //nolint:gosec // G301: see PrepareLocal
				}
			}
			return nil
		}
		rel, err := transfer.LocalRel(o.Key, base)
		if err != nil {
			return submit(failTask(src, dst, wrap(src, dst, err)))
		}
		if !c.filter.Match(rel) {
			return nil
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
	return len(res.Objects) != 1 || res.Objects[0].Key != u.Key
}

// PrepareLocal checks and creates the directory of a local download destination, explaining a
// file that stands where a directory is needed.
func PrepareLocal(local string) error {
	fi, err := os.Stat(local)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("%s is a directory, not a file: remove it or choose another destination", local)
	case err != nil && errors.Is(err, syscall.ENOTDIR):
		return fileInTheWay(local, err)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	// Downloaded directories get the usual mode, narrowed by the umask, as mkdir -p would give them.
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil { //nolint:gosec // G301: see above
		if errors.Is(err, syscall.ENOTDIR) {
			return fileInTheWay(local, err)
		}
		return fmt.Errorf("cannot create the directory for %s: %w", local, err)
	}
	return nil
}

// fileInTheWay explains an ENOTDIR met on the way to local: it names the file that stands where
// a directory is needed.
func fileInTheWay(local string, err error) error {
	for dir := filepath.Dir(local); ; dir = filepath.Dir(dir) {
		if fi, serr := os.Stat(dir); serr == nil && !fi.IsDir() {
			return fmt.Errorf("%s is a file, but a directory is needed there for %s: remove or rename it, or choose another destination", dir, local)
		}
		if parent := filepath.Dir(dir); parent == dir {
			break
		}
	}
	return fmt.Errorf("a file stands where a directory is needed for %s: %w", local, err)
}

// downloadTask fetches one key into local. size < 0 means unknown: the object's metadata is
// read first.
func (c *copier) downloadTask(key, local string, size int64, mod time.Time) transfer.Task {
	bucket := c.opts.SrcURL.Bucket
	src := cmdutil.OSSURL{Bucket: bucket, Key: key}.String()
	return transfer.Task{Source: src, Destination: local, Size: max(size, 0), Action: "download",
		Run: func(ctx context.Context, l *transfer.FileListener) (transfer.Outcome, error) {
			if size < 0 {
				info, ok, err := c.cfg.Head(ctx, bucket, key)
				if err == nil && !ok {
					err = oss.ServiceError{Code: "NoSuchKey", StatusCode: 404, Message: "The specified key does not exist."}
				}
				if err != nil {
					return transfer.Outcome{}, wrap(src, local, err)
				}
				size, mod = info.Size, info.ModTime()
			}
			if err := PrepareLocal(local); err != nil {
				return transfer.Outcome{}, wrap(src, local, err)
			}
			if fi, err := os.Stat(local); err == nil && (!c.opts.Force || c.opts.Update) {
				reason, err := c.decide(local, true, mod, fi.ModTime())
				if err != nil {
					return transfer.Outcome{}, wrap(src, local, err)
				}
				if reason != "" {
					return transfer.Outcome{Skipped: true, Reason: reason, Size: &size}, nil
				}
			}
			res, err := c.cfg.Download(ctx, transfer.Download{Bucket: bucket, Key: key, LocalPath: local, Size: size}, l)
			if err != nil {
				return transfer.Outcome{}, wrap(src, local, err)
			}
			return outcome(res), nil
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
		if !c.filter.Match(rel) {
			return nil
		}
		return submit(c.copyTask(o.Key, key, o.Size))
	})
}

func (c *copier) copyTask(srcKey, dstKey string, size int64) transfer.Task {
	su, du := c.opts.SrcURL, c.opts.DstURL
	src := cmdutil.OSSURL{Bucket: su.Bucket, Key: srcKey}.String()
	dst := cmdutil.OSSURL{Bucket: du.Bucket, Key: dstKey}.String()
	return transfer.Task{Source: src, Destination: dst, Size: max(size, 0), Action: "copy",
		Run: func(ctx context.Context, l *transfer.FileListener) (transfer.Outcome, error) {
			if su.Bucket == du.Bucket && srcKey == dstKey && !c.opts.HeadersSet() {
				return transfer.Outcome{}, wrap(src, dst, errors.New("source and destination are the same object"))
			}
			if err := cmdutil.ValidateObjectKey(dstKey); err != nil {
				return transfer.Outcome{}, wrap(src, dst, err)
			}
			info, ok, err := c.cfg.Head(ctx, su.Bucket, srcKey)
			if err == nil && !ok {
				err = oss.ServiceError{Code: "NoSuchKey", StatusCode: 404, Message: "The specified key does not exist."}
			}
			if err != nil {
				return transfer.Outcome{}, wrap(src, dst, err)
			}
			size := info.Size
			if !c.opts.Force || c.opts.Update {
				exists, mod, err := c.remoteState(ctx, du.Bucket, dstKey)
				if err != nil {
					return transfer.Outcome{}, wrap(src, dst, err)
				}
				reason, err := c.decide(dst, exists, info.ModTime(), mod)
				if err != nil {
					return transfer.Outcome{}, wrap(src, dst, err)
				}
				if reason != "" {
					return transfer.Outcome{Skipped: true, Reason: reason, Size: &size}, nil
				}
			}
			res, err := c.cfg.Copy(ctx, transfer.Copy{SrcBucket: su.Bucket, SrcKey: srcKey, DstBucket: du.Bucket, DstKey: dstKey,
				SrcHeader: info.Header, Headers: c.opts.Headers()}, l)
			if err != nil {
				return transfer.Outcome{}, wrap(src, dst, err)
			}
			return outcome(res), nil
		}}
}
