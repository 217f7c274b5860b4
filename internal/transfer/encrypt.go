package transfer

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // Content-MD5 and the SDK format's unencrypted-content-md5 are MD5 by definition
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/crypto"
	"github.com/ossctl/ossctl/internal/crc64x"
	"github.com/ossctl/ossctl/internal/cse"
)

// KeySource finds master keys for client-side encryption: the key that a spec names (uploads)
// and the key that an object's envelope needs (downloads, resumed uploads). *cse.Keys is the
// CLI's implementation; it opens KMS and the keyring lazily.
type KeySource interface {
	MasterKey(spec cse.Spec) (crypto.MasterKey, error)
	crypto.Resolver
}

// Encryption configures client-side envelope encryption for a batch. Uploads are encrypted
// under Spec (when set); downloads of objects that carry an envelope are decrypted with the key
// that Keys finds for them (when Keys is set), whatever Spec says.
type Encryption struct {
	// Spec names the master key of uploads; the zero Spec uploads plaintext.
	Spec cse.Spec
	// Authenticated selects ossctl's authenticated mode (chunked AES-GCM) for uploads instead
	// of the official SDKs' AES-CTR format.
	Authenticated bool
	// Keys finds master keys. Without it encrypted objects are downloaded as stored.
	Keys KeySource

	once sync.Once
	mk   crypto.MasterKey
	err  error
}

func (e *Encryption) encrypts() bool { return e != nil && !e.Spec.IsZero() && e.Keys != nil }
func (e *Encryption) decrypts() bool { return e != nil && e.Keys != nil }

// masterKey resolves Spec once per batch (for KMS that is one DescribeKey, which also makes
// sure the key is enabled before any data moves).
func (e *Encryption) masterKey() (crypto.MasterKey, error) {
	e.once.Do(func() {
		e.mk, e.err = e.Keys.MasterKey(e.Spec)
		if e.err != nil {
			e.err = cse.Classify(fmt.Errorf("client-side encryption key %s: %w", e.Spec, e.err))
		}
	})
	return e.mk, e.err
}

// format is the cseFormat of events.
func (e *Encryption) format() string {
	if e.Authenticated {
		return FormatAuthenticated
	}
	return FormatSDK
}

// checkpointLabel identifies the encryption of an upload in its checkpoint: a checkpoint made
// with other settings is stale.
func (e *Encryption) checkpointLabel() string {
	if !e.encrypts() {
		return ""
	}
	return e.Spec.String() + "+" + e.format()
}

// Client-side encryption formats reported in results and events.
const (
	// FormatSDK is the official SDKs' AES-256-CTR format.
	FormatSDK = "sdk"
	// FormatAuthenticated is ossctl's authenticated chunked AES-256-GCM mode.
	FormatAuthenticated = "authenticated"
	// checkpointDecrypt marks the checkpoint of a decrypting download.
	checkpointDecrypt = "decrypt"
)

// isEnvelopeMeta reports whether a user-metadata name (without x-oss-meta-) belongs to a
// client-side encryption envelope.
func isEnvelopeMeta(name string) bool {
	name = strings.ToLower(name)
	return strings.HasPrefix(name, "client-side-encryption-") || strings.HasPrefix(name, crypto.OssctlMetaPrefix)
}

// DecryptedBy names the master key of an encrypted object from its headers, for reports:
// "kms:<key id>", "key:<keyring key>", or the wrap algorithm and matdesc.
func DecryptedBy(h http.Header) (label, format string) {
	info, err := cse.Describe(h)
	if err != nil {
		return "", ""
	}
	format = FormatSDK
	if info.Authenticated {
		format = FormatAuthenticated
	}
	switch {
	case info.KMSKeyID != "":
		return "kms:" + info.KMSKeyID, format
	case info.KeyringKey != "":
		return "key:" + info.KeyringKey, format
	case info.MatDesc != "":
		return info.WrapAlg + " " + info.MatDesc, format
	}
	return info.WrapAlg, format
}

// ---- uploads ----

