package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
)

// The authenticated chunked mode ("ossctl/AES-256-GCM-chunked-v1").
//
// From the data key (CEK, 32 random bytes wrapped by the master key) and a
// random 32-byte per-object salt, HKDF-SHA256 derives a payload key, a
// 12-byte nonce mask and a 32-byte key commitment:
//
//	params     = "ossctl-cse AES-256-GCM-chunked v1" ‖ 0x00 ‖ uint32be(chunkSize)
//	prk        = HKDF-Extract(salt, CEK)
//	payloadKey = HKDF-Expand(prk, "payload key" ‖ 0x00 ‖ params, 32)
//	nonceMask  = HKDF-Expand(prk, "nonce mask" ‖ 0x00 ‖ params, 12)
//	commitment = HKDF-Expand(prk, "key commitment" ‖ 0x00 ‖ params, 32)
//
// The plaintext is cut into chunkSize-byte chunks (the last one may be short;
// an empty object is one empty chunk). Chunk i is sealed with AES-256-GCM
// under payloadKey with
//
//	nonce = nonceMask XOR (0x000000 ‖ uint64be(i) ‖ lastFlag)
//	AAD   = params ‖ salt
//
// where lastFlag is 0x01 on the object's final chunk and 0x00 elsewhere, as
// in age's STREAM: reordering changes the index, truncation at a chunk
// boundary leaves a final chunk without the flag, and both fail the tag. The
// commitment is stored in the metadata and checked before any chunk is
// opened, which rules out a wrong or swapped data key (AES-GCM alone is not
// key-committing). The wrapped key, wrap-alg and matdesc are deliberately not
// bound, so a key can be re-wrapped under a new master key without touching
// the body; replacing them with another valid wrapping of a different key
// fails the commitment check.
const (
	// CEKAlgAESGCMChunkedV1 is the content algorithm name of the
	// authenticated chunked mode, stored under the x-oss-meta-ossctl-cse-
	// prefix. It is never the default.
	CEKAlgAESGCMChunkedV1 = "ossctl/AES-256-GCM-chunked-v1"

	// DefaultChunkSize is the plaintext chunk size written by this library.
	DefaultChunkSize = 64 << 10
	// MinChunkSize and MaxChunkSize bound the chunk sizes a reader accepts;
	// a chunk size must also be a power of two.
	MinChunkSize = 64
	// MaxChunkSize is the largest chunk size a reader accepts.
	MaxChunkSize = 16 << 20
	// SaltSize is the size of the per-object salt.
	SaltSize = 32
	// CommitmentSize is the size of the key commitment tag.
	CommitmentSize = 32
	// GCMTagSize is the per-chunk overhead of the authenticated mode.
	GCMTagSize = 16

	gcmLabel = "ossctl-cse AES-256-GCM-chunked v1"
)

// gcmMode is the authenticated chunked content cipher.
type gcmMode struct {
	aead       cipher.AEAD
	nonceMask  [12]byte
	chunkSize  int64
	aad        []byte
	commitment []byte
}

func validChunkSize(c int64) bool {
	return c >= MinChunkSize && c <= MaxChunkSize && bits.OnesCount64(uint64(c)) == 1
}

