package auth

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	v2oss "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	v2creds "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// Test credentials. Secrets contain '/', '+' and '=' on purpose.
const (
	rootAK       = "LTAI5tRootKey000001"
	rootSecret   = "r00t/Secret+Key=With/Specials"
	userAK       = "LTAI5tUserKey000002"
	userSecret   = "userSecretKey0002abcdefghijklmn"
	disabledAK   = "LTAI5tDisabled00003"
	stsAK        = "STS.NTempKey0000004"
	stsSecret    = "stsSecret/0004"
	stsToken     = "CAIS+token/with=chars&more?yes"
	testRegion   = "cn-hangzhou"
	vhostSuffix  = ".localhost"
	sampleBucket = "bkt1"
)

var testCreds = map[string]*Credential{
	rootAK: {AccessKeyID: rootAK, Secret: rootSecret,
		Principal: Principal{Root: true, AccountID: "1000000000000001"}},
	userAK: {AccessKeyID: userAK, Secret: userSecret,
		Principal: Principal{AccountID: "1000000000000001", UserName: "alice"}},
	disabledAK: {AccessKeyID: disabledAK, Secret: "whatever", Disabled: true,
		Principal: Principal{AccountID: "1000000000000001", UserName: "bob"}},
	stsAK: {AccessKeyID: stsAK, Secret: stsSecret,
		Principal: Principal{AccountID: "1000000000000001", UserName: "role-session"}},
}

func testLookup(ak string) (*Credential, bool) {
	c, ok := testCreds[ak]
	return c, ok
}

// route resolves bucket and key the way the server router does: virtual host
// "<bucket>.localhost[:port]" takes the whole decoded path as key; otherwise
// path style, first segment = bucket. The path is percent-decoded once ('+'
// stays literal).
func route(r *http.Request) (bucket, key string, err error) {
	rawPath, _, _ := strings.Cut(r.RequestURI, "?")
	if rawPath == "" {
		rawPath = r.URL.EscapedPath()
	}
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		return "", "", err
	}
	host := r.Host
	if h, _, splitErr := net.SplitHostPort(host); splitErr == nil {
		host = h
	}
	if b, ok := strings.CutSuffix(host, vhostSuffix); ok && b != "" {
		return b, strings.TrimPrefix(path, "/"), nil
	}
	path = strings.TrimPrefix(path, "/")
	bucket, key, _ = strings.Cut(path, "/")
	return bucket, key, nil
}

// outcome is what the test server saw for one request.
type outcome struct {
	bucket, key string
	principal   *Principal
	err         error
}

// authServer is an httptest server whose handler routes, calls Verify and
// answers like OSS would (an error body, or an empty success).
type authServer struct {
	*httptest.Server
	mu       sync.Mutex
	outcomes []outcome
	clock    func() time.Time
}

func newAuthServer(t *testing.T) *authServer {
	t.Helper()
	s := &authServer{clock: time.Now}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

func (s *authServer) setClock(f func() time.Time) {
	s.mu.Lock()
	s.clock = f
	s.mu.Unlock()
}

func (s *authServer) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	now := s.clock()
	s.mu.Unlock()
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	w.Header().Set("x-oss-request-id", "5C06A3B67B8B5A3DA422299D")
	bucket, key, err := route(r)
	var p *Principal
	if err == nil {
		p, err = Verify(r, bucket, key, now, testLookup)
	}
	s.mu.Lock()
	s.outcomes = append(s.outcomes, outcome{bucket: bucket, key: key, principal: p, err: err})
	s.mu.Unlock()
	if err != nil {
		writeOSSError(w, r, err)
		return
	}
	switch r.Method {
	case http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet:
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("hello"))
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// last returns the most recent outcome and clears the log.
func (s *authServer) last(t *testing.T) outcome {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.outcomes) == 0 {
		t.Fatal("the server saw no request")
	}
	o := s.outcomes[len(s.outcomes)-1]
	s.outcomes = nil
	return o
}

// all returns every outcome since the last call and clears the log.
func (s *authServer) all() []outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.outcomes
	s.outcomes = nil
	return o
}

type xmlError struct {
	XMLName           xml.Name `xml:"Error"`
	Code              string
	Message           string
	RequestID         string `xml:"RequestId"`
	HostID            string `xml:"HostId"`
	OSSAccessKeyID    string `xml:"OSSAccessKeyId,omitempty"`
	SignatureProvided string `xml:",omitempty"`
	StringToSign      string `xml:",omitempty"`
	StringToSignBytes string `xml:",omitempty"`
	EC                string `xml:",omitempty"`
}

