package crypto_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ossctl/ossctl/crypto"
)

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rsaKey(t testing.TB, matDesc map[string]string) *crypto.RSAMasterKey {
	t.Helper()
	k, err := crypto.ParseRSAMasterKey(testdata(t, "rsa-2048-public-pkix.pem"), testdata(t, "rsa-2048-pkcs8.pem"), matDesc)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRSAKeyFormats(t *testing.T) {
	cek := bytes.Repeat([]byte{7}, 32)
	for _, pub := range []string{"rsa-2048-public-pkix.pem", "rsa-2048-public-pkcs1.pem"} {
		for _, priv := range []string{"rsa-2048-pkcs8.pem", "rsa-2048-pkcs1.pem"} {
			enc, err := crypto.ParseRSAMasterKey(testdata(t, pub), nil, nil)
			if err != nil {
				t.Fatalf("%s: %v", pub, err)
			}
			if enc.CanUnwrap() {
				t.Fatal("public-only key claims to unwrap")
			}
			if _, err := enc.Unwrap(make([]byte, 256)); err == nil {
				t.Fatal("public-only key unwrapped")
			}
			dec, err := crypto.ParseRSAMasterKey(nil, testdata(t, priv), nil)
			if err != nil {
				t.Fatalf("%s: %v", priv, err)
			}
			w, err := enc.Wrap(cek)
			if err != nil {
				t.Fatal(err)
			}
			if len(w) != 256 {
				t.Fatalf("wrapped length %d", len(w))
			}
			got, err := dec.Unwrap(w)
			if err != nil || !bytes.Equal(got, cek) {
				t.Fatalf("%s/%s: unwrap = %x, %v", pub, priv, got, err)
			}
		}
	}
}

func TestRSAKeyErrors(t *testing.T) {
	if _, err := crypto.ParseRSAMasterKey(testdata(t, "rsa-2048-other-public-pkix.pem"), testdata(t, "rsa-2048-pkcs8.pem"), nil); err == nil {
		t.Error("mismatched public and private keys accepted")
	}
	if _, err := crypto.ParseRSAMasterKey(nil, nil, nil); err == nil {
		t.Error("no key accepted")
	}
	if _, err := crypto.ParseRSAPublicKeyPEM([]byte("not pem")); err == nil {
		t.Error("garbage accepted")
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if _, err := crypto.ParseRSAPublicKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err == nil || !strings.Contains(err.Error(), "not an RSA key") {
		t.Errorf("EC public key: %v", err)
	}
	der, _ = x509.MarshalPKCS8PrivateKey(ec)
	if _, err := crypto.ParseRSAPrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err == nil {
		t.Error("EC private key accepted")
	}
	if _, err := crypto.ParseRSAPrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})); err == nil || !strings.Contains(err.Error(), `"EC PRIVATE KEY"`) {
		t.Errorf("EC PRIVATE KEY block: %v", err)
	}
	k := rsaKey(t, nil)
	if _, err := k.Unwrap(make([]byte, 100)); !errors.Is(err, crypto.ErrWrongKey) {
		t.Errorf("short block: %v", err)
	}
	other, _ := crypto.ParseRSAMasterKey(nil, testdata(t, "rsa-2048-other-pkcs8.pem"), nil)
	w, _ := k.Wrap(make([]byte, 32))
	if _, err := other.Unwrap(w); !errors.Is(err, crypto.ErrWrongKey) {
		t.Errorf("other key: %v", err)
	}
}

