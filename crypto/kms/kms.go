// Package kms provides a crypto.MasterKey backed by Alibaba Cloud KMS (or
// any endpoint speaking its RPC API, such as ossctl serve), producing the
// official SDKs' KMS/ALICLOUD envelope: the data key and the IV are each
// sent to Encrypt as base64 Plaintext, and the stored metadata value is the
// returned CiphertextBlob. Unwrapping calls Decrypt and base64-decodes the
// Plaintext. No EncryptionContext is sent, as in the Go and Java SDKs.
package kms

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	kmssdk "github.com/aliyun/alibaba-cloud-sdk-go/services/kms"

	"github.com/ossctl/ossctl/crypto"
)

// Options configure a MasterKey.
type Options struct {
	// MatDesc labels the key in object metadata (encoded with
	// crypto.EncodeMatDesc); nil means no matdesc.
	MatDesc map[string]string
	// Scheme is the request scheme, "HTTPS" or "HTTP". Empty means HTTPS:
	// KMS requests carry data keys, so plain HTTP must be chosen
	// explicitly (for example for ossctl serve on loopback).
	Scheme string
}

// MasterKey wraps data keys with a KMS customer master key. It is safe for
// concurrent use if the client is.
type MasterKey struct {
	client  *kmssdk.Client
	keyID   string
	matDesc string
	scheme  string
}

var _ crypto.MasterKey = (*MasterKey)(nil)

// New returns a master key for keyID (a key id, alias/<name> or ARN) using
// client, whose endpoint and credentials the caller configures: a real KMS
// region, or client.Domain = "127.0.0.1:9000" with Options.Scheme "HTTP" for
// ossctl serve.
func New(client *kmssdk.Client, keyID string, opts *Options) (*MasterKey, error) {
	if client == nil {
		return nil, errors.New("KMS master key: client is nil")
	}
	if keyID == "" {
		return nil, errors.New("KMS master key: key id is empty")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	md, err := crypto.EncodeMatDesc(o.MatDesc)
	if err != nil {
		return nil, fmt.Errorf("KMS master key: %w", err)
	}
	scheme := strings.ToUpper(o.Scheme)
	switch scheme {
	case "":
		scheme = "HTTPS"
	case "HTTP", "HTTPS":
	default:
		return nil, fmt.Errorf("KMS master key: scheme %q is neither HTTP nor HTTPS", o.Scheme)
	}
	return &MasterKey{client: client, keyID: keyID, matDesc: md, scheme: scheme}, nil
}

// KeyID returns the configured key id.
func (k *MasterKey) KeyID() string { return k.keyID }

// WrapAlg implements crypto.MasterKey.
func (k *MasterKey) WrapAlg() string { return crypto.WrapAlgKMS }

// MatDesc implements crypto.MasterKey.
func (k *MasterKey) MatDesc() string { return k.matDesc }

// Wrap implements crypto.MasterKey with KMS Encrypt.
func (k *MasterKey) Wrap(plain []byte) ([]byte, error) {
	req := kmssdk.CreateEncryptRequest()
	req.Scheme = k.scheme
	req.AcceptFormat = "JSON"
	req.KeyId = k.keyID
	req.Plaintext = base64.StdEncoding.EncodeToString(plain)
	resp, err := k.client.Encrypt(req)
	if err != nil {
		return nil, fmt.Errorf("KMS Encrypt with key %s: %w", k.keyID, err)
	}
	if resp.CiphertextBlob == "" {
		return nil, fmt.Errorf("KMS Encrypt with key %s: response has no CiphertextBlob", k.keyID)
	}
	blob, err := base64.StdEncoding.DecodeString(resp.CiphertextBlob)
	if err != nil {
		return nil, fmt.Errorf("KMS Encrypt with key %s: CiphertextBlob is not standard base64: %w", k.keyID, err)
	}
	return blob, nil
}

// Unwrap implements crypto.MasterKey with KMS Decrypt. KMS picks the key
// from the blob itself; a blob KMS rejects as invalid or whose key does not
// exist matches crypto.ErrWrongKey.
func (k *MasterKey) Unwrap(wrapped []byte) ([]byte, error) {
	req := kmssdk.CreateDecryptRequest()
	req.Scheme = k.scheme
	req.AcceptFormat = "JSON"
	req.CiphertextBlob = base64.StdEncoding.EncodeToString(wrapped)
	resp, err := k.client.Decrypt(req)
	if err != nil {
		var se *sdkerrors.ServerError
		if errors.As(err, &se) && wrongKeyCode(se.ErrorCode()) {
			return nil, fmt.Errorf("KMS Decrypt: %w: %w", crypto.ErrWrongKey, err)
		}
		return nil, fmt.Errorf("KMS Decrypt: %w", err)
	}
	plain, err := base64.StdEncoding.DecodeString(resp.Plaintext)
	if err != nil {
		return nil, fmt.Errorf("KMS Decrypt: Plaintext is not standard base64: %w", err)
	}
	return plain, nil
}

// wrongKeyCode reports KMS error codes that mean the blob cannot be
// decrypted by any key the caller can use.
func wrongKeyCode(code string) bool {
	switch code {
	case "InvalidParameter", "InvalidCiphertext", "Forbidden.KeyNotFound", "Forbidden.ResourceNotFound":
		return true
	}
	return false
}
