// Package keyring stores local RSA master keys for client-side encryption in
// one passphrase-sealed file.
//
// The file is JSON: a header naming the format, the KDF (Argon2id with its
// parameters and salt) and the AEAD (XChaCha20-Poly1305), then the nonce and
// the sealed key list; the header is the AEAD's associated data, so changing
// a KDF parameter breaks the seal. The file is created 0600, rewritten
// atomically (temp file, fsync, rename, fsync of the directory), and Open
// refuses a file that its group or others can read. A wrong passphrase (or
// a corrupted file) is ErrWrongPassphrase.
//
// A key has a name, a creation time, a state (Enabled or PendingDeletion
// with a deletion date) and numbered versions; Rotate adds a version that
// becomes the primary one (used for new objects) while older versions still
// decrypt. Every version has its own material description, by default
// {"ossctl-key":"<name>","ossctl-key-version":"<n>"}, which is stored with
// each object and selects the version when reading, as the official SDKs
// select keys by matdesc. Changes are made in memory; Save writes them.
package keyring

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/ossctl/ossctl/crypto"
)

// Errors returned by this package; match them with errors.Is.
var (
	// ErrWrongPassphrase means the file could not be unsealed: a wrong
	// passphrase or a modified file.
	ErrWrongPassphrase = errors.New("keyring: wrong passphrase or tampered keyring file")
	// ErrInsecurePermissions means the file is accessible to group or others.
	ErrInsecurePermissions = errors.New("keyring: file is accessible by group or others (want mode 0600)")
	// ErrCorrupt means the file is not a keyring this version can read.
	ErrCorrupt = errors.New("keyring: malformed keyring file")
	// ErrExists means Create found an existing file, or a key name or
	// matdesc is already taken.
	ErrExists = errors.New("keyring: already exists")
	// ErrKeyNotFound means no key (or version) has that name or matdesc.
	ErrKeyNotFound = errors.New("keyring: key not found")
	// ErrKeyPendingDeletion means the key is scheduled for deletion and can
	// neither encrypt nor decrypt until CancelDeletion.
	ErrKeyPendingDeletion = errors.New("keyring: key is pending deletion")
)

// State is a key's lifecycle state.
type State string

// Key states.
const (
	StateEnabled         State = "Enabled"
	StatePendingDeletion State = "PendingDeletion"
)

const (
	formatName = "ossctl-keyring"
	formatVer  = 1
	kdfName    = "argon2id"
	aeadName   = "XChaCha20-Poly1305"
	// MinRSABits is the smallest RSA modulus Generate and Rotate accept.
	MinRSABits = 2048
	// DefaultRSABits is the modulus size used when bits is 0.
	DefaultRSABits = 3072
	maxFileSize    = 16 << 20
)

// KDFParams are Argon2id cost parameters.
type KDFParams struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// DefaultKDF is RFC 9106's second recommended Argon2id setting (64 MiB).
var DefaultKDF = KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 4}

func (p KDFParams) validate() error {
	if p.Time < 1 || p.Time > 64 || p.Threads < 1 || p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > 4<<20 {
		return fmt.Errorf("%w: Argon2id parameters out of range: %+v", ErrCorrupt, p)
	}
	return nil
}

// Options configure Create and Open.
type Options struct {
	// KDF sets the Argon2id cost of a new keyring (Create) or of the next
	// Save after ChangePassphrase; zero means DefaultKDF. Open uses the
	// parameters stored in the file.
	KDF KDFParams
	// Now is the clock for creation and deletion dates; nil is time.Now.
	Now func() time.Time
}

// file is the on-disk JSON document.
type file struct {
	header
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

type header struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	KDF     kdfHeader `json:"kdf"`
	AEAD    string    `json:"aead"`
}

type kdfHeader struct {
	Name string `json:"name"`
	KDFParams
	Salt []byte `json:"salt"`
}

// payload is the sealed content.
type payload struct {
	Keys []*key `json:"keys"`
}

type key struct {
	Name         string     `json:"name"`
	State        State      `json:"state"`
	Created      time.Time  `json:"created"`
	DeletionDate time.Time  `json:"deletion_date,omitzero"`
	Primary      int        `json:"primary"`
	Versions     []*version `json:"versions"`
}

type version struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	MatDesc string    `json:"matdesc"`
	// Exactly one of PrivateKey (PKCS#8 DER) and PublicKey (PKIX DER).
	PrivateKey []byte `json:"private_key,omitempty"`
	PublicKey  []byte `json:"public_key,omitempty"`

	mk *crypto.RSAMasterKey
}

