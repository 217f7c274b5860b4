package auth

// POP RPC signature (KMS, RAM and STS "RPC style" APIs), as the official
// alibaba-cloud-sdk-go composes it (sdk/auth/rpc_signature_composer.go):
//
//	Canonicalized = join("&", for each parameter sorted by name, except Signature: pct(name) "=" pct(value))
//	StringToSign  = HTTPMethod "&" "%2F" "&" QueryEscape(Canonicalized)
//	Signature     = base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))
//
// pct is Go's QueryEscape with "+" → "%20", "*" → "%2A" and "%7E" → "~"
// (RFC 3986). Parameters come from the query string and the
// x-www-form-urlencoded body alike; the caller merges them.

import (
	"container/heap"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // HMAC-SHA1 is what the POP protocol specifies
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// SchemeRPC is Principal.Scheme for requests authenticated by the POP RPC
// signature.
const SchemeRPC = "rpc"

// POP RPC error codes produced by VerifyRPC. They are the codes the Alibaba
// Cloud API gateway answers with; clients match on them.
const (
	RPCCodeSignatureDoesNotMatch  = "SignatureDoesNotMatch"
	RPCCodeIncompleteSignature    = "IncompleteSignature"
	RPCCodeIllegalTimestamp       = "IllegalTimestamp"
	RPCCodeSignatureNonceUsed     = "SignatureNonceUsed"
	RPCCodeAccessKeyNotFound      = "InvalidAccessKeyId.NotFound"
	RPCCodeAccessKeyInactive      = "InvalidAccessKeyId.Inactive"
	RPCCodeMissingParameter       = "MissingParameter"
	RPCCodeInvalidSignatureMethod = "InvalidSignatureMethod"
	RPCCodeInvalidSignatureVer    = "InvalidSignatureVersion"
	RPCCodeInvalidSignatureType   = "InvalidSignatureType"
)

// RPCSignatureMismatchMarker precedes the server's string to sign in the
// Message of an RPC SignatureDoesNotMatch error. The POP SDK splits the
// message at this marker and compares the rest with its own string to sign
// (sdk/errors/signature_does_not_match_wrapper.go), so nothing may follow it.
const RPCSignatureMismatchMarker = "server string to sign is:"

// RPC parameter names the signature involves.
const (
	rpcAccessKeyID      = "AccessKeyId"
	rpcSignature        = "Signature"
	rpcSignatureMethod  = "SignatureMethod"
	rpcSignatureVersion = "SignatureVersion"
	rpcSignatureNonce   = "SignatureNonce"
	rpcSignatureType    = "SignatureType"
	rpcTimestamp        = "Timestamp"
	rpcSecurityToken    = "SecurityToken"
)

// DefaultNonceCapacity is the number of (AccessKeyId, SignatureNonce)
// pairs a NonceCache made with capacity 0 remembers.
const DefaultNonceCapacity = 1 << 20

// maxNonceLen bounds SignatureNonce; the SDKs send 32 hex digits or a UUID.
const maxNonceLen = 256

// RPCVerifier verifies POP RPC signatures and rejects replayed nonces. It
// is safe for concurrent use. Each server should own one, so that its
// nonce memory is shared by all its requests.
type RPCVerifier struct {
	nonces *NonceCache
}

// NewRPCVerifier returns a verifier remembering up to nonceCapacity nonces
// (0 = DefaultNonceCapacity).
func NewRPCVerifier(nonceCapacity int) *RPCVerifier {
	return &RPCVerifier{nonces: NewNonceCache(nonceCapacity)}
}

var defaultRPCVerifier = NewRPCVerifier(0)

// VerifyRPC verifies a POP RPC request with a process-wide nonce memory.
// params are the query and form parameters merged (form values win, as in
// the SDK), method the HTTP method, now the server clock. See
// RPCVerifier.Verify.
func VerifyRPC(params url.Values, method string, now time.Time, lookup Lookup) (*Principal, error) {
	return defaultRPCVerifier.Verify(params, method, now, lookup)
}

// Verify checks the POP RPC signature of a request and returns its
// principal, or an *Error carrying the POP error code and HTTP status:
//
//   - a missing AccessKeyId or SignatureNonce: 400 MissingParameter;
//     a missing Signature: 400 IncompleteSignature;
//   - SignatureMethod other than HMAC-SHA1, SignatureVersion other than
//     1.0, or a bearer-token SignatureType: 400;
//   - a missing, malformed or stale Timestamp (more than MaxClockSkew from
//     now): 400 IllegalTimestamp;
//   - an unknown AccessKeyId: 404 InvalidAccessKeyId.NotFound; a disabled
//     one: 400 InvalidAccessKeyId.Inactive;
//   - a wrong signature: 400 SignatureDoesNotMatch whose Message ends with
//     RPCSignatureMismatchMarker and the server's string to sign;
//   - a SignatureNonce already used by the same AccessKeyId within the
//     timestamp window: 400 SignatureNonceUsed.
//
// A nonce is remembered only once the signature is verified, so a refused
// request can be retried with the same nonce.
func (v *RPCVerifier) Verify(params url.Values, method string, now time.Time, lookup Lookup) (*Principal, error) {
	ak := params.Get(rpcAccessKeyID)
	if ak == "" {
		return nil, errRPCMissing(rpcAccessKeyID)
	}
	provided := params.Get(rpcSignature)
	if provided == "" {
		return nil, &Error{Status: http.StatusBadRequest, Code: RPCCodeIncompleteSignature,
			Message: `The request signature does not conform to Aliyun standards: the "Signature" parameter is missing.`, AccessKeyID: ak}
	}
	if m := params.Get(rpcSignatureMethod); m != "HMAC-SHA1" {
		if m == "" {
			return nil, errRPCMissing(rpcSignatureMethod)
		}
		return nil, &Error{Status: http.StatusBadRequest, Code: RPCCodeInvalidSignatureMethod,
			Message: "Specified signature method " + quoteShort(m) + " is not supported; use HMAC-SHA1."}
	}
	if sv := params.Get(rpcSignatureVersion); sv != "1.0" {
		if sv == "" {
			return nil, errRPCMissing(rpcSignatureVersion)
		}
		return nil, &Error{Status: http.StatusBadRequest, Code: RPCCodeInvalidSignatureVer,
			Message: "Specified signature version " + quoteShort(sv) + " is not supported; use 1.0."}
	}
	if st := params.Get(rpcSignatureType); st != "" {
		return nil, &Error{Status: http.StatusBadRequest, Code: RPCCodeInvalidSignatureType,
			Message: "Specified signature type " + quoteShort(st) + " is not supported; only AccessKey signatures are accepted."}
	}
	nonce := params.Get(rpcSignatureNonce)
	if nonce == "" {
		return nil, errRPCMissing(rpcSignatureNonce)
	}
	if len(nonce) > maxNonceLen {
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalidArgument,
			Message: "Specified parameter SignatureNonce is too long.", ArgumentName: rpcSignatureNonce}
	}
	ts := params.Get(rpcTimestamp)
	if ts == "" {
		return nil, &Error{Status: http.StatusBadRequest, Code: RPCCodeIllegalTimestamp,
			Message: `The input parameter "Timestamp" that is mandatory for processing this request is not supplied.`}
	}
	reqTime, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: RPCCodeIllegalTimestamp,
			Message: "Specified time stamp " + quoteShort(ts) + " is not well formatted; expected yyyy-MM-ddTHH:mm:ssZ (UTC)."}
	}
	if d := now.Sub(reqTime); d > MaxClockSkew || d < -MaxClockSkew {
		return nil, &Error{Status: http.StatusBadRequest, Code: RPCCodeIllegalTimestamp,
			Message: "Specified time stamp or date value is expired: the request time " + reqTime.UTC().Format(time.RFC3339) +
				" differs from the server time " + now.UTC().Format(time.RFC3339) + " by more than 15 minutes.",
			RequestTime: reqTime.UTC(), ServerTime: now.UTC()}
	}
	var cred *Credential
	if lookup != nil {
		c, ok := lookup(ak)
		if ok && c != nil {
			cred = c
		}
	}
	if cred == nil {
		return nil, &Error{Status: http.StatusNotFound, Code: RPCCodeAccessKeyNotFound,
			Message: "Specified access key is not found.", AccessKeyID: ak}
	}
	if cred.Disabled {
		return nil, &Error{Status: http.StatusBadRequest, Code: RPCCodeAccessKeyInactive,
			Message: "Specified access key is disabled.", AccessKeyID: ak}
	}
	sts := RPCStringToSign(method, params)
	want := SignRPC(cred.Secret, sts)
	if !hmac.Equal([]byte(want), []byte(provided)) {
		return nil, &Error{
			Status:            http.StatusBadRequest,
			Code:              RPCCodeSignatureDoesNotMatch,
			Message:           "Specified signature is not matched with our calculation. " + RPCSignatureMismatchMarker + sts,
			StringToSign:      sts,
			SignatureProvided: provided,
			AccessKeyID:       ak,
		}
	}
	expiry := reqTime.Add(MaxClockSkew)
	if !v.nonces.Add(ak, nonce, expiry, now) {
		return nil, &Error{Status: http.StatusBadRequest, Code: RPCCodeSignatureNonceUsed,
			Message: "Specified signature nonce was used already.", AccessKeyID: ak}
	}
	return principal(cred, SchemeRPC, params.Get(rpcSecurityToken)), nil
}

