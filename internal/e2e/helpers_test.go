package e2e_test

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// The root AccessKey pair of every serve process these tests start.
const (
	testAK = "LTAIe2etransfer00001"
	testSK = "e2etransfersecret0000000000001"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// ossctlBinary builds ./cmd/ossctl once per test binary run (without -race: the processes
// under test run at full speed; the race detector covers the test's own code). The
// environment variable OSSCTL_E2E_BINARY names a prebuilt binary to use instead, e.g. a
// release build for the benchmarks.
func ossctlBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("OSSCTL_E2E_BINARY"); p != "" {
			binPath, buildErr = filepath.Abs(p)
			return
		}
		dir, err := os.MkdirTemp("", "ossctl-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ossctl")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/ossctl/ossctl/cmd/ossctl").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// TestMain removes the built binary after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" && os.Getenv("OSSCTL_E2E_BINARY") == "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// server is a running `ossctl serve`.
type server struct {
	cmd      *exec.Cmd
	endpoint string
	stderr   *syncBuffer
	done     chan error
}

var listenRE = regexp.MustCompile(`listening on (http://[0-9.:]+)`)

// startServe starts serve over a fresh data directory on a free loopback port, waits until it
// listens, and stops it (SIGTERM) when the test ends.
func startServe(t testing.TB) *server {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(ossctlBinary(t), "serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--log-level", "warn")
	cmd.Env = append(cleanEnv(), "OSSCTL_ROOT_ACCESS_KEY_ID="+testAK, "OSSCTL_ROOT_ACCESS_KEY_SECRET="+testSK)
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting serve: %v", err)
	}
	s := &server{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(errPipe)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			_, _ = s.stderr.Write([]byte(line + "\n"))
			if m := listenRE.FindStringSubmatch(line); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		_, _ = io.Copy(s.stderr, errPipe)
		s.done <- cmd.Wait()
	}()
	select {
	case s.endpoint = <-found:
	case err := <-s.done:
		t.Fatalf("serve exited before listening: %v\n%s", err, s.stderr.String())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("serve did not start within 30s\n%s", s.stderr.String())
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *server) stop(t testing.TB) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM\n%s", err, s.stderr.String())
		}
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Error("serve did not stop within 60s of SIGTERM")
	}
}

