package cse

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/crypto"
	"github.com/ossctl/ossctl/internal/cmdutil"
)

// RewrapResult reports one re-wrapped object.
type RewrapResult struct {
	Key string `json:"key"`
	// FromWrapAlg/FromMatDesc/FromKMSKeyID describe the old master key, To* the new one.
	FromWrapAlg  string `json:"fromWrapAlg"`
	FromMatDesc  string `json:"fromMatDesc,omitempty"`
	FromKMSKeyID string `json:"fromKmsKeyId,omitempty"`
	ToWrapAlg    string `json:"toWrapAlg"`
	ToMatDesc    string `json:"toMatDesc,omitempty"`
	ToKMSKeyID   string `json:"toKmsKeyId,omitempty"`
	// CRC64 is the stored ciphertext's CRC-64, the same before and after.
	CRC64 string `json:"crc64,omitempty"`
	// Unchanged is true when the object was already wrapped by the target key and was left alone.
	Unchanged bool `json:"unchanged,omitempty"`
}

// contentHeaders are the object's content headers that CopyObject with the REPLACE directive
// would otherwise drop.
var contentHeaders = []string{
	oss.HTTPHeaderContentType, oss.HTTPHeaderContentEncoding, oss.HTTPHeaderContentDisposition,
	oss.HTTPHeaderCacheControl, oss.HTTPHeaderExpires, oss.HTTPHeaderContentLanguage,
}

// Rewrap re-wraps the data key of the encrypted object key in b under newKey without touching its
// body: HEAD, unwrap with the old master key found through keys, wrap with newKey, then
// CopyObject onto itself with x-oss-metadata-directive: REPLACE, re-sending every user metadata
// entry and content header with the new envelope, conditional on the HEAD's ETag. Afterwards it
// checks that the object's CRC-64 (the ciphertext) did not change; a change is an IntegrityError.
func Rewrap(ctx context.Context, b *oss.Bucket, key string, keys crypto.Resolver, newKey crypto.MasterKey) (*RewrapResult, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	h, err := b.GetObjectDetailedMeta(key, oss.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("reading metadata of %s: %w", key, err)
	}
	env, err := crypto.ParseEnvelope(h)
	if err != nil {
		return nil, Classify(fmt.Errorf("reading the encryption envelope of %s: %w", key, err))
	}
	res := &RewrapResult{Key: key, FromWrapAlg: env.WrapAlg, FromMatDesc: env.MatDesc,
		ToWrapAlg: newKey.WrapAlg(), ToMatDesc: newKey.MatDesc(), CRC64: h.Get(oss.HTTPHeaderOssCRC64)}
	if env.WrapAlg == crypto.WrapAlgKMS {
		res.FromKMSKeyID = ParseKMSBlob(env.WrappedKey).KeyID
	}
	if k, ok := newKey.(interface{ KeyID() string }); ok {
		res.ToKMSKeyID = k.KeyID()
	}
	if sameMaster(env, res, newKey) {
		res.Unchanged = true
		return res, nil
	}
	c, err := crypto.OpenContent(env, keys)
	if err != nil {
		return nil, Classify(fmt.Errorf("unwrapping the data key of %s: %w", key, err))
	}
	newEnv, err := c.Rewrap(newKey)
	if err != nil {
		return nil, fmt.Errorf("re-wrapping the data key of %s: %w", key, err)
	}
	opts := []oss.Option{
		oss.WithContext(ctx),
		oss.MetadataDirective(oss.MetaReplace),
	}
	if etag := h.Get(oss.HTTPHeaderEtag); etag != "" {
		opts = append(opts, oss.CopySourceIfMatch(etag))
	}
	for _, name := range contentHeaders {
		if v := h.Get(name); v != "" {
			opts = append(opts, oss.SetHeader(name, v))
		}
	}
	if v := h.Get(oss.HTTPHeaderOssServerSideEncryption); v != "" {
		opts = append(opts, oss.ServerSideEncryption(v))
		if id := h.Get(oss.HTTPHeaderOssServerSideEncryptionKeyID); id != "" {
			opts = append(opts, oss.ServerSideEncryptionKeyID(id))
		}
	}
	if sc := h.Get(oss.HTTPHeaderOssStorageClass); sc != "" {
		opts = append(opts, oss.ObjectStorageClass(oss.StorageClassType(sc)))
	}
	for name, meta := range userMetadata(h) {
		if isEnvelopeMeta(name) {
			continue
		}
		opts = append(opts, oss.Meta(name, meta))
	}
	for name, v := range newEnv.Metadata() {
		opts = append(opts, oss.Meta(name, v))
	}
	if _, err := b.CopyObject(key, key, opts...); err != nil {
		return nil, fmt.Errorf("rewriting the metadata of %s: %w", key, err)
	}
	after, err := b.GetObjectDetailedMeta(key, oss.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("reading metadata of %s after re-wrapping: %w", key, err)
	}
	if got := after.Get(oss.HTTPHeaderOssCRC64); got != res.CRC64 {
		return nil, &cmdutil.IntegrityError{Err: fmt.Errorf("re-wrapping %s changed its CRC-64 from %s to %s", key, res.CRC64, got)}
	}
	return res, nil
}

// sameMaster reports whether env is already wrapped by newKey: the same RSA matdesc (keyring
// versions have unique matdescs), or the same KMS key id.
func sameMaster(env *crypto.Envelope, res *RewrapResult, newKey crypto.MasterKey) bool {
	if env.WrapAlg != newKey.WrapAlg() {
		return false
	}
	if env.WrapAlg == crypto.WrapAlgKMS {
		return res.FromKMSKeyID != "" && res.FromKMSKeyID == res.ToKMSKeyID && env.MatDesc == newKey.MatDesc()
	}
	return env.MatDesc != "" && env.MatDesc == newKey.MatDesc()
}

// userMetadata returns the x-oss-meta-* headers of h by lower-case name without the prefix.
func userMetadata(h http.Header) map[string]string {
	out := map[string]string{}
	for name, vals := range h {
		if len(vals) == 0 || len(name) < len(oss.HTTPHeaderOssMetaPrefix) ||
			!strings.EqualFold(name[:len(oss.HTTPHeaderOssMetaPrefix)], oss.HTTPHeaderOssMetaPrefix) {
			continue
		}
		out[strings.ToLower(name[len(oss.HTTPHeaderOssMetaPrefix):])] = vals[0]
	}
	return out
}

// isEnvelopeMeta reports metadata names that belong to a client-side encryption envelope.
func isEnvelopeMeta(name string) bool {
	return strings.HasPrefix(name, "client-side-encryption-") || strings.HasPrefix(name, crypto.OssctlMetaPrefix)
}
