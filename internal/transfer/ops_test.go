package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/server/servertest"
)

// recorder is an http.RoundTripper that counts requests by kind and the bytes sent and
// received, and lets a test inject faults.
type recorder struct {
	mu     sync.Mutex
	counts map[string]int
	// sent counts request body bytes; recv response body bytes.
	sent, recv atomic.Int64
	// after is called after each successful response with the kind and its running count.
	after func(kind string, n int)
	// fault may replace a response or fail a request (return nil, nil to pass through).
	fault func(kind string, n int, req *http.Request) (*http.Response, error)
	// mangleReq and mangleResp may corrupt bodies.
	mangleReq  func(kind string, body []byte)
	mangleResp func(kind string, body []byte)
}

func kindOf(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPut && q.Has("partNumber") && r.Header.Get("X-Oss-Copy-Source") != "":
		return "UploadPartCopy"
	case r.Method == http.MethodPut && q.Has("partNumber"):
		return "UploadPart"
	case r.Method == http.MethodPut && r.Header.Get("X-Oss-Copy-Source") != "":
		return "CopyObject"
	case r.Method == http.MethodPut:
		return "PutObject"
	case r.Method == http.MethodPost && q.Has("uploads"):
		return "Initiate"
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return "Complete"
	case r.Method == http.MethodGet && q.Has("uploadId"):
		return "ListParts"
	case r.Method == http.MethodGet && r.Header.Get("Range") != "":
		return "RangeGet"
	case r.Method == http.MethodGet:
		return "Get"
	case r.Method == http.MethodHead:
		return "Head"
	case r.Method == http.MethodDelete:
		return "Delete"
	}
	return r.Method
}

func (rc *recorder) count(kind string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.counts[kind]
}

func (rc *recorder) reset() {
	rc.mu.Lock()
	rc.counts = nil
	rc.mu.Unlock()
	rc.sent.Store(0)
	rc.recv.Store(0)
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (rc *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	kind := kindOf(r)
	rc.mu.Lock()
	if rc.counts == nil {
		rc.counts = map[string]int{}
	}
	rc.counts[kind]++
	n := rc.counts[kind]
	rc.mu.Unlock()
	if rc.fault != nil {
		if resp, err := rc.fault(kind, n, r); resp != nil || err != nil {
			if r.Body != nil {
				_ = r.Body.Close()
			}
			return resp, err
		}
	}
	if r.Body != nil && r.Body != http.NoBody {
		if rc.mangleReq != nil {
			data, err := io.ReadAll(r.Body)
			_ = r.Body.Close()
			if err != nil {
				return nil, err
			}
			rc.mangleReq(kind, data)
			r.Body = io.NopCloser(bytes.NewReader(data))
		}
		r.Body = &countingBody{ReadCloser: r.Body, n: &rc.sent}
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if rc.mangleResp != nil && resp.StatusCode/100 == 2 {
		data, rerr := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if rerr != nil {
			return nil, rerr
		}
		rc.mangleResp(kind, data)
		resp.Body = io.NopCloser(bytes.NewReader(data))
	}
	resp.Body = &countingBody{ReadCloser: resp.Body, n: &rc.recv}
	if resp.StatusCode/100 == 2 && rc.after != nil {
		rc.after(kind, n)
	}
	return resp, nil
}

type opsFixture struct {
	env    *servertest.Env
	plain  *oss.Client
	rec    *recorder
	client *oss.Client
	dir    string
	warns  []string
	wmu    sync.Mutex
}

func newOps(t testing.TB) *opsFixture {
	t.Helper()
	env := servertest.Start(t)
	plain, err := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret, oss.EnableCRC(false))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"bkt1", "bkt2"} {
		if err := plain.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	client, err := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret, oss.HTTPClient(&http.Client{Transport: rec}), oss.EnableCRC(false))
	if err != nil {
		t.Fatal(err)
	}
	return &opsFixture{env: env, plain: plain, rec: rec, client: client, dir: t.TempDir()}
}

