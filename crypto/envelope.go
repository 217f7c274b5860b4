package crypto

import (
	"bytes"
	"crypto/md5" //nolint:gosec // G501: only md5.Size, for the SDK's unencrypted-content-md5 field
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Algorithm names as they appear in the metadata.
const (
	// CEKAlgAESCTR is the SDK content algorithm, the only one official SDKs
	// accept.
	CEKAlgAESCTR = "AES/CTR/NoPadding"
	// WrapAlgKMS wraps data keys with Alibaba Cloud KMS Encrypt.
	WrapAlgKMS = "KMS/ALICLOUD"
	// WrapAlgRSA wraps data keys with RSA PKCS#1 v1.5 encryption.
	WrapAlgRSA = "RSA/NONE/PKCS1Padding"
	// WrapAlgRSAOAEP is the legacy wrap of the Python SDK's LocalRsaProvider
	// (RSA-OAEP with SHA-1 and MGF1-SHA-1). It is read, never written.
	WrapAlgRSAOAEP = "RSA/NONE/OAEPWithSHA-1AndMGF1Padding"
)

// Metadata names. Values of Envelope.Metadata are keyed by the name without
// MetaPrefix (what oss.Meta takes); Envelope.Header uses the full names.
const (
	// MetaPrefix is the OSS user-metadata header prefix.
	MetaPrefix = "x-oss-meta-"

	MetaKey                      = "client-side-encryption-key"
	MetaStart                    = "client-side-encryption-start"
	MetaCEKAlg                   = "client-side-encryption-cek-alg"
	MetaWrapAlg                  = "client-side-encryption-wrap-alg"
	MetaMatDesc                  = "client-side-encryption-matdesc"
	MetaUnencryptedContentLength = "client-side-encryption-unencrypted-content-length"
	MetaUnencryptedContentMD5    = "client-side-encryption-unencrypted-content-md5"
	MetaDataSize                 = "client-side-encryption-data-size"
	MetaPartSize                 = "client-side-encryption-part-size"

	// OssctlMetaPrefix prefixes the metadata of ossctl's own modes (after
	// MetaPrefix). Official SDKs ignore it: they see no
	// client-side-encryption-key and return such objects as they are
	// stored, that is as ciphertext.
	OssctlMetaPrefix = "ossctl-cse-"

	MetaOssctlCEKAlg     = OssctlMetaPrefix + "cek-alg"
	MetaOssctlKey        = OssctlMetaPrefix + "key"
	MetaOssctlWrapAlg    = OssctlMetaPrefix + "wrap-alg"
	MetaOssctlMatDesc    = OssctlMetaPrefix + "matdesc"
	MetaOssctlSalt       = OssctlMetaPrefix + "salt"
	MetaOssctlCommitment = OssctlMetaPrefix + "commitment"
	MetaOssctlChunkSize  = OssctlMetaPrefix + "chunk-size"
	MetaOssctlLength     = OssctlMetaPrefix + "unencrypted-content-length"
	MetaOssctlMD5        = OssctlMetaPrefix + "unencrypted-content-md5"
	MetaOssctlDataSize   = OssctlMetaPrefix + "data-size"
	MetaOssctlPartSize   = OssctlMetaPrefix + "part-size"
)

// SizeUnknown marks an absent Envelope.UnencryptedContentLength.
const SizeUnknown = -1

// Envelope is the client-side encryption metadata of one object: the wrapped
// data key and everything a reader needs to decrypt. CEKAlg selects the
// format: CEKAlgAESCTR is the official SDKs' format under
// x-oss-meta-client-side-encryption-*, CEKAlgAESGCMChunkedV1 is ossctl's
// authenticated mode under x-oss-meta-ossctl-cse-*.
type Envelope struct {
	// CEKAlg is the content algorithm.
	CEKAlg string
	// WrapAlg is the key-wrapping algorithm of the master key.
	WrapAlg string
	// MatDesc is the material description exactly as stored: a JSON object
	// of strings, or "" when absent. Readers compare it byte for byte.
	MatDesc string
	// WrappedKey is the wrapped data key (the base64-decoded metadata value;
	// for KMS, the decoded CiphertextBlob).
	WrappedKey []byte
	// WrappedIV is the wrapped CTR IV (SDK format only).
	WrappedIV []byte
	// Salt is the per-object salt (authenticated mode only).
	Salt []byte
	// Commitment is the key commitment tag (authenticated mode only).
	Commitment []byte
	// ChunkSize is the plaintext chunk size (authenticated mode only).
	ChunkSize int64
	// UnencryptedContentLength is the plaintext length, or SizeUnknown.
	UnencryptedContentLength int64
	// UnencryptedContentMD5 is the base64 MD5 of the plaintext, or "".
	UnencryptedContentMD5 string
	// DataSize is the total plaintext size of a multipart upload (0 = absent).
	DataSize int64
	// PartSize is the plaintext part size of a multipart upload (0 = absent).
	PartSize int64
}

// Authenticated reports whether the envelope is of ossctl's authenticated
// mode rather than the SDK format.
func (e *Envelope) Authenticated() bool { return e.CEKAlg == CEKAlgAESGCMChunkedV1 }

// Clone returns a deep copy.
func (e *Envelope) Clone() *Envelope {
	c := *e
	c.WrappedKey = bytes.Clone(e.WrappedKey)
	c.WrappedIV = bytes.Clone(e.WrappedIV)
	c.Salt = bytes.Clone(e.Salt)
	c.Commitment = bytes.Clone(e.Commitment)
	return &c
}

// Metadata returns the envelope as OSS user metadata, keyed by names without
// the x-oss-meta- prefix (as oss.Meta and the v2 SDK's Metadata take them).
func (e *Envelope) Metadata() map[string]string {
	m := make(map[string]string, 10)
	b64 := base64.StdEncoding.EncodeToString
	if e.Authenticated() {
		m[MetaOssctlCEKAlg] = e.CEKAlg
		m[MetaOssctlKey] = b64(e.WrappedKey)
		m[MetaOssctlWrapAlg] = e.WrapAlg
		if e.MatDesc != "" {
			m[MetaOssctlMatDesc] = e.MatDesc
		}
		m[MetaOssctlSalt] = b64(e.Salt)
		m[MetaOssctlCommitment] = b64(e.Commitment)
		m[MetaOssctlChunkSize] = strconv.FormatInt(e.ChunkSize, 10)
		e.putSizes(m, MetaOssctlLength, MetaOssctlMD5, MetaOssctlDataSize, MetaOssctlPartSize)
		return m
	}
	m[MetaKey] = b64(e.WrappedKey)
	m[MetaStart] = b64(e.WrappedIV)
	m[MetaCEKAlg] = e.CEKAlg
	m[MetaWrapAlg] = e.WrapAlg
	if e.MatDesc != "" {
		m[MetaMatDesc] = e.MatDesc
	}
	e.putSizes(m, MetaUnencryptedContentLength, MetaUnencryptedContentMD5, MetaDataSize, MetaPartSize)
	return m
}

func (e *Envelope) putSizes(m map[string]string, length, md5, dataSize, partSize string) {
	if e.UnencryptedContentLength >= 0 {
		m[length] = strconv.FormatInt(e.UnencryptedContentLength, 10)
	}
	if e.UnencryptedContentMD5 != "" {
		m[md5] = e.UnencryptedContentMD5
	}
	if e.DataSize > 0 {
		m[dataSize] = strconv.FormatInt(e.DataSize, 10)
	}
	if e.PartSize > 0 {
		m[partSize] = strconv.FormatInt(e.PartSize, 10)
	}
}

// Header returns the envelope as HTTP request headers (x-oss-meta-...).
func (e *Envelope) Header() http.Header {
	h := make(http.Header)
	for k, v := range e.Metadata() {
		h.Set(MetaPrefix+k, v)
	}
	return h
}

// IsEncrypted reports whether h (object response headers) marks an object
// as client-side encrypted in any format: the SDK's
// client-side-encryption-key (its presence is what official SDKs test) or an
// ossctl mode.
func IsEncrypted(h http.Header) bool {
	return h.Get(MetaPrefix+MetaKey) != "" || h.Get(MetaPrefix+MetaOssctlCEKAlg) != "" || h.Get(MetaPrefix+MetaOssctlKey) != ""
}

// ParseEnvelope reads and validates the envelope from object headers (HEAD
// or GET response). It returns ErrNotEncrypted when there is none,
// ErrUnsupportedAlgorithm for an unknown content or wrap algorithm or ossctl
// mode, and ErrInvalidEnvelope for missing or malformed fields.
func ParseEnvelope(h http.Header) (*Envelope, error) {
	return parseEnvelope(func(name string) (string, bool) {
		v, ok := h[http.CanonicalHeaderKey(MetaPrefix+name)]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	})
}

// ParseEnvelopeMetadata is ParseEnvelope for user metadata maps such as the
// v2 SDK's Metadata; keys may carry the x-oss-meta- prefix or not, in any
// letter case.
func ParseEnvelopeMetadata(meta map[string]string) (*Envelope, error) {
	norm := make(map[string]string, len(meta))
	for k, v := range meta {
		k = strings.ToLower(k)
		norm[strings.TrimPrefix(k, MetaPrefix)] = v
	}
	return parseEnvelope(func(name string) (string, bool) {
		v, ok := norm[name]
		return v, ok
	})
}

func parseEnvelope(get func(string) (string, bool)) (*Envelope, error) {
	sdk, ossctl := false, false
	for _, n := range []string{MetaKey, MetaStart, MetaCEKAlg, MetaWrapAlg} {
		if _, ok := get(n); ok {
			sdk = true
		}
	}
	for _, n := range []string{MetaOssctlCEKAlg, MetaOssctlKey, MetaOssctlWrapAlg, MetaOssctlSalt, MetaOssctlCommitment} {
		if _, ok := get(n); ok {
			ossctl = true
		}
	}
	switch {
	case sdk && ossctl:
		return nil, envelopeErr("both x-oss-meta-%s* and x-oss-meta-%s* metadata are present", "client-side-encryption-", OssctlMetaPrefix)
	case ossctl:
		return parseOssctlEnvelope(get)
	case sdk:
		return parseSDKEnvelope(get)
	}
	return nil, ErrNotEncrypted
}

func parseSDKEnvelope(get func(string) (string, bool)) (*Envelope, error) {
	e := &Envelope{UnencryptedContentLength: SizeUnknown}
	var err error
	if e.WrappedKey, err = requiredBase64(get, MetaKey); err != nil {
		return nil, err
	}
	if e.WrappedIV, err = requiredBase64(get, MetaStart); err != nil {
		return nil, err
	}
	if e.CEKAlg, err = required(get, MetaCEKAlg); err != nil {
		return nil, err
	}
	if e.CEKAlg != CEKAlgAESCTR {
		return nil, unsupportedErr("content algorithm %s=%q: only %q is supported", MetaPrefix+MetaCEKAlg, e.CEKAlg, CEKAlgAESCTR)
	}
	if e.WrapAlg, err = required(get, MetaWrapAlg); err != nil {
		return nil, err
	}
	e.MatDesc, _ = get(MetaMatDesc)
	if err := e.parseSizes(get, MetaUnencryptedContentLength, MetaUnencryptedContentMD5, MetaDataSize, MetaPartSize); err != nil {
		return nil, err
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e, nil
}

func parseOssctlEnvelope(get func(string) (string, bool)) (*Envelope, error) {
	e := &Envelope{UnencryptedContentLength: SizeUnknown}
	var err error
	if e.CEKAlg, err = required(get, MetaOssctlCEKAlg); err != nil {
		return nil, err
	}
	if e.CEKAlg != CEKAlgAESGCMChunkedV1 {
		return nil, unsupportedErr("unknown ossctl client-side encryption mode %s=%q (this version knows %q)", MetaPrefix+MetaOssctlCEKAlg, e.CEKAlg, CEKAlgAESGCMChunkedV1)
	}
	if e.WrappedKey, err = requiredBase64(get, MetaOssctlKey); err != nil {
		return nil, err
	}
	if e.WrapAlg, err = required(get, MetaOssctlWrapAlg); err != nil {
		return nil, err
	}
	e.MatDesc, _ = get(MetaOssctlMatDesc)
	if e.Salt, err = requiredBase64(get, MetaOssctlSalt); err != nil {
		return nil, err
	}
	if e.Commitment, err = requiredBase64(get, MetaOssctlCommitment); err != nil {
		return nil, err
	}
	cs, err := required(get, MetaOssctlChunkSize)
	if err != nil {
		return nil, err
	}
	if e.ChunkSize, err = parseSize(MetaOssctlChunkSize, cs); err != nil {
		return nil, err
	}
	if err := e.parseSizes(get, MetaOssctlLength, MetaOssctlMD5, MetaOssctlDataSize, MetaOssctlPartSize); err != nil {
		return nil, err
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Envelope) parseSizes(get func(string) (string, bool), length, md5, dataSize, partSize string) error {
	var err error
	// "-1" is read as "unknown" rather than rejected: it is what a writer
	// that did not know the length could plausibly store.
	if v, ok := get(length); ok && v != "-1" {
		if e.UnencryptedContentLength, err = parseSize(length, v); err != nil {
			return err
		}
	}
	e.UnencryptedContentMD5, _ = get(md5)
	if v, ok := get(dataSize); ok {
		if e.DataSize, err = parseSize(dataSize, v); err != nil {
			return err
		}
	}
	if v, ok := get(partSize); ok {
		if e.PartSize, err = parseSize(partSize, v); err != nil {
			return err
		}
	}
	return nil
}

func required(get func(string) (string, bool), name string) (string, error) {
	v, ok := get(name)
	if !ok || v == "" {
		return "", envelopeErr("required metadata %s%s is missing", MetaPrefix, name)
	}
	return v, nil
}

func requiredBase64(get func(string) (string, bool), name string) ([]byte, error) {
	v, err := required(get, name)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, envelopeErr("%s%s is not valid standard base64: %v", MetaPrefix, name, err)
	}
	return b, nil
}

func parseSize(name, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || strings.TrimSpace(v) != v || strings.HasPrefix(v, "+") {
		return 0, envelopeErr("%s%s=%q is not a non-negative decimal integer", MetaPrefix, name, v)
	}
	return n, nil
}

// knownWrapAlg reports whether wrap-alg is one this library can unwrap.
func knownWrapAlg(a string) bool {
	return a == WrapAlgKMS || a == WrapAlgRSA || a == WrapAlgRSAOAEP
}

// Validate checks the envelope's fields against the format: known
// algorithms, required fields, lengths and sizes. ParseEnvelope and
// OpenContent call it.
func (e *Envelope) Validate() error {
	switch e.CEKAlg {
	case CEKAlgAESCTR:
		if len(e.WrappedIV) == 0 {
			return envelopeErr("wrapped IV is empty")
		}
		if e.PartSize > 0 && e.PartSize%CTRAlignment != 0 {
			return envelopeErr("part size %d is not a multiple of %d", e.PartSize, CTRAlignment)
		}
		if len(e.Salt) != 0 || len(e.Commitment) != 0 || e.ChunkSize != 0 {
			return envelopeErr("salt, commitment and chunk size do not belong to %s", CEKAlgAESCTR)
		}
	case CEKAlgAESGCMChunkedV1:
		if len(e.WrappedIV) != 0 {
			return envelopeErr("a wrapped IV does not belong to %s", CEKAlgAESGCMChunkedV1)
		}
		if len(e.Salt) != SaltSize {
			return envelopeErr("salt is %d bytes, want %d", len(e.Salt), SaltSize)
		}
		if len(e.Commitment) != CommitmentSize {
			return envelopeErr("key commitment is %d bytes, want %d", len(e.Commitment), CommitmentSize)
		}
		if !validChunkSize(e.ChunkSize) {
			return envelopeErr("chunk size %d is not a power of two in [%d, %d]", e.ChunkSize, MinChunkSize, MaxChunkSize)
		}
		if e.PartSize > 0 && e.PartSize%e.ChunkSize != 0 {
			return envelopeErr("part size %d is not a multiple of the chunk size %d", e.PartSize, e.ChunkSize)
		}
	case "":
		return envelopeErr("content algorithm is empty")
	default:
		return unsupportedErr("content algorithm %q", e.CEKAlg)
	}
	if !knownWrapAlg(e.WrapAlg) {
		if e.WrapAlg == "" {
			return envelopeErr("wrap algorithm is empty")
		}
		return unsupportedErr("wrap algorithm %q: supported are %q, %q and (read only) %q", e.WrapAlg, WrapAlgKMS, WrapAlgRSA, WrapAlgRSAOAEP)
	}
	if len(e.WrappedKey) == 0 {
		return envelopeErr("wrapped data key is empty")
	}
	isRSA := e.WrapAlg == WrapAlgRSA || e.WrapAlg == WrapAlgRSAOAEP
	if isRSA && len(e.WrappedKey) < 128 {
		return envelopeErr("RSA-wrapped data key is %d bytes, shorter than one block of a 1024-bit key", len(e.WrappedKey))
	}
	if isRSA && len(e.WrappedIV) != 0 && len(e.WrappedIV) != len(e.WrappedKey) {
		return envelopeErr("RSA-wrapped key and IV have different lengths (%d and %d bytes); both must be one block of the same RSA key", len(e.WrappedKey), len(e.WrappedIV))
	}
	if e.MatDesc != "" {
		if _, err := DecodeMatDesc(e.MatDesc); err != nil {
			return err
		}
	}
	if e.UnencryptedContentLength < SizeUnknown {
		return envelopeErr("negative unencrypted content length %d", e.UnencryptedContentLength)
	}
	if e.UnencryptedContentMD5 != "" {
		b, err := base64.StdEncoding.DecodeString(e.UnencryptedContentMD5)
		if err != nil || len(b) != md5.Size {
			return envelopeErr("unencrypted content MD5 %q is not the base64 of a 16-byte digest", e.UnencryptedContentMD5)
		}
	}
	if e.DataSize < 0 || e.PartSize < 0 {
		return envelopeErr("negative data size or part size")
	}
	if e.DataSize > 0 && e.PartSize == 0 {
		return envelopeErr("data size %d without a part size", e.DataSize)
	}
	return nil
}

// EncodeMatDesc returns the material description for m as the Go SDK writes
// it (encoding/json of a map: keys sorted), or "" for an empty map. Readers
// compare matdesc strings byte for byte, so use this encoding to stay
// interchangeable with SDK-configured keys.
func EncodeMatDesc(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encoding matdesc: %w", err)
	}
	return string(b), nil
}

// DecodeMatDesc parses a material description: a JSON object whose values
// are strings. "" decodes to an empty map.
func DecodeMatDesc(s string) (map[string]string, error) {
	m := map[string]string{}
	if s == "" {
		return m, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&m); err != nil {
		return nil, envelopeErr("matdesc %q is not a JSON object of strings: %v", s, err)
	}
	if m == nil {
		return nil, envelopeErr("matdesc %q is not a JSON object", s)
	}
	if dec.More() {
		return nil, envelopeErr("matdesc %q has data after the JSON object", s)
	}
	return m, nil
}
