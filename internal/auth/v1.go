package auth

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // G505: OSS V1 signatures are HMAC-SHA1 by protocol
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"slices"
	"strconv"
	"strings"
)

// V1 (HMAC-SHA1) and the legacy V2 "OSS2" (HMAC-SHA256) signatures share
// one string-to-sign shape:
//
//	VERB \n Content-MD5 \n Content-Type \n Date \n CanonicalizedOSSHeaders [AdditionalHeaders \n] CanonicalizedResource

// v1Header verifies "Authorization: OSS <AccessKeyId>:<Signature>".
func (v *verifier) v1Header(rest string) (*Principal, error) {
	ak, sig, ok := strings.Cut(rest, ":")
	if !ok || !validToken(ak) || sig == "" {
		return nil, errInvalidArgument(`malformed Authorization header; expected "OSS <AccessKeyId>:<Signature>"`)
	}
	if err := v.checkHeaderTime(); err != nil {
		return nil, err
	}
	hdrTok, qTok, xTok, err := v.securityToken()
	if err != nil {
		return nil, err
	}
	cred, err := v.credential(ak)
	if err != nil {
		return nil, err
	}
	// The Date slot holds the Date header; clients that send only
	// x-oss-date (ali-oss) sign that value there instead.
	date := firstNonEmpty(v.r.Header.Get(headerDate), v.r.Header.Get(headerOSSDate))
	sel, sts, ok := v.matchV1(cred.Secret, date, sig)
	if !ok {
		return nil, errSignatureMismatch(ak, sts, sig, ecSignatureMismatchV1)
	}
	return principal(cred, SchemeV1, v1Token(sel, hdrTok, qTok, xTok)), nil
}

// v1Presign verifies ?OSSAccessKeyId=…&Expires=…&Signature=…: the V1
// string to sign with the Expires value in the Date slot.
func (v *verifier) v1Presign() (*Principal, error) {
	ak, err := v.requiredParam(qV1AccessKeyID)
	if err != nil {
		return nil, err
	}
	expires, err := v.requiredParam(qV1Expires)
	if err != nil {
		return nil, err
	}
	sig, err := v.requiredParam(qV1Signature)
	if err != nil {
		return nil, err
	}
	if !validToken(ak) {
		return nil, errInvalidArgumentWith("malformed "+qV1AccessKeyID, qV1AccessKeyID, ak)
	}
	exp, perr := strconv.ParseInt(expires, 10, 64)
	if perr != nil {
		return nil, errBadExpires(qV1Expires, expires)
	}
	if v.now.Unix() > exp {
		return nil, errPresignExpired()
	}
	hdrTok, qTok, xTok, err := v.securityToken()
	if err != nil {
		return nil, err
	}
	cred, err := v.credential(ak)
	if err != nil {
		return nil, err
	}
	sel, sts, ok := v.matchV1(cred.Secret, expires, sig)
	if !ok {
		return nil, errSignatureMismatch(ak, sts, sig, ecSignatureMismatchV1)
	}
	return principal(cred, SchemeV1Presign, v1Token(sel, hdrTok, qTok, xTok)), nil
}

// requiredParam returns a credential query parameter that must be present
// once and non-empty.
func (v *verifier) requiredParam(name string) (string, *Error) {
	val, ok, err := v.q.single(name)
	if err != nil {
		return "", err
	}
	if !ok || val == "" {
		return "", errInvalidArgumentWith("the signed URL lacks the "+quoteShort(name)+" parameter", name, "")
	}
	return val, nil
}

// v1Token picks the surfaced STS token: the x-oss-security-token query
// parameter counts only when the accepted sub-resource set signed it.
func v1Token(sel v1Selection, hdr, q, xq string) string {
	if !sel.includes(paramFlags(qOSSSecToken)) {
		xq = ""
	}
	return firstNonEmpty(hdr, q, xq)
}

