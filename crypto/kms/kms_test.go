package kms_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	kmssdk "github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	osscrypto "github.com/aliyun/aliyun-oss-go-sdk/oss/crypto"

	"github.com/ossctl/ossctl/crypto"
	"github.com/ossctl/ossctl/crypto/kms"
)

// fakeKMS answers Encrypt and Decrypt like KMS does at the wire level (no
// signature check, a reversible toy "encryption") and records requests.
// ossctl serve's real KMS is exercised end to end elsewhere.
type fakeKMS struct {
	mu       sync.Mutex
	requests []url.Values
}

func (f *fakeKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, r.Form)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	reply := func(status int, v map[string]string) {
		v["RequestId"] = "REQ"
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch r.Form.Get("Action") {
	case "Encrypt":
		blob := "FAKEKMS|" + r.Form.Get("KeyId") + "|" + r.Form.Get("Plaintext")
		reply(200, map[string]string{"KeyId": r.Form.Get("KeyId"), "KeyVersionId": "v1", "CiphertextBlob": base64.StdEncoding.EncodeToString([]byte(blob))})
	case "Decrypt":
		raw, err := base64.StdEncoding.DecodeString(r.Form.Get("CiphertextBlob"))
		parts := strings.SplitN(string(raw), "|", 3)
		if err != nil || len(parts) != 3 || parts[0] != "FAKEKMS" {
			reply(400, map[string]string{"Code": "InvalidParameter", "Message": "The specified parameter CiphertextBlob is not valid.", "HostId": "kms"})
			return
		}
		reply(200, map[string]string{"KeyId": parts[1], "KeyVersionId": "v1", "Plaintext": parts[2]})
	default:
		reply(400, map[string]string{"Code": "InvalidAction", "Message": "unknown action", "HostId": "kms"})
	}
}

func (f *fakeKMS) last() url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[len(f.requests)-1]
}

func newClient(t *testing.T, srv *httptest.Server) *kmssdk.Client {
	t.Helper()
	c, err := kmssdk.NewClientWithAccessKey("cn-hangzhou", "LTAIfake", "secret")
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = strings.TrimPrefix(strings.TrimPrefix(srv.URL, "http://"), "https://")
	return c
}

func TestWrapUnwrapRequestShape(t *testing.T) {
	fake := &fakeKMS{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	mk, err := kms.New(newClient(t, srv), "key-123", &kms.Options{MatDesc: map[string]string{"kms": "key-123"}, Scheme: "http"})
	if err != nil {
		t.Fatal(err)
	}
	if mk.WrapAlg() != crypto.WrapAlgKMS || mk.MatDesc() != `{"kms":"key-123"}` {
		t.Fatalf("WrapAlg %q MatDesc %q", mk.WrapAlg(), mk.MatDesc())
	}
	cek := bytes.Repeat([]byte{0xC5}, 32)
	blob, err := mk.Wrap(cek)
	if err != nil {
		t.Fatal(err)
	}
	req := fake.last()
	if req.Get("Action") != "Encrypt" || req.Get("KeyId") != "key-123" || req.Get("Plaintext") != base64.StdEncoding.EncodeToString(cek) {
		t.Fatalf("Encrypt request %v", req)
	}
	if _, ok := req["EncryptionContext"]; ok {
		t.Fatal("an EncryptionContext was sent; the SDKs never send one")
	}
	if want := "FAKEKMS|key-123|" + base64.StdEncoding.EncodeToString(cek); string(blob) != want {
		t.Fatalf("wrapped = %q, want the decoded CiphertextBlob %q", blob, want)
	}
	got, err := mk.Unwrap(blob)
	if err != nil || !bytes.Equal(got, cek) {
		t.Fatalf("Unwrap = %x, %v", got, err)
	}
	req = fake.last()
	if req.Get("Action") != "Decrypt" || req.Get("CiphertextBlob") != base64.StdEncoding.EncodeToString(blob) || req.Get("KeyId") != "" {
		t.Fatalf("Decrypt request %v", req)
	}
	if _, err := mk.Unwrap([]byte("garbage")); !errors.Is(err, crypto.ErrWrongKey) {
		t.Fatalf("bad blob: err = %v, want ErrWrongKey", err)
	}
}

func TestNewValidates(t *testing.T) {
	srv := httptest.NewServer(&fakeKMS{})
	defer srv.Close()
	c := newClient(t, srv)
	if _, err := kms.New(nil, "k", nil); err == nil {
		t.Error("nil client accepted")
	}
	if _, err := kms.New(c, "", nil); err == nil {
		t.Error("empty key id accepted")
	}
	if _, err := kms.New(c, "k", &kms.Options{Scheme: "ftp"}); err == nil {
		t.Error("ftp scheme accepted")
	}
	// The default scheme is HTTPS: a plain-HTTP endpoint is not reached.
	mk, err := kms.New(c, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mk.Wrap(make([]byte, 32)); err == nil {
		t.Error("default scheme spoke plain HTTP")
	}
}

// TestInteropWithSDKKMSCipher runs the SDK's MasterAliKmsCipher (which
// forces HTTPS) and ours against the same KMS, both ways.
func TestInteropWithSDKKMSCipher(t *testing.T) {
	srv := httptest.NewTLSServer(&fakeKMS{})
	defer srv.Close()
	client := newClient(t, srv)
	client.SetHTTPSInsecure(true)
	md := map[string]string{"kms": "k1"}
	ours, err := kms.New(client, "k1", &kms.Options{MatDesc: md})
	if err != nil {
		t.Fatal(err)
	}
	sdkMaster, err := osscrypto.CreateMasterAliKms(md, "k1", client)
	if err != nil {
		t.Fatal(err)
	}
	builder := osscrypto.CreateAesCtrCipher(sdkMaster)
	plain := []byte("KMS-wrapped object body, long enough to span a few AES blocks.")

	// Ours → SDK.
	c, err := crypto.NewContent(ours, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := c.EncryptReader(bytes.NewReader(plain), 0)
	ct, _ := io.ReadAll(r)
	env := c.Envelope()
	cc, err := builder.ContentCipherEnv(osscrypto.Envelope{IV: string(env.WrappedIV), CipherKey: string(env.WrappedKey), MatDesc: env.MatDesc, WrapAlg: env.WrapAlg, CEKAlg: env.CEKAlg})
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := cc.DecryptContent(bytes.NewReader(ct))
	if got, _ := io.ReadAll(rc); !bytes.Equal(got, plain) {
		t.Fatal("SDK could not decrypt our KMS-wrapped object")
	}

	// SDK → ours.
	sc, err := builder.ContentCipher()
	if err != nil {
		t.Fatal(err)
	}
	src, _ := sc.EncryptContent(bytes.NewReader(plain))
	sct, _ := io.ReadAll(src)
	cd := sc.GetCipherData()
	oc, err := crypto.OpenContent(&crypto.Envelope{
		CEKAlg: cd.CEKAlgorithm, WrapAlg: cd.WrapAlgorithm, MatDesc: cd.MatDesc,
		WrappedKey: cd.EncryptedKey, WrappedIV: cd.EncryptedIV, UnencryptedContentLength: crypto.SizeUnknown,
	}, &crypto.MasterKeyResolver{Default: ours})
	if err != nil {
		t.Fatal(err)
	}
	dr, _ := oc.DecryptReader(bytes.NewReader(sct), int64(len(sct)))
	if got, _ := io.ReadAll(dr); !bytes.Equal(got, plain) {
		t.Fatal("we could not decrypt the SDK's KMS-wrapped object")
	}
}
