package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ossctl/ossctl/internal/pop"
	"github.com/ossctl/ossctl/internal/store"
)

// Sealer seals secrets under the server master key (*sealing.Keyring).
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(blob, aad []byte) ([]byte, error)
}

// KeyService is the KMS the server asks for SSE-KMS data keys
// (*pop.Handler, in process).
type KeyService interface {
	GenerateDataKey(ref string, n int, ctx map[string]string) (*pop.DataKey, error)
	DecryptDataKey(blob string, ctx map[string]string) ([]byte, string, error)
	DefaultKey() (string, error)
}

// SSE algorithms.
const (
	sseAES256 = "AES256"
	sseKMS    = "KMS"
	sseSM4    = "SM4"
)

// Request headers of per-object server-side encryption.
const (
	hdrSSE        = "x-oss-server-side-encryption"
	hdrSSEKeyID   = "x-oss-server-side-encryption-key-id"
	hdrSSEDataEnc = "x-oss-server-side-data-encryption"
)

// extraSSE is the Object.Extra entry holding an SSE object's envelope.
const extraSSE = "sse"

// bucketEncryptionConfig is the name of the bucket's default-encryption
// document in the store.
const bucketEncryptionConfig = "encryption"

// sseSpec is how an object is to be encrypted: a request's headers or a
// bucket's default rule.
type sseSpec struct {
	Alg     string `json:"alg"`
	KeyID   string `json:"kid,omitempty"`
	DataEnc string `json:"dataenc,omitempty"`
}

// envelope is stored in Object.Extra["sse"] (JSON): everything needed to
// decrypt the object except the master key or the CMK.
type envelope struct {
	V       int    `json:"v"`
	Alg     string `json:"alg"`           // AES256 | KMS
	KeyID   string `json:"kid,omitempty"` // KMS: the CMK id
	OID     string `json:"oid"`           // random object id (hex), bound into every piece key
	Chunk   int    `json:"cs"`            // chunk size
	Wrapped string `json:"wk"`            // AES256: base64 master-key-sealed data key; KMS: CiphertextBlob
}

// masterAAD binds a master-key-sealed data key to its object id.
func masterAAD(oid string) []byte { return []byte("ossctl/sse/data-key\x00" + oid) }

// kmsContext is the encryption context of an SSE-KMS data key.
func kmsContext(oid string) map[string]string { return map[string]string{"ossctl:sse-object": oid} }

// envelopeOf parses an object's envelope (nil when not encrypted).
func envelopeOf(extra map[string]string) (*envelope, error) {
	v, ok := extra[extraSSE]
	if !ok {
		return nil, nil
	}
	var e envelope
	if err := json.Unmarshal([]byte(v), &e); err != nil || e.V != 1 || e.Chunk != sseChunkSize ||
		(e.Alg != sseAES256 && e.Alg != sseKMS) || len(e.OID) != 2*sseOIDSize {
		return nil, fmt.Errorf("%w: unreadable encryption envelope", errSSEIntegrity)
	}
	return &e, nil
}

func (e *envelope) encode() string {
	b, _ := json.Marshal(e) // plain strings and ints: never fails
	return string(b)
}

// sseConfigured reports whether the server can encrypt with alg.
func (s *Server) sseConfigured(alg string) bool {
	if alg == sseKMS {
		return s.kms != nil
	}
	return s.masterKey != nil
}

// parseSSEHeaders validates the SSE request headers (nil when absent).
func parseSSEHeaders(h http.Header) (*sseSpec, error) {
	if v := h.Get("x-oss-server-side-encryption-customer-algorithm"); v != "" {
		return nil, errNotImplemented("Server-side encryption with customer-provided keys (SSE-C)")
	}
	alg, kid, denc := h.Get(hdrSSE), h.Get(hdrSSEKeyID), h.Get(hdrSSEDataEnc)
	if alg == "" {
		if kid != "" {
			return nil, errInvalidArgument(hdrSSEKeyID, kid, "%s is only valid with %s: KMS.", hdrSSEKeyID, hdrSSE)
		}
		if denc != "" {
			return nil, errInvalidArgument(hdrSSEDataEnc, denc, "%s is only valid with %s: KMS.", hdrSSEDataEnc, hdrSSE)
		}
		return nil, nil
	}
	spec := &sseSpec{Alg: alg, KeyID: kid, DataEnc: denc}
	if err := spec.validate(hdrSSE, hdrSSEKeyID, hdrSSEDataEnc); err != nil {
		return nil, err
	}
	return spec, nil
}

