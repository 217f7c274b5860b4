package e2e_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/dustin/go-humanize"
)

// The transfer issue's figures, each measured beside its reference in the same run and
// reported as a ratio (b.ReportMetric). They are benchmarks, not CI tests: run them with
//
//	go test ./internal/e2e -run '^$' -bench . -benchtime 1x -timeout 2h
//
// and lower the sizes for a quick look, with flags or the environment:
//
//	-e2e.big 512MiB     (OSSCTL_E2E_BIG, default 2GiB)    large-file cp, resumed upload
//	-e2e.files 2000     (OSSCTL_E2E_FILES, default 10000) cp -r of 4 KiB files
//	-e2e.jobs 16        (OSSCTL_E2E_JOBS, default 16)     cp -j and bench --concurrency
//	-e2e.mem 2GiB       (OSSCTL_E2E_MEM, default 10GiB)   peak-memory file
//
// Every file is real, incompressible data on disk (no sparse files), in the test's temporary
// directory, on the same filesystem as the serve data directory. OSSCTL_E2E_BINARY selects a
// prebuilt ossctl instead of building one.
var (
	benchBig   = flag.String("e2e.big", envOr("OSSCTL_E2E_BIG", "2GiB"), "file size of the large-file cp and resumed-upload benchmarks")
	benchFiles = flag.Int("e2e.files", envInt("OSSCTL_E2E_FILES", 10000), "number of 4 KiB files in the cp -r benchmark")
	benchJobs  = flag.Int("e2e.jobs", envInt("OSSCTL_E2E_JOBS", 16), "cp -j and bench --concurrency of the many-files benchmark")
	benchMem   = flag.String("e2e.mem", envOr("OSSCTL_E2E_MEM", "10GiB"), "file size of the peak-memory benchmark")
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func sizeFlag(b *testing.B, s string) int64 {
	b.Helper()
	n, err := humanize.ParseBytes(s)
	if err != nil || n == 0 {
		b.Fatalf("bad size %q: %v", s, err)
	}
	return int64(n)
}

// fillFile writes size bytes of incompressible pseudo-random data (ChaCha8) to path and
// fsyncs it, so that the benchmark starts with the data on disk.
func fillFile(b *testing.B, path string, size int64) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(time.Now().UnixNano()))
	rng := rand.NewChaCha8(seed)
	buf := make([]byte, 4<<20)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		_, _ = rng.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			b.Fatal(err)
		}
		left -= n
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// rawCopy copies src to dst with a 1 MiB buffer and fsyncs dst: the filesystem's own speed
// for a durable single-stream copy, the reference of the large-file figures.
func rawCopy(b *testing.B, src, dst string) time.Duration {
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
	if _, err := io.CopyBuffer(out, in, make([]byte, 1<<20)); err != nil {
		b.Fatal(err)
	}
	if err := out.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// timedRun runs ossctl to completion, fails the benchmark unless it exits 0, and returns how
// long it took and the finished process.
func (s *server) timedRun(b *testing.B, home string, args ...string) (time.Duration, *proc) {
	b.Helper()
	start := time.Now()
	p := s.start(b, home, nil, args...)
	if code := p.wait(b, 2*time.Hour); code != 0 {
		b.Fatalf("ossctl %v: exit %d\n%s", args, code, tail(p.stderr.String()))
	}
	return time.Since(start), p
}

// maxRSS is the peak resident set size of a finished process, in bytes (getrusage's ru_maxrss,
// which Linux reports in KiB).
func (p *proc) maxRSS() int64 {
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10
	}
	return -1
}

func mibps(n int64, d time.Duration) float64 { return float64(n) / (1 << 20) / d.Seconds() }

