package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/ossctl/ossctl/internal/crc64x"
)

var ctx = context.Background()

func TestBucketLifecycle(t *testing.T) {
	fixed := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	s := openTestStore(t, Options{Now: func() time.Time { return fixed }})
	mustBucket(t, s, "bkt1")
	wantErr(t, s.CreateBucket(Bucket{Name: "bkt1"}), ErrBucketExists)

	b, err := s.GetBucket("bkt1")
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "bkt1" || b.ACL != "private" || !b.Created.Equal(fixed) || b.Location != "oss-cn-hangzhou" {
		t.Fatalf("GetBucket = %+v", b)
	}
	_, err = s.GetBucket("nope")
	wantErr(t, err, ErrNoSuchBucket)

	if err := s.UpdateBucket("bkt1", func(b *Bucket) error { b.ACL = "public-read"; b.Versioning = "Enabled"; return nil }); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.GetBucket("bkt1"); b.ACL != "public-read" || b.Versioning != "Enabled" {
		t.Fatalf("update not stored: %+v", b)
	}
	veto := errors.New("veto")
	if err := s.UpdateBucket("bkt1", func(b *Bucket) error { b.ACL = "private"; return veto }); err != veto { //nolint:errorlint // identity required
		t.Fatalf("UpdateBucket veto = %v", err)
	}
	if b, _ := s.GetBucket("bkt1"); b.ACL != "public-read" {
		t.Fatalf("vetoed update applied: %+v", b)
	}
	wantErr(t, s.UpdateBucket("bkt1", func(b *Bucket) error { b.Name = "other"; return nil }), ErrInvalidArgument)
	wantErr(t, s.UpdateBucket("nope", func(*Bucket) error { return nil }), ErrNoSuchBucket)

	// Listing.
	for _, n := range []string{"abc", "abd", "b-1", "b-2", "zzz"} {
		mustBucket(t, s, n)
	}
	names := func(bs []Bucket) string {
		var out []string
		for _, b := range bs {
			out = append(out, b.Name)
		}
		return join(out)
	}
	all, more, err := s.ListBuckets("", "", 0)
	if err != nil || more || names(all) != "abc|abd|b-1|b-2|bkt1|zzz" {
		t.Fatalf("ListBuckets = %s %v %v", names(all), more, err)
	}
	page, more, _ := s.ListBuckets("b", "", 2)
	if names(page) != "b-1|b-2" || !more {
		t.Fatalf("ListBuckets(b,,2) = %s %v", names(page), more)
	}
	page, more, _ = s.ListBuckets("b", "b-2", 2)
	if names(page) != "bkt1" || more {
		t.Fatalf("ListBuckets(b,b-2,2) = %s %v", names(page), more)
	}
	page, _, _ = s.ListBuckets("", "abc", 1)
	if names(page) != "abd" {
		t.Fatalf("marker is exclusive: %s", names(page))
	}

	// Configuration documents.
	_, err = s.GetBucketConfig("bkt1", "policy")
	wantErr(t, err, ErrNoSuchConfig)
	doc := []byte(`{"Version":"1"}`)
	if err := s.PutBucketConfig("bkt1", "policy", doc); err != nil {
		t.Fatal(err)
	}
	doc[0] = 'X' // the store keeps its own copy
	if got, err := s.GetBucketConfig("bkt1", "policy"); err != nil || string(got) != `{"Version":"1"}` {
		t.Fatalf("GetBucketConfig = %q, %v", got, err)
	}
	if err := s.PutBucketConfig("bkt1", "empty", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetBucketConfig("bkt1", "empty"); err != nil || len(got) != 0 {
		t.Fatalf("empty config = %q, %v", got, err)
	}
	if err := s.DeleteBucketConfig("bkt1", "policy"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBucketConfig("bkt1", "policy"); err != nil {
		t.Fatalf("deleting a missing config: %v", err)
	}
	_, err = s.GetBucketConfig("bkt1", "policy")
	wantErr(t, err, ErrNoSuchConfig)
	wantErr(t, s.PutBucketConfig("nope", "policy", doc), ErrNoSuchBucket)

	// DeleteBucket refuses while objects or uploads remain.
	putObj(t, s, "bkt1", "k", []byte("x"))
	wantErr(t, s.DeleteBucket("bkt1", nil), ErrBucketNotEmpty)
	if _, err := s.DeleteObject(ctx, "bkt1", "k", "", nil); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUpload("bkt1", &Upload{Key: "m"})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteBucket("bkt1", nil), ErrBucketNotEmpty)
	if err := s.AbortUpload(ctx, "bkt1", "m", u.UploadID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBucket("bkt1", func(*Bucket) error { return veto }); err != veto { //nolint:errorlint // identity required
		t.Fatalf("DeleteBucket veto = %v", err)
	}
	if err := s.PutBucketConfig("bkt1", "policy", doc); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBucket("bkt1", nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetBucket("bkt1")
	wantErr(t, err, ErrNoSuchBucket)
	wantErr(t, s.DeleteBucket("bkt1", nil), ErrNoSuchBucket)
	// Recreating starts from scratch: configs are gone.
	mustBucket(t, s, "bkt1")
	_, err = s.GetBucketConfig("bkt1", "policy")
	wantErr(t, err, ErrNoSuchConfig)
	st, err := s.BucketStats("bkt1")
	if err != nil || st.ObjectCount != 0 || st.Storage != 0 || st.MultipartUploadCount != 0 {
		t.Fatalf("stats of recreated bucket = %+v, %v", st, err)
	}
}

func TestObjectRoundTripSizes(t *testing.T) {
	s := openTestStore(t, Options{})
	mustBucket(t, s, "bkt1")
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{0, 1, 1024, 4096, DefaultInlineThreshold, DefaultInlineThreshold + 1, 1<<20 + 32<<10 + 7}
	for _, n := range sizes {
		key := fmt.Sprintf("obj/%d", n)
		data := pattern(byte(n), n)
		obj := &Object{
			Key: key, ContentType: "text/plain", Headers: map[string]string{"Cache-Control": "no-cache"},
			UserMeta: map[string]string{"a": "1"}, ACL: "public-read", StorageClass: "IA", Tagging: "k=v",
			Extra: map[string]string{"sse": "AES256"},
		}
		got, err := s.PutObject(ctx, "bkt1", obj, newBlob(t, s, data), nil)
		if err != nil {
			t.Fatalf("put %d: %v", n, err)
		}
		if got.Size != int64(n) || got.ETag != md5Hex(data) || got.CRC64 != crcOf(data) || got.VersionID != NullVersion || got.Type != TypeNormal {
			t.Fatalf("put %d: record %+v", n, got)
		}
		wantInline := n > 0 && n <= DefaultInlineThreshold
		if n == 0 && len(got.Extents) != 0 || n > 0 && (len(got.Extents) != 1 || got.Extents[0].Inline != wantInline) {
			t.Fatalf("put %d: extents %+v", n, got.Extents)
		}
		meta, err := s.GetObject("bkt1", key, "")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, meta, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
			t.Fatalf("GetObject differs from PutObject result (-put +get):\n%s", diff)
		}
		if v, err := s.GetObject("bkt1", key, NullVersion); err != nil || v.ETag != got.ETag {
			t.Fatalf("GetObject(null version) = %v, %v", v, err)
		}
		if !bytes.Equal(readObj(t, s, "bkt1", key), data) {
			t.Fatalf("size %d: data differs", n)
		}
		// Random ranges through both read paths.
		_, r, err := s.OpenObject("bkt1", key, "")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20 && n > 0; i++ {
			off := rng.IntN(n)
			ln := rng.IntN(n - off + 1)
			w := &collectWriter{}
			if m, err := r.WriteRangeTo(w, int64(off), int64(ln)); err != nil || m != int64(ln) || !bytes.Equal(w.b, data[off:off+ln]) {
				t.Fatalf("WriteRangeTo(%d,%d) of %d: %d %v", off, ln, n, m, err)
			}
			p := make([]byte, ln)
			if m, err := r.ReadAt(p, int64(off)); m != ln || (err != nil && (!errors.Is(err, io.EOF) || off+ln != n)) || !bytes.Equal(p, data[off:off+ln]) {
				t.Fatalf("ReadAt(%d,%d) of %d: %d %v", off, ln, n, m, err)
			}
		}
		if _, err := r.WriteRangeTo(&collectWriter{}, int64(n), 1); !errors.Is(err, ErrInvalidRange) {
			t.Fatalf("range past end: %v", err)
		}
		if m, err := r.ReadAt(make([]byte, 4), int64(n)); m != 0 || err == nil {
			t.Fatalf("ReadAt at end = %d, %v", m, err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	files := blobFiles(t, s)
	if len(files) != 2 { // the two sizes above the inline threshold
		t.Fatalf("blob files = %d, want 2", len(files))
	}
	if tf := tmpFiles(t, s); len(tf) != 0 {
		t.Fatalf("temp files left: %v", tf)
	}
	st, _ := s.BucketStats("bkt1")
	var total int64
	for _, n := range sizes {
		total += int64(n)
	}
	if st.ObjectCount != int64(len(sizes)) || st.Storage != total || st.LastModified.IsZero() {
		t.Fatalf("stats = %+v, want %d objects %d bytes", st, len(sizes), total)
	}
}

func TestReadFromLarge(t *testing.T) {
	s := openTestStore(t, Options{})
	mustBucket(t, s, "bkt1")
	data := pattern(3, 3<<20+5)
	b, _ := s.NewBlob()
	// A reader returning odd-sized chunks.
	n, err := b.ReadFrom(&chunkReader{data: data, chunk: 12345})
	if err != nil || n != int64(len(data)) {
		t.Fatalf("ReadFrom = %d, %v", n, err)
	}
	if b.Size() != int64(len(data)) || upperHex(b.MD5()) != md5Hex(data) || b.CRC64() != crcOf(data) {
		t.Fatal("blob hashes wrong")
	}
	if _, err := s.PutObject(ctx, "bkt1", &Object{Key: "big"}, b, nil); err != nil {
		t.Fatal(err)
	}
	b.Abort() // no-op after commit
	if !bytes.Equal(readObj(t, s, "bkt1", "big"), data) {
		t.Fatal("data differs")
	}
	if _, err := b.Write([]byte("x")); err == nil {
		t.Fatal("write after commit accepted")
	}

	// Small data through ReadFrom stays inline; Write then ReadFrom mixes.
	small, _ := s.NewBlob()
	if _, err := small.ReadFrom(bytes.NewReader(pattern(4, 100))); err != nil {
		t.Fatal(err)
	}
	o, err := s.PutObject(ctx, "bkt1", &Object{Key: "small"}, small, nil)
	if err != nil || len(o.Extents) != 1 || !o.Extents[0].Inline {
		t.Fatalf("small ReadFrom: %+v, %v", o, err)
	}
	mixed, _ := s.NewBlob()
	head := pattern(5, 1000)
	_, _ = mixed.Write(head)
	if _, err := mixed.ReadFrom(&chunkReader{data: data, chunk: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	whole := append(slices.Clone(head), data...)
	if mixed.ETag() != md5Hex(whole) || mixed.CRC64() != crcOf(whole) {
		t.Fatal("mixed Write/ReadFrom hashes wrong")
	}
	if _, err := s.PutObject(ctx, "bkt1", &Object{Key: "mixed"}, mixed, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readObj(t, s, "bkt1", "mixed"), whole) {
		t.Fatal("mixed data differs")
	}
}

type chunkReader struct {
	data  []byte
	chunk int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.chunk, len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func TestObjectErrorsAndVeto(t *testing.T) {
	s := openTestStore(t, Options{InlineThreshold: 16})
	mustBucket(t, s, "bkt1")
	for _, key := range []string{"", "a\x00b", strings.Repeat("k", maxKeyLen+1)} {
		b := newBlob(t, s, []byte("data"))
		_, err := s.PutObject(ctx, "bkt1", &Object{Key: key}, b, nil)
		wantErr(t, err, ErrInvalidKey)
		_, err = s.GetObject("bkt1", key, "")
		wantErr(t, err, ErrInvalidKey)
	}
	_, err := s.GetObject("bkt1", "missing", "")
	wantErr(t, err, ErrNoSuchKey)
	_, err = s.GetObject("bkt1", "missing", "v1")
	wantErr(t, err, ErrNoSuchVersion)
	_, _, err = s.OpenObject("bkt1", "missing", "")
	wantErr(t, err, ErrNoSuchKey)
	_, err = s.GetObject("nobkt", "k", "")
	wantErr(t, err, ErrNoSuchBucket)
	_, err = s.PutObject(ctx, "nobkt", &Object{Key: "k"}, newBlob(t, s, make([]byte, 100)), nil)
	wantErr(t, err, ErrNoSuchBucket)
	if got, err := s.DeleteObject(ctx, "bkt1", "missing", "", func(*Object) error { t.Fatal("check called for a missing key"); return nil }); got != nil || err != nil {
		t.Fatalf("delete missing = %v, %v", got, err)
	}

	old := putObj(t, s, "bkt1", "k", pattern(1, 100))
	veto := errors.New("precondition failed")
	var seen *Object
	_, err = s.PutObject(ctx, "bkt1", &Object{Key: "k"}, newBlob(t, s, pattern(2, 200)), func(cur *Object) error { seen = cur; return veto })
	if err != veto { //nolint:errorlint // the store must return the callback's error unchanged
		t.Fatalf("veto = %v", err)
	}
	if seen == nil || seen.ETag != old.ETag {
		t.Fatalf("check saw %+v", seen)
	}
	if !bytes.Equal(readObj(t, s, "bkt1", "k"), pattern(1, 100)) {
		t.Fatal("vetoed put changed the object")
	}
	if n := len(blobFiles(t, s)); n != 1 {
		t.Fatalf("blob files after veto = %d, want 1", n)
	}
	if tf := tmpFiles(t, s); len(tf) != 0 {
		t.Fatalf("temp files after veto: %v", tf)
	}
	if _, err := s.DeleteObject(ctx, "bkt1", "k", "", func(*Object) error { return veto }); err != veto { //nolint:errorlint // identity
		t.Fatalf("delete veto = %v", err)
	}
	// An aborted blob leaves nothing behind.
	b := newBlob(t, s, pattern(3, 1000))
	if len(tmpFiles(t, s)) != 1 {
		t.Fatal("large blob has no temp file")
	}
	b.Abort()
	if tf := tmpFiles(t, s); len(tf) != 0 {
		t.Fatalf("temp files after Abort: %v", tf)
	}
	// Cancelled context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.PutObject(cctx, "bkt1", &Object{Key: "c"}, newBlob(t, s, pattern(3, 1000)), nil)
	wantErr(t, err, context.Canceled)
	if tf := tmpFiles(t, s); len(tf) != 0 {
		t.Fatalf("temp files after cancelled put: %v", tf)
	}
}

func TestOverwriteAndDeleteFreeData(t *testing.T) {
	s := openTestStore(t, Options{InlineThreshold: 1024})
	mustBucket(t, s, "bkt1")
	putObj(t, s, "bkt1", "k", pattern(1, 5000))
	putObj(t, s, "bkt1", "k", pattern(2, 6000))
	if n := len(blobFiles(t, s)); n != 1 {
		t.Fatalf("blob files after overwrite = %d", n)
	}
	putObj(t, s, "bkt1", "k", pattern(3, 10)) // inline replaces file
	if n := len(blobFiles(t, s)); n != 0 {
		t.Fatalf("blob files after inline overwrite = %d", n)
	}
	putObj(t, s, "bkt1", "k", pattern(4, 20)) // inline replaces inline
	if got := countInline(t, s); got != 1 {
		t.Fatalf("inline values = %d, want 1", got)
	}
	st, _ := s.BucketStats("bkt1")
	if st.ObjectCount != 1 || st.Storage != 20 {
		t.Fatalf("stats %+v", st)
	}
	del, err := s.DeleteObject(ctx, "bkt1", "k", "", nil)
	if err != nil || del == nil || del.Size != 20 {
		t.Fatalf("delete = %+v, %v", del, err)
	}
	if got := countInline(t, s); got != 0 {
		t.Fatalf("inline values after delete = %d", got)
	}
	st, _ = s.BucketStats("bkt1")
	if st.ObjectCount != 0 || st.Storage != 0 {
		t.Fatalf("stats after delete %+v", st)
	}
	// "a" and "a/b" coexist; deleting one keeps the other.
	putObj(t, s, "bkt1", "a", []byte("A"))
	putObj(t, s, "bkt1", "a/b", []byte("AB"))
	if _, err := s.DeleteObject(ctx, "bkt1", "a", NullVersion, nil); err != nil {
		t.Fatal(err)
	}
	if string(readObj(t, s, "bkt1", "a/b")) != "AB" {
		t.Fatal("a/b lost")
	}
	_, err = s.GetObject("bkt1", "a", "")
	wantErr(t, err, ErrNoSuchKey)
}

func countInline(t testing.TB, s *Store) int {
	t.Helper()
	n := 0
	if err := s.db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bktInline).Stats().KeyN; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUpdateObject(t *testing.T) {
	s := openTestStore(t, Options{})
	mustBucket(t, s, "bkt1")
	putObj(t, s, "bkt1", "k", []byte("hello"))
	o, err := s.UpdateObject("bkt1", "k", "", func(o *Object) error { o.ACL = "public-read"; o.Tagging = "a=b"; return nil })
	if err != nil || o.ACL != "public-read" {
		t.Fatalf("UpdateObject = %+v, %v", o, err)
	}
	if g, _ := s.GetObject("bkt1", "k", ""); g.ACL != "public-read" || g.Tagging != "a=b" {
		t.Fatalf("update not stored: %+v", g)
	}
	_, err = s.UpdateObject("bkt1", "k", "", func(o *Object) error { o.Size = 1; return nil })
	wantErr(t, err, ErrInvalidArgument)
	_, err = s.UpdateObject("bkt1", "k", "", func(o *Object) error { o.Extents = nil; return nil })
	wantErr(t, err, ErrInvalidArgument)
	_, err = s.UpdateObject("bkt1", "nope", "", func(*Object) error { return nil })
	wantErr(t, err, ErrNoSuchKey)
	if string(readObj(t, s, "bkt1", "k")) != "hello" {
		t.Fatal("data changed")
	}
}

func TestCRC64Combine(t *testing.T) {
	if got := crc64.Checksum([]byte("123456789"), crcTable); got != 11051210869376104954 {
		t.Fatalf("check value = %d", got)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 200; i++ {
		a := make([]byte, rng.IntN(3000))
		b := make([]byte, rng.IntN(3000))
		for j := range a {
			a[j] = byte(rng.Uint32())
		}
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		want := crcOf(append(slices.Clone(a), b...))
		if got := crc64x.Combine(crcOf(a), crcOf(b), int64(len(b))); got != want {
			t.Fatalf("combine(%d,%d) = %x, want %x", len(a), len(b), got, want)
		}
	}
	// A long second part (exercises many squaring rounds).
	big := pattern(9, 5<<20+3)
	if got := crc64x.Combine(crcOf([]byte("head")), crcOf(big), int64(len(big))); got != crcOf(append([]byte("head"), big...)) {
		t.Fatal("combine with a 5 MiB tail is wrong")
	}
}

func TestAppendObject(t *testing.T) {
	s := openTestStore(t, Options{InlineThreshold: 100})
	mustBucket(t, s, "bkt1")
	var whole []byte
	var etags []string
	sizes := []int{10, 0, 50, 30, 500, 7, 2000, 1}
	for i, n := range sizes {
		chunk := pattern(byte(i), n)
		pos := int64(len(whole))
		o, err := s.AppendObject(ctx, "bkt1", &Object{Key: "log", ContentType: "text/plain", UserMeta: map[string]string{"n": fmt.Sprint(i)}}, newBlob(t, s, chunk), func(cur *Object) error {
			var size int64
			if cur != nil {
				size = cur.Size
				if cur.Type != TypeAppendable {
					return errors.New("not appendable")
				}
			}
			if size != pos {
				return fmt.Errorf("position %d != %d", pos, size)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		whole = append(whole, chunk...)
		if o.Size != int64(len(whole)) || o.CRC64 != crcOf(whole) || o.Type != TypeAppendable || o.UserMeta["n"] != "0" {
			t.Fatalf("append %d: record %+v", i, o)
		}
		etags = append(etags, o.ETag)
	}
	if !bytes.Equal(readObj(t, s, "bkt1", "log"), whole) {
		t.Fatal("appended data differs")
	}
	for i := 1; i < len(etags); i++ {
		if etags[i] == etags[i-1] || len(etags[i]) != 32 {
			t.Fatalf("ETag did not change on append %d: %v", i, etags)
		}
	}
	o, _ := s.GetObject("bkt1", "log", "")
	inlineBytes := int64(0)
	for _, e := range o.Extents {
		if e.Inline {
			inlineBytes += e.Size
		}
	}
	if inlineBytes > 100 {
		t.Fatalf("appendable object keeps %d inline bytes, threshold 100", inlineBytes)
	}
	// Wrong position is vetoed and stores nothing.
	before := len(blobFiles(t, s))
	_, err := s.AppendObject(ctx, "bkt1", &Object{Key: "log"}, newBlob(t, s, pattern(1, 300)), func(cur *Object) error {
		if cur.Size != 0 {
			return errors.New("PositionNotEqualToLength")
		}
		return nil
	})
	if err == nil || err.Error() != "PositionNotEqualToLength" {
		t.Fatalf("wrong position: %v", err)
	}
	if len(blobFiles(t, s)) != before || len(tmpFiles(t, s)) != 0 {
		t.Fatal("vetoed append left data")
	}
	st, _ := s.BucketStats("bkt1")
	if st.ObjectCount != 1 || st.Storage != int64(len(whole)) {
		t.Fatalf("stats %+v", st)
	}
	// Deleting frees every extent.
	if _, err := s.DeleteObject(ctx, "bkt1", "log", "", nil); err != nil {
		t.Fatal(err)
	}
	if n := len(blobFiles(t, s)); n != 0 {
		t.Fatalf("blob files after delete = %d", n)
	}
	if n := countInline(t, s); n != 0 {
		t.Fatalf("inline values after delete = %d", n)
	}
}

func TestCopyObject(t *testing.T) {
	s := openTestStore(t, Options{InlineThreshold: 1000})
	mustBucket(t, s, "src1")
	mustBucket(t, s, "dst1")
	big, small := pattern(1, 5000), pattern(2, 100)
	putObj(t, s, "src1", "big", big)
	putObj(t, s, "src1", "small", small)

	for _, key := range []string{"big", "small"} {
		var sawSrc, sawCur *Object
		o, err := s.CopyObject(ctx, "src1", key, "", "dst1", &Object{Key: "copy-" + key, ContentType: "x/y", UserMeta: map[string]string{"m": "1"}},
			func(src, cur *Object) error { sawSrc, sawCur = src, cur; return nil })
		if err != nil {
			t.Fatal(err)
		}
		src, _ := s.GetObject("src1", key, "")
		if sawSrc == nil || sawSrc.ETag != src.ETag || sawCur != nil {
			t.Fatalf("check saw %+v %+v", sawSrc, sawCur)
		}
		if o.ETag != src.ETag || o.CRC64 != src.CRC64 || o.Size != src.Size || o.ContentType != "x/y" || o.Type != TypeNormal {
			t.Fatalf("copy record %+v", o)
		}
		if o.Extents[0].Blob == src.Extents[0].Blob {
			t.Fatal("copy shares the source's blob ID")
		}
	}
	if n := len(blobFiles(t, s)); n != 2 {
		t.Fatalf("blob files = %d, want 2 (source + link)", n)
	}
	// Deleting the sources keeps the copies whole.
	for _, key := range []string{"big", "small"} {
		if _, err := s.DeleteObject(ctx, "src1", key, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(readObj(t, s, "dst1", "copy-big"), big) || !bytes.Equal(readObj(t, s, "dst1", "copy-small"), small) {
		t.Fatal("copies changed after deleting the sources")
	}
	// Self-copy replacing metadata keeps data and frees the old extent.
	o, err := s.CopyObject(ctx, "dst1", "copy-big", "", "dst1", &Object{Key: "copy-big", ContentType: "new/type"}, nil)
	if err != nil || o.ContentType != "new/type" {
		t.Fatalf("self copy = %+v, %v", o, err)
	}
	if !bytes.Equal(readObj(t, s, "dst1", "copy-big"), big) {
		t.Fatal("self copy changed data")
	}
	if n := len(blobFiles(t, s)); n != 1 {
		t.Fatalf("blob files after self copy = %d, want 1", n)
	}
	veto := errors.New("forbid overwrite")
	if _, err := s.CopyObject(ctx, "dst1", "copy-big", "", "dst1", &Object{Key: "copy-small"}, func(_, cur *Object) error {
		if cur != nil {
			return veto
		}
		return nil
	}); err != veto { //nolint:errorlint // identity
		t.Fatalf("copy veto = %v", err)
	}
	if n := len(blobFiles(t, s)); n != 1 {
		t.Fatalf("vetoed copy left %d blob files", n)
	}
	_, err = s.CopyObject(ctx, "dst1", "missing", "", "dst1", &Object{Key: "x"}, nil)
	wantErr(t, err, ErrNoSuchKey)
	_, err = s.CopyObject(ctx, "dst1", "copy-big", "", "nobkt", &Object{Key: "x"}, nil)
	wantErr(t, err, ErrNoSuchBucket)
	st, _ := s.BucketStats("dst1")
	if st.ObjectCount != 2 || st.Storage != int64(len(big)+len(small)) {
		t.Fatalf("dst stats %+v", st)
	}
}

func TestMultipart(t *testing.T) {
	s := openTestStore(t, Options{InlineThreshold: 1000})
	mustBucket(t, s, "bkt1")
	u, err := s.CreateUpload("bkt1", &Upload{Key: "mp", Template: Object{ContentType: "video/mp4", UserMeta: map[string]string{"x": "y"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(u.UploadID) != 32 || u.Initiated.IsZero() || u.Template.Key != "mp" {
		t.Fatalf("upload %+v", u)
	}
	if g, err := s.GetUpload("bkt1", "mp", u.UploadID); err != nil || g.Template.ContentType != "video/mp4" {
		t.Fatalf("GetUpload = %+v, %v", g, err)
	}
	_, err = s.GetUpload("bkt1", "other", u.UploadID)
	wantErr(t, err, ErrNoSuchUpload)

	parts := map[int][]byte{1: pattern(1, 3000), 2: pattern(2, 2500), 3: pattern(3, 400), 4: pattern(4, 10)}
	for n := 1; n <= 4; n++ {
		p, err := s.PutPart(ctx, "bkt1", "mp", u.UploadID, n, newBlob(t, s, parts[n]))
		if err != nil {
			t.Fatal(err)
		}
		if p.Number != n || p.Size != int64(len(parts[n])) || p.ETag != md5Hex(parts[n]) || p.CRC64 != crcOf(parts[n]) {
			t.Fatalf("part %+v", p)
		}
	}
	if n := len(blobFiles(t, s)); n != 2 {
		t.Fatalf("blob files = %d, want 2", n)
	}
	// Re-uploading part 2 replaces it and frees the old blob.
	parts[2] = pattern(22, 2600)
	if _, err := s.PutPart(ctx, "bkt1", "mp", u.UploadID, 2, newBlob(t, s, parts[2])); err != nil {
		t.Fatal(err)
	}
	if n := len(blobFiles(t, s)); n != 2 {
		t.Fatalf("blob files after part replacement = %d, want 2", n)
	}
	wantErr(t, func() error {
		_, err := s.PutPart(ctx, "bkt1", "mp", u.UploadID, 0, newBlob(t, s, []byte("x")))
		return err
	}(), ErrInvalidArgument)

	list, more, err := s.ListParts("bkt1", "mp", u.UploadID, 0, 2)
	if err != nil || more != true || len(list) != 2 || list[0].Number != 1 || list[1].Number != 2 {
		t.Fatalf("ListParts(0,2) = %+v %v %v", list, more, err)
	}
	list, more, _ = s.ListParts("bkt1", "mp", u.UploadID, 2, 2)
	if more || len(list) != 2 || list[0].Number != 3 || list[1].Number != 4 {
		t.Fatalf("ListParts(2,2) = %+v %v", list, more)
	}
	st, _ := s.BucketStats("bkt1")
	if st.MultipartUploadCount != 1 || st.Storage != 3000+2600+400+10 || st.ObjectCount != 0 {
		t.Fatalf("stats during upload %+v", st)
	}

	// Complete with parts 1, 2 and 4 (3 unused).
	build := func(u *Upload, all []Part) (*Object, error) {
		if len(all) != 4 {
			return nil, fmt.Errorf("build got %d parts", len(all))
		}
		obj := u.Template
		var crc uint64
		for _, p := range all {
			if p.Number == 3 {
				continue
			}
			obj.Extents = append(obj.Extents, p.Extent)
			crc = crc64x.Combine(crc, p.CRC64, p.Size)
			obj.Size += p.Size
		}
		obj.CRC64, obj.ETag = crc, "ABC-3"
		return &obj, nil
	}
	want := slices.Concat(parts[1], parts[2], parts[4])
	o, err := s.CompleteUpload(ctx, "bkt1", "mp", u.UploadID, build, func(*Object) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if o.Type != TypeMultipart || o.Size != int64(len(want)) || o.CRC64 != crcOf(want) || o.ContentType != "video/mp4" || o.UserMeta["x"] != "y" {
		t.Fatalf("completed %+v", o)
	}
	if !bytes.Equal(readObj(t, s, "bkt1", "mp"), want) {
		t.Fatal("completed data differs")
	}
	if n := len(blobFiles(t, s)); n != 2 { // parts 1 and 2 moved, no copies
		t.Fatalf("blob files after complete = %d, want 2", n)
	}
	if n := countInline(t, s); n != 1 { // part 4 kept, part 3 freed
		t.Fatalf("inline values after complete = %d, want 1", n)
	}
	st, _ = s.BucketStats("bkt1")
	if st.MultipartUploadCount != 0 || st.Storage != int64(len(want)) || st.ObjectCount != 1 {
		t.Fatalf("stats after complete %+v", st)
	}
	_, err = s.GetUpload("bkt1", "mp", u.UploadID)
	wantErr(t, err, ErrNoSuchUpload)
	// A retried Complete returns the same object without calling build.
	again, err := s.CompleteUpload(ctx, "bkt1", "mp", u.UploadID, func(*Upload, []Part) (*Object, error) {
		return nil, errors.New("build called on retry")
	}, func(*Object) error { return errors.New("check called on retry") })
	if err != nil || again.ETag != o.ETag || again.Size != o.Size {
		t.Fatalf("retry = %+v, %v", again, err)
	}
	// Once the key is overwritten the upload is gone for good.
	putObj(t, s, "bkt1", "mp", []byte("new"))
	_, err = s.CompleteUpload(ctx, "bkt1", "mp", u.UploadID, build, nil)
	wantErr(t, err, ErrNoSuchUpload)
	err = s.AbortUpload(ctx, "bkt1", "mp", u.UploadID)
	wantErr(t, err, ErrNoSuchUpload)

	// Abort frees every part.
	u2, _ := s.CreateUpload("bkt1", &Upload{Key: "mp2"})
	for n := 1; n <= 3; n++ {
		if _, err := s.PutPart(ctx, "bkt1", "mp2", u2.UploadID, n, newBlob(t, s, pattern(byte(n), 1500+n*10))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutPart(ctx, "bkt1", "mp2", u2.UploadID, 4, newBlob(t, s, pattern(5, 5))); err != nil {
		t.Fatal(err)
	}
	if n := len(blobFiles(t, s)); n != 3 {
		t.Fatalf("blob files = %d, want 3", n)
	}
	if err := s.AbortUpload(ctx, "bkt1", "mp2", u2.UploadID); err != nil {
		t.Fatal(err)
	}
	if n := len(blobFiles(t, s)); n != 0 {
		t.Fatalf("blob files after abort = %d, want 0", n)
	}
	if n := countInline(t, s); n != 1 { // only the object "mp"
		t.Fatalf("inline values after abort = %d, want 1", n)
	}
	// A part arriving after the abort is refused and leaves nothing.
	_, err = s.PutPart(ctx, "bkt1", "mp2", u2.UploadID, 5, newBlob(t, s, pattern(5, 5000)))
	wantErr(t, err, ErrNoSuchUpload)
	if n := len(blobFiles(t, s)); n != 0 || len(tmpFiles(t, s)) != 0 {
		t.Fatal("late part left data")
	}
	st, _ = s.BucketStats("bkt1")
	if st.MultipartUploadCount != 0 || st.Storage != 3 || st.ObjectCount != 1 {
		t.Fatalf("final stats %+v", st)
	}
}

func TestCompleteRejectsForeignExtents(t *testing.T) {
	s := openTestStore(t, Options{})
	mustBucket(t, s, "bkt1")
	u, _ := s.CreateUpload("bkt1", &Upload{Key: "k"})
	p, err := s.PutPart(ctx, "bkt1", "k", u.UploadID, 1, newBlob(t, s, []byte("part")))
	if err != nil {
		t.Fatal(err)
	}
	for name, obj := range map[string]*Object{
		"foreign":    {Size: 4, Extents: []Extent{{Blob: newID(), Size: 4}}},
		"duplicate":  {Size: 8, Extents: []Extent{p.Extent, p.Extent}},
		"wrong size": {Size: 5, Extents: []Extent{p.Extent}},
	} {
		_, err := s.CompleteUpload(ctx, "bkt1", "k", u.UploadID, func(*Upload, []Part) (*Object, error) { return obj, nil }, nil)
		if !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := s.GetUpload("bkt1", "k", u.UploadID); err != nil {
		t.Fatalf("upload gone after failed completes: %v", err)
	}
}

func TestPutPartCopy(t *testing.T) {
	s := openTestStore(t, Options{InlineThreshold: 100})
	mustBucket(t, s, "bkt1")
	src := pattern(9, 10000)
	putObj(t, s, "bkt1", "src", src)
	u, _ := s.CreateUpload("bkt1", &Upload{Key: "dst"})
	var checked bool
	p1, err := s.PutPartCopy(ctx, "bkt1", "src", "", 1000, 6000, "bkt1", "dst", u.UploadID, 1, func(o *Object) error { checked = o.Size == 10000; return nil })
	if err != nil || !checked {
		t.Fatalf("PutPartCopy: %v (checked %v)", err, checked)
	}
	if p1.Size != 6000 || p1.ETag != md5Hex(src[1000:7000]) || p1.CRC64 != crcOf(src[1000:7000]) {
		t.Fatalf("part %+v", p1)
	}
	p2, err := s.PutPartCopy(ctx, "bkt1", "src", "", 0, 50, "bkt1", "dst", u.UploadID, 2, nil)
	if err != nil || !p2.Extent.Inline {
		t.Fatalf("small PutPartCopy = %+v, %v", p2, err)
	}
	_, err = s.PutPartCopy(ctx, "bkt1", "src", "", 9000, 2000, "bkt1", "dst", u.UploadID, 3, nil)
	wantErr(t, err, ErrInvalidRange)
	_, err = s.PutPartCopy(ctx, "bkt1", "src", "", 0, 10, "bkt1", "dst", "NOUPLOAD", 3, nil)
	wantErr(t, err, ErrNoSuchUpload)
	o, err := s.CompleteUpload(ctx, "bkt1", "dst", u.UploadID, func(_ *Upload, parts []Part) (*Object, error) {
		obj := &Object{ETag: "X-2"}
		for _, p := range parts {
			obj.Extents = append(obj.Extents, p.Extent)
			obj.Size += p.Size
			obj.CRC64 = crc64x.Combine(obj.CRC64, p.CRC64, p.Size)
		}
		return obj, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Concat(src[1000:7000], src[:50])
	if o.CRC64 != crcOf(want) || !bytes.Equal(readObj(t, s, "bkt1", "dst"), want) {
		t.Fatal("copied parts differ")
	}
}

func TestListUploads(t *testing.T) {
	tick := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	s := openTestStore(t, Options{Now: func() time.Time { tick = tick.Add(time.Second); return tick }})
	mustBucket(t, s, "bkt1")
	type ref struct{ key, id string }
	var all []ref
	for _, k := range []string{"b", "a/1", "a/2", "b", "c/x/y", "a/1", "d"} {
		u, err := s.CreateUpload("bkt1", &Upload{Key: k})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ref{k, u.UploadID})
	}
	slices.SortStableFunc(all, func(x, y ref) int { return strings.Compare(x.key, y.key) }) // IDs already in initiation order
	show := func(r *UploadListResult) string {
		var out []string
		for _, u := range r.Uploads {
			out = append(out, u.Key+"@"+u.UploadID[len(u.UploadID)-4:])
		}
		return join(out) + " cp=" + join(r.CommonPrefixes) + fmt.Sprintf(" trunc=%v", r.IsTruncated)
	}
	ref2 := func(rs ...ref) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.key+"@"+r.id[len(r.id)-4:])
		}
		return join(out)
	}
	r, err := s.ListUploads("bkt1", UploadListOptions{})
	if err != nil || show(r) != ref2(all...)+" cp= trunc=false" {
		t.Fatalf("all uploads: %s", show(r))
	}
	// Paging with key and upload-id markers visits every upload once, in order.
	var got []ref
	opts := UploadListOptions{MaxUploads: 2}
	for {
		r, err := s.ListUploads("bkt1", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range r.Uploads {
			got = append(got, ref{u.Key, u.UploadID})
		}
		if !r.IsTruncated {
			break
		}
		opts.KeyMarker, opts.UploadIDMarker = r.NextKeyMarker, r.NextUploadIDMarker
	}
	if ref2(got...) != ref2(all...) {
		t.Fatalf("paged uploads %s, want %s", ref2(got...), ref2(all...))
	}
	r, _ = s.ListUploads("bkt1", UploadListOptions{Delimiter: "/"})
	if show(r) != ref2(all[3], all[4], all[6])+" cp=a/|c/ trunc=false" {
		t.Fatalf("delimiter: %s", show(r))
	}
	r, _ = s.ListUploads("bkt1", UploadListOptions{Delimiter: "/", MaxUploads: 1, KeyMarker: "a/"})
	if show(r) != ref2(all[3])+" cp= trunc=true" || r.NextKeyMarker != "b" {
		t.Fatalf("after common prefix: %s", show(r))
	}
	r, _ = s.ListUploads("bkt1", UploadListOptions{KeyMarker: "b"})
	if len(r.Uploads) != 2 || r.Uploads[0].Key != "c/x/y" || r.Uploads[1].Key != "d" {
		t.Fatalf("key marker only: %s", show(r))
	}
	r, _ = s.ListUploads("bkt1", UploadListOptions{KeyMarker: "b", UploadIDMarker: all[3].id})
	if len(r.Uploads) != 3 || r.Uploads[0].UploadID != all[4].id {
		t.Fatalf("key and upload-id marker: %s", show(r))
	}
	r, _ = s.ListUploads("bkt1", UploadListOptions{Prefix: "a/", MaxUploads: 10})
	if len(r.Uploads) != 3 {
		t.Fatalf("prefix a/: %s", show(r))
	}
}

func TestClosedStore(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustBucket(t, s, "bkt1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	wantErr(t, s.CreateBucket(Bucket{Name: "x"}), ErrClosed)
	_, err = s.GetBucket("bkt1")
	wantErr(t, err, ErrClosed)
	_, err = s.NewBlob()
	wantErr(t, err, ErrClosed)
	_, err = s.ListObjects("bkt1", ListOptions{})
	wantErr(t, err, ErrClosed)
}

func TestSecondOpenFailsFast(t *testing.T) {
	s := openTestStore(t, Options{})
	start := time.Now()
	_, err := Open(s.Dir(), Options{})
	wantErr(t, err, ErrLocked)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("second Open took %v", d)
	}
}

func TestReopenKeepsAcknowledgedWritesAndCollectsGarbage(t *testing.T) {
	s := openTestStore(t, Options{InlineThreshold: 100})
	mustBucket(t, s, "bkt1")
	want := map[string][]byte{}
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("k%02d", i)
		want[k] = pattern(byte(i), i*37)
		putObj(t, s, "bkt1", k, want[k])
	}
	if _, err := s.AppendObject(ctx, "bkt1", &Object{Key: "app"}, newBlob(t, s, pattern(1, 300)), nil); err != nil {
		t.Fatal(err)
	}
	u, _ := s.CreateUpload("bkt1", &Upload{Key: "mp"})
	if _, err := s.PutPart(ctx, "bkt1", "mp", u.UploadID, 1, newBlob(t, s, pattern(2, 500))); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBucketConfig("bkt1", "policy", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	referenced := len(blobFiles(t, s))

	// Simulate a crash's leftovers: an orphan blob (renamed, never
	// committed) and a half-written temp file.
	orphan := newID()
	if err := os.WriteFile(s.blobPath(orphan), []byte("orphan"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir(), "tmp", "blob-123"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	dirtyBlob := newBlob(t, s, pattern(7, 5000)) // an in-flight upload at "crash" time
	_ = dirtyBlob

	s = reopen(t, s, Options{InlineThreshold: 100})
	if _, err := os.Stat(s.blobPath(orphan)); !os.IsNotExist(err) {
		t.Fatalf("orphan blob survived reopen: %v", err)
	}
	if tf := tmpFiles(t, s); len(tf) != 0 {
		t.Fatalf("temp files survived reopen: %v", tf)
	}
	if n := len(blobFiles(t, s)); n != referenced {
		t.Fatalf("blob files after reopen = %d, want %d", n, referenced)
	}
	for k, data := range want {
		if !bytes.Equal(readObj(t, s, "bkt1", k), data) {
			t.Fatalf("%s differs after reopen", k)
		}
	}
	if !bytes.Equal(readObj(t, s, "bkt1", "app"), pattern(1, 300)) {
		t.Fatal("appendable object differs after reopen")
	}
	parts, err := s.AllParts("bkt1", "mp", u.UploadID)
	if err != nil || len(parts) != 1 || parts[0].Size != 500 {
		t.Fatalf("parts after reopen = %+v, %v", parts, err)
	}
	if doc, err := s.GetBucketConfig("bkt1", "policy"); err != nil || string(doc) != "{}" {
		t.Fatalf("config after reopen = %q, %v", doc, err)
	}
	st, _ := s.BucketStats("bkt1")
	if st.ObjectCount != 21 || st.MultipartUploadCount != 1 {
		t.Fatalf("stats after reopen %+v", st)
	}
}

func TestCorruptRecordIsConfined(t *testing.T) {
	s := openTestStore(t, Options{InlineThreshold: 10})
	mustBucket(t, s, "bkt1")
	for _, k := range []string{"a", "b", "c"} {
		putObj(t, s, "bkt1", k, pattern(k[0], 50))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Corrupt b's record behind the store's back.
	db, err := bolt.Open(filepath.Join(s.Dir(), "meta.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRootName("bkt1")).Bucket(subObjects).Put(objKey("b", NullVersion), []byte("\x01{trunc"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(s.Dir(), Options{InlineThreshold: 10})
	if err != nil {
		t.Fatalf("Open with a corrupt record: %v", err)
	}
	defer s.Close()
	if !s.skippedGC || len(blobFiles(t, s)) != 3 {
		t.Fatal("garbage collection must not delete blobs while a record is undecodable")
	}
	_, err = s.GetObject("bkt1", "b", "")
	wantErr(t, err, ErrCorruptMetadata)
	_, _, err = s.OpenObject("bkt1", "b", "")
	wantErr(t, err, ErrCorruptMetadata)
	for _, k := range []string{"a", "c"} {
		if !bytes.Equal(readObj(t, s, "bkt1", k), pattern(k[0], 50)) {
			t.Fatalf("%s unreadable", k)
		}
	}
	r, err := s.ListObjects("bkt1", ListOptions{})
	if err != nil || join(keyList(r.Objects)) != "a|c" {
		t.Fatalf("listing with a corrupt record = %v, %v", r, err)
	}
	// The corrupt key can be overwritten or deleted.
	putObj(t, s, "bkt1", "b", []byte("fixed"))
	if string(readObj(t, s, "bkt1", "b")) != "fixed" {
		t.Fatal("overwrite of corrupt record failed")
	}
}

func TestDeleteCorruptRecord(t *testing.T) {
	s := openTestStore(t, Options{})
	mustBucket(t, s, "bkt1")
	putObj(t, s, "bkt1", "b", []byte("x"))
	if err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRootName("bkt1")).Bucket(subObjects).Put(objKey("b", NullVersion), []byte("garbage"))
	}); err != nil {
		t.Fatal(err)
	}
	if o, err := s.DeleteObject(ctx, "bkt1", "b", "", nil); err != nil || o == nil {
		t.Fatalf("delete corrupt = %v, %v", o, err)
	}
	_, err := s.GetObject("bkt1", "b", "")
	wantErr(t, err, ErrNoSuchKey)
}

func TestCopyObjectRetriesWhenSourceChanges(t *testing.T) {
	s := openTestStore(t, Options{InlineThreshold: 100})
	mustBucket(t, s, "bkt1")
	putObj(t, s, "bkt1", "src", pattern(1, 5000))
	races := 0
	s.testHookCopyLinked = func() {
		if races < 2 { // overwrite the source after the links were made
			races++
			putObj(t, s, "bkt1", "src", pattern(byte(races+1), 6000+races))
		}
	}
	o, err := s.CopyObject(ctx, "bkt1", "src", "", "bkt1", &Object{Key: "dst"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := pattern(3, 6002)
	if got := readObj(t, s, "bkt1", "dst"); !bytes.Equal(got, want) || o.ETag != md5Hex(want) || o.Size != int64(len(want)) {
		t.Fatalf("copy after racing overwrites: %d bytes, record %+v", len(got), o)
	}
	if n := len(blobFiles(t, s)); n != 2 {
		t.Fatalf("blob files = %d, want 2 (stale links removed)", n)
	}
}

func TestNeverInline(t *testing.T) {
	s := openTestStore(t, Options{InlineThreshold: -1})
	mustBucket(t, s, "bkt1")
	b, _ := s.NewBlob()
	_, _ = b.Write(nil) // a zero-length write must not leave a file behind
	if _, err := s.PutObject(ctx, "bkt1", &Object{Key: "empty"}, b, nil); err != nil {
		t.Fatal(err)
	}
	o := putObj(t, s, "bkt1", "tiny", []byte("x"))
	if len(o.Extents) != 1 || o.Extents[0].Inline {
		t.Fatalf("extents %+v, want one file extent", o.Extents)
	}
	if n, tf := len(blobFiles(t, s)), tmpFiles(t, s); n != 1 || len(tf) != 0 {
		t.Fatalf("blob files %d, temp files %v", n, tf)
	}
	if got := readObj(t, s, "bkt1", "empty"); len(got) != 0 {
		t.Fatal("empty object has data")
	}
	if countInline(t, s) != 0 {
		t.Fatal("inline data stored with a negative threshold")
	}
}