func (fx *opsFixture) cfg() *Config {
	return &Config{Client: fx.client, Threshold: 2 * MinPartSize, PartSize: MinPartSize, Parallel: 3,
		CheckpointDir: filepath.Join(fx.dir, "cp"), Retry: Retry{Attempts: 3, Base: time.Millisecond, Max: 5 * time.Millisecond},
		Warn: func(s string) { fx.wmu.Lock(); fx.warns = append(fx.warns, s); fx.wmu.Unlock() }}
}

func (fx *opsFixture) warnings() string {
	fx.wmu.Lock()
	defer fx.wmu.Unlock()
	return strings.Join(fx.warns, "\n")
}

func randData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed*7+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func crcOf(b []byte) string {
	return strconv.FormatUint(crc64.Checksum(b, crc64.MakeTable(crc64.ECMA)), 10)
}

func (fx *opsFixture) get(t *testing.T, bucket, key string) []byte {
	t.Helper()
	b, _ := fx.plain.Bucket(bucket)
	r, err := b.GetObject(key)
	if err != nil {
		t.Fatalf("GetObject %s: %v", key, err)
	}
	defer r.Close()
	data, _ := io.ReadAll(r)
	return data
}

func (fx *opsFixture) exists(t *testing.T, bucket, key string) bool {
	t.Helper()
	b, _ := fx.plain.Bucket(bucket)
	ok, err := b.IsObjectExist(key)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func (fx *opsFixture) uploads(t *testing.T, bucket string) int {
	t.Helper()
	b, _ := fx.plain.Bucket(bucket)
	res, err := b.ListMultipartUploads()
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Uploads)
}

func (fx *opsFixture) checkpoint(t *testing.T, cfg *Config) (*Checkpoint, string) {
	t.Helper()
	ents, _ := os.ReadDir(cfg.CheckpointDir)
	var files []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".tmp") {
			files = append(files, e.Name())
		}
	}
	if len(files) != 1 {
		t.Fatalf("checkpoint files: %v", files)
	}
	p := filepath.Join(cfg.CheckpointDir, files[0])
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var cp Checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		t.Fatalf("checkpoint is not JSON: %v", err)
	}
	return &cp, p
}

func noCheckpoints(t *testing.T, cfg *Config) {
	t.Helper()
	if ents, _ := os.ReadDir(cfg.CheckpointDir); len(ents) != 0 {
		t.Errorf("checkpoints left behind: %v", ents)
	}
}

// cancelAfter returns a context canceled once n responses of kind have arrived.
func (fx *opsFixture) cancelAfter(kind string, n int) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	fx.rec.after = func(k string, c int) {
		if k == kind && c >= n {
			cancel()
		}
	}
	return ctx
}

func TestUploadResumesWithoutResendingParts(t *testing.T) {
	fx := newOps(t)
	const parts = 10
	data := randData(parts*MinPartSize-777, 1)
	src := filepath.Join(fx.dir, "big.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fx.cfg()
	u := Upload{LocalPath: src, Bucket: "bkt1", Key: "big.bin", Headers: Headers{Meta: map[string]string{"k": "v"}}}
	acc := &Accounter{}
	_, err := cfg.Upload(fx.cancelAfter("UploadPart", 4), u, acc.Listener())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted upload: %v, want context.Canceled", err)
	}
	cp, _ := fx.checkpoint(t, cfg)
	done := len(cp.Parts)
	// Four part responses arrived before the cancel; a part whose response
	// raced the cancellation may not be recorded (it is sent again), so at
	// least 4-(Parallel-1) parts are in the checkpoint.
	if done < 4-(cfg.Parallel-1) || done >= parts || cp.UploadID == "" || cp.Size != int64(len(data)) || cp.Kind != "upload" {
		t.Fatalf("checkpoint after interruption: %d parts, %+v", done, cp)
	}
	if fx.exists(t, "bkt1", "big.bin") {
		t.Fatal("object exists after an interrupted upload")
	}

	fx.rec.after = nil
	fx.rec.reset()
	l := acc.Listener()
	res, err := cfg.Upload(context.Background(), u, l)
	if err != nil {
		t.Fatal(err)
	}
	if got := fx.rec.count("UploadPart"); got != parts-done {
		t.Errorf("resumed upload sent %d parts, want the %d missing", got, parts-done)
	}
	if fx.rec.count("Initiate") != 0 {
		t.Error("resumed upload started a new multipart upload")
	}
	if sent := fx.rec.sent.Load(); sent > int64(parts-done)*MinPartSize+4096 {
		t.Errorf("resumed upload sent %d bytes, more than the missing parts", sent)
	}
	if res.CRC64 != crcOf(data) || res.Size != int64(len(data)) {
		t.Errorf("result %+v, want CRC %s", res, crcOf(data))
	}
	if !bytes.Equal(fx.get(t, "bkt1", "big.bin"), data) {
		t.Fatal("resumed upload corrupted the object")
	}
	if l.Consumed() != int64(len(data)) {
		t.Errorf("progress %d, want %d (resumed parts counted)", l.Consumed(), len(data))
	}
	b, _ := fx.plain.Bucket("bkt1")
	if h, _ := b.GetObjectDetailedMeta("big.bin"); h.Get("X-Oss-Meta-K") != "v" || h.Get("X-Oss-Object-Type") != "Multipart" {
		t.Errorf("headers %v", h)
	}
	noCheckpoints(t, cfg)
	if fx.uploads(t, "bkt1") != 0 {
		t.Error("multipart uploads left")
	}
}

