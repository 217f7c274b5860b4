package transfer

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // Content-MD5 is MD5 by definition (an integrity check OSS verifies, not a security primitive)
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"golang.org/x/sync/errgroup"

	"github.com/ossctl/ossctl/internal/crc64x"
	"github.com/ossctl/ossctl/internal/cse"
)

// Headers are the settings an uploaded or copied object gets.
type Headers struct {
	// ContentType is the Content-Type ("" on upload: from the file extension).
	ContentType string
	// Meta is the user metadata (x-oss-meta-*), names without the prefix.
	Meta map[string]string
	// ACL is the object ACL ("" keeps the default).
	ACL string
	// StorageClass is the storage class ("" keeps the bucket's).
	StorageClass string
	// SSE asks for server-side encryption at rest: "AES256" (SSE-OSS) or
	// "KMS" (SSE-KMS); "" leaves it to the bucket's default encryption.
	SSE string
	// SSEKeyID is the KMS key of SSE-KMS ("" means the default managed key).
	SSEKeyID string
}

// sseOptions returns the server-side encryption request headers.
func (h Headers) sseOptions() []oss.Option {
	if h.SSE == "" {
		return nil
	}
	opts := []oss.Option{oss.ServerSideEncryption(h.SSE)}
	if h.SSEKeyID != "" {
		opts = append(opts, oss.ServerSideEncryptionKeyID(h.SSEKeyID))
	}
	return opts
}

// uploadOptions returns the request options for a new object; names give the extension used
// to detect the content type.
func (h Headers) uploadOptions(names ...string) []oss.Option {
	ct := h.ContentType
	if ct == "" {
		ct = ContentTypeFor(names...)
	}
	opts := []oss.Option{oss.ContentType(ct)}
	opts = append(opts, MetaOptions(h.Meta)...)
	if h.ACL != "" {
		opts = append(opts, oss.ObjectACL(oss.ACLType(h.ACL)))
	}
	if h.StorageClass != "" {
		opts = append(opts, oss.ObjectStorageClass(oss.StorageClassType(h.StorageClass)))
	}
	return append(opts, h.sseOptions()...)
}

// Upload is one local file to one object.
type Upload struct {
	LocalPath string
	Bucket    string
	Key       string
	Headers   Headers
}

// Result is what a finished transfer reports.
type Result struct {
	// CRC64 is the object's CRC-64/ECMA, verified end to end.
	CRC64 string
	// Size is the number of bytes of the object (of the plaintext, for client-side encryption).
	Size int64
	// Encrypted is the encryption spec of a client-side encrypted upload ("kms:alias/x");
	// Decrypted names the master key that decrypted a download ("kms:<key id>", "key:<name>").
	Encrypted, Decrypted string
	// CSEFormat is FormatSDK or FormatAuthenticated when Encrypted or Decrypted is set.
	CSEFormat string
}

// Upload sends a local file. Below the threshold it is one PutObject with Content-MD5; at or
// above, a parallel multipart upload driven part by part, with a checkpoint that lets an
// interrupted upload continue where it stopped. The CRC-64 of every part is computed while it
// is sent and the combination must equal the object's CRC-64 reported by OSS; on a mismatch,
// or if the file changes while it is sent, nothing is left at the destination.
func (c *Config) Upload(ctx context.Context, u Upload, l *FileListener) (Result, error) {
	b, err := c.bucket(u.Bucket)
	if err != nil {
		return Result{}, err
	}
	f, err := os.Open(u.LocalPath)
	if err != nil {
		return Result{}, fmt.Errorf("opening %s: %w", u.LocalPath, err)
	}
	defer func() { _ = f.Close() }() // read-only
	fi, err := f.Stat()
	if err != nil {
		return Result{}, fmt.Errorf("reading %s: %w", u.LocalPath, err)
	}
	if !fi.Mode().IsRegular() {
		return Result{}, fmt.Errorf("%s is not a regular file", u.LocalPath)
	}
	opts := u.Headers.uploadOptions(u.LocalPath, u.Key)
	var res Result
	switch {
	case c.Encryption.encrypts() && !c.Multipart(fi.Size()):
		res, err = c.putEncrypted(ctx, b, u, f, fi, opts, l)
	case !c.Multipart(fi.Size()):
		return c.putFile(ctx, b, u, f, fi, opts, l)
	default:
		res, err = c.uploadMultipart(ctx, b, u, f, fi, opts, l)
	}
	if err == nil && c.Encryption.encrypts() {
		res.Encrypted, res.CSEFormat = c.Encryption.Spec.String(), c.Encryption.format()
	}
	return res, err
}

