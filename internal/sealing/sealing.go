// Package sealing holds the server master key of `ossctl serve`: a small
// set of versioned 256-bit keys kept in <data dir>/master-keys.json (mode
// 0600, rewritten atomically) that seal everything the server must never
// store in plaintext: KMS key material, import wrapping keys and, later, SSE
// data keys.
//
// A sealed blob is
//
//	0x01 ‖ version (u32 big endian) ‖ nonce (12 bytes) ‖ AES-256-GCM(plaintext) ‖ tag (16 bytes)
//
// with GCM additional data = the 5 header bytes ‖ the caller's aad, so a
// blob opens only under the key version it names and only with the aad it
// was sealed with. Rotate adds a new primary version; old versions keep
// opening, and Rewrap re-seals a blob under the primary.
package sealing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ossctl/ossctl/internal/atomicfile"
)

// FileName is the key file inside the directory given to Open.
const FileName = "master-keys.json"

// KeySize is the size of each master key version (AES-256).
const KeySize = 32

const (
	blobFormat = 0x01
	headerLen  = 1 + 4
	nonceLen   = 12
	tagLen     = 16
	fileFormat = 1
)

// Overhead is the number of bytes Seal adds to a plaintext.
const Overhead = headerLen + nonceLen + tagLen

// Errors returned by this package; match them with errors.Is.
var (
	// ErrInsecureFile: the key file is readable or writable by group or others.
	ErrInsecureFile = errors.New("sealing: master key file is accessible to group or others")
	// ErrCorruptKeyFile: the key file cannot be parsed or is inconsistent.
	ErrCorruptKeyFile = errors.New("sealing: corrupt master key file")
	// ErrMalformed: the blob is too short or not in this package's format.
	ErrMalformed = errors.New("sealing: malformed sealed blob")
	// ErrUnknownVersion: the blob names a key version this keyring lacks.
	ErrUnknownVersion = errors.New("sealing: unknown master key version")
	// ErrAuth: the blob was tampered with, or the aad differs from sealing time.
	ErrAuth = errors.New("sealing: message authentication failed")
)

// Keyring is the server master key. It is safe for concurrent use.
type Keyring struct {
	path string

	mu      sync.RWMutex
	primary uint32
	aeads   map[uint32]cipher.AEAD
	file    keyFile // what is on disk
	rand    io.Reader
}

// keyFile is the JSON document on disk.
type keyFile struct {
	Format  int        `json:"format"`
	Primary uint32     `json:"primary"`
	Keys    []keyEntry `json:"keys"`
}

type keyEntry struct {
	Version uint32    `json:"version"`
	Created time.Time `json:"created"`
	Key     []byte    `json:"key"` // base64 in JSON
}

// Open loads <dir>/master-keys.json, creating the directory (0700) and a
// file with one fresh key version when none exists. It refuses a file that
// group or others may access (ErrInsecureFile) and a damaged one
// (ErrCorruptKeyFile): it never replaces an existing key file.
func Open(dir string) (*Keyring, error) {
	return open(dir, rand.Reader)
}

func open(dir string, rnd io.Reader) (*Keyring, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sealing: creating %s: %w", dir, err)
	}
	k := &Keyring{path: filepath.Join(dir, FileName), rand: rnd}
	data, err := k.read()
	if errors.Is(err, os.ErrNotExist) {
		if err := k.create(); err != nil {
			return nil, err
		}
		data, err = k.read()
	}
	if err != nil {
		return nil, err
	}
	if err := k.load(data); err != nil {
		return nil, err
	}
	return k, nil
}

