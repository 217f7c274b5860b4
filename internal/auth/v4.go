package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// v4Scope is the parsed credential scope <AK>/<yyyymmdd>/<region>/<product>/aliyun_v4_request.
type v4Scope struct {
	accessKeyID, date, region, product string
}

func (s v4Scope) String() string {
	return s.date + "/" + s.region + "/" + s.product + "/" + v4TerminalString
}

// parseV4Credential parses a V4 credential; name is the field or parameter
// it came from, for the error.
func parseV4Credential(c, name string) (v4Scope, *Error) {
	bad := func(msg string) (v4Scope, *Error) {
		return v4Scope{}, errInvalidArgumentWith("malformed "+name+" "+quoteShort(c)+": "+msg, name, c)
	}
	// Split from the right: the AccessKeyId is everything before the four
	// scope fields.
	rest := c
	var f [4]string
	for i := 3; i >= 0; i-- {
		j := strings.LastIndexByte(rest, '/')
		if j < 0 {
			return bad("expected <AccessKeyId>/<yyyymmdd>/<region>/oss/aliyun_v4_request")
		}
		f[i], rest = rest[j+1:], rest[:j]
	}
	s := v4Scope{accessKeyID: rest, date: f[0], region: f[1], product: f[2]}
	if f[3] != v4TerminalString {
		return bad("the scope must end with " + v4TerminalString)
	}
	if !validToken(s.accessKeyID) {
		return bad("invalid AccessKeyId")
	}
	if _, err := time.Parse("20060102", s.date); err != nil || len(s.date) != 8 {
		_, e := bad("the sign date must be yyyymmdd")
		e.EC = ecV4BadCredentialDate
		return v4Scope{}, e
	}
	if !validToken(s.region) || !validToken(s.product) {
		return bad("invalid region or product")
	}
	return s, nil
}

// dropDefaultSigned removes content-type and content-md5 from a V4
// additional-header list: they are always canonical, and neither SDK counts
// them as additional (the v1 SDK's presigned URLs still name them in
// x-oss-additional-headers).
func dropDefaultSigned(list []string) []string {
	return slices.DeleteFunc(list, func(h string) bool { return h == "content-type" || h == "content-md5" })
}

// v4Header verifies "Authorization: OSS4-HMAC-SHA256 Credential=…[,AdditionalHeaders=…],Signature=…".
func (v *verifier) v4Header(rest string) (*Principal, error) {
	f, ferr := authFields(rest, "=", algorithmV4, "Credential", "AdditionalHeaders", "Signature")
	if ferr != nil {
		return nil, ferr
	}
	credential, additional, sig := f[0], f[1], f[2]
	if credential == "" {
		return nil, errInvalidArgument("the OSS4-HMAC-SHA256 Authorization header lacks Credential")
	}
	if sig == "" {
		return nil, errInvalidArgument("the OSS4-HMAC-SHA256 Authorization header lacks Signature")
	}
	scope, serr := parseV4Credential(credential, "Credential")
	if serr != nil {
		return nil, serr
	}
	addList, aerr := parseHeaderList(additional, "AdditionalHeaders")
	if aerr != nil {
		return nil, aerr
	}
	addList = dropDefaultSigned(addList)
	if err := v.checkHeaderTime(); err != nil {
		return nil, err
	}
	cred, tok, err := v.signer(scope.accessKeyID)
	if err != nil {
		return nil, err
	}
	// TimeStamp: x-oss-date, else the Date header verbatim (the v1 SDK
	// never sends x-oss-date on header-signed V4 requests).
	timestamp := firstNonEmpty(v.r.Header.Get(headerOSSDate), v.r.Header.Get(headerDate))
	if e := v.matchV4(cred.Secret, scope, timestamp, addList, sig, false); e != nil {
		return nil, e
	}
	// Every query parameter is signed under V4, so both query spellings
	// of the token are covered by the signature.
	return principal(cred, SchemeV4, firstNonEmpty(tok.hdr, tok.xossQuery, tok.query)), nil
}