// client returns an official-SDK client of the server: the tests' independent view of what
// ossctl stored.
func (s *server) client(t testing.TB) *oss.Client {
	t.Helper()
	c, err := oss.New(s.endpoint, testAK, testSK, oss.Timeout(5, 120))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// bucket creates a bucket and returns its SDK handle.
func (s *server) bucket(t testing.TB, name string) *oss.Bucket {
	t.Helper()
	c := s.client(t)
	if err := c.CreateBucket(name); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	b, err := c.Bucket(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cleanEnv is the process environment without any OSS or ossctl setting, so that a developer's
// own configuration cannot leak into the processes under test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "OSS_"), strings.HasPrefix(k, "OSSCTL_"),
			k == "HOME", k == "XDG_CACHE_HOME", k == "XDG_CONFIG_HOME":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// cliEnv is the environment of an ossctl client process talking to s: credentials and endpoint
// from the environment, and a private home and cache directory.
func (s *server) cliEnv(home string) []string {
	return append(cleanEnv(),
		"HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"OSS_ENDPOINT="+s.endpoint, "OSS_ACCESS_KEY_ID="+testAK, "OSS_ACCESS_KEY_SECRET="+testSK)
}

// proc is a running ossctl client process.
type proc struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

// start runs `ossctl args...` against s in the background. stdin may be nil.
func (s *server) start(t testing.TB, home string, stdin io.Reader, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(ossctlBinary(t), args...)
	cmd.Env = s.cliEnv(home)
	cmd.Dir = home
	cmd.Stdin = stdin
	p := &proc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ossctl %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code (-1 when a signal killed it).
func (p *proc) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("ossctl %s did not finish within %v\nstderr:\n%s", strings.Join(p.cmd.Args[1:], " "), timeout, tail(p.stderr.String()))
	}
	return exitCode(p.err)
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig and waits for the process to be gone; it returns the exit code.
func (p *proc) signal(t testing.TB, sig syscall.Signal) int {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	return p.wait(t, 30*time.Second)
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -2
}

// run runs `ossctl args...` to completion and returns its exit code, stdout and stderr.
func (s *server) run(t testing.TB, home string, stdin io.Reader, args ...string) (int, []byte, string) {
	t.Helper()
	p := s.start(t, home, stdin, args...)
	code := p.wait(t, 2*time.Minute)
	return code, p.stdout.Bytes(), p.stderr.String()
}

// mustRun is run that fails the test unless ossctl exits 0.
func (s *server) mustRun(t testing.TB, home string, args ...string) ([]byte, string) {
	t.Helper()
	code, out, errOut := s.run(t, home, nil, args...)
	if code != 0 {
		t.Fatalf("ossctl %s: exit %d\nstderr:\n%s", strings.Join(args, " "), code, tail(errOut))
	}
	return out, errOut
}

// tail returns the last lines of a long log, for failure messages.
func tail(s string) string {
	const limit = 4000
	if len(s) <= limit {
		return s
	}
	return "..." + s[len(s)-limit:]
}

var crcTable = crc64.MakeTable(crc64.ECMA)

// digest is the MD5 (hex) and CRC-64/ECMA of some content.
type digest struct {
	MD5   string
	CRC64 uint64
	Size  int64
}

func (d digest) String() string {
	return fmt.Sprintf("md5 %s crc64 %d size %d", d.MD5, d.CRC64, d.Size)
}

func digestOf(r io.Reader) (digest, error) {
	m := md5.New()
	c := crc64.New(crcTable)
	n, err := io.CopyBuffer(io.MultiWriter(m, c), r, make([]byte, 1<<20))
	if err != nil {
		return digest{}, err
	}
	return digest{MD5: hex.EncodeToString(m.Sum(nil)), CRC64: c.Sum64(), Size: n}, nil
}

func fileDigest(t testing.TB, path string) digest {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := digestOf(f)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return d
}

// objectDigest reads an object through the official SDK and checks that the server's CRC-64
// header agrees with the bytes received.
func objectDigest(t testing.TB, b *oss.Bucket, key string) digest {
	t.Helper()
	h, err := b.GetObjectDetailedMeta(key)
	if err != nil {
		t.Fatalf("HEAD %s: %v", key, err)
	}
	body, err := b.GetObject(key)
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	defer body.Close()
	d, err := digestOf(body)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	if srv := h.Get("X-Oss-Hash-Crc64ecma"); srv != strconv.FormatUint(d.CRC64, 10) {
		t.Fatalf("%s: server CRC-64 %q, content %d", key, srv, d.CRC64)
	}
	return d
}

// randomFile writes size incompressible bytes to path and returns their digest.
func randomFile(t testing.TB, path string, size int64) digest {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	m := md5.New()
	c := crc64.New(crcTable)
	w := io.MultiWriter(f, m, c)
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		_, _ = rand.Read(buf[:n])
		if _, err := w.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		left -= n
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return digest{MD5: hex.EncodeToString(m.Sum(nil)), CRC64: c.Sum64(), Size: size}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// eventually polls cond every interval until it holds or timeout passes.
func eventually(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}

// ---- the --debug request log ----

// logRecord is one slog text record: key=value pairs, values possibly quoted.
type logRecord map[string]string

// parseLogLine parses a slog text-handler line. It returns nil for lines that are not records.
func parseLogLine(line string) logRecord {
	if !strings.HasPrefix(line, "time=") {
		return nil
	}
	rec := logRecord{}
	for i := 0; i < len(line); {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		eq := strings.IndexByte(line[i:], '=')
		if eq < 0 {
			break
		}
		key := line[i : i+eq]
		i += eq + 1
		var val string
		if i < len(line) && line[i] == '"' {
			// A Go-quoted string: find the closing quote, skipping escapes.
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(line) {
				return nil
			}
			v, err := strconv.Unquote(line[i : j+1])
			if err != nil {
				return nil
			}
			val, i = v, j+1
		} else {
			j := strings.IndexByte(line[i:], ' ')
			if j < 0 {
				j = len(line) - i
			}
			val, i = line[i:i+j], i+j
		}
		rec[key] = val
	}
	return rec
}

// httpExchange is one request of the --debug log with its response status.
type httpExchange struct {
	Method string
	URL    string
	Status int // 0 when the request failed without a response
	Range  string
	Length int64 // request Content-Length
}

// query returns a query parameter of the exchange's URL.
func (e httpExchange) query(name string) string {
	_, q, _ := strings.Cut(e.URL, "?")
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if k == name {
			return v
		}
	}
	return ""
}

func (e httpExchange) hasQuery(name string) bool {
	_, q, _ := strings.Cut(e.URL, "?")
	for _, kv := range strings.Split(q, "&") {
		if k, _, _ := strings.Cut(kv, "="); k == name {
			return true
		}
	}
	return false
}

// exchanges pairs the "http request" and "http response" records of a --debug log. Records of
// concurrent requests interleave, so a response is matched to the oldest open request with the
// same method and URL (requests with equal method and URL are interchangeable here).
func exchanges(log string) []httpExchange {
	var out []httpExchange
	open := map[string][]int{}
	for _, line := range strings.Split(log, "\n") {
		rec := parseLogLine(line)
		if rec == nil {
			continue
		}
		id := rec["method"] + " " + rec["url"]
		switch rec["msg"] {
		case "http request":
			n, _ := strconv.ParseInt(rec["req.content-length"], 10, 64)
			out = append(out, httpExchange{Method: rec["method"], URL: rec["url"], Range: rec["req.range"], Length: n})
			open[id] = append(open[id], len(out)-1)
		case "http response", "http error":
			if q := open[id]; len(q) > 0 {
				if st, err := strconv.Atoi(rec["status"]); err == nil {
					out[q[0]].Status = st
				}
				open[id] = q[1:]
			}
		}
	}
	return out
}

// uploadParts returns the part numbers of the successful UploadPart (or UploadPartCopy)
// requests in a --debug log, one entry per request, and the bytes they sent.
func uploadParts(log string) (nums []int, sent int64) {
	for _, e := range exchanges(log) {
		if e.Method != "PUT" || !e.hasQuery("partNumber") || e.Status != 200 {
			continue
		}
		n, _ := strconv.Atoi(e.query("partNumber"))
		nums = append(nums, n)
		sent += e.Length
	}
	return nums, sent
}

var rangeRE = regexp.MustCompile(`^bytes=(\d+)-(\d+)$`)

// rangedGets returns the [first,last] byte ranges of the successful ranged GETs in a --debug log.
func rangedGets(t testing.TB, log string) [][2]int64 {
	t.Helper()
	var out [][2]int64
	for _, e := range exchanges(log) {
		if e.Method != "GET" || e.Range == "" || e.Status/100 != 2 {
			continue
		}
		m := rangeRE.FindStringSubmatch(e.Range)
		if m == nil {
			t.Fatalf("unexpected Range %q", e.Range)
		}
		a, _ := strconv.ParseInt(m[1], 10, 64)
		b, _ := strconv.ParseInt(m[2], 10, 64)
		out = append(out, [2]int64{a, b})
	}
	return out
}

// ---- checkpoints ----

// checkpointFile is the part of a checkpoint's JSON that these tests look at.
type checkpointFile struct {
	Kind     string `json:"kind"`
	UploadID string `json:"uploadId"`
	TempFile string `json:"tempFile"`
	PartSize int64  `json:"partSize"`
	Parts    []struct {
		Number int   `json:"n"`
		Size   int64 `json:"size"`
	} `json:"parts"`
}

// readCheckpoint reads the one checkpoint of kind in dir; ok is false when there is none yet
// (or it is being replaced at this moment).
func readCheckpoint(t testing.TB, dir, kind string) (checkpointFile, bool) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, kind+"-*.json"))
	if len(matches) == 0 {
		return checkpointFile{}, false
	}
	if len(matches) > 1 {
		t.Fatalf("more than one %s checkpoint in %s: %v", kind, dir, matches)
	}
	data, err := os.ReadFile(matches[0])
	if err != nil {
		return checkpointFile{}, false
	}
	var cp checkpointFile
	if err := json.Unmarshal(data, &cp); err != nil {
		// Saves are atomic renames, so a file that exists is whole.
		t.Fatalf("checkpoint %s is not valid JSON: %v\n%s", matches[0], err, data)
	}
	return cp, true
}

func (c checkpointFile) partSet() map[int]bool {
	m := map[int]bool{}
	for _, p := range c.Parts {
		m[p.Number] = true
	}
	return m
}

// serverParts lists the parts the server holds for an upload.
func serverParts(t testing.TB, b *oss.Bucket, key, uploadID string) map[int]int64 {
	t.Helper()
	imur := oss.InitiateMultipartUploadResult{Bucket: b.BucketName, Key: key, UploadID: uploadID}
	parts := map[int]int64{}
	marker := 0
	for {
		res, err := b.ListUploadedParts(imur, oss.PartNumberMarker(marker))
		if err != nil {
			t.Fatalf("ListUploadedParts %s: %v", key, err)
		}
		for _, p := range res.UploadedParts {
			parts[p.PartNumber] = int64(p.Size)
		}
		if !res.IsTruncated {
			return parts
		}
		marker, _ = strconv.Atoi(res.NextPartNumberMarker)
	}
}

// uploadsOf lists the incomplete multipart uploads of key.
func uploadsOf(t testing.TB, b *oss.Bucket, key string) []oss.UncompletedUpload {
	t.Helper()
	res, err := b.ListMultipartUploads(oss.Prefix(key))
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	var out []oss.UncompletedUpload
	for _, u := range res.Uploads {
		if u.Key == key {
			out = append(out, u)
		}
	}
	return out
}
