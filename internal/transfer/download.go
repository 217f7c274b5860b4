package transfer

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/crc64x"
	"github.com/ossctl/ossctl/internal/cse"
)

// Download is one object to one local file.
type Download struct {
	Bucket string
	Key    string
	// LocalPath is the final file name.
	LocalPath string
	// Size is the object's size as listed, or -1 when unknown (it is read first).
	Size int64
}

// TempPath returns the hidden file in the destination directory that a download writes
// before renaming it into place.
func TempPath(d Download) string {
	return filepath.Join(filepath.Dir(d.LocalPath), ".ossctl-"+digest(d.Bucket, d.Key, absPath(d.LocalPath))+".download")
}

// remoteObject is what a HEAD tells about a download's source.
type remoteObject struct {
	size    int64
	etag    string
	crc     string
	modTime time.Time
}

func headInfo(h http.Header) (remoteObject, error) {
	size, err := contentLength(h)
	if err != nil {
		return remoteObject{}, err
	}
	mt, _ := http.ParseTime(h.Get("Last-Modified"))
	return remoteObject{size: size, etag: h.Get("ETag"), crc: h.Get(HeaderCRC64), modTime: mt}, nil
}

func (c *Config) head(ctx context.Context, b *oss.Bucket, key string) (http.Header, error) {
	var h http.Header
	err := c.Retry.do(ctx, func(int) error {
		var herr error
		h, herr = b.GetObjectDetailedMeta(key, oss.WithContext(ctx))
		return herr
	})
	return h, err
}

// Download fetches an object into a temporary file next to the destination and renames it into
// place only when the whole object arrived and its CRC-64 matched, so an interrupted or failed
// download never leaves a partial file under the final name. The file gets the object's
// Last-Modified time as its mtime. Objects at or above the threshold are fetched in parallel
// ranges written at their offsets, with a checkpoint: an interrupted download continues with the
// missing ranges on the next run, as long as the object (ETag, size) is unchanged. With
// c.Encryption's keys, a client-side encrypted object is decrypted on the way (see
// streamDecrypt and downloadRanges) into a private temporary file.
func (c *Config) Download(ctx context.Context, d Download, l *FileListener) (Result, error) {
	b, err := c.bucket(d.Bucket)
	if err != nil {
		return Result{}, err
	}
	if d.Size < 0 || c.Multipart(d.Size) {
		h, err := c.head(ctx, b, d.Key)
		if err != nil {
			return Result{}, err
		}
		obj, err := headInfo(h)
		if err != nil {
			return Result{}, err
		}
		if c.Multipart(obj.size) && c.Encryption.decrypts() && cse.IsEncrypted(h) {
			dec, err := cse.OpenDownload(h, c.Encryption.Keys)
			if err != nil {
				return Result{}, fmt.Errorf("decrypting %s: %w", ossURL(d.Bucket, d.Key), err)
			}
			if c.Multipart(dec.Size()) {
				res, err := c.downloadRanges(ctx, b, d, obj, dec, l)
				if err == nil {
					res.Decrypted, res.CSEFormat = DecryptedBy(h)
				}
				return res, err
			}
		} else if c.Multipart(obj.size) {
			return c.downloadRanges(ctx, b, d, obj, nil, l)
		}
	}
	return c.downloadSingle(ctx, b, d, l)
}

func (c *Config) downloadSingle(ctx context.Context, b *oss.Bucket, d Download, l *FileListener) (Result, error) {
	tmp := TempPath(d)
	// A downloaded file gets the usual mode, narrowed by the umask, as cp or curl would give it.
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644) //nolint:gosec // G302: see above
	if err != nil {
		return Result{}, fmt.Errorf("creating %s: %w", tmp, err)
	}
	res, obj, err := c.stream(ctx, b, d.Key, &privateOnDecrypt{f}, l)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing %s: %w", tmp, cerr)
	}
	if err != nil {
		removeQuietly(tmp)
		return Result{}, err
	}
	if err := finishDownload(tmp, d.LocalPath, obj.modTime); err != nil {
		return Result{}, err
	}
	return res, nil
}

