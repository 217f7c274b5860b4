package cp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	kmssdk "github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	osscrypto "github.com/aliyun/aliyun-oss-go-sdk/oss/crypto"

	"github.com/ossctl/ossctl/crypto/keyring"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/config"
	"github.com/ossctl/ossctl/internal/cse"
	"github.com/ossctl/ossctl/internal/output"
	"github.com/ossctl/ossctl/internal/transfer"
)

const testPassphrase = "correct horse battery staple"

// cseFixture is a server with its KMS, a KMS key with an alias, and a keyring holding an RSA key.
type cseFixture struct {
	*fixture
	kms         *cmdutil.KMSClient
	keyringPath string
	kmsKeyID    string
}

func newCSEFixture(t *testing.T) *cseFixture {
	t.Helper()
	fx := newFixture(t, "bkt1", "bkt2")
	kc, err := kmssdk.NewClientWithAccessKey(fx.env.Region, fx.env.AccessKeyID, fx.env.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	kc.Domain = fx.env.Addr
	cf := &cseFixture{fixture: fx, kms: &cmdutil.KMSClient{Client: kc, Scheme: "HTTP", Region: fx.env.Region}}
	req := kmssdk.CreateCreateKeyRequest()
	req.Scheme = "HTTP"
	resp, err := kc.CreateKey(req)
	if err != nil {
		t.Fatal(err)
	}
	cf.kmsKeyID = resp.KeyMetadata.KeyId
	a := kmssdk.CreateCreateAliasRequest()
	a.Scheme = "HTTP"
	a.AliasName, a.KeyId = "alias/cp-test", cf.kmsKeyID
	if _, err := kc.CreateAlias(a); err != nil {
		t.Fatal(err)
	}
	cf.keyringPath = filepath.Join(t.TempDir(), "keyring.json")
	kr, err := keyring.Create(cf.keyringPath, []byte(testPassphrase), &keyring.Options{KDF: keyring.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Generate("laptop", 2048); err != nil {
		t.Fatal(err)
	}
	if err := kr.Save(); err != nil {
		t.Fatal(err)
	}
	return cf
}

// keys returns the master-key finder a command would build, with the given passphrase.
func (cf *cseFixture) keys(pass string) *cse.Keys {
	src := cse.PassphraseSource{LookupEnv: func(k string) (string, bool) { return pass, k == cse.EnvPassphrase }}
	return &cse.Keys{
		KMS:     func() (*cmdutil.KMSClient, error) { return cf.kms, nil },
		Keyring: func() (*keyring.Keyring, error) { return cse.OpenKeyring(cf.keyringPath, src, time.Now) },
	}
}

func (cf *cseFixture) opts(t *testing.T, args ...string) (*Options, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	o, out, errOut := cf.fixture.opts(t, output.FormatJSON, args...)
	o.Keys = cf.keys(testPassphrase)
	return o, out, errOut
}

func doneEvent(t *testing.T, out string) map[string]any {
	t.Helper()
	for _, e := range jsonLines(t, out) {
		if e["event"] == "done" {
			return e
		}
	}
	t.Fatalf("no done event in %q", out)
	return nil
}

func TestEncryptRoundTrips(t *testing.T) {
	cf := newCSEFixture(t)
	for _, spec := range []string{"kms:alias/cp-test", "key:laptop"} {
		for _, auth := range []bool{false, true} {
			for _, size := range []int{10<<10 + 3, 3*transfer.MinPartSize + 5} {
				name := strings.NewReplacer(":", "-", "/", "-").Replace(spec)
				key := name + map[bool]string{false: "-sdk", true: "-auth"}[auth] + "-" + string(rune('a'+size%26))
				src := filepath.Join(cf.dir, key)
				data := randBytes(size, uint64(size))
				writeFile(t, src, data)

				o, out, _ := cf.opts(t, src, "oss://bkt1/"+key)
				o.Encrypt, o.EncryptSet, o.EncryptAuthenticated = spec, true, auth
				o.Threshold = 2 * transfer.MinPartSize
				if err := run(o); err != nil {
					t.Fatalf("%s auth=%v size=%d: upload: %v", spec, auth, size, err)
				}
				ev := doneEvent(t, out.String())
				wantFormat := map[bool]string{false: "sdk", true: "authenticated"}[auth]
				if ev["encrypted"] != spec || ev["cseFormat"] != wantFormat || ev["size"] != float64(size) {
					t.Errorf("upload event %v", ev)
				}
				stored := getObject(t, cf.client, "bkt1", key)
				if bytes.Contains(stored, data[:64]) {
					t.Fatal("stored object contains plaintext")
				}

				dst := filepath.Join(cf.dir, "down", key)
				o, out, _ = cf.opts(t, "oss://bkt1/"+key, dst)
				o.Threshold = 2 * transfer.MinPartSize
				if err := run(o); err != nil {
					t.Fatalf("%s auth=%v size=%d: download: %v", spec, auth, size, err)
				}
				ev = doneEvent(t, out.String())
				wantKey := spec
				if spec == "kms:alias/cp-test" {
					wantKey = "kms:" + cf.kmsKeyID
				}
				if ev["decrypted"] != wantKey || ev["cseFormat"] != wantFormat {
					t.Errorf("download event %v, want decrypted %s", ev, wantKey)
				}
				if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
					t.Fatalf("%s auth=%v size=%d: round trip differs", spec, auth, size)
				}
				assertNoTempFiles(t, filepath.Dir(dst))
			}
		}
	}
}

func TestEncryptedCopyStaysDecryptable(t *testing.T) {
	cf := newCSEFixture(t)
	data := randBytes(3*transfer.MinPartSize+77, 3)
	src := filepath.Join(cf.dir, "a.bin")
	writeFile(t, src, data)
	o, _, _ := cf.opts(t, src, "oss://bkt1/a.bin")
	o.Encrypt, o.EncryptSet = "kms:alias/cp-test", true
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	// A single CopyObject, a multipart copy into another bucket, and a copy with new metadata.
	for _, c := range []struct {
		dst       string
		threshold int64
		meta      map[string]string
	}{
		{"oss://bkt1/copy1.bin", 100 << 20, nil},
		{"oss://bkt2/copy2.bin", transfer.MinPartSize, nil},
		{"oss://bkt2/copy3.bin", 100 << 20, map[string]string{"owner": "ops"}},
	} {
		o, _, _ := cf.opts(t, "oss://bkt1/a.bin", c.dst)
		o.Threshold, o.Meta = c.threshold, c.meta
		if err := run(o); err != nil {
			t.Fatalf("copy to %s: %v", c.dst, err)
		}
		dst := filepath.Join(cf.dir, filepath.Base(c.dst))
		o, _, _ = cf.opts(t, c.dst, dst)
		if err := run(o); err != nil {
			t.Fatalf("download of %s: %v", c.dst, err)
		}
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
			t.Fatalf("%s does not decrypt to the original", c.dst)
		}
	}
}

// TestIntegrityFailuresLeaveNoFile: a tampered object and a wrong keyring passphrase exit 6
// (IntegrityError) with no file, neither final nor temporary.
func TestIntegrityFailuresLeaveNoFile(t *testing.T) {
	cf := newCSEFixture(t)
	data := randBytes(50<<10, 4)
	src := filepath.Join(cf.dir, "s.bin")
	writeFile(t, src, data)
	for _, spec := range []string{"kms:alias/cp-test", "key:laptop"} {
		key := strings.ReplaceAll(spec, "/", "_")
		o, _, _ := cf.opts(t, src, "oss://bkt1/"+key)
		o.Encrypt, o.EncryptSet = spec, true
		if err := run(o); err != nil {
			t.Fatal(err)
		}
	}
	// Tamper with the KMS-encrypted one: flip a ciphertext byte, keep the metadata.
	b, _ := cf.client.Bucket("bkt1")
	h, _ := b.GetObjectDetailedMeta("kms:alias_cp-test")
	stored := getObject(t, cf.client, "bkt1", "kms:alias_cp-test")
	stored[1000] ^= 0x80
	putObject(t, cf.client, "bkt1", "kms:alias_cp-test", stored, transfer.MetaOptions(transfer.UserMeta(h))...)

	dir := filepath.Join(cf.dir, "out")
	check := func(name string, o *Options) {
		t.Helper()
		err := run(o)
		var ie *cmdutil.IntegrityError
		if !errors.As(err, &ie) {
			t.Fatalf("%s: %v, want an integrity error (exit 6)", name, err)
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 0 {
			t.Fatalf("%s: files left behind: %v", name, ents)
		}
	}
	o, _, _ := cf.opts(t, "oss://bkt1/kms:alias_cp-test", dir+"/")
	check("tampered", o)

	o, _, _ = cf.opts(t, "oss://bkt1/key:laptop", dir+"/")
	o.Keys = cf.keys("wrong passphrase")
	check("wrong passphrase", o)
}

// TestDecryptSDKEncryptedObject: the official SDK's oss/crypto encrypts with an RSA key; after
// the key is imported into the keyring (with the SDK's matdesc), cp decrypts the object, whole
// and in parallel ranges.
func TestDecryptSDKEncryptedObject(t *testing.T) {
	cf := newCSEFixture(t)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)})
	pubDER, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	matDesc := map[string]string{"desc": "sdk-rsa"}
	master, err := osscrypto.CreateMasterRsa(matDesc, string(pubPEM), string(privPEM))
	if err != nil {
		t.Fatal(err)
	}
	sdkClient, err := oss.New(cf.env.Endpoint, cf.env.AccessKeyID, cf.env.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := osscrypto.GetCryptoBucket(sdkClient, "bkt1", osscrypto.CreateAesCtrCipher(master))
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(5*transfer.MinPartSize+9, 5)
	if err := cb.PutObject("sdk.bin", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}

	kr, err := keyring.Open(cf.keyringPath, []byte(testPassphrase), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Import("from-sdk", privPEM, matDesc); err != nil {
		t.Fatal(err)
	}
	if err := kr.Save(); err != nil {
		t.Fatal(err)
	}
	for _, threshold := range []int64{100 << 20, transfer.MinPartSize} {
		dst := filepath.Join(cf.dir, "sdk.out")
		o, out, _ := cf.opts(t, "oss://bkt1/sdk.bin", dst)
		o.Threshold, o.Force = threshold, true
		if err := run(o); err != nil {
			t.Fatalf("threshold %d: %v", threshold, err)
		}
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
			t.Fatalf("threshold %d: SDK-encrypted object not decrypted", threshold)
		}
		if ev := doneEvent(t, out.String()); ev["decrypted"] != "key:from-sdk" && !strings.Contains(ev["decrypted"].(string), "sdk-rsa") {
			t.Errorf("event %v", ev)
		}
	}
}

