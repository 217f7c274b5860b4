// Package bench implements `ossctl bench put|get|mixed`, a load generator for any OSS endpoint
// (ossctl serve or Alibaba Cloud OSS) in the spirit of MinIO's warp. The engine lives in
// internal/bench; this package parses flags, sets up and removes the bucket, and prints results.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/bench"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
)

// Benchmark modes (the subcommands).
const (
	ModePut   = "put"
	ModeGet   = "get"
	ModeMixed = "mixed"
)

// Limits and defaults of the flags.
const (
	maxConcurrency = 1000
	// prefillBudget bounds the data the automatic --prefill uploads.
	prefillBudget = 1 << 30
	// cleanupTimeout bounds the cleanup that runs after the benchmark, even after Ctrl-C.
	cleanupTimeout = 10 * time.Minute
	// namePrefix starts the temporary bucket's name and the prefix used in a given bucket.
	namePrefix = "ossctl-bench-"
)

// baselineMinTime is how long each timed baseline measurement runs; tests shorten it.
var baselineMinTime = bench.DefaultBaselineMinTime

// Options is everything bench needs.
type Options struct {
	IO  *iostreams.IOStreams
	OSS func() (*oss.Client, error)
	// CleanupOSS returns a client whose requests are not tied to the process context, so that
	// the cleanup still runs after Ctrl-C has canceled it.
	CleanupOSS func() (*oss.Client, error)
	Printer    func() *output.Printer
	Ctx        context.Context

	// Mode is put, get or mixed.
	Mode string
	// Size is the size of every object.
	Size int64
	// Concurrency is the number of requests in flight.
	Concurrency int
	// Duration is the length of the measured phase, unless Objects is set.
	Duration time.Duration
	// Objects, when positive, ends the measured phase after that many operations.
	Objects int64
	// Prefill is the number of objects uploaded first for get and mixed (0: automatic).
	Prefill int
	// Mix weighs the operations of mixed.
	Mix bench.Mix
	// Bucket is an existing bucket to work in; empty means a temporary bucket.
	Bucket string
	// Baseline also measures the machine's limits in BaselineDir with a BaselineSize file.
	Baseline     bool
	BaselineDir  string
	BaselineSize int64
}

// Result is the JSON output of bench.
type Result struct {
	Mode            string `json:"mode"`
	Endpoint        string `json:"endpoint"`
	Bucket          string `json:"bucket"`
	TemporaryBucket bool   `json:"temporaryBucket"`
	Prefix          string `json:"prefix"`
	ObjectSize      int64  `json:"objectSize"`
	Concurrency     int    `json:"concurrency"`
	// Mix is set for mixed.
	Mix *bench.Mix `json:"mix,omitempty"`
	// MaxDurationSeconds or MaxOperations is the requested length of the measured phase.
	MaxDurationSeconds float64 `json:"maxDurationSeconds,omitempty"`
	MaxOperations      int64   `json:"maxOperations,omitempty"`
	Prefilled          int64   `json:"prefilled"`
	// DurationSeconds is the measured phase's actual length; every rate is per this.
	DurationSeconds float64             `json:"durationSeconds"`
	Interrupted     bool                `json:"interrupted"`
	Operations      []bench.OpResult    `json:"operations"`
	Total           bench.OpResult      `json:"total"`
	Baseline        *bench.Baseline     `json:"baseline,omitempty"`
	Ratios          []bench.Ratio       `json:"ratios,omitempty"`
	Cleanup         bench.CleanupResult `json:"cleanup"`
}

