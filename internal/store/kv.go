package store

// Namespaced key-value records for server features that are not buckets or
// objects (KMS keys and aliases, RAM users, STS sessions, ...).
//
// Layout: one top-level bbolt bucket per namespace, named "kv/<ns>", created
// on its first write. Keys are arbitrary non-empty byte strings kept in
// bytewise order; values are opaque. Writes go through the group committer
// like every other metadata write, so they share fsyncs with object writes
// and are durable when the call returns.

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// ErrKVNotFound reports a missing key-value record.
var ErrKVNotFound = errors.New("store: no such record")

// kvBucketPrefix prefixes the top-level bbolt bucket of each namespace. It
// differs from bucketRootPrefix, so garbage collection never looks inside.
const kvBucketPrefix = "kv/"

// Limits on namespaces, keys and values.
const (
	MaxKVNamespaceLen = 64
	MaxKVKeyLen       = 1024
	MaxKVValueLen     = 16 << 20
	// MaxKVListLimit bounds one List page.
	MaxKVListLimit = 10000
)

// KVPair is one record returned by List.
type KVPair struct {
	Key   string
	Value []byte
}

// KV is one namespace of key-value records in a Store. It is a cheap value
// and safe for concurrent use.
type KV struct {
	s  *Store
	ns string
}

// KV returns the namespace ns. Namespace names are 1–64 bytes of
// [A-Za-z0-9._-]; an invalid name makes every method fail with
// ErrInvalidArgument.
func (s *Store) KV(ns string) KV { return KV{s: s, ns: ns} }

func validNamespace(ns string) error {
	if ns == "" || len(ns) > MaxKVNamespaceLen {
		return fmt.Errorf("%w: key-value namespace %q", ErrInvalidArgument, ns)
	}
	for i := 0; i < len(ns); i++ {
		if !namespaceChar(ns[i]) {
			return fmt.Errorf("%w: key-value namespace %q", ErrInvalidArgument, ns)
		}
	}
	return nil
}

func namespaceChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	default:
		return c == '.' || c == '_' || c == '-'
	}
}

func validKVKey(key string) error {
	if key == "" || len(key) > MaxKVKeyLen {
		return fmt.Errorf("%w: key-value key of %d bytes", ErrInvalidArgument, len(key))
	}
	return nil
}

func validKVValue(v []byte) error {
	if v == nil {
		return fmt.Errorf("%w: nil key-value value", ErrInvalidArgument)
	}
	if len(v) > MaxKVValueLen {
		return fmt.Errorf("%w: key-value value of %d bytes", ErrInvalidArgument, len(v))
	}
	return nil
}

func (kv KV) bucketName() []byte { return []byte(kvBucketPrefix + kv.ns) }

// Get returns a copy of the value stored under key, or ErrKVNotFound.
func (kv KV) Get(key string) ([]byte, error) {
	if err := validNamespace(kv.ns); err != nil {
		return nil, err
	}
	if err := validKVKey(key); err != nil {
		return nil, err
	}
	var out []byte
	err := kv.s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(kv.bucketName())
		if b == nil {
			return ErrKVNotFound
		}
		v := b.Get([]byte(key))
		if v == nil {
			return ErrKVNotFound
		}
		out = bytes.Clone(v)
		return nil
	})
	if err != nil {
		return nil, kv.wrap("get", key, err)
	}
	return out, nil
}

// Put stores value under key, replacing any previous value.
func (kv KV) Put(key string, value []byte) error {
	return kv.Txn(func(tx *KVTx) error { return tx.Put(key, value) })
}

// Delete removes key. Deleting a missing key is not an error.
func (kv KV) Delete(key string) error {
	return kv.Txn(func(tx *KVTx) error { return tx.Delete(key) })
}

// Update runs fn with the current value of key (nil when absent) inside the
// group-committed write transaction and stores what it returns: a non-nil
// slice replaces the value, nil deletes the record. An error from fn is
// returned unchanged and nothing is written. fn may run more than once (see
// Store) and must not retain old.
func (kv KV) Update(key string, fn func(old []byte) ([]byte, error)) error {
	return kv.Txn(func(tx *KVTx) error {
		old, err := tx.Get(key)
		if err != nil && !errors.Is(err, ErrKVNotFound) {
			return err
		}
		nv, err := fn(old)
		if err != nil {
			return err
		}
		if nv == nil {
			if old == nil {
				return nil
			}
			return tx.Delete(key)
		}
		return tx.Put(key, nv)
	})
}

