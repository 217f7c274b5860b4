package store

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"hash/crc64"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openTestStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func reopen(t testing.TB, s *Store, opts Options) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2, err := Open(s.Dir(), opts)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	return s2
}

func mustBucket(t testing.TB, s *Store, name string) {
	t.Helper()
	if err := s.CreateBucket(Bucket{Name: name, Location: "oss-cn-hangzhou", StorageClass: "Standard", ACL: "private"}); err != nil {
		t.Fatalf("CreateBucket(%s): %v", name, err)
	}
}

func newBlob(t testing.TB, s *Store, data []byte) *BlobWriter {
	t.Helper()
	b, err := s.NewBlob()
	if err != nil {
		t.Fatalf("NewBlob: %v", err)
	}
	if _, err := b.Write(data); err != nil {
		t.Fatalf("blob Write: %v", err)
	}
	return b
}

func putObj(t testing.TB, s *Store, bucket, key string, data []byte) *Object {
	t.Helper()
	o, err := s.PutObject(context.Background(), bucket, &Object{Key: key, ContentType: "application/octet-stream"}, newBlob(t, s, data), nil)
	if err != nil {
		t.Fatalf("PutObject(%s/%q): %v", bucket, key, err)
	}
	return o
}

func readObj(t testing.TB, s *Store, bucket, key string) []byte {
	t.Helper()
	_, data, err := tryRead(s, bucket, key)
	if err != nil {
		t.Fatalf("reading %s/%q: %v", bucket, key, err)
	}
	return data
}

func tryRead(s *Store, bucket, key string) (*Object, []byte, error) {
	o, r, err := s.OpenObject(bucket, key, "")
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var buf bytes.Buffer
	n, err := r.WriteRangeTo(&buf, 0, r.Size())
	if err != nil {
		return nil, nil, err
	}
	if n != o.Size || int64(buf.Len()) != o.Size {
		return nil, nil, errors.New("short read")
	}
	return o, buf.Bytes(), nil
}

func md5Hex(data []byte) string {
	sum := md5.Sum(data)
	return upperHex(sum[:])
}

// crcTable is the CRC-64/ECMA table OSS uses, for reference checksums.
var crcTable = crc64.MakeTable(crc64.ECMA)

func crcOf(data []byte) uint64 { return crc64.Checksum(data, crcTable) }

// blobFiles lists the blob files on disk.
func blobFiles(t testing.TB, s *Store) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(s.Dir(), "blobs"), func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			out = append(out, d.Name())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tmpFiles(t testing.TB, s *Store) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.Dir(), "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// pattern returns n bytes derived from seed.
func pattern(seed byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7) + byte(i>>9)
	}
	return b
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

// collectWriter is an io.Writer without ReadFrom, to exercise the buffered path.
type collectWriter struct{ b []byte }

func (w *collectWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

var _ io.Writer = (*collectWriter)(nil)

func keyList(objs []Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Key
	}
	return out
}

func join(ss []string) string { return strings.Join(ss, "|") }