// changedError explains a file that changed while it was being sent.
func changedError(path string) error {
	return fmt.Errorf("%s changed while it was being uploaded (size or modification time differs); nothing was written: run the command again once the file is stable", path)
}

func unchanged(f *os.File, fi os.FileInfo) bool {
	now, err := f.Stat()
	return err == nil && now.Size() == fi.Size() && now.ModTime().Equal(fi.ModTime())
}

// putFile uploads a file below the threshold with one PutObject carrying Content-MD5. Small
// files are read into a pooled buffer once; larger ones are hashed in a first pass and then
// streamed (OSS refuses the body if it no longer matches the MD5).
func (c *Config) putFile(ctx context.Context, b *oss.Bucket, u Upload, f *os.File, fi os.FileInfo, opts []oss.Option, l *FileListener) (Result, error) {
	size := fi.Size()
	md := md5.New() //nolint:gosec // see the import
	crc := crc64x.New()
	var body func() io.Reader
	if size <= smallFile {
		buf := c.pool.get(int(size))
		defer c.pool.put(buf)
		if _, err := io.ReadFull(f, buf); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return Result{}, changedError(u.LocalPath)
			}
			return Result{}, fmt.Errorf("reading %s: %w", u.LocalPath, err)
		}
		_, _ = md.Write(buf) // a hash.Hash never returns an error
		_, _ = crc.Write(buf)
		body = func() io.Reader { return bytes.NewReader(buf) }
	} else {
		if _, err := io.Copy(io.MultiWriter(md, crc), io.NewSectionReader(f, 0, size)); err != nil {
			return Result{}, fmt.Errorf("reading %s: %w", u.LocalPath, err)
		}
		body = func() io.Reader { return io.NewSectionReader(f, 0, size) }
	}
	if !unchanged(f, fi) {
		return Result{}, changedError(u.LocalPath)
	}
	sum := crc.Sum64()
	res, err := c.put(ctx, b, u.Key, size, body, sum, md.Sum(nil), opts, l)
	if err != nil && codeOf(err) == "InvalidDigest" && !unchanged(f, fi) {
		return Result{}, changedError(u.LocalPath)
	}
	return res, err
}

// put sends one PutObject from body (rebuilt for every attempt) and verifies the CRC-64.
func (c *Config) put(ctx context.Context, b *oss.Bucket, key string, size int64, body func() io.Reader, crc uint64, md []byte,
	opts []oss.Option, l *FileListener) (Result, error) {
	var h http.Header
	err := c.Retry.do(ctx, func(int) error {
		m := &meter{ctx: ctx, r: body(), lim: c.UploadLimit, prog: l}
		o := append(append([]oss.Option{}, opts...), oss.ContentMD5(base64.StdEncoding.EncodeToString(md)),
			oss.WithContext(ctx), oss.GetResponseHeader(&h))
		return b.PutObject(key, &io.LimitedReader{R: m, N: size}, o...)
	})
	if err != nil {
		var crcErr oss.CRCCheckError
		if errors.As(err, &crcErr) {
			c.deleteQuietly(b, key)
			return Result{}, integrityErrorf("CRC-64 mismatch after upload of %s, the object was removed: %v", ossURL(b.BucketName, key), err)
		}
		return Result{}, err
	}
	if got, ok := parseCRC(h.Get(HeaderCRC64)); ok && got != crc {
		c.deleteQuietly(b, key)
		return Result{}, integrityErrorf("CRC-64 of %s is %d on the server but %d was sent; the object was removed", ossURL(b.BucketName, key), got, crc)
	}
	return Result{CRC64: formatCRC(crc), Size: size}, nil
}

func (c *Config) deleteQuietly(b *oss.Bucket, key string) {
	// Cleanup must happen even when the transfer's context is done.
	_ = b.DeleteObject(key, oss.WithContext(context.WithoutCancel(context.Background())))
}

func (c *Config) abortQuietly(b *oss.Bucket, imur oss.InitiateMultipartUploadResult) {
	_ = b.AbortMultipartUpload(imur, oss.WithContext(context.Background()))
}