func TestUploadChangedSourceRestarts(t *testing.T) {
	fx := newOps(t)
	data := randData(6*MinPartSize, 2)
	src := filepath.Join(fx.dir, "f.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fx.cfg()
	cfg.Parallel = 1
	u := Upload{LocalPath: src, Bucket: "bkt1", Key: "f.bin"}
	if _, err := cfg.Upload(fx.cancelAfter("UploadPart", 2), u, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted upload: %v", err)
	}
	data2 := randData(6*MinPartSize+5, 3)
	if err := os.WriteFile(src, data2, 0o644); err != nil {
		t.Fatal(err)
	}
	fx.rec.after = nil
	fx.rec.reset()
	if _, err := cfg.Upload(context.Background(), u, nil); err != nil {
		t.Fatal(err)
	}
	if got := fx.rec.count("UploadPart"); got != 7 {
		t.Errorf("restarted upload sent %d parts, want all 7", got)
	}
	if !strings.Contains(fx.warnings(), "changed since the interrupted transfer") {
		t.Errorf("no warning about the changed source: %q", fx.warnings())
	}
	if !bytes.Equal(fx.get(t, "bkt1", "f.bin"), data2) {
		t.Fatal("object is not the new content")
	}
	if fx.uploads(t, "bkt1") != 0 {
		t.Error("the stale upload was not aborted")
	}
}

func TestCorruptCheckpointRestartsCleanly(t *testing.T) {
	fx := newOps(t)
	data := randData(5*MinPartSize, 4)
	src := filepath.Join(fx.dir, "f.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fx.cfg()
	u := Upload{LocalPath: src, Bucket: "bkt1", Key: "f.bin"}
	if _, err := cfg.Upload(fx.cancelAfter("UploadPart", 1), u, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted upload: %v", err)
	}
	cp, path := fx.checkpoint(t, cfg)
	if cp.UploadID == "" || fx.uploads(t, "bkt1") != 1 {
		t.Fatalf("interrupted upload left upload id %q, %d uploads", cp.UploadID, fx.uploads(t, "bkt1"))
	}
	// Truncated mid-file (a disk problem): no longer JSON, but the upload id is still legible.
	data2, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data2, []byte(`"parts"`))
	if i < 0 {
		t.Fatalf("checkpoint %s has no parts: %s", path, data2)
	}
	if err := os.WriteFile(path, append(data2[:i:i], `"par`...), 0o600); err != nil {
		t.Fatal(err)
	}
	fx.rec.after = nil
	if _, err := cfg.Upload(context.Background(), u, nil); err != nil {
		t.Fatal(err)
	}
	if w := fx.warnings(); !strings.Contains(w, "is corrupt") || !strings.Contains(w, path) {
		t.Errorf("warning %q does not name the corrupt checkpoint", w)
	}
	if n := fx.uploads(t, "bkt1"); n != 0 {
		t.Errorf("%d multipart uploads left behind: the corrupt checkpoint's upload was not aborted", n)
	}
	if !bytes.Equal(fx.get(t, "bkt1", "f.bin"), data) {
		t.Fatal("content differs")
	}
	noCheckpoints(t, cfg)
}

func TestDownloadResumes(t *testing.T) {
	fx := newOps(t)
	const parts = 8
	data := randData(parts*MinPartSize-100, 5)
	b, _ := fx.plain.Bucket("bkt1")
	if err := b.PutObject("big", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	cfg := fx.cfg()
	dst := filepath.Join(fx.dir, "out", "big")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	d := Download{Bucket: "bkt1", Key: "big", LocalPath: dst, Size: int64(len(data))}
	if _, err := cfg.Download(fx.cancelAfter("RangeGet", 3), d, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted download: %v", err)
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("final file exists after an interrupted download: %v", err)
	}
	cp, _ := fx.checkpoint(t, cfg)
	if _, err := os.Stat(cp.TempFile); err != nil {
		t.Fatalf("temporary file not kept: %v", err)
	}
	done := len(cp.Parts)
	fx.rec.after = nil
	fx.rec.reset()
	res, err := cfg.Download(context.Background(), d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fx.rec.count("RangeGet"); got != parts-done {
		t.Errorf("resumed download fetched %d ranges, want the %d missing", got, parts-done)
	}
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, data) || res.CRC64 != crcOf(data) {
		t.Fatalf("resumed download differs (err %v, crc %s)", err, res.CRC64)
	}
	if ents, _ := os.ReadDir(filepath.Dir(dst)); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	noCheckpoints(t, cfg)
	// The file carries the object's modification time.
	h, _ := b.GetObjectDetailedMeta("big")
	lm, _ := http.ParseTime(h.Get("Last-Modified"))
	if fi, _ := os.Stat(dst); !fi.ModTime().Equal(lm) {
		t.Errorf("mtime %v, want %v", fi.ModTime(), lm)
	}
}

func TestCopyMultipartResumesAcrossBuckets(t *testing.T) {
	fx := newOps(t)
	const parts = 6
	data := randData(parts*MinPartSize, 6)
	b, _ := fx.plain.Bucket("bkt1")
	if err := b.PutObject("src", bytes.NewReader(data), oss.ContentType("image/png"), oss.Meta("m", "1")); err != nil {
		t.Fatal(err)
	}
	cfg := fx.cfg()
	info, _, err := HeadObject(context.Background(), b, "src")
	if err != nil {
		t.Fatal(err)
	}
	cp := Copy{SrcBucket: "bkt1", SrcKey: "src", DstBucket: "bkt2", DstKey: "dst", SrcHeader: info.Header}
	if _, err := cfg.Copy(fx.cancelAfter("UploadPartCopy", 2), cp, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted copy: %v", err)
	}
	ck, _ := fx.checkpoint(t, cfg)
	done := len(ck.Parts)
	fx.rec.after = nil
	fx.rec.reset()
	res, err := cfg.Copy(context.Background(), cp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fx.rec.count("UploadPartCopy"); got != parts-done {
		t.Errorf("resumed copy sent %d parts, want %d", got, parts-done)
	}
	if fx.rec.sent.Load() > 64<<10 {
		t.Errorf("server-side copy sent %d bytes of data", fx.rec.sent.Load())
	}
	if !bytes.Equal(fx.get(t, "bkt2", "dst"), data) || res.CRC64 != crcOf(data) {
		t.Fatal("copy differs")
	}
	b2, _ := fx.plain.Bucket("bkt2")
	if h, _ := b2.GetObjectDetailedMeta("dst"); h.Get("Content-Type") != "image/png" || h.Get("X-Oss-Meta-M") != "1" {
		t.Errorf("multipart copy lost headers: %v", h)
	}
	noCheckpoints(t, cfg)
}

func TestUploadCRCMismatchLeavesNothing(t *testing.T) {
	for _, size := range []int{1000, 5 * MinPartSize} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			fx := newOps(t)
			data := randData(size, 7)
			src := filepath.Join(fx.dir, "f.bin")
			if err := os.WriteFile(src, data, 0o644); err != nil {
				t.Fatal(err)
			}
			fx.rec.mangleReq = func(kind string, body []byte) {
				if (kind == "UploadPart" || kind == "PutObject") && len(body) > 10 {
					body[len(body)/2] ^= 0x40
				}
			}
			// Single PUTs carry Content-MD5, so the server itself refuses the corrupted body;
			// without it the CRC-64 catches the corruption.
			cfg := fx.cfg()
			_, err := cfg.Upload(context.Background(), Upload{LocalPath: src, Bucket: "bkt1", Key: "f.bin"}, nil)
			var ie *cmdutil.IntegrityError
			var crcErr oss.CRCCheckError
			if !errors.As(err, &ie) && !errors.As(err, &crcErr) && codeOf(err) != "InvalidDigest" {
				t.Fatalf("error %v (%T), want an integrity failure", err, err)
			}
			if fx.exists(t, "bkt1", "f.bin") || fx.uploads(t, "bkt1") != 0 {
				t.Fatal("something was left at the destination")
			}
			noCheckpoints(t, cfg)
		})
	}
}

