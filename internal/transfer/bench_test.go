package transfer

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks for the figures of the transfer issue. Sizes are small by default so that they
// run in seconds; OSSCTL_BENCH_MIB (big-file size) and OSSCTL_BENCH_FILES (small-file count)
// scale them up, e.g. OSSCTL_BENCH_MIB=2048 OSSCTL_BENCH_FILES=10000.
//
//	go test -run '^$' -bench . -benchtime 1x ./internal/transfer

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func writeBenchFile(b *testing.B, path string, size int64) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	chunk := randData(1<<20, 99)
	for off := int64(0); off < size; off += int64(len(chunk)) {
		n := min(int64(len(chunk)), size-off)
		if _, err := f.Write(chunk[:n]); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// diskCopy copies src to dst with a final fsync and returns the throughput in bytes/s.
func diskCopy(b *testing.B, src, dst string) float64 {
	b.Helper()
	start := time.Now()
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.CopyBuffer(out, in, make([]byte, 1<<20))
	if err != nil {
		b.Fatal(err)
	}
	if err := out.Sync(); err != nil {
		b.Fatal(err)
	}
	_ = out.Close()
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkCpBigFileVsDisk: one large file to the server and back, each direction as a ratio of
// a raw disk copy with fsync on the same filesystem.
func BenchmarkCpBigFileVsDisk(b *testing.B) {
	size := int64(benchEnvInt("OSSCTL_BENCH_MIB", 256)) << 20
	for b.Loop() {
		b.StopTimer()
		fx := newOps(b)
		cfg := fx.cfg()
		cfg.Client = fx.plain
		cfg.Threshold, cfg.PartSize, cfg.Parallel = DefaultThreshold, 0, DefaultParallel
		src := filepath.Join(fx.dir, "big.bin")
		writeBenchFile(b, src, size)
		disk := diskCopy(b, src, filepath.Join(fx.dir, "disk.copy"))
		b.StartTimer()
		t0 := time.Now()
		if _, err := cfg.Upload(context.Background(), Upload{LocalPath: src, Bucket: "bkt1", Key: "big"}, nil); err != nil {
			b.Fatal(err)
		}
		up := float64(size) / time.Since(t0).Seconds()
		t0 = time.Now()
		if _, err := cfg.Download(context.Background(), Download{Bucket: "bkt1", Key: "big", LocalPath: filepath.Join(fx.dir, "back"), Size: -1}, nil); err != nil {
			b.Fatal(err)
		}
		down := float64(size) / time.Since(t0).Seconds()
		b.ReportMetric(disk/(1<<20), "disk-MiB/s")
		b.ReportMetric(up/(1<<20), "up-MiB/s")
		b.ReportMetric(down/(1<<20), "down-MiB/s")
		b.ReportMetric(up/disk, "up/disk")
		b.ReportMetric(down/disk, "down/disk")
	}
}

// BenchmarkCpManySmallFiles: a tree of 4 KiB files uploaded with the engine, files per second.
func BenchmarkCpManySmallFiles(b *testing.B) {
	n := benchEnvInt("OSSCTL_BENCH_FILES", 2000)
	for b.Loop() {
		b.StopTimer()
		fx := newOps(b)
		cfg := fx.cfg()
		cfg.Client = fx.plain
		root := filepath.Join(fx.dir, "tree")
		data := randData(4096, 5)
		for i := range n {
			p := filepath.Join(root, strconv.Itoa(i%100), strconv.Itoa(i))
			if i < 100 {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					b.Fatal(err)
				}
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		t0 := time.Now()
		sum, err := Run(context.Background(), Options{Jobs: 16}, func(ctx context.Context, submit Submit) error {
			return WalkLocal(ctx, root, func(f LocalFile, err error) error {
				if err != nil {
					return err
				}
				return submit(Task{Source: f.Path, Size: f.Size, Run: func(ctx context.Context, l *FileListener) (Outcome, error) {
					_, err := cfg.Upload(ctx, Upload{LocalPath: f.Path, Bucket: "bkt1", Key: f.Rel}, l)
					return Outcome{}, err
				}})
			})
		})
		if err != nil || sum.Done != int64(n) {
			b.Fatalf("%v %+v", err, sum)
		}
		b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "files/s")
	}
}

// BenchmarkResumedUpload: an upload interrupted at about half its parts, then run again; the
// second run's bytes on the wire as a fraction of the file.
func BenchmarkResumedUpload(b *testing.B) {
	size := int64(benchEnvInt("OSSCTL_BENCH_MIB", 256)) << 20
	for b.Loop() {
		b.StopTimer()
		fx := newOps(b)
		cfg := fx.cfg()
		cfg.Threshold, cfg.PartSize, cfg.Parallel = DefaultThreshold, 0, DefaultParallel
		src := filepath.Join(fx.dir, "big.bin")
		writeBenchFile(b, src, size)
		parts := partCount(size, cfg.PartSizeFor(size))
		b.StartTimer()
		_, err := cfg.Upload(fx.cancelAfter("UploadPart", parts/2), Upload{LocalPath: src, Bucket: "bkt1", Key: "big"}, nil)
		if err == nil {
			b.Fatal("not interrupted")
		}
		fx.rec.after = nil
		fx.rec.reset()
		if _, err := cfg.Upload(context.Background(), Upload{LocalPath: src, Bucket: "bkt1", Key: "big"}, nil); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(fx.rec.sent.Load())/float64(size), "resent/size")
	}
}

// BenchmarkCpPeakMemory: the Go heap's peak while a large file goes up and back down. The
// in-process server shares the heap, so the figure is an upper bound for the client.
func BenchmarkCpPeakMemory(b *testing.B) {
	size := int64(benchEnvInt("OSSCTL_BENCH_MIB", 256)) << 20
	for b.Loop() {
		b.StopTimer()
		fx := newOps(b)
		cfg := fx.cfg()
		cfg.Client = fx.plain
		cfg.Threshold, cfg.PartSize, cfg.Parallel = DefaultThreshold, 0, DefaultParallel
		src := filepath.Join(fx.dir, "big.bin")
		writeBenchFile(b, src, size)
		runtime.GC()
		var peak atomic.Uint64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				if v := ms.HeapInuse + ms.StackInuse; v > peak.Load() {
					peak.Store(v)
				}
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		b.StartTimer()
		if _, err := cfg.Upload(context.Background(), Upload{LocalPath: src, Bucket: "bkt1", Key: "big"}, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := cfg.Download(context.Background(), Download{Bucket: "bkt1", Key: "big", LocalPath: filepath.Join(fx.dir, "back"), Size: -1}, nil); err != nil {
			b.Fatal(err)
		}
		close(stop)
		<-done
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(size)/(1<<20), "file-MiB")
	}
}