// listParts returns the parts OSS holds for an upload, by number.
func listParts(ctx context.Context, b *oss.Bucket, imur oss.InitiateMultipartUploadResult) (map[int]oss.UploadedPart, error) {
	out := map[int]oss.UploadedPart{}
	marker := ""
	for {
		opts := []oss.Option{oss.WithContext(ctx), oss.MaxParts(1000)}
		if marker != "" {
			opts = append(opts, oss.PartNumberMarker(mustAtoi(marker)))
		}
		res, err := b.ListUploadedParts(imur, opts...)
		if err != nil {
			return nil, err
		}
		for _, p := range res.UploadedParts {
			out[p.PartNumber] = p
		}
		if !res.IsTruncated || res.NextPartNumberMarker == "" || res.NextPartNumberMarker == marker {
			return out, nil
		}
		marker = res.NextPartNumberMarker
	}
}

func mustAtoi(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0
		}
		n = n*10 + int(r-'0')
	}
	return n
}

func sameETag(a, b string) bool {
	return strings.EqualFold(strings.Trim(a, `"`), strings.Trim(b, `"`))
}

// partRange returns the offset and size of part n (1-based).
func partRange(n int, partSize, size int64) (int64, int64) {
	off := int64(n-1) * partSize
	return off, min(partSize, size-off)
}

func partCount(size, partSize int64) int {
	if size == 0 {
		return 1
	}
	return int((size + partSize - 1) / partSize)
}

// resumeUpload finds the multipart upload of an earlier, interrupted run of the same transfer
// and the parts of it that OSS still holds. It returns nil when there is nothing to resume; a
// stale checkpoint (changed source) is discarded and its upload aborted. prepare (nil for a
// plain upload) is called with a matching checkpoint before its parts are checked: it rebuilds
// what the upload needs (the data key of an encrypted upload) and returns the stored size of
// part n. Its error fails the transfer and keeps the checkpoint.
func (c *Config) resumeUpload(ctx context.Context, b *oss.Bucket, path string, want Checkpoint,
	prepare func(old *Checkpoint) (func(n int) int64, error)) (*checkpointFile, error) {
	old, orphan := c.loadCheckpointSalvage(path)
	if orphan != "" {
		// The checkpoint was corrupt but still names its upload: abort it rather than leave
		// its parts behind.
		c.abortQuietly(b, oss.InitiateMultipartUploadResult{Bucket: b.BucketName, Key: keyOf(want.Destination, b.BucketName), UploadID: orphan})
	}
	if old == nil {
		return nil, nil
	}
	if !old.sameTarget(&want) || old.UploadID == "" {
		c.warn("%s changed since the interrupted transfer to %s: starting over", want.Source, want.Destination)
		if old.UploadID != "" {
			c.abortQuietly(b, oss.InitiateMultipartUploadResult{Bucket: b.BucketName, Key: keyOf(want.Destination, b.BucketName), UploadID: old.UploadID})
		}
		removeQuietly(path)
		return nil, nil
	}
	partSize := func(n int) int64 {
		_, sz := partRange(n, old.PartSize, old.Size)
		return sz
	}
	if prepare != nil {
		ps, err := prepare(old)
		if err != nil {
			return nil, fmt.Errorf("resuming the interrupted transfer to %s (its checkpoint is kept): %w", want.Destination, err)
		}
		partSize = ps
	}
	imur := oss.InitiateMultipartUploadResult{Bucket: b.BucketName, Key: keyOf(want.Destination, b.BucketName), UploadID: old.UploadID}
	server, err := listParts(ctx, b, imur)
	if err != nil {
		if codeOf(err) != "NoSuchUpload" {
			c.warn("cannot list the parts of the interrupted transfer to %s (%v): starting over", want.Destination, err)
		}
		removeQuietly(path)
		return nil, nil
	}
	var keep []CheckpointPart
	for _, p := range old.Parts {
		sp, ok := server[p.Number]
		wantSize := partSize(p.Number)
		if ok && sameETag(sp.ETag, p.ETag) && int64(sp.Size) == wantSize && p.Size == wantSize {
			keep = append(keep, p)
		}
	}
	cf := newCheckpointFile(path, *old)
	cf.setParts(keep)
	return cf, nil
}

func keyOf(url, bucket string) string { return strings.TrimPrefix(url, "oss://"+bucket+"/") }

