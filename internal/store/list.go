package store

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// Listing semantics (objects and uploads alike): entries are the keys with
// the prefix that sort after the marker, in bytewise order. With a
// delimiter, a key whose remainder after the prefix contains the delimiter
// is rolled up into the common prefix ending at its first occurrence; each
// common prefix appears once, and only if it sorts after the marker (so a
// NextMarker that was a common prefix resumes after everything under it).
// Objects and common prefixes count together against the page size.
//
// Cost is O(page): the cursor seeks straight to the first candidate and,
// whenever a common prefix is emitted, seeks past every key under it.

// trimMarker cuts a marker at its first 0x00: no key contains 0x00, so
// "key > marker" is the same as "key > marker[:i]" for the prefix before it.
func trimMarker(m string) []byte {
	b := []byte(m)
	if i := bytes.IndexByte(b, keySep); i >= 0 {
		b = b[:i]
	}
	return b
}

// listStart returns where a listing's cursor starts: the later of the
// prefix and after (the first encoded key past the marker), moved past the
// marker's own common prefix when the marker lies inside one. ok=false means
// nothing can follow.
func listStart(prefix, delim, marker, after []byte) ([]byte, bool) {
	start := prefix
	if len(marker) > 0 && bytes.Compare(after, start) > 0 {
		start = after
	}
	if len(delim) > 0 && len(marker) > 0 && bytes.HasPrefix(marker, prefix) {
		if i := bytes.Index(marker[len(prefix):], delim); i >= 0 {
			cp := marker[:len(prefix)+i+len(delim)]
			succ, ok := successor(cp)
			if !ok {
				return nil, false
			}
			if bytes.Compare(succ, start) > 0 {
				start = succ
			}
		}
	}
	return start, true
}

// commonPrefix returns the common prefix key rolls up into, or nil.
func commonPrefix(key, prefix, delim []byte) []byte {
	if len(delim) == 0 {
		return nil
	}
	if i := bytes.Index(key[len(prefix):], delim); i >= 0 {
		return key[:len(prefix)+i+len(delim)]
	}
	return nil
}

// ListObjects returns one page of the bucket's current versions in bytewise
// key order, rolling keys up into common prefixes at Delimiter. Cost is
// proportional to the page, not the bucket.
//
// MaxKeys <= 0 means 1000. Delete markers and undecodable records are
// skipped.
func (s *Store) ListObjects(bucket string, opts ListOptions) (*ListResult, error) {
	limit := opts.MaxKeys
	if limit <= 0 {
		limit = 1000
	}
	res := &ListResult{}
	err := s.view(func(tx *bolt.Tx) error {
		b, err := openBkt(tx, bucket)
		if err != nil {
			return err
		}
		prefix, delim, marker := []byte(opts.Prefix), []byte(opts.Delimiter), trimMarker(opts.Marker)
		start, ok := listStart(prefix, delim, marker, append(bytes.Clone(marker), keySep+1))
		if !ok {
			return nil
		}
		c := b.objects.Cursor()
		count := 0
		var last []byte
		k, v := c.Seek(start)
		for k != nil {
			key, _, ok := splitKey(k)
			if !ok {
				k, v = c.Next()
				continue
			}
			if !bytes.HasPrefix(key, prefix) {
				break
			}
			if cp := commonPrefix(key, prefix, delim); cp != nil {
				if count == limit {
					res.IsTruncated = true
					break
				}
				res.CommonPrefixes = append(res.CommonPrefixes, string(cp))
				count++
				last = cp
				succ, ok := successor(cp)
				if !ok {
					break
				}
				k, v = c.Seek(succ)
				continue
			}
			// The first record of a key is its current version.
			if o, err := decodeObject(bucket, k, v); err == nil && !o.DeleteMarker {
				if count == limit {
					res.IsTruncated = true
					break
				}
				res.Objects = append(res.Objects, *o)
				count++
				last = key
			}
			// Skip the key's other versions.
			kp := len(key) + 1
			k, v = c.Next()
			for k != nil && len(k) >= kp && k[kp-1] == keySep && bytes.Equal(k[:kp-1], key) {
				k, v = c.Next()
			}
		}
		if res.IsTruncated {
			res.NextMarker = string(last)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// ListUploads lists uploads in progress in (key, initiation) order.
//
// Upload IDs begin with the initiation time, so (key, upload ID) order is
// (key, initiation) order. UploadIDMarker counts only with KeyMarker: the
// listing resumes after (KeyMarker, UploadIDMarker), or after every upload
// of KeyMarker when UploadIDMarker is empty. MaxUploads <= 0 means 1000.
func (s *Store) ListUploads(bucket string, opts UploadListOptions) (*UploadListResult, error) {
	limit := opts.MaxUploads
	if limit <= 0 {
		limit = 1000
	}
	res := &UploadListResult{}
	err := s.view(func(tx *bolt.Tx) error {
		b, err := openBkt(tx, bucket)
		if err != nil {
			return err
		}
		prefix, delim, marker := []byte(opts.Prefix), []byte(opts.Delimiter), trimMarker(opts.KeyMarker)
		after := append(bytes.Clone(marker), keySep+1)
		if opts.UploadIDMarker != "" && len(marker) == len(opts.KeyMarker) {
			after = append(uploadKey(opts.KeyMarker, opts.UploadIDMarker), 0)
		}
		start, ok := listStart(prefix, delim, marker, after)
		if !ok {
			return nil
		}
		c := b.uploads.Cursor()
		count := 0
		var lastKey, lastID string
		for k, v := c.Seek(start); k != nil; {
			key, id, ok := splitKey(k)
			if !ok {
				k, v = c.Next()
				continue
			}
			if !bytes.HasPrefix(key, prefix) {
				break
			}
			if cp := commonPrefix(key, prefix, delim); cp != nil {
				if count == limit {
					res.IsTruncated = true
					break
				}
				res.CommonPrefixes = append(res.CommonPrefixes, string(cp))
				count++
				lastKey, lastID = string(cp), ""
				succ, ok := successor(cp)
				if !ok {
					break
				}
				k, v = c.Seek(succ)
				continue
			}
			var u Upload
			if err := unmarshalUpload(v, &u); err == nil {
				if count == limit {
					res.IsTruncated = true
					break
				}
				u.Key, u.UploadID = string(key), string(id)
				res.Uploads = append(res.Uploads, u)
				count++
				lastKey, lastID = u.Key, u.UploadID
			}
			k, v = c.Next()
		}
		if res.IsTruncated {
			res.NextKeyMarker, res.NextUploadIDMarker = lastKey, lastID
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