// NewCmdBench builds `ossctl bench` and its put, get and mixed subcommands.
func NewCmdBench(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench <command>",
		Short: "Measure an endpoint's throughput and latency",
		Long: heredoc.Doc(`
			Load an OSS endpoint (ossctl serve or Alibaba Cloud OSS) with many concurrent requests
			through the official SDK, and report per operation the operations per second, MiB/s
			and p50/p90/p99 latency. 'bench put' uploads, 'bench get' downloads prefilled objects,
			'bench mixed' mixes GET, HEAD, PUT and DELETE.

			The endpoint and credentials are configured as for every other command. By default a
			temporary bucket is created and removed afterwards; --bucket works in an existing
			bucket under a unique prefix and removes only what it wrote.
		`),
		Example: heredoc.Doc(`
			$ ossctl bench put --size 4KiB --concurrency 32 --duration 10s
			$ ossctl bench get --size 64MiB --concurrency 8 --baseline
			$ ossctl bench mixed --mix get=60,put=30,delete=10 --bucket oss://my-bucket
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(
		newCmdMode(f, runF, ModePut),
		newCmdMode(f, runF, ModeGet),
		newCmdMode(f, runF, ModeMixed),
	)
	return cmd
}

var modeHelp = map[string]struct{ short, long, example string }{
	ModePut: {
		short: "Measure uploads",
		long: `
			Upload new objects of --size bytes from --concurrency workers for --duration (or
			until --objects uploads), and report uploads per second, MiB/s and latency.`,
		example: `
			$ ossctl bench put --size 4KiB --concurrency 32 --duration 10s
			$ ossctl bench put --size 16MiB --objects 200 --output json`,
	},
	ModeGet: {
		short: "Measure downloads",
		long: `
			Upload --prefill objects of --size bytes first (not measured), then download them,
			picked at random, from --concurrency workers for --duration (or until --objects
			downloads). Every download is read to the end and checked: its length and, as the
			SDK does, its CRC-64.`,
		example: `
			$ ossctl bench get --size 64MiB --concurrency 8 --duration 30s
			$ ossctl bench get --size 1MiB --prefill 500 --baseline`,
	},
	ModeMixed: {
		short: "Measure a mix of GET, HEAD, PUT and DELETE",
		long: `
			Upload --prefill objects first (not measured), then run a random mix of operations
			weighted by --mix (default get=45,head=15,put=30,delete=10; weights are relative and
			need not add up to 100). GET and HEAD read existing objects, PUT writes new ones,
			DELETE removes one that no other worker is reading. So that readers always find
			objects, a DELETE becomes a PUT while no more than --concurrency objects exist.`,
		example: `
			$ ossctl bench mixed --size 256KiB --concurrency 16 --duration 1m
			$ ossctl bench mixed --mix get=80,put=20 --bucket oss://my-bucket`,
	},
}

const commonHelp = `
	Object data is random and incompressible (a crypto/rand block, each object starting at a
	random offset behind a unique header), so neither compression nor deduplication helps.
	Uploads are single PUTs, checked by CRC-64 when the server returns one.

	Cleanup: without --bucket a temporary bucket ossctl-bench-<random> is created and removed
	at the end; with --bucket (an existing bucket) everything goes under a unique prefix
	ossctl-bench-<random>/ and only that prefix is deleted. Cleanup also runs after an error or
	Ctrl-C; a second Ctrl-C abandons it.

	Rates are per the measured phase, which ends at --duration (requests in flight then are
	completed and counted) or after --objects operations. Latency covers a whole request,
	including the body; percentiles come from a histogram with under 1% error. Failed requests
	are counted per operation and excluded from rates and latencies; if every one of the first
	requests fails, the benchmark stops with that error.

	--baseline first measures this machine's limits in a temporary directory under
	--baseline-dir (default: the system temp directory; choose one on the filesystem that
	ossctl serve stores its data on): sequential write of a --baseline-size file with fsync,
	its sequential read (dropped from the page cache first where the OS allows), durable 4 KiB
	writes per second (write, fsync, rename, fsync the directory, one at a time), and MD5 and
	CRC-64 speed on one core. Ratios compare PUT MiB/s with disk write and MD5, PUT ops/s with
	durable writes (objects up to 1 MiB), and GET MiB/s with disk read and CRC-64.

	Output: on a terminal, a table (per operation, plus a total row for mixed) and the
	baseline. When piped, tab-separated lines without headers: per operation
	"OP OPS ERRORS OPS/S MiB/S P50 P90 P99 MAX" with latencies in milliseconds (OP "total"
	for the sum), "baseline NAME VALUE" (disk-write, disk-read and md5, crc64 in MiB/s,
	synced-writes per second) and "ratio OP METRIC BASELINE RATIO". --output json prints one
	object: {"mode","endpoint","bucket","temporaryBucket","prefix","objectSize","concurrency",
	"mix","maxDurationSeconds","maxOperations","prefilled","durationSeconds","interrupted",
	"operations":[{"op","ops","errors","bytes","opsPerSec","bytesPerSec","mibPerSec",
	"latencyMs":{"min","mean","p50","p90","p99","max"},"firstError"}],"total":{...},
	"baseline":{...},"ratios":[{"op","metric","value","baseline","baselineValue","ratio"}],
	"cleanup":{"objectsDeleted","bucketRemoved"}}.

	An interrupted run prints what it measured and exits 130; a run in which some requests
	failed prints its figures and exits 7.
`

