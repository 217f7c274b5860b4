package crypto_test

import (
	"errors"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ossctl/ossctl/crypto"
)

func sdkMeta() map[string]string {
	wrapped := strings.Repeat("A", 344) // 256 bytes, like RSA-2048
	return map[string]string{
		crypto.MetaKey:     wrapped,
		crypto.MetaStart:   wrapped,
		crypto.MetaCEKAlg:  crypto.CEKAlgAESCTR,
		crypto.MetaWrapAlg: crypto.WrapAlgRSA,
		crypto.MetaMatDesc: `{"desc":"rsa"}`,
	}
}

func gcmMeta() map[string]string {
	b32 := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	return map[string]string{
		crypto.MetaOssctlCEKAlg:     crypto.CEKAlgAESGCMChunkedV1,
		crypto.MetaOssctlKey:        "a2V5LWJsb2I=",
		crypto.MetaOssctlWrapAlg:    crypto.WrapAlgKMS,
		crypto.MetaOssctlSalt:       b32,
		crypto.MetaOssctlCommitment: b32,
		crypto.MetaOssctlChunkSize:  "65536",
	}
}

func header(meta map[string]string) http.Header {
	h := http.Header{}
	for k, v := range meta {
		h.Set(crypto.MetaPrefix+k, v)
	}
	return h
}

func TestEnvelopeRoundTrip(t *testing.T) {
	for name, meta := range map[string]map[string]string{"sdk": sdkMeta(), "gcm": gcmMeta()} {
		full := maps.Clone(meta)
		if name == "sdk" {
			full[crypto.MetaUnencryptedContentLength] = "1234"
			full[crypto.MetaUnencryptedContentMD5] = "1B2M2Y8AsgTpgAmY7PhCfg=="
			full[crypto.MetaDataSize] = "1234"
			full[crypto.MetaPartSize] = "1024"
		} else {
			full[crypto.MetaOssctlDataSize] = "200000"
			full[crypto.MetaOssctlPartSize] = "131072"
		}
		env, err := crypto.ParseEnvelope(header(full))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(full, env.Metadata()); diff != "" {
			t.Errorf("%s: Metadata() differs from the parsed headers (-in +out):\n%s", name, diff)
		}
		// The map form with prefixes in any case parses the same.
		m := map[string]string{}
		for k, v := range full {
			m[strings.ToUpper(crypto.MetaPrefix+k)] = v
		}
		env2, err := crypto.ParseEnvelopeMetadata(m)
		if err != nil {
			t.Fatalf("%s: map form: %v", name, err)
		}
		if diff := cmp.Diff(env, env2); diff != "" {
			t.Errorf("%s: map form differs:\n%s", name, diff)
		}
		if diff := cmp.Diff(header(full), env.Header()); diff != "" {
			t.Errorf("%s: Header() differs:\n%s", name, diff)
		}
		if !crypto.IsEncrypted(header(full)) {
			t.Errorf("%s: IsEncrypted = false", name)
		}
		if env.Authenticated() != (name == "gcm") {
			t.Errorf("%s: Authenticated = %v", name, env.Authenticated())
		}
	}
	env, err := crypto.ParseEnvelope(header(sdkMeta()))
	if err != nil {
		t.Fatal(err)
	}
	if env.UnencryptedContentLength != crypto.SizeUnknown || env.DataSize != 0 {
		t.Errorf("absent sizes parsed as %d/%d", env.UnencryptedContentLength, env.DataSize)
	}
}