// uploadMultipart runs a resumable multipart upload of a file. With client-side encryption
// the part size is aligned to the cipher, Initiate and every UploadPart carry the envelope, and
// each part is encrypted at its offset as it is read; the checkpoint keeps the envelope (the
// data key wrapped by the master key, never the key itself), so a resumed upload unwraps it
// again and re-encrypts only the missing parts, byte for byte as before.
func (c *Config) uploadMultipart(ctx context.Context, b *oss.Bucket, u Upload, f *os.File, fi os.FileInfo, opts []oss.Option, l *FileListener) (Result, error) {
	size := fi.Size()
	enc := c.Encryption.encrypts()
	ps := c.PartSizeFor(size)
	if enc {
		ps = cse.AlignPartSize(ps, c.Encryption.Authenticated)
	}
	n := partCount(size, ps)
	dst := ossURL(u.Bucket, u.Key)
	abs := absPath(u.LocalPath)
	want := Checkpoint{Kind: "upload", Source: abs, Destination: dst, Size: size, ModTime: fi.ModTime().UnixNano(), PartSize: ps,
		Encryption: c.Encryption.checkpointLabel()}
	path, err := c.checkpointPath("upload", abs, dst)
	if err != nil {
		return Result{}, err
	}
	var up *cse.Upload
	var prepare func(old *Checkpoint) (func(int) int64, error)
	if enc {
		prepare = func(old *Checkpoint) (func(int) int64, error) {
			r, err := cse.ResumeUpload(old.Envelope, c.Encryption.Keys)
			if err != nil {
				return nil, err
			}
			up = r
			return func(n int) int64 {
				s, err := up.PartCiphertextSize(n)
				if err != nil {
					return -1
				}
				return s
			}, nil
		}
	}
	cf, err := c.resumeUpload(ctx, b, path, want, prepare)
	if err != nil {
		return Result{}, err
	}
	if cf == nil {
		if enc {
			mk, err := c.Encryption.masterKey()
			if err != nil {
				return Result{}, err
			}
			up, err = cse.NewMultipartUpload(mk, cse.UploadOptions{Authenticated: c.Encryption.Authenticated, Size: size}, size, ps)
			if err != nil {
				return Result{}, cse.Classify(fmt.Errorf("encrypting %s: %w", u.LocalPath, err))
			}
			opts = append(append([]oss.Option{}, opts...), up.Options()...)
			want.Envelope = up.Metadata()
		}
		var imur oss.InitiateMultipartUploadResult
		err := c.Retry.do(ctx, func(int) error {
			var ierr error
			imur, ierr = b.InitiateMultipartUpload(u.Key, append(append([]oss.Option{}, opts...), oss.WithContext(ctx))...)
			return ierr
		})
		if err != nil {
			return Result{}, fmt.Errorf("starting multipart upload: %w", err)
		}
		want.UploadID = imur.UploadID
		cf = newCheckpointFile(path, want)
		if err := cf.save(); err != nil {
			c.warn("%v: the upload will not be resumable", err)
			cf.path = ""
		}
	}
	var partOpts []oss.Option
	if enc {
		partOpts = up.Options()
	}
	imur := oss.InitiateMultipartUploadResult{Bucket: u.Bucket, Key: u.Key, UploadID: cf.cp.UploadID}
	fail := func(err error) (Result, error) {
		if !unchanged(f, fi) {
			err = changedError(u.LocalPath)
		} else if keepForResume(ctx, err) && cf.path != "" {
			_ = cf.save()
			return Result{}, err
		}
		c.abortQuietly(b, imur)
		cf.remove()
		return Result{}, err
	}

	done := cf.done()
	var pending []int
	for i := 1; i <= n; i++ {
		if _, ok := done[i]; ok {
			_, sz := partRange(i, ps, size)
			l.Add(sz)
			continue
		}
		pending = append(pending, i)
	}
	err = c.runParts(ctx, pending, func(ctx context.Context, num int) error {
		off, sz := partRange(num, ps, size)
		bodySize := sz
		if enc {
			var err error
			if bodySize, err = up.PartCiphertextSize(num); err != nil {
				return fmt.Errorf("encrypting part %d: %w", num, err)
			}
		}
		var (
			h    http.Header
			hsh  hash.Hash64
			part oss.UploadPart
		)
		err := c.Retry.do(ctx, func(int) error {
			var body io.Reader = io.NewSectionReader(f, off, sz)
			if enc {
				var err error
				if body, err = up.PartReader(body, num); err != nil {
					return err
				}
			}
			m := &meter{ctx: ctx, r: body, lim: c.UploadLimit, prog: l}
			if !c.sdkCRC() {
				hsh = crc64x.New()
				m.hash = hsh
			}
			o := append(append([]oss.Option{}, partOpts...), oss.WithContext(ctx), oss.GetResponseHeader(&h))
			var perr error
			part, perr = b.UploadPart(imur, m, bodySize, num, o...)
			return perr
		})
		if err != nil {
			return fmt.Errorf("uploading part %d: %w", num, err)
		}
		crc, err := partCRC(h, hsh, num)
		if err != nil {
			return err
		}
		return cf.add(CheckpointPart{Number: num, ETag: part.ETag, Size: bodySize, CRC64: crc})
	})
	if err != nil {
		return fail(err)
	}
	if !unchanged(f, fi) {
		return fail(changedError(u.LocalPath))
	}
	res, err := c.complete(ctx, b, imur, cf.parts(), size)
	if err != nil {
		return fail(err)
	}
	cf.remove()
	return res, nil
}

