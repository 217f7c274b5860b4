package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ossctl/ossctl/internal/auth"
	"github.com/ossctl/ossctl/internal/store"
)

func testServer(t *testing.T, lookup auth.Lookup, logger *slog.Logger) *Server {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if lookup == nil {
		lookup = func(string) (*auth.Credential, bool) { return nil, false }
	}
	s, err := New(Config{Store: st, Lookup: lookup, AccountID: "1", Region: "cn-test", Domains: []string{"oss.example.com."}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New accepted an empty config")
	}
}

func TestRoute(t *testing.T) {
	s := testServer(t, nil, nil)
	cases := []struct {
		host, uri   string
		bucket, key string
		vhost       bool
		fail        bool
	}{
		{"127.0.0.1:9000", "/", "", "", false, false},
		{"127.0.0.1:9000", "/bkt", "bkt", "", false, false},
		{"127.0.0.1:9000", "/bkt/", "bkt", "", false, false},
		{"127.0.0.1:9000", "/bkt/a%2Fb", "bkt", "a/b", false, false},
		{"127.0.0.1:9000", "/bkt/a+b%20c", "bkt", "a+b c", false, false},
		{"127.0.0.1:9000", "/bkt/a//b/../c/", "bkt", "a//b/../c/", false, false},
		{"127.0.0.1:9000", "/bkt/%252F", "bkt", "%2F", false, false},
		{"[::1]:9000", "/bkt/k", "bkt", "k", false, false},
		{"bkt.localhost:9000", "/", "bkt", "", true, false},
		{"bkt.localhost", "/dir/a%2Bb", "bkt", "dir/a+b", true, false},
		{"BKT.LOCALHOST:1", "/x", "bkt", "x", true, false},
		{"bkt.oss.example.com", "//x", "bkt", "/x", true, false},
		{"localhost:9000", "/bkt/k", "bkt", "k", false, false},
		{"example.org", "/bkt/k", "bkt", "k", false, false},
		{"127.0.0.1", "//k", "", "", false, true},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "http://"+tc.host+tc.uri, nil)
		r.Host = tc.host
		rc := &reqCtx{s: s, r: r}
		err := s.route(rc)
		if (err != nil) != tc.fail {
			t.Errorf("%s%s: err %v", tc.host, tc.uri, err)
			continue
		}
		if !tc.fail && (rc.bucket != tc.bucket || rc.key != tc.key || rc.vhost != tc.vhost) {
			t.Errorf("%s%s: got (%q, %q, %v), want (%q, %q, %v)", tc.host, tc.uri, rc.bucket, rc.key, rc.vhost, tc.bucket, tc.key, tc.vhost)
		}
	}
}

func TestParseRange(t *testing.T) {
	type want struct {
		start, n int64
		partial  bool
		status   int
	}
	cases := []struct {
		spec     string
		size     int64
		standard bool
		want     want
	}{
		{"", 10, false, want{0, 10, false, 0}},
		{"bytes=0-0", 10, false, want{0, 1, true, 0}},
		{"bytes=2-", 10, false, want{2, 8, true, 0}},
		{"bytes=-3", 10, false, want{7, 3, true, 0}},
		{"bytes=5-20", 10, false, want{0, 10, false, 0}},
		{"bytes=5-20", 10, true, want{5, 5, true, 0}},
		{"bytes=10-", 10, false, want{0, 10, false, 0}},
		{"bytes=10-", 10, true, want{0, 0, false, 416}},
		{"bytes=-0", 10, true, want{0, 0, false, 416}},
		{"bytes=-11", 10, false, want{0, 10, false, 0}},
		{"bytes=-11", 10, true, want{0, 10, true, 0}},
		{"bytes=0-1,3-4", 10, false, want{0, 10, false, 0}},
		{"bytes=0-1,3-4", 10, true, want{0, 0, false, 416}},
		{"bytes=a-b", 10, true, want{0, 10, false, 0}},
		{"items=0-1", 10, true, want{0, 10, false, 0}},
		{"bytes=0-0", 0, false, want{0, 0, false, 0}},
		{"bytes=0-0", 0, true, want{0, 0, false, 416}},
	}
	for _, tc := range cases {
		got, err := parseRange(tc.spec, tc.size, tc.standard)
		status := 0
		var ae *apiError
		if errors.As(err, &ae) {
			status = ae.Status
		} else if err != nil {
			t.Fatalf("parseRange(%q): %v is not an *apiError", tc.spec, err)
		}
		if status != tc.want.status || (status == 0 && (got.start != tc.want.start || got.length != tc.want.n || got.partial != tc.want.partial)) {
			t.Errorf("parseRange(%q, %d, %v) = %+v, %d; want %+v", tc.spec, tc.size, tc.standard, got, status, tc.want)
		}
	}
}

