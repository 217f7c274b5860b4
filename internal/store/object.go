package store

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // ETag derivation, not security
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ossctl/ossctl/internal/crc64x"
)

// errSourceChanged makes CopyObject start over when its source changed
// between linking the blobs and committing.
var errSourceChanged = errors.New("store: copy source changed")

// doneRecord remembers which upload produced a key's current version, so a
// retried CompleteUpload is answered with that object.
type doneRecord struct {
	UploadID  string `json:"id"`
	VersionID string `json:"ver"`
	ETag      string `json:"etag"`
}

// currentObject returns the decoded current version of key, or nil when
// there is none, it is a delete marker, or it cannot be decoded.
func (b *bkt) currentObject(key string) *Object {
	k, v := b.current(key)
	if v == nil {
		return nil
	}
	o, err := decodeObject(b.name, k, v)
	if err != nil || o.DeleteMarker {
		return nil
	}
	return o
}

// extentSet returns the blob IDs of exts.
func extentSet(exts []Extent) map[string]struct{} {
	m := make(map[string]struct{}, len(exts))
	for _, e := range exts {
		m[e.Blob] = struct{}{}
	}
	return m
}

// freeExtents releases extents: inline data is deleted now, inside the
// transaction; file extents are returned for deletion after the commit.
func (b *bkt) freeExtents(exts []Extent, keep map[string]struct{}, files []Extent) ([]Extent, error) {
	for _, e := range exts {
		if _, ok := keep[e.Blob]; ok {
			continue
		}
		if e.Inline {
			if err := b.inline.Delete([]byte(e.Blob)); err != nil {
				return files, fmt.Errorf("store: freeing inline data: %w", err)
			}
			continue
		}
		files = append(files, e)
	}
	return files, nil
}

// putVersion stores rec as version rec.VersionID of rec.Key, replacing any
// record there, storing the given inline data and adjusting the counters.
// Extents of the replaced record that rec does not keep are freed (see
// freeExtents). done, if non-nil, records the upload that made rec;
// otherwise any such record for the key is dropped. Errors before the first
// modification are clean.
func (b *bkt) putVersion(rec *Object, inline map[string][]byte, done *doneRecord, now time.Time) ([]Extent, error) {
	val := encodeObject(rec)
	var doneVal []byte
	if done != nil {
		var err error
		if doneVal, err = encodeRecord(done); err != nil {
			return nil, clean(err)
		}
	}
	k := objKey(rec.Key, rec.VersionID)
	var (
		oldSize    int64
		oldObjects int64
		files      []Extent
	)
	if oldRaw := b.objects.Get(k); oldRaw != nil {
		oldObjects = 1
		if old, err := decodeObject(b.name, k, oldRaw); err == nil {
			oldSize = old.Size
			if old.DeleteMarker {
				oldObjects = 0
			}
			if files, err = b.freeExtents(old.Extents, extentSet(rec.Extents), nil); err != nil {
				return nil, err
			}
		}
	}
	for id, data := range inline {
		if err := b.inline.Put([]byte(id), data); err != nil {
			return nil, fmt.Errorf("store: storing inline data: %w", err)
		}
	}
	if err := b.objects.Put(k, val); err != nil {
		return nil, fmt.Errorf("store: storing %s/%s: %w", b.name, rec.Key, err)
	}
	newObjects := int64(1)
	if rec.DeleteMarker {
		newObjects = 0
	}
	if err := b.addCounters(rec.Size-oldSize, newObjects-oldObjects, 0, now); err != nil {
		return nil, err
	}
	dk := []byte(rec.Key)
	if done != nil {
		if err := b.done.Put(dk, doneVal); err != nil {
			return nil, fmt.Errorf("store: recording completed upload: %w", err)
		}
	} else if b.done.Get(dk) != nil {
		if err := b.done.Delete(dk); err != nil {
			return nil, fmt.Errorf("store: dropping completed upload: %w", err)
		}
	}
	return files, nil
}

