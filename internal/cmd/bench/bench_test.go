package bench

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/google/shlex"

	"github.com/ossctl/ossctl/internal/bench"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/cmdutil/cmdutiltest"
	"github.com/ossctl/ossctl/internal/server/servertest"
)

func TestMain(m *testing.M) {
	baselineMinTime = 20 * time.Millisecond
	os.Exit(m.Run())
}

func TestNewCmdBenchFlags(t *testing.T) {
	tests := []struct {
		in      string
		check   func(*Options) bool
		wantErr string
	}{
		{in: "put", check: func(o *Options) bool {
			return o.Mode == ModePut && o.Size == 1<<20 && o.Concurrency == 16 && o.Duration == 10*time.Second &&
				o.Objects == 0 && o.Mix == (bench.Mix{Put: 1}) && o.Bucket == "" && !o.Baseline && o.BaselineSize == 256<<20
		}},
		{in: "put --size 4KiB -c 32 -d 3s", check: func(o *Options) bool {
			return o.Size == 4096 && o.Concurrency == 32 && o.Duration == 3*time.Second
		}},
		{in: "put --size 4KB -n 100", check: func(o *Options) bool { return o.Size == 4000 && o.Objects == 100 }},
		{in: "put --size 0", check: func(o *Options) bool { return o.Size == 0 }},
		{in: "get --size 64MiB --prefill 10", check: func(o *Options) bool {
			return o.Mode == ModeGet && o.Size == 64<<20 && o.Prefill == 10 && o.Mix == (bench.Mix{Get: 1})
		}},
		{in: "mixed", check: func(o *Options) bool { return o.Mode == ModeMixed && o.Mix == bench.DefaultMix }},
		{in: "mixed --mix get=1,DELETE=2", check: func(o *Options) bool { return o.Mix == bench.Mix{Get: 1, Delete: 2} }},
		{in: "put --bucket oss://bkt1/", check: func(o *Options) bool { return o.Bucket == "bkt1" }},
		{in: "put --bucket bkt1", check: func(o *Options) bool { return o.Bucket == "bkt1" }},
		{in: "put --baseline", check: func(o *Options) bool { return o.Baseline && o.BaselineDir == "" }},
		{in: "put --baseline-dir /data --baseline-size 1GiB", check: func(o *Options) bool {
			return o.Baseline && o.BaselineDir == "/data" && o.BaselineSize == 1<<30
		}},
		{in: "put --size 10XB", wantErr: "invalid --size"},
		{in: "put --size 6GiB", wantErr: "at most 5GiB"},
		{in: "put -c 0", wantErr: "--concurrency must be between"},
		{in: "put -c 1001", wantErr: "--concurrency must be between"},
		{in: "put -d 0s", wantErr: "--duration must be positive"},
		{in: "put -d 5s -n 10", wantErr: "cannot be combined"},
		{in: "put -n 0", wantErr: "--objects must be positive"},
		{in: "put -n -3", wantErr: "--objects must be positive"},
		{in: "get --prefill -1", wantErr: "--prefill must not be negative"},
		{in: "put --prefill 3", wantErr: "unknown flag: --prefill"},
		{in: "get --mix get=1", wantErr: "unknown flag: --mix"},
		{in: "mixed --mix get=1,list=2", wantErr: "unknown operation"},
		{in: "mixed --mix get=0", wantErr: "at least one weight"},
		{in: "put --bucket oss://bkt1/key", wantErr: "invalid --bucket"},
		{in: "put --bucket B", wantErr: "invalid --bucket"},
		{in: "put --baseline-size 1KiB", wantErr: "at least 1MiB"},
		{in: "put extra", wantErr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, _ := cmdutiltest.New(t, cmdutiltest.Options{})
			var got *Options
			cmd := NewCmdBench(f, func(o *Options) error { got = o; return nil })
			args, _ := shlex.Split(tt.in)
			cmd.SetArgs(args)
			cmd.SetErr(&strings.Builder{})
			cmd.SetOut(&strings.Builder{})
			_, err := cmd.ExecuteC()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				var fe *cmdutil.FlagError
				if !strings.HasPrefix(err.Error(), "unknown flag") && !errors.As(err, &fe) {
					t.Fatalf("err %T is not a FlagError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || !tt.check(got) {
				t.Errorf("options = %+v", got)
			}
		})
	}
}