// validate checks an algorithm, key id and data encryption; the names are
// those of the header or XML element carrying each.
func (sp *sseSpec) validate(algName, kidName, dencName string) error {
	switch sp.Alg {
	case sseAES256, sseKMS:
	case sseSM4:
		return errInvalidArgument(algName, sp.Alg,
			"The server-side encryption algorithm SM4 is not supported by this server; use AES256 or KMS.")
	default:
		return errInvalidArgument(algName, sp.Alg,
			"The server-side encryption algorithm %q is not valid; use AES256 or KMS.", sp.Alg)
	}
	if sp.KeyID != "" && sp.Alg != sseKMS {
		return errInvalidArgument(kidName, sp.KeyID, "A KMS key id is only valid with the KMS algorithm, not %s.", sp.Alg)
	}
	switch {
	case sp.DataEnc == "":
	case sp.DataEnc != sseSM4:
		return errInvalidArgument(dencName, sp.DataEnc, "The data encryption %q is not valid; the only value is SM4.", sp.DataEnc)
	case sp.Alg != sseKMS:
		return errInvalidArgument(dencName, sp.DataEnc, "SM4 data encryption is only valid with the KMS algorithm.")
	default:
		return errInvalidArgument(dencName, sp.DataEnc,
			"SM4 data encryption is not supported by this server; KMS-protected data is encrypted with AES-256-GCM.")
	}
	return nil
}

// bucketSSE returns the bucket's default encryption rule (nil when unset).
func (s *Server) bucketSSE(bucket string) (*sseSpec, error) {
	doc, err := s.store.GetBucketConfig(bucket, bucketEncryptionConfig)
	if errors.Is(err, store.ErrNoSuchConfig) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the encryption rule of bucket %s: %w", bucket, err)
	}
	var sp sseSpec
	if err := json.Unmarshal(doc, &sp); err != nil {
		return nil, fmt.Errorf("decoding the encryption rule of bucket %s: %w", bucket, err)
	}
	return &sp, nil
}

// requestSSE decides how a new object of the request is encrypted: the
// request headers, else the bucket default, else not at all (nil).
func (rc *reqCtx) requestSSE() (*sseSpec, error) {
	sp, err := parseSSEHeaders(rc.r.Header)
	if err != nil || sp != nil {
		if sp != nil && !rc.s.sseConfigured(sp.Alg) {
			return nil, errNotImplemented("Server-side encryption with " + sp.Alg + " (no key service configured)")
		}
		return sp, err
	}
	sp, err = rc.s.bucketSSE(rc.bucket)
	if err != nil || sp == nil {
		return nil, err
	}
	if !rc.s.sseConfigured(sp.Alg) {
		return nil, errNotImplemented("Server-side encryption with " + sp.Alg + " (no key service configured)")
	}
	return sp, nil
}

// newObjectKey makes a fresh data key and envelope for sp. For KMS the
// CMK is asked now, before any body byte is read, so an unknown or
// disabled key fails the request with nothing stored.
func (s *Server) newObjectKey(sp *sseSpec) (*sseKey, error) {
	oidRaw := make([]byte, sseOIDSize)
	if _, err := rand.Read(oidRaw); err != nil {
		return nil, fmt.Errorf("generating object id: %w", err)
	}
	oid := hex.EncodeToString(oidRaw)
	env := &envelope{V: 1, Alg: sp.Alg, OID: oid, Chunk: sseChunkSize}
	var key []byte
	switch sp.Alg {
	case sseAES256:
		key = make([]byte, sseKeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("generating data key: %w", err)
		}
		sealed, err := s.masterKey.Seal(key, masterAAD(oid))
		if err != nil {
			return nil, fmt.Errorf("sealing data key: %w", err)
		}
		env.Wrapped = base64.StdEncoding.EncodeToString(sealed)
	case sseKMS:
		ref := sp.KeyID
		if ref == "" {
			id, err := s.kms.DefaultKey()
			if err != nil {
				return nil, kmsError(err)
			}
			ref = id
		}
		dk, err := s.kms.GenerateDataKey(ref, sseKeySize, kmsContext(oid))
		if err != nil {
			return nil, kmsError(err)
		}
		key, env.KeyID, env.Wrapped = dk.Plaintext, dk.KeyID, dk.CiphertextBlob
	default:
		return nil, fmt.Errorf("unknown SSE algorithm %q", sp.Alg)
	}
	return &sseKey{env: env, key: key, oid: oidRaw}, nil
}

