package cse

import (
	"fmt"
	"io"
	"sort"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/crypto"
)

// UploadOptions configure an encrypted upload.
type UploadOptions struct {
	// Authenticated selects ossctl's authenticated mode (crypto.CEKAlgAESGCMChunkedV1) instead of
	// the official SDKs' AES-CTR format. Only ossctl can read such objects.
	Authenticated bool
	// Size is the plaintext size, or -1 when unknown (a stream). A known size is recorded as
	// unencrypted-content-length; the authenticated mode needs it for multipart uploads.
	Size int64
	// ContentMD5 is the plaintext's base64 MD5, when known; full reads check it.
	ContentMD5 string
}

// Upload is the encryption state of one object being uploaded: a fresh data key wrapped by the
// master key, and the envelope metadata to store with it. It is safe for concurrent use once
// built, so parts can be encrypted in parallel.
type Upload struct {
	content *crypto.Content
}

func newContent(mk crypto.MasterKey, o UploadOptions) (*crypto.Content, error) {
	opts := &crypto.Options{}
	if o.Authenticated {
		opts.Mode = crypto.CEKAlgAESGCMChunkedV1
	}
	c, err := crypto.NewContent(mk, opts)
	if err != nil {
		return nil, fmt.Errorf("creating a data key: %w", err)
	}
	if o.Size >= 0 {
		if err := c.SetUnencryptedContentLength(o.Size); err != nil {
			return nil, err
		}
	}
	if o.ContentMD5 != "" {
		if err := c.SetUnencryptedContentMD5(o.ContentMD5); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// NewUpload prepares a single-request upload (PutObject, or an AppendObject-free stream): send
// Reader's output as the body with Options() added to the request.
func NewUpload(mk crypto.MasterKey, o UploadOptions) (*Upload, error) {
	c, err := newContent(mk, o)
	if err != nil {
		return nil, err
	}
	return &Upload{content: c}, nil
}

// NewMultipartUpload prepares a multipart upload of dataSize plaintext bytes in parts of
// partSize (use AlignPartSize first). Initiate with Options(); upload part n with the body
// PartReader(part n's plaintext, n), its size PartCiphertextSize(n) and Options() again (OSS
// checks that every part carries the envelope); the completed object keeps the metadata.
// Save Metadata() in the resume checkpoint: ResumeUpload rebuilds the same Upload from it.
func NewMultipartUpload(mk crypto.MasterKey, o UploadOptions, dataSize, partSize int64) (*Upload, error) {
	if o.Size < 0 {
		o.Size = dataSize
	}
	c, err := newContent(mk, o)
	if err != nil {
		return nil, err
	}
	if err := c.SetMultipart(dataSize, partSize); err != nil {
		return nil, fmt.Errorf("encrypted multipart layout: %w", err)
	}
	return &Upload{content: c}, nil
}

// ResumeUpload rebuilds the Upload of an interrupted multipart upload from the metadata saved
// in its checkpoint (Upload.Metadata), unwrapping the data key again through keys. Parts are
// re-encrypted identically, so parts already uploaded stay valid.
func ResumeUpload(meta map[string]string, keys crypto.Resolver) (*Upload, error) {
	env, err := crypto.ParseEnvelopeMetadata(meta)
	if err != nil {
		return nil, Classify(fmt.Errorf("reading the checkpoint's encryption envelope: %w", err))
	}
	c, err := crypto.OpenContent(env, keys)
	if err != nil {
		return nil, Classify(fmt.Errorf("reopening the data key of the interrupted upload: %w", err))
	}
	if env.DataSize > 0 || env.PartSize > 0 {
		if err := c.SetMultipart(env.DataSize, env.PartSize); err != nil {
			return nil, Classify(fmt.Errorf("checkpoint's multipart layout: %w", err))
		}
	}
	return &Upload{content: c}, nil
}

// AlignPartSize rounds partSize up to what the format needs: a multiple of 16 bytes for the SDK
// format, of the chunk size (64 KiB) for the authenticated mode.
func AlignPartSize(partSize int64, authenticated bool) int64 {
	a := int64(crypto.CTRAlignment)
	if authenticated {
		a = crypto.DefaultChunkSize
	}
	if partSize < a {
		return a
	}
	return (partSize + a - 1) / a * a
}

// Envelope returns the upload's envelope.
func (u *Upload) Envelope() *crypto.Envelope { return u.content.Envelope() }

// Metadata returns the envelope as user metadata (names without x-oss-meta-).
func (u *Upload) Metadata() map[string]string { return u.content.Envelope().Metadata() }

// Options returns the request options that store the envelope: one oss.Meta per entry, in a
// stable order. Add them to PutObject, InitiateMultipartUpload and every UploadPart.
func (u *Upload) Options() []oss.Option {
	meta := u.Metadata()
	names := make([]string, 0, len(meta))
	for k := range meta {
		names = append(names, k)
	}
	sort.Strings(names)
	opts := make([]oss.Option, 0, len(names))
	for _, k := range names {
		opts = append(opts, oss.Meta(k, meta[k]))
	}
	return opts
}

// Reader returns the ciphertext of a whole object whose plaintext is plain.
func (u *Upload) Reader(plain io.Reader) (io.Reader, error) {
	r, err := u.content.EncryptReader(plain, 0)
	if err != nil {
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	return r, nil
}

// CiphertextSize returns the stored size of a plaintext of n bytes (equal in the SDK format).
func (u *Upload) CiphertextSize(n int64) int64 { return u.content.CiphertextSize(n) }

// PartCount returns the number of parts of a multipart upload.
func (u *Upload) PartCount() int { return u.content.PartCount() }

// PartRange returns the plaintext offset and size of part n (1-based).
func (u *Upload) PartRange(n int) (offset, size int64, err error) { return u.content.PartRange(n) }

// PartReader returns the ciphertext of part n, whose plaintext is plain (exactly the part's
// share of the object).
func (u *Upload) PartReader(plain io.Reader, n int) (io.Reader, error) {
	r, err := u.content.EncryptPart(plain, n)
	if err != nil {
		return nil, fmt.Errorf("encrypting part %d: %w", n, err)
	}
	return r, nil
}

// PartCiphertextSize returns the stored size of part n.
func (u *Upload) PartCiphertextSize(n int) (int64, error) { return u.content.PartCiphertextSize(n) }
