package store

import (
	"bytes"
	"context"
	"fmt"
	"maps"

	bolt "go.etcd.io/bbolt"
)

// extrasBatch bounds the records one RewriteExtras transaction visits.
const extrasBatch = 256

// ExtrasStats counts what RewriteExtras did.
type ExtrasStats struct {
	Visited   int // object versions and upload templates seen
	Rewritten int // records whose Extra changed
	Corrupt   int // undecodable records skipped
}

// RewriteExtras calls fn with the Extra map of every object version and
// every multipart upload's template in every bucket, and stores the map fn
// returns when changed is true. It rewrites metadata only: no object data
// is read or written. Records are visited in batches, each batch one
// group-committed transaction, so a large store is processed without one
// huge transaction; a record written concurrently by a client between
// batches is seen (or not) as a whole.
//
// fn runs inside the write transaction (see Store) and may run more than
// once for a record; it must not call back into the Store. An error from
// fn stops the walk and is returned (changes of earlier batches stay).
func (s *Store) RewriteExtras(ctx context.Context, fn func(bucket string, extra map[string]string) (map[string]string, bool, error)) (ExtrasStats, error) {
	var total ExtrasStats
	var names []string
	marker := ""
	for {
		page, more, err := s.ListBuckets("", marker, 1000)
		if err != nil {
			return total, err
		}
		for _, b := range page {
			names = append(names, b.Name)
			marker = b.Name
		}
		if !more || len(page) == 0 {
			break
		}
	}
	for _, name := range names {
		for _, sub := range [][]byte{subObjects, subUploads} {
			var after []byte
			for {
				if err := ctx.Err(); err != nil {
					return total, fmt.Errorf("store: rewriting extras: %w", err)
				}
				var (
					st   ExtrasStats
					next []byte
					done bool
				)
				err := s.update(func(tx *bolt.Tx) error {
					st, next, done = ExtrasStats{}, nil, false
					b, err := openBkt(tx, name)
					if err != nil {
						return clean(err)
					}
					bb := b.objects
					if bytes.Equal(sub, subUploads) {
						bb = b.uploads
					}
					type change struct{ k, v []byte }
					var changes []change
					c := bb.Cursor()
					k, v := c.First()
					if after != nil {
						k, v = c.Seek(after)
						if k != nil && bytes.Equal(k, after) {
							k, v = c.Next()
						}
					}
					for ; k != nil && st.Visited < extrasBatch; k, v = c.Next() {
						st.Visited++
						next = bytes.Clone(k)
						nv, changed, err := rewriteRecord(sub, v, func(extra map[string]string) (map[string]string, bool, error) {
							return fn(name, maps.Clone(extra))
						})
						if err != nil {
							if errorsIsCorrupt(err) {
								st.Corrupt++
								continue
							}
							return clean(err)
						}
						if changed {
							changes = append(changes, change{bytes.Clone(k), nv})
						}
					}
					if k == nil {
						done = true
					}
					for _, ch := range changes {
						if err := bb.Put(ch.k, ch.v); err != nil {
							return fmt.Errorf("store: rewriting record of bucket %s: %w", name, err)
						}
						st.Rewritten++
					}
					return nil
				})
				if err != nil {
					return total, err
				}
				total.Visited += st.Visited
				total.Rewritten += st.Rewritten
				total.Corrupt += st.Corrupt
				if done || next == nil {
					break
				}
				after = next
			}
		}
	}
	return total, nil
}

// errCorruptRecord marks an undecodable record met by rewriteRecord.
type errCorruptRecord struct{ err error }

func (e errCorruptRecord) Error() string { return e.err.Error() }

func errorsIsCorrupt(err error) bool {
	_, ok := err.(errCorruptRecord) //nolint:errorlint // produced unwrapped by rewriteRecord
	return ok
}

// rewriteRecord decodes an object or upload record, passes its Extra to fn
// and re-encodes it when fn changed it.
func rewriteRecord(sub, v []byte, fn func(map[string]string) (map[string]string, bool, error)) ([]byte, bool, error) {
	if bytes.Equal(sub, subUploads) {
		var u Upload
		if err := unmarshalUpload(v, &u); err != nil {
			return nil, false, errCorruptRecord{err}
		}
		nx, changed, err := fn(u.Template.Extra)
		if err != nil || !changed {
			return nil, false, err
		}
		u.Template.Extra = nx
		return encodeUpload(&u), true, nil
	}
	var o Object
	if err := unmarshalObject(v, &o); err != nil {
		return nil, false, errCorruptRecord{err}
	}
	nx, changed, err := fn(o.Extra)
	if err != nil || !changed {
		return nil, false, err
	}
	o.Extra = nx
	return encodeObject(&o), true, nil
}