// KeyInfo describes a key without its secret material.
type KeyInfo struct {
	Name         string
	State        State
	Created      time.Time
	DeletionDate time.Time // zero unless PendingDeletion
	Primary      int       // the version new objects are encrypted with
	Versions     []VersionInfo
}

// VersionInfo describes one key version.
type VersionInfo struct {
	Version       int
	Created       time.Time
	MatDesc       string
	Bits          int    // RSA modulus size
	Fingerprint   string // hex SHA-256 of the PKIX public key
	HasPrivateKey bool   // false for imported public keys: encrypt only
}

// Keyring is an open keyring file. Its methods are safe for concurrent use.
type Keyring struct {
	mu     sync.Mutex
	path   string
	now    func() time.Time
	kdf    KDFParams
	salt   []byte
	sealer []byte // Argon2id output for (passphrase, salt, kdf)
	keys   []*key
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Create makes a new, empty keyring file at path (mode 0600), sealed with
// passphrase. It fails with ErrExists if the file exists.
func Create(path string, passphrase []byte, opts *Options) (*Keyring, error) {
	kr, err := newKeyring(path, opts)
	if err != nil {
		return nil, err
	}
	if err := kr.setPassphrase(passphrase, kr.kdf); err != nil {
		return nil, err
	}
	// Claim the name first so that an existing file is never replaced.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // G304: the caller names its keyring file
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %s", ErrExists, path)
		}
		return nil, fmt.Errorf("keyring: creating %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("keyring: creating %s: %w", path, err)
	}
	if err := kr.Save(); err != nil {
		_ = os.Remove(path)
		return nil, err
	}
	return kr, nil
}

// Open reads and unseals the keyring at path.
func Open(path string, passphrase []byte, opts *Options) (*Keyring, error) {
	kr, err := newKeyring(path, opts)
	if err != nil {
		return nil, err
	}
	data, err := readPrivateFile(path)
	if err != nil {
		return nil, err
	}
	var f file
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	if f.Format != formatName || f.Version != formatVer || f.KDF.Name != kdfName || f.AEAD != aeadName {
		return nil, fmt.Errorf("%w: %s: unsupported format %q v%d (%s, %s)", ErrCorrupt, path, f.Format, f.Version, f.KDF.Name, f.AEAD)
	}
	if err := f.KDF.validate(); err != nil {
		return nil, err
	}
	if len(f.KDF.Salt) < 16 || len(f.Nonce) != chacha20poly1305.NonceSizeX {
		return nil, fmt.Errorf("%w: %s: bad salt or nonce length", ErrCorrupt, path)
	}
	kr.kdf, kr.salt = f.KDF.KDFParams, f.KDF.Salt
	if len(passphrase) == 0 {
		return nil, errors.New("keyring: empty passphrase")
	}
	kr.sealer = argon2.IDKey(passphrase, kr.salt, kr.kdf.Time, kr.kdf.MemoryKiB, kr.kdf.Threads, chacha20poly1305.KeySize)
	aead, err := chacha20poly1305.NewX(kr.sealer)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	ad, err := json.Marshal(f.header)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	plain, err := aead.Open(nil, f.Nonce, f.Ciphertext, ad)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrWrongPassphrase, path)
	}
	defer clear(plain)
	var p payload
	if err := json.Unmarshal(plain, &p); err != nil {
		return nil, fmt.Errorf("%w: %s: sealed content: %w", ErrCorrupt, path, err)
	}
	for _, k := range p.Keys {
		for _, v := range k.Versions {
			if err := v.load(); err != nil {
				return nil, fmt.Errorf("%w: %s: key %q version %d: %w", ErrCorrupt, path, k.Name, v.Version, err)
			}
		}
	}
	kr.keys = p.Keys
	return kr, nil
}

func newKeyring(path string, opts *Options) (*Keyring, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.KDF == (KDFParams{}) {
		o.KDF = DefaultKDF
	}
	if err := o.KDF.validate(); err != nil {
		return nil, err
	}
	return &Keyring{path: path, now: o.Now, kdf: o.KDF}, nil
}

// readPrivateFile reads path after checking, on the open descriptor, that
// it is a regular file that group and others cannot access.
func readPrivateFile(path string) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the caller names its keyring file
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrCorrupt, path)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrInsecurePermissions, path, st.Mode().Perm(), path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("keyring: reading %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrCorrupt, path, maxFileSize)
	}
	return data, nil
}