// BenchmarkCpLargeFile: `ossctl cp` of one large file (default settings) to a serve process on
// this machine and back, each way against a raw copy of the file with fsync on the same
// filesystem. Target: ratio ≥ 0.6 each way.
func BenchmarkCpLargeFile(b *testing.B) {
	size := sizeFlag(b, *benchBig)
	s := startServe(b)
	bkt := s.bucket(b, "bench-large")
	home := b.TempDir()
	src := filepath.Join(home, "big.bin")
	fillFile(b, src, size)
	want := fileDigest(b, src)
	dst := filepath.Join(home, "back.bin")
	var up, down, raw time.Duration
	var rss int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		raw += rawCopy(b, src, filepath.Join(home, "raw.bin"))
		_ = os.Remove(filepath.Join(home, "raw.bin"))
		d, p := s.timedRun(b, home, "cp", "-f", src, "oss://bench-large/big.bin")
		up += d
		rss = max(rss, p.maxRSS())
		d, p = s.timedRun(b, home, "cp", "-f", "oss://bench-large/big.bin", dst)
		down += d
		rss = max(rss, p.maxRSS())
		b.StopTimer()
		if got := fileDigest(b, dst); got != want {
			b.Fatalf("downloaded %v, uploaded %v", got, want)
		}
		_ = os.Remove(dst)
		b.StartTimer()
	}
	if got := objectDigest(b, bkt, "big.bin"); got != want {
		b.Fatalf("object %v, file %v", got, want)
	}
	n := size * int64(b.N)
	b.ReportMetric(mibps(n, up), "up-MiB/s")
	b.ReportMetric(mibps(n, down), "down-MiB/s")
	b.ReportMetric(mibps(n, raw), "rawcopy-MiB/s")
	b.ReportMetric(raw.Seconds()/up.Seconds(), "up-ratio")
	b.ReportMetric(raw.Seconds()/down.Seconds(), "down-ratio")
	b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
}

// benchPutResult is the part of `ossctl bench put --output json` used here.
type benchPutResult struct {
	Concurrency int `json:"concurrency"`
	Operations  []struct {
		Op        string  `json:"op"`
		Ops       int64   `json:"ops"`
		Errors    int64   `json:"errors"`
		OpsPerSec float64 `json:"opsPerSec"`
	} `json:"operations"`
}

// BenchmarkCpManySmallFiles: `ossctl cp -r -j J` of a tree of 4 KiB files in files per second,
// against `ossctl bench put --size 4KiB --concurrency J` ops/s on the same server in the same
// run. Target: ratio ≥ 0.5. "ratio" is cp's default invocation (a HEAD per file to protect
// existing objects, then the PUT); "ratio-force" is cp -f (PUT only).
func BenchmarkCpManySmallFiles(b *testing.B) {
	files, jobs := *benchFiles, *benchJobs
	s := startServe(b)
	s.bucket(b, "bench-small")
	home := b.TempDir()
	tree := filepath.Join(home, "tree")
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 4<<10)
	for i := range files {
		dir := filepath.Join(tree, fmt.Sprintf("d%03d", i/100))
		if i%100 == 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		for j := range buf {
			buf[j] = byte(rng.Uint32())
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d.bin", i)), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	j := strconv.Itoa(jobs)
	var cpTime, forceTime time.Duration
	var benchOps float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, p := s.timedRun(b, home, "cp", "-r", "-j", j, tree, fmt.Sprintf("oss://bench-small/run%d/", i), "--output", "json")
		cpTime += d
		checkSummary(b, p.stdout.Bytes(), files)
		d, p = s.timedRun(b, home, "cp", "-r", "-f", "-j", j, tree, fmt.Sprintf("oss://bench-small/force%d/", i), "--output", "json")
		forceTime += d
		checkSummary(b, p.stdout.Bytes(), files)
		_, p = s.timedRun(b, home, "bench", "put", "--size", "4KiB", "--concurrency", j,
			"--objects", strconv.Itoa(files), "--output", "json")
		var res benchPutResult
		if err := json.Unmarshal(p.stdout.Bytes(), &res); err != nil || len(res.Operations) != 1 || res.Operations[0].Op != "put" {
			b.Fatalf("bench put output (%v):\n%s", err, p.stdout.Bytes())
		}
		if res.Operations[0].Errors != 0 || res.Concurrency != jobs {
			b.Fatalf("bench put: %d errors, concurrency %d", res.Operations[0].Errors, res.Concurrency)
		}
		benchOps += res.Operations[0].OpsPerSec
	}
	n := float64(files * b.N)
	cpRate, forceRate, putRate := n/cpTime.Seconds(), n/forceTime.Seconds(), benchOps/float64(b.N)
	b.ReportMetric(cpRate, "cp-files/s")
	b.ReportMetric(forceRate, "cp-f-files/s")
	b.ReportMetric(putRate, "benchput-ops/s")
	b.ReportMetric(cpRate/putRate, "ratio")
	b.ReportMetric(forceRate/putRate, "ratio-force")
}

