package server_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/server/servertest"
)

// rawSetup starts a server with one private bucket "raw-bkt".
func rawSetup(t *testing.T) (*servertest.Env, rawEnv, *oss.Bucket) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	return env, newRawEnv(env), v1Bucket(t, c, "raw-bkt")
}

func mustNotExist(t *testing.T, b *oss.Bucket, key string) {
	t.Helper()
	ok, err := b.IsObjectExist(key)
	if err != nil || ok {
		t.Fatalf("object %q exists=%v err=%v; want absent", key, ok, err)
	}
}

func TestRawPutBodyProblems(t *testing.T) {
	_, raw, b := rawSetup(t)

	resp, body := raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: "nolen", noLength: true})
	wantRawError(t, resp, body, 411, "MissingContentLength")
	mustNotExist(t, b, "nolen")

	// Declared 10 bytes, sent 5, then the client half-closes.
	resp, body = raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: "short",
		header: map[string]string{"Content-Length": "10"}, body: []byte("12345"), halfClose: true})
	wantRawError(t, resp, body, 400, "IncompleteBody")
	mustNotExist(t, b, "short")

	resp, body = raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: "badmd5",
		header: map[string]string{"Content-MD5": md5B64([]byte("other"))}, body: []byte("data")})
	wantRawError(t, resp, body, 400, "InvalidDigest")
	mustNotExist(t, b, "badmd5")

	resp, body = raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: "badmd5",
		header: map[string]string{"Content-MD5": "not-base64!"}, body: []byte("data")})
	wantRawError(t, resp, body, 400, "InvalidDigest")

	resp, body = raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: "goodmd5",
		header: map[string]string{"Content-MD5": md5B64([]byte("data"))}, body: []byte("data")})
	if resp.StatusCode != 200 {
		t.Fatalf("PUT with correct MD5: %d %s", resp.StatusCode, body)
	}

	// A declared size over 5 GiB is refused before any body byte is read.
	resp, body = raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: "huge",
		header: map[string]string{"Content-Length": fmt.Sprint(int64(5<<30) + 1)}, halfClose: true})
	wantRawError(t, resp, body, 400, "EntityTooLarge")
	mustNotExist(t, b, "huge")

	big := strings.Repeat("v", 8<<10)
	resp, body = raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: "meta",
		header: map[string]string{"x-oss-meta-big": big}, body: []byte("x")})
	wantRawError(t, resp, body, 400, "InvalidArgument")
	mustNotExist(t, b, "meta")

	resp, body = raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: "acl",
		header: map[string]string{"x-oss-object-acl": "everyone"}, body: []byte("x")})
	wantRawError(t, resp, body, 400, "InvalidArgument")
	resp, body = raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: "fo",
		header: map[string]string{"x-oss-forbid-overwrite": "maybe"}, body: []byte("x")})
	wantRawError(t, resp, body, 400, "InvalidArgument")
}

