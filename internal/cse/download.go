package cse

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/ossctl/ossctl/crypto"
)

// IsEncrypted reports whether object headers (HEAD or GET) mark a client-side encrypted object,
// in the SDK format or an ossctl mode. Downloads call it to decide whether to decrypt.
func IsEncrypted(h http.Header) bool { return crypto.IsEncrypted(h) }

// Download is the decryption state of one encrypted object: its envelope, unwrapped data key and
// sizes, taken from a HEAD response. It is safe for concurrent use (parallel ranged reads).
type Download struct {
	content    *crypto.Content
	env        *crypto.Envelope
	cipherSize int64
	plainSize  int64
}

// OpenDownload parses the envelope in h (the object's HEAD response headers: Content-Length
// must be the whole object's size), finds its master key through keys and unwraps the data key.
// Failures that mean "cannot decrypt" are IntegrityErrors (exit 6).
func OpenDownload(h http.Header, keys crypto.Resolver) (*Download, error) {
	env, err := crypto.ParseEnvelope(h)
	if err != nil {
		return nil, Classify(fmt.Errorf("reading the encryption envelope: %w", err))
	}
	size := int64(-1)
	if v := h.Get("Content-Length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("object has an invalid Content-Length %q", v)
		}
		size = n
	}
	c, err := crypto.OpenContent(env, keys)
	if err != nil {
		return nil, Classify(fmt.Errorf("unwrapping the data key: %w", err))
	}
	d := &Download{content: c, env: env, cipherSize: size, plainSize: -1}
	if size >= 0 {
		ps, err := c.PlaintextSize(size)
		if err != nil {
			return nil, Classify(fmt.Errorf("object size: %w", err))
		}
		d.plainSize = ps
	}
	return d, nil
}

// Envelope returns the object's envelope.
func (d *Download) Envelope() *crypto.Envelope { return d.env.Clone() }

// Size returns the plaintext size, or -1 when unknown.
func (d *Download) Size() int64 { return d.plainSize }

// CiphertextSize returns the stored size, or -1 when unknown.
func (d *Download) CiphertextSize() int64 { return d.cipherSize }

// Alignment is the unit of parallel download parts: fetches of parts that are multiples of it
// tile the stored object exactly.
func (d *Download) Alignment() int64 { return d.content.Alignment() }

// Plan plans a ranged read of plaintext bytes [start, end] (inclusive; end -1 means to the end):
// request plan.HTTPRange() (with oss.NormalizedRange(strings.TrimPrefix(plan.HTTPRange(),
// "bytes=")) and oss.RangeBehavior("standard")) and pass the body to DecryptRange.
func (d *Download) Plan(start, end int64) (crypto.RangePlan, error) {
	p, err := d.content.PlanRange(start, end, d.cipherSize)
	if err != nil {
		return p, fmt.Errorf("planning range %d-%d: %w", start, end, err)
	}
	return p, nil
}

// DecryptRange returns the plaintext of a planned range; body is the ranged GET's body.
func (d *Download) DecryptRange(body io.Reader, p crypto.RangePlan) (io.Reader, error) {
	r, err := d.content.DecryptRange(body, p)
	if err != nil {
		return nil, Classify(err)
	}
	return &classifyReader{r: r}, nil
}

// DecryptWhole returns the whole plaintext; body is a full GET's body. It leaves the check of
// the plaintext MD5 that an SDK-format envelope may record (Envelope().UnencryptedContentMD5)
// to the caller, who hashes the plaintext it writes once, whether it came from this reader
// alone or also from DecryptRange readers resuming after a dropped connection. (An empty
// object, or one whose size is unknown, has no range to plan; its decrypter checks the MD5
// itself, which costs nothing for an empty object.) Errors while reading are classified (an
// IntegrityError for tampering). The SDK format is not authenticated: write to a temporary
// file and keep it only when the read ends without error and the MD5 matched.
func (d *Download) DecryptWhole(body io.Reader) (io.Reader, error) {
	if d.plainSize > 0 {
		p, err := d.Plan(0, -1)
		if err != nil {
			return nil, Classify(err)
		}
		return d.DecryptRange(body, p)
	}
	r, err := d.content.DecryptReader(body, d.cipherSize)
	if err != nil {
		return nil, Classify(err)
	}
	return &classifyReader{r: r}, nil
}

type classifyReader struct{ r io.Reader }

func (c *classifyReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = Classify(err)
	}
	return n, err
}
