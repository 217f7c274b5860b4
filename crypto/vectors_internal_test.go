package crypto

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	osscrypto "github.com/aliyun/aliyun-oss-go-sdk/oss/crypto"
)

var generateVectors = flag.Bool("generate-vectors", false, "rewrite testdata/vectors from the generator specs")

const vectorDir = "testdata/vectors"

// vector is one known-answer test in testdata/vectors.
type vector struct {
	name   string
	header map[string]string
	order  []string
	body   []byte
}

func (v *vector) set(k, val string) {
	if _, ok := v.header[k]; !ok {
		v.order = append(v.order, k)
	}
	v.header[k] = val
}

func (v *vector) hex(k string, t testing.TB) []byte {
	b, err := hex.DecodeString(v.header[k])
	if err != nil {
		t.Fatalf("%s: %s: %v", v.name, k, err)
	}
	return b
}

func (v *vector) int(k string, t testing.TB) int64 {
	n, err := strconv.ParseInt(v.header[k], 10, 64)
	if err != nil {
		t.Fatalf("%s: %s: %v", v.name, k, err)
	}
	return n
}

func (v *vector) marshal() []byte {
	var b bytes.Buffer
	for _, k := range v.order {
		fmt.Fprintf(&b, "%s: %s\n", k, v.header[k])
	}
	b.WriteString("\n")
	h := hex.EncodeToString(v.body)
	for len(h) > 64 {
		b.WriteString(h[:64] + "\n")
		h = h[64:]
	}
	if h != "" {
		b.WriteString(h + "\n")
	}
	return b.Bytes()
}

func parseVector(name string, data []byte) (*vector, error) {
	v := &vector{name: name, header: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	inBody := false
	var body strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case inBody:
			body.WriteString(strings.TrimSpace(line))
		case line == "":
			inBody = true
		default:
			k, val, ok := strings.Cut(line, ": ")
			if !ok {
				return nil, fmt.Errorf("%s: malformed header line %q", name, line)
			}
			v.set(k, val)
		}
	}
	if v.order == nil || v.order[0] != "expect" {
		return nil, fmt.Errorf("%s: the first header must be 'expect'", name)
	}
	b, err := hex.DecodeString(body.String())
	if err != nil {
		return nil, fmt.Errorf("%s: body: %w", name, err)
	}
	v.body = b
	return v, sc.Err()
}

// identityKey "wraps" by copying: vectors carry raw data keys.
type identityKey struct{}

func (identityKey) Wrap(p []byte) ([]byte, error)   { return bytes.Clone(p), nil }
func (identityKey) Unwrap(w []byte) ([]byte, error) { return bytes.Clone(w), nil }
func (identityKey) WrapAlg() string                 { return WrapAlgKMS }
func (identityKey) MatDesc() string                 { return "" }

// sdkIdentity is the same for the SDK's MasterCipher interface.
type sdkIdentity struct{}

func (sdkIdentity) Encrypt(p []byte) ([]byte, error) { return bytes.Clone(p), nil }
func (sdkIdentity) Decrypt(p []byte) ([]byte, error) { return bytes.Clone(p), nil }
func (sdkIdentity) GetWrapAlgorithm() string         { return WrapAlgKMS }
func (sdkIdentity) GetMatDesc() string               { return "" }

func TestVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(vectorDir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("only %d vectors in %s", len(files), vectorDir)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			v, err := parseVector(name, data)
			if err != nil {
				t.Fatal(err)
			}
			switch v.header["mode"] {
			case CEKAlgAESCTR:
				checkCTRVector(t, v)
			case CEKAlgAESGCMChunkedV1:
				checkGCMVector(t, v)
			default:
				t.Fatalf("unknown mode %q", v.header["mode"])
			}
		})
	}
}

