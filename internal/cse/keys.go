package cse

import (
	"errors"
	"fmt"
	"sync"

	kmssdk "github.com/aliyun/alibaba-cloud-sdk-go/services/kms"

	"github.com/ossctl/ossctl/crypto"
	"github.com/ossctl/ossctl/crypto/keyring"
	"github.com/ossctl/ossctl/crypto/kms"
	"github.com/ossctl/ossctl/internal/cmdutil"
)

// Keys finds master keys: by spec for encrypting, and from an object's envelope for decrypting
// (it implements crypto.Resolver). Both sources are opened lazily, so a download of a
// KMS-encrypted object never asks for the keyring passphrase, and a keyring-only user needs no
// KMS endpoint. A Keys is safe for concurrent use.
type Keys struct {
	// KMS returns the KMS client (cmdutil.Factory.KMS); nil means no KMS.
	KMS func() (*cmdutil.KMSClient, error)
	// Keyring opens the local keyring (see OpenKeyring); nil means no keyring. It is called at
	// most once.
	Keyring func() (*keyring.Keyring, error)

	once sync.Once
	kr   *keyring.Keyring
	err  error
}

var _ crypto.Resolver = (*Keys)(nil)

// NewKeys returns the Keys of a command: the Factory's KMS client, and the keyring at
// keyringFlag (or the configured/default path) opened with the passphrase from src.
func NewKeys(f *cmdutil.Factory, keyringFlag string, src PassphraseSource) *Keys {
	return &Keys{
		KMS: f.KMS,
		Keyring: func() (*keyring.Keyring, error) {
			cfg, err := f.Config()
			if err != nil {
				return nil, err
			}
			home := ""
			if f.Env.HomeDir != nil {
				home, _ = f.Env.HomeDir()
			}
			path, err := KeyringPath(keyringFlag, cfg, f.Env.LookupEnv, home)
			if err != nil {
				return nil, err
			}
			return OpenKeyring(path, src, f.Now)
		},
	}
}

// OpenedKeyring opens the keyring on first use and returns it.
func (k *Keys) OpenedKeyring() (*keyring.Keyring, error) {
	if k.Keyring == nil {
		return nil, cmdutil.WithHint(errors.New("no keyring configured"), "pass --keyring PATH or set $OSSCTL_KEYRING")
	}
	k.once.Do(func() { k.kr, k.err = k.Keyring() })
	return k.kr, k.err
}

func (k *Keys) kmsClient() (*cmdutil.KMSClient, error) {
	if k.KMS == nil {
		return nil, errors.New("no KMS client configured")
	}
	return k.KMS()
}

// MasterKey returns the master key that encrypts new objects under spec. For KMS it checks with
// DescribeKey that the key exists and is Enabled, so that an upload fails before any data moves;
// the key is used under its resolved key id. For the keyring it returns the key's primary
// version.
func (k *Keys) MasterKey(spec Spec) (crypto.MasterKey, error) {
	switch spec.Kind {
	case KindKMS:
		c, err := k.kmsClient()
		if err != nil {
			return nil, err
		}
		req := kmssdk.CreateDescribeKeyRequest()
		req.Scheme = c.Scheme
		req.KeyId = spec.ID
		resp, err := c.DescribeKey(req)
		if err != nil {
			return nil, fmt.Errorf("looking up KMS key %s: %w", spec.ID, err)
		}
		if st := resp.KeyMetadata.KeyState; st != "Enabled" {
			return nil, fmt.Errorf("KMS key %s is %s: only an Enabled key can encrypt", resp.KeyMetadata.KeyId, st)
		}
		id := resp.KeyMetadata.KeyId
		if id == "" {
			id = spec.ID
		}
		return kms.New(c.Client, id, &kms.Options{Scheme: c.Scheme})
	case KindKey:
		kr, err := k.OpenedKeyring()
		if err != nil {
			return nil, err
		}
		mk, err := kr.MasterKey(spec.ID)
		if err != nil {
			return nil, fmt.Errorf("using keyring key %s: %w", spec.ID, err)
		}
		return mk, nil
	}
	return nil, errors.New("no encryption spec given")
}

