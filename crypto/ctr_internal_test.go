package crypto

import (
	"bytes"
	"crypto/aes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
)

func TestAddCounter(t *testing.T) {
	for _, tc := range []struct {
		iv   string
		n    uint64
		want string
	}{
		{"00000000000000000000000000000000", 1, "00000000000000000000000000000001"},
		{"0102030405060708000000000000ffff", 1, "01020304050607080000000000010000"},
		{"0102030405060708000000fffffffffe", 3, "01020304050607080000010000000001"},
		{"0000000000000000ffffffffffffffff", 1, "00000000000000010000000000000000"},
		{"ffffffffffffffffffffffffffffffff", 2, "00000000000000000000000000000001"},
	} {
		iv, _ := hex.DecodeString(tc.iv)
		got := addCounter(iv, tc.n)
		if hex.EncodeToString(got[:]) != tc.want {
			t.Errorf("addCounter(%s, %d) = %x, want %s", tc.iv, tc.n, got, tc.want)
		}
	}
}

// refCTR is an independent AES-CTR: block i is AES(key, IV + i).
func refCTR(t *testing.T, key, iv, plain []byte, offset int64) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(plain))
	var ks [16]byte
	for i := range plain {
		pos := offset + int64(i)
		ctr := addCounter(iv, uint64(pos/16))
		block.Encrypt(ks[:], ctr[:])
		out[i] = plain[i] ^ ks[pos%16]
	}
	return out
}

func TestCTRStreamMatchesReference(t *testing.T) {
	key := pattern(32)
	plain := pattern(300)
	for _, ivHex := range []string{
		"a1b2c3d4e5f60718000000000badcafe", // SDK-shaped IV
		"a1b2c3d4e5f6071800000000fffffff0", // carries into byte 11 within 300 bytes
		"ffffffffffffffffffffffffffffffff", // full 128-bit wrap
	} {
		iv, _ := hex.DecodeString(ivHex)
		for offset := int64(0); offset < 70; offset++ {
			s, err := NewCTRStream(key, iv, offset)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(plain))
			s.XORKeyStream(got, plain)
			if want := refCTR(t, key, iv, plain, offset); !bytes.Equal(got, want) {
				t.Fatalf("iv %s offset %d: stream differs from reference", ivHex, offset)
			}
		}
	}
}

func TestNewCTRStreamRejectsBadInput(t *testing.T) {
	key, iv := pattern(32), make([]byte, 16)
	if _, err := NewCTRStream(key[:16], iv, 0); err == nil {
		t.Error("AES-128 key accepted")
	}
	if _, err := NewCTRStream(key, iv[:12], 0); err == nil {
		t.Error("12-byte IV accepted")
	}
	if _, err := NewCTRStream(key, iv, -1); err == nil {
		t.Error("negative offset accepted")
	}
}

// fixedReader returns its chunks in order, then fails.
type fixedReader struct{ chunks [][]byte }

func (f *fixedReader) Read(p []byte) (int, error) {
	if len(f.chunks) == 0 {
		return 0, errors.New("fixedReader exhausted")
	}
	n := copy(p, f.chunks[0])
	f.chunks[0] = f.chunks[0][n:]
	if len(f.chunks[0]) == 0 {
		f.chunks = f.chunks[1:]
	}
	return n, nil
}