// read returns the key file's bytes after checking its permissions.
func (k *Keyring) read() ([]byte, error) {
	f, err := os.Open(k.path)
	if err != nil {
		return nil, fmt.Errorf("sealing: opening %s: %w", k.path, err)
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("sealing: stat %s: %w", k.path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrCorruptKeyFile, k.path)
	}
	if insecureMode(st.Mode()) {
		return nil, fmt.Errorf("%w: %s has mode %04o; run chmod 600 on it", ErrInsecureFile, k.path, st.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("sealing: reading %s: %w", k.path, err)
	}
	return data, nil
}

// create writes a new key file without ever replacing an existing one:
// the document goes to a temp file, is synced, then hard-linked into place
// (which fails if another process created the file first).
func (k *Keyring) create() error {
	e, err := k.newEntry(1)
	if err != nil {
		return err
	}
	data, err := encodeFile(keyFile{Format: fileFormat, Primary: 1, Keys: []keyEntry{e}})
	if err != nil {
		return err
	}
	dir := filepath.Dir(k.path)
	tmp, err := os.CreateTemp(dir, ".master-keys-*.tmp")
	if err != nil {
		return fmt.Errorf("sealing: creating temp key file: %w", err)
	}
	tmpName := tmp.Name()
	defer func() { _ = os.Remove(tmpName) }()
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("sealing: chmod temp key file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("sealing: writing temp key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("sealing: syncing temp key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sealing: closing temp key file: %w", err)
	}
	if err := os.Link(tmpName, k.path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil // someone else won the race; load theirs
		}
		return fmt.Errorf("sealing: installing %s: %w", k.path, err)
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("sealing: %w", err)
	}
	return nil
}

func (k *Keyring) newEntry(version uint32) (keyEntry, error) {
	key := make([]byte, KeySize)
	if _, err := io.ReadFull(k.rand, key); err != nil {
		return keyEntry{}, fmt.Errorf("sealing: generating master key: %w", err)
	}
	return keyEntry{Version: version, Created: time.Now().UTC().Truncate(time.Second), Key: key}, nil
}

// load parses and validates the file and installs its keys.
func (k *Keyring) load(data []byte) error {
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrCorruptKeyFile, k.path, err)
	}
	if f.Format != fileFormat {
		return fmt.Errorf("%w: %s: unsupported format %d", ErrCorruptKeyFile, k.path, f.Format)
	}
	aeads := make(map[uint32]cipher.AEAD, len(f.Keys))
	for _, e := range f.Keys {
		if e.Version == 0 || len(e.Key) != KeySize {
			return fmt.Errorf("%w: %s: bad key version %d", ErrCorruptKeyFile, k.path, e.Version)
		}
		if _, dup := aeads[e.Version]; dup {
			return fmt.Errorf("%w: %s: duplicate key version %d", ErrCorruptKeyFile, k.path, e.Version)
		}
		a, err := newAEAD(e.Key)
		if err != nil {
			return err
		}
		aeads[e.Version] = a
	}
	if _, ok := aeads[f.Primary]; !ok {
		return fmt.Errorf("%w: %s: primary version %d has no key", ErrCorruptKeyFile, k.path, f.Primary)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.file, k.primary, k.aeads = f, f.Primary, aeads
	return nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealing: %w", err)
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealing: %w", err)
	}
	return a, nil
}

// Path is the key file's path.
func (k *Keyring) Path() string { return k.path }

// Primary is the version new blobs are sealed under.
func (k *Keyring) Primary() uint32 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.primary
}