func TestAutoPrefill(t *testing.T) {
	for _, tt := range []struct {
		c    int
		size int64
		want int
	}{
		{1, 4096, 32}, {16, 4096, 64}, {16, 64 << 20, 16}, {4, 2 << 30, 1}, {8, 0, 32},
	} {
		if got := autoPrefill(tt.c, tt.size); got != tt.want {
			t.Errorf("autoPrefill(%d, %d) = %d, want %d", tt.c, tt.size, got, tt.want)
		}
	}
}

type env struct {
	srv    *servertest.Env
	client *oss.Client
}

func start(t *testing.T) env {
	t.Helper()
	srv := servertest.Start(t)
	c, err := oss.New(srv.Endpoint, srv.AccessKeyID, srv.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	return env{srv: srv, client: c}
}

// newOpts builds Options the way NewCmdBench does, against the test server; ctx becomes the
// Factory's process context, so the benchmark client's requests die with it as in production.
func (e env) newOpts(ctx context.Context, t *testing.T, o cmdutiltest.Options, mode string) (*Options, cmdutiltest.Streams) {
	o.Endpoint, o.AccessKeyID, o.AccessKeySecret = e.srv.Endpoint, e.srv.AccessKeyID, e.srv.AccessKeySecret
	f, s := cmdutiltest.New(t, o)
	f.Context = ctx
	opts := &Options{
		IO: f.IOStreams, OSS: f.OSS, CleanupOSS: detachedOSS(f), Printer: f.Printer, Ctx: ctx,
		Mode: mode, Size: 2000, Concurrency: 4, Duration: 300 * time.Millisecond, BaselineSize: 1 << 20,
	}
	switch mode {
	case ModePut:
		opts.Mix = bench.Mix{Put: 1}
	case ModeGet:
		opts.Mix = bench.Mix{Get: 1}
		opts.Prefill = 8
	default:
		opts.Mix = bench.DefaultMix
		opts.Prefill = 8
	}
	return opts, s
}

func (e env) buckets(t *testing.T) []string {
	t.Helper()
	lr, err := e.client.ListBuckets()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range lr.Buckets {
		names = append(names, b.Name)
	}
	return names
}

func (e env) keys(t *testing.T, bucket string) []string {
	t.Helper()
	b, _ := e.client.Bucket(bucket)
	lr, err := b.ListObjects(oss.MaxKeys(1000))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range lr.Objects {
		keys = append(keys, o.Key)
	}
	return keys
}

func decode(t *testing.T, s string) Result {
	t.Helper()
	var res Result
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("decoding %q: %v", s, err)
	}
	return res
}

func checkSane(t *testing.T, res Result, wantOps ...string) {
	t.Helper()
	if len(res.Operations) != len(wantOps) {
		t.Fatalf("operations %+v, want %v", res.Operations, wantOps)
	}
	var ops, bytes int64
	for i, o := range res.Operations {
		if o.Op != wantOps[i] {
			t.Errorf("operation %d is %q, want %q", i, o.Op, wantOps[i])
		}
		if o.Ops <= 0 || o.Errors != 0 || o.FirstError != "" {
			t.Errorf("%s: ops %d errors %d (%s)", o.Op, o.Ops, o.Errors, o.FirstError)
		}
		wantRate := float64(o.Ops) / res.DurationSeconds
		if d := o.OpsPerSec - wantRate; d > 1e-6*wantRate || d < -1e-6*wantRate {
			t.Errorf("%s: %f ops/s, want %f", o.Op, o.OpsPerSec, wantRate)
		}
		switch o.Op {
		case "get", "put":
			if o.Bytes != o.Ops*res.ObjectSize || o.MiBPerSec <= 0 || o.BytesPerSec/(1<<20) != o.MiBPerSec {
				t.Errorf("%s: bytes %d MiB/s %f", o.Op, o.Bytes, o.MiBPerSec)
			}
		default:
			if o.Bytes != 0 {
				t.Errorf("%s: bytes %d", o.Op, o.Bytes)
			}
		}
		l := o.Latency
		if !(0 < l.Min && l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max && l.Mean <= l.Max && l.Max < 10000) {
			t.Errorf("%s: latency %+v", o.Op, l)
		}
		ops += o.Ops
		bytes += o.Bytes
	}
	if res.Total.Op != "total" || res.Total.Ops != ops || res.Total.Bytes != bytes || res.Total.Errors != 0 {
		t.Errorf("total %+v", res.Total)
	}
	if res.DurationSeconds <= 0 || res.DurationSeconds > 20 || res.Interrupted {
		t.Errorf("duration %f interrupted %v", res.DurationSeconds, res.Interrupted)
	}
}