// v4Presign verifies the x-oss-signature-version=OSS4-HMAC-SHA256 signed URL.
func (v *verifier) v4Presign() (*Principal, error) {
	p, err := v.requiredParams(qV4Credential, qV4Date, qExpires, qSignature)
	if err != nil {
		return nil, err
	}
	credential, date, expires, sig := p[0], p[1], p[2], p[3]
	additional, _, err := v.q.single(qAdditional)
	if err != nil {
		return nil, err
	}
	if _, _, err := v.q.single(qSignatureVer); err != nil {
		return nil, err
	}
	scope, serr := parseV4Credential(credential, qV4Credential)
	if serr != nil {
		return nil, serr
	}
	addList, aerr := parseHeaderList(additional, qAdditional)
	if aerr != nil {
		return nil, aerr
	}
	addList = dropDefaultSigned(addList)
	signedAt, perr := time.Parse(iso8601Basic, date)
	if perr != nil {
		return nil, errInvalidArgumentWith("malformed "+qV4Date+" "+quoteShort(date)+"; expected yyyymmddThhmmssZ", qV4Date, date)
	}
	secs, perr := strconv.ParseInt(expires, 10, 64)
	if perr != nil || secs < 0 {
		return nil, errBadExpires(qExpires, expires)
	}
	if secs > int64(MaxPresignExpiry/time.Second) {
		e := errInvalidArgumentWith("x-oss-expires must be at most 604800 seconds (7 days), got "+quoteShort(expires), qExpires, expires)
		e.EC = ecPresignBadExpires
		return nil, e
	}
	if v.now.After(signedAt.Add(time.Duration(secs) * time.Second)) {
		return nil, errPresignExpired()
	}
	if signedAt.Sub(v.now) > MaxClockSkew {
		return nil, errPresignNotYetValid()
	}
	cred, tok, err := v.signer(scope.accessKeyID)
	if err != nil {
		return nil, err
	}
	if e := v.matchV4(cred.Secret, scope, date, addList, sig, true); e != nil {
		return nil, e
	}
	return principal(cred, SchemeV4Presign, firstNonEmpty(tok.hdr, tok.xossQuery, tok.query)), nil
}

// matchV4 computes the V4 signature and compares it with sig (lowercase hex)
// in constant time. The canonical query is first rebuilt from the decoded
// parameters (RFC 3986, as both SDKs put it on the wire); if that fails and
// the wire form differs, the wire form (with '+' as %20, as the v2 signer
// reads it) is tried too.
func (v *verifier) matchV4(secret string, scope v4Scope, timestamp string, additional []string, sig string, presign bool) *Error {
	provided, derr := hex.DecodeString(sig)
	valid := derr == nil && len(provided) == sha256.Size

	key := v4SigningKey(secret, scope)
	scopeStr := scope.String()
	head, tail := v.v4CanonicalParts(additional)

	canonQuery := v.v4CanonicalQuery(presign, false)
	canonReq := head + canonQuery + tail
	sts := v4StringToSign(timestamp, scopeStr, canonReq)
	if valid && hmac.Equal(hmacSumBytes(key, sts), provided) {
		return nil
	}
	if valid {
		if rawQuery := v.v4CanonicalQuery(presign, true); rawQuery != canonQuery {
			if hmac.Equal(hmacSumBytes(key, v4StringToSign(timestamp, scopeStr, head+rawQuery+tail)), provided) {
				return nil
			}
		}
	}
	e := errSignatureMismatch(scope.accessKeyID, sts, sig, ecSignatureMismatchV4)
	e.CanonicalRequest = canonReq
	return e
}