func TestRawChunkedPut(t *testing.T) {
	_, raw, b := rawSetup(t)
	req := raw.build(rawReq{method: "PUT", bucket: "raw-bkt", key: "chunked", noLength: true,
		header: map[string]string{"Transfer-Encoding": "chunked"}})
	req = append(req, "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"...)
	resp, body := raw.doBytes(t, "PUT", req)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"`+md5Hex([]byte("hello world"))+`"` {
		t.Fatalf("chunked PUT: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	rd, err := b.GetObject("chunked")
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(rd)
	if buf.String() != "hello world" {
		t.Fatalf("got %q", buf.String())
	}
}

func TestRawNamesAndRouting(t *testing.T) {
	env, raw, b := rawSetup(t)
	for _, name := range []string{"ab", "Abc", "-abc", "abc-", "a_b", "a.b.c", strings.Repeat("a", 64)} {
		resp, body := raw.do(t, rawReq{method: "PUT", bucket: name})
		wantRawError(t, resp, body, 400, "InvalidBucketName")
	}
	if err := v1Client(t, env).CreateBucket(strings.Repeat("a", 63)); err != nil {
		t.Fatalf("63-character bucket name: %v", err)
	}

	badKeys := map[string]string{
		"1024 bytes":     strings.Repeat("k", 1024),
		"leading slash":  "/x",
		"leading bslash": `\x`,
		"invalid utf8":   "a\xffb",
		"nul":            "a\x00b",
	}
	for name, k := range badKeys {
		t.Run(name, func(t *testing.T) {
			resp, body := raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: k, body: []byte("x")})
			wantRawError(t, resp, body, 400, "InvalidObjectName")
		})
	}
	// Keys the router must not clean.
	weird := []string{strings.Repeat("k", 1023), "a//b", "a/../b", "./x", "../x", "trail/", "a", "a/b", "%2F", "q?#&=", "sp ace+plus"}
	for _, k := range weird {
		// Send '/' literally (like the v2 SDK) so path cleaning would bite.
		path := "/raw-bkt/" + strings.ReplaceAll(escapeKey(k), "%2F", "/")
		rq := raw.build(rawReq{method: "PUT", bucket: "raw-bkt", key: k, body: []byte(k)})
		rq = bytes.Replace(rq, []byte("/raw-bkt/"+escapeKey(k)+" "), []byte(path+" "), 1)
		resp, body := raw.doBytes(t, "PUT", rq)
		if resp.StatusCode != 200 {
			t.Fatalf("PUT %q via %s: %d %s", k, path, resp.StatusCode, body)
		}
	}
	lr, err := b.ListObjects(oss.MaxKeys(1000))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, o := range lr.Objects {
		seen[o.Key] = true
	}
	for _, k := range weird {
		if !seen[k] {
			t.Errorf("key %q not listed (have %v)", k, lr.Objects)
		}
		rd, err := b.GetObject(k)
		if err != nil {
			t.Fatalf("GET %q: %v", k, err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(rd)
		rd.Close()
		if buf.String() != k {
			t.Errorf("GET %q returned %q", k, buf.String())
		}
	}
	if err := b.DeleteObject("a"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.IsObjectExist("a/b"); !ok {
		t.Fatal("deleting a removed a/b")
	}
}

func TestRawHeadErrorAndNotImplemented(t *testing.T) {
	_, raw, _ := rawSetup(t)
	resp, body := raw.do(t, rawReq{method: "HEAD", bucket: "raw-bkt", key: "missing"})
	if len(body) != 0 {
		t.Fatalf("HEAD error has a body: %q", body)
	}
	e := wantRawError(t, resp, body, 404, "NoSuchKey")
	if e.EC != "0026-00000001" || resp.Header.Get("x-oss-ec") != "0026-00000001" {
		t.Fatalf("EC %q / header %q", e.EC, resp.Header.Get("x-oss-ec"))
	}
	resp, body = raw.do(t, rawReq{method: "HEAD", bucket: "nobucket", key: "k"})
	wantRawError(t, resp, body, 404, "NoSuchBucket")

	for _, sub := range []string{"lifecycle", "versions", "policy", "cors", "worm"} {
		resp, body := raw.do(t, rawReq{method: "GET", bucket: "raw-bkt", sub: sub})
		wantRawError(t, resp, body, 501, "NotImplemented")
	}
	resp, body = raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: "k", sub: "tagging", body: []byte("<Tagging/>")})
	wantRawError(t, resp, body, 501, "NotImplemented")
	resp, body = raw.do(t, rawReq{method: "PATCH", bucket: "raw-bkt", key: "k"})
	wantRawError(t, resp, body, 405, "MethodNotAllowed")
}

func TestRawAuthErrors(t *testing.T) {
	env, raw, _ := rawSetup(t)
	bad := raw
	bad.secret = "wrong-secret"
	resp, body := bad.do(t, rawReq{method: "GET", bucket: "raw-bkt"})
	e := wantRawError(t, resp, body, 403, "SignatureDoesNotMatch")
	if e.StringToSign == "" || e.SignatureProvided == "" {
		t.Fatalf("SignatureDoesNotMatch without StringToSign/SignatureProvided: %+v", e)
	}
	unknown := raw
	unknown.ak = "LTAI-unknown"
	resp, body = unknown.do(t, rawReq{method: "GET", bucket: "raw-bkt"})
	wantRawError(t, resp, body, 403, "InvalidAccessKeyId")
	resp, body = raw.do(t, rawReq{method: "GET", bucket: "raw-bkt", anon: true})
	wantRawError(t, resp, body, 403, "AccessDenied")
	resp, body = raw.do(t, rawReq{method: "GET", anon: true})
	wantRawError(t, resp, body, 403, "AccessDenied")
	// The v1 SDK sees the same codes.
	c, _ := oss.New(env.Endpoint, env.AccessKeyID, "nope")
	_, err := c.ListBuckets()
	wantCode(t, err, 403, "SignatureDoesNotMatch")
}

func TestRawMalformedXML(t *testing.T) {
	_, raw, b := rawSetup(t)
	bodies := map[string]string{
		"garbage":    "this is not xml",
		"truncated":  "<CreateBucketConfiguration><StorageClass>IA",
		"wrong root": "<Foo><StorageClass>IA</StorageClass></Foo>",
		"dtd":        `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><CreateBucketConfiguration><StorageClass>&e;</StorageClass></CreateBucketConfiguration>`,
		"entity":     "<CreateBucketConfiguration><StorageClass>&lol;</StorageClass></CreateBucketConfiguration>",
		"two roots":  "<CreateBucketConfiguration/><CreateBucketConfiguration/>",
	}
	for name, xmlBody := range bodies {
		t.Run(name, func(t *testing.T) {
			resp, body := raw.do(t, rawReq{method: "PUT", bucket: "xml-bkt", body: []byte(xmlBody)})
			wantRawError(t, resp, body, 400, "MalformedXML")
			resp, body = raw.do(t, rawReq{method: "GET", bucket: "xml-bkt", sub: "bucketInfo"})
			wantRawError(t, resp, body, 404, "NoSuchBucket")
		})
	}
	// A declared 10 MB document is refused before reading it; a chunked one
	// is cut off just past the 1 MiB bound.
	resp, body := raw.do(t, rawReq{method: "PUT", bucket: "xml-bkt", halfClose: true,
		header: map[string]string{"Content-Length": fmt.Sprint(10 << 20)}})
	wantRawError(t, resp, body, 400, "MalformedXML")
	big := "<CreateBucketConfiguration>" + strings.Repeat(" ", 1<<20+100<<10) + "</CreateBucketConfiguration>"
	rq := raw.build(rawReq{method: "PUT", bucket: "xml-bkt", noLength: true, header: map[string]string{"Transfer-Encoding": "chunked"}})
	rq = append(rq, fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(big), big)...)
	resp, body = raw.doBytes(t, "PUT", rq)
	wantRawError(t, resp, body, 400, "MalformedXML")
	resp, body = raw.do(t, rawReq{method: "PUT", bucket: "xml-bkt",
		body: []byte("<CreateBucketConfiguration><StorageClass>Glacier</StorageClass></CreateBucketConfiguration>")})
	wantRawError(t, resp, body, 400, "InvalidArgument")

	// DeleteMultipleObjects: Content-MD5 required, at most 1000 keys.
	del := []byte("<Delete><Object><Key>k</Key></Object></Delete>")
	resp, body = raw.do(t, rawReq{method: "POST", bucket: "raw-bkt", sub: "delete", body: del})
	wantRawError(t, resp, body, 400, "InvalidArgument")
	resp, body = raw.do(t, rawReq{method: "POST", bucket: "raw-bkt", sub: "delete", body: del,
		header: map[string]string{"Content-MD5": md5B64([]byte("x"))}})
	wantRawError(t, resp, body, 400, "InvalidDigest")
	var many strings.Builder
	many.WriteString("<Delete>")
	for i := 0; i < 1001; i++ {
		fmt.Fprintf(&many, "<Object><Key>k%d</Key></Object>", i)
	}
	many.WriteString("</Delete>")
	resp, body = raw.do(t, rawReq{method: "POST", bucket: "raw-bkt", sub: "delete", body: []byte(many.String()),
		header: map[string]string{"Content-MD5": md5B64([]byte(many.String()))}})
	wantRawError(t, resp, body, 400, "MalformedXML")

	// Complete with parts out of order.
	imur, err := b.InitiateMultipartUpload("mp")
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := b.UploadPart(imur, bytes.NewReader(randBytes(100<<10, 1)), 100<<10, 1)
	p2, _ := b.UploadPart(imur, bytes.NewReader([]byte("tail")), 4, 2)
	cx := fmt.Sprintf("<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>", p2.ETag, p1.ETag)
	resp, body = raw.do(t, rawReq{method: "POST", bucket: "raw-bkt", key: "mp", sub: "uploadId=" + imur.UploadID, body: []byte(cx)})
	wantRawError(t, resp, body, 400, "InvalidPartOrder")
	resp, body = raw.do(t, rawReq{method: "POST", bucket: "raw-bkt", key: "mp", sub: "uploadId=" + imur.UploadID, body: []byte("<CompleteMultipartUpload>")})
	wantRawError(t, resp, body, 400, "MalformedXML")
	// x-oss-complete-all: yes completes with every uploaded part.
	resp, body = raw.do(t, rawReq{method: "POST", bucket: "raw-bkt", key: "mp", sub: "uploadId=" + imur.UploadID,
		header: map[string]string{"x-oss-complete-all": "yes"}})
	if resp.StatusCode != 200 || !strings.HasSuffix(resp.Header.Get("ETag"), `-2"`) {
		t.Fatalf("complete-all: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	want := append(randBytes(100<<10, 1), "tail"...)
	if resp.Header.Get("x-oss-hash-crc64ecma") != crcOf(want) {
		t.Fatalf("complete-all crc %s, want %s", resp.Header.Get("x-oss-hash-crc64ecma"), crcOf(want))
	}
	resp, body = raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: "mp", sub: "partNumber=0&uploadId=x", body: []byte("x")})
	e := wantRawError(t, resp, body, 400, "InvalidArgument")
	if e.ArgumentName != "partNumber" || e.ArgumentValue != "0" {
		t.Fatalf("argument %q=%q", e.ArgumentName, e.ArgumentValue)
	}
}

