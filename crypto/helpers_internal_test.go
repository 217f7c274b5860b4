package crypto

import (
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// testRand returns a deterministic random source.
func testRand(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return mrand.NewChaCha8(s)
}

// pattern returns n deterministic, non-repeating-looking bytes.
func pattern(n int) []byte {
	b := make([]byte, n)
	_, _ = testRand(0xAA).Read(b)
	return b
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testRSAKey is the example key pair from testdata, labelled matDesc.
func testRSAKey(t testing.TB, matDesc map[string]string) *RSAMasterKey {
	t.Helper()
	k, err := ParseRSAMasterKey(readTestdata(t, "rsa-2048-public-pkix.pem"), readTestdata(t, "rsa-2048-pkcs8.pem"), matDesc)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustReadAll(t testing.TB, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	return b
}

// oneByteReader returns at most one byte per Read, to exercise short reads.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}
