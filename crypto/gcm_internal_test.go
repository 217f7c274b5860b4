package crypto

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
)

func newTestGCM(t testing.TB, chunk int64, seed byte) *Content {
	t.Helper()
	c, err := NewContent(testRSAKey(t, map[string]string{"desc": "gcm"}), &Options{Mode: CEKAlgAESGCMChunkedV1, ChunkSize: chunk, Rand: testRand(seed)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func gcmEncrypt(t testing.TB, c *Content, plain []byte) []byte {
	t.Helper()
	r, err := c.EncryptReader(oneByteReader{bytes.NewReader(plain)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return mustReadAll(t, r)
}

// gcmDecrypt decrypts the whole object and returns what was released before
// any error.
func gcmDecrypt(c *Content, ct []byte) ([]byte, error) {
	r, err := c.DecryptReader(bytes.NewReader(ct), int64(len(ct)))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	_, err = io.Copy(&out, r)
	return out.Bytes(), err
}

func TestGCMRoundTripSizes(t *testing.T) {
	for _, chunk := range []int64{64, DefaultChunkSize} {
		c := newTestGCM(t, chunk, 2)
		for _, n := range []int64{0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk, 3*chunk + 5} {
			plain := pattern(int(n))
			ct := gcmEncrypt(t, c, plain)
			if int64(len(ct)) != c.CiphertextSize(n) {
				t.Fatalf("chunk %d size %d: ciphertext %d bytes, CiphertextSize says %d", chunk, n, len(ct), c.CiphertextSize(n))
			}
			if p, err := c.PlaintextSize(int64(len(ct))); err != nil || p != n {
				t.Fatalf("chunk %d size %d: PlaintextSize = %d, %v", chunk, n, p, err)
			}
			got, err := gcmDecrypt(c, ct)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("chunk %d size %d: round trip failed: %v", chunk, n, err)
			}
		}
	}
}

func TestGCMPlaintextSizeRejectsImpossibleLengths(t *testing.T) {
	c := newTestGCM(t, 64, 3)
	for _, l := range []int64{0, 15, 80 + 5, 80 + 16, 160 + 15} {
		if _, err := c.PlaintextSize(l); !errors.Is(err, ErrIntegrity) {
			t.Errorf("ciphertext length %d: err = %v, want ErrIntegrity", l, err)
		}
	}
}

func TestGCMPartsMatchSingleStream(t *testing.T) {
	const chunk = 64
	c := newTestGCM(t, chunk, 4)
	for _, size := range []int64{1, 255, 256, 257, 1000} {
		plain := pattern(int(size))
		whole := gcmEncrypt(t, c, plain)
		if err := c.SetMultipart(size, 2*chunk); err != nil {
			t.Fatal(err)
		}
		parts := make([][]byte, c.PartCount())
		errs := make([]error, len(parts))
		var wg sync.WaitGroup
		for i := 1; i <= len(parts); i++ {
			wg.Go(func() {
				off, n, err := c.PartRange(i)
				if err != nil {
					errs[i-1] = err
					return
				}
				want, _ := c.PartCiphertextSize(i)
				r, err := c.EncryptPart(bytes.NewReader(plain[off:off+n]), i)
				if err != nil {
					errs[i-1] = err
					return
				}
				parts[i-1], errs[i-1] = io.ReadAll(r)
				if errs[i-1] == nil && int64(len(parts[i-1])) != want {
					errs[i-1] = errors.New("PartCiphertextSize mismatch")
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if !bytes.Equal(bytes.Join(parts, nil), whole) {
			t.Fatalf("size %d: parts differ from the single stream", size)
		}
	}
	if err := c.SetMultipart(1000, 100); !errors.Is(err, ErrInvalidPart) {
		t.Fatalf("part size not a chunk multiple: %v", err)
	}
	if err := c.SetMultipart(0, 128); !errors.Is(err, ErrInvalidPart) {
		t.Fatalf("unknown data size: %v", err)
	}
	if _, err := c.EncryptReader(bytes.NewReader(nil), 64); !errors.Is(err, ErrInvalidPart) {
		t.Fatalf("EncryptReader at offset 64: %v", err)
	}
	// Wrong part bodies.
	if err := c.SetMultipart(300, 128); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ n, body int }{{1, 127}, {1, 129}, {3, 43}, {3, 45}} {
		r, err := c.EncryptPart(bytes.NewReader(make([]byte, tc.body)), tc.n)
		if err == nil {
			_, err = io.ReadAll(r)
		}
		if !errors.Is(err, ErrInvalidPart) {
			t.Errorf("part %d with %d bytes: err = %v", tc.n, tc.body, err)
		}
	}
}

func TestGCMRangesEveryAlignment(t *testing.T) {
	const chunk = 64
	c := newTestGCM(t, chunk, 5)
	plain := pattern(300)
	ct := gcmEncrypt(t, c, plain)
	size := int64(len(ct))
	for s := int64(0); s < 300; s++ {
		for _, e := range []int64{s, s + 1, s + 63, s + 64, s + 65, 299, 400, -1} {
			if e >= 0 && e < s {
				continue
			}
			p, err := c.PlanRange(s, e, size)
			if err != nil {
				t.Fatalf("[%d,%d]: %v", s, e, err)
			}
			wantEnd := e
			if e < 0 || e > 299 {
				wantEnd = 299
			}
			if p.FetchStart != (s/chunk)*(chunk+16) || p.Discard != s%chunk || p.End != wantEnd {
				t.Fatalf("[%d,%d]: plan %+v", s, e, p)
			}
			r, err := c.DecryptRange(bytes.NewReader(ct[p.FetchStart:p.FetchEnd+1]), p)
			if err != nil {
				t.Fatal(err)
			}
			if got := mustReadAll(t, r); !bytes.Equal(got, plain[s:wantEnd+1]) {
				t.Fatalf("[%d,%d]: wrong plaintext", s, e)
			}
		}
	}
	if _, err := c.PlanRange(300, 301, size); !errors.Is(err, ErrInvalidRange) {
		t.Fatalf("range past the end: %v", err)
	}
	if _, err := c.PlanRange(0, 10, -1); !errors.Is(err, ErrInvalidRange) {
		t.Fatalf("unknown size: %v", err)
	}
}

// TestGCMTamperingReleasesNoBadPlaintext flips every byte of a 5-chunk
// object and checks that decryption fails with ErrIntegrity having released
// exactly the chunks before the damaged one.
func TestGCMTamperingReleasesNoBadPlaintext(t *testing.T) {
	const chunk = 64
	c := newTestGCM(t, chunk, 6)
	plain := pattern(4*chunk + 10)
	ct := gcmEncrypt(t, c, plain)
	for i := range ct {
		bad := bytes.Clone(ct)
		bad[i] ^= 0x80
		got, err := gcmDecrypt(c, bad)
		var ie *IntegrityError
		if !errors.Is(err, ErrIntegrity) || !errors.As(err, &ie) {
			t.Fatalf("flip at %d: err = %v, want ErrIntegrity", i, err)
		}
		damaged := int64(i) / (chunk + 16)
		if ie.Chunk != damaged || int64(len(got)) != damaged*chunk || !bytes.Equal(got, plain[:len(got)]) {
			t.Fatalf("flip at %d: chunk %d reported, %d bytes released", i, ie.Chunk, len(got))
		}
	}
}

func TestGCMStructuralTampering(t *testing.T) {
	const chunk, full = 64, 64 + 16
	c := newTestGCM(t, chunk, 7)
	plain := pattern(3*chunk + 20) // chunks 0,1,2 full, 3 short
	ct := gcmEncrypt(t, c, plain)
	swap := bytes.Clone(ct)
	copy(swap[0:full], ct[full:2*full])
	copy(swap[full:2*full], ct[0:full])
	cases := map[string][]byte{
		"drop final chunk":    ct[:3*full],
		"drop final byte":     ct[:len(ct)-1],
		"drop middle chunk":   append(bytes.Clone(ct[:full]), ct[2*full:]...),
		"reorder chunks 0, 1": swap,
		"trailing byte":       append(bytes.Clone(ct), 0),
		"duplicate chunk":     append(bytes.Clone(ct[:full]), ct...),
		"empty":               nil,
	}
	for name, body := range cases {
		got, err := gcmDecrypt(c, body)
		if !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: err = %v, want ErrIntegrity", name, err)
		}
		if len(got)%chunk != 0 || !bytes.Equal(got, plain[:len(got)]) {
			t.Errorf("%s: released %d bytes that are not whole verified chunks", name, len(got))
		}
	}
	// A range body with extra bytes after the planned chunks.
	p, _ := c.PlanRange(0, 10, int64(len(ct)))
	r, _ := c.DecryptRange(bytes.NewReader(ct[:full+1]), p)
	if _, err := io.ReadAll(r); !errors.Is(err, ErrIntegrity) {
		t.Errorf("over-long range body: err = %v", err)
	}
	// A range whose chunk is fine decrypts even if another chunk is damaged.
	bad := bytes.Clone(ct)
	bad[0] ^= 1
	p, _ = c.PlanRange(chunk+1, chunk+5, int64(len(ct)))
	r, _ = c.DecryptRange(bytes.NewReader(bad[p.FetchStart:p.FetchEnd+1]), p)
	if got := mustReadAll(t, r); !bytes.Equal(got, plain[chunk+1:chunk+6]) {
		t.Error("undamaged range did not decrypt")
	}
}

func TestGCMEnvelopeTampering(t *testing.T) {
	key := testRSAKey(t, map[string]string{"desc": "gcm"})
	resolver := &MasterKeyResolver{Default: key}
	a := newTestGCM(t, 64, 8)
	b := newTestGCM(t, 64, 9)
	plain := pattern(200)
	ctA := gcmEncrypt(t, a, plain)
	ctB := gcmEncrypt(t, b, plain)

	open := func(env *Envelope, ct []byte) error {
		c, err := OpenContent(env, resolver)
		if err != nil {
			return err
		}
		_, err = gcmDecrypt(c, ct)
		return err
	}
	if err := open(a.Envelope(), ctA); err != nil {
		t.Fatalf("untampered: %v", err)
	}
	mutations := map[string]func(e *Envelope) ([]byte, bool){
		"envelope of another object": func(e *Envelope) ([]byte, bool) { *e = *b.Envelope(); return ctA, true },
		"wrapped key of another object": func(e *Envelope) ([]byte, bool) {
			e.WrappedKey = b.Envelope().WrappedKey
			return ctA, true
		},
		"salt changed":       func(e *Envelope) ([]byte, bool) { e.Salt[0] ^= 1; return ctA, true },
		"commitment changed": func(e *Envelope) ([]byte, bool) { e.Commitment[31] ^= 1; return ctA, true },
		"chunk size changed": func(e *Envelope) ([]byte, bool) { e.ChunkSize = 128; return ctA, true },
		"body of another object": func(*Envelope) ([]byte, bool) {
			return ctB, true
		},
	}
	for name, mutate := range mutations {
		env := a.Envelope()
		ct, _ := mutate(env)
		if err := open(env, ct); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: err = %v, want ErrIntegrity", name, err)
		}
	}
	// The wrong RSA key cannot even unwrap.
	other, err := ParseRSAMasterKey(nil, readTestdata(t, "rsa-2048-other-pkcs8.pem"), map[string]string{"desc": "gcm"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenContent(a.Envelope(), &MasterKeyResolver{Default: other}); !errors.Is(err, ErrWrongKey) {
		t.Errorf("wrong RSA key: err = %v, want ErrWrongKey", err)
	}
}

func TestGCMRewrapKeepsBody(t *testing.T) {
	c := newTestGCM(t, 64, 10)
	plain := pattern(500)
	ct := gcmEncrypt(t, c, plain)
	other, err := ParseRSAMasterKey(nil, readTestdata(t, "rsa-2048-other-pkcs8.pem"), map[string]string{"desc": "new"})
	if err != nil {
		t.Fatal(err)
	}
	env, err := c.Rewrap(other)
	if err != nil {
		t.Fatal(err)
	}
	if env.MatDesc != `{"desc":"new"}` || bytes.Equal(env.WrappedKey, c.Envelope().WrappedKey) {
		t.Fatalf("rewrapped envelope %+v", env)
	}
	c2, err := OpenContent(env, &MasterKeyResolver{Default: other})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := gcmDecrypt(c2, ct); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("decrypt after rewrap: %v", err)
	}
}

// TestResumeFromEnvelope re-opens a multipart upload from its stored
// envelope (as after a restart, from a checkpoint or ListParts) and checks
// that re-encrypted parts are byte-identical to the first attempt.
func TestResumeFromEnvelope(t *testing.T) {
	key := testRSAKey(t, map[string]string{"desc": "resume"})
	for _, mode := range []string{CEKAlgAESCTR, CEKAlgAESGCMChunkedV1} {
		opts := &Options{Mode: mode, Rand: testRand(11)}
		if mode == CEKAlgAESGCMChunkedV1 {
			opts.ChunkSize = 64
		}
		c, err := NewContent(key, opts)
		if err != nil {
			t.Fatal(err)
		}
		plain := pattern(1000)
		if err := c.SetMultipart(int64(len(plain)), 256); err != nil {
			t.Fatal(err)
		}
		encryptPart := func(c *Content, n int) []byte {
			off, size, err := c.PartRange(n)
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.EncryptPart(bytes.NewReader(plain[off:off+size]), n)
			if err != nil {
				t.Fatal(err)
			}
			return mustReadAll(t, r)
		}
		env, err := ParseEnvelopeMetadata(c.Envelope().Metadata())
		if err != nil {
			t.Fatal(err)
		}
		resumed, err := OpenContent(env, &MasterKeyResolver{Default: key})
		if err != nil {
			t.Fatal(err)
		}
		if resumed.PartCount() != 4 {
			t.Fatalf("%s: resumed PartCount = %d", mode, resumed.PartCount())
		}
		for n := 1; n <= 4; n++ {
			if !bytes.Equal(encryptPart(c, n), encryptPart(resumed, n)) {
				t.Fatalf("%s: part %d differs after resuming", mode, n)
			}
		}
	}
}
