package serve_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/server/servertest"
	"github.com/ossctl/ossctl/internal/store"
)

// The figures, each measured beside this machine's own limit in the
// same run and reported as a ratio. Run them with
//
//	go test ./internal/cmd/serve -run '^$' -bench . -benchtime 1x
//
// Sizes can be lowered for a quick look: -bench.size 256MiB -bench.stream 1GiB.

var (
	benchSize   = flag.String("bench.size", "1GiB", "object size for the single-stream PUT/GET figures")
	benchStream = flag.String("bench.stream", "5GiB", "object size for the resident-memory figure")
)

func parseSize(b *testing.B, s string) int64 {
	b.Helper()
	units := map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "": 1}
	for suf, mul := range units {
		if suf != "" && strings.HasSuffix(s, suf) {
			n, err := strconv.ParseInt(strings.TrimSuffix(s, suf), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n * mul
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		b.Fatalf("bad size %q", s)
	}
	return n
}

// benchServer starts a real serve process and returns it with a client
// whose CRC checking is off, so the client's hashing does not compete with
// the server for the machine's two cores.
func benchServer(b *testing.B) (*serveProc, *oss.Bucket, string) {
	b.Helper()
	dir := b.TempDir()
	p := startServe(b, dir, "OSSCTL_ROOT_ACCESS_KEY_ID="+testAK, "OSSCTL_ROOT_ACCESS_KEY_SECRET="+testSK)
	b.Cleanup(func() { p.stop(b) })
	c, err := oss.New(p.endpoint, testAK, testSK, oss.EnableCRC(false), oss.Timeout(10, 600))
	if err != nil {
		b.Fatal(err)
	}
	if err := c.CreateBucket("bench-bkt"); err != nil {
		b.Fatal(err)
	}
	bkt, _ := c.Bucket("bench-bkt")
	return p, bkt, dir
}

// randomFile writes n incompressible bytes to a file in dir.
func randomFile(b *testing.B, dir string, n int64) string {
	b.Helper()
	path := filepath.Join(dir, "src.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4<<20)
	_, _ = rand.Read(buf)
	for left := n; left > 0; {
		chunk := min(left, int64(len(buf)))
		buf[0]++ // vary blocks cheaply
		if _, err := f.Write(buf[:chunk]); err != nil {
			b.Fatal(err)
		}
		left -= chunk
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	return path
}

// rawCopyFsync copies src to a new file in the same directory and fsyncs it:
// the disk's own limit for a durable single-stream write.
func rawCopyFsync(b *testing.B, src string) time.Duration {
	b.Helper()
	start := time.Now()
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	dst := src + ".copy"
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyBuffer(out, in, make([]byte, 1<<20)); err != nil {
		b.Fatal(err)
	}
	if err := out.Sync(); err != nil {
		b.Fatal(err)
	}
	out.Close()
	d := time.Since(start)
	os.Remove(dst)
	return d
}

func mibps(n int64, d time.Duration) float64 { return float64(n) / (1 << 20) / d.Seconds() }

// BenchmarkPutSingleStream: one PUT of -bench.size vs a raw copy of the file
// with fsync on the same filesystem (target ratio ≥ 0.5).
func BenchmarkPutSingleStream(b *testing.B) {
	n := parseSize(b, *benchSize)
	_, bkt, dir := benchServer(b)
	src := randomFile(b, dir, n)
	var put, raw time.Duration
	for i := 0; i < b.N; i++ {
		raw += rawCopyFsync(b, src)
		start := time.Now()
		if err := bkt.PutObjectFromFile("big", src); err != nil {
			b.Fatal(err)
		}
		put += time.Since(start)
	}
	b.ReportMetric(mibps(n*int64(b.N), put), "put-MiB/s")
	b.ReportMetric(mibps(n*int64(b.N), raw), "rawcopy-MiB/s")
	b.ReportMetric(raw.Seconds()/put.Seconds(), "ratio")
}

// BenchmarkGetSingleStream: one GET of -bench.size vs a bare net/http
// handler streaming the same (page-cached) file over loopback (target ≥ 0.7).
func BenchmarkGetSingleStream(b *testing.B) {
	n := parseSize(b, *benchSize)
	_, bkt, dir := benchServer(b)
	src := randomFile(b, dir, n)
	if err := bkt.PutObjectFromFile("big", src); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, src)
	})}
	go bare.Serve(ln)
	defer bare.Close()
	buf := make([]byte, 1<<20)
	var get, ref time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			b.Fatal(err)
		}
		if m, err := io.CopyBuffer(io.Discard, resp.Body, buf); err != nil || m != n {
			b.Fatalf("bare GET: %d bytes, %v", m, err)
		}
		resp.Body.Close()
		ref += time.Since(start)

		start = time.Now()
		body, err := bkt.GetObject("big")
		if err != nil {
			b.Fatal(err)
		}
		if m, err := io.CopyBuffer(io.Discard, body, buf); err != nil || m != n {
			b.Fatalf("GET: %d bytes, %v", m, err)
		}
		body.Close()
		get += time.Since(start)
	}
	b.ReportMetric(mibps(n*int64(b.N), get), "get-MiB/s")
	b.ReportMetric(mibps(n*int64(b.N), ref), "barehttp-MiB/s")
	b.ReportMetric(ref.Seconds()/get.Seconds(), "ratio")
}

