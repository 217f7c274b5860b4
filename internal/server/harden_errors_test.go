package server_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/server/servertest"
)

// wantRequestID checks the headers every response carries.
func wantRequestID(t testing.TB, what string, h http.Header) {
	t.Helper()
	id := h.Get("x-oss-request-id")
	if len(id) != 24 || strings.Trim(id, "0123456789ABCDEF") != "" {
		t.Fatalf("%s: x-oss-request-id %q is not 24 uppercase hex characters", what, id)
	}
	if h.Get("Date") == "" || h.Get("Server") != "AliyunOSS" {
		t.Fatalf("%s: Date %q Server %q", what, h.Get("Date"), h.Get("Server"))
	}
}

func TestHardenEveryResponseIdentified(t *testing.T) {
	_, raw, b := rawSetup(t)
	data := []byte("0123456789")
	if err := b.PutObject("k", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	etag := `"` + md5Hex(data) + `"`
	successes := []struct {
		name   string
		req    rawReq
		status int
	}{
		{"GET", rawReq{method: "GET", bucket: "raw-bkt", key: "k"}, 200},
		{"HEAD", rawReq{method: "HEAD", bucket: "raw-bkt", key: "k"}, 200},
		{"ranged GET", rawReq{method: "GET", bucket: "raw-bkt", key: "k", header: map[string]string{"Range": "bytes=2-4"}}, 206},
		{"PUT", rawReq{method: "PUT", bucket: "raw-bkt", key: "k2", body: data}, 200},
		{"DELETE", rawReq{method: "DELETE", bucket: "raw-bkt", key: "k2"}, 204},
		{"ListObjects", rawReq{method: "GET", bucket: "raw-bkt"}, 200},
		{"ListBuckets", rawReq{method: "GET"}, 200},
		{"GetObjectMeta", rawReq{method: "HEAD", bucket: "raw-bkt", key: "k", sub: "objectMeta"}, 200},
	}
	for _, tc := range successes {
		resp, body := raw.do(t, tc.req)
		if resp.StatusCode != tc.status {
			t.Fatalf("%s: %d %s", tc.name, resp.StatusCode, body)
		}
		wantRequestID(t, tc.name, resp.Header)
	}
	// 304 is reported by the SDKs as an error: it carries the document in
	// x-oss-err, no body, and still its ETag.
	resp, body := raw.do(t, rawReq{method: "GET", bucket: "raw-bkt", key: "k", header: map[string]string{"If-None-Match": etag}})
	if len(body) != 0 || resp.Header.Get("ETag") != etag {
		t.Fatalf("304: body %q ETag %q", body, resp.Header.Get("ETag"))
	}
	wantRawError(t, resp, body, 304, "NotModified")

	errorsWanted := []struct {
		name   string
		req    rawReq
		status int
		code   string
		ec     string
	}{
		{"no key", rawReq{method: "GET", bucket: "raw-bkt", key: "nope"}, 404, "NoSuchKey", "0026-00000001"},
		{"HEAD no key", rawReq{method: "HEAD", bucket: "raw-bkt", key: "nope"}, 404, "NoSuchKey", "0026-00000001"},
		{"no bucket", rawReq{method: "GET", bucket: "nobkt"}, 404, "NoSuchBucket", "0015-00000101"},
		{"HEAD no bucket", rawReq{method: "HEAD", bucket: "nobkt"}, 404, "NoSuchBucket", "0015-00000101"},
		{"bucket exists", rawReq{method: "PUT", bucket: "raw-bkt"}, 409, "BucketAlreadyExists", "0015-00000104"},
		{"bucket not empty", rawReq{method: "DELETE", bucket: "raw-bkt"}, 409, "BucketNotEmpty", "0015-00000301"},
		{"forbid overwrite", rawReq{method: "PUT", bucket: "raw-bkt", key: "k", body: data,
			header: map[string]string{"x-oss-forbid-overwrite": "true"}}, 409, "FileAlreadyExists", "0026-00000201"},
		{"precondition", rawReq{method: "GET", bucket: "raw-bkt", key: "k", header: map[string]string{"If-Match": `"0"`}}, 412, "PreconditionFailed", ""},
		{"HEAD precondition", rawReq{method: "HEAD", bucket: "raw-bkt", key: "k", header: map[string]string{"If-Match": `"0"`}}, 412, "PreconditionFailed", ""},
		{"anonymous", rawReq{method: "GET", bucket: "raw-bkt", key: "k", anon: true}, 403, "AccessDenied", ""},
		{"HEAD anonymous", rawReq{method: "HEAD", bucket: "raw-bkt", key: "k", anon: true}, 403, "AccessDenied", ""},
		{"bad method", rawReq{method: "PATCH", bucket: "raw-bkt", key: "k"}, 405, "MethodNotAllowed", ""},
		{"not implemented", rawReq{method: "GET", bucket: "raw-bkt", sub: "cors"}, 501, "NotImplemented", ""},
		{"no length", rawReq{method: "PUT", bucket: "raw-bkt", key: "nl", noLength: true}, 411, "MissingContentLength", ""},
		{"bad argument", rawReq{method: "GET", bucket: "raw-bkt", sub: "max-keys=x"}, 400, "InvalidArgument", ""},
		{"bad key", rawReq{method: "GET", bucket: "raw-bkt", key: "/x"}, 400, "InvalidObjectName", ""},
		{"bad bucket", rawReq{method: "GET", bucket: "Bad_Bucket"}, 400, "InvalidBucketName", ""},
		{"no upload", rawReq{method: "GET", bucket: "raw-bkt", key: "k", sub: "uploadId=none"}, 404, "NoSuchUpload", ""},
	}
	for _, tc := range errorsWanted {
		resp, body := raw.do(t, tc.req)
		e := wantRawError(t, resp, body, tc.status, tc.code)
		wantRequestID(t, tc.name, resp.Header)
		if e.Message == "" || e.HostID == "" {
			t.Fatalf("%s: error without Message/HostId: %+v", tc.name, e)
		}
		if tc.req.method == "HEAD" && len(body) != 0 {
			t.Fatalf("%s: HEAD error has a body", tc.name)
		}
		if tc.ec != "" && (e.EC != tc.ec || resp.Header.Get("x-oss-ec") != tc.ec) {
			t.Fatalf("%s: EC %q, x-oss-ec %q, want %s", tc.name, e.EC, resp.Header.Get("x-oss-ec"), tc.ec)
		}
	}
	// The v1 SDK decodes HEAD errors from x-oss-err.
	_, err := b.GetObjectDetailedMeta("nope")
	wantCode(t, err, 404, "NoSuchKey")
}

// TestHardenSymlinkChains: a symlink whose target is a symlink is not
// followed (OSS: "the target object that a symbolic link directs to cannot
// be a symbolic link"; PutSymlink does not check, reads fail with 400).
func TestHardenSymlinkChains(t *testing.T) {
	_, raw, b := rawSetup(t)
	if err := b.PutObject("data", strings.NewReader("payload")); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"l1": "data", "l2": "l1", "self": "self", "dangling": "missing"} {
		if err := b.PutSymlink(link, target); err != nil {
			t.Fatalf("PutSymlink %s → %s: %v", link, target, err)
		}
	}
	body, _, _, err := getWhole(b, "l1")
	if err != nil || string(body) != "payload" {
		t.Fatalf("one-level link: %q %v", body, err)
	}
	for _, k := range []string{"l2", "self"} {
		_, err := b.GetObject(k)
		wantCode(t, err, 400, "InvalidTargetType")
		_, err = b.GetObjectDetailedMeta(k)
		wantCode(t, err, 400, "InvalidTargetType")
		resp, body := raw.do(t, rawReq{method: "HEAD", bucket: "raw-bkt", key: k})
		if len(body) != 0 {
			t.Fatalf("HEAD %s: body %q", k, body)
		}
		wantRawError(t, resp, body, 400, "InvalidTargetType")
		// The link itself stays readable as a link.
		h, err := b.GetSymlink(k)
		if err != nil {
			t.Fatalf("GetSymlink %s: %v", k, err)
		}
		if k == "l2" && h.Get("X-Oss-Symlink-Target") != "l1" {
			t.Fatalf("GetSymlink l2 target %q", h.Get("X-Oss-Symlink-Target"))
		}
	}
	_, err = b.GetObject("dangling")
	wantCode(t, err, 404, "NoSuchKey")
	if se := serviceError(t, err); se.Ec != "0026-00000012" {
		t.Fatalf("dangling link EC %q", se.Ec)
	}
	// Replacing the middle link with data makes the chain readable.
	if err := b.PutObject("l1", strings.NewReader("now data")); err != nil {
		t.Fatal(err)
	}
	body, _, _, err = getWhole(b, "l2")
	if err != nil || string(body) != "now data" {
		t.Fatalf("l2 after l1 became data: %q %v", body, err)
	}
	// A range through a link applies to the target.
	body, _, _, err = getWhole(b, "l2", oss.Range(0, 2))
	if err != nil || string(body) != "now" {
		t.Fatalf("ranged read through link: %q %v", body, err)
	}
}

