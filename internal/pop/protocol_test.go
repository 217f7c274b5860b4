package pop

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"

	"github.com/ossctl/ossctl/internal/auth"
	"github.com/ossctl/ossctl/internal/sealing"
	"github.com/ossctl/ossctl/internal/store"
)

func TestSignatureErrorsThroughSDK(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Wrong secret: the SDK recognises our string to sign and blames the secret.
	bad := e.newClient(rootAK, "not-the-secret")
	_, err := bad.ListKeys(kms.CreateListKeysRequest())
	se := wantErr(t, err, http.StatusBadRequest, "SignatureDoesNotMatch")
	if !strings.Contains(se.Recommend(), "InvalidAccessKeySecret") {
		t.Fatalf("Recommend = %q", se.Recommend())
	}
	if se.HostId() == "" {
		t.Fatal("no HostId")
	}
	// Unknown AccessKey.
	_, err = e.newClient("LTAI5tNobody", "x").ListKeys(kms.CreateListKeysRequest())
	wantErr(t, err, http.StatusNotFound, "InvalidAccessKeyId.NotFound")
	// A RAM user is authenticated but not authorized (RAM policies come later).
	_, err = e.newClient(userAK, userSecret).ListKeys(kms.CreateListKeysRequest())
	se = wantErr(t, err, http.StatusForbidden, CodeAccessDenied)
	if !strings.Contains(se.Message(), "kms:ListKeys") || !strings.Contains(se.Message(), "alice") {
		t.Fatalf("denial does not say why: %q", se.Message())
	}
	id := e.createKey(nil)
	enc := must[*kms.EncryptResponse](t)(e.encrypt(id, "x", ""))
	user := e.newClient(userAK, userSecret)
	d := kms.CreateDecryptRequest()
	d.CiphertextBlob = enc.CiphertextBlob
	_, err = user.Decrypt(d)
	wantErr(t, err, http.StatusForbidden, CodeAccessDenied)
}

func TestReplayStaleAndRawRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now()
	params := url.Values{"Action": {"ListKeys"}}

	status, body := e.rawCall(http.MethodPost, params, false, now, "nonce-1")
	if status != 200 || !strings.Contains(body, `"TotalCount":0`) {
		t.Fatalf("first call %d %s", status, body)
	}
	status, body = e.rawCall(http.MethodPost, params, false, now, "nonce-1")
	if status != 400 || !strings.Contains(body, `"Code":"SignatureNonceUsed"`) {
		t.Fatalf("replay %d %s", status, body)
	}
	status, body = e.rawCall(http.MethodPost, params, false, now.Add(-20*time.Minute), "nonce-2")
	if status != 400 || !strings.Contains(body, `"Code":"IllegalTimestamp"`) {
		t.Fatalf("stale %d %s", status, body)
	}
	status, body = e.rawCall(http.MethodPost, params, false, now.Add(20*time.Minute), "nonce-3")
	if status != 400 || !strings.Contains(body, `"Code":"IllegalTimestamp"`) {
		t.Fatalf("future %d %s", status, body)
	}
	// GET with query parameters and POST with a form body both work.
	if status, body = e.rawCall(http.MethodGet, params, false, now, "nonce-4"); status != 200 {
		t.Fatalf("GET %d %s", status, body)
	}
	if status, body = e.rawCall(http.MethodPost, params, true, now, "nonce-5"); status != 200 {
		t.Fatalf("form POST %d %s", status, body)
	}
	// A request signed for GET but sent as POST is refused.
	p := url.Values{"Action": {"ListKeys"}, "Version": {KMSVersion}, "AccessKeyId": {rootAK}, "SignatureMethod": {"HMAC-SHA1"},
		"SignatureVersion": {"1.0"}, "SignatureNonce": {"n6"}, "Timestamp": {now.UTC().Format("2006-01-02T15:04:05Z")}, "Format": {"JSON"}}
	p.Set("Signature", "wrong")
	resp, err := http.Post(e.srv.URL+"/?"+p.Encode(), "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad signature: %d", resp.StatusCode)
	}
	// Other methods are refused before anything else.
	req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/?"+p.Encode(), nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
	// Malformed parameters: missing KeyId, malformed numbers.
	status, body = e.rawCall(http.MethodPost, url.Values{"Action": {"DescribeKey"}}, false, now, "nonce-7")
	if status != 400 || !strings.Contains(body, `"Code":"MissingParameter"`) {
		t.Fatalf("missing KeyId %d %s", status, body)
	}
	status, body = e.rawCall(http.MethodPost, url.Values{"Action": {"ListKeys"}, "PageSize": {"1e3"}}, false, now, "nonce-8")
	if status != 400 || !strings.Contains(body, `"Code":"InvalidParameter"`) {
		t.Fatalf("bad PageSize %d %s", status, body)
	}
	// Numbers as JSON-ish strings with spaces are tolerated.
	status, body = e.rawCall(http.MethodPost, url.Values{"Action": {"ListKeys"}, "PageSize": {" 5 "}}, false, now, "nonce-9")
	if status != 200 || !strings.Contains(body, `"PageSize":5`) {
		t.Fatalf("spaced PageSize %d %s", status, body)
	}
}

func TestUnknownActionAndVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	call := func(version, action string) error {
		req := requests.NewCommonRequest()
		req.Domain, req.Version, req.ApiName, req.Product = e.host(), version, action, "Kms"
		req.Method = "POST"
		_, err := e.client.ProcessCommonRequest(req)
		return err
	}
	wantErr(t, call(KMSVersion, "LaunchMissiles"), http.StatusNotFound, "InvalidAction.NotFound")
	wantErr(t, call("2099-01-01", "ListKeys"), http.StatusBadRequest, "InvalidVersion")
	if err := call(KMSVersion, "ListKeys"); err != nil {
		t.Fatalf("CommonRequest ListKeys: %v", err)
	}
	// DryRun validates and authorizes but does nothing.
	id := e.createKey(nil)
	r := kms.CreateEncryptRequest()
	r.KeyId, r.Plaintext, r.DryRun = id, "x", "true"
	_, err := e.client.Encrypt(r)
	wantErr(t, err, http.StatusBadRequest, CodeDryRunOperation)
}

func TestFormats(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createKey(nil)
	// XML through the official client's XML parser.
	req := kms.CreateDescribeKeyRequest()
	req.KeyId = id
	req.AcceptFormat = "XML"
	resp, err := e.client.DescribeKey(req)
	if err != nil {
		t.Fatal(err)
	}
	body := resp.GetHttpContentString()
	if resp.KeyMetadata.KeyId != id || resp.RequestId == "" || !strings.HasPrefix(body, "<?xml") ||
		!strings.Contains(body, "<DescribeKeyResponse>") {
		t.Fatalf("XML DescribeKey: %+v\n%s", resp, body)
	}
	for i := 0; i < 3; i++ {
		e.createKey(nil)
	}
	lk := kms.CreateListKeysRequest()
	lk.AcceptFormat = "xml"
	lresp := must[*kms.ListKeysResponse](t)(e.client.ListKeys(lk))
	if lresp.TotalCount != 4 || len(lresp.Keys.Key) != 4 || lresp.Keys.Key[0].KeyArn == "" {
		t.Fatalf("XML ListKeys: %+v", lresp)
	}
	// Lower-case json (what the OSS crypto client sends) is JSON.
	lk = kms.CreateListKeysRequest()
	lk.AcceptFormat = "json"
	jresp := must[*kms.ListKeysResponse](t)(e.client.ListKeys(lk))
	if jresp.TotalCount != 4 || !json.Valid(jresp.GetHttpContentBytes()) {
		t.Fatalf("json ListKeys: %s", jresp.GetHttpContentString())
	}
	// Errors follow the format too.
	req = kms.CreateDescribeKeyRequest()
	req.KeyId = "alias/missing"
	req.AcceptFormat = "XML"
	_, err = e.client.DescribeKey(req)
	se := wantErrNoJSON(t, err)
	var x struct {
		Code      string `xml:"Code"`
		RequestID string `xml:"RequestId"`
	}
	if xml.Unmarshal([]byte(se), &x) != nil || x.Code != CodeAliasNotFound || x.RequestID == "" {
		t.Fatalf("XML error body: %s", se)
	}
	// Every response carries x-acs-request-id equal to the body's RequestId.
	if got := resp.GetHttpHeaders()["X-Acs-Request-Id"]; len(got) != 1 || got[0] != resp.RequestId {
		t.Fatalf("x-acs-request-id %v vs %s", got, resp.RequestId)
	}
}

// wantErrNoJSON returns the raw body of a server error that is not JSON.
func wantErrNoJSON(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		t.Fatal("want an error")
	}
	// The SDK keeps the raw body as the message when it cannot parse JSON.
	msg := err.Error()
	i := strings.Index(msg, "<?xml")
	if i < 0 {
		t.Fatalf("no XML body in %q", msg)
	}
	j := strings.Index(msg[i:], "</Error>")
	if j < 0 {
		t.Fatalf("no </Error> in %q", msg)
	}
	return msg[i : i+j+len("</Error>")]
}