func errRPCMissing(name string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: RPCCodeMissingParameter,
		Message:      `The input parameter "` + name + `" that is mandatory for processing this request is not supplied.`,
		ArgumentName: name}
}

// RPCStringToSign returns the POP RPC string to sign for the given HTTP
// method and merged parameters (Signature excluded). Every value of a
// repeated parameter is included, in order, as url.Values.Encode would.
func RPCStringToSign(method string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != rpcSignature {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		ek := popEscape(k)
		for _, v := range params[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(ek)
			b.WriteByte('=')
			b.WriteString(popEscape(v))
		}
	}
	return method + "&%2F&" + url.QueryEscape(b.String())
}

// SignRPC returns base64(HMAC-SHA1(secret + "&", stringToSign)).
func SignRPC(secret, stringToSign string) string {
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// popEscape is RFC 3986 percent-encoding as the POP SDKs produce it.
func popEscape(s string) string {
	e := url.QueryEscape(s)
	if !strings.ContainsAny(e, "+*%") {
		return e
	}
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}

// NonceCache remembers (AccessKeyId, nonce) pairs until their expiry. It is
// bounded: when full it first drops expired entries and then, if still
// full, the entries closest to expiry (the smallest replay exposure). It
// stores a 16-byte digest per pair, not the strings. Safe for concurrent
// use.
type NonceCache struct {
	mu       sync.Mutex
	capacity int
	seen     map[[16]byte]struct{}
	byExpiry nonceHeap
	evicted  uint64
}

// NewNonceCache returns a cache holding up to capacity pairs
// (0 = DefaultNonceCapacity).
func NewNonceCache(capacity int) *NonceCache {
	if capacity <= 0 {
		capacity = DefaultNonceCapacity
	}
	return &NonceCache{capacity: capacity, seen: make(map[[16]byte]struct{})}
}

// Add records the pair and reports true, or reports false when the pair is
// already remembered. Entries whose expiry is not after now are forgotten.
func (c *NonceCache) Add(accessKeyID, nonce string, expiry, now time.Time) bool {
	h := sha256.New()
	h.Write([]byte(accessKeyID))
	h.Write([]byte{0})
	h.Write([]byte(nonce))
	var d [16]byte
	copy(d[:], h.Sum(nil))

	c.mu.Lock()
	defer c.mu.Unlock()
	nowN := now.UnixNano()
	for len(c.byExpiry) > 0 && c.byExpiry[0].expiry <= nowN {
		e := heap.Pop(&c.byExpiry).(nonceEntry)
		delete(c.seen, e.digest)
	}
	if _, dup := c.seen[d]; dup {
		return false
	}
	for len(c.byExpiry) >= c.capacity {
		e := heap.Pop(&c.byExpiry).(nonceEntry)
		delete(c.seen, e.digest)
		c.evicted++
	}
	c.seen[d] = struct{}{}
	heap.Push(&c.byExpiry, nonceEntry{digest: d, expiry: expiry.UnixNano()})
	return true
}

// Len is the number of remembered pairs.
func (c *NonceCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// Evicted counts unexpired pairs dropped because the cache was full.
func (c *NonceCache) Evicted() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.evicted
}

type nonceEntry struct {
	digest [16]byte
	expiry int64
}

// nonceHeap is a min-heap by expiry.
type nonceHeap []nonceEntry

func (h nonceHeap) Len() int           { return len(h) }
func (h nonceHeap) Less(i, j int) bool { return h[i].expiry < h[j].expiry }
func (h nonceHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nonceHeap) Push(x any)        { *h = append(*h, x.(nonceEntry)) }
func (h *nonceHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