func newCmdMode(f *cmdutil.Factory, runF func(*Options) error, mode string) *cobra.Command {
	opts := &Options{
		IO: f.IOStreams, OSS: f.OSS, CleanupOSS: detachedOSS(f), Printer: f.Printer,
		Mode: mode, Mix: bench.DefaultMix,
	}
	switch mode {
	case ModePut:
		opts.Mix = bench.Mix{Put: 1}
	case ModeGet:
		opts.Mix = bench.Mix{Get: 1}
	}
	var size, baselineSize, mix, bucket string
	h := modeHelp[mode]
	cmd := &cobra.Command{
		Use:   mode + " [flags]",
		Short: h.short,
		Long: cmdutil.LongHelp(strings.TrimRight(heredoc.Doc(h.long), "\n")+"\n\n"+heredoc.Doc(commonHelp),
			cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage, cmdutil.ExitNotFound, cmdutil.ExitAuth,
			cmdutil.ExitNetwork, cmdutil.ExitIntegrity, cmdutil.ExitPartial, cmdutil.ExitInterrupted),
		Example: heredoc.Doc(h.example),
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			var err error
			if opts.Size, err = parseSize("--size", size); err != nil {
				return err
			}
			if opts.Size > bench.MaxObjectSize {
				return cmdutil.FlagErrorf("--size must be at most 5GiB, the largest single PUT")
			}
			if opts.Concurrency < 1 || opts.Concurrency > maxConcurrency {
				return cmdutil.FlagErrorf("--concurrency must be between 1 and %d", maxConcurrency)
			}
			if err := cmdutil.MutuallyExclusive("--duration and --objects cannot be combined",
				fl.Changed("duration"), fl.Changed("objects")); err != nil {
				return err
			}
			if opts.Duration <= 0 {
				return cmdutil.FlagErrorf("--duration must be positive")
			}
			if opts.Objects < 0 || (fl.Changed("objects") && opts.Objects == 0) {
				return cmdutil.FlagErrorf("--objects must be positive")
			}
			if mode != ModePut && opts.Prefill < 0 {
				return cmdutil.FlagErrorf("--prefill must not be negative")
			}
			if mode == ModeMixed {
				if opts.Mix, err = bench.ParseMix(mix); err != nil {
					return cmdutil.FlagErrorf("invalid --mix: %v", err)
				}
			}
			if bucket != "" {
				name := bucket
				if cmdutil.IsOSSURL(name) {
					if name, err = cmdutil.ParseBucketURL(name); err != nil {
						return cmdutil.FlagErrorf("invalid --bucket: %v", err)
					}
				} else if err := cmdutil.ValidateBucketName(name); err != nil {
					return cmdutil.FlagErrorf("invalid --bucket: %v", err)
				}
				opts.Bucket = name
			}
			if fl.Changed("baseline-dir") || fl.Changed("baseline-size") {
				opts.Baseline = true
			}
			if opts.BaselineSize, err = parseSize("--baseline-size", baselineSize); err != nil {
				return err
			}
			if opts.BaselineSize < 1<<20 {
				return cmdutil.FlagErrorf("--baseline-size must be at least 1MiB")
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&size, "size", "1MiB", "object `size`, e.g. 4KiB, 10MiB")
	fl.IntVarP(&opts.Concurrency, "concurrency", "c", 16, "requests in flight at once")
	fl.DurationVarP(&opts.Duration, "duration", "d", 10*time.Second, "length of the measured phase")
	fl.Int64VarP(&opts.Objects, "objects", "n", 0, "stop after `N` operations instead of after --duration")
	if mode != ModePut {
		fl.IntVar(&opts.Prefill, "prefill", 0, "objects to upload before measuring (default: 4 per worker, at least 32, at most 1GiB in all)")
	}
	if mode == ModeMixed {
		fl.StringVar(&mix, "mix", bench.DefaultMix.String(), "relative weights of the operations, `OP=WEIGHT,...`")
	}
	fl.StringVar(&bucket, "bucket", "", "work in this existing bucket, under a unique prefix (default: a temporary bucket)")
	_ = cmd.RegisterFlagCompletionFunc("bucket", cmdutil.CompleteBuckets(f, 0))
	fl.BoolVar(&opts.Baseline, "baseline", false, "also measure this machine's disk and hashing speed, and print ratios")
	fl.StringVar(&opts.BaselineDir, "baseline-dir", "", "`directory` on the filesystem to measure (default: the system temp directory)")
	_ = cmd.MarkFlagDirname("baseline-dir")
	fl.StringVar(&baselineSize, "baseline-size", "256MiB", "`size` of the file written and read by --baseline")
	return cmd
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

// detachedOSS builds, once, an SDK client from the same configuration as f.OSS whose requests are
// not bound to the process context.
func detachedOSS(f *cmdutil.Factory) func() (*oss.Client, error) {
	var (
		once sync.Once
		c    *oss.Client
		err  error
	)
	return func() (*oss.Client, error) {
		once.Do(func() {
			cfg, cerr := f.Config()
			if cerr != nil {
				err = cerr
				return
			}
			c, err = cmdutil.NewOSSClient(cfg, cmdutil.ClientOptions{
				UserAgent: "ossctl/" + f.AppVersion, Logger: f.Logger(), Redactor: f.Redactor,
			})
		})
		return c, err
	}
}

// autoPrefill is the default --prefill: 4 objects per worker, at least 32, and no more than
// prefillBudget bytes (but at least one object).
func autoPrefill(concurrency int, size int64) int {
	n := max(4*concurrency, 32)
	if size > 0 {
		n = int(min(int64(n), max(prefillBudget/size, 1)))
	}
	return n
}

// randomSuffix returns 10 random lowercase hex digits.
func randomSuffix() (string, error) {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating a random name: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// createTemporaryBucket creates ossctl-bench-<random>, trying another name if one is taken.
func createTemporaryBucket(ctx context.Context, c *oss.Client) (string, error) {
	for attempt := 0; ; attempt++ {
		suffix, err := randomSuffix()
		if err != nil {
			return "", err
		}
		name := namePrefix + suffix
		err = c.CreateBucket(name, oss.WithContext(ctx))
		if err == nil {
			return name, nil
		}
		var se oss.ServiceError
		if errors.As(err, &se) && se.Code == "BucketAlreadyExists" && attempt < 2 {
			continue
		}
		return "", fmt.Errorf("creating temporary bucket %s: %w", name, err)
	}
}

func describeLimit(opts *Options) string {
	if opts.Objects > 0 {
		return fmt.Sprintf("%d operations", opts.Objects)
	}
	return opts.Duration.String()
}

func run(opts *Options) (err error) {
	ctx := opts.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	c, err := opts.OSS()
	if err != nil {
		return err
	}
	cleanupClient := c
	if opts.CleanupOSS != nil {
		if cleanupClient, err = opts.CleanupOSS(); err != nil {
			return err
		}
	}
	p := opts.Printer()
	payload, err := bench.NewPayload(bench.DefaultPayloadSize)
	if err != nil {
		return err
	}
	res := Result{
		Mode: opts.Mode, Endpoint: c.Config.Endpoint, ObjectSize: opts.Size, Concurrency: opts.Concurrency,
	}
	if opts.Mode == ModeMixed {
		m := opts.Mix
		res.Mix = &m
	}
	if opts.Objects > 0 {
		res.MaxOperations = opts.Objects
	} else {
		res.MaxDurationSeconds = opts.Duration.Seconds()
	}

	// The bucket, and the cleanup that always follows.
	if opts.Bucket != "" {
		suffix, err := randomSuffix()
		if err != nil {
			return err
		}
		res.Bucket, res.Prefix = opts.Bucket, namePrefix+suffix+"/"
	} else {
		name, err := createTemporaryBucket(ctx, c)
		if err != nil {
			return err
		}
		res.Bucket, res.TemporaryBucket = name, true
	}
	cleaned := false
	cleanup := func() error {
		cleaned = true
		if ctx.Err() != nil && !opts.IO.IsQuiet() && !p.IsJSON() {
			opts.IO.Eprintf("Interrupted: cleaning up (press Ctrl-C again to abandon the cleanup)\n")
		}
		if opts.IO.ProgressEnabled() {
			opts.IO.Eprintf("Cleaning up %s...", leftoverURL(res))
			defer opts.IO.Eprintf(clearLine)
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		cr, cerr := bench.Cleanup(cctx, cleanupClient, res.Bucket, res.Prefix, res.TemporaryBucket)
		res.Cleanup = cr
		if cerr != nil {
			return cmdutil.WithHint(cerr, fmt.Sprintf("remove what is left with: ossctl rm -r -f %s", leftoverURL(res)))
		}
		return nil
	}
	defer func() {
		if !cleaned {
			err = errors.Join(err, cleanup())
		}
	}()

	p.Status("Benchmarking %s at %s: %s, %s objects, %d workers, %s\n",
		cmdutil.OSSURL{Bucket: res.Bucket, Key: res.Prefix}, res.Endpoint, modeLabel(opts),
		ibytes(opts.Size), opts.Concurrency, describeLimit(opts))

	if opts.Baseline {
		b, err := measureBaseline(ctx, opts, payload)
		if err != nil {
			return err
		}
		res.Baseline = &b
	}

	prefill := 0
	if opts.Mode != ModePut {
		prefill = opts.Prefill
		if prefill == 0 {
			prefill = autoPrefill(opts.Concurrency, opts.Size)
		}
	}
	runner, err := bench.NewRunner(bench.Config{
		Client: c, Bucket: res.Bucket, Prefix: res.Prefix, Size: opts.Size,
		Concurrency: opts.Concurrency, Duration: opts.Duration, Objects: opts.Objects,
		Mix: opts.Mix, Prefill: prefill, Payload: payload,
	})
	if err != nil {
		return err
	}
	live := startLive(opts.IO, runner, prefill, opts)
	if prefill > 0 {
		perr := runner.Prefill(ctx)
		res.Prefilled = runner.Progress().Prefilled
		if perr != nil {
			live.stop()
			return perr
		}
	}
	rep, runErr := runner.Run(ctx)
	live.stop()
	if runErr != nil {
		return runErr
	}
	res.DurationSeconds = rep.Elapsed.Seconds()
	res.Interrupted = rep.Interrupted
	res.Operations, res.Total = rep.Ops, rep.Total
	if res.Baseline != nil {
		res.Ratios = bench.Ratios(rep, *res.Baseline)
	}
	cleanupErr := cleanup()
	if err := render(p, &res); err != nil {
		return errors.Join(err, cleanupErr)
	}
	if !p.IsJSON() && !opts.IO.IsQuiet() {
		for _, o := range rep.Ops {
			if o.Err() != nil {
				opts.IO.Eprintf("error: %s: %d failed, first: %s\n", o.Op, o.Errors, output.Text(o.FirstError))
			}
		}
		if cleanupErr == nil {
			opts.IO.Eprintf("%s\n", cleanupMessage(res))
		}
	}
	switch {
	case rep.Interrupted:
		return errors.Join(fmt.Errorf("benchmark interrupted after %s: %w", rep.Elapsed.Round(time.Millisecond), context.Canceled), cleanupErr)
	case cleanupErr != nil:
		return cleanupErr
	case rep.Total.Errors > 0:
		return &cmdutil.PartialError{Op: "benchmarking " + res.Endpoint, Failed: int(rep.Total.Errors),
			Total: int(rep.Total.Errors + rep.Total.Ops), First: rep.FirstError()}
	}
	return nil
}

// clearLine returns the cursor to the start of the line and erases it.
const clearLine = "\r\x1b[K"

// ibytes renders a non-negative byte count as "1.5 MiB".
func ibytes(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }

func leftoverURL(res Result) string {
	return cmdutil.OSSURL{Bucket: res.Bucket, Key: res.Prefix}.String()
}

func cleanupMessage(res Result) string {
	if res.TemporaryBucket {
		return fmt.Sprintf("Removed temporary bucket oss://%s and its %d objects", res.Bucket, res.Cleanup.ObjectsDeleted)
	}
	return fmt.Sprintf("Removed %d objects under %s", res.Cleanup.ObjectsDeleted, leftoverURL(res))
}

func modeLabel(opts *Options) string {
	if opts.Mode == ModeMixed {
		return "mixed " + opts.Mix.String()
	}
	return opts.Mode
}

func measureBaseline(ctx context.Context, opts *Options, payload *bench.Payload) (bench.Baseline, error) {
	if opts.IO.ProgressEnabled() {
		opts.IO.Eprintf("Measuring this machine's baseline (%s file)...", ibytes(opts.BaselineSize))
		defer opts.IO.Eprintf(clearLine)
	}
	return bench.MeasureBaseline(ctx, bench.BaselineConfig{
		Dir: opts.BaselineDir, FileSize: opts.BaselineSize, Payload: payload, MinTime: baselineMinTime,
	})
}

// live redraws one status line on stderr while the benchmark runs, when a person is watching.
type live struct {
	done chan struct{}
	wg   sync.WaitGroup
}

func startLive(ios *iostreams.IOStreams, r *bench.Runner, prefill int, opts *Options) *live {
	l := &live{done: make(chan struct{})}
	if !ios.ProgressEnabled() {
		return l
	}
	l.wg.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-l.done:
				ios.Eprintf(clearLine)
				return
			case <-t.C:
			}
			pr := r.Progress()
			var line string
			if pr.Elapsed == 0 {
				line = fmt.Sprintf("Prefilling: %d/%d objects", pr.Prefilled, prefill)
			} else {
				secs := pr.Elapsed.Seconds()
				line = fmt.Sprintf("%s: %d ops, %.1f ops/s, %s/s, %d errors, %s",
					modeLabel(opts), pr.Ops, float64(pr.Ops)/secs, ibytes(int64(float64(pr.Bytes)/secs)),
					pr.Errors, pr.Elapsed.Truncate(time.Second))
				if opts.Objects == 0 {
					line += "/" + opts.Duration.String()
				}
			}
			if w := ios.TerminalWidth(); w > 1 && len(line) >= w {
				line = line[:w-1]
			}
			ios.Eprintf("%s%s", clearLine, line)
		}
	})
	return l
}