// deleteVersion removes the record at k (old is its decoded form, nil if
// undecodable) and frees its data.
func (b *bkt) deleteVersion(k []byte, old *Object, now time.Time) ([]Extent, error) {
	var (
		files []Extent
		size  int64
		count int64 = 1
		err   error
	)
	if old != nil {
		size = old.Size
		if old.DeleteMarker {
			count = 0
		}
		if files, err = b.freeExtents(old.Extents, nil, nil); err != nil {
			return nil, err
		}
	}
	if err := b.objects.Delete(k); err != nil {
		return nil, fmt.Errorf("store: deleting %s/%q: %w", b.name, k, err)
	}
	if err := b.addCounters(-size, -count, 0, now); err != nil {
		return nil, err
	}
	if key, _, ok := splitKey(k); ok && b.done.Get(key) != nil {
		if err := b.done.Delete(key); err != nil {
			return nil, fmt.Errorf("store: dropping completed upload: %w", err)
		}
	}
	return files, nil
}

// newRecord builds a record from the caller-owned fields of obj.
func newRecord(obj *Object) *Object {
	rec := &Object{
		Key:          obj.Key,
		VersionID:    NullVersion,
		Type:         obj.Type,
		StorageClass: obj.StorageClass,
		ContentType:  obj.ContentType,
		Headers:      obj.Headers,
		UserMeta:     obj.UserMeta,
		ACL:          obj.ACL,
		Tagging:      obj.Tagging,
		Symlink:      obj.Symlink,
		Extra:        obj.Extra,
	}
	if rec.Type == "" {
		rec.Type = TypeNormal
	}
	return rec
}

// PutObject commits blob as the data of obj (Key, ContentType, Headers,
// UserMeta, ACL, StorageClass, Type, Tagging, Extra are taken from obj; Size,
// ETag, CRC64, Modified, Extents and VersionID are filled in by the store).
// check runs inside the metadata transaction with the current version (nil if
// none) and can veto the write; then blob is made durable and the record
// committed. The previous version's data is freed (unless versioning keeps
// it). On any error the blob is discarded and nothing changes.
//
// The blob is made durable before the transaction starts (so the committer
// never waits for data fsyncs); check may run more than once and must not
// have side effects. Symlink is taken from obj as well; an empty Type means
// TypeNormal.
func (s *Store) PutObject(ctx context.Context, bucket string, obj *Object, blob *BlobWriter, check func(cur *Object) error) (*Object, error) {
	if blob == nil {
		return nil, fmt.Errorf("%w: nil blob", ErrInvalidArgument)
	}
	fail := func(err error) (*Object, error) {
		blob.discard()
		return nil, err
	}
	if obj == nil {
		return fail(fmt.Errorf("%w: nil object", ErrInvalidArgument))
	}
	if err := beginWrite(ctx, "put", bucket, obj.Key); err != nil {
		return fail(err)
	}
	ext, has, err := blob.seal()
	if err != nil {
		return fail(err)
	}
	rec := newRecord(obj)
	rec.Size, rec.ETag, rec.CRC64 = blob.Size(), blob.ETag(), blob.CRC64()
	var inline map[string][]byte
	if has {
		rec.Extents = []Extent{ext}
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
		if check != nil {
			if err := check(b.currentObject(rec.Key)); err != nil {
				return clean(err)
			}
		}
		now := s.now()
		rec.Modified = now
		frees, err = b.putVersion(rec, inline, nil, now)
		return err
	})
	if err != nil {
		return fail(err)
	}
	blob.committed()
	s.removeBlobFiles(frees)
	return rec, nil
}

// appendETag chains an appendable object's ETag: uppercase hex
// MD5(previous ETag ‖ MD5 of the appended bytes). It changes with every
// append and is not the MD5 of the content (as on OSS).
func appendETag(prev string, blobMD5 []byte) string {
	h := md5.New() //nolint:gosec // ETag
	_, _ = h.Write([]byte(prev))
	_, _ = h.Write(blobMD5)
	return upperHex(h.Sum(nil))
}