func TestGenerateCEKRedrawsLeadingZero(t *testing.T) {
	first := make([]byte, 32) // starts with 0x00: must be re-drawn
	first[1] = 0x55
	second := pattern(32)
	second[0] = 0x01
	key, err := generateCEK(&fixedReader{chunks: [][]byte{first, second}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, second) {
		t.Fatalf("key = %x, want the second draw %x", key, second)
	}
	if _, err := generateCEK(bytes.NewReader(make([]byte, 32*maxCEKDraws))); err == nil {
		t.Fatal("an all-zero random source produced a key")
	}
}

func TestGenerateIVZeroesBytes8to11(t *testing.T) {
	src := bytes.Repeat([]byte{0xEE}, 16)
	iv, err := generateIV(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hex.DecodeString("eeeeeeeeeeeeeeee00000000eeeeeeee")
	if !bytes.Equal(iv, want) {
		t.Fatalf("iv = %x, want %x", iv, want)
	}
	for i := range 4 {
		c, err := NewContent(testRSAKey(t, nil), &Options{Rand: testRand(byte(i))})
		if err != nil {
			t.Fatal(err)
		}
		if c.key[0] == 0 || !bytes.Equal(c.iv[8:12], []byte{0, 0, 0, 0}) {
			t.Fatalf("draw %d: key %x iv %x", i, c.key, c.iv)
		}
	}
}

func newTestCTR(t *testing.T) *Content {
	t.Helper()
	c, err := NewContent(testRSAKey(t, map[string]string{"desc": "test"}), &Options{Rand: testRand(1)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCTRPartsMatchSingleStream(t *testing.T) {
	c := newTestCTR(t)
	plain := pattern(1000)
	r, err := c.EncryptReader(oneByteReader{bytes.NewReader(plain)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	whole := mustReadAll(t, r)
	if err := c.SetMultipart(int64(len(plain)), 48); err != nil {
		t.Fatal(err)
	}
	parts := make([][]byte, c.PartCount())
	var wg sync.WaitGroup
	errs := make([]error, len(parts))
	for i := len(parts); i >= 1; i-- { // reverse order, in parallel
		wg.Go(func() {
			off, size, err := c.PartRange(i)
			if err != nil {
				errs[i-1] = err
				return
			}
			pr, err := c.EncryptPart(bytes.NewReader(plain[off:off+size]), i)
			if err != nil {
				errs[i-1] = err
				return
			}
			parts[i-1], errs[i-1] = io.ReadAll(pr)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := bytes.Join(parts, nil); !bytes.Equal(got, whole) {
		t.Fatal("concatenated parts differ from the single-stream ciphertext")
	}
	// A stream resumed at an unaligned offset continues the same ciphertext.
	rr, err := c.EncryptReader(bytes.NewReader(plain[333:]), 333)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustReadAll(t, rr); !bytes.Equal(got, whole[333:]) {
		t.Fatal("resumed stream at offset 333 differs")
	}
}

func TestCTRPartLayoutErrors(t *testing.T) {
	c := newTestCTR(t)
	if err := c.SetMultipart(100, 40); !errors.Is(err, ErrInvalidPart) {
		t.Fatalf("part size 40: err = %v, want ErrInvalidPart", err)
	}
	if _, err := c.EncryptPart(bytes.NewReader(nil), 1); !errors.Is(err, ErrInvalidPart) {
		t.Fatalf("EncryptPart without layout: err = %v", err)
	}
	if err := c.SetMultipart(100, 32); err != nil {
		t.Fatal(err)
	}
	if c.PartCount() != 4 {
		t.Fatalf("PartCount = %d, want 4", c.PartCount())
	}
	for _, tc := range []struct {
		n    int
		body int
	}{{1, 31}, {1, 33}, {4, 3}, {4, 5}} {
		r, err := c.EncryptPart(bytes.NewReader(make([]byte, tc.body)), tc.n)
		if err == nil {
			_, err = io.ReadAll(r)
		}
		if !errors.Is(err, ErrInvalidPart) {
			t.Errorf("part %d with %d bytes: err = %v, want ErrInvalidPart", tc.n, tc.body, err)
		}
	}
	if _, err := c.EncryptPart(bytes.NewReader(nil), 5); !errors.Is(err, ErrInvalidPart) {
		t.Errorf("part 5 of 4: err = %v", err)
	}
	if _, err := c.EncryptPart(bytes.NewReader(nil), 0); !errors.Is(err, ErrInvalidPart) {
		t.Errorf("part 0: err = %v", err)
	}
}

func TestCTRRangesEveryAlignment(t *testing.T) {
	c := newTestCTR(t)
	plain := pattern(150)
	r, _ := c.EncryptReader(bytes.NewReader(plain), 0)
	ct := mustReadAll(t, r)
	size := int64(len(ct))
	for s := int64(0); s < size; s++ {
		for _, e := range []int64{s, s + 1, s + 15, s + 16, s + 17, s + 40, size - 1, size + 10, -1} {
			if e >= 0 && e < s {
				continue
			}
			p, err := c.PlanRange(s, e, size)
			if err != nil {
				t.Fatalf("[%d,%d]: %v", s, e, err)
			}
			if p.FetchStart%16 != 0 || p.FetchStart > s || p.Discard != s-p.FetchStart || p.Discard >= 16 {
				t.Fatalf("[%d,%d]: bad plan %+v", s, e, p)
			}
			wantEnd := min(e, size-1)
			if e < 0 {
				wantEnd = size - 1
			}
			if p.End != wantEnd || p.FetchEnd != wantEnd || p.Length() != wantEnd-s+1 {
				t.Fatalf("[%d,%d]: plan %+v", s, e, p)
			}
			dr, err := c.DecryptRange(bytes.NewReader(ct[p.FetchStart:p.FetchEnd+1]), p)
			if err != nil {
				t.Fatal(err)
			}
			if got := mustReadAll(t, oneByteReader{dr}); !bytes.Equal(got, plain[s:wantEnd+1]) {
				t.Fatalf("[%d,%d]: wrong plaintext", s, e)
			}
		}
	}
	// Unknown object size: open-ended fetch.
	p, err := c.PlanRange(37, -1, -1)
	if err != nil || p.HTTPRange() != "bytes=32-" || p.Length() != -1 {
		t.Fatalf("open plan %+v %v", p, err)
	}
	dr, _ := c.DecryptRange(bytes.NewReader(ct[32:]), p)
	if got := mustReadAll(t, dr); !bytes.Equal(got, plain[37:]) {
		t.Fatal("open-ended range: wrong plaintext")
	}
	for _, bad := range [][2]int64{{-1, 5}, {10, 5}, {150, 160}, {0, -2}} {
		if _, err := c.PlanRange(bad[0], bad[1], size); !errors.Is(err, ErrInvalidRange) {
			t.Errorf("range %v: err = %v, want ErrInvalidRange", bad, err)
		}
	}
}

func TestCTRTruncatedOrLongBody(t *testing.T) {
	c := newTestCTR(t)
	plain := pattern(100)
	r, _ := c.EncryptReader(bytes.NewReader(plain), 0)
	ct := mustReadAll(t, r)
	for name, body := range map[string][]byte{"short": ct[:90], "long": append(bytes.Clone(ct), 1, 2)} {
		dr, err := c.DecryptReader(bytes.NewReader(body), 100)
		if err == nil {
			_, err = io.ReadAll(dr)
		}
		if !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s body: err = %v, want ErrIntegrity", name, err)
		}
	}
}

func TestCTRUnencryptedMD5AndLength(t *testing.T) {
	c := newTestCTR(t)
	plain := []byte("hello, world")
	if err := c.SetUnencryptedContentMD5("5NfxtO0uQtFYmPSyewGdpA=="); err != nil { // md5("hello, world")
		t.Fatal(err)
	}
	if err := c.SetUnencryptedContentLength(int64(len(plain))); err != nil {
		t.Fatal(err)
	}
	r, _ := c.EncryptReader(bytes.NewReader(plain), 0)
	ct := mustReadAll(t, r)
	dr, err := c.DecryptReader(bytes.NewReader(ct), int64(len(ct)))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustReadAll(t, dr); !bytes.Equal(got, plain) {
		t.Fatal("wrong plaintext")
	}
	flipped := bytes.Clone(ct)
	flipped[3] ^= 1
	dr, _ = c.DecryptReader(bytes.NewReader(flipped), int64(len(ct)))
	if _, err := io.ReadAll(dr); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("flipped bit with MD5 present: err = %v, want ErrIntegrity", err)
	}
	if _, err := c.DecryptReader(bytes.NewReader(ct[:5]), 5); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("length differing from unencrypted-content-length: err = %v", err)
	}
	if err := c.SetUnencryptedContentMD5("not-md5"); err == nil {
		t.Fatal("bad MD5 accepted")
	}
}

func ExampleRangePlan_HTTPRange() {
	p := RangePlan{Start: 21, End: 99, FetchStart: 16, FetchEnd: 99, Discard: 5}
	fmt.Println(p.HTTPRange(), p.Length())
	// Output: bytes=16-99 79
}