// Resolve implements crypto.Resolver: a KMS/ALICLOUD envelope goes to KMS Decrypt (the blob
// names its key, so no key id is needed); an RSA envelope is matched by matdesc against the
// keyring's key versions.
func (k *Keys) Resolve(env *crypto.Envelope) (crypto.MasterKey, error) {
	switch env.WrapAlg {
	case crypto.WrapAlgKMS:
		c, err := k.kmsClient()
		if err != nil {
			return nil, fmt.Errorf("decrypting a KMS-wrapped data key: %w", err)
		}
		id := "unknown"
		if info := ParseKMSBlob(env.WrappedKey); info.KeyID != "" {
			id = info.KeyID
		}
		return kms.New(c.Client, id, &kms.Options{Scheme: c.Scheme, MatDesc: mustMatDesc(env.MatDesc)})
	case crypto.WrapAlgRSA, crypto.WrapAlgRSAOAEP:
		kr, err := k.OpenedKeyring()
		if err != nil {
			return nil, fmt.Errorf("finding the RSA master key (matdesc %s): %w", orNone(env.MatDesc), err)
		}
		mk, err := kr.Resolve(env)
		if errors.Is(err, keyring.ErrKeyNotFound) {
			return nil, fmt.Errorf("%w: no key in %s has matdesc %s", crypto.ErrNoMasterKey, kr.Path(), orNone(env.MatDesc))
		}
		if errors.Is(err, keyring.ErrKeyPendingDeletion) {
			return nil, fmt.Errorf("%w: %w", crypto.ErrNoMasterKey, err)
		}
		return mk, err
	}
	return nil, fmt.Errorf("%w: wrap algorithm %q", crypto.ErrUnsupportedAlgorithm, env.WrapAlg)
}

func mustMatDesc(s string) map[string]string {
	m, err := crypto.DecodeMatDesc(s)
	if err != nil {
		return nil
	}
	return m
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// KMSBlobInfo is what a KMS ciphertext blob reveals without decrypting it.
type KMSBlobInfo struct {
	// KeyID is the customer master key that wrapped the data key, or "".
	KeyID string `json:"keyId,omitempty"`
	// KeyVersionID is the key version, when the blob format records it (ossctl serve), or "".
	KeyVersionID string `json:"keyVersionId,omitempty"`
	// Format names the recognised blob layout: "ossctl-serve", "alibaba-cloud-kms" or "unknown".
	Format string `json:"format"`
}

// ParseKMSBlob reads the key id out of a KMS CiphertextBlob (base64-decoded). ossctl serve's
// blobs are "AKB1" ‖ u8 len ‖ key id ‖ u8 len ‖ version id ‖ …; Alibaba Cloud KMS blobs, in the
// published examples, begin with the 36-character key id in ASCII. Anything else is "unknown".
func ParseKMSBlob(b []byte) KMSBlobInfo {
	if len(b) > 6 && string(b[:4]) == "AKB1" {
		n := int(b[4])
		if 5+n < len(b) {
			id := string(b[5 : 5+n])
			m := int(b[5+n])
			if 6+n+m <= len(b) && printable(id) {
				ver := string(b[6+n : 6+n+m])
				if printable(ver) {
					return KMSBlobInfo{KeyID: id, KeyVersionID: ver, Format: "ossctl-serve"}
				}
			}
		}
	}
	if len(b) > 36 && isUUID(b[:36]) {
		return KMSBlobInfo{KeyID: string(b[:36]), Format: "alibaba-cloud-kms"}
	}
	return KMSBlobInfo{Format: "unknown"}
}

func printable(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func isUUID(b []byte) bool {
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