// checkSummary checks the summary line of a cp --output json run: every file done.
func checkSummary(b *testing.B, out []byte, files int) {
	b.Helper()
	var last []byte
	for line := range bytes.Lines(out) {
		if l := bytes.TrimSpace(line); len(l) > 0 {
			last = l
		}
	}
	var sum struct {
		Event  string `json:"event"`
		Done   int    `json:"done"`
		Failed int    `json:"failed"`
	}
	if err := json.Unmarshal(last, &sum); err != nil || sum.Event != "summary" || sum.Done != files || sum.Failed != 0 {
		b.Fatalf("cp summary %s (%v), want %d done", last, err, files)
	}
}

// BenchmarkResumedUpload: an upload of a large file (default settings) killed with SIGKILL
// once about half of its parts are on the server, then run again: bytes sent by the second
// run (UploadPart bodies, from its --debug request log) over the file size. Target ≤ 0.55.
func BenchmarkResumedUpload(b *testing.B) {
	size := sizeFlag(b, *benchBig)
	s := startServe(b)
	bkt := s.bucket(b, "bench-resume")
	home := b.TempDir()
	src := filepath.Join(home, "big.bin")
	fillFile(b, src, size)
	want := fileDigest(b, src)
	var sentTotal, doneAtKill int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key := fmt.Sprintf("big-%d.bin", i)
		ck := filepath.Join(home, fmt.Sprintf("ck%d", i))
		args := []string{"cp", src, "oss://bench-resume/" + key, "--checkpoint-dir", ck}
		p := s.start(b, home, nil, args...)
		var partSize int64
		var total int
		for {
			if p.exited() {
				b.Fatalf("upload finished before half of it was done; use a larger -e2e.big")
			}
			if cp, ok := readCheckpoint(b, ck, "upload"); ok && cp.PartSize > 0 {
				partSize = cp.PartSize
				total = int((size + partSize - 1) / partSize)
				if len(serverParts(b, bkt, key, cp.UploadID)) >= total/2 {
					break
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		if code := p.signal(b, syscall.SIGKILL); code != -1 {
			b.Fatalf("cp exit %d, want death by SIGKILL", code)
		}
		cp, _ := readCheckpoint(b, ck, "upload")
		for _, part := range cp.Parts {
			doneAtKill += part.Size
		}
		_, p = s.timedRun(b, home, append(args, "--debug")...)
		_, sent := uploadParts(p.stderr.String())
		sentTotal += sent
		b.StopTimer()
		if got := objectDigest(b, bkt, key); got != want {
			b.Fatalf("object %v, file %v", got, want)
		}
		b.StartTimer()
	}
	n := float64(size * int64(b.N))
	b.ReportMetric(float64(doneAtKill)/n, "checkpointed-at-kill")
	b.ReportMetric(float64(sentTotal)/n, "ratio")
}

// BenchmarkCpPeakMemory: peak resident memory (ru_maxrss) of `ossctl cp` with default settings
// uploading and downloading one large file. Target < 200 MiB.
func BenchmarkCpPeakMemory(b *testing.B) {
	size := sizeFlag(b, *benchMem)
	s := startServe(b)
	bkt := s.bucket(b, "bench-mem")
	home := b.TempDir()
	src := filepath.Join(home, "huge.bin")
	fillFile(b, src, size)
	var upRSS, downRSS int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, p := s.timedRun(b, home, "cp", "-f", src, "oss://bench-mem/huge.bin")
		upRSS = max(upRSS, p.maxRSS())
		_, p = s.timedRun(b, home, "cp", "-f", "oss://bench-mem/huge.bin", filepath.Join(home, "back.bin"))
		downRSS = max(downRSS, p.maxRSS())
		b.StopTimer()
		fi, err := os.Stat(filepath.Join(home, "back.bin"))
		if err != nil || fi.Size() != size {
			b.Fatalf("downloaded file: %v, %v", fi, err)
		}
		_ = os.Remove(filepath.Join(home, "back.bin"))
		b.StartTimer()
	}
	h, err := bkt.GetObjectDetailedMeta("huge.bin")
	if err != nil || h.Get("Content-Length") != strconv.FormatInt(size, 10) {
		b.Fatalf("object after upload: %v %v", h, err)
	}
	b.ReportMetric(float64(upRSS)/(1<<20), "upload-peak-MiB")
	b.ReportMetric(float64(downRSS)/(1<<20), "download-peak-MiB")
	b.ReportMetric(float64(max(upRSS, downRSS))/(1<<20), "peak-MiB")
}