func TestRunPutTemporaryBucketJSON(t *testing.T) {
	e := start(t)
	opts, s := e.newOpts(context.Background(), t, cmdutiltest.Options{JSON: true}, ModePut)
	if err := run(opts); err != nil {
		t.Fatal(err)
	}
	res := decode(t, s.Out.String())
	checkSane(t, res, "put")
	if !res.TemporaryBucket || !strings.HasPrefix(res.Bucket, "ossctl-bench-") || res.Prefix != "" ||
		res.Mode != "put" || res.Endpoint != e.srv.Endpoint || res.ObjectSize != 2000 || res.Concurrency != 4 ||
		res.MaxDurationSeconds != 0.3 || res.MaxOperations != 0 || res.Prefilled != 0 || res.Mix != nil {
		t.Errorf("result %+v", res)
	}
	if res.DurationSeconds < 0.3 {
		t.Errorf("measured %fs, asked for 0.3s", res.DurationSeconds)
	}
	if !res.Cleanup.BucketRemoved || res.Cleanup.ObjectsDeleted != res.Total.Ops {
		t.Errorf("cleanup %+v after %d puts", res.Cleanup, res.Total.Ops)
	}
	if b := e.buckets(t); len(b) != 0 {
		t.Errorf("buckets left: %v", b)
	}
	// Every number the JSON promises is there, under the documented names.
	var raw map[string]any
	_ = json.Unmarshal(s.Out.Bytes(), &raw)
	op := raw["operations"].([]any)[0].(map[string]any)
	for _, k := range []string{"op", "ops", "errors", "bytes", "opsPerSec", "bytesPerSec", "mibPerSec", "latencyMs"} {
		if _, ok := op[k]; !ok {
			t.Errorf("operation has no %q: %v", k, op)
		}
	}
	for _, k := range []string{"min", "mean", "p50", "p90", "p99", "max"} {
		if _, ok := op["latencyMs"].(map[string]any)[k]; !ok {
			t.Errorf("latencyMs has no %q", k)
		}
	}
	if s.ErrOut.Len() != 0 {
		t.Errorf("stderr in JSON mode: %q", s.ErrOut.String())
	}
}

func TestRunGetWithObjectsLimit(t *testing.T) {
	e := start(t)
	opts, s := e.newOpts(context.Background(), t, cmdutiltest.Options{JSON: true}, ModeGet)
	opts.Objects = 40
	if err := run(opts); err != nil {
		t.Fatal(err)
	}
	res := decode(t, s.Out.String())
	checkSane(t, res, "get")
	if res.Total.Ops != 40 || res.MaxOperations != 40 || res.MaxDurationSeconds != 0 || res.Prefilled != 8 {
		t.Errorf("result %+v", res)
	}
	if res.Cleanup.ObjectsDeleted != 8 || !res.Cleanup.BucketRemoved {
		t.Errorf("cleanup %+v", res.Cleanup)
	}
	if b := e.buckets(t); len(b) != 0 {
		t.Errorf("buckets left: %v", b)
	}
}

