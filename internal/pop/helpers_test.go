package pop

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"

	"github.com/ossctl/ossctl/internal/auth"
	"github.com/ossctl/ossctl/internal/sealing"
	"github.com/ossctl/ossctl/internal/store"
)

const (
	testAccount = "1234567890123456"
	testRegion  = "cn-hangzhou"
	rootAK      = "LTAI5tPopRoot000001"
	rootSecret  = "root/Secret+with=Specials"
	userAK      = "LTAI5tPopUser000002"
	userSecret  = "user-secret-0002"
)

var testCreds = map[string]*auth.Credential{
	rootAK: {AccessKeyID: rootAK, Secret: rootSecret, Principal: auth.Principal{Root: true, AccountID: testAccount}},
	userAK: {AccessKeyID: userAK, Secret: userSecret, Principal: auth.Principal{AccountID: testAccount, UserName: "alice"}},
}

func testLookup(ak string) (*auth.Credential, bool) {
	c, ok := testCreds[ak]
	return c, ok
}

// clock is a movable server clock: real time plus an offset.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// env is a KMS endpoint on a temp-dir store, with an official client.
type env struct {
	t      testing.TB
	dir    string
	st     *store.Store
	keys   *sealing.Keyring
	h      *Handler
	srv    *httptest.Server
	clock  *clock
	client *kms.Client
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, dir: filepath.Join(t.TempDir(), "data"), clock: &clock{}}
	e.open()
	return e
}

// open (re)opens store, keyring, handler and server on e.dir.
func (e *env) open() {
	t := e.t
	t.Helper()
	st, err := store.Open(e.dir, store.Options{})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	kr, err := sealing.Open(e.dir)
	if err != nil {
		t.Fatalf("sealing.Open: %v", err)
	}
	h, err := New(Config{Store: st, Sealer: kr, Lookup: testLookup, AccountID: testAccount, Region: testRegion,
		Now: e.clock.Now, AuthNow: time.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(h)
	e.st, e.keys, e.h, e.srv = st, kr, h, srv
	e.client = e.newClient(rootAK, rootSecret)
	t.Cleanup(e.close)
}

func (e *env) close() {
	if e.srv != nil {
		e.srv.Close()
		e.srv = nil
	}
	if e.st != nil {
		_ = e.st.Close()
		e.st = nil
	}
}

func (e *env) reopen() {
	e.close()
	e.open()
}

func (e *env) host() string { return strings.TrimPrefix(e.srv.URL, "http://") }

func (e *env) newClient(ak, sk string) *kms.Client {
	e.t.Helper()
	c, err := kms.NewClientWithAccessKey(testRegion, ak, sk)
	if err != nil {
		e.t.Fatal(err)
	}
	c.Domain = e.host()
	return c
}

// wantErr asserts an official-SDK server error with code and status.
func wantErr(t testing.TB, err error, status int, code string) *sdkerrors.ServerError {
	t.Helper()
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("want server error %d %s, got %v", status, code, err)
	}
	if se.ErrorCode() != code || se.HttpStatus() != status {
		t.Fatalf("got %d %s (%s), want %d %s", se.HttpStatus(), se.ErrorCode(), se.Message(), status, code)
	}
	if se.RequestId() == "" {
		t.Fatalf("error without RequestId")
	}
	return se
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// createKey makes a key with the official client and returns its id.
func (e *env) createKey(mutate func(*kms.CreateKeyRequest)) string {
	e.t.Helper()
	req := kms.CreateCreateKeyRequest()
	if mutate != nil {
		mutate(req)
	}
	resp, err := e.client.CreateKey(req)
	if err != nil {
		e.t.Fatalf("CreateKey: %v", err)
	}
	return resp.KeyMetadata.KeyId
}

func (e *env) encrypt(keyID, pt, ctx string) (*kms.EncryptResponse, error) {
	req := kms.CreateEncryptRequest()
	req.KeyId, req.Plaintext, req.EncryptionContext = keyID, pt, ctx
	return e.client.Encrypt(req)
}

func (e *env) decrypt(blob, ctx string) (*kms.DecryptResponse, error) {
	req := kms.CreateDecryptRequest()
	req.CiphertextBlob, req.EncryptionContext = blob, ctx
	return e.client.Decrypt(req)
}

func (e *env) describe(keyID string) (*kms.DescribeKeyResponse, error) {
	req := kms.CreateDescribeKeyRequest()
	req.KeyId = keyID
	return e.client.DescribeKey(req)
}

// rawCall sends a hand-signed POP request (for what the SDK cannot send:
// stale timestamps, replays, GET, form bodies) and returns status and body.
func (e *env) rawCall(method string, params url.Values, inBody bool, ts time.Time, nonce string) (int, string) {
	e.t.Helper()
	p := url.Values{}
	for k, v := range params {
		p[k] = v
	}
	p.Set("Version", KMSVersion)
	p.Set("AccessKeyId", rootAK)
	p.Set("SignatureMethod", "HMAC-SHA1")
	p.Set("SignatureVersion", "1.0")
	p.Set("SignatureType", "")
	p.Set("SignatureNonce", nonce)
	p.Set("Timestamp", ts.UTC().Format("2006-01-02T15:04:05Z"))
	if !p.Has("Format") {
		p.Set("Format", "JSON")
	}
	p.Set("Signature", auth.SignRPC(rootSecret, auth.RPCStringToSign(method, p)))
	var req *http.Request
	var err error
	if inBody {
		req, err = http.NewRequest(method, e.srv.URL+"/", strings.NewReader(p.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, err = http.NewRequest(method, e.srv.URL+"/?"+p.Encode(), nil)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
