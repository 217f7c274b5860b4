package auth

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

var fixedNow = time.Date(2026, 11, 22, 11, 12, 50, 0, time.UTC)

// newReq builds a server-side-looking request: RequestURI, Host, URL.
func newReq(method, target string, header map[string]string) *http.Request {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		panic(err)
	}
	r := &http.Request{Method: method, URL: u, RequestURI: target, Host: "127.0.0.1:9000", Header: http.Header{}}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	return r
}

func b64HMACSHA1(secret, msg string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func hexV4(secret, date, region, sts string) string {
	mac := func(k []byte, s string) []byte {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	k := mac([]byte("aliyun_v4"+secret), date)
	k = mac(k, region)
	k = mac(k, "oss")
	k = mac(k, "aliyun_v4_request")
	return hex.EncodeToString(mac(k, sts))
}

func TestAnonymous(t *testing.T) {
	for _, target := range []string{"/bkt1/obj", "/bkt1/?acl", "/bkt1/o?prefix=%zz&x=%", "/?Expires=1"} {
		p, err := Verify(newReq("GET", target, nil), "bkt1", "obj", fixedNow, testLookup)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		if !p.Anonymous || p.Scheme != SchemeAnonymous || p.AccessKeyID != "" {
			t.Fatalf("%s: principal %+v", target, p)
		}
	}
	// nil lookup is fine for anonymous requests.
	if _, err := Verify(newReq("GET", "/", nil), "", "", fixedNow, nil); err != nil {
		t.Fatal(err)
	}
}

func TestMalformedAuthorization(t *testing.T) {
	date := fixedNow.Format(http.TimeFormat)
	bad := []string{
		"", "OSS", "OSS ", "OSS ak", "OSS :sig", "OSS ak:", "OSS a k:sig", "Bearer token", "oss ak:sig", "AWS ak:sig",
		"OSS4-HMAC-SHA256", "OSS4-HMAC-SHA256 ", "OSS4-HMAC-SHA256 Signature=abcd",
		"OSS4-HMAC-SHA256 Credential=" + rootAK + "/20261122/cn-hangzhou/oss/aliyun_v4_request",
		"OSS4-HMAC-SHA256 Credential=" + rootAK + "/2026-11-22/cn-hangzhou/oss/aliyun_v4_request,Signature=00",
		"OSS4-HMAC-SHA256 Credential=" + rootAK + "/20261122/cn-hangzhou/oss/aws4_request,Signature=00",
		"OSS4-HMAC-SHA256 Credential=/20261122/cn-hangzhou/oss/aliyun_v4_request,Signature=00",
		"OSS4-HMAC-SHA256 Credential=" + rootAK + "/20261122//oss/aliyun_v4_request,Signature=00",
		"OSS4-HMAC-SHA256 Credential=" + rootAK + ",Signature=00",
		"OSS4-HMAC-SHA256 Credential=a/20261122/r/oss/aliyun_v4_request,Credential=b/20261122/r/oss/aliyun_v4_request,Signature=00",
		"OSS4-HMAC-SHA256 Credential=a/20261122/r/oss/aliyun_v4_request,Signature",
		"OSS4-HMAC-SHA256 Credential=a/20261122/r/oss/aliyun_v4_request,Signature=00,Bogus=1",
		"OSS4-HMAC-SHA256 Credential=a/20261122/r/oss/aliyun_v4_request,AdditionalHeaders=host;;x,Signature=00",
		"OSS2 AccessKeyId:" + rootAK, "OSS2 Signature:abc", "OSS2 AccessKeyId:a,AccessKeyId:b,Signature:c", "OSS2 junk",
	}
	for _, a := range bad {
		r := newReq("GET", "/bkt1/obj", map[string]string{"Date": date})
		r.Header["Authorization"] = []string{a}
		p, err := Verify(r, "bkt1", "obj", fixedNow, testLookup)
		if p != nil {
			t.Fatalf("%q: got principal %+v", a, p)
		}
		wantCode(t, err, http.StatusBadRequest, CodeInvalidArgument)
	}
	r := newReq("GET", "/bkt1/obj", map[string]string{"Date": date})
	r.Header["Authorization"] = []string{"OSS a:b", "OSS c:d"}
	_, err := Verify(r, "bkt1", "obj", fixedNow, testLookup)
	wantCode(t, err, http.StatusBadRequest, CodeInvalidArgument)
}

func TestBadPresignParameters(t *testing.T) {
	exp := strconv.FormatInt(fixedNow.Unix()+60, 10)
	d := fixedNow.Format(iso8601Basic)
	cred := url.QueryEscape(rootAK + "/20261122/cn-hangzhou/oss/aliyun_v4_request")
	v4 := "x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-credential=" + cred
	cases := []struct {
		query  string
		status int
		code   string
	}{
		{"OSSAccessKeyId=" + rootAK + "&Expires=" + exp, 400, CodeInvalidArgument},
		{"Signature=abc&Expires=" + exp, 400, CodeInvalidArgument},
		{"OSSAccessKeyId=" + rootAK + "&Signature=abc", 400, CodeInvalidArgument},
		{"OSSAccessKeyId=" + rootAK + "&Expires=soon&Signature=abc", 400, CodeInvalidArgument},
		{"OSSAccessKeyId=" + rootAK + "&OSSAccessKeyId=x&Expires=" + exp + "&Signature=abc", 400, CodeInvalidArgument},
		{"OSSAccessKeyId=" + rootAK + "&Expires=" + exp + "&Signature=abc&x=%zz", 400, CodeInvalidArgument},
		{"OSSAccessKeyId=" + rootAK + "&Expires=" + strconv.FormatInt(fixedNow.Unix()-1, 10) + "&Signature=abc", 403, CodeAccessDenied},
		{"OSSAccessKeyId=nobody&Expires=" + exp + "&Signature=abc", 403, CodeInvalidAccessKeyID},
		{"OSSAccessKeyId=" + rootAK + "&Expires=" + exp + "&Signature=abc", 403, CodeSignatureDoesNotMatch},
		{"OSSAccessKeyId=" + rootAK + "&Expires=" + exp + "&Signature=abc&x-oss-signature-version=OSS4-HMAC-SHA256", 400, CodeInvalidArgument},
		{"x-oss-signature-version=OSS9", 400, CodeInvalidArgument},
		{v4 + "&x-oss-date=" + d + "&x-oss-expires=60", 400, CodeInvalidArgument},
		{v4 + "&x-oss-date=" + d + "&x-oss-signature=00", 400, CodeInvalidArgument},
		{v4 + "&x-oss-expires=60&x-oss-signature=00", 400, CodeInvalidArgument},
		{"x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-date=" + d + "&x-oss-expires=60&x-oss-signature=00", 400, CodeInvalidArgument},
		{v4 + "&x-oss-date=2026-11-22&x-oss-expires=60&x-oss-signature=00", 400, CodeInvalidArgument},
		{v4 + "&x-oss-date=" + d + "&x-oss-expires=-1&x-oss-signature=00", 400, CodeInvalidArgument},
		{v4 + "&x-oss-date=" + d + "&x-oss-expires=604801&x-oss-signature=00", 400, CodeInvalidArgument},
		{v4 + "&x-oss-date=" + d + "&x-oss-expires=abc&x-oss-signature=00", 400, CodeInvalidArgument},
		{v4 + "&x-oss-date=" + fixedNow.Add(-2*time.Minute).Format(iso8601Basic) + "&x-oss-expires=60&x-oss-signature=00", 403, CodeAccessDenied},
		{v4 + "&x-oss-date=" + fixedNow.Add(20*time.Minute).Format(iso8601Basic) + "&x-oss-expires=60&x-oss-signature=00", 403, CodeAccessDenied},
		{v4 + "&x-oss-date=" + d + "&x-oss-expires=604800&x-oss-signature=00", 403, CodeSignatureDoesNotMatch},
		{v4 + "&x-oss-date=" + d + "&x-oss-expires=60&x-oss-signature=nothex", 403, CodeSignatureDoesNotMatch},
		{strings.Replace(v4, "LTAI5tRootKey000001", "nobody", 1) + "&x-oss-date=" + d + "&x-oss-expires=60&x-oss-signature=00", 403, CodeInvalidAccessKeyID},
		{"x-oss-signature-version=OSS2&x-oss-access-key-id=" + rootAK + "&x-oss-expires=" + exp, 400, CodeInvalidArgument},
		{"x-oss-signature-version=OSS2&x-oss-access-key-id=" + rootAK + "&x-oss-expires=1&x-oss-signature=a", 403, CodeAccessDenied},
	}
	for _, c := range cases {
		_, err := Verify(newReq("GET", "/bkt1/obj?"+c.query, nil), "bkt1", "obj", fixedNow, testLookup)
		if err == nil {
			t.Fatalf("%s: accepted", c.query)
		}
		if ae := wantCodeQuiet(err); ae == nil || ae.Status != c.status || ae.Code != c.code {
			t.Fatalf("%s: got %v, want %d %s", c.query, err, c.status, c.code)
		}
	}
}

// wantCodeQuiet returns err's *Error, or nil when it has none.
func wantCodeQuiet(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

func TestHeaderAuthConflicts(t *testing.T) {
	date := fixedNow.Format(http.TimeFormat)
	r := newReq("GET", "/bkt1/obj?OSSAccessKeyId=a&Expires=1&Signature=b", map[string]string{"Date": date, "Authorization": "OSS a:b"})
	_, err := Verify(r, "bkt1", "obj", fixedNow, testLookup)
	wantCode(t, err, http.StatusBadRequest, CodeInvalidArgument)

	r = newReq("GET", "/bkt1/obj?security-token=one", map[string]string{"Date": date, "Authorization": "OSS " + rootAK + ":b",
		"X-Oss-Security-Token": "two"})
	_, err = Verify(r, "bkt1", "obj", fixedNow, testLookup)
	wantCode(t, err, http.StatusBadRequest, CodeInvalidArgument)
}

// TestV1KnownAnswer signs hand-written strings to sign (the PROTOCOL.md
// rules, written out literally) and checks Verify accepts them, and that on
// mismatch it reports exactly that string.
func TestV1KnownAnswer(t *testing.T) {
	date := "Sun, 22 Nov 2026 11:12:50 GMT"
	cases := []struct {
		name, method, target, bucket, key string
		header                            map[string]string
		sts                               string
	}{
		{
			name: "object with sub-resources", method: "PUT",
			target: "/bkt1/dir%2Fa%2Bb%20c.txt?uploadId=u%2B1&partNumber=2&prefix=ignored&x-oss-process=a%2Cb&acl",
			bucket: "bkt1", key: "dir/a+b c.txt",
			header: map[string]string{"Date": date, "Content-Type": "text/plain", "Content-Md5": "abc==",
				"X-Oss-Meta-B": "2", "X-Oss-Meta-A": "1"},
			sts: "PUT\nabc==\ntext/plain\n" + date + "\nx-oss-meta-a:1\nx-oss-meta-b:2\n" +
				"/bkt1/dir/a+b c.txt?acl&partNumber=2&uploadId=u+1&x-oss-process=a,b",
		},
		{
			name: "service", method: "GET", target: "/?prefix=a", bucket: "", key: "",
			header: map[string]string{"Date": date},
			sts:    "GET\n\n\n" + date + "\n/",
		},
		{
			name: "bucket", method: "GET", target: "/bkt1/?acl=", bucket: "bkt1", key: "",
			header: map[string]string{"Date": date},
			sts:    "GET\n\n\n" + date + "\n/bkt1/?acl",
		},
		{
			// ali-oss: no Date header, x-oss-date (RFC 1123) in the Date slot
			// and among the canonical headers.
			name: "x-oss-date only", method: "GET", target: "/bkt1/k", bucket: "bkt1", key: "k",
			header: map[string]string{"X-Oss-Date": date},
			sts:    "GET\n\n\n" + date + "\nx-oss-date:" + date + "\n/bkt1/k",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newReq(c.method, c.target, c.header)
			r.Header.Set("Authorization", "OSS "+rootAK+":"+b64HMACSHA1(rootSecret, c.sts))
			p, err := Verify(r, c.bucket, c.key, fixedNow, testLookup)
			if err != nil {
				t.Fatalf("Verify: %v (server string: %q)", err, wantCodeQuiet(err).StringToSign)
			}
			if p.Scheme != SchemeV1 || !p.Root {
				t.Fatalf("principal %+v", p)
			}
			r.Header.Set("Authorization", "OSS "+rootAK+":"+b64HMACSHA1("wrong", c.sts))
			_, err = Verify(r, c.bucket, c.key, fixedNow, testLookup)
			ae := wantCode(t, err, http.StatusForbidden, CodeSignatureDoesNotMatch)
			if ae.StringToSign != c.sts || ae.EC != ecSignatureMismatchV1 {
				t.Fatalf("StringToSign = %q, want %q", ae.StringToSign, c.sts)
			}
		})
	}
}

// TestV1RetriesStrictList: the v1 SDK signs an x-oss-* query parameter only
// when its list has it; a request signed that way still verifies.
func TestV1RetriesStrictList(t *testing.T) {
	date := fixedNow.Format(http.TimeFormat)
	r := newReq("GET", "/bkt1/k?x-oss-unlisted=1&acl", map[string]string{"Date": date})
	strict := "GET\n\n\n" + date + "\n/bkt1/k?acl"
	r.Header.Set("Authorization", "OSS "+rootAK+":"+b64HMACSHA1(rootSecret, strict))
	if _, err := Verify(r, "bkt1", "k", fixedNow, testLookup); err != nil {
		t.Fatal(err)
	}
	// v2 rule: x-oss-* signed, but "live" (v1-only) not.
	r = newReq("GET", "/bkt1/?live&x-oss-a=b", map[string]string{"Date": date})
	v2 := "GET\n\n\n" + date + "\n/bkt1/?x-oss-a=b"
	r.Header.Set("Authorization", "OSS "+rootAK+":"+b64HMACSHA1(rootSecret, v2))
	if _, err := Verify(r, "bkt1", "", fixedNow, testLookup); err != nil {
		t.Fatal(err)
	}
	// The unsigned x-oss-security-token query parameter is not surfaced
	// when the request only verifies under the strict list.
	r = newReq("GET", "/bkt1/k?x-oss-security-token=tok", map[string]string{"Date": date})
	r.Header.Set("Authorization", "OSS "+rootAK+":"+b64HMACSHA1(rootSecret, "GET\n\n\n"+date+"\n/bkt1/k"))
	p, err := Verify(r, "bkt1", "k", fixedNow, testLookup)
	if err != nil {
		t.Fatal(err)
	}
	if p.SecurityToken != "" {
		t.Fatalf("unsigned token surfaced: %q", p.SecurityToken)
	}
}

// TestV4KnownAnswer checks the canonical request against a literal one.
func TestV4KnownAnswer(t *testing.T) {
	cases := []struct {
		name, target, key string
		header            map[string]string
		additional        string
		timestamp         string
		canon             string
	}{
		{
			name:   "x-oss-date, additional headers, query re-encoding",
			target: "/bkt1/a%20b/%E6%97%A5+c~*?z=1&acl&empty=&sp=a+b&sl=x%2Fy&ast=*",
			key:    "a b/日+c~*",
			header: map[string]string{"X-Oss-Date": "20261122T111250Z", "Date": "Sun, 22 Nov 2026 11:12:50 GMT",
				"X-Oss-Content-Sha256": "UNSIGNED-PAYLOAD", "Content-Type": "text/plain", "X-Custom": "  v  ", "Range": "bytes=0-1"},
			additional: "host;x-custom",
			timestamp:  "20261122T111250Z",
			canon: "GET\n/bkt1/a%20b/%E6%97%A5%2Bc~%2A\nacl&ast=%2A&empty&sl=x%2Fy&sp=a%20b&z=1\n" +
				"content-type:text/plain\nhost:127.0.0.1:9000\nx-custom:v\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20261122T111250Z\n" +
				"\nhost;x-custom\nUNSIGNED-PAYLOAD",
		},
		{
			name:      "Date only (v1 SDK)",
			target:    "/bkt1/",
			key:       "",
			header:    map[string]string{"Date": "Sun, 22 Nov 2026 11:12:50 GMT", "X-Oss-Content-Sha256": "UNSIGNED-PAYLOAD"},
			timestamp: "Sun, 22 Nov 2026 11:12:50 GMT",
			canon:     "GET\n/bkt1/\n\nx-oss-content-sha256:UNSIGNED-PAYLOAD\n\n\nUNSIGNED-PAYLOAD",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			scope := "20261122/cn-hangzhou/oss/aliyun_v4_request"
			sum := sha256.Sum256([]byte(c.canon))
			sts := "OSS4-HMAC-SHA256\n" + c.timestamp + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
			authz := "OSS4-HMAC-SHA256 Credential=" + rootAK + "/" + scope
			if c.additional != "" {
				authz += ",AdditionalHeaders=" + c.additional
			}
			r := newReq("GET", c.target, c.header)
			r.Header.Set("Authorization", authz+", Signature="+hexV4(rootSecret, "20261122", "cn-hangzhou", sts))
			p, err := Verify(r, "bkt1", c.key, fixedNow, testLookup)
			if err != nil {
				t.Fatalf("Verify: %v\nserver canonical request:\n%s", err, wantCodeQuiet(err).CanonicalRequest)
			}
			if p.Scheme != SchemeV4 {
				t.Fatalf("principal %+v", p)
			}
			r.Header.Set("Authorization", authz+",Signature="+hexV4("wrong", "20261122", "cn-hangzhou", sts))
			_, err = Verify(r, "bkt1", c.key, fixedNow, testLookup)
			ae := wantCode(t, err, http.StatusForbidden, CodeSignatureDoesNotMatch)
			if ae.CanonicalRequest != c.canon || ae.StringToSign != sts || ae.EC != ecSignatureMismatchV4 {
				t.Fatalf("server canonical request:\n%q\nwant\n%q", ae.CanonicalRequest, c.canon)
			}
		})
	}
}

func TestDates(t *testing.T) {
	authz := "OSS " + rootAK + ":AAAAAAAAAAAAAAAAAAAAAAAAAAA="
	r := newReq("GET", "/bkt1/k", map[string]string{"Authorization": authz})
	_, err := Verify(r, "bkt1", "k", fixedNow, testLookup)
	wantCode(t, err, http.StatusForbidden, CodeAccessDenied)

	r.Header.Set("Date", "yesterday")
	_, err = Verify(r, "bkt1", "k", fixedNow, testLookup)
	if ae := wantCode(t, err, http.StatusForbidden, CodeAccessDenied); ae.EC != ecInvalidDate {
		t.Fatalf("EC = %q", ae.EC)
	}

	r.Header.Set("Date", fixedNow.Add(-16*time.Minute).Format(http.TimeFormat))
	_, err = Verify(r, "bkt1", "k", fixedNow, testLookup)
	ae := wantCode(t, err, http.StatusForbidden, CodeRequestTimeTooSkewed)
	if !ae.ServerTime.Equal(fixedNow) || !ae.RequestTime.Equal(fixedNow.Add(-16*time.Minute)) {
		t.Fatalf("skew times %v %v", ae.RequestTime, ae.ServerTime)
	}
	// x-oss-date is the request time when present.
	r.Header.Set("X-Oss-Date", fixedNow.Format(iso8601Basic))
	_, err = Verify(r, "bkt1", "k", fixedNow, testLookup)
	wantCode(t, err, http.StatusForbidden, CodeSignatureDoesNotMatch)

	for _, s := range []string{"Sun, 22 Nov 2026 11:12:50 GMT", "Sunday, 22-Nov-26 11:12:50 GMT", "Sun Nov 22 11:12:50 2026", "20261122T111250Z"} {
		if tm, ok := parseRequestTime(s); !ok || !tm.Equal(fixedNow) {
			t.Fatalf("parseRequestTime(%q) = %v %v", s, tm, ok)
		}
	}
}

func TestUnknownAndDisabledKeys(t *testing.T) {
	date := fixedNow.Format(http.TimeFormat)
	for _, ak := range []string{"nobody", disabledAK} {
		r := newReq("GET", "/bkt1/k", map[string]string{"Date": date, "Authorization": "OSS " + ak + ":AAAA"})
		_, err := Verify(r, "bkt1", "k", fixedNow, testLookup)
		if ae := wantCode(t, err, http.StatusForbidden, CodeInvalidAccessKeyID); ae.AccessKeyID != ak {
			t.Fatalf("AccessKeyID = %q", ae.AccessKeyID)
		}
		_, err = Verify(r, "bkt1", "k", fixedNow, nil)
		wantCode(t, err, http.StatusForbidden, CodeInvalidAccessKeyID)
	}
}

func TestStringToSignBytes(t *testing.T) {
	e := &Error{StringToSign: "PUT\n/b"}
	if got, want := e.StringToSignBytes(), "50 55 54 0A 2F 62 "; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	if got := (&Error{Code: "C", Message: "m"}).Error(); got != "C: m" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestEscape(t *testing.T) {
	cases := map[string][2]string{
		"a b/c+d~e*": {"a%20b%2Fc%2Bd~e%2A", "a%20b/c%2Bd~e%2A"},
		"日":          {"%E6%97%A5", "%E6%97%A5"},
		"plain-_.~":  {"plain-_.~", "plain-_.~"},
	}
	for in, want := range cases {
		if got := escape(in, false); got != want[0] {
			t.Errorf("escape(%q, false) = %q, want %q", in, got, want[0])
		}
		if got := escape(in, true); got != want[1] {
			t.Errorf("escape(%q, true) = %q, want %q", in, got, want[1])
		}
		if got := url.QueryEscape(in); strings.ReplaceAll(got, "+", "%20") != want[0] {
			t.Errorf("escape disagrees with url.QueryEscape for %q: %q", in, got)
		}
	}
}

func TestParseQuery(t *testing.T) {
	q := parseQuery("acl&&a=1&a=2&sp=a+b%20c&k%2Fx=v%3D&e=")
	if v, ok := q.get("acl"); !ok || v != "" {
		t.Fatalf("acl = %q %v", v, ok)
	}
	if v, _ := q.get("a"); v != "1" || q.count("a") != 2 {
		t.Fatalf("a = %q count %d", v, q.count("a"))
	}
	if v, _ := q.get("sp"); v != "a b c" {
		t.Fatalf("sp = %q", v)
	}
	if v, _ := q.get("k/x"); v != "v=" {
		t.Fatalf("k/x = %q", v)
	}
	if q.err != nil || len(q.params) != 6 {
		t.Fatalf("params %d err %v", len(q.params), q.err)
	}
	if parseQuery("a=%zz").err == nil {
		t.Fatal("malformed escape not reported")
	}
}