func TestPreconditions(t *testing.T) {
	mod := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	at := func(d time.Duration) string { return mod.Add(d).Format(http.TimeFormat) }
	cases := []struct {
		h    http.Header
		want int
	}{
		{h(), 0},
		{h("If-Match", `"ABC"`), 0},
		{h("If-Match", `"abc", "x"`), 0},
		{h("If-Match", "*"), 0},
		{h("If-Match", `"X"`), 412},
		{h("If-None-Match", `"ABC"`), 304},
		{h("If-None-Match", `"X"`), 0},
		{h("If-Modified-Since", at(0)), 304},
		{h("If-Modified-Since", at(-time.Second)), 0},
		{h("If-Unmodified-Since", at(-time.Second)), 412},
		{h("If-Unmodified-Since", at(0)), 0},
		{h("If-Match", `"ABC"`, "If-Unmodified-Since", at(-time.Hour)), 0}, // If-Match wins
		{h("If-None-Match", `"X"`, "If-Modified-Since", at(time.Hour)), 0}, // If-None-Match wins
	}
	for i, tc := range cases {
		if got := preconditions(tc.h, "ABC", mod, ""); got != tc.want {
			t.Errorf("case %d %v: %d, want %d", i, tc.h, got, tc.want)
		}
	}
}

func TestURLEncodeRoundTrip(t *testing.T) {
	for _, s := range []string{"", "a b+c%d/e", "日本/語", "~-_.", "\x01\x7f", "é\u0301"} {
		enc := urlEncode(s)
		if strings.ContainsAny(enc, " +/") {
			t.Errorf("urlEncode(%q) = %q keeps reserved characters", s, enc)
		}
		dec, err := url.QueryUnescape(enc)
		if err != nil || dec != s {
			t.Errorf("QueryUnescape(urlEncode(%q)) = %q, %v", s, dec, err)
		}
	}
	tok := encodeToken("a b/ü+%")
	if un, _ := url.QueryUnescape(tok); un != tok {
		t.Fatalf("token %q changes under URL decoding", tok)
	}
	if m, err := decodeToken(tok); err != nil || m != "a b/ü+%" {
		t.Fatalf("decodeToken = %q, %v", m, err)
	}
}

func TestDecodeXML(t *testing.T) {
	var v struct {
		XMLName struct{} `xml:"Root"`
		A       string   `xml:"A"`
	}
	ok := []string{"<Root><A>x</A></Root>", `<?xml version="1.0" encoding="UTF-8"?>` + "\n<Root><!-- c --><A>x</A></Root>\n"}
	for _, s := range ok {
		if err := decodeXML([]byte(s), &v); err != nil || v.A != "x" {
			t.Errorf("decodeXML(%q) = %v (A=%q)", s, err, v.A)
		}
	}
	bad := []string{"", "  ", "<Root>", "<Other/>", "<Root/>junk", "<Root/><Root/>",
		`<!DOCTYPE Root [<!ENTITY a "aaaa">]><Root><A>&a;</A></Root>`, "<Root><A>&undefined;</A></Root>",
		`<?xml version="1.0" encoding="ISO-8859-1"?><Root/>`,
		"<Root>" + strings.Repeat("<A>", maxXMLDepth) + strings.Repeat("</A>", maxXMLDepth) + "</Root>"}
	for _, s := range bad {
		var ae *apiError
		if err := decodeXML([]byte(s), &v); !errors.As(err, &ae) || ae.Code != "MalformedXML" {
			t.Errorf("decodeXML(%.80q) = %v, want MalformedXML", s, err)
		}
	}
	// maxXMLDepth itself is fine.
	deepOK := "<Root>" + strings.Repeat("<B>", maxXMLDepth-1) + strings.Repeat("</B>", maxXMLDepth-1) + "</Root>"
	if err := decodeXML([]byte(deepOK), &v); err != nil {
		t.Errorf("depth %d refused: %v", maxXMLDepth, err)
	}
}

