package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"
)

const (
	// KeySize is the size of a content encryption key (AES-256).
	KeySize = 32
	// IVSize is the size of the AES-CTR initial counter block.
	IVSize = aes.BlockSize
	// CTRAlignment is the alignment of part sizes and ranged-read starts in
	// the SDK format: one AES block.
	CTRAlignment = aes.BlockSize

	// maxCEKDraws bounds the re-draws of a CEK whose first byte is zero, so
	// a broken random source that returns only zeros fails instead of
	// looping forever.
	maxCEKDraws = 64
)

// NewCTRStream returns the AES-256-CTR keystream of the SDK format for the
// content key and IV, positioned at the given plaintext offset: the counter
// starts at IV + ⌊offset/16⌋ (a full 128-bit big-endian addition) and the
// first offset mod 16 keystream bytes are already consumed. XORing the
// returned stream over the plaintext bytes that start at offset yields the
// ciphertext bytes at the same offset, and vice versa.
func NewCTRStream(key, iv []byte, offset int64) (cipher.Stream, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("AES-CTR: content key is %d bytes, want %d", len(key), KeySize)
	}
	if len(iv) != IVSize {
		return nil, fmt.Errorf("AES-CTR: IV is %d bytes, want %d", len(iv), IVSize)
	}
	if offset < 0 {
		return nil, fmt.Errorf("AES-CTR: negative offset %d", offset)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("AES-CTR: %w", err)
	}
	ctr := addCounter(iv, uint64(offset)/aes.BlockSize)
	s := cipher.NewCTR(block, ctr[:])
	if skip := offset % aes.BlockSize; skip != 0 {
		var scratch [aes.BlockSize]byte
		s.XORKeyStream(scratch[:skip], scratch[:skip])
	}
	return s, nil
}

// addCounter returns iv + n as 128-bit big-endian integers, modulo 2^128,
// which is how cipher.NewCTR increments its counter block.
func addCounter(iv []byte, n uint64) [aes.BlockSize]byte {
	hi := binary.BigEndian.Uint64(iv[:8])
	lo := binary.BigEndian.Uint64(iv[8:])
	sum := lo + n
	if sum < lo {
		hi++
	}
	var out [aes.BlockSize]byte
	binary.BigEndian.PutUint64(out[:8], hi)
	binary.BigEndian.PutUint64(out[8:], sum)
	return out
}

// generateCEK draws a content key from r, re-drawing while its first byte is
// zero as the Java SDK does (CryptoModuleBase.generateCEK).
func generateCEK(r io.Reader) ([]byte, error) {
	key := make([]byte, KeySize)
	for range maxCEKDraws {
		if _, err := io.ReadFull(r, key); err != nil {
			return nil, fmt.Errorf("drawing content key: %w", err)
		}
		if key[0] != 0 {
			return key, nil
		}
	}
	return nil, fmt.Errorf("drawing content key: random source returned %d keys starting with a zero byte", maxCEKDraws)
}

// generateIV draws a CTR IV from r: 16 random bytes with bytes 8..11 cleared,
// so that no part or range offset can carry into the upper half of the
// counter (the Java SDK only adds block offsets to bytes 12..15 and writes 8
// bytes back over 8..15).
func generateIV(r io.Reader) ([]byte, error) {
	iv := make([]byte, IVSize)
	if _, err := io.ReadFull(r, iv); err != nil {
		return nil, fmt.Errorf("drawing IV: %w", err)
	}
	clear(iv[8:12])
	return iv, nil
}

// ctrMode is the SDK content cipher: AES-256-CTR without authentication.
type ctrMode struct {
	key []byte
	iv  []byte
}

func (m *ctrMode) alignment() int64 { return CTRAlignment }

func (m *ctrMode) ciphertextSize(plain int64) int64 { return plain }

func (m *ctrMode) plaintextSize(ciphertext int64) (int64, error) {
	if ciphertext < 0 {
		return 0, fmt.Errorf("negative ciphertext size %d", ciphertext)
	}
	return ciphertext, nil
}

func (m *ctrMode) encryptAt(src io.Reader, offset int64) (io.Reader, error) {
	s, err := NewCTRStream(m.key, m.iv, offset)
	if err != nil {
		return nil, err
	}
	return cipher.StreamReader{S: s, R: src}, nil
}