func checkCTRVector(t *testing.T, v *vector) {
	if v.header["expect"] != "success" {
		t.Fatalf("CTR vectors can only expect success, got %q", v.header["expect"])
	}
	key, iv, plain, offset := v.hex("cek", t), v.hex("iv", t), v.hex("plaintext", t), v.int("offset", t)
	// This library.
	s, err := NewCTRStream(key, iv, offset)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(plain))
	s.XORKeyStream(got, plain)
	if !bytes.Equal(got, v.body) {
		t.Fatalf("library ciphertext differs:\n got %x\nwant %x", got, v.body)
	}
	// An independent block-by-block implementation.
	if ref := refCTR(t, key, iv, plain, offset); !bytes.Equal(ref, v.body) {
		t.Fatal("reference CTR disagrees with the vector")
	}
	// The official SDK's cipher, seeked the SDK's way (aligned offsets only,
	// so prepend the unaligned head and drop it again).
	cc, err := osscrypto.CreateAesCtrCipher(sdkIdentity{}).ContentCipherEnv(osscrypto.Envelope{
		CipherKey: string(key), IV: string(iv), CEKAlg: CEKAlgAESCTR, WrapAlg: WrapAlgKMS,
	})
	if err != nil {
		t.Fatal(err)
	}
	aligned := offset &^ 15
	cd := cc.GetCipherData().Clone()
	cd.SeekIV(uint64(aligned))
	seeked, err := cc.Clone(cd)
	if err != nil {
		t.Fatal(err)
	}
	head := int(offset - aligned)
	rc, err := seeked.DecryptContent(bytes.NewReader(append(make([]byte, head), v.body...)))
	if err != nil {
		t.Fatal(err)
	}
	sdkPlain, _ := io.ReadAll(rc)
	if !bytes.Equal(sdkPlain[head:], plain) {
		t.Fatal("the official SDK decrypts the vector to something else")
	}
}

func gcmEnvelope(t *testing.T, v *vector) *Envelope {
	return &Envelope{
		CEKAlg: CEKAlgAESGCMChunkedV1, WrapAlg: WrapAlgKMS, WrappedKey: v.hex("cek", t),
		Salt: v.hex("salt", t), Commitment: v.hex("commitment", t), ChunkSize: v.int("chunk-size", t),
		UnencryptedContentLength: SizeUnknown,
	}
}

func checkGCMVector(t *testing.T, v *vector) {
	env := gcmEnvelope(t, v)
	refPlain, refErr := refGCMOpen(env.WrappedKey, env.Salt, env.Commitment, env.ChunkSize, v.body)
	var got []byte
	c, err := OpenContentWith(env, identityKey{})
	if err == nil {
		got, err = gcmDecrypt(c, v.body)
	}
	switch v.header["expect"] {
	case "success":
		plain := v.hex("plaintext", t)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("library: err = %v, plaintext equal = %v", err, bytes.Equal(got, plain))
		}
		if refErr != nil || !bytes.Equal(refPlain, plain) {
			t.Fatalf("reference implementation: err = %v", refErr)
		}
		// Every single-byte range and a few spans.
		for s := int64(0); s < int64(len(plain)); s++ {
			for _, e := range []int64{s, s + env.ChunkSize, -1} {
				p, err := c.PlanRange(s, e, int64(len(v.body)))
				if err != nil {
					t.Fatal(err)
				}
				r, _ := c.DecryptRange(bytes.NewReader(v.body[p.FetchStart:p.FetchEnd+1]), p)
				if g := mustReadAll(t, r); !bytes.Equal(g, plain[s:p.End+1]) {
					t.Fatalf("range [%d,%d] wrong", s, e)
				}
			}
		}
	case "integrity failure":
		if !errors.Is(err, ErrIntegrity) {
			t.Fatalf("library: err = %v, want ErrIntegrity", err)
		}
		if refErr == nil {
			t.Fatal("the reference implementation accepted a vector that must fail")
		}
	default:
		t.Fatalf("unknown expect %q", v.header["expect"])
	}
}

