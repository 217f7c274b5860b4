package crypto_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/ossctl/ossctl/crypto"
)

const benchSize = 8 << 20

// benchContent returns a Content without RSA in the timed loop.
func benchContent(b *testing.B, mode string) *crypto.Content {
	b.Helper()
	c, err := crypto.NewContent(rsaKey(b, nil), &crypto.Options{Mode: mode})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func runBench(b *testing.B, src []byte, wrap func(io.Reader) (io.Reader, error)) {
	b.SetBytes(int64(len(src)))
	buf := make([]byte, 256<<10)
	for b.Loop() {
		r, err := wrap(bytes.NewReader(src))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, r, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlainCopy is the baseline: the same copy through a reader
// wrapper without encryption (hiding bytes.Reader's WriteTo shortcut).
func BenchmarkPlainCopy(b *testing.B) {
	runBench(b, payload(benchSize), func(r io.Reader) (io.Reader, error) { return struct{ io.Reader }{r}, nil })
}

func BenchmarkCTREncrypt(b *testing.B) {
	c := benchContent(b, crypto.CEKAlgAESCTR)
	runBench(b, payload(benchSize), func(r io.Reader) (io.Reader, error) { return c.EncryptReader(r, 0) })
}

func BenchmarkCTRDecrypt(b *testing.B) {
	c := benchContent(b, crypto.CEKAlgAESCTR)
	ct := encryptAll(b, c, payload(benchSize))
	runBench(b, ct, func(r io.Reader) (io.Reader, error) { return c.DecryptReader(r, int64(len(ct))) })
}

func BenchmarkGCMChunkedEncrypt(b *testing.B) {
	c := benchContent(b, crypto.CEKAlgAESGCMChunkedV1)
	runBench(b, payload(benchSize), func(r io.Reader) (io.Reader, error) { return c.EncryptReader(r, 0) })
}

func BenchmarkGCMChunkedDecrypt(b *testing.B) {
	c := benchContent(b, crypto.CEKAlgAESGCMChunkedV1)
	ct := encryptAll(b, c, payload(benchSize))
	runBench(b, ct, func(r io.Reader) (io.Reader, error) { return c.DecryptReader(r, int64(len(ct))) })
}

// BenchmarkNewContentRSA measures per-object key setup with an RSA-2048
// master key: draw, derive and two (CTR) wraps.
func BenchmarkNewContentRSA(b *testing.B) {
	k := rsaKey(b, nil)
	for b.Loop() {
		if _, err := crypto.NewContent(k, nil); err != nil {
			b.Fatal(err)
		}
	}
}
