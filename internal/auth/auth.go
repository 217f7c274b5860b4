// Package auth verifies OSS request signatures (V1 and V4, header and
// presigned URL, as both official Go SDK generations produce them, plus the
// legacy "OSS2" V2 scheme of the v1 SDK) and resolves the principal behind a
// request.
//
// Verify is the single entry point. It never reads the request body and never
// consults r.URL.Path: the router hands it the decoded bucket and object key,
// which is what both SDK generations sign, whatever the addressing style.
package auth

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Principal is who a request comes from.
type Principal struct {
	Anonymous     bool
	Root          bool   // the account's root AccessKey
	AccessKeyID   string // "" when anonymous
	AccountID     string // owner account (uid)
	UserName      string // RAM user name, "" for root
	SecurityToken string // STS token if the request carried one
	// Scheme is how the request was authenticated: "v1", "v4", "v1-presign",
	// "v4-presign", "anonymous", or the legacy "v2" / "v2-presign".
	Scheme string
}

// Scheme names reported in Principal.Scheme.
const (
	SchemeAnonymous = "anonymous"
	SchemeV1        = "v1"
	SchemeV1Presign = "v1-presign"
	SchemeV2        = "v2"
	SchemeV2Presign = "v2-presign"
	SchemeV4        = "v4"
	SchemeV4Presign = "v4-presign"
)

// Credential is a stored AccessKey pair and the principal it stands for.
type Credential struct {
	AccessKeyID string
	Secret      string
	Principal   Principal
	Disabled    bool
}

// Lookup finds a credential by AccessKeyId; ok=false when unknown.
type Lookup func(accessKeyID string) (cred *Credential, ok bool)

// MaxClockSkew is the largest accepted difference between the server clock
// and the time of a header-signed request.
const MaxClockSkew = 15 * time.Minute

// MaxPresignExpiry is the longest validity a V4 presigned URL may ask for.
const MaxPresignExpiry = 7 * 24 * time.Hour

// UnsignedPayload is the V4 hashed-payload value meaning "body not signed".
// When a V4 request carries any other x-oss-content-sha256 value, the server
// must check it against the SHA-256 of the body it receives.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// Query parameters and headers that carry credentials.
const (
	headerAuthorization = "Authorization"
	headerDate          = "Date"
	headerOSSDate       = "X-Oss-Date"
	headerSecurityToken = "X-Oss-Security-Token" //nolint:gosec // G101: a header name, not a credential
	headerContentSHA256 = "X-Oss-Content-Sha256"

	qV1AccessKeyID   = "OSSAccessKeyId"
	qV1Expires       = "Expires"
	qV1Signature     = "Signature"
	qSecurityToken   = "security-token"
	qSignatureVer    = "x-oss-signature-version"
	qV4Credential    = "x-oss-credential" //nolint:gosec // G101: a parameter name, not a credential
	qV4Date          = "x-oss-date"
	qExpires         = "x-oss-expires"
	qSignature       = "x-oss-signature"
	qAdditional      = "x-oss-additional-headers"
	qOSSSecToken     = "x-oss-security-token" //nolint:gosec // G101: a parameter name, not a credential
	qV2AccessKeyID   = "x-oss-access-key-id"
	algorithmV4      = "OSS4-HMAC-SHA256"
	algorithmV2      = "OSS2"
	v4TerminalString = "aliyun_v4_request"
)

// Verify checks r's signature. bucket and key are the decoded bucket and
// object key the router resolved (both "" for service-level requests, key ""
// for bucket-level). now is the server clock. It returns the principal
// (Anonymous when the request carries no credentials) or an *Error.
//
// Time rules: a header-signed request whose time (x-oss-date, else Date)
// differs from now by more than MaxClockSkew gets 403 RequestTimeTooSkewed; a
// header-signed request with no usable time gets 403 AccessDenied ("OSS
// authentication requires a valid Date."), as OSS answers. Presigned URLs are
// judged by their expiry instead.
func Verify(r *http.Request, bucket, key string, now time.Time, lookup Lookup) (*Principal, error) {
	if r == nil {
		return nil, errInvalidArgument("the request is empty")
	}
	rawQuery := ""
	if r.URL != nil {
		rawQuery = r.URL.RawQuery
	}
	q := parseQuery(rawQuery)

	authz := r.Header.Values(headerAuthorization)
	_, hasSigVer := q.get(qSignatureVer)
	hasV1Presign := q.has(qV1AccessKeyID) || q.has(qV1Signature)

	v := &verifier{r: r, bucket: bucket, key: key, q: &q, now: now, lookup: lookup}
	switch {
	case len(authz) > 1:
		return nil, errInvalidArgument("the request carries more than one Authorization header")
	case len(authz) == 1 && (hasSigVer || hasV1Presign):
		return nil, errInvalidArgument("only one authentication mechanism is allowed: an Authorization header or a signed URL, not both")
	case hasSigVer && hasV1Presign:
		return nil, errInvalidArgument("only one signed-URL scheme is allowed per request")
	case len(authz) == 1:
		if q.err != nil {
			return nil, q.err
		}
		return v.header(authz[0])
	case hasSigVer:
		if q.err != nil {
			return nil, q.err
		}
		ver, _ := q.get(qSignatureVer)
		switch ver {
		case algorithmV4:
			return v.v4Presign()
		case algorithmV2:
			return v.v2Presign()
		default:
			return nil, errInvalidArgumentWith("unsupported signature version "+quoteShort(ver), qSignatureVer, ver)
		}
	case hasV1Presign:
		if q.err != nil {
			return nil, q.err
		}
		return v.v1Presign()
	default:
		return &Principal{Anonymous: true, Scheme: SchemeAnonymous}, nil
	}
}

