package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// sealedBlob stages stored bytes for content of the given size, as the
// server's encryption layer does.
func sealedBlob(t *testing.T, s *Store, stored []byte, contentSize int64, seal string) *BlobWriter {
	t.Helper()
	w, err := s.NewSealedBlob()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(stored); err != nil {
		t.Fatal(err)
	}
	if err := w.SetContent(contentSize, bytes.Repeat([]byte{7}, 16), 42, seal); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestSealedExtentsRoundTrip(t *testing.T) {
	for _, inline := range []int64{0, -1} { // inline and file-backed
		s := openTestStore(t, Options{InlineThreshold: inline})
		mustBucket(t, s, "bkt1")
		stored := pattern(3, 5000)
		blob := sealedBlob(t, s, stored, 4000, "salt-1")
		if got := blob.Size(); got != 4000 {
			t.Fatalf("Size = %d, want the content size 4000", got)
		}
		obj, err := s.PutObject(context.Background(), "bkt1", &Object{Key: "k", Extra: map[string]string{"sse": "x"}}, blob, nil)
		if err != nil {
			t.Fatal(err)
		}
		if obj.Size != 4000 || obj.CRC64 != 42 || obj.ETag != strings.Repeat("07", 16) {
			t.Fatalf("record = size %d crc %d etag %s", obj.Size, obj.CRC64, obj.ETag)
		}
		s = reopen(t, s, Options{InlineThreshold: inline})
		o, r, err := s.OpenObject("bkt1", "k", "")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if len(o.Extents) != 1 || !o.Extents[0].Sealed() || o.Extents[0].Stored != 5000 || o.Extents[0].Seal != "salt-1" {
			t.Fatalf("extent after reopen = %+v", o.Extents)
		}
		if !r.Sealed() {
			t.Fatal("reader of a sealed object does not say so")
		}
		if _, err := r.ReadAt(make([]byte, 10), 0); !errors.Is(err, ErrSealed) {
			t.Fatalf("ReadAt of a sealed object = %v, want ErrSealed", err)
		}
		if _, err := r.WriteRangeTo(io.Discard, 0, 10); !errors.Is(err, ErrSealed) {
			t.Fatalf("WriteRangeTo of a sealed object = %v, want ErrSealed", err)
		}
		ps := r.Pieces()
		if len(ps) != 1 || ps[0].Size != 4000 || ps[0].Stored != 5000 || !ps[0].Sealed || ps[0].Seal != "salt-1" {
			t.Fatalf("pieces = %+v", ps)
		}
		got := make([]byte, 5000)
		if n, err := r.ReadPieceAt(0, got, 0); n != 5000 || err != nil {
			t.Fatalf("ReadPieceAt = %d, %v", n, err)
		}
		if !bytes.Equal(got, stored) {
			t.Fatal("stored bytes differ")
		}
		if n, err := r.ReadPieceAt(0, make([]byte, 100), 4950); n != 50 || !errors.Is(err, io.EOF) {
			t.Fatalf("ReadPieceAt past the end = %d, %v", n, err)
		}
	}
}

func TestSealedBlobNeedsContent(t *testing.T) {
	s := openTestStore(t, Options{})
	mustBucket(t, s, "bkt1")
	w, err := s.NewSealedBlob()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("ciphertext"))
	if _, err := s.PutObject(context.Background(), "bkt1", &Object{Key: "k"}, w, nil); err == nil {
		t.Fatal("a sealed blob without SetContent was committed")
	}
	if _, err := s.GetObject("bkt1", "k", ""); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("object after refused commit: %v", err)
	}
	w2, _ := s.NewSealedBlob()
	if err := w2.SetContent(5, nil, 0, ""); err == nil {
		t.Fatal("SetContent accepted content for an empty stored blob")
	}
	w2.Abort()
}

func TestSealedPartsComplete(t *testing.T) {
	s := openTestStore(t, Options{InlineThreshold: -1})
	mustBucket(t, s, "bkt1")
	u, err := s.CreateUpload("bkt1", &Upload{Key: "m", Template: Object{Extra: map[string]string{"sse": "env"}}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.PutPart(context.Background(), "bkt1", "m", u.UploadID, 1, sealedBlob(t, s, pattern(1, 300), 200, "p1"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Size != 200 || p.Extent.Stored != 300 || p.Extent.Seal != "p1" {
		t.Fatalf("part = %+v", p)
	}
	obj, err := s.CompleteUpload(context.Background(), "bkt1", "m", u.UploadID, func(u *Upload, parts []Part) (*Object, error) {
		o := u.Template
		o.Size = parts[0].Size
		o.Extents = []Extent{parts[0].Extent}
		return &o, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if obj.Extra["sse"] != "env" || obj.Extents[0].Seal != "p1" || obj.Extents[0].Stored != 300 {
		t.Fatalf("completed = %+v", obj)
	}
}

func TestRewriteExtras(t *testing.T) {
	s := openTestStore(t, Options{})
	for _, b := range []string{"bkt1", "bkt2"} {
		mustBucket(t, s, b)
	}
	const n = extrasBatch + 10 // more than one batch
	for i := 0; i < n; i++ {
		obj := &Object{Key: "k" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + itoa(i), Extra: map[string]string{"v": "1"}}
		if _, err := s.PutObject(context.Background(), "bkt1", obj, newBlob(t, s, []byte("data")), nil); err != nil {
			t.Fatal(err)
		}
	}
	putObj(t, s, "bkt2", "plain", []byte("no extra"))
	if _, err := s.CreateUpload("bkt2", &Upload{Key: "up", Template: Object{Extra: map[string]string{"v": "1"}}}); err != nil {
		t.Fatal(err)
	}
	st, err := s.RewriteExtras(context.Background(), func(bucket string, x map[string]string) (map[string]string, bool, error) {
		if x["v"] != "1" {
			return nil, false, nil
		}
		x["v"] = "2"
		x["b"] = bucket
		return x, true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Visited != n+2 || st.Rewritten != n+1 || st.Corrupt != 0 {
		t.Fatalf("stats = %+v, want %d visited, %d rewritten", st, n+2, n+1)
	}
	res, err := s.ListObjects("bkt1", ListOptions{MaxKeys: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Objects {
		if o.Extra["v"] != "2" || o.Extra["b"] != "bkt1" {
			t.Fatalf("%s: extra %v not rewritten", o.Key, o.Extra)
		}
	}
	if got := readObj(t, s, "bkt1", res.Objects[0].Key); string(got) != "data" {
		t.Fatalf("data changed: %q", got)
	}
	ups, err := s.ListUploads("bkt2", UploadListOptions{MaxUploads: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 1 || ups.Uploads[0].Template.Extra["v"] != "2" {
		t.Fatalf("upload template not rewritten: %+v", ups.Uploads)
	}
	wantFail := errors.New("boom")
	if _, err := s.RewriteExtras(context.Background(), func(string, map[string]string) (map[string]string, bool, error) {
		return nil, false, wantFail
	}); !errors.Is(err, wantFail) {
		t.Fatalf("error from fn = %v", err)
	}
}

func itoa(i int) string {
	const d = "0123456789"
	if i < 10 {
		return d[i : i+1]
	}
	return itoa(i/10) + d[i%10:i%10+1]
}