// AppendObject appends blob to an Appendable object (creating it from tmpl
// when absent). check sees the current version (nil if none) and validates
// position and type. The result's Size is the new length and CRC64 the
// combined CRC of the whole object.
//
// Each append adds one extent; old data is never rewritten. The ETag is
// appendETag's chain. To keep the inline bytes of one object bounded,
// appended data is stored inline only while the whole object stays within
// the inline threshold.
func (s *Store) AppendObject(ctx context.Context, bucket string, tmpl *Object, blob *BlobWriter, check func(cur *Object) error) (*Object, error) {
	if blob == nil {
		return nil, fmt.Errorf("%w: nil blob", ErrInvalidArgument)
	}
	fail := func(err error) (*Object, error) {
		blob.discard()
		return nil, err
	}
	if tmpl == nil {
		return fail(fmt.Errorf("%w: nil object", ErrInvalidArgument))
	}
	key := tmpl.Key
	if err := beginWrite(ctx, "append", bucket, key); err != nil {
		return fail(err)
	}
	if blob.state == blobOpen && blob.f == nil && blob.limit >= 0 && blob.err == nil {
		var curSize int64
		_ = s.view(func(tx *bolt.Tx) error {
			if b, err := openBkt(tx, bucket); err == nil {
				if cur := b.currentObject(key); cur != nil {
					curSize = cur.Size
				}
			}
			return nil
		})
		if curSize+blob.size > blob.limit {
			if err := blob.spill(); err != nil {
				blob.err = err
				return fail(err)
			}
		}
	}
	ext, has, err := blob.seal()
	if err != nil {
		return fail(err)
	}
	var inline map[string][]byte
	if has && ext.Inline {
		inline = map[string][]byte{ext.Blob: blob.inlineData()}
	}
	size, crc, sum := blob.Size(), blob.CRC64(), blob.MD5()
	var (
		frees  []Extent
		result *Object
	)
	err = s.update(func(tx *bolt.Tx) error {
		frees, result = nil, nil
		b, err := openBkt(tx, bucket)
		if err != nil {
			return clean(err)
		}
		cur := b.currentObject(key)
		if check != nil {
			if err := check(cur); err != nil {
				return clean(err)
			}
		}
		var rec *Object
		if cur == nil {
			rec = newRecord(tmpl)
			rec.Type = TypeAppendable
			rec.Size, rec.CRC64, rec.ETag = size, crc, appendETag("", sum)
		} else {
			rec = cur
			rec.Extents = slices.Clone(cur.Extents)
			rec.CRC64 = crc64x.Combine(cur.CRC64, crc, size)
			rec.Size += size
			rec.ETag = appendETag(cur.ETag, sum)
		}
		if has {
			rec.Extents = append(rec.Extents, ext)
		}
		now := s.now()
		rec.Modified = now
		result = rec
		frees, err = b.putVersion(rec, inline, nil, now)
		return err
	})
	if err != nil {
		return fail(err)
	}
	blob.committed()
	s.removeBlobFiles(frees)
	return result, nil
}

