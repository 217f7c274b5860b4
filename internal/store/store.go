package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Additional sentinel errors (see api.go for the others).
var (
	// ErrInvalidArgument reports a malformed argument (part number, bucket
	// name, inconsistent record from a callback).
	ErrInvalidArgument = errors.New("store: invalid argument")
	// ErrInvalidRange reports a byte range outside the object.
	ErrInvalidRange = errors.New("store: invalid range")
	// ErrLocked reports that another process holds the data directory.
	ErrLocked = errors.New("store: data directory is in use by another process")
)

// DefaultInlineThreshold is the inline threshold used when
// Options.InlineThreshold is 0.
const DefaultInlineThreshold = 64 << 10

// lockTimeout bounds the wait for the metadata file lock in Open.
const lockTimeout = time.Second

// copyRetries bounds the retries of OpenObject and CopyObject when a racing
// overwrite deletes the blobs they were about to open.
const copyRetries = 8

// Options tune a Store.
type Options struct {
	// InlineThreshold: objects and parts up to this size are stored inside
	// the metadata file (0 = default 64 KiB, negative = never inline).
	InlineThreshold int64
	// Now is the clock used for Modified/Initiated/Created (nil = time.Now).
	Now func() time.Time
}

// Store is an open data directory. It is safe for concurrent use.
//
// Callbacks passed to its methods (check, build, fn) run inside the metadata
// write transaction on the committer goroutine, possibly more than once when
// a batch is retried. They must be free of side effects, return promptly, and
// never call back into the Store (that would deadlock). An error they return
// is returned by the method unchanged and the write is not applied.
type Store struct {
	dir    string
	inline int64
	now    func() time.Time
	db     *bolt.DB

	mu            sync.RWMutex // guards closed and sends on queue
	closed        bool
	queue         chan *op
	committerDone chan struct{}

	// commits counts committed metadata transactions (observability and
	// tests of group commit).
	commits atomic.Uint64
	// batched counts the ops those transactions carried.
	batched atomic.Uint64

	// testHookCopyLinked, if set, runs in CopyObject between linking the
	// source blobs and committing (tests use it to race the source).
	testHookCopyLinked func()

	// skippedGC is set when Open found undecodable records and therefore
	// did not delete unreferenced blob files.
	skippedGC bool
}

// Open opens (creating if needed) the store in dir, removes temp files and
// unreferenced blobs, and returns it ready for use.
//
// A second Open of a directory that is already open (in this or another
// process) fails after about a second with ErrLocked.
func Open(dir string, opts Options) (*Store, error) {
	s := &Store{
		dir:           dir,
		inline:        opts.InlineThreshold,
		now:           opts.Now,
		queue:         make(chan *op, queueLen),
		committerDone: make(chan struct{}),
	}
	if s.inline == 0 {
		s.inline = DefaultInlineThreshold
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.prepareDirs(); err != nil {
		return nil, err
	}
	bopts := &bolt.Options{
		Timeout:        lockTimeout,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	}
	if strconv.IntSize == 64 {
		bopts.InitialMmapSize = 1 << 30 // avoid remaps (which wait for readers) while small
	}
	dbPath := filepath.Join(dir, "meta.db")
	db, err := bolt.Open(dbPath, 0o600, bopts)
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("store: opening %s: %w", dbPath, err)
	}
	s.db = db
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bktBuckets, bktInline} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("creating %s: %w", name, err)
			}
		}
		return nil
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: initialising %s: %w", dbPath, err)
	}
	if err := s.collectGarbage(); err != nil {
		_ = db.Close()
		return nil, err
	}
	go s.committer()
	return s, nil
}

// prepareDirs creates the directory tree and empties tmp/.
func (s *Store) prepareDirs() error {
	blobs := filepath.Join(s.dir, "blobs")
	tmp := filepath.Join(s.dir, "tmp")
	for _, d := range []string{s.dir, blobs, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("store: creating %s: %w", d, err)
		}
	}
	created := false
	for i := 0; i < 256; i++ {
		d := filepath.Join(blobs, fmt.Sprintf("%02x", i))
		if _, err := os.Stat(d); err == nil {
			continue
		}
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("store: creating %s: %w", d, err)
		}
		created = true
	}
	if created {
		if err := syncDir(blobs); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("store: reading %s: %w", tmp, err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(tmp, e.Name())); err != nil {
			return fmt.Errorf("store: removing temp file: %w", err)
		}
	}
	return nil
}

// collectGarbage deletes blob files that no object or part record
// references. If a record cannot be decoded its blobs are unknown, so
// nothing is deleted (the space is reclaimed on a later start).
func (s *Store) collectGarbage() error {
	files := map[string]struct{}{}
	blobs := filepath.Join(s.dir, "blobs")
	fans, err := os.ReadDir(blobs)
	if err != nil {
		return fmt.Errorf("store: reading %s: %w", blobs, err)
	}
	for _, fan := range fans {
		if !fan.IsDir() || len(fan.Name()) != 2 {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(blobs, fan.Name()))
		if err != nil {
			return fmt.Errorf("store: reading blob directory: %w", err)
		}
		for _, e := range entries {
			if id := e.Name(); isBlobID(id) && blobFan(id) == fan.Name() {
				files[id] = struct{}{}
			}
		}
	}
	if len(files) == 0 {
		return nil
	}
	corruptSeen := false
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, root *bolt.Bucket) error {
			if len(name) <= len(bucketRootPrefix) || string(name[:len(bucketRootPrefix)]) != bucketRootPrefix {
				return nil
			}
			if objs := root.Bucket(subObjects); objs != nil {
				_ = objs.ForEach(func(_, v []byte) error {
					var rec Object
					if unmarshalObject(v, &rec) != nil {
						corruptSeen = true
						return nil
					}
					for _, e := range rec.Extents {
						delete(files, e.Blob)
					}
					return nil
				})
			}
			if parts := root.Bucket(subParts); parts != nil {
				_ = parts.ForEach(func(_, v []byte) error {
					p, err := decodePart(string(name[len(bucketRootPrefix):]), v)
					if err != nil {
						corruptSeen = true
						return nil
					}
					delete(files, p.Extent.Blob)
					return nil
				})
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("store: scanning metadata: %w", err)
	}
	if corruptSeen {
		s.skippedGC = true
		return nil
	}
	for id := range files {
		if err := os.Remove(s.blobPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("store: removing unreferenced blob: %w", err)
		}
	}
	return nil
}

// Close waits for pending commits and closes the metadata file.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.queue)
	s.mu.Unlock()
	<-s.committerDone
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: closing metadata: %w", err)
	}
	return nil
}

func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// view runs fn in a read-only transaction.
func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	if s.isClosed() {
		return ErrClosed
	}
	err := s.db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// viewBucket runs fn on bucket's records in a read-only transaction and
// returns its result; the zero T on any error (ErrNoSuchBucket included).
func viewBucket[T any](s *Store, bucket string, fn func(b *bkt) (T, error)) (T, error) {
	var out T
	err := s.view(func(tx *bolt.Tx) error {
		b, err := openBkt(tx, bucket)
		if err != nil {
			return err
		}
		out, err = fn(b)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// Dir is the data directory.
func (s *Store) Dir() string { return s.dir }