func finishDownload(tmp, final string, mt time.Time) error {
	if !mt.IsZero() {
		_ = os.Chtimes(tmp, mt, mt)
	}
	if err := os.Rename(tmp, final); err != nil {
		removeQuietly(tmp)
		return fmt.Errorf("moving the downloaded file into place: %w", err)
	}
	return nil
}

// DownloadTo writes an object's bytes to w (standard output) as they arrive and verifies the
// CRC-64 at the end. A dropped connection is resumed from the last byte written (a ranged GET
// conditional on the ETag), so w receives every byte exactly once.
func (c *Config) DownloadTo(ctx context.Context, w io.Writer, bucket, key string, l *FileListener) (Result, error) {
	b, err := c.bucket(bucket)
	if err != nil {
		return Result{}, err
	}
	res, _, err := c.stream(ctx, b, key, w, l)
	return res, err
}

// privateOnDecrypt is a download's temporary file: when the object turns out to be encrypted
// it is made private (0600) before any plaintext is written to it.
type privateOnDecrypt struct{ *os.File }

// stream GETs an object into w, resuming after retryable failures, and checks its CRC-64. An
// object with a client-side encryption envelope is decrypted (streamDecrypt) when the Config
// has the keys for it.
func (c *Config) stream(ctx context.Context, b *oss.Bucket, key string, w io.Writer, l *FileListener) (Result, remoteObject, error) {
	var (
		off     int64
		obj     remoteObject
		hsh     = crc64x.New()
		buf     = c.pool.get(copyBufSize)
		seen    bool
		encHdr  http.Header
		encBody io.ReadCloser
	)
	defer c.pool.put(buf)
	err := c.Retry.do(ctx, func(int) error {
		var h http.Header
		opts := []oss.Option{oss.WithContext(ctx), oss.GetResponseHeader(&h)}
		if seen {
			if off >= obj.size {
				return nil
			}
			opts = append(opts, oss.NormalizedRange(strconv.FormatInt(off, 10)+"-"), oss.IfMatch(obj.etag))
		}
		body, err := b.GetObject(key, opts...)
		if err != nil {
			return err
		}
		if !seen && c.Encryption.decrypts() && cse.IsEncrypted(h) {
			encHdr, encBody = h, body // streamDecrypt takes the body over
			return errEncrypted
		}
		defer func() { _ = body.Close() }() // a response body read to its end: nothing to lose
		if !seen {
			if obj, err = headInfo(h); err != nil {
				return err
			}
			seen = true
		} else if !strings.HasPrefix(h.Get("Content-Range"), "bytes "+strconv.FormatInt(off, 10)+"-") {
			return fmt.Errorf("resuming the download of %s at byte %d: the server did not honor the range", ossURL(b.BucketName, key), off)
		}
		n, err := io.CopyBuffer(w, &meter{ctx: ctx, r: body, lim: c.DownloadLimit, hash: hsh, prog: l}, buf)
		off += n
		if err == nil && off != obj.size {
			err = io.ErrUnexpectedEOF
		}
		return err
	})
	if encBody != nil && !errors.Is(err, errEncrypted) {
		_ = encBody.Close()
	}
	if errors.Is(err, errEncrypted) {
		if p, ok := w.(*privateOnDecrypt); ok {
			if err := p.Chmod(0o600); err != nil {
				_ = encBody.Close()
				return Result{}, obj, fmt.Errorf("restricting %s: %w", p.Name(), err)
			}
			w = p.File
		}
		return c.streamDecrypt(ctx, b, key, w, encHdr, encBody, l)
	}
	if err != nil {
		if statusOf(err) == http.StatusPreconditionFailed {
			err = fmt.Errorf("%s changed during the download; run the command again: %w", ossURL(b.BucketName, key), err)
		}
		return Result{}, obj, err
	}
	if want, ok := parseCRC(obj.crc); ok && want != hsh.Sum64() {
		return Result{}, obj, integrityErrorf("CRC-64 of the data received from %s is %d, the server's is %d", ossURL(b.BucketName, key), hsh.Sum64(), want)
	}
	return Result{CRC64: formatCRC(hsh.Sum64()), Size: off}, obj, nil
}