// List returns up to limit records whose keys start with prefix and sort
// after marker (exclusive; "" = from the start), in key order, and whether
// more such records exist. limit must be 1..MaxKVListLimit.
func (kv KV) List(prefix, marker string, limit int) ([]KVPair, bool, error) {
	if err := validNamespace(kv.ns); err != nil {
		return nil, false, err
	}
	if limit < 1 || limit > MaxKVListLimit {
		return nil, false, fmt.Errorf("%w: list limit %d", ErrInvalidArgument, limit)
	}
	var out []KVPair
	truncated := false
	err := kv.s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(kv.bucketName())
		if b == nil {
			return nil
		}
		out, truncated = listBucket(b, prefix, marker, limit)
		return nil
	})
	if err != nil {
		return nil, false, kv.wrap("list", prefix, err)
	}
	return out, truncated, nil
}

// listBucket scans b for keys with prefix after marker.
func listBucket(b *bolt.Bucket, prefix, marker string, limit int) ([]KVPair, bool) {
	p := []byte(prefix)
	start := p
	if marker != "" && marker >= prefix {
		start = []byte(marker)
	}
	var out []KVPair
	c := b.Cursor()
	k, v := c.Seek(start)
	if k != nil && marker != "" && string(k) == marker {
		k, v = c.Next()
	}
	for ; k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if len(out) == limit {
			return out, true
		}
		out = append(out, KVPair{Key: string(k), Value: bytes.Clone(v)})
	}
	return out, false
}

// Txn runs fn inside the group-committed write transaction with a view of
// this namespace, and commits what fn wrote when it returns nil. An error
// from fn is returned unchanged and none of fn's writes are applied. fn may
// run more than once when its batch is retried, so it must be a
// deterministic function of what it reads, free of side effects outside
// the transaction, prompt, and must never call back into the Store.
func (kv KV) Txn(fn func(tx *KVTx) error) error {
	if err := validNamespace(kv.ns); err != nil {
		return err
	}
	return kv.s.update(func(btx *bolt.Tx) error {
		t := &KVTx{tx: btx, kv: kv}
		err := fn(t)
		if err == nil {
			return nil
		}
		if !t.dirty {
			return clean(err)
		}
		// Writes were made: the committer must roll this transaction back
		// and rerun the batch without this op. The error is returned as is.
		return err
	})
}

func (kv KV) wrap(op, key string, err error) error {
	if errors.Is(err, ErrKVNotFound) {
		return fmt.Errorf("%w: %s %q", ErrKVNotFound, kv.ns, key)
	}
	if errors.Is(err, ErrClosed) {
		return err
	}
	return fmt.Errorf("store: kv %s %s %q: %w", op, kv.ns, key, err)
}

// KVTx is a namespace inside one write transaction (see KV.Txn). Values it
// returns are copies and stay valid after the transaction.
type KVTx struct {
	tx    *bolt.Tx
	kv    KV
	dirty bool
}

func (t *KVTx) bucket() *bolt.Bucket { return t.tx.Bucket(t.kv.bucketName()) }

// Get returns a copy of key's value, or ErrKVNotFound.
func (t *KVTx) Get(key string) ([]byte, error) {
	if err := validKVKey(key); err != nil {
		return nil, err
	}
	b := t.bucket()
	if b == nil {
		return nil, fmt.Errorf("%w: %s %q", ErrKVNotFound, t.kv.ns, key)
	}
	v := b.Get([]byte(key))
	if v == nil {
		return nil, fmt.Errorf("%w: %s %q", ErrKVNotFound, t.kv.ns, key)
	}
	return bytes.Clone(v), nil
}

// Put stores value under key.
func (t *KVTx) Put(key string, value []byte) error {
	if err := validKVKey(key); err != nil {
		return err
	}
	if err := validKVValue(value); err != nil {
		return err
	}
	t.dirty = true
	b, err := t.tx.CreateBucketIfNotExists(t.kv.bucketName())
	if err != nil {
		return fmt.Errorf("store: creating kv namespace %s: %w", t.kv.ns, err)
	}
	if err := b.Put([]byte(key), value); err != nil {
		return fmt.Errorf("store: kv put %s %q: %w", t.kv.ns, key, err)
	}
	return nil
}

// Delete removes key; a missing key is not an error.
func (t *KVTx) Delete(key string) error {
	if err := validKVKey(key); err != nil {
		return err
	}
	b := t.bucket()
	if b == nil || b.Get([]byte(key)) == nil {
		return nil
	}
	t.dirty = true
	if err := b.Delete([]byte(key)); err != nil {
		return fmt.Errorf("store: kv delete %s %q: %w", t.kv.ns, key, err)
	}
	return nil
}

// List is KV.List inside the transaction (it sees the transaction's own
// writes).
func (t *KVTx) List(prefix, marker string, limit int) ([]KVPair, bool, error) {
	if limit < 1 || limit > MaxKVListLimit {
		return nil, false, fmt.Errorf("%w: list limit %d", ErrInvalidArgument, limit)
	}
	b := t.bucket()
	if b == nil {
		return nil, false, nil
	}
	out, more := listBucket(b, prefix, marker, limit)
	return out, more, nil
}
