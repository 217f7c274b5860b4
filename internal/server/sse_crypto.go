package server

// Server-side encryption at rest: the chunked authenticated format.
//
// Every SSE object has its own random 256-bit data key, wrapped by the
// server master key (SSE-OSS, "AES256") or by a KMS CMK (SSE-KMS) and kept
// with the object's record (Object.Extra["sse"], see envelope). The object's
// data is a sequence of pieces (store extents): one for a PUT or a copy, one
// per part of a multipart upload, one per append. Each piece has a random
// 16-byte salt (the extent's Seal, hex) and its own key
//
//	pieceKey = HKDF-SHA256(secret = data key, salt = piece salt, info = "ossctl sse v1 piece" ‖ object id)
//
// and is cut into 64 KiB chunks, each sealed with AES-256-GCM:
//
//	nonce = 0x00000000 ‖ chunk index (u64 BE)
//	aad   = "ossctl-sse-v1" ‖ chunk index (u64 BE) ‖ last-chunk flag (1 byte)
//	chunk = ciphertext ‖ 16-byte tag
//
// so a stored piece of n content bytes is n + 16·ceil(n/64Ki) bytes. A range
// read decrypts only the chunks it needs; truncation, reordering, or moving
// chunks or pieces within or between objects fail authentication. ETag and
// CRC-64 are those of the plaintext, computed while encrypting; plaintext is
// never written to disk (the store's temp files receive ciphertext).

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/md5" //nolint:gosec // ETag, not security
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/ossctl/ossctl/internal/crc64x"
	"github.com/ossctl/ossctl/internal/store"
)

const (
	sseChunkSize = 64 << 10
	sseTagSize   = 16
	sseSaltSize  = 16
	sseOIDSize   = 16
	sseKeySize   = 32
	// sseBatchChunks is how many chunks are encrypted or decrypted per
	// disk read or write.
	sseBatchChunks = 16
)

var sseAADLabel = []byte("ossctl-sse-v1")

// errSSEIntegrity reports stored data that failed authentication.
var errSSEIntegrity = errors.New("encrypted object data failed authentication (tampered or corrupt on disk)")

// sseStoredSize is the stored size of a piece of n content bytes.
func sseStoredSize(n int64) int64 {
	chunks := (n + sseChunkSize - 1) / sseChunkSize
	return n + chunks*sseTagSize
}

// sseKey is an object's unwrapped data key.
type sseKey struct {
	env *envelope
	key []byte
	oid []byte
}

// pieceAEAD derives the AEAD of the piece with the given salt.
func (k *sseKey) pieceAEAD(salt []byte) (cipher.AEAD, error) {
	if len(salt) != sseSaltSize {
		return nil, fmt.Errorf("%w: piece salt of %d bytes", errSSEIntegrity, len(salt))
	}
	info := append([]byte("ossctl sse v1 piece"), k.oid...)
	pk, err := hkdf.Key(sha256.New, k.key, salt, string(info), sseKeySize)
	if err != nil {
		return nil, fmt.Errorf("deriving piece key: %w", err)
	}
	defer clear(pk)
	block, err := aes.NewCipher(pk)
	if err != nil {
		return nil, fmt.Errorf("piece cipher: %w", err)
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("piece cipher: %w", err)
	}
	return a, nil
}

// chunkNonceAAD fills nonce (12 bytes) and aad for chunk i.
func chunkNonceAAD(nonce, aad []byte, i uint64, last bool) []byte {
	clear(nonce[:4])
	binary.BigEndian.PutUint64(nonce[4:], i)
	aad = append(aad[:0], sseAADLabel...)
	aad = binary.BigEndian.AppendUint64(aad, i)
	if last {
		return append(aad, 1)
	}
	return append(aad, 0)
}

// sealWriter encrypts content into a sealed store blob while hashing the
// plaintext (MD5 and CRC-64 for ETag and x-oss-hash-crc64ecma).
type sealWriter struct {
	blob    *store.BlobWriter
	aead    cipher.AEAD
	salt    []byte
	pending []byte // a full chunk is held until more data shows it is not the last
	out     []byte
	index   uint64
	size    int64
	md5     hash.Hash
	crc     hash.Hash64
	nonce   [12]byte
	aad     []byte
	err     error
}