func TestRunMixedInExistingBucket(t *testing.T) {
	e := start(t)
	if err := e.client.CreateBucket("bkt1"); err != nil {
		t.Fatal(err)
	}
	b, _ := e.client.Bucket("bkt1")
	before := []string{"a", "ossctl-bench-0000000000/keep", "z/y"}
	for _, k := range before {
		if err := b.PutObject(k, strings.NewReader(k)); err != nil {
			t.Fatal(err)
		}
	}
	opts, s := e.newOpts(context.Background(), t, cmdutiltest.Options{JSON: true}, ModeMixed)
	opts.Bucket = "bkt1"
	if err := run(opts); err != nil {
		t.Fatal(err)
	}
	res := decode(t, s.Out.String())
	checkSane(t, res, "get", "head", "put", "delete")
	if res.TemporaryBucket || res.Bucket != "bkt1" || !strings.HasPrefix(res.Prefix, "ossctl-bench-") ||
		!strings.HasSuffix(res.Prefix, "/") || res.Mix == nil || *res.Mix != bench.DefaultMix || res.Prefilled != 8 {
		t.Errorf("result %+v", res)
	}
	ops := map[string]int64{}
	for _, o := range res.Operations {
		ops[o.Op] = o.Ops
	}
	// Everything written under the prefix and not deleted is what cleanup removed.
	if want := 8 + ops["put"] - ops["delete"]; res.Cleanup.ObjectsDeleted != want || res.Cleanup.BucketRemoved {
		t.Errorf("cleanup %+v, want %d objects deleted", res.Cleanup, want)
	}
	if got := e.keys(t, "bkt1"); strings.Join(got, ",") != strings.Join(before, ",") {
		t.Errorf("bucket holds %v, want %v", got, before)
	}
}

func TestRunTextOutput(t *testing.T) {
	e := start(t)
	// Piped: tab-separated lines without headers.
	opts, s := e.newOpts(context.Background(), t, cmdutiltest.Options{}, ModeMixed)
	opts.Mix = bench.Mix{Get: 1, Put: 1}
	opts.Baseline, opts.BaselineDir = true, t.TempDir()
	if err := run(opts); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(s.Out.String()), "\n")
	kinds := map[string]int{}
	for _, l := range lines {
		f := strings.Split(l, "\t")
		kinds[f[0]]++
		switch f[0] {
		case "get", "put", "total":
			if len(f) != 9 {
				t.Errorf("operation line %q", l)
			}
		case "baseline":
			if len(f) != 3 {
				t.Errorf("baseline line %q", l)
			}
		case "ratio":
			if len(f) != 5 {
				t.Errorf("ratio line %q", l)
			}
		default:
			t.Errorf("unexpected line %q", l)
		}
	}
	if kinds["get"] != 1 || kinds["put"] != 1 || kinds["total"] != 1 || kinds["baseline"] != 5 || kinds["ratio"] != 5 {
		t.Errorf("lines %v:\n%s", kinds, s.Out.String())
	}
	if !strings.Contains(s.ErrOut.String(), "Removed temporary bucket oss://ossctl-bench-") {
		t.Errorf("stderr %q", s.ErrOut.String())
	}
	if ents, _ := os.ReadDir(opts.BaselineDir); len(ents) != 0 {
		t.Errorf("baseline left %v", ents)
	}

	// Terminal: a header line, a table with headers, the baseline and the ratios.
	opts, s = e.newOpts(context.Background(), t, cmdutiltest.Options{StdoutTTY: true}, ModePut)
	opts.Baseline, opts.BaselineDir = true, t.TempDir()
	if err := run(opts); err != nil {
		t.Fatal(err)
	}
	out := s.Out.String()
	for _, want := range []string{"Benchmarking oss://ossctl-bench-", "put, 2.0 KiB objects, 4 workers, 300ms",
		"OP ", "OPS/S", "THROUGHPUT", "P99", "\nput ", "iB/s", "Baseline of this machine", "disk write + fsync",
		"durable 4 KiB writes", "CRC-64", "RATIO", "put MiB/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "total") {
		t.Errorf("total row for a single operation:\n%s", out)
	}
	if b := e.buckets(t); len(b) != 0 {
		t.Errorf("buckets left: %v", b)
	}
}