// refGCMOpen is a second, straight-line implementation of the chunked mode
// from its description in gcm.go, used to cross-check the vectors.
func refGCMOpen(cek, salt, commitment []byte, chunk int64, ct []byte) ([]byte, error) {
	params := fmt.Appendf(nil, "ossctl-cse AES-256-GCM-chunked v1\x00")
	params = binary.BigEndian.AppendUint32(params, uint32(chunk))
	derive := func(label string, n int) []byte {
		k, err := hkdf.Key(sha256.New, cek, salt, label+"\x00"+string(params), n)
		if err != nil {
			panic(err)
		}
		return k
	}
	if !bytes.Equal(derive("key commitment", 32), commitment) {
		return nil, errors.New("commitment")
	}
	block, _ := aes.NewCipher(derive("payload key", 32))
	aead, _ := cipher.NewGCM(block)
	mask := derive("nonce mask", 12)
	aad := append(slices.Clone(params), salt...)
	var out []byte
	for i := int64(0); ; i++ {
		n := min(int64(len(ct)), chunk+16)
		last := n == int64(len(ct))
		nonce := make([]byte, 12)
		binary.BigEndian.PutUint64(nonce[3:11], uint64(i))
		if last {
			nonce[11] = 1
		}
		for j := range nonce {
			nonce[j] ^= mask[j]
		}
		pt, err := aead.Open(nil, nonce, ct[:n], aad)
		if err != nil {
			return nil, fmt.Errorf("chunk %d: %w", i, err)
		}
		if last && len(pt) == 0 && i > 0 {
			return nil, errors.New("empty final chunk after a full one")
		}
		out = append(out, pt...)
		ct = ct[n:]
		if last {
			return out, nil
		}
	}
}

