package auth

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
)

// TestRPCKnownAnswer checks the example from the Alibaba Cloud ECS
// "request signatures" documentation (AccessKey secret "testsecret").
func TestRPCKnownAnswer(t *testing.T) {
	p, err := url.ParseQuery("Timestamp=2016-02-23T12:46:24Z&Format=XML&AccessKeyId=testid&Action=DescribeRegions" +
		"&SignatureMethod=HMAC-SHA1&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&Version=2014-05-26&SignatureVersion=1.0")
	if err != nil {
		t.Fatal(err)
	}
	const wantSTS = "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1" +
		"%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0" +
		"%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
	if got := RPCStringToSign("GET", p); got != wantSTS {
		t.Fatalf("string to sign:\n got %s\nwant %s", got, wantSTS)
	}
	if got := SignRPC("testsecret", wantSTS); got != "OLeaidS1JvxuMvnyHOwuJ+uX5qY=" {
		t.Fatalf("signature = %s", got)
	}
}

func TestPOPEscape(t *testing.T) {
	for in, want := range map[string]string{
		"a b":   "a%20b",
		"a+b":   "a%2Bb",
		"*":     "%2A",
		"~-_.":  "~-_.",
		"中":     "%E4%B8%AD",
		"a=b&c": "a%3Db%26c",
		"":      "",
	} {
		if got := popEscape(in); got != want {
			t.Errorf("popEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

// captured is what the fake endpoint saw of one SDK request.
type captured struct {
	method string
	params url.Values
}

// sdkCapture serves KMS-shaped answers and records the merged parameters
// of every request, so tests can verify what the official SDK signed.
func sdkCapture(t *testing.T, answer func(w http.ResponseWriter, c captured)) (*httptest.Server, func() []captured) {
	t.Helper()
	var mu sync.Mutex
	var seen []captured
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		params, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			t.Errorf("query: %v", err)
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			t.Errorf("form: %v", err)
		}
		for k, v := range form {
			params[k] = v
		}
		c := captured{method: r.Method, params: params}
		mu.Lock()
		seen = append(seen, c)
		mu.Unlock()
		answer(w, c)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []captured {
		mu.Lock()
		defer mu.Unlock()
		return append([]captured(nil), seen...)
	}
}

func okAnswer(w http.ResponseWriter, _ captured) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"RequestId":"R1","KeyId":"k","KeyVersionId":"v","CiphertextBlob":"AA=="}`)
}

func newKMSClient(t *testing.T, srv *httptest.Server, ak, sk, token string) *kms.Client {
	t.Helper()
	var c *kms.Client
	var err error
	if token != "" {
		c, err = kms.NewClientWithStsToken("cn-hangzhou", ak, sk, token)
	} else {
		c, err = kms.NewClientWithAccessKey("cn-hangzhou", ak, sk)
	}
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = strings.TrimPrefix(srv.URL, "http://")
	return c
}

func TestVerifyRPCAcceptsOfficialSDK(t *testing.T) {
	srv, seen := sdkCapture(t, okAnswer)
	client := newKMSClient(t, srv, rootAK, rootSecret, "")
	req := kms.CreateEncryptRequest()
	req.KeyId = "alias/with spaces*and~tilde"
	req.Plaintext = "p l+a/i=n&t*~中文"
	req.EncryptionContext = `{"k 1":"v+2","*":"~"}`
	if _, err := client.Encrypt(req); err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	// Same request through the STS provider: SecurityToken is signed and surfaced.
	stsClient := newKMSClient(t, srv, stsAK, stsSecret, stsToken)
	if _, err := stsClient.Encrypt(kms.CreateEncryptRequest()); err != nil {
		t.Fatalf("Encrypt (sts): %v", err)
	}

	v := NewRPCVerifier(0)
	reqs := seen()
	if len(reqs) != 2 {
		t.Fatalf("saw %d requests", len(reqs))
	}
	p, err := v.Verify(reqs[0].params, reqs[0].method, time.Now(), testLookup)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !p.Root || p.AccessKeyID != rootAK || p.Scheme != SchemeRPC || p.SecurityToken != "" {
		t.Fatalf("principal = %+v", p)
	}
	p, err = v.Verify(reqs[1].params, reqs[1].method, time.Now(), testLookup)
	if err != nil {
		t.Fatalf("Verify sts: %v", err)
	}
	if p.SecurityToken != stsToken || p.AccessKeyID != stsAK || p.Root {
		t.Fatalf("sts principal = %+v", p)
	}
	// A replay of the very same signed request is refused.
	_, err = v.Verify(reqs[0].params, reqs[0].method, time.Now(), testLookup)
	wantRPCCode(t, err, http.StatusBadRequest, RPCCodeSignatureNonceUsed)
}

// TestSDKParsesSignatureMismatch checks that the SDK's own error wrapper
// recognises our SignatureDoesNotMatch message and concludes the secret is
// wrong (its string to sign equals ours).
func TestSDKParsesSignatureMismatch(t *testing.T) {
	v := NewRPCVerifier(0)
	srv, _ := sdkCapture(t, func(w http.ResponseWriter, c captured) {
		_, err := v.Verify(c.params, c.method, time.Now(), testLookup)
		var ae *Error
		if !errors.As(err, &ae) {
			t.Errorf("want *Error, got %v", err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ae.Status)
		_ = json.NewEncoder(w).Encode(map[string]string{"RequestId": "R2", "HostId": "h", "Code": ae.Code, "Message": ae.Message})
	})
	client := newKMSClient(t, srv, rootAK, "wrong-secret", "")
	_, err := client.Encrypt(kms.CreateEncryptRequest())
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("want *ServerError, got %T %v", err, err)
	}
	if se.ErrorCode() != RPCCodeSignatureDoesNotMatch || se.HttpStatus() != http.StatusBadRequest {
		t.Fatalf("code %s status %d", se.ErrorCode(), se.HttpStatus())
	}
	if !strings.Contains(se.Recommend(), "InvalidAccessKeySecret") {
		t.Fatalf("SDK did not recognise the string to sign: recommend = %q", se.Recommend())
	}
}

// signed builds a valid signed parameter set for rootAK at time ts.
func signed(method string, ts time.Time, nonce string, mutate func(url.Values)) url.Values {
	p := url.Values{}
	p.Set("Action", "DescribeKey")
	p.Set("Version", "2016-01-20")
	p.Set("Format", "JSON")
	p.Set("AccessKeyId", rootAK)
	p.Set("SignatureMethod", "HMAC-SHA1")
	p.Set("SignatureVersion", "1.0")
	p.Set("SignatureType", "")
	p.Set("SignatureNonce", nonce)
	p.Set("Timestamp", ts.UTC().Format("2006-01-02T15:04:05Z"))
	p.Set("KeyId", "key with space")
	if mutate != nil {
		mutate(p)
	}
	p.Set("Signature", SignRPC(rootSecret, RPCStringToSign(method, p)))
	return p
}

func wantRPCCode(t *testing.T, err error, status int, code string) *Error {
	t.Helper()
	var ae *Error
	if !errors.As(err, &ae) {
		t.Fatalf("want *Error %s, got %v", code, err)
	}
	if ae.Code != code || ae.Status != status {
		t.Fatalf("got %d %s (%s), want %d %s", ae.Status, ae.Code, ae.Message, status, code)
	}
	return ae
}

func TestVerifyRPCErrors(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	n := 0
	nonce := func() string { n++; return "nonce-" + strings.Repeat("x", n) }

	t.Run("ok", func(t *testing.T) {
		if _, err := NewRPCVerifier(0).Verify(signed("POST", now, nonce(), nil), "POST", now, testLookup); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		_, err := NewRPCVerifier(0).Verify(signed("POST", now, nonce(), nil), "GET", now, testLookup)
		ae := wantRPCCode(t, err, 400, RPCCodeSignatureDoesNotMatch)
		if !strings.HasSuffix(ae.Message, RPCSignatureMismatchMarker+ae.StringToSign) || !strings.HasPrefix(ae.StringToSign, "GET&%2F&") {
			t.Fatalf("message %q / sts %q", ae.Message, ae.StringToSign)
		}
	})
	t.Run("tampered parameter", func(t *testing.T) {
		p := signed("POST", now, nonce(), nil)
		p.Set("KeyId", "other")
		_, err := NewRPCVerifier(0).Verify(p, "POST", now, testLookup)
		wantRPCCode(t, err, 400, RPCCodeSignatureDoesNotMatch)
	})
	t.Run("added parameter", func(t *testing.T) {
		p := signed("POST", now, nonce(), nil)
		p.Set("Extra", "1")
		_, err := NewRPCVerifier(0).Verify(p, "POST", now, testLookup)
		wantRPCCode(t, err, 400, RPCCodeSignatureDoesNotMatch)
	})
	t.Run("stale timestamp", func(t *testing.T) {
		_, err := NewRPCVerifier(0).Verify(signed("POST", now.Add(-16*time.Minute), nonce(), nil), "POST", now, testLookup)
		wantRPCCode(t, err, 400, RPCCodeIllegalTimestamp)
		_, err = NewRPCVerifier(0).Verify(signed("POST", now.Add(16*time.Minute), nonce(), nil), "POST", now, testLookup)
		wantRPCCode(t, err, 400, RPCCodeIllegalTimestamp)
		if _, err := NewRPCVerifier(0).Verify(signed("POST", now.Add(-14*time.Minute), nonce(), nil), "POST", now, testLookup); err != nil {
			t.Fatalf("14 minutes old: %v", err)
		}
	})
	t.Run("malformed timestamp", func(t *testing.T) {
		p := signed("POST", now, nonce(), func(p url.Values) { p.Set("Timestamp", "yesterday") })
		_, err := NewRPCVerifier(0).Verify(p, "POST", now, testLookup)
		wantRPCCode(t, err, 400, RPCCodeIllegalTimestamp)
		p = signed("POST", now, nonce(), func(p url.Values) { p.Del("Timestamp") })
		_, err = NewRPCVerifier(0).Verify(p, "POST", now, testLookup)
		wantRPCCode(t, err, 400, RPCCodeIllegalTimestamp)
	})
	t.Run("unknown and disabled keys", func(t *testing.T) {
		p := signed("POST", now, nonce(), func(p url.Values) { p.Set("AccessKeyId", "LTAInobody") })
		_, err := NewRPCVerifier(0).Verify(p, "POST", now, testLookup)
		wantRPCCode(t, err, 404, RPCCodeAccessKeyNotFound)
		p = signed("POST", now, nonce(), func(p url.Values) { p.Set("AccessKeyId", disabledAK) })
		_, err = NewRPCVerifier(0).Verify(p, "POST", now, testLookup)
		wantRPCCode(t, err, 400, RPCCodeAccessKeyInactive)
		_, err = NewRPCVerifier(0).Verify(signed("POST", now, nonce(), nil), "POST", now, nil)
		wantRPCCode(t, err, 404, RPCCodeAccessKeyNotFound)
	})
	t.Run("missing and unsupported signature parameters", func(t *testing.T) {
		cases := []struct {
			mutate func(url.Values)
			status int
			code   string
		}{
			{func(p url.Values) { p.Del("AccessKeyId") }, 400, RPCCodeMissingParameter},
			{func(p url.Values) { p.Del("SignatureNonce") }, 400, RPCCodeMissingParameter},
			{func(p url.Values) { p.Del("SignatureMethod") }, 400, RPCCodeMissingParameter},
			{func(p url.Values) { p.Set("SignatureMethod", "HMAC-SHA256") }, 400, RPCCodeInvalidSignatureMethod},
			{func(p url.Values) { p.Set("SignatureVersion", "2.0") }, 400, RPCCodeInvalidSignatureVer},
			{func(p url.Values) { p.Set("SignatureType", "BEARERTOKEN") }, 400, RPCCodeInvalidSignatureType},
			{func(p url.Values) { p.Set("SignatureNonce", strings.Repeat("n", 300)) }, 400, CodeInvalidArgument},
		}
		for _, c := range cases {
			p := signed("POST", now, nonce(), c.mutate)
			_, err := NewRPCVerifier(0).Verify(p, "POST", now, testLookup)
			wantRPCCode(t, err, c.status, c.code)
		}
		p := signed("POST", now, nonce(), nil)
		p.Del("Signature")
		_, err := NewRPCVerifier(0).Verify(p, "POST", now, testLookup)
		wantRPCCode(t, err, 400, RPCCodeIncompleteSignature)
	})
	t.Run("replayed nonce", func(t *testing.T) {
		v := NewRPCVerifier(0)
		p := signed("POST", now, "same-nonce", nil)
		if _, err := v.Verify(p, "POST", now, testLookup); err != nil {
			t.Fatal(err)
		}
		_, err := v.Verify(p, "POST", now.Add(time.Minute), testLookup)
		wantRPCCode(t, err, 400, RPCCodeSignatureNonceUsed)
		// The same nonce from another AccessKey is a different pair.
		q := signed("POST", now, "same-nonce", func(p url.Values) { p.Set("AccessKeyId", userAK) })
		q.Set("Signature", SignRPC(userSecret, RPCStringToSign("POST", q)))
		if _, err := v.Verify(q, "POST", now, testLookup); err != nil {
			t.Fatalf("other AK, same nonce: %v", err)
		}
		// A request refused for its signature does not burn its nonce.
		r := signed("POST", now, "fresh", nil)
		good := r.Get("Signature")
		r.Set("Signature", "AAAA")
		_, err = v.Verify(r, "POST", now, testLookup)
		wantRPCCode(t, err, 400, RPCCodeSignatureDoesNotMatch)
		r.Set("Signature", good)
		if _, err := v.Verify(r, "POST", now, testLookup); err != nil {
			t.Fatalf("retry after a refused attempt: %v", err)
		}
	})
	t.Run("package-level VerifyRPC", func(t *testing.T) {
		p := signed("POST", now, "pkg-"+now.String(), nil)
		if _, err := VerifyRPC(p, "POST", now, testLookup); err != nil {
			t.Fatal(err)
		}
		_, err := VerifyRPC(p, "POST", now, testLookup)
		wantRPCCode(t, err, 400, RPCCodeSignatureNonceUsed)
	})
}

func TestNonceCacheBoundedAndExpiring(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	c := NewNonceCache(3)
	for i, n := range []string{"a", "b", "c"} {
		if !c.Add("ak", n, base.Add(time.Duration(i+1)*time.Minute), base) {
			t.Fatalf("first add of %s refused", n)
		}
	}
	if c.Add("ak", "b", base.Add(time.Hour), base) {
		t.Fatal("duplicate accepted")
	}
	// Full: adding d evicts a, the entry closest to expiry.
	if !c.Add("ak", "d", base.Add(10*time.Minute), base) {
		t.Fatal("add d refused")
	}
	if c.Len() != 3 || c.Evicted() != 1 {
		t.Fatalf("len %d evicted %d", c.Len(), c.Evicted())
	}
	if !c.Add("ak", "a", base.Add(10*time.Minute), base) {
		t.Fatal("evicted nonce should be accepted again")
	}
	// Time passes beyond every expiry but d's and the new a's: b and c expire.
	later := base.Add(5 * time.Minute)
	if !c.Add("ak", "b", later.Add(time.Minute), later) {
		t.Fatal("expired nonce should be forgotten")
	}
	if c.Len() != 3 {
		t.Fatalf("len %d after expiry", c.Len())
	}
}

func BenchmarkVerifyRPC(b *testing.B) {
	now := time.Now()
	v := NewRPCVerifier(0)
	ps := make([]url.Values, b.N)
	for i := range ps {
		ps[i] = signed("POST", now, "bench-"+strings.Repeat("n", i%7)+time.Duration(i).String(), nil)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(ps[i], "POST", now, testLookup); err != nil {
			b.Fatal(err)
		}
	}
}
