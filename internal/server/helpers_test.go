package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	v2oss "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	v2creds "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/server/servertest"
)

var crcTable = crc64.MakeTable(crc64.ECMA)

func crcOf(b []byte) string { return strconv.FormatUint(crc64.Checksum(b, crcTable), 10) }

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return strings.ToUpper(hexString(s[:]))
}

func md5B64(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

func hexString(b []byte) string {
	const d = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, d[c>>4], d[c&15])
	}
	return string(out)
}

// randBytes returns deterministic pseudo-random data.
func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func v1Client(t testing.TB, env *servertest.Env, opts ...oss.ClientOption) *oss.Client {
	t.Helper()
	c, err := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret, opts...)
	if err != nil {
		t.Fatalf("oss.New: %v", err)
	}
	return c
}

func v1Bucket(t testing.TB, c *oss.Client, name string) *oss.Bucket {
	t.Helper()
	if err := c.CreateBucket(name); err != nil {
		t.Fatalf("CreateBucket(%s): %v", name, err)
	}
	b, err := c.Bucket(name)
	if err != nil {
		t.Fatalf("Bucket(%s): %v", name, err)
	}
	return b
}

func v2Client(env *servertest.Env, endpoint string, pathStyle bool) *v2oss.Client {
	cfg := v2oss.LoadDefaultConfig().
		WithCredentialsProvider(v2creds.NewStaticCredentialsProvider(env.AccessKeyID, env.AccessKeySecret)).
		WithRegion(env.Region).
		WithEndpoint(endpoint).
		WithUsePathStyle(pathStyle).
		WithDisableSSL(true).
		WithRetryMaxAttempts(1)
	return v2oss.NewClient(cfg)
}

// serviceError extracts a v1 SDK service error.
func serviceError(t testing.TB, err error) oss.ServiceError {
	t.Helper()
	var se oss.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("want oss.ServiceError, got %T: %v", err, err)
	}
	return se
}

func wantCode(t testing.TB, err error, status int, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %d %s, got success", status, code)
	}
	se := serviceError(t, err)
	if se.StatusCode != status || se.Code != code {
		t.Fatalf("want %d %s, got %d %s (%s)", status, code, se.StatusCode, se.Code, se.Message)
	}
	if len(se.RequestID) != 24 {
		t.Fatalf("request id %q is not 24 characters", se.RequestID)
	}
}

// ---- raw signed requests ----

// rawReq is a raw HTTP request to the test server, V1-signed unless anon.
type rawReq struct {
	method    string
	bucket    string
	key       string            // decoded
	sub       string            // raw query, e.g. "acl" or "uploadId=x&partNumber=1"
	header    map[string]string // extra headers
	body      []byte
	anon      bool
	noLength  bool // send without Content-Length (and not chunked)
	halfClose bool // close the write side after sending (a client that gives up)
	keepAlive bool // omit "Connection: close" (pipelining tests)
}

// signV1 computes the V1 header signature of req (test-side implementation).
func signV1(secret, method, contentMD5, contentType, date string, h http.Header, resource string) string {
	var ossHeaders []string
	for k := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-oss-") {
			ossHeaders = append(ossHeaders, lk)
		}
	}
	sort.Strings(ossHeaders)
	var sb strings.Builder
	sb.WriteString(method + "\n" + contentMD5 + "\n" + contentType + "\n" + date + "\n")
	for _, k := range ossHeaders {
		sb.WriteString(k + ":" + h.Get(k) + "\n")
	}
	sb.WriteString(resource)
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(sb.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// v1SignedSubresources is the v1 SDK's signKeyList (oss/conn.go): the
// query parameters that go into the canonical resource.
var v1SignedSubresources = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(`acl uploads location cors logging website referer lifecycle delete append
		tagging objectMeta uploadId partNumber security-token position img style styleName replication
		replicationProgress replicationLocation cname bucketInfo comp qos live status vod startTime endTime symlink
		x-oss-process response-content-type x-oss-traffic-limit response-content-language response-expires
		response-cache-control response-content-disposition response-content-encoding udf udfName udfImage udfId
		udfImageDesc udfApplication udfApplicationLog restore callback callback-var qosInfo policy stat encryption
		versions versioning versionId requestPayment x-oss-request-payer sequential inventory inventoryId
		continuation-token asyncFetch worm wormId wormExtend withHashContext x-oss-enable-md5 x-oss-enable-sha1
		x-oss-enable-sha256 x-oss-hash-ctx x-oss-md5-ctx transferAcceleration regionList cloudboxes
		x-oss-ac-source-ip x-oss-ac-subnet-mask x-oss-ac-vpc-id x-oss-ac-forward-allow metaQuery resourceGroup rtc
		x-oss-async-process responseHeader`) {
		m[k] = true
	}
	return m
}()

// canonicalSub keeps the signed sub-resources of a raw query in sorted order.
func canonicalSub(raw string) string {
	if raw == "" {
		return ""
	}
	var parts []string
	for _, kv := range strings.Split(raw, "&") {
		k, v, hasV := strings.Cut(kv, "=")
		k, _ = url.QueryUnescape(k)
		if !v1SignedSubresources[k] {
			continue
		}
		if hasV && v != "" {
			v, _ = url.QueryUnescape(v)
			parts = append(parts, k+"="+v)
		} else {
			parts = append(parts, k)
		}
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return ""
	}
	return "?" + strings.Join(parts, "&")
}