func TestParseEnvelopeErrors(t *testing.T) {
	type tc struct {
		name    string
		base    func() map[string]string
		edit    func(m map[string]string)
		want    error
		message string // a substring the error must contain
	}
	set := func(k, v string) func(map[string]string) { return func(m map[string]string) { m[k] = v } }
	del := func(k string) func(map[string]string) { return func(m map[string]string) { delete(m, k) } }
	cases := []tc{
		{"no key", sdkMeta, del(crypto.MetaKey), crypto.ErrInvalidEnvelope, "client-side-encryption-key is missing"},
		{"empty key", sdkMeta, set(crypto.MetaKey, ""), crypto.ErrInvalidEnvelope, "client-side-encryption-key is missing"},
		{"no start", sdkMeta, del(crypto.MetaStart), crypto.ErrInvalidEnvelope, "client-side-encryption-start is missing"},
		{"no cek-alg", sdkMeta, del(crypto.MetaCEKAlg), crypto.ErrInvalidEnvelope, "cek-alg is missing"},
		{"no wrap-alg", sdkMeta, del(crypto.MetaWrapAlg), crypto.ErrInvalidEnvelope, "wrap-alg is missing"},
		{"SM4 cek-alg", sdkMeta, set(crypto.MetaCEKAlg, "SM4/CTR/NoPadding"), crypto.ErrUnsupportedAlgorithm, `"SM4/CTR/NoPadding"`},
		{"GCM cek-alg in SDK namespace", sdkMeta, set(crypto.MetaCEKAlg, "AES/GCM/NoPadding"), crypto.ErrUnsupportedAlgorithm, `only "AES/CTR/NoPadding"`},
		{"unknown wrap-alg", sdkMeta, set(crypto.MetaWrapAlg, "rsa"), crypto.ErrUnsupportedAlgorithm, `wrap algorithm "rsa"`},
		{"bad base64 key", sdkMeta, set(crypto.MetaKey, "***"), crypto.ErrInvalidEnvelope, "not valid standard base64"},
		{"URL base64 start", sdkMeta, set(crypto.MetaStart, "ab-_"), crypto.ErrInvalidEnvelope, "not valid standard base64"},
		{"RSA key/IV lengths differ", sdkMeta, set(crypto.MetaStart, strings.Repeat("A", 172)), crypto.ErrInvalidEnvelope, "different lengths"},
		{"matdesc not JSON", sdkMeta, set(crypto.MetaMatDesc, "desc=rsa"), crypto.ErrInvalidEnvelope, "not a JSON object"},
		{"matdesc non-string value", sdkMeta, set(crypto.MetaMatDesc, `{"n":1}`), crypto.ErrInvalidEnvelope, "not a JSON object"},
		{"matdesc null", sdkMeta, set(crypto.MetaMatDesc, `null`), crypto.ErrInvalidEnvelope, "not a JSON object"},
		{"matdesc trailing data", sdkMeta, set(crypto.MetaMatDesc, `{"a":"b"}{}`), crypto.ErrInvalidEnvelope, "after the JSON object"},
		{"negative length", sdkMeta, set(crypto.MetaUnencryptedContentLength, "-2"), crypto.ErrInvalidEnvelope, "non-negative decimal"},
		{"RSA block too short", sdkMeta, func(m map[string]string) { m[crypto.MetaKey] = "AAAA"; m[crypto.MetaStart] = "AAAA" }, crypto.ErrInvalidEnvelope, "shorter than one block"},
		{"length with sign", sdkMeta, set(crypto.MetaUnencryptedContentLength, "+5"), crypto.ErrInvalidEnvelope, "non-negative decimal"},
		{"bad md5", sdkMeta, set(crypto.MetaUnencryptedContentMD5, "abcd"), crypto.ErrInvalidEnvelope, "16-byte digest"},
		{"part size not 16-aligned", sdkMeta, set(crypto.MetaPartSize, "1000"), crypto.ErrInvalidEnvelope, "multiple of 16"},
		{"data size without part size", sdkMeta, set(crypto.MetaDataSize, "1000"), crypto.ErrInvalidEnvelope, "without a part size"},
		{"both namespaces", sdkMeta, set(crypto.MetaOssctlCEKAlg, crypto.CEKAlgAESGCMChunkedV1), crypto.ErrInvalidEnvelope, "both"},
		{"unknown ossctl mode", gcmMeta, set(crypto.MetaOssctlCEKAlg, "ossctl/XCHACHA20-chunked-v9"), crypto.ErrUnsupportedAlgorithm, `unknown ossctl client-side encryption mode x-oss-meta-ossctl-cse-cek-alg="ossctl/XCHACHA20-chunked-v9"`},
		{"ossctl without cek-alg", gcmMeta, del(crypto.MetaOssctlCEKAlg), crypto.ErrInvalidEnvelope, "ossctl-cse-cek-alg is missing"},
		{"short salt", gcmMeta, set(crypto.MetaOssctlSalt, "AAAA"), crypto.ErrInvalidEnvelope, "salt is 3 bytes"},
		{"short commitment", gcmMeta, set(crypto.MetaOssctlCommitment, "AAAA"), crypto.ErrInvalidEnvelope, "commitment is 3 bytes"},
		{"chunk size not power of two", gcmMeta, set(crypto.MetaOssctlChunkSize, "65535"), crypto.ErrInvalidEnvelope, "power of two"},
		{"chunk size too large", gcmMeta, set(crypto.MetaOssctlChunkSize, "33554432"), crypto.ErrInvalidEnvelope, "power of two"},
		{"no chunk size", gcmMeta, del(crypto.MetaOssctlChunkSize), crypto.ErrInvalidEnvelope, "chunk-size is missing"},
		{"part size not chunk-aligned", gcmMeta, set(crypto.MetaOssctlPartSize, "100000"), crypto.ErrInvalidEnvelope, "multiple of the chunk size"},
	}
	for _, c := range cases {
		m := c.base()
		c.edit(m)
		_, err := crypto.ParseEnvelope(header(m))
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.message) {
			t.Errorf("%s: err = %v, want %v containing %q", c.name, err, c.want, c.message)
		}
	}
	if _, err := crypto.ParseEnvelope(http.Header{"Content-Type": {"text/plain"}}); !errors.Is(err, crypto.ErrNotEncrypted) {
		t.Errorf("plain object: err = %v, want ErrNotEncrypted", err)
	}
	if crypto.IsEncrypted(http.Header{"X-Oss-Meta-Desc": {"x"}}) {
		t.Error("IsEncrypted on a plain object")
	}
	// A length of -1 means unknown.
	m := sdkMeta()
	m[crypto.MetaUnencryptedContentLength] = "-1"
	if env, err := crypto.ParseEnvelope(header(m)); err != nil || env.UnencryptedContentLength != crypto.SizeUnknown {
		t.Errorf("length -1: %v", err)
	}
	// The legacy OAEP wrap is readable.
	m = sdkMeta()
	m[crypto.MetaWrapAlg] = crypto.WrapAlgRSAOAEP
	if _, err := crypto.ParseEnvelope(header(m)); err != nil {
		t.Errorf("OAEP wrap: %v", err)
	}
}

func TestMatDesc(t *testing.T) {
	s, err := crypto.EncodeMatDesc(map[string]string{"z": "1", "a": "<&>"})
	if err != nil {
		t.Fatal(err)
	}
	// Byte-identical to the Go SDK's json.Marshal of the map.
	if want := `{"a":"\u003c\u0026\u003e","z":"1"}`; s != want {
		t.Fatalf("EncodeMatDesc = %s, want %s", s, want)
	}
	if s, _ := crypto.EncodeMatDesc(nil); s != "" {
		t.Fatalf("empty matdesc = %q", s)
	}
	m, err := crypto.DecodeMatDesc(`{"a":"<&>","z":"1"}`)
	if err != nil || m["a"] != "<&>" || len(m) != 2 {
		t.Fatalf("DecodeMatDesc = %v, %v", m, err)
	}
}
