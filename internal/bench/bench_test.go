package bench

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"io"
	mrand "math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/server/servertest"
)

func TestHistogramBuckets(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	for range 100000 {
		v := rng.Uint64() >> rng.IntN(64)
		i := bucketOf(v)
		lo, w := bucketRange(i)
		if v < lo || v-lo >= w {
			t.Fatalf("value %d in bucket %d = [%d, %d+%d)", v, i, lo, lo, w)
		}
		if bucketOf(lo) != i || bucketOf(lo+w-1) != i {
			t.Fatalf("bucket %d bounds map elsewhere", i)
		}
		if i >= histBuckets {
			t.Fatalf("bucket %d out of range", i)
		}
		if v >= subCount && float64(w)/float64(lo) > 1.0/64 {
			t.Fatalf("bucket %d too wide: %d at %d", i, w, lo)
		}
	}
	if bucketOf(^uint64(0)) != histBuckets-1 {
		t.Errorf("max value bucket %d", bucketOf(^uint64(0)))
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Min() != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram not zero")
	}
	// 1..10000 µs, shuffled.
	vals := make([]time.Duration, 10000)
	for i := range vals {
		vals[i] = time.Duration(i+1) * time.Microsecond
	}
	mrand.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for _, v := range vals[w*2500 : (w+1)*2500] {
				h.Record(v)
			}
		})
	}
	wg.Wait()
	if h.Count() != 10000 {
		t.Fatalf("count %d", h.Count())
	}
	if h.Min() != time.Microsecond || h.Max() != 10*time.Millisecond {
		t.Errorf("min %v max %v", h.Min(), h.Max())
	}
	if want := 5000500 * time.Nanosecond; h.Mean() != want {
		t.Errorf("mean %v want %v", h.Mean(), want)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := float64(time.Duration(q*10000) * time.Microsecond)
		got := float64(h.Quantile(q))
		if d := (got - want) / want; d > 0.01 || d < -0.01 {
			t.Errorf("q%.3f = %v, want %v ±1%%", q, time.Duration(got), time.Duration(want))
		}
	}
	if h.Quantile(1) != h.Max() || h.Quantile(0) != h.Min() {
		t.Errorf("q0 %v q1 %v", h.Quantile(0), h.Quantile(1))
	}

	var other, merged Histogram
	other.Record(time.Hour)
	other.Record(-time.Second) // counts as 0
	merged.Merge(&h)
	merged.Merge(&other)
	if merged.Count() != 10002 || merged.Max() != time.Hour || merged.Min() != 0 {
		t.Errorf("merged count %d min %v max %v", merged.Count(), merged.Min(), merged.Max())
	}
}

func TestPayloadBodies(t *testing.T) {
	p, err := NewPayload(100 << 10)
	if err != nil {
		t.Fatal(err)
	}
	rng := mrand.New(mrand.NewPCG(3, 4))
	for _, size := range []int64{0, 1, 15, 16, 17, 4096, 300 << 10} {
		b := p.Body(size, rng)
		if b.Len() != int(size) {
			t.Fatalf("Len %d want %d", b.Len(), size)
		}
		got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(b, 10)))
		if err != nil {
			t.Fatal(err)
		}
		rest, err := io.ReadAll(b)
		if err != nil {
			t.Fatal(err)
		}
		if n := int64(len(got) + len(rest)); n != size || b.Len() != 0 {
			t.Fatalf("read %d bytes, want %d (Len %d)", n, size, b.Len())
		}
	}
	// Distinct, incompressible bodies.
	a, _ := io.ReadAll(p.Body(1<<20, rng))
	c, _ := io.ReadAll(p.Body(1<<20, rng))
	if bytes.Equal(a[:headerSize], c[:headerSize]) || bytes.Equal(a, c) {
		t.Fatal("two bodies are equal")
	}
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	_, _ = w.Write(a[:256<<10])
	_ = w.Close()
	if z.Len() < 256<<10 {
		t.Errorf("256 KiB of body compresses to %d bytes", z.Len())
	}
	// The sequence number makes two bodies from identically seeded generators differ.
	x, _ := io.ReadAll(p.Body(5000, mrand.New(mrand.NewPCG(5, 6))))
	y, _ := io.ReadAll(p.Body(5000, mrand.New(mrand.NewPCG(5, 6))))
	if bytes.Equal(x, y) {
		t.Error("bodies with the same seed are identical")
	}
	// The io.Reader contract, checked against a copy of the same body.
	body := p.Body(70000, rng)
	twin := *body
	want, _ := io.ReadAll(&twin)
	if err := iotest.TestReader(body, want); err != nil {
		t.Error(err)
	}
}

