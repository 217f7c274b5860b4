package keyring_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ossctl/ossctl/crypto"
	"github.com/ossctl/ossctl/crypto/keyring"
)

// fastKDF keeps tests quick; production uses keyring.DefaultKDF.
var fastKDF = keyring.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newKeyring(t *testing.T) (*keyring.Keyring, string, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "keyring.json")
	kr, err := keyring.Create(path, []byte("correct horse"), &keyring.Options{KDF: fastKDF, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return kr, path, clk
}

func encrypt(t *testing.T, mk crypto.MasterKey, plain []byte) (*crypto.Envelope, []byte) {
	t.Helper()
	c, err := crypto.NewContent(mk, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := c.EncryptReader(bytes.NewReader(plain), 0)
	ct, _ := io.ReadAll(r)
	return c.Envelope(), ct
}

func decrypt(res crypto.Resolver, env *crypto.Envelope, ct []byte) ([]byte, error) {
	c, err := crypto.OpenContent(env, res)
	if err != nil {
		return nil, err
	}
	r, err := c.DecryptReader(bytes.NewReader(ct), int64(len(ct)))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestCreateOpenAndPermissions(t *testing.T) {
	kr, path, _ := newKeyring(t)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %04o, want 0600", st.Mode().Perm())
	}
	if _, err := kr.Generate("backup", 2048); err != nil {
		t.Fatal(err)
	}
	if err := kr.Save(); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	for _, leak := range []string{"backup", "PRIVATE", "ossctl-key-version"} {
		if bytes.Contains(raw, []byte(leak)) {
			t.Errorf("keyring file contains %q in the clear", leak)
		}
	}
	if _, err := keyring.Create(path, []byte("x"), &keyring.Options{KDF: fastKDF}); !errors.Is(err, keyring.ErrExists) {
		t.Fatalf("Create over an existing file: %v", err)
	}
	if _, err := keyring.Open(path, []byte("wrong horse"), nil); !errors.Is(err, keyring.ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	kr2, err := keyring.Open(path, []byte("correct horse"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ks := kr2.Keys(); len(ks) != 1 || ks[0].Name != "backup" || ks[0].Versions[0].Bits != 2048 {
		t.Fatalf("reopened keys %+v", ks)
	}
	if runtime.GOOS != "windows" {
		for _, mode := range []os.FileMode{0o640, 0o604, 0o660} {
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			if _, err := keyring.Open(path, []byte("correct horse"), nil); !errors.Is(err, keyring.ErrInsecurePermissions) {
				t.Errorf("mode %04o: err = %v, want ErrInsecurePermissions", mode, err)
			}
		}
		_ = os.Chmod(path, 0o600)
	}
	// No temp files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the keyring", len(entries))
	}
}

func TestTamperedFile(t *testing.T) {
	_, path, _ := newKeyring(t)
	raw, _ := os.ReadFile(path)
	for name, edit := range map[string]func(string) string{
		"kdf time raised": func(s string) string { return strings.Replace(s, `"time": 1`, `"time": 2`, 1) },
		"ciphertext bit": func(s string) string {
			i := strings.Index(s, `"ciphertext": "`) + 16
			return s[:i] + string(s[i]^1) + s[i+1:]
		},
	} {
		if err := os.WriteFile(path, []byte(edit(string(raw))), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := keyring.Open(path, []byte("correct horse"), nil); !errors.Is(err, keyring.ErrWrongPassphrase) && !errors.Is(err, keyring.ErrCorrupt) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	for name, content := range map[string]string{
		"not JSON":      "hello",
		"other format":  `{"format":"age","version":1}`,
		"huge KDF cost": strings.Replace(string(raw), `"memory_kib": 1024`, `"memory_kib": 999999999`, 1),
	} {
		_ = os.WriteFile(path, []byte(content), 0o600)
		if _, err := keyring.Open(path, []byte("correct horse"), nil); !errors.Is(err, keyring.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestRotateDeleteResolve(t *testing.T) {
	kr, path, clk := newKeyring(t)
	info, err := kr.Generate("app", 2048)
	if err != nil {
		t.Fatal(err)
	}
	if info.Primary != 1 || info.State != keyring.StateEnabled || !info.Created.Equal(clk.now()) {
		t.Fatalf("generated %+v", info)
	}
	if want := `{"ossctl-key":"app","ossctl-key-version":"1"}`; info.Versions[0].MatDesc != want {
		t.Fatalf("matdesc %s, want %s", info.Versions[0].MatDesc, want)
	}
	if _, err := kr.Generate("app", 2048); !errors.Is(err, keyring.ErrExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := kr.Generate("bad/name", 2048); err == nil {
		t.Fatal("bad name accepted")
	}
	if _, err := kr.Generate("small", 1024); err == nil {
		t.Fatal("1024-bit key accepted")
	}
	v1, _ := kr.MasterKey("app")
	env1, ct1 := encrypt(t, v1, []byte("written under version 1"))

	clk.add(time.Hour)
	info, err = kr.Rotate("app", 2048)
	if err != nil {
		t.Fatal(err)
	}
	if info.Primary != 2 || len(info.Versions) != 2 || info.Versions[0].Fingerprint == info.Versions[1].Fingerprint {
		t.Fatalf("rotated %+v", info)
	}
	v2, _ := kr.MasterKey("app")
	env2, ct2 := encrypt(t, v2, []byte("written under version 2"))
	if env2.MatDesc != `{"ossctl-key":"app","ossctl-key-version":"2"}` {
		t.Fatalf("v2 matdesc %s", env2.MatDesc)
	}
	if err := kr.Save(); err != nil {
		t.Fatal(err)
	}

	kr2, err := keyring.Open(path, []byte("correct horse"), &keyring.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		env *crypto.Envelope
		ct  []byte
	}{{env1, ct1}, {env2, ct2}} {
		if got, err := decrypt(kr2, c.env, c.ct); err != nil || !strings.HasPrefix(string(got), "written under version") {
			t.Fatalf("version %d after reopening: %q, %v", i+1, got, err)
		}
	}

	if _, err := kr2.ScheduleDeletion("app", 7*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := kr2.MasterKey("app"); !errors.Is(err, keyring.ErrKeyPendingDeletion) {
		t.Fatalf("MasterKey of a pending key: %v", err)
	}
	if _, err := decrypt(kr2, env1, ct1); !errors.Is(err, keyring.ErrKeyPendingDeletion) {
		t.Fatalf("decrypt under a pending key: %v", err)
	}
	if _, err := kr2.Rotate("app", 2048); !errors.Is(err, keyring.ErrKeyPendingDeletion) {
		t.Fatalf("rotate a pending key: %v", err)
	}
	if gone := kr2.PurgeExpired(); len(gone) != 0 {
		t.Fatalf("purged %v before the deletion date", gone)
	}
	if _, err := kr2.CancelDeletion("app"); err != nil {
		t.Fatal(err)
	}
	if _, err := decrypt(kr2, env1, ct1); err != nil {
		t.Fatalf("decrypt after CancelDeletion: %v", err)
	}
	if _, err := kr2.ScheduleDeletion("app", 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	clk.add(25 * time.Hour)
	if gone := kr2.PurgeExpired(); len(gone) != 1 || gone[0] != "app" {
		t.Fatalf("purged %v", gone)
	}
	if _, err := decrypt(kr2, env1, ct1); !errors.Is(err, crypto.ErrNoMasterKey) || !errors.Is(err, keyring.ErrKeyNotFound) {
		t.Fatalf("decrypt after purge: %v", err)
	}
	if _, err := kr2.Key("app"); !errors.Is(err, keyring.ErrKeyNotFound) {
		t.Fatalf("Key after purge: %v", err)
	}
}

func TestImportAndExportPublic(t *testing.T) {
	kr, path, _ := newKeyring(t)
	priv, _ := os.ReadFile("../testdata/rsa-2048-pkcs1.pem")
	pub, _ := os.ReadFile("../testdata/rsa-2048-public-pkix.pem")
	sdkLabel := map[string]string{"desc": "sdk"}
	if _, err := kr.Import("sdk-key", priv, sdkLabel); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Import("sdk-key-again", pub, sdkLabel); !errors.Is(err, keyring.ErrExists) {
		t.Fatalf("duplicate matdesc: %v", err)
	}
	info, err := kr.Import("encrypt-only", pub, map[string]string{"desc": "partner"})
	if err != nil {
		t.Fatal(err)
	}
	if info.Versions[0].HasPrivateKey {
		t.Fatal("public import claims a private key")
	}
	exported, err := kr.PublicKeyPEM("sdk-key", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(exported), bytes.TrimSpace(pub)) {
		t.Fatalf("exported public key differs from the imported pair:\n%s", exported)
	}
	if _, err := kr.PublicKeyPEM("sdk-key", 9); !errors.Is(err, keyring.ErrKeyNotFound) {
		t.Fatalf("missing version: %v", err)
	}
	if err := kr.ChangePassphrase([]byte("new passphrase"), keyring.KDFParams{}); err != nil {
		t.Fatal(err)
	}
	if err := kr.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.Open(path, []byte("correct horse"), nil); !errors.Is(err, keyring.ErrWrongPassphrase) {
		t.Fatalf("old passphrase after change: %v", err)
	}
	kr2, err := keyring.Open(path, []byte("new passphrase"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// An object written by an SDK application with matdesc {"desc":"sdk"}
	// resolves to the imported key.
	sdkKey, err := crypto.ParseRSAMasterKey(pub, nil, sdkLabel)
	if err != nil {
		t.Fatal(err)
	}
	env, ct := encrypt(t, sdkKey, []byte("from an SDK app"))
	if got, err := decrypt(kr2, env, ct); err != nil || string(got) != "from an SDK app" {
		t.Fatalf("imported key: %q, %v", got, err)
	}
	// The encrypt-only key wraps but cannot unwrap.
	eo, err := kr2.MasterKey("encrypt-only")
	if err != nil {
		t.Fatal(err)
	}
	env, ct = encrypt(t, eo, []byte("for the partner"))
	if _, err := decrypt(kr2, env, ct); err == nil {
		t.Fatal("encrypt-only key decrypted")
	}
}

// TestDefaultKDFAndAtomicSave checks that a keyring created with default
// options is sealed through Argon2id at RFC 9106's memory-hard cost, that
// Save replaces the file by rename (a new inode, mode 0600, no temp file
// left), and that a failed Save leaves no temp file behind.
func TestDefaultKDFAndAtomicSave(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keyring.json")
	kr, err := keyring.Create(path, []byte("correct horse"), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct {
		KDF struct {
			Name string `json:"name"`
			keyring.KDFParams
		} `json:"kdf"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		t.Fatal(err)
	}
	if hdr.KDF.Name != "argon2id" || hdr.KDF.KDFParams != keyring.DefaultKDF || hdr.KDF.MemoryKiB < 64<<10 {
		t.Fatalf("default KDF header %+v, want argon2id %+v (≥ 64 MiB)", hdr.KDF, keyring.DefaultKDF)
	}

	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile("../testdata/rsa-2048-public-pkix.pem")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Import("imported", pem, nil); err != nil {
		t.Fatal(err)
	}
	if err := kr.Save(); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(before, after) {
		t.Fatal("Save rewrote the keyring in place instead of replacing it")
	}
	if runtime.GOOS != "windows" && after.Mode().Perm() != 0o600 {
		t.Fatalf("mode after Save %04o", after.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory after Save holds %d entries, want only the keyring", len(entries))
	}

	// A Save whose rename fails (the name is now a non-empty directory)
	// reports the error and leaves no temp file.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(path, "occupied"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := kr.Save(); err == nil {
		t.Fatal("Save over a directory succeeded")
	}
	entries, _ = os.ReadDir(dir)
	if len(entries) != 1 || !entries[0].IsDir() {
		t.Fatalf("a failed Save left %d entries", len(entries))
	}
}
