package server_test

import (
	"context"
	"testing"

	"github.com/ossctl/ossctl/internal/store"
)

// TestStoreKeepsNonUTF8Metadata checks that metadata bytes that are not
// UTF-8 (legal HTTP obs-text, stored verbatim by OSS) survive the store
// unaltered.
func TestStoreKeepsNonUTF8Metadata(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateBucket(store.Bucket{Name: "bkt", ACL: "private"}); err != nil {
		t.Fatal(err)
	}
	blob, err := st.NewBlob()
	if err != nil {
		t.Fatal(err)
	}
	want := "caf\xe9"
	obj := &store.Object{Key: "k", UserMeta: map[string]string{"v": want}, ContentType: want}
	if _, err := st.PutObject(context.Background(), "bkt", obj, blob, nil); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetObject("bkt", "k", "")
	if err != nil {
		t.Fatal(err)
	}
	if got.UserMeta["v"] != want || got.ContentType != want {
		t.Fatalf("stored %q, read back %q / %q", want, got.UserMeta["v"], got.ContentType)
	}
}