// downloadRanges fetches a large object with parallel ranged GETs into a preallocated temporary
// file, each range written at its offset and checksummed on the way. With dec (an encrypted
// object) the parts are plaintext ranges aligned to the cipher: each GET fetches the
// ciphertext that holds its range, whose CRC-64 is taken before decryption, so the parts'
// values still combine into the stored object's; the temporary file is private (0600) and, in
// the SDK format, the plaintext MD5 recorded in the envelope is checked before the rename.
func (c *Config) downloadRanges(ctx context.Context, b *oss.Bucket, d Download, obj remoteObject, dec *cse.Download, l *FileListener) (Result, error) {
	size := obj.size
	ps := c.PartSizeFor(size)
	mode := os.FileMode(0o644)
	label := ""
	if dec != nil {
		size = dec.Size()
		a := dec.Alignment()
		ps = (c.PartSizeFor(size) + a - 1) / a * a
		mode, label = 0o600, checkpointDecrypt
	}
	n := partCount(size, ps)
	src := ossURL(d.Bucket, d.Key)
	abs := absPath(d.LocalPath)
	tmp := TempPath(d)
	want := Checkpoint{Kind: "download", Source: src, Destination: abs, Size: obj.size, ETag: obj.etag, PartSize: ps, TempFile: tmp,
		Encryption: label}
	path, err := c.checkpointPath("download", src, abs)
	if err != nil {
		return Result{}, err
	}
	var cf *checkpointFile
	if old := c.loadCheckpoint(path); old != nil {
		if fi, serr := os.Stat(tmp); old.sameTarget(&want) && old.TempFile == tmp && serr == nil && fi.Size() == size &&
			(dec == nil || fi.Mode().Perm() == 0o600) {
			cf = newCheckpointFile(path, *old)
		} else {
			c.warn("%s changed since the interrupted download to %s: starting over", src, d.LocalPath)
			removeQuietly(path)
		}
	}
	var f *os.File
	if cf != nil {
		f, err = os.OpenFile(tmp, os.O_RDWR, mode) //nolint:gosec // G304: next to the user's destination
	} else {
		// A new file gets mode; an old one keeps its own.
		removeQuietly(tmp)
		f, err = os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, mode) //nolint:gosec // G304: next to the user's destination
		if err == nil {
			err = f.Truncate(size)
		}
		cf = newCheckpointFile(path, want)
		if err == nil {
			if serr := cf.save(); serr != nil {
				c.warn("%v: the download will not be resumable", serr)
				cf.path = ""
			}
		}
	}
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		removeQuietly(tmp)
		cf.remove()
		return Result{}, fmt.Errorf("creating %s: %w", tmp, err)
	}
	fail := func(err error) (Result, error) {
		_ = f.Close()
		if statusOf(err) == http.StatusPreconditionFailed {
			err = fmt.Errorf("%s changed during the download; run the command again: %w", src, err)
		} else if keepForResume(ctx, err) && cf.path != "" {
			_ = cf.save()
			return Result{}, err
		}
		removeQuietly(tmp)
		cf.remove()
		return Result{}, err
	}
	done := cf.done()
	var pending []int
	for i := 1; i <= n; i++ {
		if p, ok := done[i]; ok {
			l.Add(p.Size)
			continue
		}
		pending = append(pending, i)
	}
	err = c.runParts(ctx, pending, func(ctx context.Context, num int) error {
		off, sz := partRange(num, ps, size)
		if sz == 0 {
			return cf.add(CheckpointPart{Number: num})
		}
		var (
			hsh  hash.Hash64
			part int64 // bytes fetched: the part's share of the stored object
		)
		buf := c.pool.get(copyBufSize)
		defer c.pool.put(buf)
		err := c.Retry.do(ctx, func(int) error {
			hsh = crc64x.New()
			if dec != nil {
				n, err := c.fetchDecrypt(ctx, b, d.Key, obj.etag, dec, f, off, sz, hsh, buf, l)
				part = n
				return err
			}
			body, err := b.GetObject(d.Key, oss.WithContext(ctx), oss.Range(off, off+sz-1), oss.IfMatch(obj.etag))
			if err != nil {
				return err
			}
			defer func() { _ = body.Close() }() // a response body: nothing to lose
			w := io.NewOffsetWriter(f, off)
			got, err := io.CopyBuffer(w, &meter{ctx: ctx, r: io.LimitReader(body, sz), lim: c.DownloadLimit, hash: hsh, prog: l}, buf)
			if err == nil && got != sz {
				err = fmt.Errorf("range %d-%d: %w", off, off+sz-1, io.ErrUnexpectedEOF)
			}
			part = got
			return err
		})
		if err != nil {
			return fmt.Errorf("downloading part %d: %w", num, err)
		}
		return cf.add(CheckpointPart{Number: num, Size: part, CRC64: hsh.Sum64()})
	})
	if err != nil {
		return fail(err)
	}
	parts := cf.parts()
	combined := combineParts(parts)
	var fetched int64
	for _, p := range parts {
		fetched += p.Size
	}
	if dec != nil && fetched != obj.size {
		return fail(integrityErrorf("decrypting %s: fetched %d bytes of ciphertext, the object has %d", src, fetched, obj.size))
	}
	if want, ok := parseCRC(obj.crc); ok && want != combined {
		return fail(integrityErrorf("CRC-64 of the data received from %s is %d, the server's is %d", src, combined, want))
	}
	if dec != nil {
		if md := dec.Envelope().UnencryptedContentMD5; md != "" {
			if err := checkFileMD5(f, size, md, src); err != nil {
				return fail(err)
			}
		}
	}
	if err := f.Close(); err != nil {
		removeQuietly(tmp)
		cf.remove()
		return Result{}, fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := finishDownload(tmp, d.LocalPath, obj.modTime); err != nil {
		cf.remove()
		return Result{}, err
	}
	cf.remove()
	return Result{CRC64: formatCRC(combined), Size: size}, nil
}

