package store

// On-disk metadata layout (bbolt):
//
//	"buckets"          name → bucket record
//	"inline"           blob ID → data of an inline extent
//	"b/<name>"         one bbolt bucket per OSS bucket, holding:
//	    "stats"        key: fixed 32-byte counters (see bucketCounters)
//	    "o"            objectKey 0x00 versionKey → object record
//	    "u"            objectKey 0x00 uploadID   → upload record
//	    "p"            uploadID partNumber(BE32) → part record
//	    "c"            configuration name        → document
//	    "d"            objectKey                 → completed-upload marker
//
// Every record starts with a format byte: object and upload records use the
// exact binary codec of codec.go (keys and metadata are arbitrary bytes,
// which JSON would mangle); bucket, part and completed-upload records are
// JSON (recordFormat). Object keys never
// contain 0x00 (ErrInvalidKey), so "objectKey 0x00" is an unambiguous prefix
// holding every version of one key, and bytewise order of the encoded keys is
// bytewise order of the object keys.
//
// Version keys: every write currently uses NullVersion, stored as the bytes
// of the version id. The first record under "objectKey 0x00" is the key's
// current version; when versioning arrives, version keys must be chosen so
// that newer versions sort first (e.g. an inverted timestamp).

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bktBuckets = []byte("buckets")
	bktInline  = []byte("inline")
	keyStats   = []byte("stats")
	subObjects = []byte("o")
	subUploads = []byte("u")
	subParts   = []byte("p")
	subConfigs = []byte("c")
	subDone    = []byte("d")
)

// bucketRootPrefix prefixes the name of each OSS bucket's bbolt bucket.
const bucketRootPrefix = "b/"

// recordFormat is the first byte of JSON records.
const recordFormat byte = 1

// maxKeyLen bounds object keys (OSS allows 1023 bytes; the server checks
// that). The bound keeps encoded keys far below bbolt's MaxKeySize.
const maxKeyLen = 4096

// maxBucketNameLen bounds bucket names (OSS allows 63).
const maxBucketNameLen = 255

// keySep separates an object key from its version key.
const keySep = 0x00

func validKey(key string) error {
	if key == "" || len(key) > maxKeyLen || strings.IndexByte(key, keySep) >= 0 {
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	return nil
}

// beginWrite checks, before a write to key, that the key is valid and ctx
// is still live (op names the write in the error).
func beginWrite(ctx context.Context, op, bucket, key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %s %s/%s: %w", op, bucket, key, err)
	}
	return nil
}

func validBucketName(name string) error {
	if name == "" || len(name) > maxBucketNameLen {
		return fmt.Errorf("%w: invalid bucket name %q", ErrInvalidArgument, name)
	}
	return nil
}

// versionKey maps a version id to the bytes stored after the separator.
func versionKey(versionID string) []byte { return []byte(versionID) }

// objKey encodes objectKey 0x00 versionKey.
func objKey(key, versionID string) []byte {
	vk := versionKey(versionID)
	b := make([]byte, 0, len(key)+1+len(vk))
	b = append(b, key...)
	b = append(b, keySep)
	return append(b, vk...)
}

// keyPrefix returns objectKey 0x00, the prefix of all versions of key.
func keyPrefix(key string) []byte {
	b := make([]byte, 0, len(key)+1)
	b = append(b, key...)
	return append(b, keySep)
}

// splitKey splits an encoded key at its separator.
func splitKey(k []byte) (key, rest []byte, ok bool) {
	i := bytes.IndexByte(k, keySep)
	if i < 0 {
		return nil, nil, false
	}
	return k[:i], k[i+1:], true
}

// uploadKey encodes objectKey 0x00 uploadID.
func uploadKey(key, uploadID string) []byte {
	b := make([]byte, 0, len(key)+1+len(uploadID))
	b = append(b, key...)
	b = append(b, keySep)
	return append(b, uploadID...)
}

// partKey encodes uploadID followed by the big-endian part number, so the
// parts of one upload are contiguous and in number order. Callers validate n
// against [0, maxPartNumber]; anything else is a programming error.
func partKey(uploadID string, n int) []byte {
	if n < 0 || n > maxPartNumber {
		panic(fmt.Sprintf("store: part number %d out of range", n))
	}
	b := make([]byte, 0, len(uploadID)+4)
	b = append(b, uploadID...)
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

// successor returns the smallest byte string greater than every string that
// has p as a prefix, or ok=false when none exists (p is all 0xff).
func successor(p []byte) ([]byte, bool) {
	s := bytes.Clone(p)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] < 0xff {
			s[i]++
			return s[:i+1], true
		}
	}
	return nil, false
}

// ---- record encoding ----

func encodeRecord(v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(recordFormat)
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return nil, fmt.Errorf("store: encoding record: %w", err)
	}
	b := buf.Bytes()
	return b[:len(b)-1], nil // drop the encoder's trailing newline
}

func decodeRecord(data []byte, v any) error {
	if len(data) < 2 || data[0] != recordFormat {
		return errors.New("unknown record format")
	}
	return json.Unmarshal(data[1:], v)
}

func corrupt(bucket, what string, err error) error {
	return fmt.Errorf("%w: bucket %q %s: %w", ErrCorruptMetadata, bucket, what, err)
}