// TestRSAOAEPLegacyRead decrypts an object whose key and IV were wrapped
// with RSA-OAEP-SHA1, as the Python SDK's legacy LocalRsaProvider does.
func TestRSAOAEPLegacyRead(t *testing.T) {
	k := rsaKey(t, nil)
	c, err := crypto.NewContent(k, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("legacy python object body")
	r, _ := c.EncryptReader(bytes.NewReader(plain), 0)
	ct, _ := io.ReadAll(r)

	// Recover the key and IV through the PKCS#1 wrap, re-wrap them as OAEP.
	priv, _ := crypto.ParseRSAPrivateKeyPEM(testdata(t, "rsa-2048-pkcs8.pem"))
	env := c.Envelope()
	cek, _ := k.Unwrap(env.WrappedKey)
	iv, _ := k.Unwrap(env.WrappedIV)
	env.WrapAlg = crypto.WrapAlgRSAOAEP
	env.WrappedKey, _ = rsa.EncryptOAEP(sha1.New(), rand.Reader, &priv.PublicKey, cek, nil)
	env.WrappedIV, _ = rsa.EncryptOAEP(sha1.New(), rand.Reader, &priv.PublicKey, iv, nil)

	parsed, err := crypto.ParseEnvelope(env.Header())
	if err != nil {
		t.Fatal(err)
	}
	oc, err := crypto.OpenContent(parsed, &crypto.MasterKeyResolver{Default: k})
	if err != nil {
		t.Fatal(err)
	}
	dr, _ := oc.DecryptReader(bytes.NewReader(ct), int64(len(ct)))
	if got, _ := io.ReadAll(dr); !bytes.Equal(got, plain) {
		t.Fatalf("OAEP object decrypted to %q", got)
	}
	// Never written: a PKCS#1 key refuses to produce OAEP envelopes, and
	// OAEP blobs do not unwrap as PKCS#1.
	if _, err := k.Unwrap(env.WrappedKey); !errors.Is(err, crypto.ErrWrongKey) {
		t.Errorf("OAEP blob unwrapped as PKCS#1: %v", err)
	}
}

// fakeKMSKey is a MasterKey with the KMS wrap algorithm, for resolver tests.
type fakeKMSKey struct{ matDesc string }

func (f fakeKMSKey) Wrap(p []byte) ([]byte, error)   { return append([]byte("kms:"), p...), nil }
func (f fakeKMSKey) Unwrap(w []byte) ([]byte, error) { return bytes.TrimPrefix(w, []byte("kms:")), nil }
func (f fakeKMSKey) WrapAlg() string                 { return crypto.WrapAlgKMS }
func (f fakeKMSKey) MatDesc() string                 { return f.matDesc }

func TestMasterKeyResolver(t *testing.T) {
	def := rsaKey(t, map[string]string{"desc": "default"})
	alt := rsaKey(t, map[string]string{"desc": "alt"})
	kmsKey := fakeKMSKey{matDesc: `{"kms":"1"}`}
	plain := []byte("resolver")
	encrypt := func(mk crypto.MasterKey) (*crypto.Envelope, []byte) {
		c, err := crypto.NewContent(mk, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := c.EncryptReader(bytes.NewReader(plain), 0)
		ct, _ := io.ReadAll(r)
		return c.Envelope(), ct
	}
	var lookups []string
	res := &crypto.MasterKeyResolver{
		Default: def,
		Lookup: func(md map[string]string, wrapAlg string) (crypto.MasterKey, error) {
			lookups = append(lookups, md["desc"]+md["kms"]+"/"+wrapAlg)
			switch {
			case md["desc"] == "alt":
				return alt, nil
			case md["kms"] == "1":
				return kmsKey, nil
			case md["desc"] == "wrong-alg":
				return kmsKey, nil
			}
			return nil, nil
		},
	}
	for _, mk := range []crypto.MasterKey{def, alt, kmsKey} {
		env, ct := encrypt(mk)
		c, err := crypto.OpenContent(env, res)
		if err != nil {
			t.Fatalf("matdesc %s: %v", mk.MatDesc(), err)
		}
		dr, _ := c.DecryptReader(bytes.NewReader(ct), int64(len(ct)))
		if got, _ := io.ReadAll(dr); !bytes.Equal(got, plain) {
			t.Fatalf("matdesc %s: wrong plaintext", mk.MatDesc())
		}
	}
	if want := []string{"alt/" + crypto.WrapAlgRSA, "1/" + crypto.WrapAlgKMS}; strings.Join(lookups, ",") != strings.Join(want, ",") {
		t.Errorf("lookups = %v, want %v (the default key needs none)", lookups, want)
	}
	env, _ := encrypt(rsaKey(t, map[string]string{"desc": "unknown"}))
	if _, err := crypto.OpenContent(env, res); !errors.Is(err, crypto.ErrNoMasterKey) {
		t.Errorf("unknown matdesc: %v", err)
	}
	env, _ = encrypt(rsaKey(t, map[string]string{"desc": "wrong-alg"}))
	if _, err := crypto.OpenContent(env, res); !errors.Is(err, crypto.ErrWrongKey) || !strings.Contains(err.Error(), "KMS/ALICLOUD") {
		t.Errorf("RSA object resolved to a KMS key: %v", err)
	}
	if _, err := crypto.OpenContent(env, &crypto.MasterKeyResolver{Default: def}); !errors.Is(err, crypto.ErrNoMasterKey) {
		t.Errorf("no lookup: %v", err)
	}
}