func TestIsRPC(t *testing.T) {
	t.Parallel()
	mk := func(method, target, ct, body string) *http.Request {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		return r
	}
	const sig = "Action=Encrypt&Version=2016-01-20&SignatureMethod=HMAC-SHA1"
	for _, c := range []struct {
		r    *http.Request
		want bool
	}{
		{mk("POST", "/?"+sig, "application/x-www-form-urlencoded", ""), true},
		{mk("GET", "/?"+sig, "", ""), true},
		{mk("GET", "/?Action=Encrypt&Version=2016-01-20&AccessKeyId=x", "", ""), true},
		{mk("POST", "/", "application/x-www-form-urlencoded; charset=utf-8", sig), true},
		{mk("POST", "/?Action=Encrypt", "application/x-www-form-urlencoded", "Version=1&AccessKeyId=a"), true},
		{mk("GET", "/?Action=Encrypt&Version=2016-01-20", "", ""), false}, // no signature parameter
		{mk("GET", "/bkt1/?"+sig, "", ""), false},                         // a bucket
		{mk("PUT", "/?"+sig, "", ""), false},
		{mk("GET", "/", "", ""), false},
		{mk("POST", "/", "text/plain", sig), false},
		{mk("POST", "/", "application/x-www-form-urlencoded", "a=%zz"), false},
		{mk("GET", "/?acl", "", ""), false},
	} {
		if got := IsRPC(c.r); got != c.want {
			t.Errorf("IsRPC(%s %s) = %v", c.r.Method, c.r.URL, got)
		}
	}
	big := strings.Repeat("x", maxFormBytes+10)
	r := mk("POST", "/", "application/x-www-form-urlencoded", big)
	if IsRPC(r) {
		t.Fatal("oversized form recognised")
	}
	// A request that is not ours keeps its whole body for the next handler.
	if got, _ := io.ReadAll(r.Body); string(got) != big {
		t.Fatalf("body after IsRPC: %d bytes, want %d", len(got), len(big))
	}
	r = mk("POST", "/", "application/x-www-form-urlencoded", "a=1&b=2")
	if IsRPC(r) {
		t.Fatal("plain form recognised")
	}
	if got, _ := io.ReadAll(r.Body); string(got) != "a=1&b=2" {
		t.Fatalf("body after IsRPC: %q", got)
	}

	// The form IsRPC parsed is what ServeHTTP uses: a router may call
	// IsRPC and then hand the same request to the handler.
	e := newEnv(t)
	form := url.Values{"Action": {"ListKeys"}, "Version": {KMSVersion}, "AccessKeyId": {rootAK},
		"SignatureMethod": {"HMAC-SHA1"}, "SignatureVersion": {"1.0"}, "SignatureNonce": {"isrpc-1"},
		"Timestamp": {time.Now().UTC().Format("2006-01-02T15:04:05Z")}}
	form.Set("Signature", auth.SignRPC(rootSecret, auth.RPCStringToSign("POST", form)))
	r = mk("POST", "/", "application/x-www-form-urlencoded", form.Encode())
	if !IsRPC(r) {
		t.Fatal("form request not recognised")
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"TotalCount":0`) {
		t.Fatalf("after IsRPC: %d %s", w.Code, w.Body)
	}
}

func TestPersistenceAcrossRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createKey(nil)
	al := kms.CreateCreateAliasRequest()
	al.AliasName, al.KeyId = "alias/persist", id
	must[*kms.CreateAliasResponse](t)(e.client.CreateAlias(al))
	enc := must[*kms.EncryptResponse](t)(e.encrypt("alias/persist", "survives restarts", `{"k":"v"}`))
	// Rotate the master key too: material sealed under version 1 still opens.
	if _, err := e.keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	e.reopen()
	dec := must[*kms.DecryptResponse](t)(e.decrypt(enc.CiphertextBlob, `{"k":"v"}`))
	if dec.Plaintext != "survives restarts" {
		t.Fatalf("after restart: %q", dec.Plaintext)
	}
	if got := must[*kms.DescribeKeyResponse](t)(e.describe("alias/persist")).KeyMetadata.KeyId; got != id {
		t.Fatalf("alias after restart -> %s", got)
	}
	// A different master key cannot open the material: InternalFailure, not a wrong answer.
	e.close()
	if err := os.Remove(filepath.Join(e.dir, sealing.FileName)); err != nil {
		t.Fatal(err)
	}
	e.open()
	_, err := e.decrypt(enc.CiphertextBlob, `{"k":"v"}`)
	wantErr(t, err, http.StatusInternalServerError, "InternalFailure")
}

// TestNoKeyMaterialOnDisk scans every file of the data directory for key
// material, data keys and plaintexts in raw, hex and base64 form.
func TestNoKeyMaterialOnDisk(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var secrets [][]byte
	add := func(b []byte) {
		secrets = append(secrets, b, []byte(hex.EncodeToString(b)), []byte(strings.ToUpper(hex.EncodeToString(b))),
			[]byte(base64.StdEncoding.EncodeToString(b)), []byte(base64.RawURLEncoding.EncodeToString(b)))
	}
	// Imported (BYOK) material, the only CMK material a client ever knows.
	id := e.createKey(func(r *kms.CreateKeyRequest) { r.Origin = "EXTERNAL" })
	params := e.importParams(id, WrapRSAOAEPSHA256)
	material := []byte("0123456789abcdef-BYOK-MATERIAL!!")
	add(material)
	if err := e.importMaterial(id, params.ImportToken, wrapMaterial(t, params.PublicKey, WrapRSAOAEPSHA256, material), 0); err != nil {
		t.Fatal(err)
	}
	native := e.createKey(nil)
	for _, k := range []string{id, native} {
		pt := "plaintext-marker-" + k
		secrets = append(secrets, []byte(pt))
		must[*kms.EncryptResponse](t)(e.encrypt(k, pt, ""))
		g := kms.CreateGenerateDataKeyRequest()
		g.KeyId = k
		dk := must[*kms.GenerateDataKeyResponse](t)(e.client.GenerateDataKey(g))
		raw, _ := base64.StdEncoding.DecodeString(dk.Plaintext)
		add(raw)
	}
	// Native CMK material, read back through the server's own unsealing.
	k, err := e.h.getKey(native)
	if err != nil || k == nil {
		t.Fatal(err)
	}
	m, err := e.h.material(k, k.PrimaryVersion)
	if err != nil {
		t.Fatal(err)
	}
	add(m)
	e.close() // flush everything
	found := 0
	err = filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(data, s) {
				t.Errorf("%s contains secret %q", path, s)
				found++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 && len(secrets) < 10 {
		t.Fatal("test collected too few secrets")
	}
}

func TestConcurrentKeyUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createKey(nil)
	var wg sync.WaitGroup
	var failures atomic.Int32
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.newClient(rootAK, rootSecret)
			for i := 0; i < 10; i++ {
				req := kms.CreateEncryptRequest()
				req.KeyId, req.Plaintext = id, "concurrent"
				enc, err := c.Encrypt(req)
				if err != nil {
					failures.Add(1)
					continue
				}
				d := kms.CreateDecryptRequest()
				d.CiphertextBlob = enc.CiphertextBlob
				if dec, err := c.Decrypt(d); err != nil || dec.Plaintext != "concurrent" {
					failures.Add(1)
				}
			}
			if g%2 == 0 { // rotations race the encryptions
				r := kms.CreateCreateKeyVersionRequest()
				r.KeyId = id
				if _, err := c.CreateKeyVersion(r); err != nil {
					failures.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d failures", n)
	}
	lv := kms.CreateListKeyVersionsRequest()
	lv.KeyId = id
	if v := must[*kms.ListKeyVersionsResponse](t)(e.client.ListKeyVersions(lv)); v.TotalCount != 5 {
		t.Fatalf("versions %d, want 5", v.TotalCount)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kr, err := sealing.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{{Sealer: kr, AccountID: "1"}, {Store: st, AccountID: "1"}, {Store: st, Sealer: kr}} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	if _, err := New(Config{Store: st, Sealer: kr, AccountID: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := authorize(nil, "1", "kms:Encrypt", "x"); err == nil {
		t.Fatal("nil principal authorized")
	}
	var pe *Error
	if err := authorize(nil, "1", "kms:Encrypt", "x"); !errors.As(err, &pe) || pe.Status != 403 {
		t.Fatalf("authorize(nil) = %v", err)
	}
}

// BenchmarkKMS16Clients measures Encrypt, Decrypt and GenerateDataKey
// through the official client with 16 concurrent callers.
func BenchmarkKMS16Clients(b *testing.B) {
	e := newEnv(b)
	id := e.createKey(nil)
	blob := must[*kms.EncryptResponse](b)(e.encrypt(id, "benchmark plaintext", "")).CiphertextBlob
	ops := map[string]func(c *kms.Client) error{
		"Encrypt": func(c *kms.Client) error {
			r := kms.CreateEncryptRequest()
			r.KeyId, r.Plaintext = id, "benchmark plaintext"
			_, err := c.Encrypt(r)
			return err
		},
		"Decrypt": func(c *kms.Client) error {
			r := kms.CreateDecryptRequest()
			r.CiphertextBlob = blob
			_, err := c.Decrypt(r)
			return err
		},
		"GenerateDataKey": func(c *kms.Client) error {
			r := kms.CreateGenerateDataKeyRequest()
			r.KeyId = id
			_, err := c.GenerateDataKey(r)
			return err
		},
	}
	for _, name := range []string{"Encrypt", "Decrypt", "GenerateDataKey"} {
		op := ops[name]
		b.Run(name, func(b *testing.B) {
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((16 + procs - 1) / procs) // at least 16 concurrent clients
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := e.newClient(rootAK, rootSecret)
				for pb.Next() {
					if err := op(c); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