func TestRawListEncodingURL(t *testing.T) {
	_, raw, b := rawSetup(t)
	keys := []string{"a b", "a+b", "a%b", "x/y z", "ü/ñ"}
	for _, k := range keys {
		if err := b.PutObject(k, strings.NewReader("v")); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := raw.do(t, rawReq{method: "GET", bucket: "raw-bkt", sub: "encoding-type=url&delimiter=%2F&prefix="})
	if resp.StatusCode != 200 {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	s := string(body)
	for _, want := range []string{"<Key>a%20b</Key>", "<Key>a%2Bb</Key>", "<Key>a%25b</Key>",
		"<Prefix>x%2F</Prefix>", "<Prefix>%C3%BC%2F</Prefix>", "<Delimiter>%2F</Delimiter>", "<EncodingType>url</EncodingType>"} {
		if !strings.Contains(s, want) {
			t.Errorf("listing lacks %s:\n%s", want, s)
		}
	}
	resp, body = raw.do(t, rawReq{method: "GET", bucket: "raw-bkt", sub: "prefix=a"})
	s = string(body)
	if resp.StatusCode != 200 || strings.Contains(s, "EncodingType") || !strings.Contains(s, "<Key>a+b</Key>") || !strings.Contains(s, "<Key>a b</Key>") {
		t.Fatalf("raw listing:\n%s", s)
	}
	resp, body = raw.do(t, rawReq{method: "GET", bucket: "raw-bkt", sub: "list-type=2&continuation-token=%%%"})
	if resp.StatusCode != 400 {
		t.Fatalf("bad query: %d %s", resp.StatusCode, body)
	}
	resp, body = raw.do(t, rawReq{method: "GET", bucket: "raw-bkt", sub: "list-type=2&continuation-token=not*base64"})
	wantRawError(t, resp, body, 400, "InvalidArgument")
	resp, body = raw.do(t, rawReq{method: "GET", bucket: "raw-bkt", sub: "max-keys=abc"})
	wantRawError(t, resp, body, 400, "InvalidArgument")
	resp, body = raw.do(t, rawReq{method: "GET", bucket: "raw-bkt", sub: "max-keys=0"})
	wantRawError(t, resp, body, 400, "InvalidArgument")
}

func TestRawResponseBasics(t *testing.T) {
	_, raw, _ := rawSetup(t)
	resp, body := raw.do(t, rawReq{method: "GET"})
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("<Name>raw-bkt</Name>")) {
		t.Fatalf("ListBuckets: %d %s", resp.StatusCode, body)
	}
	if id := resp.Header.Get("x-oss-request-id"); len(id) != 24 || strings.ToUpper(id) != id {
		t.Fatalf("request id %q", id)
	}
	if _, err := http.ParseTime(resp.Header.Get("Date")); err != nil || resp.Header.Get("Server") != "AliyunOSS" {
		t.Fatalf("Date %q Server %q", resp.Header.Get("Date"), resp.Header.Get("Server"))
	}
	// Error bodies decode from x-oss-err on HEAD as well as on GET.
	resp, _ = raw.do(t, rawReq{method: "HEAD", bucket: "raw-bkt", key: "x"})
	doc, err := base64.StdEncoding.DecodeString(resp.Header.Get("x-oss-err"))
	if err != nil || !bytes.Contains(doc, []byte("<Code>NoSuchKey</Code>")) {
		t.Fatalf("x-oss-err %q", doc)
	}
}
