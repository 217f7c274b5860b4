package crypto

import (
	"bytes"
	"crypto/md5" //nolint:gosec // G501: unencrypted-content-md5 is an SDK interop field, not a security check
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"hash"
	"io"
)

// contentMode is a content cipher: the SDK's AES-CTR or the authenticated
// chunked AES-GCM.
type contentMode interface {
	alignment() int64
	ciphertextSize(plain int64) int64
	plaintextSize(ciphertext int64) (int64, error)
	encryptAt(src io.Reader, offset int64) (io.Reader, error)
	encryptPart(src io.Reader, n int, partSize, dataSize int64) (io.Reader, error)
	planRange(start, end, ciphertextSize int64) (RangePlan, error)
	decryptRange(src io.Reader, p RangePlan) (io.Reader, error)
}

// Options configure NewContent.
type Options struct {
	// Mode is the content algorithm: CEKAlgAESCTR (the default, readable
	// by every official SDK) or CEKAlgAESGCMChunkedV1 (authenticated,
	// readable by ossctl only).
	Mode string
	// ChunkSize is the chunk size of the authenticated mode; 0 means
	// DefaultChunkSize.
	ChunkSize int64
	// Rand is the source of the data key, IV and salt; nil means
	// crypto/rand.Reader. Tests inject a deterministic reader. (Since Go
	// 1.26 RSA encryption ignores any injected reader.)
	Rand io.Reader
}

// Content is one object's unwrapped data key together with its envelope. It
// encrypts the object (whole, from an offset, or part by part in parallel)
// and decrypts it (whole or by range). Once configured (SetMultipart and the
// other setters), a Content is safe for concurrent use: every reader it
// returns has its own cipher state.
type Content struct {
	env  *Envelope
	key  []byte
	iv   []byte
	mode contentMode
}