// objectKey unwraps the data key of an object (nil when not encrypted).
func (s *Server) objectKey(extra map[string]string) (*sseKey, error) {
	env, err := envelopeOf(extra)
	if err != nil || env == nil {
		return nil, err
	}
	oid, err := hex.DecodeString(env.OID)
	if err != nil {
		return nil, fmt.Errorf("%w: bad object id", errSSEIntegrity)
	}
	var key []byte
	switch env.Alg {
	case sseAES256:
		if s.masterKey == nil {
			return nil, errNotImplemented("Reading SSE-OSS objects (no master key configured)")
		}
		sealed, err := base64.StdEncoding.DecodeString(env.Wrapped)
		if err != nil {
			return nil, fmt.Errorf("%w: bad wrapped key", errSSEIntegrity)
		}
		if key, err = s.masterKey.Open(sealed, masterAAD(env.OID)); err != nil {
			return nil, fmt.Errorf("unwrapping the data key with the server master key: %w", err)
		}
	case sseKMS:
		if s.kms == nil {
			return nil, errNotImplemented("Reading SSE-KMS objects (no key service configured)")
		}
		if key, _, err = s.kms.DecryptDataKey(env.Wrapped, kmsContext(env.OID)); err != nil {
			return nil, kmsError(err)
		}
	}
	if len(key) != sseKeySize {
		return nil, fmt.Errorf("%w: data key of %d bytes", errSSEIntegrity, len(key))
	}
	return &sseKey{env: env, key: key, oid: oid}, nil
}

// kmsError turns a KMS failure into the OSS answer: KMS's code and status
// (an unknown key is OSS's 404 KeyNotFound).
func kmsError(err error) error {
	var pe *pop.Error
	if !errors.As(err, &pe) {
		return fmt.Errorf("key service: %w", err)
	}
	switch pe.Code {
	case pop.CodeKeyNotFound, pop.CodeAliasNotFound:
		return newError(http.StatusNotFound, "KeyNotFound", "The specified KMS key does not exist: %s", pe.Message)
	case pop.CodeInvalidParameter:
		return newError(http.StatusForbidden, "KmsInvalidParameter", "KMS refused the request: %s", pe.Message)
	}
	return newError(pe.Status, pe.Code, "KMS refused the request: %s", pe.Message)
}

// setSSEHeaders echoes how an object is encrypted.
func setSSEHeaders(h http.Header, extra map[string]string) {
	env, err := envelopeOf(extra)
	if err != nil || env == nil {
		return
	}
	h.Set(hdrSSE, env.Alg)
	if env.Alg == sseKMS {
		h.Set(hdrSSEKeyID, env.KeyID)
	}
}

// readKey returns the data key an opened object's content is read with:
// nil when rd is nil or not sealed.
func (s *Server) readKey(obj *store.Object, rd *store.ObjectReader) (*sseKey, error) {
	if rd == nil || !rd.Sealed() {
		return nil, nil
	}
	k, err := s.objectKey(obj.Extra)
	if err != nil {
		return nil, sseErr(err)
	}
	return k, nil
}

// sseErr maps integrity failures of stored data to a clear 500.
func sseErr(err error) error {
	if errors.Is(err, errSSEIntegrity) {
		return newError(http.StatusInternalServerError, "InternalError",
			"The object's stored data failed its integrity check and cannot be returned: %v.", err)
	}
	return err
}

// ---- bucket default encryption (?encryption) ----

type xmlSSEDefault struct {
	SSEAlgorithm      string  `xml:"SSEAlgorithm"`
	KMSMasterKeyID    *string `xml:"KMSMasterKeyID"`
	KMSDataEncryption *string `xml:"KMSDataEncryption"`
}

type xmlServerSideEncryptionRule struct {
	XMLName xml.Name       `xml:"ServerSideEncryptionRule"`
	Default *xmlSSEDefault `xml:"ApplyServerSideEncryptionByDefault"`
}