// putEncrypted encrypts a file below the threshold and sends it with one PutObject. The
// ciphertext's MD5 goes in Content-MD5 and its CRC-64 is checked against the server's; in the
// SDK format the plaintext's MD5 is recorded in the envelope, so full reads verify the
// plaintext (the authenticated mode verifies every chunk instead).
func (c *Config) putEncrypted(ctx context.Context, b *oss.Bucket, u Upload, f *os.File, fi os.FileInfo, opts []oss.Option, l *FileListener) (Result, error) {
	mk, err := c.Encryption.masterKey()
	if err != nil {
		return Result{}, err
	}
	size := fi.Size()
	auth := c.Encryption.Authenticated
	var plain []byte
	if size <= smallFile {
		plain = c.pool.get(int(size))
		defer c.pool.put(plain)
		if _, err := io.ReadFull(f, plain); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return Result{}, changedError(u.LocalPath)
			}
			return Result{}, fmt.Errorf("reading %s: %w", u.LocalPath, err)
		}
	}
	source := func() io.Reader {
		if plain != nil {
			return bytes.NewReader(plain)
		}
		return io.NewSectionReader(f, 0, size)
	}
	uo := cse.UploadOptions{Authenticated: auth, Size: size}
	if !auth {
		h := md5.New() //nolint:gosec // see the import
		if _, err := io.Copy(h, source()); err != nil {
			return Result{}, fmt.Errorf("reading %s: %w", u.LocalPath, err)
		}
		uo.ContentMD5 = base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	up, err := cse.NewUpload(mk, uo)
	if err != nil {
		return Result{}, cse.Classify(fmt.Errorf("encrypting %s: %w", u.LocalPath, err))
	}
	csize := up.CiphertextSize(size)
	encrypted := func() (io.Reader, error) { return up.Reader(source()) }
	md, crc := md5.New(), crc64x.New() //nolint:gosec // see the import
	var body func() io.Reader
	if plain != nil {
		ct := c.pool.get(int(csize))
		defer c.pool.put(ct)
		r, err := encrypted()
		if err != nil {
			return Result{}, err
		}
		if _, err := io.ReadFull(r, ct); err != nil {
			return Result{}, fmt.Errorf("encrypting %s: %w", u.LocalPath, err)
		}
		_, _ = md.Write(ct) // a hash.Hash never returns an error
		_, _ = crc.Write(ct)
		body = func() io.Reader { return bytes.NewReader(ct) }
	} else {
		r, err := encrypted()
		if err != nil {
			return Result{}, err
		}
		if n, err := io.Copy(io.MultiWriter(md, crc), r); err != nil {
			return Result{}, fmt.Errorf("encrypting %s: %w", u.LocalPath, err)
		} else if n != csize {
			return Result{}, changedError(u.LocalPath)
		}
		// The same data key and IV (or salt) encrypt the file to the same bytes again.
		body = func() io.Reader {
			r, err := encrypted()
			if err != nil {
				return errReader{err}
			}
			return r
		}
	}
	if !unchanged(f, fi) {
		return Result{}, changedError(u.LocalPath)
	}
	opts = append(append([]oss.Option{}, opts...), up.Options()...)
	res, err := c.put(ctx, b, u.Key, csize, body, crc.Sum64(), md.Sum(nil), opts, l)
	if err != nil {
		if codeOf(err) == "InvalidDigest" && !unchanged(f, fi) {
			return Result{}, changedError(u.LocalPath)
		}
		return Result{}, err
	}
	res.Size = size
	return res, nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// uploadStreamEncrypted encrypts standard input. A stream that fits in one part is sent with
// one PutObject like a small file (its size, and in the SDK format its MD5, recorded in the
// envelope). A longer one is sent as one streaming PutObject (chunked, up to OSS's 5 GiB
// limit, not retried): an encrypted multipart upload must declare its total size when it
// starts (the SDK format's data-size, which OSS validates) and a stream's is unknown.
func (c *Config) uploadStreamEncrypted(ctx context.Context, r io.Reader, b *oss.Bucket, key string, opts []oss.Option, l *FileListener) (Result, error) {
	mk, err := c.Encryption.masterKey()
	if err != nil {
		return Result{}, err
	}
	auth := c.Encryption.Authenticated
	ps := c.PartSizeFor(0)
	first := c.pool.get(int(ps))
	defer c.pool.put(first)
	n, rerr := io.ReadFull(r, first)
	first = first[:n]
	switch {
	case errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF):
		uo := cse.UploadOptions{Authenticated: auth, Size: int64(n)}
		if !auth {
			sum := md5.Sum(first) //nolint:gosec // see the import
			uo.ContentMD5 = base64.StdEncoding.EncodeToString(sum[:])
		}
		up, err := cse.NewUpload(mk, uo)
		if err != nil {
			return Result{}, cse.Classify(fmt.Errorf("encrypting standard input: %w", err))
		}
		enc, err := up.Reader(bytes.NewReader(first))
		if err != nil {
			return Result{}, err
		}
		ct, err := io.ReadAll(enc)
		if err != nil {
			return Result{}, fmt.Errorf("encrypting standard input: %w", err)
		}
		md := md5.Sum(ct) //nolint:gosec // see the import
		res, err := c.put(ctx, b, key, int64(len(ct)), func() io.Reader { return bytes.NewReader(ct) },
			crc64x.Checksum(ct), md[:], append(append([]oss.Option{}, opts...), up.Options()...), l)
		res.Size = int64(n)
		return res, err
	case rerr != nil:
		return Result{}, fmt.Errorf("reading standard input: %w", rerr)
	}
	up, err := cse.NewUpload(mk, cse.UploadOptions{Authenticated: auth, Size: -1})
	if err != nil {
		return Result{}, cse.Classify(fmt.Errorf("encrypting standard input: %w", err))
	}
	plain := &countingReader{r: io.MultiReader(bytes.NewReader(first), r)}
	enc, err := up.Reader(plain)
	if err != nil {
		return Result{}, err
	}
	hsh := crc64x.New()
	m := &meter{ctx: ctx, r: enc, lim: c.UploadLimit, hash: hsh, prog: l}
	var h http.Header
	o := append(append([]oss.Option{}, opts...), up.Options()...)
	o = append(o, oss.WithContext(ctx), oss.GetResponseHeader(&h))
	if err := b.PutObject(key, m, o...); err != nil {
		if codeOf(err) == "EntityTooLarge" {
			return Result{}, fmt.Errorf("encrypted standard input is larger than a single PutObject allows (5 GiB): write it to a file and upload that (multipart): %w", err)
		}
		return Result{}, err
	}
	if got, ok := parseCRC(h.Get(HeaderCRC64)); ok && got != hsh.Sum64() {
		c.deleteQuietly(b, key)
		return Result{}, integrityErrorf("CRC-64 of %s is %d on the server but %d was sent; the object was removed", ossURL(b.BucketName, key), got, hsh.Sum64())
	}
	return Result{CRC64: formatCRC(hsh.Sum64()), Size: plain.n}, nil
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

// ---- downloads ----

// errEncrypted stops the plain streaming of an object that turned out to be encrypted.
var errEncrypted = errors.New("object is client-side encrypted")

// skipHasher hashes the ciphertext of a resumed stream exactly once: a ranged refetch starts at
// an aligned offset at or before the bytes already hashed, and those are skipped.
type skipHasher struct {
	h    hash.Hash64
	pos  *int64 // ciphertext offset hashed so far
	next int64  // ciphertext offset of the next byte written
}

func (s *skipHasher) Write(p []byte) (int, error) {
	n := len(p)
	if skip := *s.pos - s.next; skip > 0 {
		if int64(len(p)) <= skip {
			s.next += int64(len(p))
			return n, nil
		}
		p = p[skip:]
		s.next += skip
	}
	if s.next == *s.pos {
		_, _ = s.h.Write(p) // a hash.Hash never returns an error
		*s.pos += int64(len(p))
	}
	s.next += int64(len(p))
	return n, nil
}

// transportReader remembers the last error of a response body other than io.EOF. A decrypter
// reports a body cut short by the network as truncated ciphertext; the transport's error is the
// truth then, and it can be retried.
type transportReader struct {
	r   io.Reader
	err error
}

func (t *transportReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		t.err = err
	}
	return n, err
}