// matchV1 tries the V1 sub-resource sets in order (v1Selections) and
// reports the one under which sig verifies. On failure sts is the string to
// sign of the first set, for the SignatureDoesNotMatch body.
func (v *verifier) matchV1(secret, date, sig string) (sel v1Selection, sts string, ok bool) {
	provided, derr := base64.StdEncoding.DecodeString(sig)
	valid := derr == nil && len(provided) == sha1.Size

	var b strings.Builder
	v.writeV1Prefix(&b, date, nil)
	prefix := b.String()

	var tried [len(v1Selections)]string
	for i, s := range v1Selections {
		res := v.v1Resource(s)
		if slices.Contains(tried[:i], res) {
			continue
		}
		tried[i] = res
		candidate := prefix + res
		if i == 0 {
			sts = candidate
		}
		if valid && hmac.Equal(hmacSum(sha1.New, secret, candidate), provided) {
			return s, candidate, true
		}
		if !valid {
			break // no set can match an undecodable signature
		}
	}
	return 0, sts, false
}

// writeV1Prefix writes VERB, Content-MD5, Content-Type, the Date slot and
// the canonical x-oss-* headers (plus the V2 additional headers, if any).
func (v *verifier) writeV1Prefix(b *strings.Builder, date string, additional []string) {
	r := v.r
	b.Grow(256)
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(r.Header.Get("Content-Md5"))
	b.WriteByte('\n')
	b.WriteString(r.Header.Get("Content-Type"))
	b.WriteByte('\n')
	b.WriteString(date)
	b.WriteByte('\n')
	writeHeaders(b, collectHeaders(r, ruleXOSS, additional))
}

// v1Resource builds the V1 CanonicalizedResource: "/", "/bucket/" or
// "/bucket/key" with the decoded key, then the selected sub-resources sorted
// by name, each "name" or "name=value" with the decoded value. A repeated
// name contributes its first value once, as the v2 SDK's signer does.
func (v *verifier) v1Resource(sel v1Selection) string {
	var b strings.Builder
	b.Grow(2 + len(v.bucket) + len(v.key) + 32)
	b.WriteByte('/')
	if v.bucket != "" {
		b.WriteString(v.bucket)
		b.WriteByte('/')
		b.WriteString(v.key)
	}
	var idx []int
	for i := range v.q.params {
		if sel.includes(paramFlags(v.q.params[i].key)) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return b.String()
	}
	ps := v.q.params
	slices.SortStableFunc(idx, func(a, c int) int { return strings.Compare(ps[a].key, ps[c].key) })
	b.WriteByte('?')
	for n, i := range idx {
		if n > 0 && ps[i].key == ps[idx[n-1]].key {
			continue
		}
		if n > 0 {
			b.WriteByte('&')
		}
		b.WriteString(ps[i].key)
		if ps[i].value != "" {
			b.WriteByte('=')
			b.WriteString(ps[i].value)
		}
	}
	return b.String()
}

// v2Header verifies the legacy
// "Authorization: OSS2 AccessKeyId:<ak>[,AdditionalHeaders:<h1;h2>],Signature:<sig>".
func (v *verifier) v2Header(rest string) (*Principal, error) {
	var ak, additional, sig string
	var seenAK, seenAdd, seenSig bool
	for field := range strings.SplitSeq(rest, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(field), ":")
		if !ok {
			return nil, errInvalidArgument("malformed OSS2 Authorization header field " + quoteShort(field))
		}
		var seen *bool
		switch name {
		case "AccessKeyId":
			ak, seen = val, &seenAK
		case "AdditionalHeaders":
			additional, seen = val, &seenAdd
		case "Signature":
			sig, seen = val, &seenSig
		default:
			return nil, errInvalidArgument("unknown OSS2 Authorization header field " + quoteShort(name))
		}
		if *seen {
			return nil, errInvalidArgument("repeated OSS2 Authorization header field " + quoteShort(name))
		}
		*seen = true
	}
	if !validToken(ak) || sig == "" {
		return nil, errInvalidArgument("malformed OSS2 Authorization header; AccessKeyId and Signature are required")
	}
	addList, aerr := parseHeaderList(additional, "AdditionalHeaders")
	if aerr != nil {
		return nil, aerr
	}
	if err := v.checkHeaderTime(); err != nil {
		return nil, err
	}
	hdrTok, qTok, xTok, err := v.securityToken()
	if err != nil {
		return nil, err
	}
	cred, err := v.credential(ak)
	if err != nil {
		return nil, err
	}
	date := firstNonEmpty(v.r.Header.Get(headerDate), v.r.Header.Get(headerOSSDate))
	sts := v.v2StringToSign(date, addList, false)
	if !verifyBase64(sha256.New, cred.Secret, sts, sig) {
		return nil, errSignatureMismatch(ak, sts, sig, "")
	}
	return principal(cred, SchemeV2, firstNonEmpty(hdrTok, qTok, xTok)), nil
}

