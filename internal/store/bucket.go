package store

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

func decodeBucket(name string, v []byte) (*Bucket, error) {
	var b Bucket
	if err := decodeRecord(v, &b); err != nil {
		return nil, corrupt(name, "bucket record", err)
	}
	b.Name = name
	return &b, nil
}

// CreateBucket creates b (ErrBucketExists if the name is taken). A zero
// Created is set from the store's clock.
func (s *Store) CreateBucket(b Bucket) error {
	if err := validBucketName(b.Name); err != nil {
		return err
	}
	if b.Created.IsZero() {
		b.Created = s.now()
	}
	rec, err := encodeRecord(&b)
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		list := tx.Bucket(bktBuckets)
		if list.Get([]byte(b.Name)) != nil || tx.Bucket(bucketRootName(b.Name)) != nil {
			return clean(fmt.Errorf("%w: %s", ErrBucketExists, b.Name))
		}
		if err := list.Put([]byte(b.Name), rec); err != nil {
			return fmt.Errorf("store: creating bucket %s: %w", b.Name, err)
		}
		root, err := tx.CreateBucket(bucketRootName(b.Name))
		if err != nil {
			return fmt.Errorf("store: creating bucket %s: %w", b.Name, err)
		}
		for _, sub := range [][]byte{subObjects, subUploads, subParts, subConfigs, subDone} {
			if _, err := root.CreateBucket(sub); err != nil {
				return fmt.Errorf("store: creating bucket %s: %w", b.Name, err)
			}
		}
		return root.Put(keyStats, (&bucketCounters{}).encode())
	})
}

// bucketRecord reads and decodes the record of bucket name from list, the
// bucket list (ErrNoSuchBucket).
func bucketRecord(list *bolt.Bucket, name string) (*Bucket, error) {
	v := list.Get([]byte(name))
	if v == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchBucket, name)
	}
	return decodeBucket(name, v)
}

// GetBucket returns the bucket record (ErrNoSuchBucket).
func (s *Store) GetBucket(name string) (*Bucket, error) {
	var out *Bucket
	err := s.view(func(tx *bolt.Tx) error {
		b, err := bucketRecord(tx.Bucket(bktBuckets), name)
		out = b
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateBucket runs fn on the record inside a transaction and stores the
// result. fn must not change Name.
func (s *Store) UpdateBucket(name string, fn func(b *Bucket) error) error {
	return s.update(func(tx *bolt.Tx) error {
		list := tx.Bucket(bktBuckets)
		b, err := bucketRecord(list, name)
		if err != nil {
			return clean(err)
		}
		if err := fn(b); err != nil {
			return clean(err)
		}
		if b.Name != name {
			return clean(fmt.Errorf("%w: bucket update renamed %s to %s", ErrInvalidArgument, name, b.Name))
		}
		rec, err := encodeRecord(b)
		if err != nil {
			return clean(err)
		}
		if err := list.Put([]byte(name), rec); err != nil {
			return fmt.Errorf("store: updating bucket %s: %w", name, err)
		}
		return nil
	})
}

// DeleteBucket removes an empty bucket and all its configuration documents
// (ErrBucketNotEmpty while objects or uploads remain). check runs inside the
// transaction first.
func (s *Store) DeleteBucket(name string, check func(b *Bucket) error) error {
	return s.update(func(tx *bolt.Tx) error {
		list := tx.Bucket(bktBuckets)
		b, err := bucketRecord(list, name)
		if err != nil {
			return clean(err)
		}
		if check != nil {
			if err := check(b); err != nil {
				return clean(err)
			}
		}
		if root := tx.Bucket(bucketRootName(name)); root != nil {
			for _, sub := range [][]byte{subObjects, subUploads, subParts} {
				if sb := root.Bucket(sub); sb != nil {
					if k, _ := sb.Cursor().First(); k != nil {
						return clean(fmt.Errorf("%w: %s", ErrBucketNotEmpty, name))
					}
				}
			}
			if err := tx.DeleteBucket(bucketRootName(name)); err != nil {
				return fmt.Errorf("store: deleting bucket %s: %w", name, err)
			}
		}
		if err := list.Delete([]byte(name)); err != nil {
			return fmt.Errorf("store: deleting bucket %s: %w", name, err)
		}
		return nil
	})
}

// ListBuckets returns up to limit buckets with names > marker and the given
// prefix, in name order, and whether more remain. limit <= 0 means 1000.
func (s *Store) ListBuckets(prefix, marker string, limit int) ([]Bucket, bool, error) {
	if limit <= 0 {
		limit = 1000
	}
	var (
		out       []Bucket
		truncated bool
	)
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktBuckets).Cursor()
		start := []byte(prefix)
		if m := append([]byte(marker), 0); marker != "" && bytes.Compare(m, start) > 0 {
			start = m
		}
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
			if len(out) == limit {
				truncated = true
				break
			}
			b, err := decodeBucket(string(k), v)
			if err != nil {
				// A corrupt record still names a bucket; list it by name
				// so that it stays visible and deletable.
				b = &Bucket{Name: string(k)}
			}
			out = append(out, *b)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, truncated, nil
}

// BucketStats returns the bucket's counters, maintained on every write (O(1)).
// Storage counts the bytes of all object versions and uploaded parts.
func (s *Store) BucketStats(name string) (*BucketStats, error) {
	return viewBucket(s, name, func(b *bkt) (*BucketStats, error) {
		c := b.counters()
		st := &BucketStats{Storage: c.storage, ObjectCount: c.objects, MultipartUploadCount: c.uploads}
		if c.modified != 0 {
			st.LastModified = time.Unix(0, c.modified).UTC()
		}
		return st, nil
	})
}

// PutBucketConfig stores a configuration document (policy, encryption,
// lifecycle, logging, referer, worm, ...) under name, replacing any.
func (s *Store) PutBucketConfig(bucket, name string, doc []byte) error {
	if name == "" {
		return fmt.Errorf("%w: empty configuration name", ErrInvalidArgument)
	}
	doc = bytes.Clone(doc)
	if doc == nil {
		doc = []byte{}
	}
	return s.update(func(tx *bolt.Tx) error {
		b, err := openBkt(tx, bucket)
		if err != nil {
			return clean(err)
		}
		if err := b.configs.Put([]byte(name), doc); err != nil {
			return fmt.Errorf("store: storing %s configuration of %s: %w", name, bucket, err)
		}
		return nil
	})
}

// GetBucketConfig returns a stored document (ErrNoSuchConfig).
func (s *Store) GetBucketConfig(bucket, name string) ([]byte, error) {
	return viewBucket(s, bucket, func(b *bkt) ([]byte, error) {
		v := b.configs.Get([]byte(name))
		if v == nil {
			return nil, fmt.Errorf("%w: %s of bucket %s", ErrNoSuchConfig, name, bucket)
		}
		return bytes.Clone(v), nil
	})
}

// DeleteBucketConfig removes a document; removing a missing one is not an error.
func (s *Store) DeleteBucketConfig(bucket, name string) error {
	return s.update(func(tx *bolt.Tx) error {
		b, err := openBkt(tx, bucket)
		if err != nil {
			return clean(err)
		}
		if b.configs.Get([]byte(name)) == nil {
			return nil
		}
		if err := b.configs.Delete([]byte(name)); err != nil {
			return fmt.Errorf("store: deleting %s configuration of %s: %w", name, bucket, err)
		}
		return nil
	})
}