// fetchDecrypt GETs the ciphertext that holds the plaintext range [off, off+sz) of an
// encrypted object, hashes it into hsh, decrypts it and writes the plaintext at off in f. It
// returns the number of ciphertext bytes fetched.
func (c *Config) fetchDecrypt(ctx context.Context, b *oss.Bucket, key, etag string, dec *cse.Download, f *os.File, off, sz int64,
	hsh hash.Hash64, buf []byte, l *FileListener) (int64, error) {
	plan, err := dec.Plan(off, off+sz-1)
	if err != nil {
		return 0, cse.Classify(err)
	}
	body, err := b.GetObject(key, oss.WithContext(ctx), oss.IfMatch(etag),
		oss.NormalizedRange(strings.TrimPrefix(plan.HTTPRange(), "bytes=")), oss.RangeBehavior("standard"))
	if err != nil {
		return 0, err
	}
	defer func() { _ = body.Close() }() // a response body: nothing to lose
	tr := &transportReader{r: body}
	m := &meter{ctx: ctx, r: tr, lim: c.DownloadLimit, hash: hsh}
	pr, err := dec.DecryptRange(m, plan)
	if err != nil {
		return 0, err
	}
	w := &progressWriter{w: io.NewOffsetWriter(f, off), l: l}
	got, err := io.CopyBuffer(w, pr, buf)
	if err != nil {
		return m.n, tr.transportFirst(err)
	}
	if _, err := io.Copy(io.Discard, m); err != nil {
		return m.n, err
	}
	if want := plan.FetchEnd - plan.FetchStart + 1; got != sz || m.n != want {
		return m.n, integrityErrorf("decrypting %s: range %d-%d gave %d plaintext bytes from %d bytes of ciphertext, expected %d from %d",
			ossURL(b.BucketName, key), off, off+sz-1, got, m.n, sz, want)
	}
	return m.n, nil
}

// combineParts returns the CRC-64 of the concatenation of parts (in number order).
func combineParts(parts []CheckpointPart) uint64 {
	cp := make([]crc64x.Part, len(parts))
	for i, p := range parts {
		cp[i] = crc64x.Part{CRC: p.CRC64, Size: p.Size}
	}
	return crc64x.CombineAll(cp)
}