// encryptPart encrypts the body of part n (1-based). When dataSize is known
// (> 0) the body must be exactly the part's share of it; otherwise it must
// not exceed partSize.
func (m *ctrMode) encryptPart(src io.Reader, n int, partSize, dataSize int64) (io.Reader, error) {
	offset := int64(n-1) * partSize
	want, exact := partSize, false
	if dataSize > 0 {
		want, exact = min(partSize, dataSize-offset), true
	}
	body := &lengthReader{src: src, want: want, exact: exact, what: fmt.Sprintf("part %d", n)}
	return m.encryptAt(body, offset)
}

func (m *ctrMode) planRange(start, end, ciphertextSize int64) (RangePlan, error) {
	p := RangePlan{Start: start, End: end, objectSize: ciphertextSize}
	if start < 0 || (end >= 0 && end < start) || end < -1 {
		return RangePlan{}, fmt.Errorf("%w: [%d, %d]", ErrInvalidRange, start, end)
	}
	if ciphertextSize >= 0 {
		if start >= ciphertextSize {
			return RangePlan{}, fmt.Errorf("%w: start %d is beyond the %d-byte object", ErrInvalidRange, start, ciphertextSize)
		}
		if end < 0 || end >= ciphertextSize {
			p.End = ciphertextSize - 1
		}
	}
	p.FetchStart = start &^ (CTRAlignment - 1)
	p.FetchEnd = p.End
	p.Discard = start - p.FetchStart
	return p, nil
}

func (m *ctrMode) decryptRange(src io.Reader, p RangePlan) (io.Reader, error) {
	if p.FetchEnd >= 0 {
		src = &lengthReader{src: src, want: p.FetchEnd - p.FetchStart + 1, exact: true, what: "ciphertext", integrity: true}
	}
	s, err := NewCTRStream(m.key, m.iv, p.FetchStart)
	if err != nil {
		return nil, err
	}
	var r io.Reader = cipher.StreamReader{S: s, R: src}
	if p.Discard > 0 {
		r = &discardReader{src: r, n: p.Discard}
	}
	return r, nil
}

// lengthReader passes through at most want bytes of src. With exact set, a
// source that ends early or has bytes left over is an error: ErrIntegrity
// when integrity is set (a ciphertext body), else ErrInvalidPart.
type lengthReader struct {
	src       io.Reader
	want      int64
	exact     bool
	integrity bool
	what      string
	checked   bool
}

func (r *lengthReader) fail(format string, args ...any) error {
	if r.integrity {
		return integrityErr(-1, format, args...)
	}
	return fmt.Errorf("%w: %s", ErrInvalidPart, fmt.Sprintf(format, args...))
}

func (r *lengthReader) Read(p []byte) (int, error) {
	if r.want <= 0 {
		if !r.checked {
			r.checked = true
			var one [1]byte
			n, err := io.ReadFull(r.src, one[:])
			if n > 0 {
				return 0, r.fail("%s is longer than the expected length", r.what)
			}
			if err != io.EOF && err != io.ErrUnexpectedEOF {
				return 0, err
			}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > r.want {
		p = p[:r.want]
	}
	n, err := r.src.Read(p)
	r.want -= int64(n)
	if err == io.EOF {
		if r.want > 0 && r.exact {
			return n, r.fail("%s is %d bytes shorter than expected", r.what, r.want)
		}
		if r.want > 0 {
			return n, io.EOF
		}
		r.checked = true // the source said EOF itself
		err = nil
		if n == 0 {
			err = io.EOF
		}
	}
	return n, err
}

// discardReader drops the first n bytes of src.
type discardReader struct {
	src io.Reader
	n   int64
}

func (r *discardReader) Read(p []byte) (int, error) {
	for r.n > 0 {
		buf := p
		if int64(len(buf)) > r.n {
			buf = buf[:r.n]
		}
		if len(buf) == 0 {
			return 0, nil
		}
		n, err := r.src.Read(buf)
		r.n -= int64(n)
		if err != nil {
			if err == io.EOF {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, err
		}
	}
	return r.src.Read(p)
}