func (l *live) stop() {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	l.wg.Wait()
}

// render prints the result: one JSON object, a table on a terminal, or tab-separated lines.
func render(p *output.Printer, res *Result) error {
	if p.IsJSON() {
		return p.JSON(res)
	}
	tty := p.IsTTY()
	t := p.Table("OP", "OPS", "ERRORS", "OPS/S", "THROUGHPUT", "P50", "P90", "P99", "MAX")
	rows := res.Operations
	if len(rows) > 1 {
		rows = append(rows[:len(rows):len(rows)], res.Total)
	}
	for _, o := range rows {
		l := o.Latency
		if tty {
			thr := "-"
			if o.Bytes > 0 {
				thr = ibytes(int64(o.BytesPerSec)) + "/s"
			}
			t.AddRow(o.Op, fmt.Sprint(o.Ops), fmt.Sprint(o.Errors), fmt.Sprintf("%.1f", o.OpsPerSec), thr,
				fmtLatency(l.P50), fmtLatency(l.P90), fmtLatency(l.P99), fmtLatency(l.Max))
			continue
		}
		t.AddRow(o.Op, fmt.Sprint(o.Ops), fmt.Sprint(o.Errors), fmt.Sprintf("%.2f", o.OpsPerSec),
			fmt.Sprintf("%.2f", o.MiBPerSec), fmt.Sprintf("%.3f", l.P50), fmt.Sprintf("%.3f", l.P90),
			fmt.Sprintf("%.3f", l.P99), fmt.Sprintf("%.3f", l.Max))
	}
	if err := t.Render(); err != nil {
		return err
	}
	if b := res.Baseline; b != nil {
		if err := renderBaseline(p, b, res.Ratios); err != nil {
			return err
		}
	}
	if tty && res.Interrupted {
		return p.Printf("Interrupted after %.1fs: figures cover the measured part only.\n", res.DurationSeconds)
	}
	return nil
}