// verifier carries one request through verification.
type verifier struct {
	r           *http.Request
	bucket, key string
	q           *query
	now         time.Time
	lookup      Lookup
}

// header dispatches on the Authorization header's scheme prefix.
func (v *verifier) header(authz string) (*Principal, error) {
	scheme, rest, _ := strings.Cut(authz, " ")
	switch scheme {
	case "OSS":
		return v.v1Header(rest)
	case algorithmV4:
		return v.v4Header(rest)
	case algorithmV2:
		return v.v2Header(rest)
	default:
		return nil, errInvalidArgument("the Authorization header has an unsupported scheme " + quoteShort(scheme) +
			`; expected "OSS <AccessKeyId>:<Signature>" or "OSS4-HMAC-SHA256 Credential=...,Signature=..."`)
	}
}

// credential resolves an AccessKeyId or fails with InvalidAccessKeyId.
func (v *verifier) credential(accessKeyID string) (*Credential, *Error) {
	if v.lookup == nil {
		return nil, errInvalidAccessKeyID(accessKeyID)
	}
	cred, ok := v.lookup(accessKeyID)
	if !ok || cred == nil || cred.Disabled {
		return nil, errInvalidAccessKeyID(accessKeyID)
	}
	return cred, nil
}

// checkHeaderTime applies the clock-skew rule to a header-signed request.
// The request time is x-oss-date when present, else Date.
func (v *verifier) checkHeaderTime() *Error {
	ts := v.r.Header.Get(headerOSSDate)
	if ts == "" {
		ts = v.r.Header.Get(headerDate)
	}
	if ts == "" {
		return errMissingDate()
	}
	t, ok := parseRequestTime(ts)
	if !ok {
		return errInvalidDate(ts)
	}
	d := v.now.Sub(t)
	if d > MaxClockSkew || d < -MaxClockSkew {
		return errTimeTooSkewed(t, v.now)
	}
	return nil
}

// tokens holds the STS token a request carries in each place a client may
// put it: the x-oss-security-token header, the security-token query
// parameter (V1 presign) and the x-oss-security-token query parameter (V4
// presign).
type tokens struct {
	hdr, query, xossQuery string
}

// securityToken collects the request's STS tokens (see tokens). Two
// different tokens in one request are refused. Callers surface a source
// only when the accepted signature covers it.
func (v *verifier) securityToken() (tokens, *Error) {
	var t tokens
	t.hdr = v.r.Header.Get(headerSecurityToken)
	t.query, _ = v.q.get(qSecurityToken)
	t.xossQuery, _ = v.q.get(qOSSSecToken)
	seen := ""
	for _, s := range [...]string{t.hdr, t.query, t.xossQuery} {
		if s == "" {
			continue
		}
		if seen != "" && seen != s {
			return tokens{}, errInvalidArgument("the request carries two different security tokens")
		}
		seen = s
	}
	return t, nil
}

// signer collects the request's STS tokens, then resolves accessKeyID; the
// common step of every scheme once its signature fields have been parsed.
func (v *verifier) signer(accessKeyID string) (*Credential, tokens, *Error) {
	tok, err := v.securityToken()
	if err != nil {
		return nil, tokens{}, err
	}
	cred, err := v.credential(accessKeyID)
	if err != nil {
		return nil, tokens{}, err
	}
	return cred, tok, nil
}

// authFields splits the comma-separated "name<sep>value" fields of an
// Authorization header of the given scheme (for error messages). Every
// field must be one of names and appear at most once; vals[i] is the value
// of names[i], "" when absent.
func authFields(rest, sep, scheme string, names ...string) (vals []string, err *Error) {
	vals = make([]string, len(names))
	seen := make([]bool, len(names))
	for field := range strings.SplitSeq(rest, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(field), sep)
		if !ok {
			return nil, errInvalidArgument("malformed " + scheme + " Authorization header field " + quoteShort(field))
		}
		i := slices.Index(names, name)
		if i < 0 {
			return nil, errInvalidArgument("unknown " + scheme + " Authorization header field " + quoteShort(name))
		}
		if seen[i] {
			return nil, errInvalidArgument("repeated " + scheme + " Authorization header field " + quoteShort(name))
		}
		seen[i] = true
		vals[i] = val
	}
	return vals, nil
}

// principal builds the authenticated principal for cred.
func principal(cred *Credential, scheme, token string) *Principal {
	p := cred.Principal
	p.Anonymous = false
	p.AccessKeyID = cred.AccessKeyID
	p.Scheme = scheme
	p.SecurityToken = token
	return &p
}

// firstNonEmpty returns the first non-empty string.
func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// quoteShort quotes s for an error message, truncating long input.
func quoteShort(s string) string {
	const limit = 64
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return strconv.Quote(s)
}