// newGCMMode derives the keys of the chunked mode from the data key and salt.
func newGCMMode(cek, salt []byte, chunkSize int64) (*gcmMode, error) {
	if len(cek) != KeySize {
		return nil, fmt.Errorf("AES-GCM chunked: data key is %d bytes, want %d", len(cek), KeySize)
	}
	if len(salt) != SaltSize {
		return nil, fmt.Errorf("AES-GCM chunked: salt is %d bytes, want %d", len(salt), SaltSize)
	}
	if !validChunkSize(chunkSize) {
		return nil, fmt.Errorf("AES-GCM chunked: chunk size %d is not a power of two in [%d, %d]", chunkSize, MinChunkSize, MaxChunkSize)
	}
	params := make([]byte, 0, len(gcmLabel)+5)
	params = append(params, gcmLabel...)
	params = append(params, 0)
	params = binary.BigEndian.AppendUint32(params, uint32(chunkSize)) //nolint:gosec // G115: validChunkSize bounds it to 16 MiB

	prk, err := hkdf.Extract(sha256.New, cek, salt)
	if err != nil {
		return nil, fmt.Errorf("AES-GCM chunked: deriving keys: %w", err)
	}
	expand := func(label string, n int) ([]byte, error) {
		info := append(append([]byte(label), 0), params...)
		return hkdf.Expand(sha256.New, prk, string(info), n)
	}
	payloadKey, err := expand("payload key", KeySize)
	if err != nil {
		return nil, fmt.Errorf("AES-GCM chunked: deriving payload key: %w", err)
	}
	mask, err := expand("nonce mask", 12)
	if err != nil {
		return nil, fmt.Errorf("AES-GCM chunked: deriving nonce mask: %w", err)
	}
	commitment, err := expand("key commitment", CommitmentSize)
	if err != nil {
		return nil, fmt.Errorf("AES-GCM chunked: deriving key commitment: %w", err)
	}
	block, err := aes.NewCipher(payloadKey)
	if err != nil {
		return nil, fmt.Errorf("AES-GCM chunked: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("AES-GCM chunked: %w", err)
	}
	clear(payloadKey)
	m := &gcmMode{aead: aead, chunkSize: chunkSize, commitment: commitment}
	copy(m.nonceMask[:], mask)
	m.aad = append(params, salt...)
	return m, nil
}

// checkCommitment compares the stored commitment with the derived one in
// constant time.
func (m *gcmMode) checkCommitment(stored []byte) error {
	if subtle.ConstantTimeCompare(stored, m.commitment) != 1 {
		return integrityErr(-1, "key commitment mismatch: wrong data key or tampered envelope")
	}
	return nil
}

// nonce writes the nonce of chunk index (flagged as the final chunk when last)
// into n and returns it; the readers keep n so no chunk allocates one.
func (m *gcmMode) nonce(n *[12]byte, index int64, last bool) []byte {
	clear(n[:])
	binary.BigEndian.PutUint64(n[3:11], uint64(index)) //nolint:gosec // G115: chunk indexes are never negative
	if last {
		n[11] = 1
	}
	subtle.XORBytes(n[:], n[:], m.nonceMask[:])
	return n[:]
}

func (m *gcmMode) alignment() int64 { return m.chunkSize }

// chunks returns how many chunks hold plain bytes (at least one).
func (m *gcmMode) chunks(plain int64) int64 {
	if plain <= 0 {
		return 1
	}
	return (plain + m.chunkSize - 1) / m.chunkSize
}

func (m *gcmMode) ciphertextSize(plain int64) int64 {
	return plain + GCMTagSize*m.chunks(plain)
}

// plaintextSize inverts ciphertextSize; a length no plaintext maps to is an
// integrity failure (the object was cut or padded).
func (m *gcmMode) plaintextSize(ciphertext int64) (int64, error) {
	full := m.chunkSize + GCMTagSize
	if ciphertext < GCMTagSize {
		return 0, integrityErr(-1, "ciphertext of %d bytes is shorter than one chunk tag", ciphertext)
	}
	n := (ciphertext + full - 1) / full
	last := ciphertext - (n-1)*full
	if last < GCMTagSize || (last == GCMTagSize && n > 1) {
		return 0, integrityErr(n-1, "ciphertext length %d does not end on a valid chunk", ciphertext)
	}
	return ciphertext - GCMTagSize*n, nil
}

func (m *gcmMode) encryptAt(src io.Reader, offset int64) (io.Reader, error) {
	if offset != 0 {
		return nil, fmt.Errorf("%w: the authenticated mode encrypts whole objects from offset 0 or whole parts (EncryptPart), not offset %d", ErrInvalidPart, offset)
	}
	return &gcmSealReader{m: m, src: src, buf: make([]byte, m.chunkSize+GCMTagSize)}, nil
}

func (m *gcmMode) encryptPart(src io.Reader, n int, partSize, dataSize int64) (io.Reader, error) {
	offset := int64(n-1) * partSize
	want := min(partSize, dataSize-offset)
	first := offset / m.chunkSize
	return &gcmSealReader{
		m:       m,
		src:     src,
		buf:     make([]byte, m.chunkSize+GCMTagSize),
		idx:     first,
		known:   true,
		objLast: m.chunks(dataSize) - 1,
		endIdx:  first + m.chunks(want) - 1,
		remain:  want,
		part:    n,
	}, nil
}

func (m *gcmMode) planRange(start, end, ciphertextSize int64) (RangePlan, error) {
	if ciphertextSize < 0 {
		return RangePlan{}, fmt.Errorf("%w: the authenticated mode needs the object's ciphertext size to plan a range", ErrInvalidRange)
	}
	plain, err := m.plaintextSize(ciphertextSize)
	if err != nil {
		return RangePlan{}, err
	}
	if start < 0 || end < -1 || (end >= 0 && end < start) {
		return RangePlan{}, fmt.Errorf("%w: [%d, %d]", ErrInvalidRange, start, end)
	}
	if start >= plain {
		return RangePlan{}, fmt.Errorf("%w: start %d is beyond the %d-byte object", ErrInvalidRange, start, plain)
	}
	if end < 0 || end >= plain {
		end = plain - 1
	}
	full := m.chunkSize + GCMTagSize
	first, last := start/m.chunkSize, end/m.chunkSize
	return RangePlan{
		Start:      start,
		End:        end,
		FetchStart: first * full,
		FetchEnd:   min((last+1)*full, ciphertextSize) - 1,
		Discard:    start - first*m.chunkSize,
		objectSize: ciphertextSize,
	}, nil
}

func (m *gcmMode) decryptRange(src io.Reader, p RangePlan) (io.Reader, error) {
	if p.objectSize < GCMTagSize {
		return nil, fmt.Errorf("%w: the authenticated mode needs the object's ciphertext size (a plan from PlanRange)", ErrInvalidRange)
	}
	plain, err := m.plaintextSize(p.objectSize)
	if err != nil {
		return nil, err
	}
	objLast := m.chunks(plain) - 1
	full := m.chunkSize + GCMTagSize
	endIdx := int64(0)
	if p.End >= 0 {
		endIdx = p.End / m.chunkSize
	}
	return &gcmOpenReader{
		m:          m,
		src:        src,
		buf:        make([]byte, full),
		idx:        p.FetchStart / full,
		endIdx:     endIdx,
		objLast:    objLast,
		lastCtSize: p.objectSize - objLast*full,
		discard:    p.Discard,
		remain:     p.End - p.Start + 1,
	}, nil
}

// chunkOut is the output side shared by the chunk readers: the bytes of the
// current chunk not yet read, and how the stream ended.
type chunkOut struct {
	out  []byte
	done bool
	err  error
}

// read serves p from the current chunk, calling fill for the next one when it
// is used up; fill sets out, or done at the end. An error is sticky.
func (c *chunkOut) read(p []byte, fill func() error) (int, error) {
	for len(c.out) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if c.done {
			return 0, io.EOF
		}
		if err := fill(); err != nil {
			c.err = err
			return 0, err
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// gcmSealReader encrypts a plaintext stream chunk by chunk. Without a known
// layout it reads one byte ahead to find the final chunk; with one (a part of
// a multipart upload) it expects exactly remain bytes.
type gcmSealReader struct {
	m   *gcmMode
	src io.Reader
	buf []byte
	idx int64

	known   bool
	objLast int64
	endIdx  int64
	remain  int64
	part    int

	carry    [1]byte
	hasCarry bool
	nonceBuf [12]byte
	chunkOut
}

func (r *gcmSealReader) Read(p []byte) (int, error) { return r.read(p, r.fill) }

func (r *gcmSealReader) fill() error {
	pt := r.buf[:r.m.chunkSize]
	var (
		size int
		last bool
	)
	if r.known {
		want := min(r.m.chunkSize, r.remain)
		n, err := io.ReadFull(r.src, pt[:want])
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return fmt.Errorf("%w: part %d is %d bytes shorter than expected", ErrInvalidPart, r.part, r.remain-int64(n))
		}
		if err != nil {
			return err
		}
		r.remain -= want
		size, last = n, r.idx == r.objLast
		if r.idx == r.endIdx {
			var one [1]byte
			k, err := io.ReadFull(r.src, one[:])
			if k > 0 {
				return fmt.Errorf("%w: part %d is longer than expected", ErrInvalidPart, r.part)
			}
			if err != io.EOF {
				return err
			}
			r.done = true
		}
	} else {
		i := 0
		if r.hasCarry {
			pt[0], i, r.hasCarry = r.carry[0], 1, false
		}
		n, err := io.ReadFull(r.src, pt[i:])
		size = i + n
		switch err {
		case nil:
			k, perr := io.ReadFull(r.src, r.carry[:])
			switch {
			case k == 1:
				r.hasCarry = true
			case perr == io.EOF:
				last = true
			default:
				return perr
			}
		case io.EOF, io.ErrUnexpectedEOF:
			last = true
		default:
			return err
		}
		r.done = last
	}
	r.out = r.m.aead.Seal(pt[:0], r.m.nonce(&r.nonceBuf, r.idx, last), pt[:size], r.m.aad)
	r.idx++
	return nil
}

// gcmOpenReader authenticates and decrypts chunks [idx, endIdx]; no byte of
// a chunk is released before its tag has been verified.
type gcmOpenReader struct {
	m          *gcmMode
	src        io.Reader
	buf        []byte
	idx        int64
	endIdx     int64
	objLast    int64
	lastCtSize int64
	discard    int64
	remain     int64
	nonceBuf   [12]byte
	chunkOut
}

func (r *gcmOpenReader) Read(p []byte) (int, error) { return r.read(p, r.fill) }

func (r *gcmOpenReader) fill() error {
	if r.idx > r.endIdx {
		var one [1]byte
		k, err := io.ReadFull(r.src, one[:])
		if k > 0 {
			return integrityErr(r.endIdx, "unexpected data after the final chunk")
		}
		if err != io.EOF {
			return err
		}
		r.done = true
		return nil
	}
	size := r.m.chunkSize + GCMTagSize
	if r.idx == r.objLast {
		size = r.lastCtSize
	}
	ct := r.buf[:size]
	if _, err := io.ReadFull(r.src, ct); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return integrityErr(r.idx, "ciphertext truncated")
		}
		return err
	}
	pt, err := r.m.aead.Open(ct[:0], r.m.nonce(&r.nonceBuf, r.idx, r.idx == r.objLast), ct, r.m.aad)
	if err != nil {
		return integrityErr(r.idx, "authentication failed (tampered, truncated, reordered or wrong key)")
	}
	if r.discard > 0 {
		if r.discard > int64(len(pt)) {
			return integrityErr(r.idx, "chunk is shorter than the range start")
		}
		pt = pt[r.discard:]
		r.discard = 0
	}
	if int64(len(pt)) > r.remain {
		pt = pt[:r.remain]
	}
	r.remain -= int64(len(pt))
	r.out = pt
	r.idx++
	return nil
}