// ---- random request generator (table fuzz + native fuzz target) ----

type fuzzEnv struct {
	env      *servertest.Env
	raw      rawEnv
	uploadID string
}

func setupFuzz(t testing.TB) *fuzzEnv {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "fz-bkt")
	if err := c.CreateBucket("fz-pub", oss.ACL(oss.ACLPublicReadWrite)); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k", "a/b", "dir/", "中文", "app"} {
		if err := b.PutObject(k, strings.NewReader("content of "+k)); err != nil {
			t.Fatal(err)
		}
	}
	_ = b.PutSymlink("l1", "k")
	_ = b.PutSymlink("l2", "l1")
	imur, err := b.InitiateMultipartUpload("mp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.UploadPart(imur, strings.NewReader("part one"), 8, 1); err != nil {
		t.Fatal(err)
	}
	return &fuzzEnv{env: env, raw: newRawEnv(env), uploadID: imur.UploadID}
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// genRequest builds a signed (or anonymous) request from r.
func (f *fuzzEnv) genRequest(r *rand.Rand) rawReq {
	vals := []string{"", "0", "-1", "1", "2", "abc", "99999999999999999999", "url", "URL", "null", "10001", "1000",
		"a b", "%", "中", f.uploadID, "k", "a/", "/", strings.Repeat("v", 1100)}
	subs := []string{"acl", "acl", "uploads", "uploads", "delete", "delete", "append", "symlink", "symlink", "objectMeta",
		"bucketInfo", "location", "stat", "tagging", "cors"}
	params := []string{"position", "uploadId", "partNumber", "versionId", "encoding-type", "max-keys", "marker", "prefix",
		"delimiter", "list-type", "continuation-token", "start-after", "fetch-owner", "max-uploads", "key-marker",
		"upload-id-marker", "max-parts", "part-number-marker", "response-content-type", "response-expires", "x-oss-process"}
	bucket := pick(r, []string{"", "fz-bkt", "fz-bkt", "fz-bkt", "fz-bkt", "fz-pub", "fz-pub", "fz-none", "Bad_Name"})
	key := pick(r, []string{"", "", "k", "a/b", "dir/", "中文", "l1", "l2", "mp", "app", "new", strings.Repeat("x", 1023),
		strings.Repeat("y", 1024), "/lead", "a//b/../c"})
	if bucket == "" {
		key = ""
	}
	// Mostly sub-resources that exist at the request's level, so that
	// requests get past routing into the handlers.
	levelSubs := map[bool][]string{
		true:  {"acl", "symlink", "objectMeta", "append&position=0", "append&position=28", "uploads", "uploadId=" + f.uploadID, "uploadId=" + f.uploadID + "&partNumber=1"},
		false: {"acl", "uploads", "delete", "bucketInfo", "location", "stat"},
	}
	var q []string
	used := map[string]bool{}
	for range pick(r, []int{0, 0, 0, 1, 1, 1, 1, 2, 2, 3}) {
		var p string
		switch r.IntN(3) {
		case 0:
			p = pick(r, subs)
		case 1:
			p = pick(r, levelSubs[key != ""])
		default:
			p = pick(r, params) + "=" + strings.ReplaceAll(escapeKey(pick(r, vals)), "%20", "+")
		}
		name, _, _ := strings.Cut(p, "=")
		if !used[name] { // duplicate parameters are the signer's problem, not the handler's
			used[name] = true
			q = append(q, p)
		}
	}
	if r.IntN(30) == 0 {
		q = append(q, "Action=ListKeys&Version=2016-01-20")
	}
	headerPool := map[string][]string{
		"Range":                        {"bytes=0-0", "bytes=-5", "bytes=5-1", "bytes=a-b", "bytes=0-99999999999999999999", "bytes=100-", "bytes=0-1,3-4", "items=0-1"},
		"If-Match":                     {"*", `"x"`, "garbage", `""`},
		"If-None-Match":                {"*", `"x"`},
		"If-Modified-Since":            {"garbage", "Mon, 02 Jan 2006 15:04:05 GMT", "Fri, 01 Jan 2100 00:00:00 GMT"},
		"If-Unmodified-Since":          {"yesterday", "Mon, 02 Jan 2006 15:04:05 GMT"},
		"x-oss-object-acl":             {"private", "public-read", "default", "bogus", ""},
		"x-oss-acl":                    {"public-read-write", "bogus"},
		"x-oss-storage-class":          {"IA", "Glacier", "archive"},
		"x-oss-forbid-overwrite":       {"true", "false", "maybe"},
		"x-oss-copy-source":            {"/fz-bkt/k", "/fz-bkt/", "garbage", "/nobkt/k", "/fz-bkt/k?versionId=x", "/fz-bkt/%ZZ", "/fz-bkt/l2", "/Bad_B/k", "/fz-bkt//x"},
		"x-oss-copy-source-range":      {"bytes=0-1", "bytes=5-2", "bytes=x", "bytes=0-99999999999"},
		"x-oss-metadata-directive":     {"REPLACE", "COPY", "junk"},
		"x-oss-tagging-directive":      {"REPLACE", "junk"},
		"x-oss-symlink-target":         {"k", "%ZZ", "/abs", "l1", strings.Repeat("t", 1024), "a%2Fb"},
		"x-oss-meta-a":                 {"v", strings.Repeat("m", 9000), "中文"},
		"x-oss-tagging":                {"a=b", "%ZZ", "a=1&a=2", strings.Repeat("k", 200) + "=v"},
		"Content-MD5":                  {"garbage", md5B64([]byte("x")), "AAAAAAAAAAAAAAAAAAAAAA=="},
		"x-oss-complete-all":           {"yes", "no"},
		"x-oss-range-behavior":         {"standard", "weird"},
		"Content-Type":                 {"application/xml", "text/plain; charset=utf-8", "application/x-www-form-urlencoded"},
		"Content-Encoding":             {"gzip"},
		"x-oss-server-side-encryption": {"AES256", "KMS"},
		"Expect":                       {"100-continue"},
	}
	names := make([]string, 0, len(headerPool))
	for k := range headerPool {
		names = append(names, k)
	}
	sortStrings(names)
	hdr := map[string]string{}
	for range r.IntN(5) {
		n := pick(r, names)
		hdr[n] = pick(r, headerPool[n])
	}
	bodies := []string{"", "x", "<Delete><Object><Key>k</Key></Object></Delete>",
		"<Delete><Quiet>true</Quiet><Object><Key>a/b</Key></Object><Object><Key>/bad</Key></Object></Delete>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
		"<CreateBucketConfiguration><StorageClass>IA</StorageClass></CreateBucketConfiguration>",
		"<CreateBucketConfiguration><DataRedundancyType>ZRS</DataRedundancyType></CreateBucketConfiguration>",
		"<!DOCTYPE x [<!ENTITY e 'e'>]><Delete>&e;</Delete>", "Action=ListKeys&Version=2016-01-20"}
	body := []byte(pick(r, bodies))
	if r.IntN(5) == 0 {
		body = randBytes(r.IntN(3000), r.Uint64())
	}
	if hdr["Content-MD5"] == md5B64([]byte("x")) {
		hdr["Content-MD5"] = md5B64(body) // sometimes the right digest
	}
	return rawReq{
		method: pick(r, []string{"GET", "GET", "GET", "HEAD", "HEAD", "PUT", "PUT", "PUT", "POST", "POST", "DELETE", "DELETE", "OPTIONS", "PATCH"}),
		bucket: bucket,
		key:    key,
		sub:    strings.Join(q, "&"),
		header: hdr,
		body:   body,
		anon:   r.IntN(10) == 0,
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// serve runs one generated request through the handler in-process and
// checks the response invariants.
func (f *fuzzEnv) serve(t testing.TB, rq rawReq) {
	t.Helper()
	msg := f.raw.build(rq)
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(msg)))
	if err != nil {
		return // not a parseable HTTP request: net/http would refuse it
	}
	req.RemoteAddr = "127.0.0.1:40000"
	w := httptest.NewRecorder()
	f.env.Server.ServeHTTP(w, req)
	res := w.Result()
	what := fmt.Sprintf("%s %s [%v]", rq.method, req.URL.RequestURI(), rq.header)
	wantRequestID(t, what, res.Header)
	body := w.Body.Bytes()
	if rq.method == "HEAD" && len(body) != 0 {
		t.Fatalf("%s: HEAD response with a body", what)
	}
	if res.StatusCode < 300 {
		return
	}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		// A POP RPC request (Action and Version on the service root) is
		// answered by the built-in KMS in its own JSON error format.
		var e struct {
			Code, Message string
			RequestID     string `json:"RequestId"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Code == "" || e.Message == "" {
			t.Fatalf("%s: %d with an unparsable POP error %q", what, res.StatusCode, body)
		}
		if res.StatusCode >= 500 {
			t.Fatalf("%s: %d %s: %s", what, res.StatusCode, e.Code, e.Message)
		}
		return
	}
	doc := body
	if len(doc) == 0 {
		doc, err = base64.StdEncoding.DecodeString(res.Header.Get("x-oss-err"))
		if err != nil || len(doc) == 0 {
			t.Fatalf("%s: %d without an error document", what, res.StatusCode)
		}
	}
	var e errorDoc
	if err := xml.Unmarshal(doc, &e); err != nil {
		t.Fatalf("%s: %d with an unparsable error document %q", what, res.StatusCode, doc)
	}
	if e.Code == "" || e.Message == "" || e.HostID == "" || e.RequestID != res.Header.Get("x-oss-request-id") {
		t.Fatalf("%s: incomplete error document %+v", what, e)
	}
	if res.StatusCode >= 500 && (res.StatusCode != 501 || e.Code != "NotImplemented") {
		t.Fatalf("%s: %d %s: %s", what, res.StatusCode, e.Code, e.Message)
	}
}

// TestHardenRandomRequestsNever5xx throws random, validly signed
// combinations of methods, paths, sub-resources, parameters, headers and
// bodies at the handler: no client mistake may produce a 5xx (501
// NotImplemented aside), and every response is identified and well-formed.
func TestHardenRandomRequestsNever5xx(t *testing.T) {
	f := setupFuzz(t)
	n := 5000
	if testing.Short() {
		n = 1000
	}
	r := rand.New(rand.NewPCG(20260601, 7))
	for range n {
		f.serve(t, f.genRequest(r))
	}
}

// FuzzHandler is the same property as a native fuzz target:
// go test -run '^$' -fuzz FuzzHandler ./internal/server
func FuzzHandler(fz *testing.F) {
	f := setupFuzz(fz)
	for _, s := range []uint64{1, 2, 3, 42, 20260601} {
		fz.Add(s, uint8(3))
	}
	fz.Fuzz(func(t *testing.T, seed uint64, n uint8) {
		r := rand.New(rand.NewPCG(seed, uint64(n)))
		for range int(n%8) + 1 {
			f.serve(t, f.genRequest(r))
		}
	})
}
