package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/server/servertest"
)

// TestHardenClientDisconnectMidBody: a client that closes the connection
// part-way through a body leaves no object, no part and no temp file, for
// every body-carrying write.
func TestHardenClientDisconnectMidBody(t *testing.T) {
	env, raw, b := rawSetup(t)
	imur, err := b.InitiateMultipartUpload("mp")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]rawReq{
		"PutObject":    {method: "PUT", bucket: "raw-bkt", key: "cut"},
		"UploadPart":   {method: "PUT", bucket: "raw-bkt", key: "mp", sub: "partNumber=1&uploadId=" + imur.UploadID},
		"AppendObject": {method: "POST", bucket: "raw-bkt", key: "cut-append", sub: "append&position=0"},
	}
	for name, rq := range cases {
		t.Run(name, func(t *testing.T) {
			// 1 MiB declared, 300 KiB sent (past the inline threshold, so
			// a temp file exists when the client vanishes).
			rq.header = map[string]string{"Content-Length": fmt.Sprint(1 << 20)}
			conn := dialRaw(t, raw.addr)
			if _, err := conn.Write(raw.build(rq)); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Write(randBytes(300<<10, 7)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // let the handler start staging
			conn.Close()
			wantNoTempFiles(t, env)
		})
	}
	// A chunked body cut off mid-chunk: the stream never ends properly, so
	// nothing may be stored even though no length was declared.
	t.Run("chunked", func(t *testing.T) {
		rq := rawReq{method: "PUT", bucket: "raw-bkt", key: "cut-chunked", noLength: true,
			header: map[string]string{"Transfer-Encoding": "chunked"}}
		conn := dialRaw(t, raw.addr)
		data := randBytes(200<<10, 8)
		msg := append(raw.build(rq), fmt.Sprintf("%x\r\n", 1<<20)...)
		msg = append(msg, data...)
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		_ = conn.Conn.(*net.TCPConn).CloseWrite()
		resp, body, err := conn.response("PUT")
		if err == nil && resp.StatusCode == 200 {
			t.Fatalf("truncated chunked upload accepted: %s", body)
		}
		wantNoTempFiles(t, env)
	})
	waitUntil(t, 5*time.Second, "handlers to finish", func() bool { return len(storeFiles(t, env, "tmp")) == 0 })
	mustNotExist(t, b, "cut")
	mustNotExist(t, b, "cut-append")
	mustNotExist(t, b, "cut-chunked")
	lp, err := b.ListUploadedParts(imur)
	if err != nil || len(lp.UploadedParts) != 0 {
		t.Fatalf("a cut-off part was recorded: %+v %v", lp.UploadedParts, err)
	}
	if blobs := storeFiles(t, env, "blobs"); len(blobs) != 0 {
		t.Fatalf("blob files left by failed uploads: %v", blobs)
	}
}

// TestHardenBadDigestEverywhere: a wrong Content-MD5 stores nothing on any
// write path.
func TestHardenBadDigestEverywhere(t *testing.T) {
	env, raw, b := rawSetup(t)
	imur, err := b.InitiateMultipartUpload("mp")
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(200<<10, 3)
	wrong := map[string]string{"Content-MD5": md5B64([]byte("something else"))}
	for name, rq := range map[string]rawReq{
		"PutObject":    {method: "PUT", bucket: "raw-bkt", key: "md5", body: data, header: wrong},
		"UploadPart":   {method: "PUT", bucket: "raw-bkt", key: "mp", sub: "partNumber=2&uploadId=" + imur.UploadID, body: data, header: wrong},
		"AppendObject": {method: "POST", bucket: "raw-bkt", key: "md5-append", sub: "append&position=0", body: data, header: wrong},
	} {
		resp, body := raw.do(t, rq)
		if resp.StatusCode != 400 {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, body)
		}
		wantRawError(t, resp, body, 400, "InvalidDigest")
	}
	mustNotExist(t, b, "md5")
	mustNotExist(t, b, "md5-append")
	if lp, err := b.ListUploadedParts(imur); err != nil || len(lp.UploadedParts) != 0 {
		t.Fatalf("part stored despite bad digest: %+v %v", lp.UploadedParts, err)
	}
	wantNoTempFiles(t, env)
	if blobs := storeFiles(t, env, "blobs"); len(blobs) != 0 {
		t.Fatalf("blob files left: %v", blobs)
	}
}