// partCounter counts UploadPart requests and cancels a context after n of them succeeded.
type partCounter struct {
	mu     sync.Mutex
	parts  int
	cancel func()
	after  int
}

func (p *partCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodPut && r.URL.Query().Has("partNumber") {
		p.mu.Lock()
		p.parts++
		if p.cancel != nil && p.parts >= p.after {
			p.cancel()
		}
		p.mu.Unlock()
	}
	return resp, err
}

func TestEncryptedUploadResumesMissingParts(t *testing.T) {
	cf := newCSEFixture(t)
	data := randBytes(10*transfer.MinPartSize+1, 6)
	src := filepath.Join(cf.dir, "r.bin")
	writeFile(t, src, data)
	pc := &partCounter{}
	client, err := oss.New(cf.env.Endpoint, cf.env.AccessKeyID, cf.env.AccessKeySecret, oss.HTTPClient(&http.Client{Transport: pc}), oss.EnableCRC(false))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pc.cancel, pc.after = cancel, 3
	o, _, _ := cf.opts(t, src, "oss://bkt1/r.bin")
	o.OSS = func() (*oss.Client, error) { return client, nil }
	o.Encrypt, o.EncryptSet, o.Threshold, o.Parallel, o.Ctx = "kms:alias/cp-test", true, transfer.MinPartSize, 1, ctx
	if err := run(o); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted upload: %v", err)
	}
	ents, _ := os.ReadDir(o.CheckpointDir)
	if len(ents) != 1 {
		t.Fatalf("checkpoints: %v", ents)
	}
	raw, _ := os.ReadFile(filepath.Join(o.CheckpointDir, ents[0].Name()))
	if !bytes.Contains(raw, []byte(`"client-side-encryption-key"`)) || !bytes.Contains(raw, []byte(`"encryption":"kms:alias/cp-test+sdk"`)) {
		t.Fatalf("checkpoint does not keep the wrapped key: %s", raw)
	}
	pc.mu.Lock()
	pc.cancel, pc.parts = nil, 0
	pc.mu.Unlock()
	o, _, _ = cf.opts(t, src, "oss://bkt1/r.bin")
	o.OSS = func() (*oss.Client, error) { return client, nil }
	o.Encrypt, o.EncryptSet, o.Threshold = "kms:alias/cp-test", true, transfer.MinPartSize
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	pc.mu.Lock()
	resent := pc.parts
	pc.mu.Unlock()
	if resent >= 10 || resent < 1 {
		t.Errorf("resumed upload sent %d of 10 parts", resent)
	}
	dst := filepath.Join(cf.dir, "r.out")
	o, _, _ = cf.opts(t, "oss://bkt1/r.bin", dst)
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Fatal("resumed encrypted upload does not decrypt")
	}
}