func (kr *Keyring) setPassphrase(passphrase []byte, kdf KDFParams) error {
	if len(passphrase) == 0 {
		return errors.New("keyring: empty passphrase")
	}
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return fmt.Errorf("keyring: drawing salt: %w", err)
	}
	kr.kdf, kr.salt = kdf, salt
	kr.sealer = argon2.IDKey(passphrase, salt, kdf.Time, kdf.MemoryKiB, kdf.Threads, chacha20poly1305.KeySize)
	return nil
}

// Path returns the keyring's file name.
func (kr *Keyring) Path() string { return kr.path }

// ChangePassphrase re-seals the keyring under a new passphrase (and a new
// salt), with kdf as the cost (zero: keep the current one). Call Save.
func (kr *Keyring) ChangePassphrase(passphrase []byte, kdf KDFParams) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if kdf == (KDFParams{}) {
		kdf = kr.kdf
	}
	if err := kdf.validate(); err != nil {
		return err
	}
	return kr.setPassphrase(passphrase, kdf)
}

// Save seals the keyring and atomically replaces the file.
func (kr *Keyring) Save() error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	h := header{Format: formatName, Version: formatVer, KDF: kdfHeader{Name: kdfName, KDFParams: kr.kdf, Salt: kr.salt}, AEAD: aeadName}
	ad, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	plain, err := json.Marshal(payload{Keys: kr.keys})
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	defer clear(plain)
	aead, err := chacha20poly1305.NewX(kr.sealer)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("keyring: drawing nonce: %w", err)
	}
	out, err := json.MarshalIndent(file{header: h, Nonce: nonce, Ciphertext: aead.Seal(nil, nonce, plain, ad)}, "", "  ")
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	return writeFileAtomic(kr.path, append(out, '\n'))
}

// writeFileAtomic writes data to a 0600 temp file next to path, syncs it,
// renames it over path and syncs the directory.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("keyring: writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("keyring: writing %s: %w", path, err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("keyring: writing %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("keyring: syncing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("keyring: writing %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("keyring: replacing %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil { //nolint:gosec // G304: the keyring's own directory
		serr := d.Sync()
		_ = d.Close()
		if serr != nil && runtime.GOOS != "windows" {
			return fmt.Errorf("keyring: syncing directory %s: %w", dir, serr)
		}
	}
	return nil
}

// load parses the stored key material.
func (v *version) load() error {
	var (
		pub  *rsa.PublicKey
		priv *rsa.PrivateKey
	)
	switch {
	case len(v.PrivateKey) > 0 && len(v.PublicKey) == 0:
		k, err := x509.ParsePKCS8PrivateKey(v.PrivateKey)
		if err != nil {
			return err
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return fmt.Errorf("%T is not an RSA key", k)
		}
		priv = rk
	case len(v.PublicKey) > 0 && len(v.PrivateKey) == 0:
		k, err := x509.ParsePKIXPublicKey(v.PublicKey)
		if err != nil {
			return err
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%T is not an RSA key", k)
		}
		pub = rk
	default:
		return errors.New("exactly one of private_key and public_key must be set")
	}
	md, err := crypto.DecodeMatDesc(v.MatDesc)
	if err != nil {
		return err
	}
	mk, err := crypto.NewRSAMasterKey(pub, priv, md)
	if err != nil {
		return err
	}
	if mk.MatDesc() != v.MatDesc {
		return fmt.Errorf("matdesc %q is not in canonical form %q", v.MatDesc, mk.MatDesc())
	}
	v.mk = mk
	return nil
}

func (v *version) info() VersionInfo {
	pub := v.mk.PublicKey()
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return VersionInfo{
		Version: v.Version, Created: v.Created, MatDesc: v.MatDesc, Bits: pub.N.BitLen(),
		Fingerprint: hex.EncodeToString(sum[:]), HasPrivateKey: v.mk.CanUnwrap(),
	}
}

func (k *key) info() KeyInfo {
	ki := KeyInfo{Name: k.Name, State: k.State, Created: k.Created, DeletionDate: k.DeletionDate, Primary: k.Primary}
	for _, v := range k.Versions {
		ki.Versions = append(ki.Versions, v.info())
	}
	return ki
}