// TestHardenBodyLongerThanContentLength documents HTTP/1.1 framing: bytes
// past Content-Length are the next request on the connection, never part
// of the object. Garbage there gets net/http's 400 and the connection is
// closed; a well-formed request there is authenticated on its own.
func TestHardenBodyLongerThanContentLength(t *testing.T) {
	_, raw, b := rawSetup(t)
	first := raw.build(rawReq{method: "PUT", bucket: "raw-bkt", key: "five", keepAlive: true,
		header: map[string]string{"Content-Length": "5"}})
	conn := dialRaw(t, raw.addr)
	msg := append(first, "12345EXTRA BYTES THAT ARE NOT HTTP\r\n\r\n"...)
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	resp, body, err := conn.response("PUT")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v %v %s", resp, err, body)
	}
	resp, _, err = conn.response("GET")
	if err == nil && resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("trailing garbage answered %d, want 400 or a closed connection", resp.StatusCode)
	}
	if _, err := conn.br.ReadByte(); !errors.Is(err, io.EOF) && err != nil && !isConnReset(err) {
		t.Fatalf("connection still open after garbage: %v", err)
	}
	rd, err := b.GetObject("five")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rd)
	rd.Close()
	if string(got) != "12345" {
		t.Fatalf("object = %q, want the 5 declared bytes", got)
	}

	// Smuggling a second, unsigned request behind a signed one: it is
	// handled as its own (anonymous) request and refused.
	conn = dialRaw(t, raw.addr)
	smuggled := "DELETE /raw-bkt/five HTTP/1.1\r\nHost: " + raw.addr + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	first = raw.build(rawReq{method: "PUT", bucket: "raw-bkt", key: "other", keepAlive: true,
		header: map[string]string{"Content-Length": "3"}})
	if _, err := conn.Write(append(append(first, "abc"...), smuggled...)); err != nil {
		t.Fatal(err)
	}
	if resp, body, err := conn.response("PUT"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("signed request: %v %v %s", resp, err, body)
	}
	resp, body, err = conn.response("DELETE")
	if err != nil {
		t.Fatal(err)
	}
	wantRawError(t, resp, body, 403, "AccessDenied")
	if ok, _ := b.IsObjectExist("five"); !ok {
		t.Fatal("smuggled DELETE took effect")
	}
}

func isConnReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// TestHardenStalledUpload: a client that stops sending mid-body is cut off
// after the stall timeout (not held forever); the upload leaves nothing.
// A slow client that keeps sending is not cut off, whatever the total
// duration.
func TestHardenStalledUpload(t *testing.T) {
	t.Parallel() // mostly waiting on timeouts
	env := servertest.StartWith(t, servertest.Options{StallTimeout: 300 * time.Millisecond})
	raw := newRawEnv(env)
	b := v1Bucket(t, v1Client(t, env), "stall-bkt")

	conn := dialRaw(t, raw.addr)
	rq := rawReq{method: "PUT", bucket: "stall-bkt", key: "stalled", header: map[string]string{"Content-Length": fmt.Sprint(1 << 20)}}
	if _, err := conn.Write(append(raw.build(rq), randBytes(100<<10, 1)...)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, body, err := conn.response("PUT")
	elapsed := time.Since(start)
	if err == nil {
		wantRawError(t, resp, body, 400, "RequestTimeout")
	}
	if elapsed > 5*time.Second {
		t.Fatalf("stalled upload held for %v", elapsed)
	}
	wantNoTempFiles(t, env)
	mustNotExist(t, b, "stalled")

	// Slow and steady: 12 pieces 100 ms apart (1.2 s in all, four times
	// the stall timeout) is accepted.
	data := randBytes(12*1000, 2)
	conn = dialRaw(t, raw.addr)
	rq = rawReq{method: "PUT", bucket: "stall-bkt", key: "slow", header: map[string]string{"Content-Length": fmt.Sprint(len(data))}}
	if _, err := conn.Write(raw.build(rq)); err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += 1000 {
		time.Sleep(100 * time.Millisecond)
		if _, err := conn.Write(data[off : off+1000]); err != nil {
			t.Fatalf("slow writer cut off after %d bytes: %v", off, err)
		}
	}
	resp, body, err = conn.response("PUT")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("x-oss-hash-crc64ecma") != crcOf(data) {
		t.Fatalf("slow upload: %v %v %s", resp, err, body)
	}

	// A stalled XML body is cut off the same way.
	conn = dialRaw(t, raw.addr)
	rq = rawReq{method: "PUT", bucket: "stall-new", header: map[string]string{"Content-Length": "1000"}}
	if _, err := conn.Write(append(raw.build(rq), "<CreateBucketConfiguration>"...)); err != nil {
		t.Fatal(err)
	}
	resp, body, err = conn.response("PUT")
	if err == nil {
		wantRawError(t, resp, body, 400, "RequestTimeout")
	}
}

// TestHardenStalledDownload: a client that stops reading a large GET does
// not pin the handler forever; the write is abandoned after the stall
// timeout and logged as a client problem, not a server fault.
func TestHardenStalledDownload(t *testing.T) {
	t.Parallel() // mostly waiting on timeouts
	rec := &recordingHandler{}
	env := servertest.StartWith(t, servertest.Options{StallTimeout: 300 * time.Millisecond, Logger: slog.New(rec)})
	raw := newRawEnv(env)
	b := v1Bucket(t, v1Client(t, env), "dl-bkt")
	const size = 24 << 20
	if err := b.PutObject("big", bytes.NewReader(make([]byte, size))); err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", raw.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(raw.build(rawReq{method: "GET", bucket: "dl-bkt", key: "big"})); err != nil {
		t.Fatal(err)
	}
	// Read nothing; wait for the handler to give up.
	var rec2 map[string]any
	waitUntil(t, 10*time.Second, "the stalled GET to be abandoned", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, r := range rec.records {
			if r["msg"] == "request" && r["key"] == "big" && r["method"] == "GET" {
				rec2 = r
				return true
			}
		}
		return false
	})
	if rec2["error"] != "ClientGone" {
		t.Fatalf("stalled download logged as %v", rec2)
	}
	if n, _ := rec2["bytes"].(int64); n >= size {
		t.Fatalf("all %d bytes counted as sent to a client that read nothing", n)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, r := range rec.records {
		if r["msg"] == "request failed" {
			t.Fatalf("a stalled client was logged as a server fault: %v", r)
		}
	}
}

// TestHardenSlowHeaders: a client that never finishes its header block is
// disconnected after ReadHeaderTimeout.
func TestHardenSlowHeaders(t *testing.T) {
	t.Parallel() // mostly waiting on timeouts
	env := servertest.StartWith(t, servertest.Options{ReadHeaderTimeout: 300 * time.Millisecond})
	conn := dialRaw(t, env.Addr)
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, _, err := conn.response("GET")
	if err == nil && resp.StatusCode < 400 {
		t.Fatalf("incomplete headers answered %d", resp.StatusCode)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("slow header client held for %v", d)
	}
}