func (rc *reqCtx) putBucketEncryption() error {
	if _, err := rc.allowedBucket(actPutBucketEncryption); err != nil {
		return err
	}
	var doc xmlServerSideEncryptionRule
	present, err := rc.readXML(maxXMLBody, &doc)
	if err != nil {
		return err
	}
	if !present || doc.Default == nil {
		return errMalformedXML("The ServerSideEncryptionRule must contain ApplyServerSideEncryptionByDefault.")
	}
	sp := sseSpec{Alg: strings.TrimSpace(doc.Default.SSEAlgorithm)}
	if doc.Default.KMSMasterKeyID != nil {
		sp.KeyID = strings.TrimSpace(*doc.Default.KMSMasterKeyID)
	}
	if doc.Default.KMSDataEncryption != nil {
		sp.DataEnc = strings.TrimSpace(*doc.Default.KMSDataEncryption)
	}
	if sp.Alg == "" {
		return errMalformedXML("SSEAlgorithm is required.")
	}
	if err := sp.validate("SSEAlgorithm", "KMSMasterKeyID", "KMSDataEncryption"); err != nil {
		return err
	}
	if !rc.s.sseConfigured(sp.Alg) {
		return errNotImplemented("Server-side encryption with " + sp.Alg + " (no key service configured)")
	}
	data, err := json.Marshal(sp)
	if err != nil {
		return fmt.Errorf("encoding encryption rule: %w", err)
	}
	if err := rc.s.store.PutBucketConfig(rc.bucket, bucketEncryptionConfig, data); err != nil {
		if errors.Is(err, store.ErrNoSuchBucket) {
			return err
		}
		return fmt.Errorf("storing the encryption rule of %s: %w", rc.bucket, err)
	}
	return rc.ok()
}

func errNoSSERule(bucket string) *apiError {
	return newError(http.StatusNotFound, "NoSuchServerSideEncryptionRule",
		"The server side encryption configuration was not found.").with("BucketName", bucket)
}

func (rc *reqCtx) getBucketEncryption() error {
	if _, err := rc.allowedBucket(actGetBucketEncryption); err != nil {
		return err
	}
	sp, err := rc.s.bucketSSE(rc.bucket)
	if err != nil {
		return err
	}
	if sp == nil {
		return errNoSSERule(rc.bucket)
	}
	return rc.writeXML(sp.xml())
}

func (sp *sseSpec) xml() xmlServerSideEncryptionRule {
	d := &xmlSSEDefault{SSEAlgorithm: sp.Alg}
	if sp.Alg == sseKMS {
		kid := sp.KeyID
		d.KMSMasterKeyID = &kid
	}
	if sp.DataEnc != "" {
		de := sp.DataEnc
		d.KMSDataEncryption = &de
	}
	return xmlServerSideEncryptionRule{Default: d}
}

func (rc *reqCtx) deleteBucketEncryption() error {
	if _, err := rc.allowedBucket(actDeleteBucketEncryption); err != nil {
		return err
	}
	if err := rc.s.store.DeleteBucketConfig(rc.bucket, bucketEncryptionConfig); err != nil {
		if errors.Is(err, store.ErrNoSuchBucket) {
			return err
		}
		return fmt.Errorf("deleting the encryption rule of %s: %w", rc.bucket, err)
	}
	return rc.noContent()
}

// Rewrapper re-seals a blob under the primary master key version
// (*sealing.Keyring).
type Rewrapper interface {
	Rewrap(blob, aad []byte) ([]byte, error)
	Primary() uint32
}

// RewrapDataKeys moves the data key of every SSE-OSS object version and
// of every SSE-OSS multipart upload in st to the master key's primary
// version, rewriting metadata only (object data is not read or
// rewritten). Data keys already under the primary are left alone; SSE-KMS
// data keys are wrapped by their CMK and are not touched (their CMK's
// material is re-sealed by pop.Handler.RewrapMaterial). It returns how
// many data keys moved.
func RewrapDataKeys(ctx context.Context, st *store.Store, mk Rewrapper, blobVersion func([]byte) (uint32, error)) (int, error) {
	primary := mk.Primary()
	stats, err := st.RewriteExtras(ctx, func(bucket string, extra map[string]string) (map[string]string, bool, error) {
		env, err := envelopeOf(extra)
		if err != nil {
			return nil, false, fmt.Errorf("bucket %s: %w", bucket, err)
		}
		if env == nil || env.Alg != sseAES256 {
			return nil, false, nil
		}
		sealed, err := base64.StdEncoding.DecodeString(env.Wrapped)
		if err != nil {
			return nil, false, fmt.Errorf("bucket %s: %w: bad wrapped key", bucket, errSSEIntegrity)
		}
		if v, err := blobVersion(sealed); err == nil && v == primary {
			return nil, false, nil
		}
		moved, err := mk.Rewrap(sealed, masterAAD(env.OID))
		if err != nil {
			return nil, false, fmt.Errorf("bucket %s: re-wrapping a data key: %w", bucket, err)
		}
		env.Wrapped = base64.StdEncoding.EncodeToString(moved)
		extra[extraSSE] = env.encode()
		return extra, true, nil
	})
	return stats.Rewritten, err
}