// v4CanonicalParts returns the canonical request around the query line:
// "VERB\nURI\n" and "\nHEADERS\n\nADDITIONAL\nPAYLOAD".
func (v *verifier) v4CanonicalParts(additional []string) (head, tail string) {
	var b strings.Builder
	b.Grow(len(v.r.Method) + len(v.bucket) + len(v.key) + 16)
	b.WriteString(v.r.Method)
	b.WriteByte('\n')
	b.WriteByte('/')
	if v.bucket != "" {
		writeEscaped(&b, v.bucket, true)
		b.WriteByte('/')
		writeEscaped(&b, v.key, true)
	}
	b.WriteByte('\n')
	head = b.String()

	b.Reset()
	b.Grow(256)
	b.WriteByte('\n')
	writeHeaders(&b, collectHeaders(v.r, ruleXOSS|ruleContentMeta, additional))
	b.WriteByte('\n')
	b.WriteString(strings.Join(additional, ";"))
	b.WriteByte('\n')
	b.WriteString(firstNonEmpty(v.r.Header.Get(headerContentSHA256), UnsignedPayload))
	return head, b.String()
}

// v4CanonicalQuery renders every query parameter (but x-oss-signature on a
// presigned URL) sorted by encoded name, "name" when the value is empty else
// "name=value". raw selects the wire encoding instead of re-encoding.
func (v *verifier) v4CanonicalQuery(presign, raw bool) string {
	if len(v.q.params) == 0 {
		return ""
	}
	type kv struct{ k, v string }
	pairs := make([]kv, 0, len(v.q.params))
	for _, p := range v.q.params {
		if presign && p.key == qSignature {
			continue
		}
		if raw {
			pairs = append(pairs, kv{strings.ReplaceAll(p.rawKey, "+", "%20"), strings.ReplaceAll(p.rawValue, "+", "%20")})
		} else {
			pairs = append(pairs, kv{escape(p.key, false), escape(p.value, false)})
		}
	}
	slices.SortStableFunc(pairs, func(a, c kv) int { return strings.Compare(a.k, c.k) })
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		if p.v != "" {
			b.WriteByte('=')
			b.WriteString(p.v)
		}
	}
	return b.String()
}

// v4StringToSign hashes the canonical request into the V4 string to sign.
func v4StringToSign(timestamp, scope, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	var b strings.Builder
	b.Grow(len(algorithmV4) + len(timestamp) + len(scope) + 2*sha256.Size + 3)
	b.WriteString(algorithmV4)
	b.WriteByte('\n')
	b.WriteString(timestamp)
	b.WriteByte('\n')
	b.WriteString(scope)
	b.WriteByte('\n')
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], sum[:])
	b.Write(hx[:])
	return b.String()
}

// v4SigningKey derives HMAC(HMAC(HMAC(HMAC("aliyun_v4"+secret, date), region), product), "aliyun_v4_request").
// Derived keys are cached per AccessKeyId and scope (they change daily);
// an entry is used only while the secret it was derived from is unchanged.
func v4SigningKey(secret string, s v4Scope) []byte {
	ck := s.accessKeyID + "/" + s.String()
	if e, ok := signingKeys.Load(ck); ok {
		if ent := e.(*signingKeyEntry); ent.secret == secret {
			return ent.key
		}
	}
	k := hmacSum(sha256.New, "aliyun_v4"+secret, s.date)
	k = hmacSumBytes(k, s.region)
	k = hmacSumBytes(k, s.product)
	k = hmacSumBytes(k, v4TerminalString)
	if signingKeyCount.Add(1) > maxSigningKeys {
		signingKeys.Clear()
		signingKeyCount.Store(1)
	}
	signingKeys.Store(ck, &signingKeyEntry{secret: secret, key: k})
	return k
}

// signingKeyEntry is a cached V4 signing key and the secret it came from.
type signingKeyEntry struct {
	secret string
	key    []byte
}

// maxSigningKeys bounds the signing-key cache; it is emptied when full.
const maxSigningKeys = 4096

var (
	signingKeys     sync.Map // AccessKeyId + "/" + scope → *signingKeyEntry
	signingKeyCount atomic.Int64
)

// hmacSumBytes returns HMAC-SHA256(key, msg).
func hmacSumBytes(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