// partCRC returns a part's CRC-64: computed while sending (hsh), or, when the SDK computed it,
// the server's value that the SDK has already compared with the bytes sent.
func partCRC(h http.Header, hsh hash.Hash64, num int) (uint64, error) {
	srv, ok := parseCRC(h.Get(HeaderCRC64))
	if hsh != nil {
		if ok && srv != hsh.Sum64() {
			return 0, integrityErrorf("part %d: CRC-64 %d on the server, %d sent", num, srv, hsh.Sum64())
		}
		return hsh.Sum64(), nil
	}
	if !ok {
		return 0, integrityErrorf("part %d: the server reported no CRC-64 to verify", num)
	}
	return srv, nil
}

// runParts runs fn for every part number, c.parallel() at once. The first error cancels the
// others and is returned.
func (c *Config) runParts(ctx context.Context, parts []int, fn func(ctx context.Context, n int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.parallel())
	for _, n := range parts {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(gctx, n) })
	}
	err := g.Wait()
	if err == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		// Only the cancellation is wrapped, as in Retry.do.
		return fmt.Errorf("%w: %s", ctx.Err(), err.Error())
	}
	return err
}

// complete finishes a multipart upload and checks that the object's CRC-64 is the combination
// of the parts' values. A mismatch removes the object.
func (c *Config) complete(ctx context.Context, b *oss.Bucket, imur oss.InitiateMultipartUploadResult, parts []CheckpointPart, size int64) (Result, error) {
	return c.completeExpecting(ctx, b, imur, parts, size, combineParts(sortedParts(parts)), true)
}

func sortedParts(parts []CheckpointPart) []CheckpointPart {
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return parts
}

// completeExpecting finishes a multipart upload and, when known is set, checks that the
// object's CRC-64 is want. A mismatch removes the object.
func (c *Config) completeExpecting(ctx context.Context, b *oss.Bucket, imur oss.InitiateMultipartUploadResult, parts []CheckpointPart,
	size int64, want uint64, known bool) (Result, error) {
	parts = sortedParts(parts)
	up := make([]oss.UploadPart, len(parts))
	for i, p := range parts {
		up[i] = oss.UploadPart{PartNumber: p.Number, ETag: p.ETag}
	}
	var (
		h         http.Header
		transient bool
	)
	err := c.Retry.do(ctx, func(int) error {
		_, cerr := b.CompleteMultipartUpload(imur, up, oss.WithContext(ctx), oss.GetResponseHeader(&h))
		if cerr != nil && Retryable(cerr) {
			transient = true
		}
		return cerr
	})
	if err != nil && transient && codeOf(err) == "NoSuchUpload" {
		// An earlier attempt may have completed the upload before its answer was lost.
		hh, herr := b.GetObjectDetailedMeta(imur.Key, oss.WithContext(ctx))
		if herr == nil {
			h, err = hh, nil
		}
	}
	if err != nil {
		return Result{}, fmt.Errorf("completing multipart upload: %w", err)
	}
	got, ok := parseCRC(h.Get(HeaderCRC64))
	if ok && known && got != want {
		c.deleteQuietly(b, imur.Key)
		return Result{}, integrityErrorf("CRC-64 of %s is %d on the server but %d was expected; the object was removed",
			ossURL(imur.Bucket, imur.Key), got, want)
	}
	if !known {
		if !ok {
			return Result{Size: size}, nil
		}
		want = got
	}
	return Result{CRC64: formatCRC(want), Size: size}, nil
}