func TestPutSendsContentMD5(t *testing.T) {
	fx := newOps(t)
	src := filepath.Join(fx.dir, "f.txt")
	if err := os.WriteFile(src, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	var md5 string
	fx.rec.fault = func(kind string, _ int, r *http.Request) (*http.Response, error) {
		if kind == "PutObject" {
			md5 = r.Header.Get("Content-Md5")
		}
		return nil, nil
	}
	if _, err := fx.cfg().Upload(context.Background(), Upload{LocalPath: src, Bucket: "bkt1", Key: "f.txt"}, nil); err != nil {
		t.Fatal(err)
	}
	if md5 != "XUFAKrxLKna5cZ2REBfFkg==" {
		t.Errorf("Content-MD5 %q", md5)
	}
}

func TestDownloadCRCMismatchLeavesNothing(t *testing.T) {
	for _, size := range []int{1000, 4 * MinPartSize} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			fx := newOps(t)
			data := randData(size, 8)
			b, _ := fx.plain.Bucket("bkt1")
			if err := b.PutObject("o", bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			fx.rec.mangleResp = func(kind string, body []byte) {
				if (kind == "Get" || kind == "RangeGet") && len(body) > 10 {
					body[3] ^= 1
				}
			}
			cfg := fx.cfg()
			dst := filepath.Join(fx.dir, "dl", "o")
			_ = os.MkdirAll(filepath.Dir(dst), 0o755)
			_, err := cfg.Download(context.Background(), Download{Bucket: "bkt1", Key: "o", LocalPath: dst, Size: -1}, nil)
			var ie *cmdutil.IntegrityError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v, want an IntegrityError", err)
			}
			if ents, _ := os.ReadDir(filepath.Dir(dst)); len(ents) != 0 {
				t.Errorf("files left: %v", ents)
			}
			noCheckpoints(t, cfg)
		})
	}
}

