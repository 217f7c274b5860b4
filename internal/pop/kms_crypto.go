package pop

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // RSAES_OAEP_SHA_1 is a documented KMS wrapping algorithm
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// CiphertextBlob format (PROTOCOL.md §7.3):
//
//	"AKB1" ‖ u8 len ‖ keyId ‖ u8 len ‖ versionId ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16)
//
// sent as padded standard base64. The GCM additional data is the header
// (everything before the nonce) followed by the canonical encryption
// context, so a blob decrypts only under the key version it names and only
// with the context it was made with.

const blobMagic = "AKB1"

const (
	gcmNonceLen = 12
	gcmTagLen   = 16
	// materialLen is the size of Aliyun_AES_256 key material.
	materialLen = 32
	// maxPlaintextLen bounds Encrypt's Plaintext (KMS documents 6 KB).
	maxPlaintextLen = 6144
	// maxContextLen bounds an EncryptionContext JSON document.
	maxContextLen = 8192
)

var errBadBlob = errors.New("malformed ciphertext blob")

// blobHeader encodes the key-identifying prefix of a ciphertext blob.
// Both ids are UUIDs (36 bytes); encryptBlob refuses anything longer than
// a length byte can say.
func blobHeader(keyID, versionID string) []byte {
	b := make([]byte, 0, len(blobMagic)+2+len(keyID)+len(versionID))
	b = append(b, blobMagic...)
	b = append(b, byte(len(keyID))) //nolint:gosec // len ≤ 255, checked by encryptBlob
	b = append(b, keyID...)
	b = append(b, byte(len(versionID))) //nolint:gosec // len ≤ 255, checked by encryptBlob
	return append(b, versionID...)
}

// parsedBlob is a decoded ciphertext blob.
type parsedBlob struct {
	header    []byte
	keyID     string
	versionID string
	nonce     []byte
	sealed    []byte // ciphertext ‖ tag
}

// parseBlob decodes the base64 CiphertextBlob parameter.
func parseBlob(s string) (*parsedBlob, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, errBadBlob
	}
	if len(raw) < len(blobMagic)+2 || string(raw[:len(blobMagic)]) != blobMagic {
		return nil, errBadBlob
	}
	i := len(blobMagic)
	kl := int(raw[i])
	i++
	if kl == 0 || i+kl+1 > len(raw) {
		return nil, errBadBlob
	}
	keyID := string(raw[i : i+kl])
	i += kl
	vl := int(raw[i])
	i++
	if vl == 0 || i+vl > len(raw) {
		return nil, errBadBlob
	}
	versionID := string(raw[i : i+vl])
	i += vl
	if len(raw)-i < gcmNonceLen+gcmTagLen {
		return nil, errBadBlob
	}
	return &parsedBlob{
		header:    raw[:i],
		keyID:     keyID,
		versionID: versionID,
		nonce:     raw[i : i+gcmNonceLen],
		sealed:    raw[i+gcmNonceLen:],
	}, nil
}

// encryptBlob seals plaintext under material and returns the base64 blob.
func encryptBlob(rnd io.Reader, material []byte, keyID, versionID string, plaintext, context []byte) (string, error) {
	if len(keyID) == 0 || len(keyID) > 255 || len(versionID) == 0 || len(versionID) > 255 {
		return "", fmt.Errorf("pop: key id %q / version id %q cannot be encoded in a ciphertext blob", keyID, versionID)
	}
	aead, err := newGCM(material)
	if err != nil {
		return "", err
	}
	header := blobHeader(keyID, versionID)
	out := make([]byte, len(header)+gcmNonceLen, len(header)+gcmNonceLen+len(plaintext)+gcmTagLen)
	copy(out, header)
	if _, err := io.ReadFull(rnd, out[len(header):]); err != nil {
		return "", fmt.Errorf("pop: generating nonce: %w", err)
	}
	out = aead.Seal(out, out[len(header):], plaintext, aad(header, context))
	return base64.StdEncoding.EncodeToString(out), nil
}