// BenchmarkPut4KiBConcurrent: 4 KiB PUTs from 32 concurrent clients vs
// single-threaded write+fsync+rename of 4 KiB files (target ≥ 2×, which
// group commit makes possible).
func BenchmarkPut4KiBConcurrent(b *testing.B) {
	_, bkt, dir := benchServer(b)
	data := make([]byte, 4<<10)
	_, _ = rand.Read(data)
	const clients, perClient = 32, 250
	var putOps, fileOps float64
	for i := 0; i < b.N; i++ {
		// baseline: the disk's durable small-file rate, single-threaded
		const files = 500
		start := time.Now()
		for j := 0; j < files; j++ {
			tmp := filepath.Join(dir, fmt.Sprintf("f%d.tmp", j))
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
			f.Close()
			if err := os.Rename(tmp, filepath.Join(dir, fmt.Sprintf("f%d", j))); err != nil {
				b.Fatal(err)
			}
		}
		fileOps += files / time.Since(start).Seconds()

		var failed atomic.Int64
		var wg sync.WaitGroup
		start = time.Now()
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < perClient; k++ {
					if err := bkt.PutObject(fmt.Sprintf("small/%d/%d/%d", i, c, k), bytes.NewReader(data)); err != nil {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if failed.Load() > 0 {
			b.Fatalf("%d PUTs failed", failed.Load())
		}
		putOps += clients * perClient / time.Since(start).Seconds()
	}
	b.ReportMetric(putOps/float64(b.N), "put-ops/s")
	b.ReportMetric(fileOps/float64(b.N), "fsync-ops/s")
	b.ReportMetric(putOps/fileOps, "ratio")
}

// zeroReader yields n pseudo-random bytes without holding them in memory.
type patternReader struct {
	left int64
	buf  []byte
	off  int
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.buf[r.off:])
		n += c
		r.off = (r.off + c) % len(r.buf)
	}
	r.left -= int64(n)
	return n, nil
}

// vmHWM is the peak resident set size of a process, in bytes.
func vmHWM(b *testing.B, pid int) int64 {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Skip("needs /proc")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	b.Fatal("no VmHWM")
	return 0
}

// BenchmarkServeMemoryStreaming: peak resident memory of serve while a
// -bench.stream object is uploaded and downloaded (target < 150 MiB).
func BenchmarkServeMemoryStreaming(b *testing.B) {
	n := parseSize(b, *benchStream)
	p, bkt, _ := benchServer(b)
	pat := make([]byte, 1<<20+7)
	_, _ = rand.Read(pat)
	for i := 0; i < b.N; i++ {
		if err := bkt.PutObject("stream", &patternReader{left: n, buf: pat}, oss.ContentLength(n)); err != nil {
			b.Fatal(err)
		}
		body, err := bkt.GetObject("stream")
		if err != nil {
			b.Fatal(err)
		}
		if m, err := io.Copy(io.Discard, body); err != nil || m != n {
			b.Fatalf("GET: %d bytes, %v", m, err)
		}
		body.Close()
	}
	b.ReportMetric(float64(vmHWM(b, p.cmd.Process.Pid))/(1<<20), "peak-RSS-MiB")
}