func TestRetriesServerErrorsNotClientErrors(t *testing.T) {
	fx := newOps(t)
	src := filepath.Join(fx.dir, "f.txt")
	if err := os.WriteFile(src, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	status := http.StatusServiceUnavailable
	fx.rec.fault = func(kind string, n int, r *http.Request) (*http.Response, error) {
		if kind == "PutObject" && n == 1 {
			return &http.Response{StatusCode: status, Status: "x", Header: http.Header{}, Body: http.NoBody, Request: r}, nil
		}
		if kind == "PutObject" && n == 2 {
			return nil, syscall.ECONNRESET
		}
		return nil, nil
	}
	cfg := fx.cfg()
	if _, err := cfg.Upload(context.Background(), Upload{LocalPath: src, Bucket: "bkt1", Key: "f.txt"}, nil); err != nil {
		t.Fatalf("upload with a 503 and a reset: %v", err)
	}
	if got := fx.rec.count("PutObject"); got != 3 {
		t.Errorf("%d attempts, want 3", got)
	}
	fx.rec.reset()
	status = http.StatusForbidden
	if _, err := cfg.Upload(context.Background(), Upload{LocalPath: src, Bucket: "bkt1", Key: "g.txt"}, nil); err == nil {
		t.Fatal("a 403 succeeded")
	}
	if got := fx.rec.count("PutObject"); got != 1 {
		t.Errorf("a 403 was retried: %d attempts", got)
	}
	if Retryable(context.Canceled) || !Retryable(io.ErrUnexpectedEOF) || Retryable(oss.ServiceError{StatusCode: 404}) || !Retryable(oss.ServiceError{StatusCode: 500}) {
		t.Error("Retryable classification")
	}
}

func TestStreamUploadAndDownload(t *testing.T) {
	fx := newOps(t)
	cfg := fx.cfg()
	small := randData(1234, 9)
	res, err := cfg.UploadStream(context.Background(), io.MultiReader(bytes.NewReader(small)), "bkt1", "small", Headers{}, nil)
	if err != nil || res.CRC64 != crcOf(small) {
		t.Fatalf("small stream: %v %+v", err, res)
	}
	if fx.rec.count("PutObject") != 1 || fx.rec.count("Initiate") != 0 {
		t.Errorf("small stream used %v", fx.rec.counts)
	}
	big := randData(3*MinPartSize+99, 10)
	fx.rec.reset()
	// An io.Reader with no size: a pipe.
	pr, pw := io.Pipe()
	go func() {
		for off := 0; off < len(big); off += 7000 {
			_, _ = pw.Write(big[off:min(off+7000, len(big))])
		}
		_ = pw.Close()
	}()
	res, err = cfg.UploadStream(context.Background(), pr, "bkt1", "big", Headers{ContentType: "text/x-test"}, nil)
	if err != nil || res.CRC64 != crcOf(big) || res.Size != int64(len(big)) {
		t.Fatalf("big stream: %v %+v", err, res)
	}
	if fx.rec.count("UploadPart") != 4 {
		t.Errorf("big stream sent %d parts, want 4", fx.rec.count("UploadPart"))
	}
	if !bytes.Equal(fx.get(t, "bkt1", "big"), big) {
		t.Fatal("stream upload differs")
	}

	// Download to a writer; the first GET is cut short and resumed with a range.
	fx.rec.reset()
	fx.rec.mangleResp = nil
	cut := true
	fx.rec.fault = func(kind string, _ int, r *http.Request) (*http.Response, error) {
		if kind != "Get" || !cut {
			return nil, nil
		}
		cut = false
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		resp.Body = &failingBody{r: io.LimitReader(resp.Body, 50000), c: resp.Body}
		return resp, nil
	}
	var out bytes.Buffer
	res, err = cfg.DownloadTo(context.Background(), &out, "bkt1", "big", nil)
	if err != nil || !bytes.Equal(out.Bytes(), big) || res.CRC64 != crcOf(big) {
		t.Fatalf("download to writer: %v, %d bytes", err, out.Len())
	}
	if fx.rec.count("RangeGet") != 1 {
		t.Errorf("resumed with %d ranged GETs, want 1", fx.rec.count("RangeGet"))
	}
}

type failingBody struct {
	r io.Reader
	c io.Closer
}

func (b *failingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, syscall.ECONNRESET
	}
	return n, err
}
func (b *failingBody) Close() error { return b.c.Close() }

