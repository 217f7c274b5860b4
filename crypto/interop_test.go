package crypto_test

// Interoperability with the official SDK's oss/crypto package, both ways:
// first at the cipher level, then through a real OSS server (servertest)
// with the SDK's CryptoBucket on one side and this library on the other.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	osscrypto "github.com/aliyun/aliyun-oss-go-sdk/oss/crypto"

	"github.com/ossctl/ossctl/crypto"
	"github.com/ossctl/ossctl/internal/server/servertest"
)

func sdkRSA(t testing.TB, matDesc map[string]string) osscrypto.MasterCipher {
	t.Helper()
	m, err := osscrypto.CreateMasterRsa(matDesc, string(testdata(t, "rsa-2048-public-pkix.pem")), string(testdata(t, "rsa-2048-pkcs8.pem")))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*131 + i>>8 + 7)
	}
	return b
}

func encryptAll(t testing.TB, c *crypto.Content, plain []byte) []byte {
	t.Helper()
	r, err := c.EncryptReader(bytes.NewReader(plain), 0)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

func TestInteropCipherOursToSDK(t *testing.T) {
	md := map[string]string{"desc": "interop"}
	c, err := crypto.NewContent(rsaKey(t, md), nil)
	if err != nil {
		t.Fatal(err)
	}
	plain := payload(10000)
	ct := encryptAll(t, c, plain)
	env := c.Envelope()
	builder := osscrypto.CreateAesCtrCipher(sdkRSA(t, md))
	if builder.GetMatDesc() != env.MatDesc {
		t.Fatalf("matdesc: SDK %q, ours %q", builder.GetMatDesc(), env.MatDesc)
	}
	cc, err := builder.ContentCipherEnv(osscrypto.Envelope{
		IV: string(env.WrappedIV), CipherKey: string(env.WrappedKey),
		MatDesc: env.MatDesc, WrapAlg: env.WrapAlg, CEKAlg: env.CEKAlg,
	})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cc.DecryptContent(bytes.NewReader(ct))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(rc); !bytes.Equal(got, plain) {
		t.Fatal("the SDK decrypted our object to something else")
	}
}

func TestInteropCipherSDKToOurs(t *testing.T) {
	md := map[string]string{"desc": "interop"}
	builder := osscrypto.CreateAesCtrCipher(sdkRSA(t, md))
	plain := payload(5000)
	for range 3 {
		cc, err := builder.ContentCipher()
		if err != nil {
			t.Fatal(err)
		}
		rc, _ := cc.EncryptContent(bytes.NewReader(plain))
		ct, _ := io.ReadAll(rc)
		cd := cc.GetCipherData()
		if !bytes.Equal(cd.IV[8:12], []byte{0, 0, 0, 0}) {
			t.Fatalf("SDK IV %x: bytes 8..11 not zero", cd.IV)
		}
		env := &crypto.Envelope{
			CEKAlg: cd.CEKAlgorithm, WrapAlg: cd.WrapAlgorithm, MatDesc: cd.MatDesc,
			WrappedKey: cd.EncryptedKey, WrappedIV: cd.EncryptedIV,
			UnencryptedContentLength: crypto.SizeUnknown,
		}
		c, err := crypto.OpenContent(env, &crypto.MasterKeyResolver{Default: rsaKey(t, md)})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []int64{0, 1, 15, 16, 17, 4095, 4999} {
			p, err := c.PlanRange(s, -1, int64(len(ct)))
			if err != nil {
				t.Fatal(err)
			}
			dr, _ := c.DecryptRange(bytes.NewReader(ct[p.FetchStart:]), p)
			if got, _ := io.ReadAll(dr); !bytes.Equal(got, plain[s:]) {
				t.Fatalf("start %d: we decrypted the SDK's object to something else", s)
			}
		}
	}
}

// ossEnv is a servertest server with a bucket, a plain SDK bucket handle
// and an SDK crypto bucket using the example RSA key.
type ossEnv struct {
	plain  *oss.Bucket
	crypto *osscrypto.CryptoBucket
}

func newOSSEnv(t *testing.T, opts ...osscrypto.CryptoBucketOption) *ossEnv {
	t.Helper()
	srv := servertest.Start(t)
	client, err := oss.New(srv.Endpoint, srv.AccessKeyID, srv.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	const name = "cse-interop"
	if err := client.CreateBucket(name); err != nil {
		t.Fatal(err)
	}
	b, err := client.Bucket(name)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := osscrypto.GetCryptoBucket(client, name, osscrypto.CreateAesCtrCipher(sdkRSA(t, map[string]string{"desc": "sdk"})), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &ossEnv{plain: b, crypto: cb}
}

func metaOptions(env *crypto.Envelope) []oss.Option {
	var opts []oss.Option
	for k, v := range env.Metadata() {
		opts = append(opts, oss.Meta(k, v))
	}
	return opts
}

// ourGet reads [s, e] (e = -1: to the end) of an encrypted object with this
// library: HEAD, parse, resolve, plan, ranged GET of ciphertext, decrypt.
func ourGet(t *testing.T, b *oss.Bucket, key string, res crypto.Resolver, s, e int64) ([]byte, error) {
	t.Helper()
	h, err := b.GetObjectDetailedMeta(key)
	if err != nil {
		return nil, err
	}
	env, err := crypto.ParseEnvelope(h)
	if err != nil {
		return nil, err
	}
	c, err := crypto.OpenContent(env, res)
	if err != nil {
		return nil, err
	}
	size, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if err != nil {
		return nil, err
	}
	var r io.Reader
	if s == 0 && e == -1 {
		body, err := b.GetObject(key)
		if err != nil {
			return nil, err
		}
		defer body.Close()
		if r, err = c.DecryptReader(body, size); err != nil {
			return nil, err
		}
	} else {
		p, err := c.PlanRange(s, e, size)
		if err != nil {
			return nil, err
		}
		body, err := b.GetObject(key, oss.Range(p.FetchStart, p.FetchEnd))
		if err != nil {
			return nil, err
		}
		defer body.Close()
		if r, err = c.DecryptRange(body, p); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(r)
}

// rangeCases returns [start, end] pairs at many alignments for a size-byte
// object; end -1 means "to the end".
func rangeCases(size int64, step int64) [][2]int64 {
	var out [][2]int64
	for s := int64(0); s < size; s += step {
		for _, e := range []int64{s, s + 15, s + 16, s + 100, -1} {
			if e < size {
				out = append(out, [2]int64{s, e})
			}
		}
	}
	for _, s := range []int64{1, 15, 16, 17, 31, 33, size - 17, size - 16, size - 1} {
		out = append(out, [2]int64{s, size - 1}, [2]int64{s, -1})
	}
	return out
}

func wantRange(plain []byte, s, e int64) []byte {
	if e < 0 || e >= int64(len(plain)) {
		return plain[s:]
	}
	return plain[s : e+1]
}

func TestInteropBucketSDKPutOurGet(t *testing.T) {
	o := newOSSEnv(t)
	plain := payload(70001)
	if err := o.crypto.PutObject("sdk/put", bytes.NewReader(plain)); err != nil {
		t.Fatal(err)
	}
	res := &crypto.MasterKeyResolver{Default: rsaKey(t, map[string]string{"desc": "sdk"})}
	got, err := ourGet(t, o.plain, "sdk/put", res, 0, -1)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("full read: %v", err)
	}
	for _, rc := range rangeCases(int64(len(plain)), 4099) {
		got, err := ourGet(t, o.plain, "sdk/put", res, rc[0], rc[1])
		if err != nil {
			t.Fatalf("range %v: %v", rc, err)
		}
		if !bytes.Equal(got, wantRange(plain, rc[0], rc[1])) {
			t.Fatalf("range %v: wrong plaintext", rc)
		}
	}
}

func TestInteropBucketOurPutSDKGet(t *testing.T) {
	o := newOSSEnv(t)
	plain := payload(70001)
	c, err := crypto.NewContent(rsaKey(t, map[string]string{"desc": "sdk"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetUnencryptedContentLength(int64(len(plain))); err != nil {
		t.Fatal(err)
	}
	if err := o.plain.PutObject("ours/put", bytes.NewReader(encryptAll(t, c, plain)), metaOptions(c.Envelope())...); err != nil {
		t.Fatal(err)
	}
	rd, err := o.crypto.GetObject("ours/put")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rd)
	rd.Close()
	if !bytes.Equal(got, plain) {
		t.Fatal("SDK full read: wrong plaintext")
	}
	for _, rc := range rangeCases(int64(len(plain)), 4099) {
		opt := oss.Range(rc[0], rc[1])
		if rc[1] < 0 {
			opt = oss.NormalizedRange(fmt.Sprintf("%d-", rc[0]))
		}
		rd, err := o.crypto.GetObject("ours/put", opt)
		if err != nil {
			t.Fatalf("range %v: %v", rc, err)
		}
		got, _ := io.ReadAll(rd)
		rd.Close()
		if !bytes.Equal(got, wantRange(plain, rc[0], rc[1])) {
			t.Fatalf("range %v: the SDK read wrong plaintext (%d bytes)", rc, len(got))
		}
	}
}

const (
	mpPartSize = 100 << 10 // OSS's minimum part size, a multiple of 16
	mpDataSize = 3*mpPartSize + 12345
)

func TestInteropMultipartSDKToOurs(t *testing.T) {
	o := newOSSEnv(t)
	plain := payload(mpDataSize)
	ctx := &osscrypto.PartCryptoContext{DataSize: mpDataSize, PartSize: mpPartSize}
	imur, err := o.crypto.InitiateMultipartUpload("sdk/mp", ctx)
	if err != nil {
		t.Fatal(err)
	}
	var parts []oss.UploadPart
	for n := 1; (n-1)*mpPartSize < mpDataSize; n++ {
		off := (n - 1) * mpPartSize
		end := min(off+mpPartSize, mpDataSize)
		p, err := o.crypto.UploadPart(imur, bytes.NewReader(plain[off:end]), int64(end-off), n, *ctx)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	if _, err := o.crypto.CompleteMultipartUpload(imur, parts); err != nil {
		t.Fatal(err)
	}
	h, err := o.plain.GetObjectDetailedMeta("sdk/mp")
	if err != nil {
		t.Fatal(err)
	}
	env, err := crypto.ParseEnvelope(h)
	if err != nil {
		t.Fatal(err)
	}
	if env.DataSize != mpDataSize || env.PartSize != mpPartSize {
		t.Fatalf("envelope sizes %d/%d", env.DataSize, env.PartSize)
	}
	res := &crypto.MasterKeyResolver{Default: rsaKey(t, map[string]string{"desc": "sdk"})}
	got, err := ourGet(t, o.plain, "sdk/mp", res, 0, -1)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("full read: %v", err)
	}
	for _, rc := range [][2]int64{{mpPartSize - 5, mpPartSize + 5}, {mpPartSize, 2*mpPartSize - 1}, {2*mpPartSize - 17, 3*mpPartSize + 3}, {3 * mpPartSize, -1}, {12345, 300000}} {
		got, err := ourGet(t, o.plain, "sdk/mp", res, rc[0], rc[1])
		if err != nil || !bytes.Equal(got, wantRange(plain, rc[0], rc[1])) {
			t.Fatalf("range %v: %v", rc, err)
		}
	}
}

// uploadOurMultipart uploads plain as a multipart object encrypted by c,
// parts in parallel and in reverse order.
func uploadOurMultipart(t *testing.T, b *oss.Bucket, key string, c *crypto.Content, plain []byte, partSize int64) {
	t.Helper()
	if err := c.SetMultipart(int64(len(plain)), partSize); err != nil {
		t.Fatal(err)
	}
	meta := metaOptions(c.Envelope())
	imur, err := b.InitiateMultipartUpload(key, meta...)
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]oss.UploadPart, c.PartCount())
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for n := len(parts); n >= 1; n-- {
		wg.Go(func() {
			off, size, err := c.PartRange(n)
			if err != nil {
				errs[n-1] = err
				return
			}
			ctSize, err := c.PartCiphertextSize(n)
			if err != nil {
				errs[n-1] = err
				return
			}
			r, err := c.EncryptPart(bytes.NewReader(plain[off:off+size]), n)
			if err != nil {
				errs[n-1] = err
				return
			}
			// A copy per goroutine: the SDK appends to the options slice.
			parts[n-1], errs[n-1] = b.UploadPart(imur, r, ctSize, n, slices.Clone(meta)...)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CompleteMultipartUpload(imur, parts); err != nil {
		t.Fatal(err)
	}
}

func TestInteropMultipartOursToSDK(t *testing.T) {
	o := newOSSEnv(t)
	plain := payload(mpDataSize)
	c, err := crypto.NewContent(rsaKey(t, map[string]string{"desc": "sdk"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	uploadOurMultipart(t, o.plain, "ours/mp", c, plain, mpPartSize)
	rd, err := o.crypto.GetObject("ours/mp")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rd)
	rd.Close()
	if !bytes.Equal(got, plain) {
		t.Fatal("SDK full read of our multipart object: wrong plaintext")
	}
	for _, rc := range [][2]int64{{mpPartSize - 5, mpPartSize + 5}, {2*mpPartSize - 17, 3*mpPartSize + 3}, {3*mpPartSize + 1, mpDataSize - 1}} {
		rd, err := o.crypto.GetObject("ours/mp", oss.Range(rc[0], rc[1]))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rd)
		rd.Close()
		if !bytes.Equal(got, wantRange(plain, rc[0], rc[1])) {
			t.Fatalf("SDK range %v of our multipart object: wrong plaintext", rc)
		}
	}
}

// sdkKeyManager is the SDK's MasterCipherManager for a second matdesc.
type sdkKeyManager struct{ pub, priv string }

func (m sdkKeyManager) GetMasterKey(md map[string]string) ([]string, error) {
	if md["desc"] != "alt" {
		return nil, fmt.Errorf("unknown matdesc %v", md)
	}
	return []string{m.pub, m.priv}, nil
}

func TestInteropMatDescSelection(t *testing.T) {
	mgr := sdkKeyManager{pub: string(testdata(t, "rsa-2048-public-pkcs1.pem")), priv: string(testdata(t, "rsa-2048-pkcs1.pem"))}
	o := newOSSEnv(t, osscrypto.SetMasterCipherManager(mgr))
	plain := payload(3000)

	// Ours, under matdesc "alt": the SDK's default key does not match, so
	// it goes through its MasterCipherManager.
	c, err := crypto.NewContent(rsaKey(t, map[string]string{"desc": "alt"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.plain.PutObject("alt", bytes.NewReader(encryptAll(t, c, plain)), metaOptions(c.Envelope())...); err != nil {
		t.Fatal(err)
	}
	rd, err := o.crypto.GetObject("alt")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rd)
	rd.Close()
	if !bytes.Equal(got, plain) {
		t.Fatal("SDK with a MasterCipherManager read wrong plaintext")
	}

	// The SDK's, under matdesc "sdk", read by a resolver whose default key
	// is "alt": our Lookup supplies the key.
	if err := o.crypto.PutObject("sdk", bytes.NewReader(plain)); err != nil {
		t.Fatal(err)
	}
	res := &crypto.MasterKeyResolver{
		Default: rsaKey(t, map[string]string{"desc": "alt"}),
		Lookup: func(md map[string]string, wrapAlg string) (crypto.MasterKey, error) {
			if md["desc"] == "sdk" && wrapAlg == crypto.WrapAlgRSA {
				return rsaKey(t, md), nil
			}
			return nil, nil
		},
	}
	if got, err := ourGet(t, o.plain, "sdk", res, 0, -1); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("lookup read: %v", err)
	}
	if _, err := ourGet(t, o.plain, "sdk", &crypto.MasterKeyResolver{Default: rsaKey(t, map[string]string{"desc": "alt"})}, 0, -1); !errors.Is(err, crypto.ErrNoMasterKey) {
		t.Fatalf("no lookup: err = %v, want ErrNoMasterKey", err)
	}
}

// TestInteropRewrap re-keys an SDK object in place (CopyObject onto itself
// with REPLACE metadata) and checks that the body is untouched and the SDK
// reads it with the new key.
func TestInteropRewrap(t *testing.T) {
	mgr := sdkKeyManager{pub: string(testdata(t, "rsa-2048-other-public-pkix.pem")), priv: string(testdata(t, "rsa-2048-other-pkcs8.pem"))}
	o := newOSSEnv(t, osscrypto.SetMasterCipherManager(mgr))
	plain := payload(2048)
	if err := o.crypto.PutObject("k", bytes.NewReader(plain)); err != nil {
		t.Fatal(err)
	}
	h, _ := o.plain.GetObjectDetailedMeta("k")
	env, err := crypto.ParseEnvelope(h)
	if err != nil {
		t.Fatal(err)
	}
	c, err := crypto.OpenContentWith(env, rsaKey(t, map[string]string{"desc": "sdk"}))
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := crypto.ParseRSAMasterKey(testdata(t, "rsa-2048-other-public-pkix.pem"), nil, map[string]string{"desc": "alt"})
	if err != nil {
		t.Fatal(err)
	}
	newEnv, err := c.Rewrap(newKey)
	if err != nil {
		t.Fatal(err)
	}
	opts := append(metaOptions(newEnv), oss.MetadataDirective(oss.MetaReplace))
	if _, err := o.plain.CopyObject("k", "k", opts...); err != nil {
		t.Fatal(err)
	}
	h2, _ := o.plain.GetObjectDetailedMeta("k")
	if h2.Get("X-Oss-Hash-Crc64ecma") != h.Get("X-Oss-Hash-Crc64ecma") || h2.Get("X-Oss-Meta-Client-Side-Encryption-Matdesc") != `{"desc":"alt"}` {
		t.Fatalf("after rewrap: crc %s→%s, matdesc %s", h.Get("X-Oss-Hash-Crc64ecma"), h2.Get("X-Oss-Hash-Crc64ecma"), h2.Get("X-Oss-Meta-Client-Side-Encryption-Matdesc"))
	}
	rd, err := o.crypto.GetObject("k")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rd)
	rd.Close()
	if !bytes.Equal(got, plain) {
		t.Fatal("SDK read of the re-wrapped object: wrong plaintext")
	}
}

// TestInteropAuthenticatedMode stores objects in the authenticated mode:
// ranged and multipart reads work with this library, a tampered object is
// detected, and the official SDK (which does not know the mode) returns the
// stored ciphertext unchanged.
func TestInteropAuthenticatedMode(t *testing.T) {
	o := newOSSEnv(t)
	key := rsaKey(t, map[string]string{"desc": "sdk"})
	res := &crypto.MasterKeyResolver{Default: key}
	plain := payload(3*128<<10 + 999)
	c, err := crypto.NewContent(key, &crypto.Options{Mode: crypto.CEKAlgAESGCMChunkedV1})
	if err != nil {
		t.Fatal(err)
	}
	uploadOurMultipart(t, o.plain, "gcm/mp", c, plain, 128<<10)
	if got, err := ourGet(t, o.plain, "gcm/mp", res, 0, -1); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("full read: %v", err)
	}
	for _, rc := range [][2]int64{{0, 0}, {65535, 65536}, {128<<10 - 3, 128<<10 + 3}, {200000, -1}, {int64(len(plain)) - 1, -1}} {
		if got, err := ourGet(t, o.plain, "gcm/mp", res, rc[0], rc[1]); err != nil || !bytes.Equal(got, wantRange(plain, rc[0], rc[1])) {
			t.Fatalf("range %v: %v", rc, err)
		}
	}

	// The SDK sees no client-side-encryption-key and returns ciphertext.
	rd, err := o.crypto.GetObject("gcm/mp")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(rd)
	rd.Close()
	if int64(len(raw)) != c.CiphertextSize(int64(len(plain))) || bytes.Contains(raw, plain[:64]) {
		t.Fatalf("SDK read returned %d bytes; want the %d-byte ciphertext", len(raw), c.CiphertextSize(int64(len(plain))))
	}

	// Tamper with one byte in the stored object, keep the metadata.
	raw[200000] ^= 1
	if err := o.plain.PutObject("gcm/bad", bytes.NewReader(raw), metaOptions(c.Envelope())...); err != nil {
		t.Fatal(err)
	}
	if _, err := ourGet(t, o.plain, "gcm/bad", res, 0, -1); !errors.Is(err, crypto.ErrIntegrity) {
		t.Fatalf("tampered full read: err = %v, want ErrIntegrity", err)
	}
	if _, err := ourGet(t, o.plain, "gcm/bad", res, 199990, 200010); !errors.Is(err, crypto.ErrIntegrity) {
		t.Fatalf("tampered range: err = %v, want ErrIntegrity", err)
	}
	if got, err := ourGet(t, o.plain, "gcm/bad", res, 0, 1000); err != nil || !bytes.Equal(got, plain[:1001]) {
		t.Fatalf("untouched range of a tampered object: %v", err)
	}
	// Truncated to whole chunks: still caught.
	if err := o.plain.PutObject("gcm/cut", bytes.NewReader(raw[:2*(64<<10+16)]), metaOptions(c.Envelope())...); err != nil {
		t.Fatal(err)
	}
	if _, err := ourGet(t, o.plain, "gcm/cut", res, 0, -1); !errors.Is(err, crypto.ErrIntegrity) {
		t.Fatalf("truncated object: err = %v, want ErrIntegrity", err)
	}
}