var benchListKeys = flag.Int("bench.listkeys", 1_000_000, "bucket size for BenchmarkListPage1000")

// BenchmarkListPage1000: one ListObjects page of 1,000 keys through the
// official SDK from a bucket of -bench.listkeys keys (target: under 20 ms,
// memory independent of bucket size). The bucket is filled through the
// store directly, in parallel, to keep the setup short.
func BenchmarkListPage1000(b *testing.B) {
	env := servertest.Start(b)
	st := env.Store
	if err := st.CreateBucket(store.Bucket{Name: "list-bkt", ACL: "private", StorageClass: "Standard", Owner: env.AccountID}); err != nil {
		b.Fatal(err)
	}
	n := *benchListKeys
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for w := 0; w < 256; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				blob, err := st.NewBlob()
				if err == nil {
					_, err = st.PutObject(context.Background(), "list-bkt",
						&store.Object{Key: fmt.Sprintf("dir%03d/obj%07d", i%1000, i), Type: store.TypeNormal, StorageClass: "Standard"}, blob, nil)
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	c, err := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret)
	if err != nil {
		b.Fatal(err)
	}
	bkt, _ := c.Bucket("list-bkt")
	// The raw variant measures the server and the wire alone (anonymous GET
	// on a public-read bucket); the SDK variant adds the client's XML parsing.
	if err := c.SetBucketACL("list-bkt", oss.ACLPublicRead); err != nil {
		b.Fatal(err)
	}
	marker := func(i int) string { return fmt.Sprintf("dir%03d/", (i*7919)%1000) }
	b.Run("http", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			resp, err := http.Get(env.Endpoint + "/list-bkt/?max-keys=1000&encoding-type=url&marker=" + marker(i))
			if err != nil {
				b.Fatal(err)
			}
			m, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || m < 100_000 {
				b.Fatalf("status %d, %d bytes", resp.StatusCode, m)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
	})
	b.Run("sdk", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			// a marker in the middle of the bucket: the page must not cost
			// more than a page, wherever it starts
			res, err := bkt.ListObjects(oss.Marker(marker(i)), oss.MaxKeys(1000))
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Objects) != 1000 && res.IsTruncated {
				b.Fatalf("page of %d objects", len(res.Objects))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
	})
}

// BenchmarkSSEPutGet: PUT and GET of one -bench.size object with SSE-OSS
// (AES256) against the same without encryption, in one run, through the
// official SDK against an in-process server (target: both ratios ≥ 0.8).
func BenchmarkSSEPutGet(b *testing.B) {
	n := parseSize(b, *benchSize)
	env := servertest.Start(b)
	c, err := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.CreateBucket("sse-bench"); err != nil {
		b.Fatal(err)
	}
	bk, _ := c.Bucket("sse-bench")
	seed := make([]byte, 1<<20+17)
	for i := range seed {
		seed[i] = byte(i * 7)
	}
	var put [2]time.Duration
	var get [2]time.Duration
	b.SetBytes(2 * n)
	b.ResetTimer()
	for range b.N {
		for mode, opts := range [][]oss.Option{nil, {oss.ServerSideEncryption("AES256")}} {
			key := fmt.Sprintf("obj-%d", mode)
			t0 := time.Now()
			if err := bk.PutObject(key, &patternReader{left: n, buf: seed}, opts...); err != nil {
				b.Fatal(err)
			}
			put[mode] += time.Since(t0)
			t0 = time.Now()
			r, err := bk.GetObject(key)
			if err != nil {
				b.Fatal(err)
			}
			got, err := io.Copy(io.Discard, r)
			r.Close()
			if err != nil || got != n {
				b.Fatalf("GET %s: %d bytes, %v", key, got, err)
			}
			get[mode] += time.Since(t0)
		}
	}
	total := n * int64(b.N)
	b.ReportMetric(mibps(total, put[1]), "sse-put-MiB/s")
	b.ReportMetric(mibps(total, put[0]), "plain-put-MiB/s")
	b.ReportMetric(put[0].Seconds()/put[1].Seconds(), "put-ratio")
	b.ReportMetric(mibps(total, get[1]), "sse-get-MiB/s")
	b.ReportMetric(mibps(total, get[0]), "plain-get-MiB/s")
	b.ReportMetric(get[0].Seconds()/get[1].Seconds(), "get-ratio")
}