// CopyObject makes dst (a full record: metadata from the caller) with the
// data of the source version, without reading the data through the caller
// (blob files are hard-linked, inline data copied). check sees the current
// destination version.
//
// Size, ETag, CRC64 and Extents come from the source; an empty dst.Type
// means the source's type. check may run more than once.
func (s *Store) CopyObject(ctx context.Context, srcBucket, srcKey, srcVersion, dstBucket string, dst *Object, check func(src, cur *Object) error) (*Object, error) {
	if dst == nil {
		return nil, fmt.Errorf("%w: nil object", ErrInvalidArgument)
	}
	if err := validKey(srcKey); err != nil {
		return nil, err
	}
	if err := validKey(dst.Key); err != nil {
		return nil, err
	}
	for attempt := 0; attempt < copyRetries; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("store: copy to %s/%s: %w", dstBucket, dst.Key, err)
		}
		var srcExts []Extent
		err := s.view(func(tx *bolt.Tx) error {
			b, err := openBkt(tx, srcBucket)
			if err != nil {
				return err
			}
			_, o, err := b.lookup(srcKey, srcVersion)
			if err != nil {
				return err
			}
			srcExts = slices.Clone(o.Extents)
			return nil
		})
		if err != nil {
			return nil, err
		}
		newExts, linked, raced, err := s.linkExtents(srcExts)
		if err != nil || raced {
			s.removeBlobFiles(linked)
			if err != nil {
				return nil, err
			}
			continue
		}
		if s.testHookCopyLinked != nil {
			s.testHookCopyLinked()
		}
		var (
			result *Object
			frees  []Extent
		)
		err = s.update(func(tx *bolt.Tx) error {
			result, frees = nil, nil
			sb, err := openBkt(tx, srcBucket)
			if err != nil {
				return clean(err)
			}
			_, src, err := sb.lookup(srcKey, srcVersion)
			if err != nil {
				return clean(err)
			}
			if !slices.Equal(src.Extents, srcExts) {
				return clean(errSourceChanged)
			}
			db, err := openBkt(tx, dstBucket)
			if err != nil {
				return clean(err)
			}
			if check != nil {
				if err := check(src, db.currentObject(dst.Key)); err != nil {
					return clean(err)
				}
			}
			inline := map[string][]byte{}
			for i, e := range src.Extents {
				if !e.Inline {
					continue
				}
				data := sb.inline.Get([]byte(e.Blob))
				if int64(len(data)) != e.storedSize() {
					return clean(corrupt(srcBucket, fmt.Sprintf("object %q inline data", srcKey), errors.New("missing or wrong size")))
				}
				inline[newExts[i].Blob] = bytes.Clone(data)
			}
			rec := newRecord(dst)
			if dst.Type == "" {
				rec.Type = src.Type
			}
			rec.Size, rec.ETag, rec.CRC64, rec.Extents = src.Size, src.ETag, src.CRC64, newExts
			now := s.now()
			rec.Modified = now
			result = rec
			frees, err = db.putVersion(rec, inline, nil, now)
			return err
		})
		if err != nil {
			s.removeBlobFiles(linked)
			if errors.Is(err, errSourceChanged) {
				continue
			}
			return nil, err
		}
		s.removeBlobFiles(frees)
		return result, nil
	}
	return nil, fmt.Errorf("store: copy from %s/%s: source kept changing", srcBucket, srcKey)
}

// linkExtents gives every extent a new blob ID, hard-linking file extents
// to their new names and syncing the directories. raced reports a source
// blob that vanished (a concurrent overwrite); linked lists the links made,
// which the caller removes unless it commits them.
func (s *Store) linkExtents(src []Extent) (out, linked []Extent, raced bool, err error) {
	out = make([]Extent, len(src))
	dirs := map[string]struct{}{}
	for i, e := range src {
		ne := Extent{Blob: newID(), Size: e.Size, Inline: e.Inline, Stored: e.Stored, Seal: e.Seal}
		if !e.Inline {
			if err := os.Link(s.blobPath(e.Blob), s.blobPath(ne.Blob)); err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return nil, linked, true, nil
				}
				return nil, linked, false, fmt.Errorf("store: linking blob: %w", err)
			}
			linked = append(linked, ne)
			dirs[s.blobDir(ne.Blob)] = struct{}{}
		}
		out[i] = ne
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return nil, linked, false, err
		}
	}
	return out, linked, false, nil
}

// UpdateObject rewrites a version's metadata in place (ACL, tagging, ...).
// fn must not change Key, VersionID, Size, Extents.
func (s *Store) UpdateObject(bucket, key, versionID string, fn func(o *Object) error) (*Object, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	var result *Object
	err := s.update(func(tx *bolt.Tx) error {
		result = nil
		b, err := openBkt(tx, bucket)
		if err != nil {
			return clean(err)
		}
		k, o, err := b.lookup(key, versionID)
		if err != nil {
			return clean(err)
		}
		size, ver, exts := o.Size, o.VersionID, slices.Clone(o.Extents)
		if err := fn(o); err != nil {
			return clean(err)
		}
		if o.Key != key || o.VersionID != ver || o.Size != size || !slices.Equal(o.Extents, exts) {
			return clean(fmt.Errorf("%w: metadata update of %s/%s changed its identity or data", ErrInvalidArgument, bucket, key))
		}
		if err := b.objects.Put(k, encodeObject(o)); err != nil {
			return fmt.Errorf("store: updating %s/%s: %w", bucket, key, err)
		}
		result = o
		return nil
	})
	if err != nil {
		return nil, err
	}
	return result, nil
}