func TestRunInterruptedCleansUp(t *testing.T) {
	e := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts, s := e.newOpts(ctx, t, cmdutiltest.Options{JSON: true}, ModeMixed)
	opts.Duration = time.Minute
	time.AfterFunc(500*time.Millisecond, cancel)
	began := time.Now()
	err := run(opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if time.Since(began) > 20*time.Second {
		t.Errorf("took %v to stop", time.Since(began))
	}
	res := decode(t, s.Out.String())
	if !res.Interrupted || res.Total.Ops == 0 || res.Total.Errors != 0 || res.DurationSeconds > 20 {
		t.Errorf("result %+v", res)
	}
	if !res.Cleanup.BucketRemoved || res.Cleanup.ObjectsDeleted == 0 {
		t.Errorf("cleanup %+v", res.Cleanup)
	}
	if b := e.buckets(t); len(b) != 0 {
		t.Errorf("buckets left after Ctrl-C: %v", b)
	}
}

func TestRunInterruptedDuringPrefillCleansUp(t *testing.T) {
	e := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts, _ := e.newOpts(ctx, t, cmdutiltest.Options{}, ModeGet)
	opts.Prefill = 1_000_000
	time.AfterFunc(300*time.Millisecond, cancel)
	if err := run(opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if b := e.buckets(t); len(b) != 0 {
		t.Errorf("buckets left: %v", b)
	}
}

func TestRunMissingBucket(t *testing.T) {
	e := start(t)
	opts, s := e.newOpts(context.Background(), t, cmdutiltest.Options{}, ModePut)
	opts.Bucket = "no-such-bucket"
	opts.Duration = time.Minute
	began := time.Now()
	err := run(opts)
	var se oss.ServiceError
	if !errors.As(err, &se) || se.Code != "NoSuchBucket" {
		t.Fatalf("err = %v, want NoSuchBucket", err)
	}
	if time.Since(began) > 10*time.Second {
		t.Errorf("took %v to give up", time.Since(began))
	}
	if s.Out.Len() != 0 {
		t.Errorf("stdout %q", s.Out.String())
	}
}

// failingTransport fails every third HEAD request before it reaches the server.
type failingTransport struct {
	next  http.RoundTripper
	heads atomic.Int64
}

func (f *failingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodHead && f.heads.Add(1)%3 == 0 {
		return nil, errors.New("injected failure")
	}
	return f.next.RoundTrip(req)
}

func TestRunCountsErrorsPerOperation(t *testing.T) {
	e := start(t)
	opts, s := e.newOpts(context.Background(), t, cmdutiltest.Options{JSON: true}, ModeMixed)
	opts.Mix = bench.Mix{Get: 1, Head: 1}
	tr := &failingTransport{next: http.DefaultTransport}
	opts.OSS = func() (*oss.Client, error) {
		return oss.New(e.srv.Endpoint, e.srv.AccessKeyID, e.srv.AccessKeySecret, oss.HTTPClient(&http.Client{Transport: tr}))
	}
	err := run(opts)
	var pe *cmdutil.PartialError
	if !errors.As(err, &pe) || pe.Failed == 0 || pe.First == nil || !strings.Contains(pe.First.Error(), "injected failure") {
		t.Fatalf("err = %v, want a PartialError", err)
	}
	res := decode(t, s.Out.String())
	if len(res.Operations) != 2 {
		t.Fatalf("operations %+v", res.Operations)
	}
	get, head := res.Operations[0], res.Operations[1]
	if get.Op != "get" || get.Ops == 0 || get.Errors != 0 || get.FirstError != "" {
		t.Errorf("get %+v", get)
	}
	// Every third HEAD fails: errors are about half the successes.
	if head.Op != "head" || head.Errors == 0 || head.Ops < head.Errors || !strings.Contains(head.FirstError, "injected failure") {
		t.Errorf("head %+v", head)
	}
	if res.Total.Errors != head.Errors || int64(pe.Failed) != head.Errors || int64(pe.Total) != res.Total.Ops+head.Errors {
		t.Errorf("total %+v, partial %+v", res.Total, pe)
	}
	if b := e.buckets(t); len(b) != 0 {
		t.Errorf("buckets left: %v", b)
	}
}

func TestRunProgressOnTerminal(t *testing.T) {
	e := start(t)
	opts, s := e.newOpts(context.Background(), t, cmdutiltest.Options{StderrTTY: true}, ModeGet)
	opts.Duration = 600 * time.Millisecond
	if err := run(opts); err != nil {
		t.Fatal(err)
	}
	errOut := s.ErrOut.String()
	for _, want := range []string{"get: ", " ops/s, ", "Cleaning up oss://ossctl-bench-", "\r\x1b[K", "Removed temporary bucket"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q: %q", want, errOut)
		}
	}
	if strings.Contains(s.Out.String(), "\r") {
		t.Errorf("progress on stdout: %q", s.Out.String())
	}
}