// UploadStream uploads what r yields, of unknown size (stdin). Data that fits in one part is
// sent with one PutObject; more goes part by part, c.parallel() parts in flight, each in a
// pooled buffer, so memory stays within (parallel+1) × part size. Parts grow (doubling every
// 1000 parts) so that any stream fits in 10,000 parts. A stream cannot be resumed.
func (c *Config) UploadStream(ctx context.Context, r io.Reader, bucket, key string, hd Headers, l *FileListener) (Result, error) {
	b, err := c.bucket(bucket)
	if err != nil {
		return Result{}, err
	}
	opts := hd.uploadOptions(key)
	if c.Encryption.encrypts() {
		res, err := c.uploadStreamEncrypted(ctx, r, b, key, opts, l)
		if err == nil {
			res.Encrypted, res.CSEFormat = c.Encryption.Spec.String(), c.Encryption.format()
		}
		return res, err
	}
	ps := c.PartSizeFor(0)
	readPart := func(size int64) ([]byte, error) {
		buf := c.pool.get(int(size))
		n, err := io.ReadFull(r, buf)
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = io.EOF
		}
		if err != nil && !errors.Is(err, io.EOF) {
			c.pool.put(buf)
			return nil, fmt.Errorf("reading standard input: %w", err)
		}
		return buf[:n], err
	}
	first, rerr := readPart(ps)
	if rerr != nil && !errors.Is(rerr, io.EOF) {
		return Result{}, rerr
	}
	if errors.Is(rerr, io.EOF) {
		defer c.pool.put(first)
		md := md5.Sum(first) //nolint:gosec // see the import
		return c.put(ctx, b, key, int64(len(first)), func() io.Reader { return bytes.NewReader(first) },
			crc64x.Checksum(first), md[:], opts, l)
	}
	var imur oss.InitiateMultipartUploadResult
	if err := c.Retry.do(ctx, func(int) error {
		var ierr error
		imur, ierr = b.InitiateMultipartUpload(key, append(append([]oss.Option{}, opts...), oss.WithContext(ctx))...)
		return ierr
	}); err != nil {
		c.pool.put(first)
		return Result{}, fmt.Errorf("starting multipart upload: %w", err)
	}
	var (
		mu    sync.Mutex
		parts []CheckpointPart
		total int64
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.parallel())
	buf := first
	for num := 1; ; num++ {
		data := buf
		total += int64(len(data))
		g.Go(func() error {
			defer c.pool.put(data)
			var h http.Header
			crc := crc64x.Checksum(data)
			var part oss.UploadPart
			err := c.Retry.do(gctx, func(int) error {
				m := &meter{ctx: gctx, r: bytes.NewReader(data), lim: c.UploadLimit, prog: l}
				var perr error
				part, perr = b.UploadPart(imur, m, int64(len(data)), num, oss.WithContext(gctx), oss.GetResponseHeader(&h))
				return perr
			})
			if err != nil {
				return fmt.Errorf("uploading part %d: %w", num, err)
			}
			if srv, ok := parseCRC(h.Get(HeaderCRC64)); ok && srv != crc {
				return integrityErrorf("part %d: CRC-64 %d on the server, %d sent", num, srv, crc)
			}
			mu.Lock()
			parts = append(parts, CheckpointPart{Number: num, ETag: part.ETag, Size: int64(len(data)), CRC64: crc})
			mu.Unlock()
			return nil
		})
		if rerr != nil || gctx.Err() != nil {
			break
		}
		if num >= MaxParts {
			_ = g.Wait()
			c.abortQuietly(b, imur)
			return Result{}, fmt.Errorf("standard input is larger than %d parts: pass a bigger --part-size", MaxParts)
		}
		size := min(ps<<(num/1000), MaxPartSize)
		buf, rerr = readPart(size)
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			_ = g.Wait()
			c.abortQuietly(b, imur)
			return Result{}, rerr
		}
		if len(buf) == 0 {
			c.pool.put(buf)
			break
		}
	}
	if err := g.Wait(); err != nil {
		c.abortQuietly(b, imur)
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		c.abortQuietly(b, imur)
		return Result{}, err
	}
	res, err := c.complete(ctx, b, imur, parts, total)
	if err != nil {
		c.abortQuietly(b, imur)
		return Result{}, err
	}
	return res, nil
}
