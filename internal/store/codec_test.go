package store

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sampleObject() *Object {
	return &Object{
		Key: "a/\xff\xfe/é", VersionID: NullVersion, Size: 1 << 40, ETag: "ABC-2", CRC64: 0xFFFFFFFFFFFFFFFF,
		Type: TypeMultipart, StorageClass: "IA", Modified: time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.UTC),
		ContentType: "text/plain; charset=latin1", Headers: map[string]string{"Content-Disposition": "attachment; filename=\"caf\xe9\""},
		UserMeta: map[string]string{"k\x80": "v\x00\xff", "plain": ""}, ACL: "public-read", Tagging: "a=b&c=d",
		Symlink: "target\xff", DeleteMarker: true,
		Extents: []Extent{{Blob: newID(), Size: 5}, {Blob: newID(), Size: 1 << 33, Inline: true}},
		Extra:   map[string]string{"sse": "\x00\x01binary"},
	}
}

func TestObjectCodecRoundTrip(t *testing.T) {
	for _, o := range []*Object{sampleObject(), {Key: "k"}, {Key: "k", Modified: time.Unix(-5, 7).UTC()}} {
		var got Object
		if err := unmarshalObject(encodeObject(o), &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(o, &got); diff != "" {
			t.Fatalf("object round trip (-want +got):\n%s", diff)
		}
	}
	u := &Upload{Key: "k\xff", UploadID: "ID", Initiated: time.Date(2020, 1, 1, 0, 0, 0, 1, time.UTC), Template: *sampleObject()}
	var got Upload
	if err := unmarshalUpload(encodeUpload(u), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(u, &got); diff != "" {
		t.Fatalf("upload round trip (-want +got):\n%s", diff)
	}
}

func TestObjectCodecRejectsDamage(t *testing.T) {
	enc := encodeObject(sampleObject())
	for n := 0; n < len(enc); n++ {
		var o Object
		if err := unmarshalObject(enc[:n], &o); err == nil {
			t.Fatalf("truncated record (%d of %d bytes) accepted", n, len(enc))
		}
	}
	var o Object
	if err := unmarshalObject(append(enc, 0), &o); err == nil {
		t.Fatal("trailing byte accepted")
	}
	// Blob IDs become file names: a record naming anything else is corrupt.
	for _, bad := range []string{"", "../../etc/passwd", "0", strings.Repeat("G", 32)} {
		o := sampleObject()
		o.Extents[0].Blob = bad
		if err := unmarshalObject(encodeObject(o), &Object{}); err == nil {
			t.Fatalf("blob ID %q accepted", bad)
		}
	}
	// Random damage never panics.
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 5000; i++ {
		b := append([]byte(nil), enc...)
		for j := rng.IntN(4) + 1; j > 0; j-- {
			b[rng.IntN(len(b))] = byte(rng.Uint32())
		}
		_ = unmarshalObject(b, &Object{})
		_ = unmarshalUpload(append([]byte{uploadFormat}, b[1:]...), &Upload{})
	}
}

func FuzzUnmarshalObject(f *testing.F) {
	f.Add(encodeObject(sampleObject()))
	f.Add(encodeObject(&Object{Key: "k"}))
	f.Add([]byte{objectFormat, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		var o Object
		if unmarshalObject(data, &o) == nil {
			// Whatever decodes re-encodes to a record that decodes the same
			// (byte equality is too strict: varints and map order have
			// non-canonical spellings).
			var again Object
			if err := unmarshalObject(encodeObject(&o), &again); err != nil {
				t.Fatalf("re-encoded record does not decode: %v", err)
			}
			if diff := cmp.Diff(&o, &again); diff != "" {
				t.Fatalf("round trip differs:\n%s", diff)
			}
		}
	})
}

func TestBinaryKeysAndMetadataRoundTrip(t *testing.T) {
	s := openTestStore(t, Options{})
	mustBucket(t, s, "bkt1")
	key := "caf\xe9/\xff\xfe"
	meta := map[string]string{"latin": "caf\xe9"}
	b := newBlob(t, s, []byte("data"))
	if _, err := s.PutObject(ctx, "bkt1", &Object{Key: key, UserMeta: meta}, b, nil); err != nil {
		t.Fatal(err)
	}
	o, err := s.GetObject("bkt1", key, "")
	if err != nil || o.Key != key || o.UserMeta["latin"] != "caf\xe9" {
		t.Fatalf("GetObject = %#v, %v", o, err)
	}
	res, _ := s.ListObjects("bkt1", ListOptions{})
	if len(res.Objects) != 1 || res.Objects[0].Key != key {
		t.Fatalf("listed %q", keyList(res.Objects))
	}
	u, err := s.CreateUpload("bkt1", &Upload{Key: key, Template: Object{UserMeta: meta}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.GetUpload("bkt1", key, u.UploadID)
	if err != nil || g.Template.Key != key || g.Template.UserMeta["latin"] != "caf\xe9" {
		t.Fatalf("GetUpload = %#v, %v", g, err)
	}
}