func TestHardenHeaderLimits(t *testing.T) {
	_, raw, b := rawSetup(t)

	// An oversized header block is refused by net/http before the handler
	// (so this one response has no x-oss-request-id).
	resp, _ := raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: "fat", body: []byte("x"),
		header: map[string]string{"x-pad": strings.Repeat("p", 70<<10)}})
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("70 KiB header block: %d, want 431", resp.StatusCode)
	}
	mustNotExist(t, b, "fat")
	// Just under the limit is fine.
	resp, body := raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: "lean", body: []byte("x"),
		header: map[string]string{"x-pad": strings.Repeat("p", 40<<10)}})
	if resp.StatusCode != 200 {
		t.Fatalf("40 KiB header block: %d %s", resp.StatusCode, body)
	}

	// User metadata: 8 KiB in all (names and values).
	err := b.PutObject("meta-big", strings.NewReader("x"), oss.Meta("a", strings.Repeat("v", 5000)), oss.Meta("b", strings.Repeat("v", 4000)))
	wantCode(t, err, 400, "InvalidArgument")
	mustNotExist(t, b, "meta-big")
	if err := b.PutObject("meta-ok", strings.NewReader("x"), oss.Meta("a", strings.Repeat("v", 4000)), oss.Meta("b", strings.Repeat("v", 4000))); err != nil {
		t.Fatalf("8000 bytes of metadata refused: %v", err)
	}
	// The limit applies to every write that takes metadata.
	_, err = b.InitiateMultipartUpload("meta-mp", oss.Meta("a", strings.Repeat("v", 9000)))
	wantCode(t, err, 400, "InvalidArgument")
	_, err = b.CopyObject("meta-ok", "meta-copy", oss.MetadataDirective(oss.MetaReplace), oss.Meta("a", strings.Repeat("v", 9000)))
	wantCode(t, err, 400, "InvalidArgument")
	mustNotExist(t, b, "meta-copy")
	err = b.PutSymlink("meta-link", "meta-ok", oss.Meta("a", strings.Repeat("v", 9000)))
	wantCode(t, err, 400, "InvalidArgument")

	// Non-ASCII metadata values travel as raw bytes (as OSS does) and come
	// back unchanged.
	vals := map[string]string{"city": "杭州", "emoji": "😀 ok", "mixed": "Grüße, naïve café"}
	var opts []oss.Option
	for k, v := range vals {
		opts = append(opts, oss.Meta(k, v))
	}
	if err := b.PutObject("meta-utf8", strings.NewReader("x"), opts...); err != nil {
		t.Fatal(err)
	}
	h, err := b.GetObjectDetailedMeta("meta-utf8")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range vals {
		if got := h.Get("X-Oss-Meta-" + k); got != v {
			t.Errorf("metadata %s = %q, want %q", k, got, v)
		}
	}
	// Bytes that are not UTF-8 (obs-text) are legal HTTP; OSS keeps them as
	// sent, and so does this server (object records are an exact binary
	// encoding).
	for _, hdr := range []string{"x-oss-meta-l1", "Content-Disposition", "Content-Type"} {
		resp, body = raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: "meta-latin1", body: []byte("x"),
			header: map[string]string{hdr: "caf\xe9"}})
		if resp.StatusCode != 200 {
			t.Fatalf("PUT with %s in Latin-1: %d %s", hdr, resp.StatusCode, body)
		}
		resp, _ = raw.do(t, rawReq{method: "HEAD", bucket: "raw-bkt", key: "meta-latin1"})
		if got := resp.Header.Get(hdr); got != "caf\xe9" {
			t.Fatalf("%s read back as %q, want the bytes sent", hdr, got)
		}
	}
}