func TestAuthorizeMatrix(t *testing.T) {
	s := testServer(t, nil, nil)
	root := &auth.Principal{Root: true, AccountID: "1", AccessKeyID: "AK"}
	other := &auth.Principal{Root: true, AccountID: "2", AccessKeyID: "AK2"}
	ram := &auth.Principal{AccountID: "1", UserName: "u", AccessKeyID: "AK3"}
	anonP := &auth.Principal{Anonymous: true}
	bucket := func(acl string) *store.Bucket { return &store.Bucket{Name: "b", ACL: acl, Owner: "1"} }
	obj := func(acl string) *store.Object { return &store.Object{Key: "k", ACL: acl} }
	cases := []struct {
		p      *auth.Principal
		action string
		b      *store.Bucket
		o      *store.Object
		allow  bool
	}{
		{root, actDeleteBucket, bucket("private"), nil, true},
		{root, actListBuckets, nil, nil, true},
		{anonP, actListBuckets, nil, nil, false},
		{nil, actGetObject, bucket("public-read"), nil, true},
		{other, actGetObject, bucket("private"), nil, false},
		{other, actGetObject, bucket("public-read"), nil, true},
		{other, actPutBucketACL, bucket("public-read-write"), nil, false},
		{ram, actGetObject, bucket("private"), nil, false},
		{anonP, actPutObject, bucket("public-read"), nil, false},
		{anonP, actPutObject, bucket("public-read-write"), nil, true},
		{anonP, actGetObject, bucket("private"), obj("public-read"), true},
		{anonP, actGetObject, bucket("public-read"), obj("private"), false},
		{anonP, actGetObject, bucket("public-read"), obj(""), true},
		{anonP, actGetObject, bucket("public-read"), obj("default"), true},
		{anonP, actDeleteObject, bucket("private"), obj("public-read-write"), true},
		{anonP, actGetObjectACL, bucket("public-read-write"), obj(""), false},
		{anonP, actGetObject, bucket(""), nil, false},
	}
	for i, tc := range cases {
		err := s.authorize(tc.p, tc.action, tc.b, "k", tc.o)
		if (err == nil) != tc.allow {
			t.Errorf("case %d (%s): err %v, want allow=%v", i, tc.action, err, tc.allow)
		}
		if err != nil && !strings.Contains(err.Error(), "AccessDenied") {
			t.Errorf("case %d: %v", i, err)
		}
	}
}

type countingHandler struct{ errors atomic.Int32 }

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelError {
		h.errors.Add(1)
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func TestPanicBecomesInternalError(t *testing.T) {
	logs := &countingHandler{}
	s := testServer(t, func(string) (*auth.Credential, bool) { panic("lookup exploded") }, slog.New(logs))
	r := httptest.NewRequest("GET", "http://127.0.0.1/bkt/key", nil)
	r.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	r.Header.Set("Authorization", "OSS AK:c2lnbmF0dXJl")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 500 || !strings.Contains(w.Body.String(), "<Code>InternalError</Code>") || len(w.Header().Get("x-oss-request-id")) != 24 {
		t.Fatalf("panic response %d %s", w.Code, w.Body.String())
	}
	if logs.errors.Load() == 0 {
		t.Fatal("panic was not logged")
	}
}

func TestErrorBodyEscapesAndOrders(t *testing.T) {
	e := errInvalidArgument("x-oss-meta-<a>", `"&'`, "bad <value>")
	body := string(errorBody(e, "RID", "host"))
	wantOrder := []string{"<Code>InvalidArgument</Code>", "<Message>bad &lt;value&gt;</Message>", "<RequestId>RID</RequestId>",
		"<HostId>host</HostId>", "<ArgumentName>x-oss-meta-&lt;a&gt;</ArgumentName>", "<ArgumentValue>&#34;&amp;&#39;</ArgumentValue>"}
	pos := 0
	for _, w := range wantOrder {
		i := strings.Index(body[pos:], w)
		if i < 0 {
			t.Fatalf("error body lacks %s in order:\n%s", w, body)
		}
		pos += i
	}
}

// cutReader yields data, then fails like net/http's chunked reader when a
// connection ends mid-chunk.
type cutReader struct{ data []byte }

func (c *cutReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, c.data)
	c.data = c.data[n:]
	return n, nil
}