func (kr *Keyring) find(name string) (*key, error) {
	for _, k := range kr.keys {
		if k.Name == name {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrKeyNotFound, name)
}

func (kr *Keyring) matDescTaken(md string) bool {
	for _, k := range kr.keys {
		for _, v := range k.Versions {
			if v.MatDesc == md {
				return true
			}
		}
	}
	return false
}

func defaultMatDesc(name string, ver int) map[string]string {
	return map[string]string{"ossctl-key": name, "ossctl-key-version": strconv.Itoa(ver)}
}

// newVersion builds version ver of key name from an RSA key.
func (kr *Keyring) newVersion(name string, ver int, pub *rsa.PublicKey, priv *rsa.PrivateKey, matDesc map[string]string) (*version, error) {
	if matDesc == nil {
		matDesc = defaultMatDesc(name, ver)
	}
	mk, err := crypto.NewRSAMasterKey(pub, priv, matDesc)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if mk.MatDesc() == "" {
		return nil, errors.New("keyring: a key needs a non-empty matdesc")
	}
	if kr.matDescTaken(mk.MatDesc()) {
		return nil, fmt.Errorf("%w: matdesc %s is used by another key version", ErrExists, mk.MatDesc())
	}
	v := &version{Version: ver, Created: kr.now().UTC(), MatDesc: mk.MatDesc(), mk: mk}
	if priv != nil {
		if v.PrivateKey, err = x509.MarshalPKCS8PrivateKey(priv); err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
	} else {
		if v.PublicKey, err = x509.MarshalPKIXPublicKey(pub); err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
	}
	return v, nil
}

func generateRSA(bits int) (*rsa.PrivateKey, error) {
	if bits == 0 {
		bits = DefaultRSABits
	}
	if bits < MinRSABits {
		return nil, fmt.Errorf("keyring: %d-bit RSA keys are too small (minimum %d)", bits, MinRSABits)
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("keyring: generating RSA key: %w", err)
	}
	return k, nil
}

func (kr *Keyring) addKey(name string, pub *rsa.PublicKey, priv *rsa.PrivateKey, matDesc map[string]string) (KeyInfo, error) {
	if !nameRE.MatchString(name) {
		return KeyInfo{}, fmt.Errorf("keyring: invalid key name %q (1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit)", name)
	}
	if _, err := kr.find(name); err == nil {
		return KeyInfo{}, fmt.Errorf("%w: key %q", ErrExists, name)
	}
	v, err := kr.newVersion(name, 1, pub, priv, matDesc)
	if err != nil {
		return KeyInfo{}, err
	}
	k := &key{Name: name, State: StateEnabled, Created: v.Created, Primary: 1, Versions: []*version{v}}
	kr.keys = append(kr.keys, k)
	return k.info(), nil
}

// Generate adds a key with a new RSA key pair of the given size (0:
// DefaultRSABits) as version 1.
func (kr *Keyring) Generate(name string, bits int) (KeyInfo, error) {
	priv, err := generateRSA(bits)
	if err != nil {
		return KeyInfo{}, err
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	return kr.addKey(name, nil, priv, nil)
}

// Import adds a key from a PEM RSA private key (PKCS#8 or PKCS#1) or, for an
// encrypt-only key, a PEM public key (PKIX or PKCS#1). matDesc labels the
// key as it is labelled elsewhere (for example the matdesc an SDK
// application uses); nil means the default label.
func (kr *Keyring) Import(name string, keyPEM []byte, matDesc map[string]string) (KeyInfo, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return KeyInfo{}, errors.New("keyring: import: no PEM block found")
	}
	var (
		pub  *rsa.PublicKey
		priv *rsa.PrivateKey
		err  error
	)
	switch block.Type {
	case "PRIVATE KEY", "RSA PRIVATE KEY":
		priv, err = crypto.ParseRSAPrivateKeyPEM(keyPEM)
	default:
		pub, err = crypto.ParseRSAPublicKeyPEM(keyPEM)
	}
	if err != nil {
		return KeyInfo{}, fmt.Errorf("keyring: import: %w", err)
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	return kr.addKey(name, pub, priv, matDesc)
}

// Rotate adds a new version with a fresh RSA key pair (0: DefaultRSABits)
// and makes it primary. Older versions keep decrypting.
func (kr *Keyring) Rotate(name string, bits int) (KeyInfo, error) {
	priv, err := generateRSA(bits)
	if err != nil {
		return KeyInfo{}, err
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	k, err := kr.find(name)
	if err != nil {
		return KeyInfo{}, err
	}
	if k.State != StateEnabled {
		return KeyInfo{}, fmt.Errorf("%w: %q", ErrKeyPendingDeletion, name)
	}
	next := k.Versions[len(k.Versions)-1].Version + 1
	v, err := kr.newVersion(name, next, nil, priv, nil)
	if err != nil {
		return KeyInfo{}, err
	}
	k.Versions = append(k.Versions, v)
	k.Primary = next
	return k.info(), nil
}

// ScheduleDeletion marks a key PendingDeletion; after window it may be
// removed by PurgeExpired. Until then CancelDeletion restores it.
func (kr *Keyring) ScheduleDeletion(name string, window time.Duration) (KeyInfo, error) {
	if window < 0 {
		return KeyInfo{}, fmt.Errorf("keyring: negative deletion window %v", window)
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	k, err := kr.find(name)
	if err != nil {
		return KeyInfo{}, err
	}
	k.State, k.DeletionDate = StatePendingDeletion, kr.now().UTC().Add(window)
	return k.info(), nil
}

// CancelDeletion returns a PendingDeletion key to Enabled.
func (kr *Keyring) CancelDeletion(name string) (KeyInfo, error) {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	k, err := kr.find(name)
	if err != nil {
		return KeyInfo{}, err
	}
	k.State, k.DeletionDate = StateEnabled, time.Time{}
	return k.info(), nil
}

// PurgeExpired removes the keys whose deletion date has passed and returns
// their names. Objects encrypted under them become unreadable.
func (kr *Keyring) PurgeExpired() []string {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	now := kr.now()
	var gone []string
	kr.keys = slices.DeleteFunc(kr.keys, func(k *key) bool {
		if k.State == StatePendingDeletion && !now.Before(k.DeletionDate) {
			gone = append(gone, k.Name)
			return true
		}
		return false
	})
	return gone
}

// Keys lists the keys in creation order.
func (kr *Keyring) Keys() []KeyInfo {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	out := make([]KeyInfo, 0, len(kr.keys))
	for _, k := range kr.keys {
		out = append(out, k.info())
	}
	return out
}

// Key describes one key.
func (kr *Keyring) Key(name string) (KeyInfo, error) {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	k, err := kr.find(name)
	if err != nil {
		return KeyInfo{}, err
	}
	return k.info(), nil
}

// PublicKeyPEM returns a version's public key as PEM "PUBLIC KEY" (PKIX);
// version 0 means the primary one.
func (kr *Keyring) PublicKeyPEM(name string, ver int) ([]byte, error) {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	k, err := kr.find(name)
	if err != nil {
		return nil, err
	}
	if ver == 0 {
		ver = k.Primary
	}
	for _, v := range k.Versions {
		if v.Version == ver {
			der, err := x509.MarshalPKIXPublicKey(v.mk.PublicKey())
			if err != nil {
				return nil, fmt.Errorf("keyring: %w", err)
			}
			return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
		}
	}
	return nil, fmt.Errorf("%w: %q version %d", ErrKeyNotFound, name, ver)
}

// MasterKey returns the primary version of an Enabled key, for encrypting
// new objects.
func (kr *Keyring) MasterKey(name string) (*crypto.RSAMasterKey, error) {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	k, err := kr.find(name)
	if err != nil {
		return nil, err
	}
	if k.State != StateEnabled {
		return nil, fmt.Errorf("%w: %q (deletion date %s)", ErrKeyPendingDeletion, name, k.DeletionDate.Format(time.RFC3339))
	}
	for _, v := range k.Versions {
		if v.Version == k.Primary {
			return v.mk, nil
		}
	}
	return nil, fmt.Errorf("%w: %q has no primary version %d", ErrCorrupt, name, k.Primary)
}

// Resolve implements crypto.Resolver: it returns the key version whose
// matdesc equals the object's, byte for byte.
func (kr *Keyring) Resolve(env *crypto.Envelope) (crypto.MasterKey, error) {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	for _, k := range kr.keys {
		for _, v := range k.Versions {
			if v.MatDesc != env.MatDesc {
				continue
			}
			if k.State != StateEnabled {
				return nil, fmt.Errorf("%w: %q", ErrKeyPendingDeletion, k.Name)
			}
			return v.mk, nil
		}
	}
	return nil, fmt.Errorf("%w: %w: matdesc %q", crypto.ErrNoMasterKey, ErrKeyNotFound, env.MatDesc)
}
