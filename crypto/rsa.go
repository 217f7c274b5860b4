package crypto

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SHA-1 is the OAEP hash of the legacy wrap algorithm, read for interoperability only
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// RSAMasterKey is a local RSA master key in the SDK's RSA/NONE/PKCS1Padding
// format: the data key and the IV are each encrypted with RSA PKCS#1 v1.5.
// A key with only the public half can wrap (encrypt objects); unwrapping
// needs the private half. It also unwraps the legacy Python wrap
// RSA/NONE/OAEPWithSHA-1AndMGF1Padding.
//
// PKCS#1 v1.5 encryption is what the official SDKs write and read, which is
// why it is used here despite its deprecation in Go: the only party that
// decrypts is the key holder, so there is no padding oracle to exploit.
type RSAMasterKey struct {
	pub     *rsa.PublicKey
	priv    *rsa.PrivateKey
	matDesc string
}

var _ AlgorithmUnwrapper = (*RSAMasterKey)(nil)

// NewRSAMasterKey returns a master key for pub and priv, either of which may
// be nil (not both; priv implies pub). matDesc labels the key; it is encoded
// with EncodeMatDesc.
func NewRSAMasterKey(pub *rsa.PublicKey, priv *rsa.PrivateKey, matDesc map[string]string) (*RSAMasterKey, error) {
	if priv != nil {
		if pub != nil && !pub.Equal(&priv.PublicKey) {
			return nil, errors.New("RSA master key: public and private keys do not match")
		}
		pub = &priv.PublicKey
	}
	if pub == nil {
		return nil, errors.New("RSA master key: neither a public nor a private key was given")
	}
	if pub.Size() < 128 {
		return nil, fmt.Errorf("RSA master key: %d-bit modulus is too small (minimum 1024)", pub.N.BitLen())
	}
	md, err := EncodeMatDesc(matDesc)
	if err != nil {
		return nil, err
	}
	return &RSAMasterKey{pub: pub, priv: priv, matDesc: md}, nil
}

// ParseRSAMasterKey is NewRSAMasterKey for PEM-encoded keys; either PEM may
// be empty. Public keys may be "PUBLIC KEY" (PKIX) or "RSA PUBLIC KEY"
// (PKCS#1), private keys "PRIVATE KEY" (PKCS#8) or "RSA PRIVATE KEY"
// (PKCS#1), as the official SDK accepts.
func ParseRSAMasterKey(publicPEM, privatePEM []byte, matDesc map[string]string) (*RSAMasterKey, error) {
	var (
		pub  *rsa.PublicKey
		priv *rsa.PrivateKey
		err  error
	)
	if len(publicPEM) > 0 {
		if pub, err = ParseRSAPublicKeyPEM(publicPEM); err != nil {
			return nil, err
		}
	}
	if len(privatePEM) > 0 {
		if priv, err = ParseRSAPrivateKeyPEM(privatePEM); err != nil {
			return nil, err
		}
	}
	return NewRSAMasterKey(pub, priv, matDesc)
}

// ParseRSAPublicKeyPEM parses the first PEM block of b as an RSA public key
// ("PUBLIC KEY" or "RSA PUBLIC KEY").
func ParseRSAPublicKeyPEM(b []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("parsing RSA public key: no PEM block found")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing PKIX public key: %w", err)
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("parsing PKIX public key: %T is not an RSA key", k)
		}
		return rk, nil
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing PKCS#1 public key: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("parsing RSA public key: unsupported PEM block %q (want PUBLIC KEY or RSA PUBLIC KEY)", block.Type)
}

// ParseRSAPrivateKeyPEM parses the first PEM block of b as an RSA private
// key ("PRIVATE KEY" or "RSA PRIVATE KEY"). Encrypted PEM is not supported.
func ParseRSAPrivateKeyPEM(b []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("parsing RSA private key: no PEM block found")
	}
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing PKCS#8 private key: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("parsing PKCS#8 private key: %T is not an RSA key", k)
		}
		return rk, nil
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing PKCS#1 private key: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("parsing RSA private key: unsupported PEM block %q (want PRIVATE KEY or RSA PRIVATE KEY)", block.Type)
}

// WrapAlg implements MasterKey.
func (k *RSAMasterKey) WrapAlg() string { return WrapAlgRSA }

// MatDesc implements MasterKey.
func (k *RSAMasterKey) MatDesc() string { return k.matDesc }

// PublicKey returns the public half.
func (k *RSAMasterKey) PublicKey() *rsa.PublicKey { return k.pub }

// CanUnwrap reports whether the key holds its private half.
func (k *RSAMasterKey) CanUnwrap() bool { return k.priv != nil }

// Wrap implements MasterKey with RSA PKCS#1 v1.5 encryption.
func (k *RSAMasterKey) Wrap(plain []byte) ([]byte, error) {
	//nolint:staticcheck // SA1019: RSA/NONE/PKCS1Padding is the official SDKs' wire format.
	out, err := rsa.EncryptPKCS1v15(rand.Reader, k.pub, plain)
	if err != nil {
		return nil, fmt.Errorf("RSA wrap: %w", err)
	}
	return out, nil
}

// Unwrap implements MasterKey for RSA/NONE/PKCS1Padding.
func (k *RSAMasterKey) Unwrap(wrapped []byte) ([]byte, error) {
	return k.UnwrapAlg(WrapAlgRSA, wrapped)
}

// UnwrapAlg implements AlgorithmUnwrapper: it unwraps RSA/NONE/PKCS1Padding
// and the legacy RSA/NONE/OAEPWithSHA-1AndMGF1Padding.
func (k *RSAMasterKey) UnwrapAlg(wrapAlg string, wrapped []byte) ([]byte, error) {
	if k.priv == nil {
		return nil, errors.New("RSA unwrap: the master key has no private key")
	}
	if len(wrapped) != k.priv.Size() {
		return nil, fmt.Errorf("%w: wrapped block is %d bytes but this %d-bit RSA key's blocks are %d bytes", ErrWrongKey, len(wrapped), k.priv.N.BitLen(), k.priv.Size())
	}
	var (
		out []byte
		err error
	)
	switch wrapAlg {
	case WrapAlgRSA:
		//nolint:staticcheck // SA1019: RSA/NONE/PKCS1Padding is the official SDKs' wire format.
		out, err = rsa.DecryptPKCS1v15(nil, k.priv, wrapped)
	case WrapAlgRSAOAEP:
		out, err = rsa.DecryptOAEP(sha1.New(), nil, k.priv, wrapped, nil) //nolint:gosec // G401: the legacy wrap's OAEP hash
	default:
		return nil, fmt.Errorf("%w: an RSA key cannot unwrap %s", ErrWrongKey, wrapAlg)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: RSA decryption (%s) failed: %w", ErrWrongKey, wrapAlg, err)
	}
	return out, nil
}