// v2Presign verifies ?x-oss-signature-version=OSS2&x-oss-access-key-id=…&
// x-oss-expires=<unix>&x-oss-signature=…[&x-oss-additional-headers=…].
func (v *verifier) v2Presign() (*Principal, error) {
	ak, err := v.requiredParam(qV2AccessKeyID)
	if err != nil {
		return nil, err
	}
	expires, err := v.requiredParam(qExpires)
	if err != nil {
		return nil, err
	}
	sig, err := v.requiredParam(qSignature)
	if err != nil {
		return nil, err
	}
	additional, _, err := v.q.single(qAdditional)
	if err != nil {
		return nil, err
	}
	if !validToken(ak) {
		return nil, errInvalidArgumentWith("malformed "+qV2AccessKeyID, qV2AccessKeyID, ak)
	}
	addList, aerr := parseHeaderList(additional, qAdditional)
	if aerr != nil {
		return nil, aerr
	}
	exp, perr := strconv.ParseInt(expires, 10, 64)
	if perr != nil {
		return nil, errBadExpires(qExpires, expires)
	}
	if v.now.Unix() > exp {
		return nil, errPresignExpired()
	}
	hdrTok, qTok, xTok, err := v.securityToken()
	if err != nil {
		return nil, err
	}
	cred, err := v.credential(ak)
	if err != nil {
		return nil, err
	}
	sts := v.v2StringToSign(expires, addList, true)
	if !verifyBase64(sha256.New, cred.Secret, sts, sig) {
		return nil, errSignatureMismatch(ak, sts, sig, "")
	}
	return principal(cred, SchemeV2Presign, firstNonEmpty(hdrTok, qTok, xTok)), nil
}

// v2StringToSign builds the OSS2 string to sign. Its resource is the whole
// "/bucket/key" form-escaped and every query parameter (but the signature)
// is signed, keys and values escaped, sorted by escaped key.
func (v *verifier) v2StringToSign(date string, additional []string, presign bool) string {
	var b strings.Builder
	v.writeV1Prefix(&b, date, additional)
	b.WriteString(strings.Join(additional, ";"))
	b.WriteByte('\n')
	b.WriteString("%2F")
	if v.bucket != "" {
		writeEscaped(&b, v.bucket, false)
		b.WriteString("%2F")
		writeEscaped(&b, v.key, false)
	}
	type kv struct{ k, v string }
	pairs := make([]kv, 0, len(v.q.params))
	for _, p := range v.q.params {
		if presign && p.key == qSignature {
			continue
		}
		pairs = append(pairs, kv{queryEscapeKey(p.key), escape(p.value, false)})
	}
	slices.SortStableFunc(pairs, func(a, c kv) int { return strings.Compare(a.k, c.k) })
	for i, p := range pairs {
		if i == 0 {
			b.WriteByte('?')
		} else {
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

// queryEscapeKey escapes a parameter name as the v1 SDK does for OSS2
// (url.QueryEscape: a space becomes '+').
func queryEscapeKey(k string) string {
	if !strings.Contains(k, " ") {
		return escape(k, false)
	}
	return strings.ReplaceAll(escape(k, false), "%20", "+")
}

// verifyBase64 reports whether sig is the base64 HMAC of sts under secret.
func verifyBase64(h func() hash.Hash, secret, sts, sig string) bool {
	provided, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	return hmac.Equal(hmacSum(h, secret, sts), provided)
}

// hmacSum returns HMAC(key, msg) with hash h.
func hmacSum(h func() hash.Hash, key, msg string) []byte {
	m := hmac.New(h, []byte(key))
	m.Write([]byte(msg))
	return m.Sum(nil)
}