func decodeObject(bucket string, k, v []byte) (*Object, error) {
	var o Object
	if err := unmarshalObject(v, &o); err != nil {
		key, _, _ := splitKey(k)
		return nil, corrupt(bucket, fmt.Sprintf("object %q", key), err)
	}
	if key, ver, ok := splitKey(k); ok {
		o.Key, o.VersionID = string(key), string(ver)
	}
	return &o, nil
}

// ---- bucket counters ----

// bucketCounters are stored as four big-endian int64s.
type bucketCounters struct {
	storage, objects, uploads int64
	modified                  int64 // unix nanoseconds, 0 = never
}

func (c *bucketCounters) decode(b []byte) {
	if len(b) != 32 {
		*c = bucketCounters{}
		return
	}
	c.storage = getInt64(b[0:])
	c.objects = getInt64(b[8:])
	c.uploads = getInt64(b[16:])
	c.modified = getInt64(b[24:])
}

func (c *bucketCounters) encode() []byte {
	b := make([]byte, 32)
	putInt64(b[0:], c.storage)
	putInt64(b[8:], c.objects)
	putInt64(b[16:], c.uploads)
	putInt64(b[24:], c.modified)
	return b
}

// putInt64 and getInt64 store an int64 as its big-endian two's-complement
// bits; the uint64 conversions reinterpret bits and round-trip exactly.
func putInt64(b []byte, v int64) {
	binary.BigEndian.PutUint64(b, uint64(v)) //nolint:gosec // G115: bit reinterpretation, undone by getInt64
}

func getInt64(b []byte) int64 {
	return int64(binary.BigEndian.Uint64(b)) //nolint:gosec // G115: bit reinterpretation of what putInt64 stored
}

// ---- per-bucket transaction view ----

// bkt is an OSS bucket's bbolt buckets inside one transaction.
type bkt struct {
	name    string
	root    *bolt.Bucket
	objects *bolt.Bucket
	uploads *bolt.Bucket
	parts   *bolt.Bucket
	configs *bolt.Bucket
	done    *bolt.Bucket
	inline  *bolt.Bucket
}

func bucketRootName(name string) []byte { return []byte(bucketRootPrefix + name) }

// openBkt returns the bucket's view, ErrNoSuchBucket if it does not exist.
func openBkt(tx *bolt.Tx, name string) (*bkt, error) {
	if err := validBucketName(name); err != nil {
		return nil, err
	}
	root := tx.Bucket(bucketRootName(name))
	if root == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchBucket, name)
	}
	b := &bkt{
		name:    name,
		root:    root,
		objects: root.Bucket(subObjects),
		uploads: root.Bucket(subUploads),
		parts:   root.Bucket(subParts),
		configs: root.Bucket(subConfigs),
		done:    root.Bucket(subDone),
		inline:  tx.Bucket(bktInline),
	}
	if b.objects == nil || b.uploads == nil || b.parts == nil || b.configs == nil || b.done == nil || b.inline == nil {
		return nil, corrupt(name, "layout", errors.New("missing sub-bucket"))
	}
	return b, nil
}

func (b *bkt) counters() bucketCounters {
	var c bucketCounters
	c.decode(b.root.Get(keyStats))
	return c
}

// addCounters adjusts the bucket counters; now (if non-zero) becomes the
// last-modified time.
func (b *bkt) addCounters(storage, objects, uploads int64, now time.Time) error {
	c := b.counters()
	c.storage += storage
	c.objects += objects
	c.uploads += uploads
	if !now.IsZero() {
		c.modified = now.UnixNano()
	}
	if err := b.root.Put(keyStats, c.encode()); err != nil {
		return fmt.Errorf("store: updating counters of %s: %w", b.name, err)
	}
	return nil
}

// current returns the encoded key and raw record of key's current version
// (the first version record), or nil.
func (b *bkt) current(key string) (k, v []byte) {
	p := keyPrefix(key)
	k, v = b.objects.Cursor().Seek(p)
	if k == nil || !bytes.HasPrefix(k, p) {
		return nil, nil
	}
	return k, v
}

// lookup finds a version ("" = current). It returns the encoded key and the
// decoded record; a missing record gives ErrNoSuchKey / ErrNoSuchVersion,
// an undecodable one ErrCorruptMetadata (with k still set).
func (b *bkt) lookup(key, versionID string) ([]byte, *Object, error) {
	var k, v []byte
	if versionID == "" {
		k, v = b.current(key)
	} else {
		k = objKey(key, versionID)
		v = b.objects.Get(k)
	}
	if v == nil {
		if versionID == "" {
			return nil, nil, fmt.Errorf("%w: %s/%s", ErrNoSuchKey, b.name, key)
		}
		return nil, nil, fmt.Errorf("%w: %s/%s version %s", ErrNoSuchVersion, b.name, key, versionID)
	}
	o, err := decodeObject(b.name, k, v)
	if err != nil {
		return k, nil, err
	}
	if versionID == "" && o.DeleteMarker {
		return k, o, fmt.Errorf("%w: %s/%s", ErrNoSuchKey, b.name, key)
	}
	return k, o, nil
}