// GetObject returns a version's metadata ("" = current version).
func (s *Store) GetObject(bucket, key, versionID string) (*Object, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	return viewBucket(s, bucket, func(b *bkt) (*Object, error) {
		_, o, err := b.lookup(key, versionID)
		return o, err
	})
}

// OpenObject returns a version's metadata and a reader over a consistent
// snapshot of its bytes: a concurrent overwrite or delete never shows a mix.
//
// All blob files of the version are opened before returning; inline data is
// copied out of the metadata transaction.
func (s *Store) OpenObject(bucket, key, versionID string) (*Object, *ObjectReader, error) {
	if err := validKey(key); err != nil {
		return nil, nil, err
	}
	for attempt := 0; attempt < copyRetries; attempt++ {
		var (
			obj    *Object
			inline map[int][]byte
		)
		err := s.view(func(tx *bolt.Tx) error {
			b, err := openBkt(tx, bucket)
			if err != nil {
				return err
			}
			_, obj, err = b.lookup(key, versionID)
			if err != nil {
				return err
			}
			for i, e := range obj.Extents {
				if !e.Inline {
					continue
				}
				data := b.inline.Get([]byte(e.Blob))
				if int64(len(data)) != e.storedSize() {
					return corrupt(bucket, fmt.Sprintf("object %q inline data", key), errors.New("missing or wrong size"))
				}
				if inline == nil {
					inline = map[int][]byte{}
				}
				inline[i] = bytes.Clone(data)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		r, raced, err := s.openExtents(obj, inline)
		if err != nil {
			return nil, nil, err
		}
		if raced {
			continue
		}
		return obj, r, nil
	}
	return nil, nil, fmt.Errorf("store: opening %s/%s: blob data missing", bucket, key)
}

// openExtents opens the files of obj's extents. raced reports a missing
// blob file (deleted by a concurrent overwrite after the metadata read).
func (s *Store) openExtents(obj *Object, inline map[int][]byte) (*ObjectReader, bool, error) {
	r := &ObjectReader{size: obj.Size}
	var off int64
	for i, e := range obj.Extents {
		if e.Size == 0 {
			continue
		}
		re := readExtent{off: off, size: e.Size, stored: e.storedSize(), seal: e.Seal, sealed: e.Sealed()}
		if re.sealed {
			r.sealed = true
		}
		if e.Inline {
			re.data = inline[i]
		} else {
			f, err := os.Open(s.blobPath(e.Blob))
			if err != nil {
				_ = r.Close()
				if errors.Is(err, os.ErrNotExist) {
					return nil, true, nil
				}
				return nil, false, fmt.Errorf("store: opening blob of %s: %w", obj.Key, err)
			}
			re.f = f
		}
		r.extents = append(r.extents, re)
		off += e.Size
	}
	if off != obj.Size {
		_ = r.Close()
		return nil, false, fmt.Errorf("%w: object %q: extents hold %d bytes, record says %d", ErrCorruptMetadata, obj.Key, off, obj.Size)
	}
	return r, false, nil
}

// DeleteObject deletes a version ("" = current). check may veto. Deleting a
// missing key returns (nil, nil).
//
// check is not called for a missing key. A record that cannot be decoded is
// deleted without calling check (its blob files, unknown, are reclaimed as
// orphans on a later Open).
func (s *Store) DeleteObject(ctx context.Context, bucket, key, versionID string, check func(cur *Object) error) (*Object, error) {
	if err := beginWrite(ctx, "delete", bucket, key); err != nil {
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
		k, o, err := b.lookup(key, versionID)
		switch {
		case errors.Is(err, ErrNoSuchKey), errors.Is(err, ErrNoSuchVersion):
			return nil
		case errors.Is(err, ErrCorruptMetadata):
			result = &Object{Key: key, VersionID: versionID}
		case err != nil:
			return clean(err)
		default:
			if check != nil {
				if err := check(o); err != nil {
					return clean(err)
				}
			}
			result = o
		}
		frees, err = b.deleteVersion(k, o, s.now())
		return err
	})
	if err != nil {
		return nil, err
	}
	s.removeBlobFiles(frees)
	return result, nil
}
