package crypto

import (
	"fmt"
)

// MasterKey wraps and unwraps data keys. Implementations: RSAMasterKey
// (local RSA key pair), crypto/kms.MasterKey (Alibaba Cloud KMS or ossctl
// serve), and keyring entries. A MasterKey must be safe for concurrent use.
type MasterKey interface {
	// Wrap encrypts a data key (or, in the SDK format, an IV).
	Wrap(plain []byte) ([]byte, error)
	// Unwrap decrypts what Wrap returned. A failure that means "not this
	// key" matches ErrWrongKey.
	Unwrap(wrapped []byte) ([]byte, error)
	// WrapAlg is the wrap-alg metadata value, such as WrapAlgRSA.
	WrapAlg() string
	// MatDesc is the material description stored with objects wrapped by
	// this key: a JSON object of strings, or "".
	MatDesc() string
}

// AlgorithmUnwrapper is implemented by master keys that can also unwrap data
// keys written under another wrap algorithm than their own WrapAlg, such as
// an RSA key reading the legacy OAEP wrap.
type AlgorithmUnwrapper interface {
	UnwrapAlg(wrapAlg string, wrapped []byte) ([]byte, error)
}

// unwrap unwraps with mk under the envelope's wrap algorithm.
func unwrap(mk MasterKey, wrapAlg string, wrapped []byte) ([]byte, error) {
	if mk.WrapAlg() == wrapAlg {
		return mk.Unwrap(wrapped)
	}
	if au, ok := mk.(AlgorithmUnwrapper); ok {
		return au.UnwrapAlg(wrapAlg, wrapped)
	}
	return nil, fmt.Errorf("%w: the object is wrapped with %s but the master key uses %s", ErrWrongKey, wrapAlg, mk.WrapAlg())
}

// Resolver picks the master key that can unwrap an object's data key.
type Resolver interface {
	Resolve(env *Envelope) (MasterKey, error)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(env *Envelope) (MasterKey, error)

// Resolve implements Resolver.
func (f ResolverFunc) Resolve(env *Envelope) (MasterKey, error) { return f(env) }

// MasterKeyResolver selects a master key by material description, as the
// official SDK's CryptoBucket does: when the object's matdesc string equals
// Default's byte for byte (both may be empty), Default is used; otherwise
// the decoded matdesc goes to Lookup, the counterpart of the SDK's
// MasterCipherManager.
type MasterKeyResolver struct {
	// Default is the configured master key; it may be nil.
	Default MasterKey
	// Lookup returns the master key for another matdesc, or an error; it may
	// be nil. wrapAlg is the object's wrap algorithm, so that a lookup can
	// build an RSA or a KMS key.
	Lookup func(matDesc map[string]string, wrapAlg string) (MasterKey, error)
}

// Resolve implements Resolver.
func (r *MasterKeyResolver) Resolve(env *Envelope) (MasterKey, error) {
	if r.Default != nil && env.MatDesc == r.Default.MatDesc() {
		return r.Default, nil
	}
	if r.Lookup == nil {
		if r.Default == nil {
			return nil, fmt.Errorf("%w: no master key is configured", ErrNoMasterKey)
		}
		return nil, fmt.Errorf("%w: object matdesc %q differs from the configured key's %q", ErrNoMasterKey, env.MatDesc, r.Default.MatDesc())
	}
	md, err := DecodeMatDesc(env.MatDesc)
	if err != nil {
		return nil, err
	}
	mk, err := r.Lookup(md, env.WrapAlg)
	if err != nil {
		return nil, fmt.Errorf("looking up master key for matdesc %q: %w", env.MatDesc, err)
	}
	if mk == nil {
		return nil, fmt.Errorf("%w: matdesc %q", ErrNoMasterKey, env.MatDesc)
	}
	return mk, nil
}
