package store

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// versionData is the content of version v of a key: every byte is v and the
// size is a function of v, alternating inline and file-backed sizes.
func versionData(v byte) []byte {
	sizes := []int{100, 3000, 70_000, 1500, 0, 900}
	return bytes.Repeat([]byte{v}, sizes[int(v)%len(sizes)])
}

func TestReadersDuringOverwriteNeverSeeAMix(t *testing.T) {
	s := openTestStore(t, Options{InlineThreshold: 1000})
	mustBucket(t, s, "bkt1")
	putObj(t, s, "bkt1", "k", versionData(1))
	iterations := 60
	if testing.Short() {
		iterations = 20
	}
	var done atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				o, data, err := tryRead(s, "bkt1", "k")
				if err != nil {
					errs <- err
					return
				}
				reads.Add(1)
				if len(data) == 0 {
					if o.Size != 0 {
						errs <- fmt.Errorf("empty read of a %d-byte version", o.Size)
						return
					}
					continue
				}
				if want := versionData(data[0]); !bytes.Equal(data, want) {
					errs <- fmt.Errorf("torn read: %d bytes starting with %d", len(data), data[0])
					return
				}
				if o.ETag != md5Hex(data) {
					errs <- errors.New("metadata and data from different versions")
					return
				}
			}
		}()
	}
	for v := 2; v < iterations; v++ {
		putObj(t, s, "bkt1", "k", versionData(byte(v)))
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if reads.Load() == 0 {
		t.Fatal("no reads happened")
	}
	if n := len(blobFiles(t, s)); n > 1 {
		t.Fatalf("%d blob files for one object", n)
	}
}

