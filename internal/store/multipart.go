package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// maxPartNumber bounds part numbers (OSS allows 1..10000; the server checks).
const maxPartNumber = 1<<31 - 1

// newUploadID returns an upload ID whose first 16 hex digits are the
// initiation time, so that IDs of one key sort in initiation order, followed
// by 64 random bits. Uppercase hex, as OSS upload IDs are.
func newUploadID(initiatedNanos int64) string {
	if initiatedNanos < 0 {
		initiatedNanos = 0 // a clock before 1970 would otherwise sort last
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(initiatedNanos))
	_, _ = rand.Read(b[8:]) // never fails on supported platforms
	return upperHex(b[:])
}

func decodeUpload(bucket string, k, v []byte) (*Upload, error) {
	var u Upload
	if err := unmarshalUpload(v, &u); err != nil {
		return nil, corrupt(bucket, fmt.Sprintf("upload %q", k), err)
	}
	if key, id, ok := splitKey(k); ok {
		u.Key, u.UploadID = string(key), string(id)
	}
	return &u, nil
}

func decodePart(bucket string, v []byte) (*Part, error) {
	var p Part
	if err := decodeRecord(v, &p); err != nil {
		return nil, corrupt(bucket, "part", err)
	}
	if p.Extent.Blob != "" && !isBlobID(p.Extent.Blob) || p.Extent.Size < 0 {
		return nil, corrupt(bucket, "part", errors.New("invalid blob ID"))
	}
	return &p, nil
}

// upload returns the upload record (ErrNoSuchUpload).
func (b *bkt) upload(key, uploadID string) ([]byte, *Upload, error) {
	k := uploadKey(key, uploadID)
	v := b.uploads.Get(k)
	if v == nil {
		return nil, nil, fmt.Errorf("%w: %s/%s upload %s", ErrNoSuchUpload, b.name, key, uploadID)
	}
	u, err := decodeUpload(b.name, k, v)
	return k, u, err
}

