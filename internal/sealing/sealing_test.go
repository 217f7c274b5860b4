package sealing

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

func mustOpen(t *testing.T, dir string) *Keyring {
	t.Helper()
	k, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return k
}

func TestCreateReopenSealOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k := mustOpen(t, dir)
	st, err := os.Stat(k.Path())
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %04o", st.Mode().Perm())
	}
	if k.Primary() != 1 {
		t.Fatalf("primary %d", k.Primary())
	}
	pt := []byte("kms key material, 32 bytes long!")
	aad := []byte("kms:key:abc:v1")
	blob, err := k.Seal(pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	if len(blob) != len(pt)+Overhead {
		t.Fatalf("blob %d bytes, want %d", len(blob), len(pt)+Overhead)
	}
	if bytes.Contains(blob, pt[:8]) {
		t.Fatal("plaintext visible in blob")
	}
	blob2, _ := k.Seal(pt, aad)
	if bytes.Equal(blob, blob2) {
		t.Fatal("two seals of one plaintext are identical: nonce reuse")
	}

	// A second Open of the same directory loads the same key.
	k2 := mustOpen(t, dir)
	got, err := k2.Open(blob, aad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("reopened Open = %q, %v", got, err)
	}
	// Nothing else was created beside the key file.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries", len(entries))
	}
}

func TestOpenRejectsTamperingAndWrongAAD(t *testing.T) {
	k := mustOpen(t, t.TempDir())
	pt := []byte("secret")
	aad := []byte("context")
	blob, err := k.Seal(pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Open(blob, []byte("other context")); !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong aad: %v", err)
	}
	if _, err := k.Open(blob, nil); !errors.Is(err, ErrAuth) {
		t.Fatalf("missing aad: %v", err)
	}
	for i := headerLen; i < len(blob); i++ { // nonce, ciphertext, tag
		bad := bytes.Clone(blob)
		bad[i] ^= 0x01
		if _, err := k.Open(bad, aad); !errors.Is(err, ErrAuth) {
			t.Fatalf("flipped byte %d: %v", i, err)
		}
	}
	bad := bytes.Clone(blob)
	bad[0] = 0x02
	if _, err := k.Open(bad, aad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad format byte: %v", err)
	}
	bad = bytes.Clone(blob)
	bad[4] = 9 // version 9
	if _, err := k.Open(bad, aad); !errors.Is(err, ErrUnknownVersion) {
		t.Fatalf("unknown version: %v", err)
	}
	if _, err := k.Open(blob[:Overhead-1], aad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short blob: %v", err)
	}
	if _, err := k.Open(blob[:len(blob)-1], aad); !errors.Is(err, ErrAuth) {
		t.Fatalf("truncated blob: %v", err)
	}
	// Another keyring (another server) cannot open it.
	other := mustOpen(t, t.TempDir())
	if _, err := other.Open(blob, aad); !errors.Is(err, ErrAuth) {
		t.Fatalf("foreign keyring: %v", err)
	}
}

func TestRotateAndRewrap(t *testing.T) {
	dir := t.TempDir()
	k := mustOpen(t, dir)
	aad := []byte("a")
	old, _ := k.Seal([]byte("old"), aad)
	v, err := k.Rotate()
	if err != nil || v != 2 || k.Primary() != 2 {
		t.Fatalf("Rotate = %d, %v (primary %d)", v, err, k.Primary())
	}
	newBlob, _ := k.Seal([]byte("new"), aad)
	if ver, _ := BlobVersion(newBlob); ver != 2 {
		t.Fatalf("new blob under version %d", ver)
	}
	if pt, err := k.Open(old, aad); err != nil || string(pt) != "old" {
		t.Fatalf("old blob after rotate: %q %v", pt, err)
	}
	re, err := k.Rewrap(old, aad)
	if err != nil {
		t.Fatal(err)
	}
	if ver, _ := BlobVersion(re); ver != 2 {
		t.Fatalf("rewrapped blob under version %d", ver)
	}
	if pt, err := k.Open(re, aad); err != nil || string(pt) != "old" {
		t.Fatalf("rewrapped: %q %v", pt, err)
	}
	if _, err := k.Rewrap(old, []byte("wrong")); !errors.Is(err, ErrAuth) {
		t.Fatalf("rewrap with wrong aad: %v", err)
	}

	// Persisted: a fresh Open sees primary 2 and opens both generations.
	k2 := mustOpen(t, dir)
	if k2.Primary() != 2 || len(k2.Versions()) != 2 {
		t.Fatalf("reopened primary %d versions %v", k2.Primary(), k2.Versions())
	}
	for _, b := range [][]byte{old, newBlob, re} {
		if _, err := k2.Open(b, aad); err != nil {
			t.Fatalf("reopened Open: %v", err)
		}
	}
	if runtime.GOOS != "windows" {
		st, _ := os.Stat(k.Path())
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("mode after rotate %04o", st.Mode().Perm())
		}
	}
	if v, _ := k2.Rotate(); v != 3 {
		t.Fatalf("second rotate = %d", v)
	}
}

func TestRefusesInsecureOrCorruptFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX permissions")
	}
	dir := t.TempDir()
	k := mustOpen(t, dir)
	if err := os.Chmod(k.Path(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrInsecureFile) {
		t.Fatalf("0644 file: %v", err)
	}
	if err := os.Chmod(k.Path(), 0o600); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, dir)

	for name, content := range map[string]string{
		"garbage":      "not json",
		"empty":        "",
		"no primary":   `{"format":1,"primary":2,"keys":[{"version":1,"key":"` + b64(32) + `"}]}`,
		"short key":    `{"format":1,"primary":1,"keys":[{"version":1,"key":"` + b64(16) + `"}]}`,
		"duplicate":    `{"format":1,"primary":1,"keys":[{"version":1,"key":"` + b64(32) + `"},{"version":1,"key":"` + b64(32) + `"}]}`,
		"format":       `{"format":7,"primary":1,"keys":[{"version":1,"key":"` + b64(32) + `"}]}`,
		"zero version": `{"format":1,"primary":0,"keys":[{"version":0,"key":"` + b64(32) + `"}]}`,
	} {
		d := t.TempDir()
		p := filepath.Join(d, FileName)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(d); !errors.Is(err, ErrCorruptKeyFile) {
			t.Errorf("%s: %v", name, err)
		}
		// The damaged file is left alone, never replaced by a fresh key.
		if got, _ := os.ReadFile(p); string(got) != content {
			t.Errorf("%s: file was rewritten", name)
		}
	}
}

// b64 returns the base64 encoding of n zero bytes.
func b64(n int) string {
	s := make([]byte, (n+2)/3*4)
	for i := range s {
		s[i] = 'A'
	}
	switch n % 3 {
	case 1:
		s[len(s)-1], s[len(s)-2] = '=', '='
	case 2:
		s[len(s)-1] = '='
	}
	return string(s)
}

func TestConcurrentSealOpenRotate(t *testing.T) {
	k := mustOpen(t, t.TempDir())
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				b, err := k.Seal([]byte("x"), []byte("y"))
				if err == nil {
					_, err = k.Open(b, []byte("y"))
				}
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	for i := 0; i < 3; i++ {
		if _, err := k.Rotate(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if k.Primary() != 4 {
		t.Fatalf("primary %d", k.Primary())
	}
}

func BenchmarkSealOpen32(b *testing.B) {
	k, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	pt := make([]byte, 32)
	aad := []byte("kms:key:id:version")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		blob, _ := k.Seal(pt, aad)
		if _, err := k.Open(blob, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRetire(t *testing.T) {
	dir := t.TempDir()
	k, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	old, err := k.Seal([]byte("secret"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	v2, err := k.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Retire(v2); !errors.Is(err, ErrPrimary) {
		t.Fatalf("retiring the primary: %v", err)
	}
	moved, err := k.Rewrap(old, []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Retire(1); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Open(old, []byte("aad")); !errors.Is(err, ErrUnknownVersion) {
		t.Fatalf("blob under a retired version: %v", err)
	}
	k2, err := Open(dir) // persisted
	if err != nil {
		t.Fatal(err)
	}
	if vs := k2.Versions(); len(vs) != 1 || vs[0] != v2 {
		t.Fatalf("versions after reload = %v", vs)
	}
	if pt, err := k2.Open(moved, []byte("aad")); err != nil || string(pt) != "secret" {
		t.Fatalf("rewrapped blob = %q, %v", pt, err)
	}
	if err := k2.Retire(1); !errors.Is(err, ErrUnknownVersion) {
		t.Fatalf("retiring twice: %v", err)
	}
}