// Versions lists the key versions held, oldest first.
func (k *Keyring) Versions() []uint32 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	vs := make([]uint32, 0, len(k.aeads))
	for v := range k.aeads {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// Seal encrypts plaintext under the primary key version, binding aad.
func (k *Keyring) Seal(plaintext, aad []byte) ([]byte, error) {
	k.mu.RLock()
	ver, a := k.primary, k.aeads[k.primary]
	k.mu.RUnlock()
	out := make([]byte, headerLen+nonceLen, headerLen+nonceLen+len(plaintext)+tagLen)
	out[0] = blobFormat
	binary.BigEndian.PutUint32(out[1:headerLen], ver)
	if _, err := io.ReadFull(k.rand, out[headerLen:]); err != nil {
		return nil, fmt.Errorf("sealing: generating nonce: %w", err)
	}
	return a.Seal(out, out[headerLen:], plaintext, additionalData(out[:headerLen], aad)), nil
}

// Open decrypts a blob made by Seal (or Rewrap) with the same aad.
func (k *Keyring) Open(blob, aad []byte) ([]byte, error) {
	ver, err := BlobVersion(blob)
	if err != nil {
		return nil, err
	}
	k.mu.RLock()
	a, ok := k.aeads[ver]
	k.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownVersion, ver)
	}
	nonce := blob[headerLen : headerLen+nonceLen]
	pt, err := a.Open(nil, nonce, blob[headerLen+nonceLen:], additionalData(blob[:headerLen], aad))
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

// BlobVersion returns the key version a sealed blob names.
func BlobVersion(blob []byte) (uint32, error) {
	if len(blob) < Overhead || blob[0] != blobFormat {
		return 0, ErrMalformed
	}
	return binary.BigEndian.Uint32(blob[1:headerLen]), nil
}

// Rewrap opens blob and seals its plaintext again under the primary
// version. A blob already under the primary is returned re-sealed too (a
// fresh nonce), so callers need not special-case it.
func (k *Keyring) Rewrap(blob, aad []byte) ([]byte, error) {
	pt, err := k.Open(blob, aad)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return k.Seal(pt, aad)
}

// Rotate adds a new key version, makes it the primary and persists the
// key file atomically before returning the new version. Blobs sealed
// under older versions keep opening.
func (k *Keyring) Rotate() (uint32, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var next uint32
	for _, e := range k.file.Keys {
		next = max(next, e.Version)
	}
	next++
	e, err := k.newEntry(next)
	if err != nil {
		return 0, err
	}
	a, err := newAEAD(e.Key)
	if err != nil {
		return 0, err
	}
	f := keyFile{Format: fileFormat, Primary: next, Keys: append(slices.Clone(k.file.Keys), e)}
	data, err := encodeFile(f)
	if err != nil {
		return 0, err
	}
	if err := atomicfile.WriteFile(k.path, data, 0o600); err != nil {
		return 0, fmt.Errorf("sealing: %w", err)
	}
	k.file, k.primary = f, next
	k.aeads[next] = a
	return next, nil
}

// ErrPrimary is returned by Retire for the primary key version, which cannot
// be retired.
var ErrPrimary = errors.New("sealing: the primary master key version cannot be retired")

// Retire removes key version v from the keyring and persists the key file
// atomically. Blobs sealed under v no longer open afterwards (they fail
// with ErrUnknownVersion), so callers retire a version only after
// re-wrapping everything sealed under it. The primary cannot be retired.
func (k *Keyring) Retire(v uint32) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if v == k.primary {
		return fmt.Errorf("%w (version %d)", ErrPrimary, v)
	}
	if _, ok := k.aeads[v]; !ok {
		return fmt.Errorf("%w: %d", ErrUnknownVersion, v)
	}
	keys := make([]keyEntry, 0, len(k.file.Keys))
	for _, e := range k.file.Keys {
		if e.Version != v {
			keys = append(keys, e)
		}
	}
	f := keyFile{Format: fileFormat, Primary: k.primary, Keys: keys}
	data, err := encodeFile(f)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(k.path, data, 0o600); err != nil {
		return fmt.Errorf("sealing: %w", err)
	}
	k.file = f
	delete(k.aeads, v)
	return nil
}

func encodeFile(f keyFile) ([]byte, error) {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sealing: encoding key file: %w", err)
	}
	return append(data, '\n'), nil
}

// additionalData is header ‖ aad.
func additionalData(header, aad []byte) []byte {
	ad := make([]byte, 0, len(header)+len(aad))
	ad = append(ad, header...)
	return append(ad, aad...)
}