func TestConcurrentWritersOneKey(t *testing.T) {
	s := openTestStore(t, Options{InlineThreshold: 1000})
	mustBucket(t, s, "bkt1")
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 8; i++ {
				v := byte(w*8 + i + 1)
				b, _ := s.NewBlob()
				_, _ = b.Write(versionData(v))
				if _, err := s.PutObject(ctx, "bkt1", &Object{Key: "k"}, b, nil); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	o, data, err := tryRead(s, "bkt1", "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && !bytes.Equal(data, versionData(data[0])) || o.ETag != md5Hex(data) {
		t.Fatal("final object is not one writer's whole content")
	}
	st, _ := s.BucketStats("bkt1")
	if st.ObjectCount != 1 || st.Storage != o.Size {
		t.Fatalf("stats %+v for a %d-byte object", st, o.Size)
	}
	wantFiles := 0
	if o.Size > 1000 {
		wantFiles = 1
	}
	if n := len(blobFiles(t, s)); n != wantFiles {
		t.Fatalf("blob files = %d, want %d", n, wantFiles)
	}
	wantInline := 0
	if o.Size > 0 && o.Size <= 1000 {
		wantInline = 1
	}
	if n := countInline(t, s); n != wantInline {
		t.Fatalf("inline values = %d, want %d", n, wantInline)
	}
	if tf := tmpFiles(t, s); len(tf) != 0 {
		t.Fatalf("temp files: %v", tf)
	}
}

func TestPutRacingDelete(t *testing.T) {
	s := openTestStore(t, Options{InlineThreshold: 1000})
	mustBucket(t, s, "bkt1")
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 60; i++ {
			b, _ := s.NewBlob()
			_, _ = b.Write(versionData(1)) // 3000 bytes: a blob file
			if _, err := s.PutObject(ctx, "bkt1", &Object{Key: "k"}, b, nil); err != nil {
				t.Error(err)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 60; i++ {
			if _, err := s.DeleteObject(ctx, "bkt1", "k", "", nil); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	st, _ := s.BucketStats("bkt1")
	o, data, err := tryRead(s, "bkt1", "k")
	switch {
	case errors.Is(err, ErrNoSuchKey):
		if n := len(blobFiles(t, s)); n != 0 || st.ObjectCount != 0 || st.Storage != 0 {
			t.Fatalf("deleted key: %d blob files, stats %+v", n, st)
		}
	case err != nil:
		t.Fatal(err)
	default:
		if !bytes.Equal(data, versionData(1)) || len(blobFiles(t, s)) != 1 || st.ObjectCount != 1 || st.Storage != o.Size {
			t.Fatalf("surviving key inconsistent: stats %+v", st)
		}
	}
}

func TestPutRacingDeleteBucket(t *testing.T) {
	s := openTestStore(t, Options{InlineThreshold: 1000})
	for round := 0; round < 10; round++ {
		mustBucket(t, s, "bkt1")
		var wg sync.WaitGroup
		var puts atomic.Int64
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				b, _ := s.NewBlob()
				_, _ = b.Write(versionData(1))
				_, err := s.PutObject(ctx, "bkt1", &Object{Key: fmt.Sprint(i)}, b, nil)
				if err == nil {
					puts.Add(1)
				} else if !errors.Is(err, ErrNoSuchBucket) {
					t.Error(err)
				}
			}
		}()
		var deleted bool
		for !deleted {
			err := s.DeleteBucket("bkt1", nil)
			if err == nil {
				deleted = true
				break
			}
			if !errors.Is(err, ErrBucketNotEmpty) {
				t.Fatal(err)
			}
			res, err := s.ListObjects("bkt1", ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range res.Objects {
				if _, err := s.DeleteObject(ctx, "bkt1", o.Key, "", nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		wg.Wait()
		if n := len(blobFiles(t, s)); n != 0 {
			t.Fatalf("round %d: %d blob files after the bucket was deleted", round, n)
		}
		if tf := tmpFiles(t, s); len(tf) != 0 {
			t.Fatalf("temp files: %v", tf)
		}
	}
}

// blockCommitter occupies the committer until release is closed, so that
// ops submitted meanwhile are committed together in one batch.
func blockCommitter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	started, ch := make(chan struct{}), make(chan struct{})
	go func() {
		_ = s.update(func(*bolt.Tx) error { close(started); <-ch; return nil })
	}()
	<-started
	return func() { close(ch) }
}

func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d ops queued", len(s.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGroupCommitIsolatesFailingOps(t *testing.T) {
	s := openTestStore(t, Options{})
	mustBucket(t, s, "bkt1")
	release := blockCommitter(t, s)

	const writers = 20
	veto := errors.New("veto")
	var wg sync.WaitGroup
	results := make([]error, writers+2)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var check func(*Object) error
			if i%5 == 0 {
				check = func(*Object) error { return veto } // clean failure
			}
			b, _ := s.NewBlob()
			_, _ = fmt.Fprint(b, "value", i)
			_, results[i] = s.PutObject(ctx, "bkt1", &Object{Key: fmt.Sprint("k", i)}, b, check)
		}()
	}
	// A dirty failure: modifies the transaction, then fails.
	wg.Add(2)
	go func() {
		defer wg.Done()
		results[writers] = s.update(func(tx *bolt.Tx) error {
			if err := tx.Bucket(bucketRootName("bkt1")).Bucket(subConfigs).Put([]byte("dirty"), []byte("x")); err != nil {
				return err
			}
			return errors.New("failed after writing")
		})
	}()
	// A panic inside an op.
	go func() {
		defer wg.Done()
		results[writers+1] = s.update(func(tx *bolt.Tx) error {
			_ = tx.Bucket(bucketRootName("bkt1")).Bucket(subConfigs).Put([]byte("panicky"), []byte("x"))
			panic("boom")
		})
	}()
	waitQueued(t, s, writers+2)
	release()
	wg.Wait()

	for i := 0; i < writers; i++ {
		if i%5 == 0 {
			if results[i] != veto { //nolint:errorlint // identity
				t.Fatalf("writer %d: %v, want the veto", i, results[i])
			}
			if _, err := s.GetObject("bkt1", fmt.Sprint("k", i), ""); !errors.Is(err, ErrNoSuchKey) {
				t.Fatalf("vetoed writer %d stored: %v", i, err)
			}
			continue
		}
		if results[i] != nil {
			t.Fatalf("writer %d failed: %v", i, results[i])
		}
		if got := readObj(t, s, "bkt1", fmt.Sprint("k", i)); string(got) != fmt.Sprint("value", i) {
			t.Fatalf("writer %d: got %q", i, got)
		}
	}
	if results[writers] == nil || results[writers].Error() != "failed after writing" {
		t.Fatalf("dirty op result: %v", results[writers])
	}
	if results[writers+1] == nil {
		t.Fatal("panicking op reported success")
	}
	for _, name := range []string{"dirty", "panicky"} {
		if _, err := s.GetBucketConfig("bkt1", name); !errors.Is(err, ErrNoSuchConfig) {
			t.Fatalf("failed op's write %q survived: %v", name, err)
		}
	}
	st, _ := s.BucketStats("bkt1")
	if st.ObjectCount != writers-writers/5 {
		t.Fatalf("ObjectCount %d", st.ObjectCount)
	}
}

func TestGroupCommitBatches(t *testing.T) {
	s := openTestStore(t, Options{})
	mustBucket(t, s, "bkt1")
	before := s.commits.Load()
	release := blockCommitter(t, s)
	var wg sync.WaitGroup
	const n = 32
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := s.NewBlob()
			_, _ = b.Write(make([]byte, 4096))
			if _, err := s.PutObject(ctx, "bkt1", &Object{Key: fmt.Sprint(i)}, b, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	waitQueued(t, s, n)
	release()
	wg.Wait()
	// The blocking op's transaction plus one for all 32 puts.
	if commits := s.commits.Load() - before; commits != 2 {
		t.Fatalf("%d commits, want 2 (the blocking op, then all puts together)", commits)
	}
	st, _ := s.BucketStats("bkt1")
	if st.ObjectCount != n {
		t.Fatalf("ObjectCount %d", st.ObjectCount)
	}
}