// TestGenerateVectors rewrites testdata/vectors (with -generate-vectors).
func TestGenerateVectors(t *testing.T) {
	if !*generateVectors {
		t.Skip("run with -generate-vectors to rewrite testdata/vectors")
	}
	if err := os.MkdirAll(vectorDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var out []*vector
	newV := func(name, expect, mode, comment string) *vector {
		v := &vector{name: name, header: map[string]string{}}
		v.set("expect", expect)
		v.set("mode", mode)
		v.set("comment", comment)
		out = append(out, v)
		return v
	}
	draw := func(seed byte, n int) []byte {
		b := make([]byte, n)
		_, _ = testRand(seed).Read(b)
		return b
	}
	ctr := func(name, comment string, key, iv, plain []byte, offset int64) {
		v := newV(name, "success", CEKAlgAESCTR, comment)
		v.set("cek", hex.EncodeToString(key))
		v.set("iv", hex.EncodeToString(iv))
		v.set("offset", strconv.FormatInt(offset, 10))
		v.set("plaintext", hex.EncodeToString(plain))
		s, err := NewCTRStream(key, iv, offset)
		if err != nil {
			t.Fatal(err)
		}
		v.body = make([]byte, len(plain))
		s.XORKeyStream(v.body, plain)
	}
	key := draw(1, 32)
	sdkIV := draw(2, 16)
	clear(sdkIV[8:12])
	text := []byte("Known-answer vector for ossctl client-side encryption: AES-256-CTR as the OSS SDKs write it.")
	ctr("ctr-basic", "SDK-shaped IV (bytes 8..11 zero), offset 0", key, sdkIV, text, 0)
	ctr("ctr-empty", "empty object", key, sdkIV, nil, 0)
	ctr("ctr-offset-aligned", "a part or range starting at plaintext offset 102400 (counter IV+6400)", key, sdkIV, draw(3, 40), 102400)
	ctr("ctr-offset-unaligned", "a stream resumed at an unaligned offset", key, sdkIV, draw(4, 40), 1000003)
	carryIV := slices.Clone(sdkIV)
	copy(carryIV[12:], []byte{0xff, 0xff, 0xff, 0xfe})
	ctr("ctr-carry-into-byte-11", "the counter carries from bytes 12..15 into byte 11", key, carryIV, draw(5, 80), 0)
	wrapIV := bytes.Repeat([]byte{0xff}, 16)
	ctr("ctr-wrap-128", "a non-SDK IV: the full 128-bit counter wraps to zero", key, wrapIV, draw(6, 48), 0)

	const chunk = 64
	salt := draw(7, 32)
	gcmBase := func(name, expect, comment string, plain []byte, cs int64) (*vector, *gcmMode) {
		v := newV(name, expect, CEKAlgAESGCMChunkedV1, comment)
		m, err := newGCMMode(key, salt, cs)
		if err != nil {
			t.Fatal(err)
		}
		v.set("cek", hex.EncodeToString(key))
		v.set("salt", hex.EncodeToString(salt))
		v.set("chunk-size", strconv.FormatInt(cs, 10))
		v.set("commitment", hex.EncodeToString(m.commitment))
		v.set("plaintext", hex.EncodeToString(plain))
		r, _ := m.encryptAt(bytes.NewReader(plain), 0)
		v.body, _ = io.ReadAll(r)
		return v, m
	}
	plain := draw(8, 3*chunk+20)
	base, m := gcmBase("gcm-basic", "success", "three full 64-byte chunks and a short final one", plain, chunk)
	gcmBase("gcm-empty", "success", "an empty object is one empty final chunk", nil, chunk)
	gcmBase("gcm-exact-chunks", "success", "two full chunks, no empty chunk after them", draw(9, 2*chunk), chunk)
	gcmBase("gcm-default-chunk-size", "success", "the default 64 KiB chunk size, one short chunk", text, DefaultChunkSize)

	fail := func(name, comment string, edit func(v *vector)) {
		v := newV(name, "integrity failure", CEKAlgAESGCMChunkedV1, comment)
		for _, k := range base.order[3:] {
			v.set(k, base.header[k])
		}
		v.body = slices.Clone(base.body)
		edit(v)
	}
	const full = chunk + 16
	fail("gcm-bitflip", "one ciphertext bit flipped in chunk 1", func(v *vector) { v.body[full+5] ^= 0x01 })
	fail("gcm-tag-flip", "one bit of the final chunk's tag flipped", func(v *vector) { v.body[len(v.body)-1] ^= 0x80 })
	fail("gcm-truncated-at-chunk", "final chunk removed: the new final chunk lacks the last flag", func(v *vector) { v.body = v.body[:3*full] })
	fail("gcm-truncated-mid-chunk", "ten bytes cut off", func(v *vector) { v.body = v.body[:len(v.body)-10] })
	fail("gcm-reordered", "chunks 0 and 1 swapped", func(v *vector) {
		copy(v.body[:full], base.body[full:2*full])
		copy(v.body[full:2*full], base.body[:full])
	})
	fail("gcm-trailing-data", "an extra empty final chunk appended", func(v *vector) {
		v.body = append(v.body, m.aead.Seal(nil, m.nonce(new([12]byte), 4, true), nil, m.aad)...)
	})
	fail("gcm-no-last-flag", "every chunk sealed as a middle chunk", func(v *vector) {
		var b []byte
		for i := int64(0); i*chunk < int64(len(plain)); i++ {
			b = m.aead.Seal(b, m.nonce(new([12]byte), i, false), plain[i*chunk:min((i+1)*chunk, int64(len(plain)))], m.aad)
		}
		v.body = b
	})
	fail("gcm-wrong-commitment", "key commitment altered", func(v *vector) {
		c := v.hex("commitment", t)
		c[0] ^= 1
		v.set("commitment", hex.EncodeToString(c))
	})
	fail("gcm-wrong-key", "another data key with its own valid commitment", func(v *vector) {
		other := draw(10, 32)
		om, _ := newGCMMode(other, salt, chunk)
		v.set("cek", hex.EncodeToString(other))
		v.set("commitment", hex.EncodeToString(om.commitment))
	})
	fail("gcm-chunk-size-changed", "chunk-size metadata changed from 64 to 128", func(v *vector) { v.set("chunk-size", "128") })

	for _, v := range out {
		if err := os.WriteFile(filepath.Join(vectorDir, v.name+".txt"), v.marshal(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