// newSealWriter starts a piece of an object encrypted with k.
func (s *Server) newSealWriter(k *sseKey) (*sealWriter, error) {
	salt := make([]byte, sseSaltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("generating piece salt: %w", err)
	}
	a, err := k.pieceAEAD(salt)
	if err != nil {
		return nil, err
	}
	blob, err := s.store.NewSealedBlob()
	if err != nil {
		return nil, fmt.Errorf("staging encrypted data: %w", err)
	}
	return &sealWriter{
		blob:    blob,
		aead:    a,
		salt:    salt,
		pending: make([]byte, 0, sseChunkSize),
		out:     make([]byte, 0, sseBatchChunks*(sseChunkSize+sseTagSize)),
		md5:     md5.New(), //nolint:gosec // ETag
		crc:     crc64x.New(),
	}, nil
}

// Write encrypts p.
func (w *sealWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	_, _ = w.md5.Write(p)
	_, _ = w.crc.Write(p)
	if err := w.feed(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// sealBufPool holds the 1 MiB read buffers of sealWriter.ReadFrom, so an
// encrypted upload does not allocate 2 MiB per request or part.
var sealBufPool = sync.Pool{New: func() any {
	b := make([]byte, 1<<20)
	return &b
}}

// ReadFrom encrypts everything r yields. The MD5 of a 1 MiB block runs on
// another goroutine while the CRC-64 and the encryption of the same block
// (and the read of the next) proceed.
func (w *sealWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	bufs := [2]*[]byte{sealBufPool.Get().(*[]byte), sealBufPool.Get().(*[]byte)}
	var md5Done chan struct{}
	wait := func() {
		if md5Done != nil {
			<-md5Done
			md5Done = nil
		}
	}
	defer func() {
		wait() // before the buffers go back to the pool
		sealBufPool.Put(bufs[0])
		sealBufPool.Put(bufs[1])
	}()
	var total int64
	for i := 0; ; i++ {
		buf := *bufs[i%2]
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			wait()
			chunk := buf[:n]
			done := make(chan struct{})
			go func() {
				_, _ = w.md5.Write(chunk)
				close(done)
			}()
			md5Done = done
			_, _ = w.crc.Write(chunk)
			if err := w.feed(chunk); err != nil {
				return total, err
			}
			total += int64(n)
		}
		switch {
		case rerr == nil:
		case errors.Is(rerr, io.EOF), errors.Is(rerr, io.ErrUnexpectedEOF):
			return total, nil
		default:
			return total, rerr
		}
	}
}

func (w *sealWriter) feed(p []byte) error {
	w.size += int64(len(p))
	for len(p) > 0 {
		if len(w.pending) == sseChunkSize {
			if err := w.sealChunk(w.pending, false); err != nil {
				return err
			}
			w.pending = w.pending[:0]
		}
		if len(w.pending) == 0 && len(p) > sseChunkSize {
			if err := w.sealChunk(p[:sseChunkSize], false); err != nil {
				return err
			}
			p = p[sseChunkSize:]
			continue
		}
		n := copy(w.pending[len(w.pending):sseChunkSize], p)
		w.pending = w.pending[:len(w.pending)+n]
		p = p[n:]
	}
	return nil
}

func (w *sealWriter) sealChunk(pt []byte, last bool) error {
	w.aad = chunkNonceAAD(w.nonce[:], w.aad, w.index, last)
	w.out = w.aead.Seal(w.out, w.nonce[:], pt, w.aad)
	w.index++
	if last || len(w.out)+sseChunkSize+sseTagSize > cap(w.out) {
		return w.flush()
	}
	return nil
}

func (w *sealWriter) flush() error {
	if len(w.out) == 0 {
		return nil
	}
	_, err := w.blob.Write(w.out)
	w.out = w.out[:0]
	if err != nil {
		w.err = err
	}
	return err
}

// finish seals the last chunk and describes the content to the store.
func (w *sealWriter) finish() error {
	if w.err != nil {
		return w.err
	}
	if w.size > 0 {
		if err := w.sealChunk(w.pending, true); err != nil {
			return err
		}
		w.pending = w.pending[:0]
	}
	if err := w.flush(); err != nil {
		return err
	}
	return w.blob.SetContent(w.size, w.md5.Sum(nil), w.crc.Sum64(), hex.EncodeToString(w.salt))
}

// abort discards the staged data.
func (w *sealWriter) abort() { w.blob.Abort() }

// plainReader yields content bytes [off, end) of an object sequentially,
// decrypting sealed pieces chunk by chunk (only the chunks the range
// touches are read).
type plainReader struct {
	rd      *store.ObjectReader
	key     *sseKey
	pieces  []store.Piece
	aeads   map[int]cipher.AEAD
	off     int64
	end     int64
	raw     []byte
	plain   []byte
	pending []byte
	nonce   [12]byte
	aad     []byte
	section *io.SectionReader // unsealed objects
}

// newPlainReader returns the content of [off, off+n). key must be non-nil
// when rd is sealed.
func newPlainReader(rd *store.ObjectReader, key *sseKey, off, n int64) (*plainReader, error) {
	if !rd.Sealed() {
		return &plainReader{section: io.NewSectionReader(rd, off, n)}, nil
	}
	if key == nil {
		return nil, errors.New("reading an encrypted object without its data key")
	}
	return &plainReader{rd: rd, key: key, pieces: rd.Pieces(), aeads: map[int]cipher.AEAD{}, off: off, end: off + n}, nil
}

func (r *plainReader) Read(p []byte) (int, error) {
	if r.section != nil {
		return r.section.Read(p)
	}
	if len(r.pending) == 0 {
		if r.off >= r.end {
			return 0, io.EOF
		}
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// fill decrypts the next batch of chunks into pending.
func (r *plainReader) fill() error {
	i := 0
	for i < len(r.pieces) && r.pieces[i].Offset+r.pieces[i].Size <= r.off {
		i++
	}
	if i == len(r.pieces) {
		return fmt.Errorf("%w: object data shorter than its record", errSSEIntegrity)
	}
	pc := r.pieces[i]
	if !pc.Sealed || pc.Stored != sseStoredSize(pc.Size) {
		return fmt.Errorf("%w: piece %d is not in the encrypted format", errSSEIntegrity, i)
	}
	a := r.aeads[i]
	if a == nil {
		salt, err := hex.DecodeString(pc.Seal)
		if err != nil {
			return fmt.Errorf("%w: bad piece salt", errSSEIntegrity)
		}
		if a, err = r.key.pieceAEAD(salt); err != nil {
			return err
		}
		r.aeads[i] = a
	}
	rel := r.off - pc.Offset
	relEnd := min(r.end-pc.Offset, pc.Size)
	nchunks := (pc.Size + sseChunkSize - 1) / sseChunkSize
	first := rel / sseChunkSize
	last := min((relEnd-1)/sseChunkSize, first+sseBatchChunks-1)
	rawOff := first * (sseChunkSize + sseTagSize)
	rawEnd := min((last+1)*(sseChunkSize+sseTagSize), pc.Stored)
	if need := int(rawEnd - rawOff); cap(r.raw) < need {
		r.raw = make([]byte, need, sseBatchChunks*(sseChunkSize+sseTagSize))
	}
	raw := r.raw[:rawEnd-rawOff]
	if _, err := r.rd.ReadPieceAt(i, raw, rawOff); err != nil && !errors.Is(err, io.EOF) {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: stored data truncated", errSSEIntegrity)
		}
		return fmt.Errorf("reading encrypted data: %w", err)
	}
	if cap(r.plain) < len(raw) {
		r.plain = make([]byte, 0, sseBatchChunks*sseChunkSize)
	}
	plain := r.plain[:0]
	for c := first; c <= last; c++ {
		lo := (c - first) * (sseChunkSize + sseTagSize)
		hi := min(lo+sseChunkSize+sseTagSize, int64(len(raw)))
		r.aad = chunkNonceAAD(r.nonce[:], r.aad, uint64(c), c == nchunks-1) //nolint:gosec // c ≥ 0
		var err error
		if plain, err = a.Open(plain, r.nonce[:], raw[lo:hi], r.aad); err != nil {
			return errSSEIntegrity
		}
	}
	skip := rel - first*sseChunkSize
	take := min(relEnd, (last+1)*sseChunkSize) - rel
	r.pending = plain[skip : skip+take]
	r.off += take
	return nil
}