// NewContent draws a fresh data key (and IV or salt) for a new object and
// wraps it with mk. Encrypt with the returned Content and store
// Envelope().Metadata() as the object's user metadata.
func NewContent(mk MasterKey, opts *Options) (*Content, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Mode == "" {
		o.Mode = CEKAlgAESCTR
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if mk == nil {
		return nil, fmt.Errorf("new content key: %w: master key is nil", ErrNoMasterKey)
	}
	if a := mk.WrapAlg(); a != WrapAlgKMS && a != WrapAlgRSA {
		return nil, fmt.Errorf("new content key: %w", unsupportedErr("master key wrap algorithm %q cannot be written (want %q or %q)", a, WrapAlgKMS, WrapAlgRSA))
	}
	if _, err := DecodeMatDesc(mk.MatDesc()); err != nil {
		return nil, fmt.Errorf("new content key: %w", err)
	}
	env := &Envelope{CEKAlg: o.Mode, WrapAlg: mk.WrapAlg(), MatDesc: mk.MatDesc(), UnencryptedContentLength: SizeUnknown}
	c := &Content{env: env}
	var err error
	if c.key, err = generateCEK(o.Rand); err != nil {
		return nil, fmt.Errorf("new content key: %w", err)
	}
	switch o.Mode {
	case CEKAlgAESCTR:
		if o.ChunkSize != 0 {
			return nil, fmt.Errorf("new content key: a chunk size does not apply to %s", CEKAlgAESCTR)
		}
		if c.iv, err = generateIV(o.Rand); err != nil {
			return nil, fmt.Errorf("new content key: %w", err)
		}
		c.mode = &ctrMode{key: c.key, iv: c.iv}
		if env.WrappedIV, err = mk.Wrap(c.iv); err != nil {
			return nil, fmt.Errorf("new content key: wrapping IV: %w", err)
		}
	case CEKAlgAESGCMChunkedV1:
		env.ChunkSize = o.ChunkSize
		if env.ChunkSize == 0 {
			env.ChunkSize = DefaultChunkSize
		}
		env.Salt = make([]byte, SaltSize)
		if _, err := io.ReadFull(o.Rand, env.Salt); err != nil {
			return nil, fmt.Errorf("new content key: drawing salt: %w", err)
		}
		m, err := newGCMMode(c.key, env.Salt, env.ChunkSize)
		if err != nil {
			return nil, fmt.Errorf("new content key: %w", err)
		}
		env.Commitment = bytes.Clone(m.commitment)
		c.mode = m
	default:
		return nil, fmt.Errorf("new content key: %w", unsupportedErr("content algorithm %q", o.Mode))
	}
	if env.WrappedKey, err = mk.Wrap(c.key); err != nil {
		return nil, fmt.Errorf("new content key: wrapping data key: %w", err)
	}
	if err := env.Validate(); err != nil {
		return nil, fmt.Errorf("new content key: %w", err)
	}
	return c, nil
}

// OpenContent validates env, resolves its master key and unwraps the data
// key. In the authenticated mode it also checks the key commitment, so a
// wrong or swapped data key fails here with ErrIntegrity before any
// ciphertext is read.
func OpenContent(env *Envelope, r Resolver) (*Content, error) {
	if err := env.Validate(); err != nil {
		return nil, err
	}
	mk, err := r.Resolve(env)
	if err != nil {
		return nil, err
	}
	return openWith(env, mk)
}

// OpenContentWith is OpenContent with a known master key, bypassing matdesc
// resolution.
func OpenContentWith(env *Envelope, mk MasterKey) (*Content, error) {
	if err := env.Validate(); err != nil {
		return nil, err
	}
	return openWith(env, mk)
}

func openWith(env *Envelope, mk MasterKey) (*Content, error) {
	key, err := unwrap(mk, env.WrapAlg, env.WrappedKey)
	if err != nil {
		return nil, fmt.Errorf("unwrapping data key: %w", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("unwrapping data key: %w: unwrapped key is %d bytes, want %d", ErrWrongKey, len(key), KeySize)
	}
	c := &Content{env: env.Clone(), key: key}
	switch env.CEKAlg {
	case CEKAlgAESCTR:
		iv, err := unwrap(mk, env.WrapAlg, env.WrappedIV)
		if err != nil {
			return nil, fmt.Errorf("unwrapping IV: %w", err)
		}
		if len(iv) != IVSize {
			return nil, fmt.Errorf("unwrapping IV: %w: unwrapped IV is %d bytes, want %d", ErrWrongKey, len(iv), IVSize)
		}
		c.iv = iv
		c.mode = &ctrMode{key: key, iv: iv}
	case CEKAlgAESGCMChunkedV1:
		m, err := newGCMMode(key, env.Salt, env.ChunkSize)
		if err != nil {
			return nil, err
		}
		if err := m.checkCommitment(env.Commitment); err != nil {
			return nil, err
		}
		c.mode = m
	default:
		return nil, unsupportedErr("content algorithm %q", env.CEKAlg)
	}
	return c, nil
}

// Envelope returns a copy of the object's envelope.
func (c *Content) Envelope() *Envelope { return c.env.Clone() }

// Alignment is the unit that part sizes must be a multiple of: 16 bytes for
// the SDK format, the chunk size for the authenticated mode.
func (c *Content) Alignment() int64 { return c.mode.alignment() }

// SetUnencryptedContentLength records the plaintext length in the envelope
// (unencrypted-content-length), as the SDKs do when the length is known.
func (c *Content) SetUnencryptedContentLength(n int64) error {
	if n < 0 {
		return fmt.Errorf("unencrypted content length %d is negative", n)
	}
	c.env.UnencryptedContentLength = n
	return nil
}

// SetUnencryptedContentMD5 records the plaintext's base64 MD5 in the
// envelope; full decrypting reads check it at the end.
func (c *Content) SetUnencryptedContentMD5(b64 string) error {
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != md5.Size {
		return fmt.Errorf("content MD5 %q is not the base64 of a 16-byte digest", b64)
	}
	c.env.UnencryptedContentMD5 = b64
	return nil
}

// SetMultipart fixes the multipart layout: dataSize is the total plaintext
// size and partSize the plaintext size of every part but the last, a
// multiple of Alignment. The SDK format allows dataSize 0 (unknown); the
// authenticated mode needs it to mark the final chunk. Initiate and every
// UploadPart carry Envelope().Metadata() with these values.
func (c *Content) SetMultipart(dataSize, partSize int64) error {
	if partSize <= 0 || partSize%c.mode.alignment() != 0 {
		return fmt.Errorf("%w: part size %d must be a positive multiple of %d", ErrInvalidPart, partSize, c.mode.alignment())
	}
	if dataSize < 0 || (dataSize == 0 && c.env.Authenticated()) {
		return fmt.Errorf("%w: the data size %d must be positive", ErrInvalidPart, dataSize)
	}
	c.env.DataSize, c.env.PartSize = dataSize, partSize
	return nil
}

// PartCount returns the number of parts of the multipart layout, or 0 when
// the data size is unknown.
func (c *Content) PartCount() int {
	if c.env.PartSize <= 0 || c.env.DataSize <= 0 {
		return 0
	}
	return int((c.env.DataSize + c.env.PartSize - 1) / c.env.PartSize)
}

// PartRange returns the plaintext offset and size of part n (1-based). The
// size is -1 when the data size is unknown.
func (c *Content) PartRange(n int) (offset, size int64, err error) {
	if c.env.PartSize <= 0 {
		return 0, 0, fmt.Errorf("%w: no multipart layout (call SetMultipart)", ErrInvalidPart)
	}
	if n < 1 {
		return 0, 0, fmt.Errorf("%w: part number %d is below 1", ErrInvalidPart, n)
	}
	offset = int64(n-1) * c.env.PartSize
	if c.env.DataSize <= 0 {
		return offset, -1, nil
	}
	if offset >= c.env.DataSize {
		return 0, 0, fmt.Errorf("%w: part %d starts at %d, beyond the %d-byte data size", ErrInvalidPart, n, offset, c.env.DataSize)
	}
	return offset, min(c.env.PartSize, c.env.DataSize-offset), nil
}

// CiphertextSize returns the stored size of a plaintext of the given size
// (whole object). It equals the plaintext size in the SDK format.
func (c *Content) CiphertextSize(plain int64) int64 { return c.mode.ciphertextSize(plain) }

// PartCiphertextSize returns the stored size of part n.
func (c *Content) PartCiphertextSize(n int) (int64, error) {
	_, size, err := c.PartRange(n)
	if err != nil {
		return 0, err
	}
	if size < 0 {
		return 0, fmt.Errorf("%w: the data size is unknown", ErrInvalidPart)
	}
	return c.mode.ciphertextSize(size), nil
}

// PlaintextSize returns the plaintext size of an object whose ciphertext has
// the given size, checking it against the envelope's
// unencrypted-content-length when that is present (a mismatch is an
// ErrIntegrity).
func (c *Content) PlaintextSize(ciphertextSize int64) (int64, error) {
	p, err := c.mode.plaintextSize(ciphertextSize)
	if err != nil {
		return 0, err
	}
	if l := c.env.UnencryptedContentLength; l >= 0 && l != p {
		return 0, integrityErr(-1, "object holds %d plaintext bytes but unencrypted-content-length says %d", p, l)
	}
	return p, nil
}

// EncryptReader returns a reader of the ciphertext of plain, which holds the
// object's plaintext from offset on. In the SDK format any offset works (a
// resumed upload can continue mid-stream); the authenticated mode encrypts
// whole objects from offset 0 and parts through EncryptPart.
func (c *Content) EncryptReader(plain io.Reader, offset int64) (io.Reader, error) {
	return c.mode.encryptAt(plain, offset)
}

// EncryptPart returns a reader of the ciphertext of part n (1-based), whose
// plaintext body is plain. Parts are independent, so they can be encrypted
// in parallel and re-encrypted when an upload resumes. When the data size
// is known the body must be exactly the part's share; a body of the wrong
// length fails with ErrInvalidPart.
func (c *Content) EncryptPart(plain io.Reader, n int) (io.Reader, error) {
	if _, _, err := c.PartRange(n); err != nil {
		return nil, err
	}
	return c.mode.encryptPart(plain, n, c.env.PartSize, c.env.DataSize)
}

// PlanRange plans a ranged read of the plaintext bytes [start, end]
// (inclusive; end -1 means "to the end"). ciphertextSize is the stored
// object size (Content-Length of a HEAD), or -1 if unknown (SDK format
// only).
func (c *Content) PlanRange(start, end, ciphertextSize int64) (RangePlan, error) {
	if ciphertextSize >= 0 {
		if _, err := c.PlaintextSize(ciphertextSize); err != nil {
			return RangePlan{}, err
		}
	}
	return c.mode.planRange(start, end, ciphertextSize)
}

// DecryptRange returns a reader of the planned plaintext range; ciphertext
// is the body of the fetch the plan asked for. In the authenticated mode
// every chunk is verified before any of its bytes are returned, and a
// failure (including a truncated or over-long body) is an ErrIntegrity.
func (c *Content) DecryptRange(ciphertext io.Reader, p RangePlan) (io.Reader, error) {
	return c.mode.decryptRange(ciphertext, p)
}

// DecryptReader returns a reader of the whole plaintext; ciphertext is the
// whole object, of ciphertextSize bytes (-1 if unknown, SDK format only).
// When the envelope records an unencrypted-content-md5 the digest is
// checked at the end of the stream (ErrIntegrity); in the SDK format that
// is after the plaintext has been returned, since the format carries no
// authentication.
func (c *Content) DecryptReader(ciphertext io.Reader, ciphertextSize int64) (io.Reader, error) {
	p := RangePlan{Start: 0, End: -1, FetchStart: 0, FetchEnd: -1, objectSize: ciphertextSize}
	if ciphertextSize >= 0 {
		plain, err := c.PlaintextSize(ciphertextSize)
		if err != nil {
			return nil, err
		}
		p.End, p.FetchEnd = plain-1, ciphertextSize-1
	}
	r, err := c.mode.decryptRange(ciphertext, p)
	if err != nil {
		return nil, err
	}
	if c.env.UnencryptedContentMD5 != "" {
		want, _ := base64.StdEncoding.DecodeString(c.env.UnencryptedContentMD5)
		r = &digestReader{src: r, h: md5.New(), want: want} //nolint:gosec // G401: see the import
	}
	return r, nil
}

// Rewrap returns the envelope with the data key (and IV) wrapped under
// newKey instead, for re-keying an object without re-encrypting it: store
// the result's Metadata in place of the old one (CopyObject onto itself with
// the REPLACE metadata directive). The body and its CRC stay unchanged.
func (c *Content) Rewrap(newKey MasterKey) (*Envelope, error) {
	if a := newKey.WrapAlg(); a != WrapAlgKMS && a != WrapAlgRSA {
		return nil, fmt.Errorf("rewrap: %w", unsupportedErr("master key wrap algorithm %q cannot be written", a))
	}
	env := c.env.Clone()
	env.WrapAlg, env.MatDesc = newKey.WrapAlg(), newKey.MatDesc()
	var err error
	if env.WrappedKey, err = newKey.Wrap(c.key); err != nil {
		return nil, fmt.Errorf("rewrap: wrapping data key: %w", err)
	}
	if c.iv != nil {
		if env.WrappedIV, err = newKey.Wrap(c.iv); err != nil {
			return nil, fmt.Errorf("rewrap: wrapping IV: %w", err)
		}
	}
	if err := env.Validate(); err != nil {
		return nil, fmt.Errorf("rewrap: %w", err)
	}
	return env, nil
}

// digestReader checks a digest of everything read when the source ends.
type digestReader struct {
	src  io.Reader
	h    hash.Hash
	want []byte
}

func (r *digestReader) Read(p []byte) (int, error) {
	n, err := r.src.Read(p)
	r.h.Write(p[:n])
	if err == io.EOF && !bytes.Equal(r.h.Sum(nil), r.want) {
		return n, integrityErr(-1, "plaintext MD5 does not match unencrypted-content-md5")
	}
	return n, err
}