func TestHardenDuplicateHeaders(t *testing.T) {
	_, raw, b := rawSetup(t)
	send := func(key string, extra string) (*rawResponse, []byte) {
		t.Helper()
		rq := raw.build(rawReq{method: "PUT", bucket: "raw-bkt", key: key, body: []byte("data")})
		// Insert the extra header lines right after the request line.
		i := bytes.Index(rq, []byte("\r\n"))
		out := append(append(append([]byte{}, rq[:i+2]...), extra...), rq[i+2:]...)
		return raw.doBytes(t, "PUT", out)
	}
	// Conflicting Content-Length: net/http refuses the request.
	resp, _ := send("cl", "Content-Length: 3\r\n")
	if resp.StatusCode != 400 {
		t.Fatalf("conflicting Content-Length: %d", resp.StatusCode)
	}
	mustNotExist(t, b, "cl")
	// Conflicting singular OSS headers are ambiguous: refused.
	resp, body := send("acl2", "x-oss-object-acl: public-read\r\nx-oss-object-acl: private\r\n")
	e := wantRawError(t, resp, body, 400, "InvalidArgument")
	if !strings.EqualFold(e.ArgumentName, "x-oss-object-acl") {
		t.Fatalf("ArgumentName %q", e.ArgumentName)
	}
	mustNotExist(t, b, "acl2")
	resp, body = send("md52", "Content-MD5: "+md5B64([]byte("data"))+"\r\nContent-MD5: "+md5B64([]byte("atad"))+"\r\n")
	wantRawError(t, resp, body, 400, "InvalidArgument")
	mustNotExist(t, b, "md52")
	resp, body = send("auth2", "Authorization: OSS other:c2ln\r\n")
	wantRawError(t, resp, body, 400, "InvalidArgument")
	mustNotExist(t, b, "auth2")
	// Repeats signed the way the v2 SDK canonicalizes them (comma-joined)
	// are accepted. Identical repeats are harmless; repeated user metadata
	// headers become one comma-joined value.
	sendRepeated := func(key, name string, vals ...string) (*rawResponse, []byte) {
		t.Helper()
		joined := strings.Join(vals, ",")
		rq := raw.build(rawReq{method: "PUT", bucket: "raw-bkt", key: key, body: []byte("data"),
			header: map[string]string{name: joined}})
		line := http.CanonicalHeaderKey(name) + ": " + joined + "\r\n"
		var lines string
		for _, v := range vals {
			lines += http.CanonicalHeaderKey(name) + ": " + v + "\r\n"
		}
		if !bytes.Contains(rq, []byte(line)) {
			t.Fatalf("header line %q not in request", line)
		}
		return raw.doBytes(t, "PUT", bytes.Replace(rq, []byte(line), []byte(lines), 1))
	}
	resp, body = sendRepeated("same", "x-oss-storage-class", "IA", "IA")
	if resp.StatusCode != 200 {
		t.Fatalf("identical repeated header: %d %s", resp.StatusCode, body)
	}
	resp, body = sendRepeated("meta2", "x-oss-meta-tag", "one", "two")
	if resp.StatusCode != 200 {
		t.Fatalf("repeated metadata header: %d %s", resp.StatusCode, body)
	}
	h, err := b.GetObjectDetailedMeta("meta2")
	if err != nil || h.Get("X-Oss-Meta-Tag") != "one,two" {
		t.Fatalf("repeated metadata stored as %q (%v)", h.Get("X-Oss-Meta-Tag"), err)
	}
	// Two Host headers: net/http refuses.
	resp, _ = send("host2", "Host: evil.example\r\n")
	if resp.StatusCode != 400 {
		t.Fatalf("duplicate Host: %d", resp.StatusCode)
	}
}

// TestHardenStallAfterEarlyError: a request refused before its body is read
// (here: anonymous PUT to a private bucket) whose client then sends nothing
// does not hold the connection beyond the stall timeout (net/http would
// otherwise wait forever to drain the body for keep-alive).
func TestHardenStallAfterEarlyError(t *testing.T) {
	t.Parallel() // mostly waiting on timeouts
	env := servertest.StartWith(t, servertest.Options{StallTimeout: 300 * time.Millisecond})
	raw := newRawEnv(env)
	v1Bucket(t, v1Client(t, env), "early")
	conn := dialRaw(t, raw.addr)
	rq := rawReq{method: "PUT", bucket: "early", key: "k", anon: true, keepAlive: true,
		header: map[string]string{"Content-Length": "1000"}}
	if _, err := conn.Write(raw.build(rq)); err != nil {
		t.Fatal(err)
	}
	resp, body, err := conn.response("PUT")
	if err != nil {
		t.Fatal(err)
	}
	wantRawError(t, resp, body, 403, "AccessDenied")
	start := time.Now()
	_, err = conn.br.ReadByte()
	if err == nil {
		t.Fatal("server sent more after the error response")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("connection held %v after the error by a stalled body", d)
	}
}