// forParts calls fn for each part of the upload, in number order, starting
// after part number marker. Undecodable parts are reported as errors.
func (b *bkt) forParts(uploadID string, marker int, fn func(k []byte, p *Part) (bool, error)) error {
	c := b.parts.Cursor()
	prefix := []byte(uploadID)
	for k, v := c.Seek(partKey(uploadID, marker+1)); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+4; k, v = c.Next() {
		p, err := decodePart(b.name, v)
		if err != nil {
			return err
		}
		more, err := fn(k, p)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// CreateUpload registers a new upload for u.Key with u.Template; the store
// sets UploadID and Initiated.
func (s *Store) CreateUpload(bucket string, u *Upload) (*Upload, error) {
	if u == nil {
		return nil, fmt.Errorf("%w: nil upload", ErrInvalidArgument)
	}
	if err := validKey(u.Key); err != nil {
		return nil, err
	}
	rec := *u
	var result *Upload
	err := s.update(func(tx *bolt.Tx) error {
		result = nil
		b, err := openBkt(tx, bucket)
		if err != nil {
			return clean(err)
		}
		now := s.now()
		rec.Initiated = now
		rec.UploadID = newUploadID(now.UnixNano())
		rec.Template.Key = rec.Key
		if err := b.uploads.Put(uploadKey(rec.Key, rec.UploadID), encodeUpload(&rec)); err != nil {
			return fmt.Errorf("store: creating upload: %w", err)
		}
		if err := b.addCounters(0, 0, 1, now); err != nil {
			return err
		}
		r := rec
		result = &r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return result, nil
}

// GetUpload returns an upload in progress (ErrNoSuchUpload).
func (s *Store) GetUpload(bucket, key, uploadID string) (*Upload, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	return viewBucket(s, bucket, func(b *bkt) (*Upload, error) {
		_, u, err := b.upload(key, uploadID)
		return u, err
	})
}

// PutPart commits blob as part number n of the upload, replacing an earlier
// part with that number (whose data is freed).
func (s *Store) PutPart(ctx context.Context, bucket, key, uploadID string, n int, blob *BlobWriter) (*Part, error) {
	if blob == nil {
		return nil, fmt.Errorf("%w: nil blob", ErrInvalidArgument)
	}
	fail := func(err error) (*Part, error) {
		blob.discard()
		return nil, err
	}
	if err := validKey(key); err != nil {
		return fail(err)
	}
	if n < 1 || n > maxPartNumber {
		return fail(fmt.Errorf("%w: part number %d", ErrInvalidArgument, n))
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("store: upload part %d of %s/%s: %w", n, bucket, key, err))
	}
	ext, has, err := blob.seal()
	if err != nil {
		return fail(err)
	}
	part := &Part{Number: n, Size: blob.Size(), MD5: blob.MD5(), ETag: blob.ETag(), CRC64: blob.CRC64()}
	var inline map[string][]byte
	if has {
		part.Extent = ext
		if ext.Inline {
			inline = map[string][]byte{ext.Blob: blob.inlineData()}
		}
	}
	var frees []Extent
	err = s.update(func(tx *bolt.Tx) error {
		frees = nil
		b, err := openBkt(tx, bucket)
		if err != nil {
			return clean(err)
		}
		if _, _, err := b.upload(key, uploadID); err != nil {
			return clean(err)
		}
		now := s.now()
		part.Modified = now
		val, err := encodeRecord(part)
		if err != nil {
			return clean(err)
		}
		pk := partKey(uploadID, n)
		var oldSize int64
		if oldRaw := b.parts.Get(pk); oldRaw != nil {
			if old, err := decodePart(bucket, oldRaw); err == nil {
				oldSize = old.Size
				if old.Extent.Blob != "" {
					if frees, err = b.freeExtents([]Extent{old.Extent}, nil, nil); err != nil {
						return err
					}
				}
			}
		}
		for id, data := range inline {
			if err := b.inline.Put([]byte(id), data); err != nil {
				return fmt.Errorf("store: storing inline part data: %w", err)
			}
		}
		if err := b.parts.Put(pk, val); err != nil {
			return fmt.Errorf("store: storing part %d: %w", n, err)
		}
		return b.addCounters(part.Size-oldSize, 0, 0, now)
	})
	if err != nil {
		return fail(err)
	}
	blob.committed()
	s.removeBlobFiles(frees)
	return part, nil
}

// ListParts returns parts with number > marker in order, up to limit
// (limit <= 0 means 1000), and whether more remain.
func (s *Store) ListParts(bucket, key, uploadID string, marker, limit int) ([]Part, bool, error) {
	if limit <= 0 {
		limit = 1000
	}
	if marker < 0 {
		marker = 0
	}
	if marker >= maxPartNumber {
		return nil, false, nil
	}
	var (
		out       []Part
		truncated bool
	)
	err := s.view(func(tx *bolt.Tx) error {
		b, err := openBkt(tx, bucket)
		if err != nil {
			return err
		}
		if _, _, err := b.upload(key, uploadID); err != nil {
			return err
		}
		return b.forParts(uploadID, marker, func(_ []byte, p *Part) (bool, error) {
			if len(out) == limit {
				truncated = true
				return false, nil
			}
			out = append(out, *p)
			return true, nil
		})
	})
	if err != nil {
		return nil, false, err
	}
	return out, truncated, nil
}

// AllParts returns every uploaded part of the upload, in number order.
func (s *Store) AllParts(bucket, key, uploadID string) ([]Part, error) {
	return viewBucket(s, bucket, func(b *bkt) ([]Part, error) {
		if _, _, err := b.upload(key, uploadID); err != nil {
			return nil, err
		}
		var out []Part
		err := b.forParts(uploadID, 0, func(_ []byte, p *Part) (bool, error) {
			out = append(out, *p)
			return true, nil
		})
		return out, err
	})
}

// CompleteUpload turns an upload into an object without copying data.
// build receives the upload and all its parts and returns the object record
// (with Extents, Size, ETag, CRC64 set by the caller from the chosen parts);
// parts not referenced by the record are freed. check sees the current
// version. If uploadID was already completed into the current version of
// key, CompleteUpload returns that object again (idempotent retry).
//
// The record's extents must be extents of distinct parts of this upload and
// add up to its Size (else ErrInvalidArgument). An empty Type means
// TypeMultipart. build and check may run more than once. A retry is answered
// without calling build or check.
func (s *Store) CompleteUpload(ctx context.Context, bucket, key, uploadID string, build func(u *Upload, parts []Part) (*Object, error), check func(cur *Object) error) (*Object, error) {
	if err := beginWrite(ctx, "complete", bucket, key); err != nil {
		return nil, err
	}
	var (
		result *Object
		frees  []Extent
	)
	err := s.update(func(tx *bolt.Tx) error {
		result, frees = nil, nil
		b, err := openBkt(tx, bucket)
		if err != nil {
			return clean(err)
		}
		uk, u, err := b.upload(key, uploadID)
		if errors.Is(err, ErrNoSuchUpload) {
			if o := b.completedObject(key, uploadID); o != nil {
				result = o
				return nil
			}
		}
		if err != nil {
			return clean(err)
		}
		var (
			parts    []Part
			partKeys [][]byte
		)
		if err := b.forParts(uploadID, 0, func(k []byte, p *Part) (bool, error) {
			parts = append(parts, *p)
			partKeys = append(partKeys, bytes.Clone(k))
			return true, nil
		}); err != nil {
			return clean(err)
		}
		obj, err := build(u, parts)
		if err != nil {
			return clean(err)
		}
		if obj == nil {
			return clean(fmt.Errorf("%w: complete built no object", ErrInvalidArgument))
		}
		if err := checkCompletedExtents(obj, parts); err != nil {
			return clean(err)
		}
		if check != nil {
			if err := check(b.currentObject(key)); err != nil {
				return clean(err)
			}
		}
		rec := newRecord(obj)
		rec.Key = key
		if obj.Type == "" {
			rec.Type = TypeMultipart
		}
		rec.Size, rec.ETag, rec.CRC64, rec.Extents = obj.Size, obj.ETag, obj.CRC64, obj.Extents
		now := s.now()
		rec.Modified = now

		// Mutations start here.
		var partBytes int64
		var unused []Extent
		used := extentSet(rec.Extents)
		for _, p := range parts {
			partBytes += p.Size
			if p.Extent.Blob == "" {
				continue
			}
			if _, ok := used[p.Extent.Blob]; !ok {
				unused = append(unused, p.Extent)
			}
		}
		if err := b.dropUpload(uk, partKeys); err != nil {
			return err
		}
		if frees, err = b.freeExtents(unused, nil, nil); err != nil {
			return err
		}
		if err := b.addCounters(-partBytes, 0, -1, now); err != nil {
			return err
		}
		replaced, err := b.putVersion(rec, nil, &doneRecord{UploadID: uploadID, VersionID: rec.VersionID, ETag: rec.ETag}, now)
		if err != nil {
			return unclean(err) // after mutations every failure is dirty
		}
		frees = append(frees, replaced...)
		result = rec
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.removeBlobFiles(frees)
	return result, nil
}

// completedObject returns the current version of key if it was made by
// completing uploadID, else nil.
func (b *bkt) completedObject(key, uploadID string) *Object {
	v := b.done.Get([]byte(key))
	if v == nil {
		return nil
	}
	var d doneRecord
	if decodeRecord(v, &d) != nil || d.UploadID != uploadID {
		return nil
	}
	o := b.currentObject(key)
	if o == nil || o.VersionID != d.VersionID || o.ETag != d.ETag {
		return nil
	}
	return o
}

// checkCompletedExtents verifies that obj's extents are extents of distinct
// parts and add up to obj.Size.
func checkCompletedExtents(obj *Object, parts []Part) error {
	byBlob := make(map[string]Extent, len(parts))
	for _, p := range parts {
		if p.Extent.Blob != "" {
			byBlob[p.Extent.Blob] = p.Extent
		}
	}
	var total int64
	seen := make(map[string]struct{}, len(obj.Extents))
	for _, e := range obj.Extents {
		pe, ok := byBlob[e.Blob]
		if !ok || pe != e {
			return fmt.Errorf("%w: completed object refers to data %s that is not a part of the upload", ErrInvalidArgument, e.Blob)
		}
		if _, dup := seen[e.Blob]; dup {
			return fmt.Errorf("%w: completed object uses part data %s twice", ErrInvalidArgument, e.Blob)
		}
		seen[e.Blob] = struct{}{}
		total += e.Size
	}
	if total != obj.Size {
		return fmt.Errorf("%w: completed object size %d, parts hold %d", ErrInvalidArgument, obj.Size, total)
	}
	return nil
}

// dropUpload deletes the upload record uk and the part records partKeys.
func (b *bkt) dropUpload(uk []byte, partKeys [][]byte) error {
	for _, pk := range partKeys {
		if err := b.parts.Delete(pk); err != nil {
			return fmt.Errorf("store: deleting part: %w", err)
		}
	}
	if err := b.uploads.Delete(uk); err != nil {
		return fmt.Errorf("store: deleting upload: %w", err)
	}
	return nil
}

// AbortUpload deletes an upload and its parts (ErrNoSuchUpload).
func (s *Store) AbortUpload(ctx context.Context, bucket, key, uploadID string) error {
	if err := beginWrite(ctx, "abort", bucket, key); err != nil {
		return err
	}
	var frees []Extent
	err := s.update(func(tx *bolt.Tx) error {
		frees = nil
		b, err := openBkt(tx, bucket)
		if err != nil {
			return clean(err)
		}
		uk, _, err := b.upload(key, uploadID)
		if err != nil && !errors.Is(err, ErrCorruptMetadata) {
			return clean(err)
		}
		var (
			keys      [][]byte
			exts      []Extent
			partBytes int64
		)
		c := b.parts.Cursor()
		prefix := []byte(uploadID)
		for k, v := c.Seek(prefix); k != nil && len(k) == len(prefix)+4 && string(k[:len(prefix)]) == uploadID; k, v = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
			if p, err := decodePart(bucket, v); err == nil {
				partBytes += p.Size
				if p.Extent.Blob != "" {
					exts = append(exts, p.Extent)
				}
			}
		}
		if err := b.dropUpload(uk, keys); err != nil {
			return err
		}
		if frees, err = b.freeExtents(exts, nil, nil); err != nil {
			return err
		}
		return b.addCounters(-partBytes, 0, -1, s.now())
	})
	if err != nil {
		return err
	}
	s.removeBlobFiles(frees)
	return nil
}

// PutPartCopy is UploadPartCopy: part n is made from bytes [off, off+n) of
// the source version (data copied into a new blob).
//
// length is the number of bytes. The data is streamed from a consistent
// snapshot of the source through a bounded buffer. check runs on the
// source's metadata before any data is copied.
func (s *Store) PutPartCopy(ctx context.Context, srcBucket, srcKey, srcVersion string, off, length int64, dstBucket, key, uploadID string, n int, check func(src *Object) error) (*Part, error) {
	if _, err := s.GetUpload(dstBucket, key, uploadID); err != nil {
		return nil, err
	}
	src, r, err := s.OpenObject(srcBucket, srcKey, srcVersion)
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.Close() }()
	if check != nil {
		if err := check(src); err != nil {
			return nil, err
		}
	}
	if off < 0 || length < 0 || off > src.Size || length > src.Size-off {
		return nil, fmt.Errorf("%w: bytes %d+%d of a %d-byte object", ErrInvalidRange, off, length, src.Size)
	}
	blob, err := s.NewBlob()
	if err != nil {
		return nil, err
	}
	if _, err := r.WriteRangeTo(ctxWriter{ctx, blob}, off, length); err != nil {
		blob.Abort()
		return nil, fmt.Errorf("store: copying part data: %w", err)
	}
	return s.PutPart(ctx, dstBucket, key, uploadID, n, blob)
}

// ctxWriter stops a copy when its context is done. It deliberately hides
// the BlobWriter's ReadFrom so every chunk passes the context check.
type ctxWriter struct {
	ctx context.Context
	w   *BlobWriter
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