// transportFirst returns the transport's error when there was one, else err.
func (t *transportReader) transportFirst(err error) error {
	if err != nil && t.err != nil {
		return t.err
	}
	return err
}

// progressWriter reports plaintext bytes written.
type progressWriter struct {
	w io.Writer
	l *FileListener
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if n > 0 {
		p.l.Add(int64(n))
	}
	return n, err
}

// streamDecrypt writes the plaintext of an encrypted object to w. first is the body of the
// whole-object GET whose headers h revealed the envelope. A dropped connection is resumed with
// a ranged GET (conditional on the ETag) from the last plaintext byte written, aligned down to
// the cipher's unit, so w receives every byte exactly once. At the end the stored ciphertext's
// CRC-64 and, when the envelope records it, the plaintext MD5 must match; the authenticated
// mode also verifies every chunk before releasing it. Callers writing files use a temporary
// file and discard it on error: in the SDK format tampering is found only at the end.
func (c *Config) streamDecrypt(ctx context.Context, b *oss.Bucket, key string, w io.Writer, h http.Header, first io.ReadCloser, l *FileListener) (Result, remoteObject, error) {
	src := ossURL(b.BucketName, key)
	obj, err := headInfo(h)
	if err != nil {
		_ = first.Close()
		return Result{}, obj, err
	}
	d, err := cse.OpenDownload(h, c.Encryption.Keys)
	if err != nil {
		_ = first.Close()
		return Result{}, obj, fmt.Errorf("decrypting %s: %w", src, err)
	}
	env := d.Envelope()
	var (
		off, cpos int64
		crc       = crc64x.New()
		md        hash.Hash
		buf       = c.pool.get(copyBufSize)
	)
	defer c.pool.put(buf)
	if env.UnencryptedContentMD5 != "" {
		md = md5.New() //nolint:gosec // see the import
	}
	out := io.Writer(&progressWriter{w: w, l: l})
	if md != nil {
		out = io.MultiWriter(out, md)
	}
	attempt := func(body io.ReadCloser, whole bool, plan crypto.RangePlan) error {
		defer func() { _ = body.Close() }() // a response body: nothing to lose
		tr := &transportReader{r: body}
		tee := io.TeeReader(&meter{ctx: ctx, r: tr, lim: c.DownloadLimit}, &skipHasher{h: crc, pos: &cpos, next: plan.FetchStart})
		var pr io.Reader
		var err error
		if whole {
			pr, err = d.DecryptWhole(tee)
		} else {
			pr, err = d.DecryptRange(tee, plan)
		}
		if err != nil {
			return tr.transportFirst(err)
		}
		n, err := io.CopyBuffer(out, pr, buf)
		off += n
		if err != nil {
			return tr.transportFirst(err)
		}
		// Whatever the decrypter did not need must still be hashed (and there must be none).
		if _, err := io.Copy(io.Discard, tee); err != nil {
			return err
		}
		return nil
	}
	try := 0
	err = c.Retry.do(ctx, func(int) error {
		try++
		if try == 1 {
			return attempt(first, true, crypto.RangePlan{})
		}
		if off >= d.Size() {
			return nil
		}
		plan, err := d.Plan(off, -1)
		if err != nil {
			return err
		}
		body, err := b.GetObject(key, oss.WithContext(ctx), oss.IfMatch(obj.etag),
			oss.NormalizedRange(strings.TrimPrefix(plan.HTTPRange(), "bytes=")), oss.RangeBehavior("standard"))
		if err != nil {
			return err
		}
		return attempt(body, false, plan)
	})
	if err != nil {
		if statusOf(err) == http.StatusPreconditionFailed {
			err = fmt.Errorf("%s changed during the download; run the command again: %w", src, err)
		}
		return Result{}, obj, fmt.Errorf("decrypting %s: %w", src, cse.Classify(err))
	}
	if off != d.Size() || cpos != obj.size {
		return Result{}, obj, integrityErrorf("decrypting %s: got %d plaintext bytes from %d bytes of ciphertext, expected %d from %d", src, off, cpos, d.Size(), obj.size)
	}
	if want, ok := parseCRC(obj.crc); ok && want != crc.Sum64() {
		return Result{}, obj, integrityErrorf("CRC-64 of the ciphertext received from %s is %d, the server's is %d", src, crc.Sum64(), want)
	}
	if md != nil {
		if err := checkPlaintextMD5(md.Sum(nil), env.UnencryptedContentMD5, src); err != nil {
			return Result{}, obj, err
		}
	}
	res := Result{CRC64: formatCRC(crc.Sum64()), Size: off}
	res.Decrypted, res.CSEFormat = DecryptedBy(h)
	return res, obj, nil
}

// checkFileMD5 compares the MD5 of a file's first size bytes with the base64 digest that an
// envelope records (parallel ranged downloads, whose parts arrive out of order).
func checkFileMD5(f *os.File, size int64, want, src string) error {
	h := md5.New() //nolint:gosec // see the import
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
		return fmt.Errorf("checking the plaintext MD5 of %s: %w", src, err)
	}
	return checkPlaintextMD5(h.Sum(nil), want, src)
}

// checkPlaintextMD5 is the one check of a decrypted object's plaintext MD5 (sum) against the
// base64 digest that its envelope records; a mismatch is an integrity error (exit 6).
func checkPlaintextMD5(sum []byte, want, src string) error {
	if got := base64.StdEncoding.EncodeToString(sum); got != want {
		return integrityErrorf("decrypting %s: %v: plaintext MD5 is %s, the envelope says %s", src, crypto.ErrIntegrity, got, want)
	}
	return nil
}