// escapeKey escapes a key the way the v1 SDK does (QueryEscape, '+'→%20).
func escapeKey(k string) string { return strings.ReplaceAll(url.QueryEscape(k), "+", "%20") }

// build renders req as raw HTTP/1.1 bytes.
func (env rawEnv) build(req rawReq) []byte {
	path := "/"
	if req.bucket != "" {
		path += req.bucket + "/" + escapeKey(req.key)
	}
	if req.sub != "" {
		path += "?" + req.sub
	}
	h := http.Header{}
	for k, v := range req.header {
		h.Set(k, v)
	}
	date := time.Now().UTC().Format(http.TimeFormat)
	h.Set("Date", date)
	if !req.anon {
		resource := "/"
		if req.bucket != "" {
			resource += req.bucket + "/" + req.key
		}
		resource += canonicalSub(req.sub)
		sig := signV1(env.secret, req.method, h.Get("Content-MD5"), h.Get("Content-Type"), date, h, resource)
		h.Set("Authorization", "OSS "+env.ak+":"+sig)
	}
	var b bytes.Buffer
	b.WriteString(req.method + " " + path + " HTTP/1.1\r\nHost: " + env.addr + "\r\n")
	if !req.keepAlive {
		b.WriteString("Connection: close\r\n")
	}
	if !req.noLength && h.Get("Content-Length") == "" {
		h.Set("Content-Length", strconv.Itoa(len(req.body)))
	}
	_ = h.Write(&b)
	b.WriteString("\r\n")
	b.Write(req.body)
	return b.Bytes()
}

type rawEnv struct{ addr, ak, secret string }

func newRawEnv(env *servertest.Env) rawEnv {
	return rawEnv{addr: env.Addr, ak: env.AccessKeyID, secret: env.AccessKeySecret}
}

// doBytes sends raw bytes over TCP (optionally half-closing) and parses the response.
func (env rawEnv) doBytes(t testing.TB, method string, raw []byte, halfClose ...bool) (*rawResponse, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", env.addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(raw); err != nil {
		t.Fatalf("write: %v", err)
	}
	if len(halfClose) > 0 && halfClose[0] {
		_ = conn.(*net.TCPConn).CloseWrite()
	}
	resp, body, err := readRawResponse(bufio.NewReader(conn), method)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return resp, body
}

// rawResponse is the head of a response whose body has been read in full
// and closed.
type rawResponse struct {
	StatusCode int
	Status     string
	Header     http.Header
}

// readRawResponse reads one response to a method request from br, body
// included. On a body read error the head and the bytes read so far are
// returned with the error.
func readRawResponse(br *bufio.Reader, method string) (*rawResponse, []byte, error) {
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	head := &rawResponse{StatusCode: resp.StatusCode, Status: resp.Status, Header: resp.Header}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return head, body, fmt.Errorf("read body: %w", err)
	}
	return head, body, nil
}

func (env rawEnv) do(t testing.TB, req rawReq) (*rawResponse, []byte) {
	t.Helper()
	return env.doBytes(t, req.method, env.build(req), req.halfClose)
}

// errorDoc is the XML error document.
type errorDoc struct {
	Code, Message, EC               string
	RequestID                       string `xml:"RequestId"`
	HostID                          string `xml:"HostId"`
	ArgumentName, ArgumentValue     string
	StringToSign, SignatureProvided string
}

func wantRawError(t testing.TB, resp *rawResponse, body []byte, status int, code string) errorDoc {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if id := resp.Header.Get("x-oss-request-id"); len(id) != 24 || strings.ToUpper(id) != id {
		t.Fatalf("x-oss-request-id %q is not 24 uppercase hex characters", id)
	}
	if resp.Header.Get("Server") != "AliyunOSS" || resp.Header.Get("Date") == "" {
		t.Fatalf("missing Server/Date headers: %v", resp.Header)
	}
	doc := body
	if len(doc) == 0 {
		var err error
		doc, err = base64.StdEncoding.DecodeString(resp.Header.Get("x-oss-err"))
		if err != nil || len(doc) == 0 {
			t.Fatalf("empty error body and no x-oss-err header")
		}
	}
	var e errorDoc
	if err := xmlUnmarshal(doc, &e); err != nil {
		t.Fatalf("error body is not XML: %v: %s", err, doc)
	}
	if e.Code != code {
		t.Fatalf("code %s (%s), want %s", e.Code, e.Message, code)
	}
	if e.RequestID != resp.Header.Get("x-oss-request-id") {
		t.Fatalf("RequestId %q != header %q", e.RequestID, resp.Header.Get("x-oss-request-id"))
	}
	return e
}

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

// loopbackClient dials 127.0.0.1 whatever the host name (virtual-host
// tests use names such as bkt.localhost and bkt.oss.test).
func loopbackClient() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		},
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func v2Creds(env *servertest.Env) v2creds.CredentialsProvider {
	return v2creds.NewStaticCredentialsProvider(env.AccessKeyID, env.AccessKeySecret)
}