func writeOSSError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *Error
	if !errors.As(err, &ae) {
		ae = &Error{Status: http.StatusBadRequest, Code: "InvalidURI", Message: err.Error()}
	}
	body, _ := xml.Marshal(xmlError{Code: ae.Code, Message: ae.Message, RequestID: "5C06A3B67B8B5A3DA422299D",
		HostID: r.Host, OSSAccessKeyID: ae.AccessKeyID, SignatureProvided: ae.SignatureProvided,
		StringToSign: ae.StringToSign, StringToSignBytes: ae.StringToSignBytes(), EC: ae.EC})
	w.Header().Set("Content-Type", "application/xml")
	if ae.EC != "" {
		w.Header().Set("x-oss-ec", ae.EC)
	}
	if r.Method == http.MethodHead {
		w.Header().Set("x-oss-err", base64.StdEncoding.EncodeToString(body))
		w.WriteHeader(ae.Status)
		return
	}
	w.WriteHeader(ae.Status)
	_, _ = w.Write(body)
}

// mutatingTransport sends every request to addr (so virtual-host names need
// no DNS) after letting mutate tamper with a clone of it.
type mutatingTransport struct {
	addr   string
	mutate func(*http.Request)
	base   *http.Transport
}

func newTransport(addr string, mutate func(*http.Request)) *mutatingTransport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &mutatingTransport{addr: addr, mutate: mutate, base: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
}

func (m *mutatingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if m.mutate != nil {
		r = r.Clone(r.Context())
		m.mutate(r)
	}
	return m.base.RoundTrip(r)
}

// v1Client builds an aliyun-oss-go-sdk client against s. endpointHost is
// "127.0.0.1:port" (path style) or "localhost:port" (virtual host).
func v1Client(t *testing.T, s *authServer, endpointHost, ak, sk string, mutate func(*http.Request), opts ...oss.ClientOption) *oss.Client {
	t.Helper()
	hc := &http.Client{Transport: newTransport(s.Listener.Addr().String(), mutate)}
	opts = append([]oss.ClientOption{oss.HTTPClient(hc), oss.Timeout(5, 10)}, opts...)
	c, err := oss.New("http://"+endpointHost, ak, sk, opts...)
	if err != nil {
		t.Fatalf("oss.New: %v", err)
	}
	return c
}

// v2Client builds an alibabacloud-oss-go-sdk-v2 client against s.
func v2Client(s *authServer, endpointHost, ak, sk, token string, mutate func(*http.Request), cfgFns ...func(*v2oss.Config)) *v2oss.Client {
	hc := &http.Client{Transport: newTransport(s.Listener.Addr().String(), mutate)}
	cfg := v2oss.LoadDefaultConfig().
		WithCredentialsProvider(v2creds.NewStaticCredentialsProvider(ak, sk, token)).
		WithRegion(testRegion).
		WithEndpoint("http://" + endpointHost).
		WithHttpClient(hc).
		WithRetryMaxAttempts(1)
	for _, f := range cfgFns {
		f(cfg)
	}
	return v2oss.NewClient(cfg)
}

// pathHost and vhostHost are the endpoints for path-style and virtual-host
// requests to s.
func pathHost(s *authServer) string { return s.Listener.Addr().String() }

func vhostHost(s *authServer) string {
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	return "localhost:" + port
}

// wantOK asserts that o is an authenticated success with the given scheme
// and access key, for bucket/key.
func wantOK(t *testing.T, o outcome, scheme, ak, bucket, key string) {
	t.Helper()
	if o.err != nil {
		var ae *Error
		if errors.As(o.err, &ae) && ae.StringToSign != "" {
			t.Fatalf("Verify: %v\nserver StringToSign:\n%s\nCanonicalRequest:\n%s", o.err, ae.StringToSign, ae.CanonicalRequest)
		}
		t.Fatalf("Verify: %v", o.err)
	}
	if o.bucket != bucket || o.key != key {
		t.Fatalf("routed to bucket=%q key=%q, want bucket=%q key=%q", o.bucket, o.key, bucket, key)
	}
	p := o.principal
	if p == nil || p.Anonymous || p.Scheme != scheme || p.AccessKeyID != ak {
		t.Fatalf("principal = %+v, want scheme %q AK %q", p, scheme, ak)
	}
	if want := testCreds[ak].Principal; p.Root != want.Root || p.UserName != want.UserName || p.AccountID != want.AccountID {
		t.Fatalf("principal = %+v, want identity of %+v", p, want)
	}
}

// wantCode asserts that err is an *Error with the given status and code.
func wantCode(t *testing.T, err error, status int, code string) *Error {
	t.Helper()
	var ae *Error
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v (%T), want *auth.Error %d %s", err, err, status, code)
	}
	if ae.Status != status || ae.Code != code {
		t.Fatalf("error = %d %s (%s), want %d %s", ae.Status, ae.Code, ae.Message, status, code)
	}
	return ae
}

// wantV1ServiceError asserts that an aliyun-oss-go-sdk call failed with code.
func wantV1ServiceError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var se oss.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("SDK error = %v (%T), want oss.ServiceError %s", err, err, code)
	}
	if se.StatusCode != status || se.Code != code {
		t.Fatalf("SDK error = %d %s, want %d %s", se.StatusCode, se.Code, status, code)
	}
}
