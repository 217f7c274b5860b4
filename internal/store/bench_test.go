package store

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Benchmarks (not run by `go test` without -bench):
//
//	go test -run '^$' -bench . -benchtime 2s ./internal/store/
//
// BenchmarkPut4KiBParallel is the store's small-object path (inline data,
// group commit) with 32 writers; BenchmarkBaseline4KiBFsyncRename is what a
// naive file-per-object store pays per object. BenchmarkListPage1000 lists
// one 1000-entry page from buckets of 10,000 and 1,000,000 keys: ns/op and
// allocs/op stay flat as the bucket grows. BenchmarkPutLarge vs
// BenchmarkBaselineLargeCopy compares a 256 MiB PUT (hashing MD5 and CRC-64,
// fsync, rename, commit) with a plain copy to a file plus fsync.

var benchCache struct {
	mu     sync.Mutex
	dir    string
	stores map[int]*Store
}

func TestMain(m *testing.M) {
	code := m.Run()
	benchCache.mu.Lock()
	for _, s := range benchCache.stores {
		_ = s.Close()
	}
	if benchCache.dir != "" {
		_ = os.RemoveAll(benchCache.dir)
	}
	benchCache.mu.Unlock()
	os.Exit(code)
}

func benchKey(i int) string { return fmt.Sprintf("d%04d/obj%08d", i/1000, i) }

// listBenchStore returns a store whose bucket "bench" holds n keys, built
// once per benchmark run with large direct batches.
func listBenchStore(b *testing.B, n int) *Store {
	b.Helper()
	benchCache.mu.Lock()
	defer benchCache.mu.Unlock()
	if s := benchCache.stores[n]; s != nil {
		return s
	}
	if benchCache.dir == "" {
		d, err := os.MkdirTemp("", "ossctl-store-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchCache.dir = d
		benchCache.stores = map[int]*Store{}
	}
	s, err := Open(filepath.Join(benchCache.dir, fmt.Sprint(n)), Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.CreateBucket(Bucket{Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	const batch = 100_000
	now := time.Now().UTC()
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		err := s.db.Update(func(tx *bolt.Tx) error {
			bk, err := openBkt(tx, "bench")
			if err != nil {
				return err
			}
			bk.objects.FillPercent = 1.0 // sequential keys
			for i := lo; i < hi; i++ {
				k := benchKey(i)
				rec := &Object{
					Key: k, VersionID: NullVersion, Size: 4096, ETag: "0123456789ABCDEF0123456789ABCDEF", CRC64: uint64(i),
					Type: TypeNormal, StorageClass: "Standard", Modified: now, ContentType: "application/octet-stream",
					Extents: []Extent{{Blob: newID(), Size: 4096}},
				}
				if err := bk.objects.Put(objKey(k, NullVersion), encodeObject(rec)); err != nil {
					return err
				}
			}
			return bk.addCounters(int64(hi-lo)*4096, int64(hi-lo), 0, now)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("built a %d-key bucket in %v", n, time.Since(start).Round(time.Millisecond))
	benchCache.stores[n] = s
	return s
}

func BenchmarkListPage1000(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			s := listBenchStore(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				marker := benchKey((i * 7919) % (n - 1000))
				res, err := s.ListObjects("bench", ListOptions{Marker: marker, MaxKeys: 1000})
				if err != nil || len(res.Objects) != 1000 {
					b.Fatalf("page: %d objects, %v", len(res.Objects), err)
				}
			}
		})
		b.Run(fmt.Sprintf("keys=%d/delimiter", n), func(b *testing.B) {
			s := listBenchStore(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				// Each common prefix stands for 1000 keys; the page seeks past them.
				res, err := s.ListObjects("bench", ListOptions{Delimiter: "/", MaxKeys: 1000})
				if err != nil || len(res.CommonPrefixes) != min(1000, n/1000) {
					b.Fatalf("page: %d prefixes, %v", len(res.CommonPrefixes), err)
				}
			}
		})
	}
}

func BenchmarkPut4KiBParallel(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateBucket(Bucket{Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	data := pattern(1, 4096)
	var seq atomic.Int64
	b.SetBytes(4096)
	b.ReportAllocs()
	b.SetParallelism(max(1, 32/runtimeProcs()))
	commits0 := s.commits.Load()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			blob, err := s.NewBlob()
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = blob.Write(data)
			if _, err := s.PutObject(ctx, "bench", &Object{Key: fmt.Sprint("k", seq.Add(1))}, blob, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if c := s.commits.Load() - commits0; c > 0 {
		b.ReportMetric(float64(b.N)/float64(c), "puts/commit")
	}
}

func BenchmarkBaseline4KiBFsyncRename(b *testing.B) {
	dir := b.TempDir()
	data := pattern(1, 4096)
	b.SetBytes(4096)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		tmp := filepath.Join(dir, fmt.Sprint("tmp", i))
		f, err := os.Create(tmp)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, fmt.Sprint("obj", i))); err != nil {
			b.Fatal(err)
		}
	}
}

const largeSize = 256 << 20

// patternReader yields n bytes of a repeating pattern.
type patternReader struct {
	n   int64
	src []byte
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	n := copy(p, r.src)
	for n < len(p) && int64(n) < r.n {
		n += copy(p[n:], r.src)
	}
	n = int(min(int64(n), r.n))
	r.n -= int64(n)
	return n, nil
}

func BenchmarkPutLarge(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateBucket(Bucket{Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	src := pattern(5, 1<<20)
	b.SetBytes(largeSize)
	b.ResetTimer()
	for b.Loop() {
		blob, err := s.NewBlob()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(blob, &patternReader{n: largeSize, src: src}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.PutObject(ctx, "bench", &Object{Key: "large"}, blob, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBaselineLargeCopy(b *testing.B) {
	dir := b.TempDir()
	src := pattern(5, 1<<20)
	b.SetBytes(largeSize)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprint("large", i%2)))
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		if _, err := io.CopyBuffer(onlyWriter{f}, &patternReader{n: largeSize, src: src}, buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// onlyWriter hides *os.File's ReadFrom so the copy uses the given buffer.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
