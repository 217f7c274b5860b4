package cse_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kmssdk "github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	osscrypto "github.com/aliyun/aliyun-oss-go-sdk/oss/crypto"

	"github.com/ossctl/ossctl/crypto"
	"github.com/ossctl/ossctl/crypto/keyring"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/config"
	"github.com/ossctl/ossctl/internal/cse"
	"github.com/ossctl/ossctl/internal/cse/csetest"
	"github.com/ossctl/ossctl/internal/transfer"
)

// replaceBetweenRanges calls replace before the second ranged GET it sends.
type replaceBetweenRanges struct {
	next    http.RoundTripper
	replace func()
	ranges  int
}

func (r *replaceBetweenRanges) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && req.Header.Get("Range") != "" {
		if r.ranges++; r.ranges == 2 {
			r.replace()
		}
	}
	return r.next.RoundTrip(req)
}

// fastKDF keeps keyring tests quick; the cost is stored in the file, so Open uses it too.
var fastKDF = &keyring.Options{KDF: keyring.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}}

type fixture struct {
	env    *csetest.Env
	bucket *oss.Bucket
	kms    *cmdutil.KMSClient
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := csetest.Start(t)
	client, err := oss.New(env.Endpoint, csetest.AccessKeyID, csetest.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.CreateBucket("bkt1"); err != nil {
		t.Fatal(err)
	}
	b, err := client.Bucket("bkt1")
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kmssdk.NewClientWithAccessKey(csetest.Region, csetest.AccessKeyID, csetest.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	kc.Domain = env.Addr
	return &fixture{env: env, bucket: b, kms: &cmdutil.KMSClient{Client: kc, Scheme: "HTTP", Region: csetest.Region}}
}

func (f *fixture) createKMSKey(t *testing.T, alias string) string {
	t.Helper()
	req := kmssdk.CreateCreateKeyRequest()
	req.Scheme = "HTTP"
	resp, err := f.kms.CreateKey(req)
	if err != nil {
		t.Fatal(err)
	}
	if alias != "" {
		a := kmssdk.CreateCreateAliasRequest()
		a.Scheme = "HTTP"
		a.AliasName, a.KeyId = alias, resp.KeyMetadata.KeyId
		if _, err := f.kms.CreateAlias(a); err != nil {
			t.Fatal(err)
		}
	}
	return resp.KeyMetadata.KeyId
}

func (f *fixture) keys(kr *keyring.Keyring) *cse.Keys {
	k := &cse.Keys{KMS: func() (*cmdutil.KMSClient, error) { return f.kms, nil }}
	if kr != nil {
		k.Keyring = func() (*keyring.Keyring, error) { return kr, nil }
	}
	return k
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// put uploads plain encrypted under mk with a single PutObject.
func put(t *testing.T, b *oss.Bucket, key string, mk crypto.MasterKey, plain []byte, auth bool, extra ...oss.Option) {
	t.Helper()
	up, err := cse.NewUpload(mk, cse.UploadOptions{Size: int64(len(plain)), Authenticated: auth})
	if err != nil {
		t.Fatal(err)
	}
	body, err := up.Reader(bytes.NewReader(plain))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.PutObject(key, body, append(up.Options(), extra...)...); err != nil {
		t.Fatal(err)
	}
}

// engine returns the transfer engine that cp, sync and cat download through, decrypting with
// keys: objects of at least part bytes come in parallel ranged parts of part bytes (raised to
// transfer.MinPartSize and aligned to the cipher), smaller ones with a single GET. client,
// when set, replaces the fixture's own SDK client.
func (f *fixture) engine(t *testing.T, keys *cse.Keys, part int64, client *oss.Client) *transfer.Config {
	t.Helper()
	if client == nil {
		var err error
		if client, err = oss.New(f.env.Endpoint, csetest.AccessKeyID, csetest.AccessKeySecret); err != nil {
			t.Fatal(err)
		}
	}
	return &transfer.Config{Client: client, Threshold: part, PartSize: part, Parallel: 3,
		Retry: transfer.Retry{Attempts: 1}, Encryption: &transfer.Encryption{Keys: keys}}
}

func download(t *testing.T, f *fixture, keys *cse.Keys, key string, part int64) ([]byte, string, error) {
	t.Helper()
	h, err := f.bucket.GetObjectDetailedMeta(key)
	if err != nil {
		t.Fatal(err)
	}
	if !cse.IsEncrypted(h) {
		t.Fatalf("%s is not marked as encrypted", key)
	}
	dst := filepath.Join(t.TempDir(), "out.bin")
	res, err := f.engine(t, keys, part, nil).Download(context.Background(),
		transfer.Download{Bucket: "bkt1", Key: key, LocalPath: dst, Size: -1}, nil)
	if err != nil {
		return nil, dst, err
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != int64(len(got)) || res.Decrypted == "" {
		t.Fatalf("download result %+v for %d bytes", res, len(got))
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("decrypted file mode: %v %v", fi, err)
	}
	return got, dst, nil
}

func assertNoLeftovers(t *testing.T, dst string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(dst))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("plaintext left behind after a failed download: %v", entries)
	}
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    cse.Spec
		wantErr string
	}{
		{in: "", want: cse.Spec{}},
		{in: "none", want: cse.Spec{}},
		{in: "kms:alias/backup", want: cse.Spec{Kind: cse.KindKMS, ID: "alias/backup"}},
		{in: "kms:0b3c1f2e-1111-2222-3333-444455556666", want: cse.Spec{Kind: cse.KindKMS, ID: "0b3c1f2e-1111-2222-3333-444455556666"}},
		{in: "KEY:laptop", want: cse.Spec{Kind: cse.KindKey, ID: "laptop"}},
		{in: "key:", wantErr: "1 to 64"},
		{in: "key:-x", wantErr: "may contain only"},
		{in: "kms:", wantErr: "needs a key id"},
		{in: "rsa:foo", wantErr: "unknown kind"},
		{in: "alias/backup", wantErr: "want kms:"},
	}
	for _, tt := range tests {
		got, err := cse.ParseSpec(tt.in)
		if tt.wantErr != "" {
			var fe *cmdutil.FlagError
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &fe) {
				t.Errorf("ParseSpec(%q) error = %v, want usage error containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if !tt.want.IsZero() && got.String() != strings.Replace(tt.in, "KEY", "key", 1) {
			t.Errorf("String() = %q", got.String())
		}
	}
}

func TestKMSRoundTripParallelAndRanges(t *testing.T) {
	f := newFixture(t)
	id := f.createKMSKey(t, "alias/cse-test")
	keys := f.keys(nil)
	mk, err := keys.MasterKey(cse.Spec{Kind: cse.KindKMS, ID: "alias/cse-test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range []bool{false, true} {
		plain := payload(300_000 + 17)
		key := "obj-" + map[bool]string{false: "sdk", true: "gcm"}[auth]
		put(t, f.bucket, key, mk, plain, auth)

		h, err := f.bucket.GetObjectDetailedMeta(key)
		if err != nil {
			t.Fatal(err)
		}
		info, err := cse.Describe(h)
		if err != nil {
			t.Fatal(err)
		}
		if info.KMSKeyID != id || info.WrapAlg != crypto.WrapAlgKMS || info.Authenticated != auth || info.PlaintextSize != int64(len(plain)) {
			t.Fatalf("Describe = %+v, want key %s authenticated=%v", info, id, auth)
		}
		// Parallel parts (several per object) and a single GET.
		for _, part := range []int64{64 << 10, 8 << 20} {
			got, _, err := download(t, f, keys, key, part)
			if err != nil {
				t.Fatalf("auth=%v part=%d: %v", auth, part, err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("auth=%v part=%d: plaintext differs", auth, part)
			}
		}
		d, err := cse.OpenDownload(h, keys)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range [][2]int64{{0, 0}, {1, 15}, {15, 16}, {65535, 65537}, {int64(len(plain)) - 3, -1}} {
			p, err := d.Plan(r[0], r[1])
			if err != nil {
				t.Fatal(err)
			}
			body, err := f.bucket.GetObject(key, oss.NormalizedRange(strings.TrimPrefix(p.HTTPRange(), "bytes=")), oss.RangeBehavior("standard"))
			if err != nil {
				t.Fatal(err)
			}
			pr, err := d.DecryptRange(body, p)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(pr); err != nil {
				t.Fatal(err)
			}
			body.Close()
			end := r[1]
			if end < 0 {
				end = int64(len(plain)) - 1
			}
			if !bytes.Equal(buf.Bytes(), plain[r[0]:end+1]) {
				t.Fatalf("auth=%v range %v: wrong plaintext", auth, r)
			}
		}
	}
}

func TestMultipartUploadAndResume(t *testing.T) {
	f := newFixture(t)
	f.createKMSKey(t, "alias/mp")
	keys := f.keys(nil)
	mk, err := keys.MasterKey(cse.Spec{Kind: cse.KindKMS, ID: "alias/mp"})
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range []bool{false, true} {
		plain := payload(3*(100<<10) + 1234)
		partSize := cse.AlignPartSize(100<<10+5, auth)
		if partSize%16 != 0 || (auth && partSize%crypto.DefaultChunkSize != 0) {
			t.Fatalf("AlignPartSize = %d", partSize)
		}
		up, err := cse.NewMultipartUpload(mk, cse.UploadOptions{Authenticated: auth, Size: -1}, int64(len(plain)), partSize)
		if err != nil {
			t.Fatal(err)
		}
		key := "mp-" + map[bool]string{false: "sdk", true: "gcm"}[auth]
		imu, err := f.bucket.InitiateMultipartUpload(key, up.Options()...)
		if err != nil {
			t.Fatal(err)
		}
		var parts []oss.UploadPart
		uploadPart := func(u *cse.Upload, n int) {
			off, size, err := u.PartRange(n)
			if err != nil {
				t.Fatal(err)
			}
			body, err := u.PartReader(bytes.NewReader(plain[off:off+size]), n)
			if err != nil {
				t.Fatal(err)
			}
			cs, err := u.PartCiphertextSize(n)
			if err != nil {
				t.Fatal(err)
			}
			p, err := f.bucket.UploadPart(imu, body, cs, n, u.Options()...)
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, p)
		}
		uploadPart(up, 1)
		// "Interrupted": rebuild from the checkpointed metadata and finish.
		resumed, err := cse.ResumeUpload(up.Metadata(), keys)
		if err != nil {
			t.Fatal(err)
		}
		if resumed.PartCount() != up.PartCount() || resumed.PartCount() < 3 {
			t.Fatalf("resumed PartCount = %d, original %d", resumed.PartCount(), up.PartCount())
		}
		for n := 2; n <= resumed.PartCount(); n++ {
			uploadPart(resumed, n)
		}
		if _, err := f.bucket.CompleteMultipartUpload(imu, parts); err != nil {
			t.Fatal(err)
		}
		got, _, err := download(t, f, keys, key, 100<<10)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("auth=%v: multipart plaintext differs", auth)
		}
	}
}

func newKeyring(t *testing.T, names ...string) *keyring.Keyring {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keyring.json")
	kr, err := keyring.Create(path, []byte("pass phrase"), fastKDF)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, err := kr.Generate(n, 2048); err != nil {
			t.Fatal(err)
		}
	}
	if err := kr.Save(); err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestRewrapKeyringToOtherKeyOnly(t *testing.T) {
	f := newFixture(t)
	kr := newKeyring(t, "alpha", "beta")
	keys := f.keys(kr)
	a, err := keys.MasterKey(cse.Spec{Kind: cse.KindKey, ID: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := keys.MasterKey(cse.Spec{Kind: cse.KindKey, ID: "beta"})
	if err != nil {
		t.Fatal(err)
	}
	plain := payload(70_000)
	put(t, f.bucket, "doc", a, plain, true, oss.Meta("owner", "team-x"), oss.ContentType("application/x-test"))
	before, err := f.bucket.GetObjectDetailedMeta("doc")
	if err != nil {
		t.Fatal(err)
	}
	res, err := cse.Rewrap(context.Background(), f.bucket, "doc", keys, b)
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged || res.FromMatDesc == res.ToMatDesc {
		t.Fatalf("rewrap result %+v", res)
	}
	after, err := f.bucket.GetObjectDetailedMeta("doc")
	if err != nil {
		t.Fatal(err)
	}
	if after.Get(oss.HTTPHeaderOssCRC64) != before.Get(oss.HTTPHeaderOssCRC64) || after.Get("Content-Type") != "application/x-test" ||
		after.Get("X-Oss-Meta-Owner") != "team-x" {
		t.Fatalf("rewrap lost something: crc %s→%s, headers %v", before.Get(oss.HTTPHeaderOssCRC64), after.Get(oss.HTTPHeaderOssCRC64), after)
	}
	// Idempotent: a second rewrap to the same key changes nothing.
	if res2, err := cse.Rewrap(context.Background(), f.bucket, "doc", keys, b); err != nil || !res2.Unchanged {
		t.Fatalf("second rewrap = %+v, %v", res2, err)
	}
	// Only beta remains: alpha is deleted from the keyring.
	if _, err := kr.ScheduleDeletion("alpha", 0); err != nil {
		t.Fatal(err)
	}
	kr.PurgeExpired()
	if _, err := kr.Key("alpha"); !errors.Is(err, keyring.ErrKeyNotFound) {
		t.Fatalf("alpha still present: %v", err)
	}
	got, _, err := download(t, f, f.keys(kr), "doc", 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatal("plaintext differs after rewrap")
	}
}

func TestWrongOrMissingKeyAndTamperingLeaveNothing(t *testing.T) {
	f := newFixture(t)
	kr := newKeyring(t, "alpha")
	keys := f.keys(kr)
	a, err := keys.MasterKey(cse.Spec{Kind: cse.KindKey, ID: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	plain := payload(200_000)
	put(t, f.bucket, "secret", a, plain, true)

	// Missing key: another keyring without alpha.
	_, dst, err := download(t, f, f.keys(newKeyring(t, "other")), "secret", 64<<10)
	var ie *cmdutil.IntegrityError
	if !errors.As(err, &ie) || !errors.Is(err, crypto.ErrNoMasterKey) {
		t.Fatalf("missing key: err = %v, want IntegrityError wrapping ErrNoMasterKey", err)
	}
	assertNoLeftovers(t, dst)

	// Tampered body: same envelope, one flipped byte in the last chunk.
	h, err := f.bucket.GetObjectDetailedMeta("secret")
	if err != nil {
		t.Fatal(err)
	}
	body, err := f.bucket.GetObject("secret")
	if err != nil {
		t.Fatal(err)
	}
	var ct bytes.Buffer
	_, _ = ct.ReadFrom(body)
	body.Close()
	raw := ct.Bytes()
	raw[len(raw)-20] ^= 1
	env, err := crypto.ParseEnvelope(h)
	if err != nil {
		t.Fatal(err)
	}
	var opts []oss.Option
	for k, v := range env.Metadata() {
		opts = append(opts, oss.Meta(k, v))
	}
	if err := f.bucket.PutObject("secret", bytes.NewReader(raw), opts...); err != nil {
		t.Fatal(err)
	}
	for _, part := range []int64{64 << 10, 8 << 20} {
		_, dst, err := download(t, f, keys, "secret", part)
		if !errors.As(err, &ie) || !errors.Is(err, crypto.ErrIntegrity) {
			t.Fatalf("tampered (part %d): err = %v, want IntegrityError", part, err)
		}
		assertNoLeftovers(t, dst)
	}

	// A cipher we do not know.
	if err := f.bucket.PutObject("alien", bytes.NewReader([]byte("x")),
		oss.Meta(crypto.MetaKey, base64.StdEncoding.EncodeToString(make([]byte, 32))),
		oss.Meta(crypto.MetaStart, base64.StdEncoding.EncodeToString(make([]byte, 16))),
		oss.Meta(crypto.MetaCEKAlg, "SM4/CTR/NoPadding"),
		oss.Meta(crypto.MetaWrapAlg, crypto.WrapAlgRSA)); err != nil {
		t.Fatal(err)
	}
	h, _ = f.bucket.GetObjectDetailedMeta("alien")
	if _, err := cse.OpenDownload(h, keys); !errors.As(err, &ie) || !errors.Is(err, crypto.ErrUnsupportedAlgorithm) {
		t.Fatalf("unknown cipher: err = %v", err)
	}
}

func TestKMSDisabledKeyFailsBeforeUpload(t *testing.T) {
	f := newFixture(t)
	id := f.createKMSKey(t, "")
	req := kmssdk.CreateDisableKeyRequest()
	req.Scheme, req.KeyId = "HTTP", id
	if _, err := f.kms.DisableKey(req); err != nil {
		t.Fatal(err)
	}
	_, err := f.keys(nil).MasterKey(cse.Spec{Kind: cse.KindKMS, ID: id})
	if err == nil || !strings.Contains(err.Error(), "Disabled") {
		t.Fatalf("MasterKey(disabled) err = %v", err)
	}
	_, err = f.keys(nil).MasterKey(cse.Spec{Kind: cse.KindKMS, ID: "alias/nope"})
	if err == nil {
		t.Fatal("MasterKey(unknown alias) succeeded")
	}
}

// kmsCipher is an oss/crypto MasterCipher backed by the KMS client over plain HTTP (the SDK's
// own KMS cipher forces HTTPS), wrapping exactly as MasterAliKmsCipher does.
type kmsCipher struct {
	c     *kmssdk.Client
	keyID string
}

func (k kmsCipher) Encrypt(plain []byte) ([]byte, error) {
	req := kmssdk.CreateEncryptRequest()
	req.Scheme, req.KeyId, req.Plaintext = "HTTP", k.keyID, base64.StdEncoding.EncodeToString(plain)
	resp, err := k.c.Encrypt(req)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(resp.CiphertextBlob)
}

func (k kmsCipher) Decrypt(wrapped []byte) ([]byte, error) {
	req := kmssdk.CreateDecryptRequest()
	req.Scheme, req.CiphertextBlob = "HTTP", base64.StdEncoding.EncodeToString(wrapped)
	resp, err := k.c.Decrypt(req)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(resp.Plaintext)
}

func (k kmsCipher) GetWrapAlgorithm() string { return osscrypto.KmsAliCryptoWrap }
func (k kmsCipher) GetMatDesc() string       { return "" }

func TestInteropSDKDecryptsOurKMSObject(t *testing.T) {
	f := newFixture(t)
	id := f.createKMSKey(t, "alias/interop")
	keys := f.keys(nil)
	mk, err := keys.MasterKey(cse.Spec{Kind: cse.KindKMS, ID: "alias/interop"})
	if err != nil {
		t.Fatal(err)
	}
	plain := payload(50_001)
	put(t, f.bucket, "interop", mk, plain, false)

	client, err := oss.New(f.env.Endpoint, csetest.AccessKeyID, csetest.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := osscrypto.GetCryptoBucket(client, "bkt1", osscrypto.CreateAesCtrCipher(kmsCipher{c: f.kms.Client, keyID: id}))
	if err != nil {
		t.Fatal(err)
	}
	body, err := cb.GetObject("interop")
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	var got bytes.Buffer
	if _, err := got.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), plain) {
		t.Fatal("the official SDK decrypted different bytes")
	}
	// And the other way: the SDK encrypts with the same KMS key, we decrypt.
	sdkPlain := payload(33_333)
	if err := cb.PutObject("from-sdk", bytes.NewReader(sdkPlain)); err != nil {
		t.Fatal(err)
	}
	ours, _, err := download(t, f, keys, "from-sdk", 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, sdkPlain) {
		t.Fatal("we decrypted the SDK's object to different bytes")
	}
}

func TestOpenKeyringErrors(t *testing.T) {
	kr := newKeyring(t, "alpha")
	path := kr.Path()
	env := map[string]string{cse.EnvPassphrase: "wrong"}
	src := cse.PassphraseSource{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	_, err := cse.OpenKeyring(path, src, time.Now)
	var ie *cmdutil.IntegrityError
	if !errors.As(err, &ie) || !errors.Is(err, keyring.ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	env[cse.EnvPassphrase] = "pass phrase"
	if _, err := cse.OpenKeyring(path, src, time.Now); err != nil {
		t.Fatalf("right passphrase: %v", err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := cse.OpenKeyring(path, src, time.Now); !errors.Is(err, keyring.ErrInsecurePermissions) {
		t.Fatalf("group-readable keyring: %v", err)
	}
	var nf *cmdutil.NotFoundError
	if _, err := cse.OpenKeyring(filepath.Join(t.TempDir(), "none.json"), src, time.Now); !errors.As(err, &nf) {
		t.Fatalf("missing keyring: %v", err)
	}
	// --passphrase-command wins over the environment.
	cmdSrc := src
	cmdSrc.Command = "printf 'pass phrase\n'"
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	env[cse.EnvPassphrase] = "wrong"
	if _, err := cse.OpenKeyring(path, cmdSrc, time.Now); err != nil {
		t.Fatalf("passphrase command: %v", err)
	}
}

func TestParseKMSBlob(t *testing.T) {
	blob := append([]byte("AKB1\x05key-1\x02v1"), make([]byte, 40)...)
	if got := cse.ParseKMSBlob(blob); got.KeyID != "key-1" || got.KeyVersionID != "v1" || got.Format != "ossctl-serve" {
		t.Fatalf("serve blob: %+v", got)
	}
	kmsBlob := append([]byte("86a9efd9-3d16-4894-bd4f-1fc43f3f2abf"), 0x4b, 0xb1, 0x66)
	if got := cse.ParseKMSBlob(kmsBlob); got.KeyID != "86a9efd9-3d16-4894-bd4f-1fc43f3f2abf" || got.Format != "alibaba-cloud-kms" {
		t.Fatalf("KMS blob: %+v", got)
	}
	if got := cse.ParseKMSBlob([]byte{1, 2, 3}); got.KeyID != "" || got.Format != "unknown" {
		t.Fatalf("garbage: %+v", got)
	}
}

func TestStreamAndResolveSpec(t *testing.T) {
	f := newFixture(t)
	f.createKMSKey(t, "alias/s")
	keys := f.keys(nil)
	mk, err := keys.MasterKey(cse.Spec{Kind: cse.KindKMS, ID: "alias/s"})
	if err != nil {
		t.Fatal(err)
	}
	plain := payload(100_000)
	put(t, f.bucket, "s", mk, plain, true)
	eng := f.engine(t, keys, 64<<10, nil)
	var buf bytes.Buffer
	if res, err := eng.DownloadTo(context.Background(), &buf, "bkt1", "s", nil); err != nil || res.Size != int64(len(plain)) || !bytes.Equal(buf.Bytes(), plain) {
		t.Fatalf("DownloadTo = %+v, %v", res, err)
	}
	// The object changed after the HEAD, between two ranged GETs: If-Match fails instead of
	// mixing versions, and no plaintext is left behind.
	big := payload(250_000)
	put(t, f.bucket, "s", mk, big, true)
	rt := &replaceBetweenRanges{next: http.DefaultTransport, replace: func() {
		// Runs on the engine's goroutine: report, do not t.Fatal.
		if err := f.bucket.PutObject("s", bytes.NewReader([]byte("replaced"))); err != nil {
			t.Error(err)
		}
	}}
	client, err := oss.New(f.env.Endpoint, csetest.AccessKeyID, csetest.AccessKeySecret, oss.HTTPClient(&http.Client{Transport: rt}))
	if err != nil {
		t.Fatal(err)
	}
	eng = f.engine(t, keys, 100<<10, client)
	eng.Parallel = 1
	dst := filepath.Join(t.TempDir(), "s.bin")
	_, err = eng.Download(context.Background(), transfer.Download{Bucket: "bkt1", Key: "s", LocalPath: dst, Size: -1}, nil)
	if err == nil || !strings.Contains(err.Error(), "changed during the download") || rt.ranges < 2 {
		t.Fatalf("download of a replaced object: err = %v after %d ranged GETs", err, rt.ranges)
	}
	assertNoLeftovers(t, dst)

	spec, err := cse.ResolveSpec("", false, nil)
	if err != nil || !spec.IsZero() {
		t.Fatalf("no flag, no config: %v %v", spec, err)
	}
	env := map[string]string{"OSSCTL_ENCRYPT": "key:laptop", "OSSCTL_OSSUTIL_CONFIG": "none"}
	cfg, err := config.Resolve(config.Inputs{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, HomeDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if spec, err = cse.ResolveSpec("", false, cfg); err != nil || spec != (cse.Spec{Kind: cse.KindKey, ID: "laptop"}) {
		t.Fatalf("configured default: %v %v", spec, err)
	}
	spec, err = cse.ResolveSpec("none", true, cfg)
	if err != nil || !spec.IsZero() {
		t.Fatalf("--encrypt none over a configured default: %v %v", spec, err)
	}
}