func TestSourceChangingDuringUploadFails(t *testing.T) {
	fx := newOps(t)
	data := randData(5*MinPartSize, 11)
	src := filepath.Join(fx.dir, "grow.log")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fx.rec.after = func(kind string, n int) {
		if kind == "UploadPart" && n == 1 {
			f, _ := os.OpenFile(src, os.O_APPEND|os.O_WRONLY, 0)
			_, _ = f.Write([]byte("more"))
			_ = f.Close()
		}
	}
	cfg := fx.cfg()
	_, err := cfg.Upload(context.Background(), Upload{LocalPath: src, Bucket: "bkt1", Key: "grow.log"}, nil)
	if err == nil || !strings.Contains(err.Error(), "changed while it was being uploaded") || !strings.Contains(err.Error(), src) {
		t.Fatalf("error %v, want a changed-file error naming the file", err)
	}
	if fx.exists(t, "bkt1", "grow.log") || fx.uploads(t, "bkt1") != 0 {
		t.Fatal("something was left at the destination")
	}
	noCheckpoints(t, cfg)
}

func TestRateLimitIsShared(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	fx := newOps(t)
	cfg := fx.cfg()
	const rate = 400 << 10
	cfg.UploadLimit = NewLimiter(rate)
	data := randData(300<<10, 12)
	var paths []string
	for i := range 2 {
		p := filepath.Join(fx.dir, "f"+strconv.Itoa(i))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := cfg.Upload(context.Background(), Upload{LocalPath: p, Bucket: "bkt1", Key: "k" + strconv.Itoa(i)}, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// 600 KiB at 400 KiB/s, with a 40 KiB burst: about 1.4 s; allow 2x either way.
	want := time.Duration(float64(2*len(data)-rate/10) / rate * float64(time.Second))
	if el := time.Since(start); el < want/2 || el > want*2+time.Second {
		t.Errorf("two uploads of %d bytes under a shared %d B/s limit took %v, want about %v", len(data), rate, el, want)
	}
}

func TestFilter(t *testing.T) {
	for _, tt := range []struct {
		name  string
		rules []Rule
		in    []string
		out   []string
	}{
		{"none", nil, []string{"a", "b/c"}, nil},
		{"name anywhere", []Rule{{Pattern: "*.tmp"}}, []string{"a.txt", "d/b.txt"}, []string{"x.tmp", "d/e/y.tmp"}},
		{"directory by name", []Rule{{Pattern: "node_modules"}}, []string{"src/a.js"}, []string{"node_modules/x.js", "a/node_modules/b/c.js"}},
		{"anchored **", []Rule{{Pattern: "logs/**"}}, []string{"a/logs/x", "logs.txt"}, []string{"logs/a", "logs/b/c"}},
		{"dir only", []Rule{{Pattern: "build/"}}, []string{"build", "src/build.go"}, []string{"build/out.o", "x/build/y"}},
		{"only includes", []Rule{{Include: true, Pattern: "*.jpg"}}, []string{"a.jpg", "d/b.jpg"}, []string{"a.png", "jpg"}},
		{"first match wins", []Rule{{Include: true, Pattern: "keep.tmp"}, {Pattern: "*.tmp"}}, []string{"keep.tmp", "a.txt", "d/keep.tmp"}, []string{"x.tmp"}},
		{"exclude dir, include inside", []Rule{{Include: true, Pattern: "cache/keep/**"}, {Pattern: "cache/"}}, []string{"cache/keep/a", "x"}, []string{"cache/a"}},
		{"braces", []Rule{{Include: true, Pattern: "**/*.{jpg,png}"}}, []string{"a.png", "x/y/z.jpg"}, []string{"a.gif"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFilter(tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.in {
				if !f.Match(p) {
					t.Errorf("%q excluded", p)
				}
			}
			for _, p := range tt.out {
				if f.Match(p) {
					t.Errorf("%q included", p)
				}
			}
		})
	}
	if _, err := NewFilter([]Rule{{Pattern: "a[b"}}); err == nil {
		t.Error("bad pattern accepted")
	}
	f, _ := NewFilter([]Rule{{Pattern: "cache"}})
	if !f.SkipDir("x/cache") || f.SkipDir("x") {
		t.Error("SkipDir")
	}
	f, _ = NewFilter([]Rule{{Include: true, Pattern: "cache/a"}, {Pattern: "cache"}})
	if f.SkipDir("cache") {
		t.Error("SkipDir pruned a directory an earlier --include reaches into")
	}
}