func TestEncryptFlagsAndProfileDefault(t *testing.T) {
	cf := newCSEFixture(t)
	src := filepath.Join(cf.dir, "p.txt")
	writeFile(t, src, []byte("profile default"))
	cfg := func(v string) func() (*config.Resolved, error) {
		return func() (*config.Resolved, error) {
			return config.Resolve(config.Inputs{HomeDir: t.TempDir(), Flags: map[config.Key]string{},
				LookupEnv: func(k string) (string, bool) { return v, k == "OSSCTL_ENCRYPT" }})
		}
	}
	b, _ := cf.client.Bucket("bkt1")
	encrypted := func(key string) bool {
		h, err := b.GetObjectDetailedMeta(key)
		if err != nil {
			t.Fatal(err)
		}
		return cse.IsEncrypted(h)
	}
	o, _, _ := cf.opts(t, src, "oss://bkt1/p1")
	o.Config = cfg("kms:alias/cp-test")
	if err := run(o); err != nil || !encrypted("p1") {
		t.Fatalf("profile default: %v, encrypted %v", err, encrypted("p1"))
	}
	o, _, _ = cf.opts(t, src, "oss://bkt1/p2")
	o.Config, o.Encrypt, o.EncryptSet = cfg("kms:alias/cp-test"), "none", true
	if err := run(o); err != nil || encrypted("p2") {
		t.Fatalf("--encrypt none: %v", err)
	}
	o, _, _ = cf.opts(t, src, "oss://bkt1/p3")
	o.EncryptAuthenticated = true
	var fe *cmdutil.FlagError
	if err := run(o); !errors.As(err, &fe) {
		t.Fatalf("--encrypt-authenticated without a key: %v", err)
	}
	o, _, _ = cf.opts(t, src, "oss://bkt1/p4")
	o.Encrypt, o.EncryptSet = "kms:alias/no-such-key", true
	if err := run(o); err == nil || !strings.Contains(err.Error(), "alias/no-such-key") {
		t.Fatalf("unknown KMS key: %v", err)
	}
	if ok, _ := b.IsObjectExist("p4"); ok {
		t.Error("an upload under an unknown key stored something")
	}

	for _, args := range []string{"--encrypt kms:alias/x oss://bkt1/p1 ./a", "--encrypt key:k oss://bkt1/p1 oss://bkt1/p9",
		"--encrypt-authenticated oss://bkt1/p1 ./a", "--encrypt bogus ./a oss://bkt1/x"} {
		f := testFactory(t)
		cmd := NewCmdCp(f, func(*Options) error { return nil })
		cmd.SetArgs(strings.Fields(args))
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		if err := cmd.Execute(); !errors.As(err, &fe) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

func TestEncryptedStreams(t *testing.T) {
	cf := newCSEFixture(t)
	for _, size := range []int{100, 20 << 20} { // one PUT with a known size; a streaming PUT
		data := randBytes(size, 8)
		o, _, _ := cf.opts(t, "-", "oss://bkt1/stream")
		o.IO.In = bytes.NewReader(data)
		o.Encrypt, o.EncryptSet, o.Force = "key:laptop", true, true
		if err := run(o); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if bytes.Equal(getObject(t, cf.client, "bkt1", "stream")[:64], data[:64]) {
			t.Fatal("stdin was stored in plaintext")
		}
		o, out, _ := cf.opts(t, "oss://bkt1/stream", "-")
		if err := run(o); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("size %d: stdout differs (%d bytes)", size, out.Len())
		}
	}
}
