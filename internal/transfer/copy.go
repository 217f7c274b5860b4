package transfer

import (
	"context"
	"fmt"
	"maps"
	"net/http"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// Copy is a server-side copy of one object.
type Copy struct {
	SrcBucket, SrcKey string
	DstBucket, DstKey string
	// SrcHeader is the source's HEAD response: size, ETag, CRC-64 and the headers to keep.
	SrcHeader http.Header
	// Headers change the destination: a ContentType or Meta replaces the source's metadata
	// (the other content headers are kept); ACL and StorageClass apply on top.
	Headers Headers
}

// copyOptions returns the destination headers of a copy. A single CopyObject copies the
// source's metadata by itself unless it is replaced; a multipart copy copies none, so it must
// send everything the destination should have.
func copyOptions(cp Copy, multipart bool) []oss.Option {
	var opts []oss.Option
	replace := cp.Headers.ContentType != "" || len(cp.Headers.Meta) > 0
	if replace || multipart {
		skip := map[string]bool{}
		if cp.Headers.ContentType != "" {
			skip["Content-Type"] = true
			opts = append(opts, oss.ContentType(cp.Headers.ContentType))
		}
		opts = append(opts, KeptHeaderOptions(cp.SrcHeader, skip)...)
		meta := cp.Headers.Meta
		if len(meta) == 0 {
			meta = UserMeta(cp.SrcHeader)
		} else {
			// New metadata never drops a client-side encryption envelope: without it the copy
			// could not be decrypted.
			meta = maps.Clone(meta)
			for k, v := range UserMeta(cp.SrcHeader) {
				if isEnvelopeMeta(k) {
					meta[k] = v
				}
			}
			for k := range cp.Headers.Meta {
				if isEnvelopeMeta(k) && UserMeta(cp.SrcHeader)[k] == "" {
					delete(meta, k)
				}
			}
		}
		opts = append(opts, MetaOptions(meta)...)
		if !multipart {
			opts = append(opts, oss.MetadataDirective(oss.MetaReplace))
		}
	}
	if cp.Headers.ACL != "" {
		opts = append(opts, oss.ObjectACL(oss.ACLType(cp.Headers.ACL)))
	}
	if cp.Headers.StorageClass != "" {
		opts = append(opts, oss.ObjectStorageClass(oss.StorageClassType(cp.Headers.StorageClass)))
	}
	return append(opts, cp.Headers.sseOptions()...)
}

// Copy copies an object inside OSS without moving its data through this machine: one
// CopyObject up to the threshold (and MaxSingleCopy), parallel UploadPartCopy requests with a
// checkpoint above, also between buckets. Every request is conditional on the source's ETag,
// and the copy's CRC-64 must equal the source's; on a mismatch the copy is removed.
func (c *Config) Copy(ctx context.Context, cp Copy, l *FileListener) (Result, error) {
	dst, err := c.bucket(cp.DstBucket)
	if err != nil {
		return Result{}, err
	}
	src, err := headInfo(cp.SrcHeader)
	if err != nil {
		return Result{}, fmt.Errorf("reading %s: %w", ossURL(cp.SrcBucket, cp.SrcKey), err)
	}
	srcCRC, haveCRC := parseCRC(src.crc)
	multipart := c.Multipart(src.size) || src.size > MaxSingleCopy
	opts := copyOptions(cp, multipart)
	if !multipart {
		var h http.Header
		err := c.Retry.do(ctx, func(int) error {
			o := append(append([]oss.Option{}, opts...), oss.WithContext(ctx), oss.GetResponseHeader(&h))
			if src.etag != "" {
				o = append(o, oss.CopySourceIfMatch(src.etag))
			}
			_, cerr := dst.CopyObjectFrom(cp.SrcBucket, cp.SrcKey, cp.DstKey, o...)
			return cerr
		})
		if err != nil {
			return Result{}, err
		}
		got, ok := parseCRC(h.Get(HeaderCRC64))
		if !ok {
			if hh, herr := c.head(ctx, dst, cp.DstKey); herr == nil {
				got, ok = parseCRC(hh.Get(HeaderCRC64))
			}
		}
		if ok && haveCRC && got != srcCRC {
			c.deleteQuietly(dst, cp.DstKey)
			return Result{}, integrityErrorf("CRC-64 of the copy %s (%d) differs from the source's (%d); the copy was removed",
				ossURL(cp.DstBucket, cp.DstKey), got, srcCRC)
		}
		l.Add(src.size)
		res := Result{Size: src.size}
		if ok {
			res.CRC64 = formatCRC(got)
		}
		return res, nil
	}
	return c.copyMultipart(ctx, dst, cp, src, opts, l)
}

func (c *Config) copyMultipart(ctx context.Context, dst *oss.Bucket, cp Copy, src remoteObject, opts []oss.Option, l *FileListener) (Result, error) {
	size := src.size
	ps := c.PartSizeFor(size)
	n := partCount(size, ps)
	srcURL, dstURL := ossURL(cp.SrcBucket, cp.SrcKey), ossURL(cp.DstBucket, cp.DstKey)
	want := Checkpoint{Kind: "copy", Source: srcURL, Destination: dstURL, Size: size, ETag: src.etag, PartSize: ps}
	path, err := c.checkpointPath("copy", srcURL, dstURL)
	if err != nil {
		return Result{}, err
	}
	cf, err := c.resumeUpload(ctx, dst, path, want, nil)
	if err != nil {
		return Result{}, err
	}
	if cf == nil {
		var imur oss.InitiateMultipartUploadResult
		err := c.Retry.do(ctx, func(int) error {
			var ierr error
			imur, ierr = dst.InitiateMultipartUpload(cp.DstKey, append(append([]oss.Option{}, opts...), oss.WithContext(ctx))...)
			return ierr
		})
		if err != nil {
			return Result{}, fmt.Errorf("starting multipart copy: %w", err)
		}
		want.UploadID = imur.UploadID
		cf = newCheckpointFile(path, want)
		if err := cf.save(); err != nil {
			c.warn("%v: the copy will not be resumable", err)
			cf.path = ""
		}
	}
	imur := oss.InitiateMultipartUploadResult{Bucket: cp.DstBucket, Key: cp.DstKey, UploadID: cf.cp.UploadID}
	fail := func(err error) (Result, error) {
		if statusOf(err) == http.StatusPreconditionFailed {
			err = fmt.Errorf("%s changed during the copy; run the command again: %w", srcURL, err)
		} else if keepForResume(ctx, err) && cf.path != "" {
			_ = cf.save()
			return Result{}, err
		}
		c.abortQuietly(dst, imur)
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
		var part oss.UploadPart
		err := c.Retry.do(ctx, func(int) error {
			o := []oss.Option{oss.WithContext(ctx)}
			if src.etag != "" {
				o = append(o, oss.CopySourceIfMatch(src.etag))
			}
			var perr error
			part, perr = dst.UploadPartCopy(imur, cp.SrcBucket, cp.SrcKey, off, sz, num, o...)
			return perr
		})
		if err != nil {
			return fmt.Errorf("copying part %d: %w", num, err)
		}
		l.Add(sz)
		return cf.add(CheckpointPart{Number: num, ETag: part.ETag, Size: sz})
	})
	if err != nil {
		return fail(err)
	}
	srcCRC, known := parseCRC(src.crc)
	res, err := c.completeExpecting(ctx, dst, imur, cf.parts(), size, srcCRC, known)
	if err != nil {
		return fail(err)
	}
	cf.remove()
	return res, nil
}
