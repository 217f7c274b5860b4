package cse

import (
	"context"
	"crypto/md5" //nolint:gosec // the SDK format records a plaintext MD5; it is checked, not trusted for security
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"golang.org/x/sync/errgroup"

	"github.com/ossctl/ossctl/crypto"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/crc64x"
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
	etag       string
	crc64      string
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
	d := &Download{content: c, env: env, cipherSize: size, plainSize: -1,
		etag: h.Get("ETag"), crc64: h.Get(oss.HTTPHeaderOssCRC64)}
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

// Reader returns the whole plaintext; body is a full GET's body. Errors while reading it are
// classified (an IntegrityError for tampering or a wrong MD5). The SDK format is not
// authenticated: write to a temporary file and keep it only when the read ends without error.
func (d *Download) Reader(body io.Reader) (io.Reader, error) {
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

// DownloadOptions configure DownloadFile.
type DownloadOptions struct {
	// PartSize is the plaintext size of each parallel ranged GET (rounded up to the alignment);
	// 0 means 8 MiB. Objects no larger than one part are fetched with a single GET.
	PartSize int64
	// Routines is the number of parallel GETs (default 4).
	Routines int
	// VersionID reads a specific object version.
	VersionID string
	// Progress, if set, is called with the number of plaintext bytes written, from any goroutine.
	Progress func(n int64)
	// Perm is the mode of the created file (default 0600: the plaintext of an encrypted object is
	// private unless asked otherwise).
	Perm os.FileMode
}

// DownloadFile downloads and decrypts an encrypted object into dst. The plaintext is written to
// a temporary file next to dst, checked (CRC-64 of the stored ciphertext against the object's
// x-oss-hash-crc64ecma, the authenticated mode's chunk tags, the plaintext MD5 when the envelope
// records one) and renamed over dst only when everything passed; on any failure the temporary
// file is removed, so no partial plaintext is left behind. Every GET carries If-Match with the
// HEAD's ETag, so an object replaced mid-download fails instead of mixing versions.
// It returns the number of plaintext bytes written.
func (d *Download) DownloadFile(ctx context.Context, b *oss.Bucket, key, dst string, o DownloadOptions) (n int64, err error) {
	if d.plainSize < 0 {
		return 0, errors.New("downloading an encrypted object needs its size from HEAD")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	perm := o.Perm
	if perm == 0 {
		perm = 0o600
	}
	dir, base := filepath.Split(dst)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".ossctl-*.tmp")
	if err != nil {
		return 0, fmt.Errorf("creating a temporary file for %s: %w", dst, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return 0, fmt.Errorf("setting the mode of %s: %w", tmp.Name(), err)
	}
	parts, err := d.fetchInto(ctx, b, key, tmp, o)
	if err != nil {
		return 0, err
	}
	// A single GET checked the MD5 while decrypting; parallel parts are checked here.
	if d.env.UnencryptedContentMD5 != "" && parts > 1 {
		if err := checkMD5(tmp, d.env.UnencryptedContentMD5); err != nil {
			return 0, err
		}
	}
	if err := tmp.Sync(); err != nil {
		return 0, fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return 0, fmt.Errorf("moving the decrypted file into place at %s: %w", dst, err)
	}
	return d.plainSize, nil
}

// fetchInto GETs the object in aligned parts, decrypts each into its place in f, and checks the
// combined CRC-64 of the fetched ciphertext. It returns the number of parts.
func (d *Download) fetchInto(ctx context.Context, b *oss.Bucket, key string, f *os.File, o DownloadOptions) (int64, error) {
	part := o.PartSize
	if part <= 0 {
		part = 8 << 20
	}
	a := d.Alignment()
	part = (part + a - 1) / a * a
	routines := o.Routines
	if routines <= 0 {
		routines = 4
	}
	count := int64(1)
	if d.plainSize > part {
		count = (d.plainSize + part - 1) / part
	}
	crcs := make([]crc64x.Part, count)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(routines)
	for i := range count {
		g.Go(func() error {
			start := i * part
			end := min(start+part, d.plainSize) - 1
			if count == 1 {
				start, end = 0, -1
			}
			c, err := d.fetchPart(gctx, b, key, f, start, end, o)
			if err != nil {
				return err
			}
			crcs[i] = c
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	if want := d.crc64; want != "" {
		got := strconv.FormatUint(crc64x.CombineAll(crcs), 10)
		if got != want {
			return 0, &cmdutil.IntegrityError{Err: fmt.Errorf("downloading %s: CRC-64 of the stored ciphertext is %s, the object says %s", key, got, want)}
		}
	}
	return count, nil
}

func (d *Download) fetchPart(ctx context.Context, b *oss.Bucket, key string, f *os.File, start, end int64, o DownloadOptions) (crc64x.Part, error) {
	opts := []oss.Option{oss.WithContext(ctx)}
	if d.etag != "" {
		opts = append(opts, oss.IfMatch(d.etag))
	}
	if o.VersionID != "" {
		opts = append(opts, oss.VersionId(o.VersionID))
	}
	var plan crypto.RangePlan
	whole := start == 0 && end == -1
	if whole {
		plan = crypto.RangePlan{Start: 0, End: d.plainSize - 1, FetchStart: 0, FetchEnd: d.cipherSize - 1}
	} else {
		var err error
		plan, err = d.Plan(start, end)
		if err != nil {
			return crc64x.Part{}, err
		}
		opts = append(opts, oss.NormalizedRange(strings.TrimPrefix(plan.HTTPRange(), "bytes=")), oss.RangeBehavior("standard"))
	}
	body, err := b.GetObject(key, opts...)
	if err != nil {
		return crc64x.Part{}, fmt.Errorf("downloading %s (bytes %d-%d): %w", key, start, end, err)
	}
	defer func() { _ = body.Close() }()
	h := crc64x.New()
	counted := &countingReader{r: io.TeeReader(body, h)}
	var pr io.Reader
	if whole {
		pr, err = d.Reader(counted)
	} else {
		pr, err = d.DecryptRange(counted, plan)
	}
	if err != nil {
		return crc64x.Part{}, fmt.Errorf("decrypting %s: %w", key, err)
	}
	w := &offsetWriter{f: f, off: start, progress: o.Progress}
	if _, err := io.Copy(w, pr); err != nil {
		return crc64x.Part{}, fmt.Errorf("decrypting %s (bytes %d-%d): %w", key, start, end, Classify(err))
	}
	// The SDK format's decrypter stops at the planned end; the rest of the body must be empty.
	if extra, err := io.Copy(h, body); err != nil {
		return crc64x.Part{}, fmt.Errorf("downloading %s: %w", key, err)
	} else if extra > 0 {
		counted.n += extra
	}
	wantLen := plan.FetchEnd - plan.FetchStart + 1
	if plan.FetchEnd < 0 {
		wantLen = d.cipherSize - plan.FetchStart
	}
	if counted.n != wantLen {
		return crc64x.Part{}, &cmdutil.IntegrityError{Err: fmt.Errorf("downloading %s: got %d bytes of ciphertext at offset %d, expected %d", key, counted.n, plan.FetchStart, wantLen)}
	}
	return crc64x.Part{CRC: h.Sum64(), Size: counted.n}, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type offsetWriter struct {
	f        *os.File
	off      int64
	progress func(int64)
}

func (w *offsetWriter) Write(p []byte) (int, error) {
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	if w.progress != nil && n > 0 {
		w.progress(int64(n))
	}
	return n, err
}

func checkMD5(f *os.File, want string) error {
	h := md5.New() //nolint:gosec // see the import
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return fmt.Errorf("checking the plaintext MD5: %w", err)
	}
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != want {
		return &cmdutil.IntegrityError{Err: fmt.Errorf("%w: plaintext MD5 is %s, the envelope says %s", crypto.ErrIntegrity, got, want)}
	}
	return nil
}

// Stream writes the whole plaintext of the object to w with one GET (If-Match on the HEAD's
// ETag), for standard output and pipes. The stored ciphertext's CRC-64 is checked at the end. In
// the authenticated mode every chunk is verified before its bytes reach w; in the SDK format a
// tampered object is only caught by the CRC-64 (transport) or the plaintext MD5 when recorded,
// after the bytes were written, so write to a file (DownloadFile) when that matters.
func (d *Download) Stream(ctx context.Context, b *oss.Bucket, key string, w io.Writer, versionID string) (int64, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	opts := []oss.Option{oss.WithContext(ctx)}
	if d.etag != "" {
		opts = append(opts, oss.IfMatch(d.etag))
	}
	if versionID != "" {
		opts = append(opts, oss.VersionId(versionID))
	}
	body, err := b.GetObject(key, opts...)
	if err != nil {
		return 0, fmt.Errorf("downloading %s: %w", key, err)
	}
	defer func() { _ = body.Close() }()
	h := crc64x.New()
	pr, err := d.Reader(io.TeeReader(body, h))
	if err != nil {
		return 0, fmt.Errorf("decrypting %s: %w", key, err)
	}
	n, err := io.Copy(w, pr)
	if err != nil {
		return n, fmt.Errorf("decrypting %s: %w", key, Classify(err))
	}
	if _, err := io.Copy(h, body); err != nil {
		return n, fmt.Errorf("downloading %s: %w", key, err)
	}
	if want := d.crc64; want != "" {
		if got := strconv.FormatUint(h.Sum64(), 10); got != want {
			return n, &cmdutil.IntegrityError{Err: fmt.Errorf("downloading %s: CRC-64 of the stored ciphertext is %s, the object says %s", key, got, want)}
		}
	}
	return n, nil
}