// decryptBlob opens a parsed blob with material; a wrong context or any
// tampering fails authentication.
func decryptBlob(material []byte, b *parsedBlob, context []byte) ([]byte, error) {
	aead, err := newGCM(material)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, b.nonce, b.sealed, aad(b.header, context))
	if err != nil {
		return nil, errBadBlob
	}
	return pt, nil
}

func aad(header, context []byte) []byte {
	a := make([]byte, 0, len(header)+len(context))
	a = append(a, header...)
	return append(a, context...)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("pop: key material: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("pop: key material: %w", err)
	}
	return aead, nil
}

// parseContext parses an EncryptionContext parameter (a JSON object whose
// values are strings) and returns its canonical encoding: entries sorted by
// key, each as u32 len ‖ key ‖ u32 len ‖ value. An absent or empty context
// encodes to nothing, so "" and "{}" are the same context.
func parseContext(name, s string) ([]byte, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if len(s) > maxContextLen {
		return nil, errInvalidParameter(fmt.Sprintf("The %s exceeds %d bytes.", name, maxContextLen))
	}
	dec := json.NewDecoder(strings.NewReader(s))
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil || dec.More() || raw == nil {
		return nil, errInvalidParameter("The " + name + " must be a JSON object of string values.")
	}
	ctx := make(map[string]string, len(raw))
	for k, v := range raw {
		var sv string
		if err := json.Unmarshal(v, &sv); err != nil || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return nil, errInvalidParameter("The " + name + " must be a JSON object of string values; " + quote(k) + " is not a string.")
		}
		ctx[k] = sv
	}
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b []byte
	for _, k := range keys {
		// Lengths are bounded by maxContextLen, far below 2^32.
		b = binary.BigEndian.AppendUint32(b, uint32(len(k))) //nolint:gosec // bounded by maxContextLen
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(ctx[k]))) //nolint:gosec // bounded by maxContextLen
		b = append(b, ctx[k]...)
	}
	return b, nil
}

// materialAAD binds sealed key material to its key and version.
func materialAAD(keyID, versionID string) []byte {
	return []byte("ossctl/kms/material\x00" + keyID + "\x00" + versionID)
}

// importAAD binds a sealed import wrapping key to its key and token.
func importAAD(keyID, token string) []byte {
	return []byte("ossctl/kms/import\x00" + keyID + "\x00" + token)
}

// Wrapping algorithms accepted by GetParametersForImport.
const (
	WrapRSAPKCS1v15   = "RSAES_PKCS1_V1_5"
	WrapRSAOAEPSHA1   = "RSAES_OAEP_SHA_1"
	WrapRSAOAEPSHA256 = "RSAES_OAEP_SHA_256"
	WrapKeySpecRSA    = "RSA_2048"
)

// unwrapMaterial decrypts EncryptedKeyMaterial with the token's RSA key.
func unwrapMaterial(priv *rsa.PrivateKey, alg string, ct []byte) ([]byte, error) {
	switch alg {
	case WrapRSAPKCS1v15:
		return rsa.DecryptPKCS1v15(nil, priv, ct) //nolint:staticcheck // PKCS#1 v1.5 is a documented KMS wrapping algorithm
	case WrapRSAOAEPSHA1:
		return rsa.DecryptOAEP(sha1.New(), nil, priv, ct, nil) //nolint:gosec // documented KMS wrapping algorithm
	case WrapRSAOAEPSHA256:
		return rsa.DecryptOAEP(sha256.New(), nil, priv, ct, nil)
	default:
		return nil, fmt.Errorf("unsupported wrapping algorithm %q", alg)
	}
}

func marshalPrivate(priv *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("pop: encoding wrapping key: %w", err)
	}
	return der, nil
}

func parsePrivate(der []byte) (*rsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("pop: decoding wrapping key: %w", err)
	}
	priv, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("pop: wrapping key is not RSA")
	}
	return priv, nil
}

// newUUID returns a random RFC 4122 version 4 UUID in lowercase.
func newUUID(rnd io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", fmt.Errorf("pop: generating id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32], nil
}

// isUUID reports whether s has newUUID's shape.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// randomBytes returns n bytes from rnd.
func randomBytes(rnd io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, fmt.Errorf("pop: reading randomness: %w", err)
	}
	return b, nil
}

// equalBytes compares two secrets in constant time.
func equalBytes(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