func TestReceiveBodyRefusesCutChunkedBody(t *testing.T) {
	s := testServer(t, nil, nil)
	r := httptest.NewRequest("PUT", "http://127.0.0.1/bkt/key", io.NopCloser(&cutReader{data: make([]byte, 200<<10)}))
	r.ContentLength = -1
	r.TransferEncoding = []string{"chunked"}
	r.Header.Del("Content-Length")
	rc := &reqCtx{s: s, r: r, w: &responseWriter{ResponseWriter: httptest.NewRecorder()}}
	blob, err := rc.receiveBody(maxSinglePut, nil)
	if err == nil {
		blob.Abort()
		t.Fatal("a chunked body cut off mid-stream was accepted")
	}
	if !errors.Is(err, errBodyIncomplete) {
		t.Fatalf("err %v, want errBodyIncomplete", err)
	}
}

func TestCheckSingularHeaders(t *testing.T) {
	h := http.Header{}
	h.Add("x-oss-object-acl", "private")
	h.Add("x-oss-object-acl", "private")
	h.Add("x-oss-meta-a", "1")
	h.Add("x-oss-meta-a", "2")
	if err := checkSingularHeaders(h); err != nil {
		t.Fatalf("identical repeats / repeated metadata refused: %v", err)
	}
	h.Add("Range", "bytes=0-1")
	h.Add("Range", "bytes=2-3")
	err := checkSingularHeaders(h)
	var ae *apiError
	if !errors.As(err, &ae) || ae.Code != "InvalidArgument" || ae.Status != 400 {
		t.Fatalf("conflicting Range accepted: %v", err)
	}
}

func TestDispatchUnknownCombinations(t *testing.T) {
	s := testServer(t, nil, nil)
	cases := []struct {
		method, target string
		status         int
		code           string
	}{
		{"GET", "/bkt/key?delete", 405, "MethodNotAllowed"},     // implemented elsewhere: a client mistake
		{"PUT", "/bkt/key?uploads", 405, "MethodNotAllowed"},    // Initiate is POST
		{"GET", "/bkt/?objectMeta", 405, "MethodNotAllowed"},    // an object-level operation
		{"GET", "/bkt/?lifecycle", 501, "NotImplemented"},       // an OSS feature not here
		{"PUT", "/bkt/key?tagging", 501, "NotImplemented"},      // idem
		{"GET", "/bkt/key?acl&symlink", 400, "InvalidArgument"}, // two operations at once
		{"GET", "/bkt/key?acl&tagging", 501, "NotImplemented"},  // one of them not here
		{"POST", "/bkt/", 501, "NotImplemented"},                // PostObject
		{"PATCH", "/bkt/key", 405, "MethodNotAllowed"},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(tc.method, "http://127.0.0.1"+tc.target, nil)
		q, _ := url.ParseQuery(r.URL.RawQuery)
		rc := &reqCtx{s: s, r: r, w: &responseWriter{ResponseWriter: httptest.NewRecorder()}, query: q}
		if err := s.route(rc); err != nil {
			t.Fatal(err)
		}
		err := s.dispatch(rc)
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status != tc.status || ae.Code != tc.code {
			t.Errorf("%s %s: %v, want %d %s", tc.method, tc.target, err, tc.status, tc.code)
		}
	}
}

func TestStallGuardWithoutDeadlineSupport(t *testing.T) {
	// A ResponseWriter without deadline support (a recorder, some
	// proxies) must not break requests: the guard switches itself off.
	g := &stallGuard{ctl: http.NewResponseController(httptest.NewRecorder()), timeout: time.Second}
	g.beforeRead()
	g.beforeWrite()
	g.bodyDone()
	g.release()
	if !g.readOff || !g.writeOff {
		t.Fatalf("guard still active without deadline support: %+v", g)
	}
	body := &stallBody{ReadCloser: io.NopCloser(strings.NewReader("abc")), g: g}
	if b, err := io.ReadAll(body); err != nil || string(b) != "abc" {
		t.Fatalf("read through a disabled guard: %q %v", b, err)
	}
}
