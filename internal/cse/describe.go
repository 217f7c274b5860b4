package cse

import (
	"net/http"
	"strconv"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/crypto"
)

// EnvelopeInfo describes an encrypted object's envelope without decrypting anything.
type EnvelopeInfo struct {
	// Format is "sdk" (the official SDKs' AES-CTR format) or "ossctl-authenticated".
	Format        string `json:"format"`
	Authenticated bool   `json:"authenticated"`
	CEKAlg        string `json:"cekAlg"`
	WrapAlg       string `json:"wrapAlg"`
	MatDesc       string `json:"matDesc,omitempty"`
	// KMSKeyID and KMSKeyVersionID come from the KMS blob when its format reveals them.
	KMSKeyID        string `json:"kmsKeyId,omitempty"`
	KMSKeyVersionID string `json:"kmsKeyVersionId,omitempty"`
	KMSBlobFormat   string `json:"kmsBlobFormat,omitempty"`
	// KeyringKey and KeyringKeyVersion come from an ossctl keyring matdesc.
	KeyringKey        string `json:"keyringKey,omitempty"`
	KeyringKeyVersion string `json:"keyringKeyVersion,omitempty"`
	// WrappedKeyBytes and WrappedIVBytes are the sizes of the wrapped data key and IV.
	WrappedKeyBytes int `json:"wrappedKeyBytes"`
	WrappedIVBytes  int `json:"wrappedIvBytes,omitempty"`
	// StoredSize is the object's size (ciphertext); PlaintextSize the recorded plaintext size
	// (-1 when the envelope does not record it).
	StoredSize    int64  `json:"storedSize"`
	PlaintextSize int64  `json:"plaintextSize"`
	PlaintextMD5  string `json:"plaintextMd5,omitempty"`
	DataSize      int64  `json:"dataSize,omitempty"`
	PartSize      int64  `json:"partSize,omitempty"`
	ChunkSize     int64  `json:"chunkSize,omitempty"`
	CRC64         string `json:"crc64,omitempty"`
}

// Describe parses the envelope in h (HEAD response headers) and describes it. Errors are those
// of crypto.ParseEnvelope (crypto.ErrNotEncrypted for a plain object), classified.
func Describe(h http.Header) (*EnvelopeInfo, error) {
	env, err := crypto.ParseEnvelope(h)
	if err != nil {
		return nil, Classify(err)
	}
	info := &EnvelopeInfo{
		Format: "sdk", Authenticated: env.Authenticated(), CEKAlg: env.CEKAlg, WrapAlg: env.WrapAlg,
		MatDesc: env.MatDesc, WrappedKeyBytes: len(env.WrappedKey), WrappedIVBytes: len(env.WrappedIV),
		StoredSize: -1, PlaintextSize: env.UnencryptedContentLength, PlaintextMD5: env.UnencryptedContentMD5,
		DataSize: env.DataSize, PartSize: env.PartSize, ChunkSize: env.ChunkSize, CRC64: h.Get(oss.HTTPHeaderOssCRC64),
	}
	if info.Authenticated {
		info.Format = "ossctl-authenticated"
	}
	if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil {
		info.StoredSize = n
	}
	if env.WrapAlg == crypto.WrapAlgKMS {
		b := ParseKMSBlob(env.WrappedKey)
		info.KMSKeyID, info.KMSKeyVersionID, info.KMSBlobFormat = b.KeyID, b.KeyVersionID, b.Format
	}
	if md, err := crypto.DecodeMatDesc(env.MatDesc); err == nil {
		info.KeyringKey, info.KeyringKeyVersion = md["ossctl-key"], md["ossctl-key-version"]
	}
	return info, nil
}