var baselineLabels = map[string]string{
	"disk-write":    "disk write + fsync",
	"disk-read":     "disk read",
	"synced-writes": "durable 4 KiB writes",
	"md5":           "MD5",
	"crc64":         "CRC-64",
}

func renderBaseline(p *output.Printer, b *bench.Baseline, ratios []bench.Ratio) error {
	type fig struct {
		name  string
		value float64
		unit  string
	}
	figs := []fig{
		{"disk-write", b.DiskWriteMiBPerSec, "MiB/s"},
		{"disk-read", b.DiskReadMiBPerSec, "MiB/s"},
		{"synced-writes", b.SyncedWritesPerSec, "/s"},
		{"md5", b.MD5MiBPerSec, "MiB/s"},
		{"crc64", b.CRC64MiBPerSec, "MiB/s"},
	}
	if !p.IsTTY() {
		t := p.Table("", "", "")
		for _, f := range figs {
			t.AddRow("baseline", f.name, fmt.Sprintf("%.2f", f.value))
		}
		if err := t.Render(); err != nil {
			return err
		}
		rt := p.Table("", "", "", "", "")
		for _, r := range ratios {
			rt.AddRow("ratio", r.Op, r.Metric, r.Baseline, fmt.Sprintf("%.3f", r.Ratio))
		}
		return rt.Render()
	}
	readLabel := "disk read (cold)"
	if !b.DiskReadCold {
		readLabel = "disk read (may be cached)"
	}
	if err := p.Printf("\nBaseline of this machine (%s, %s file):\n", b.Dir, ibytes(b.FileSize)); err != nil {
		return err
	}
	t := p.Table("MEASURE", "SPEED")
	for _, f := range figs {
		label := baselineLabels[f.name]
		if f.name == "disk-read" {
			label = readLabel
		}
		t.AddRow(label, fmt.Sprintf("%.1f %s", f.value, f.unit))
	}
	if err := t.Render(); err != nil {
		return err
	}
	if len(ratios) == 0 {
		return nil
	}
	if err := p.Printf("\n"); err != nil {
		return err
	}
	rt := p.Table("OP", "FIGURE", "BASELINE", "RATIO")
	for _, r := range ratios {
		unit := r.Metric
		if unit == "ops/s" {
			unit = "/s"
		}
		rt.AddRow(r.Op+" "+r.Metric, fmt.Sprintf("%.1f %s", r.Value, unit),
			fmt.Sprintf("%s %.1f %s", baselineLabels[r.Baseline], r.BaselineValue, unit), strconv.FormatFloat(r.Ratio, 'g', 3, 64))
	}
	return rt.Render()
}

// fmtLatency renders milliseconds for a terminal: 850µs, 12.3ms, 1.25s.
func fmtLatency(msec float64) string {
	switch {
	case msec <= 0:
		return "-"
	case msec < 1:
		return fmt.Sprintf("%.0fµs", msec*1000)
	case msec < 100:
		return fmt.Sprintf("%.2fms", msec)
	case msec < 1000:
		return fmt.Sprintf("%.0fms", msec)
	}
	return strings.TrimSuffix(fmt.Sprintf("%.2fs", msec/1000), "0")
}