func TestParseMix(t *testing.T) {
	tests := []struct {
		in      string
		want    Mix
		wantErr string
	}{
		{in: "get=45,head=15,put=30,delete=10", want: DefaultMix},
		{in: " GET = 1 , put=0", want: Mix{Get: 1}},
		{in: "put=3,", want: Mix{Put: 3}},
		{in: "get=0,put=0", wantErr: "at least one weight"},
		{in: "", wantErr: "at least one weight"},
		{in: "get=-1", wantErr: "invalid weight"},
		{in: "get=x", wantErr: "invalid weight"},
		{in: "get", wantErr: "expected OP=WEIGHT"},
		{in: "list=3", wantErr: "unknown operation"},
		{in: "get=1,get=2", wantErr: "twice"},
		{in: "get=2000000", wantErr: "invalid weight"},
	}
	for _, tt := range tests {
		got, err := ParseMix(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseMix(%q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMix(%q) = %+v, %v", tt.in, got, err)
		}
	}
	if s := DefaultMix.String(); s != "get=45,head=15,put=30,delete=10" {
		t.Errorf("String = %q", s)
	}
	if s := (Mix{Put: 2}).String(); s != "put=2" {
		t.Errorf("String = %q", s)
	}
}

func TestKeyPool(t *testing.T) {
	p := newKeyPool()
	rng := mrand.New(mrand.NewPCG(7, 8))
	if _, ok := p.Lease(rng); ok {
		t.Fatal("lease from an empty pool")
	}
	for _, k := range []string{"a", "b", "c", "a"} {
		p.Add(k)
	}
	if p.Len() != 3 {
		t.Fatalf("len %d", p.Len())
	}
	// Lease every key: nothing can be taken.
	leased := map[string]int{}
	for len(leased) < 3 {
		k, _ := p.Lease(rng)
		leased[k]++
	}
	for range 50 {
		if k, ok := p.TakeIdle(rng, 0); ok {
			t.Fatalf("took leased key %q", k)
		}
	}
	for k, n := range leased {
		for range n {
			p.Release(k)
		}
	}
	if _, ok := p.TakeIdle(rng, 3); ok {
		t.Fatal("took a key although only keep remain")
	}
	got := map[string]bool{}
	for p.Len() > 0 {
		k, ok := p.TakeIdle(rng, 0)
		if !ok {
			continue
		}
		if got[k] {
			t.Fatalf("key %q taken twice", k)
		}
		got[k] = true
	}
	if len(got) != 3 {
		t.Fatalf("took %v", got)
	}
}

func setup(t *testing.T) (*oss.Client, *Payload) {
	t.Helper()
	srv := servertest.Start(t)
	c, err := oss.New(srv.Endpoint, srv.AccessKeyID, srv.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateBucket("bkt1"); err != nil {
		t.Fatal(err)
	}
	p, err := NewPayload(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	return c, p
}

func listKeys(t *testing.T, c *oss.Client, bucket string) []string {
	t.Helper()
	b, _ := c.Bucket(bucket)
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

func TestRunnerPutObjectsAndCleanup(t *testing.T) {
	c, p := setup(t)
	b, _ := c.Bucket("bkt1")
	if err := b.PutObject("keep/me", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(Config{Client: c, Bucket: "bkt1", Prefix: "run1/", Size: 3000, Concurrency: 4,
		Objects: 25, Mix: Mix{Put: 1}, Payload: p})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Ops) != 1 || rep.Ops[0].Op != "put" || rep.Ops[0].Ops != 25 || rep.Ops[0].Errors != 0 ||
		rep.Ops[0].Bytes != 25*3000 || rep.Total.Ops != 25 || rep.Interrupted {
		t.Fatalf("report %+v", rep)
	}
	if l := rep.Ops[0].Latency; l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max || l.Min > l.P50 {
		t.Errorf("latency %+v", l)
	}
	if keys := listKeys(t, c, "bkt1"); len(keys) != 26 {
		t.Fatalf("%d keys after the run", len(keys))
	}
	// An uploaded object has the size and content-length asked for.
	meta, err := b.GetObjectDetailedMeta("run1/obj-1")
	if err != nil || meta.Get("Content-Length") != "3000" {
		t.Fatalf("meta %v %v", meta, err)
	}

	if _, err := Cleanup(context.Background(), c, "bkt1", "", false); err == nil {
		t.Fatal("cleanup of a whole foreign bucket allowed")
	}
	cr, err := Cleanup(context.Background(), c, "bkt1", "run1/", false)
	if err != nil || cr.ObjectsDeleted != 25 || cr.BucketRemoved {
		t.Fatalf("cleanup %+v %v", cr, err)
	}
	if keys := listKeys(t, c, "bkt1"); len(keys) != 1 || keys[0] != "keep/me" {
		t.Fatalf("keys after cleanup: %v", keys)
	}
}

func TestRunnerMixedTimed(t *testing.T) {
	c, p := setup(t)
	r, err := NewRunner(Config{Client: c, Bucket: "bkt1", Size: 1000, Concurrency: 4,
		Duration: 300 * time.Millisecond, Mix: DefaultMix, Prefill: 12, Payload: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Prefill(context.Background()); err != nil {
		t.Fatal(err)
	}
	if pr := r.Progress(); pr.Prefilled != 12 || pr.Ops != 0 || pr.Elapsed != 0 {
		t.Fatalf("progress after prefill %+v", pr)
	}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Elapsed < 300*time.Millisecond || rep.Elapsed > 5*time.Second {
		t.Errorf("elapsed %v", rep.Elapsed)
	}
	if len(rep.Ops) != 4 {
		t.Fatalf("ops %+v", rep.Ops)
	}
	var sum int64
	for _, o := range rep.Ops {
		if o.Errors != 0 {
			t.Errorf("%s: %d errors, first %s", o.Op, o.Errors, o.FirstError)
		}
		sum += o.Ops
	}
	if rep.Total.Ops != sum || sum == 0 {
		t.Errorf("total %d sum %d", rep.Total.Ops, sum)
	}
	get := rep.Ops[0]
	if get.Op != "get" || get.Ops == 0 || get.Bytes != get.Ops*1000 || get.MiBPerSec <= 0 {
		t.Errorf("get %+v", get)
	}
	// What exists matches the pool: prefilled + put − deleted.
	keys := listKeys(t, c, "bkt1")
	if len(keys) != r.pool.Len() {
		t.Errorf("%d objects exist, pool has %d", len(keys), r.pool.Len())
	}
	cr, err := Cleanup(context.Background(), c, "bkt1", "", true)
	if err != nil || !cr.BucketRemoved || cr.ObjectsDeleted != int64(len(keys)) {
		t.Fatalf("cleanup %+v %v", cr, err)
	}
	if ok, _ := c.IsBucketExist("bkt1"); ok {
		t.Fatal("bucket still exists")
	}
}

func TestRunnerStopsWhenEverythingFails(t *testing.T) {
	c, p := setup(t)
	r, err := NewRunner(Config{Client: c, Bucket: "no-such-bucket", Size: 10, Concurrency: 2,
		Duration: time.Minute, Mix: Mix{Put: 1}, Payload: p})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rep, err := r.Run(context.Background())
	var se oss.ServiceError
	if !errors.As(err, &se) || se.Code != "NoSuchBucket" {
		t.Fatalf("err = %v, want NoSuchBucket", err)
	}
	if time.Since(start) > 10*time.Second || rep.Total.Errors < 16 || rep.Total.Ops != 0 {
		t.Errorf("took %v, report %+v", time.Since(start), rep.Total)
	}
}

func TestRunnerInterrupted(t *testing.T) {
	c, p := setup(t)
	r, err := NewRunner(Config{Client: c, Bucket: "bkt1", Size: 100, Concurrency: 3,
		Duration: time.Minute, Mix: Mix{Put: 1}, Payload: p})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	rep, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || rep.Total.Ops == 0 || rep.Total.Errors != 0 || rep.Elapsed > 10*time.Second {
		t.Fatalf("report %+v elapsed %v", rep.Total, rep.Elapsed)
	}
}

func TestConfigValidate(t *testing.T) {
	c, p := setup(t)
	good := Config{Client: c, Bucket: "bkt1", Size: 1, Concurrency: 1, Duration: time.Second, Mix: Mix{Put: 1}, Payload: p}
	if _, err := NewRunner(good); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Config){
		"no bucket":      func(c *Config) { c.Bucket = "" },
		"no workers":     func(c *Config) { c.Concurrency = 0 },
		"no limit":       func(c *Config) { c.Duration = 0 },
		"empty mix":      func(c *Config) { c.Mix = Mix{} },
		"get no prefill": func(c *Config) { c.Mix = Mix{Get: 1} },
		"too large":      func(c *Config) { c.Size = MaxObjectSize + 1 },
		"no payload":     func(c *Config) { c.Payload = nil },
	} {
		cfg := good
		mod(&cfg)
		if _, err := NewRunner(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestBaseline(t *testing.T) {
	p, err := NewPayload(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, err := MeasureBaseline(context.Background(), BaselineConfig{Dir: dir, FileSize: 3 << 20,
		MinTime: 20 * time.Millisecond, Payload: p})
	if err != nil {
		t.Fatal(err)
	}
	if b.DiskWriteMiBPerSec <= 0 || b.DiskReadMiBPerSec <= 0 || b.SyncedWritesPerSec <= 0 ||
		b.MD5MiBPerSec <= 0 || b.CRC64MiBPerSec <= 0 || b.FileSize != 3<<20 || b.SyncedWriteSize != 4096 || b.Dir != dir {
		t.Fatalf("baseline %+v", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind %v", ents)
	}

	rep := &Report{Ops: []OpResult{
		{Op: "put", Ops: 10, Bytes: 10 << 20, OpsPerSec: 100, MiBPerSec: 50},
		{Op: "get", Ops: 10, MiBPerSec: 80},
		{Op: "head", Ops: 10},
	}}
	big := &Report{Ops: []OpResult{{Op: "put", Ops: 10, Bytes: 10<<20 + 10, OpsPerSec: 100, MiBPerSec: 50}}}
	if r := Ratios(big, Baseline{SyncedWritesPerSec: 50}); len(r) != 0 {
		t.Errorf("objects over 1 MiB compared with small writes: %+v", r)
	}
	ratios := Ratios(rep, Baseline{DiskWriteMiBPerSec: 100, DiskReadMiBPerSec: 160, SyncedWritesPerSec: 50, MD5MiBPerSec: 500, CRC64MiBPerSec: 0})
	want := map[string]float64{"put/disk-write": 0.5, "put/synced-writes": 2, "put/md5": 0.1, "get/disk-read": 0.5}
	if len(ratios) != len(want) {
		t.Fatalf("ratios %+v", ratios)
	}
	for _, r := range ratios {
		if w, ok := want[r.Op+"/"+r.Baseline]; !ok || r.Ratio != w {
			t.Errorf("ratio %+v", r)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := MeasureBaseline(ctx, BaselineConfig{Dir: dir, FileSize: 1 << 20, Payload: p}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled baseline: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind after cancel %v", ents)
	}
}
