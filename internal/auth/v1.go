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
	cred, tok, err := v.signer(ak)
	if err != nil {
		return nil, err
	}
	sel, sts, ok := v.matchV1(cred.Secret, v.dateSlot(), sig)
	if !ok {
		return nil, errSignatureMismatch(ak, sts, sig, ecSignatureMismatchV1)
	}
	return principal(cred, SchemeV1, tok.v1(sel)), nil
}

// v1Presign verifies ?OSSAccessKeyId=…&Expires=…&Signature=…: the V1
// string to sign with the Expires value in the Date slot.
func (v *verifier) v1Presign() (*Principal, error) {
	p, err := v.requiredParams(qV1AccessKeyID, qV1Expires, qV1Signature)
	if err != nil {
		return nil, err
	}
	ak, expires, sig := p[0], p[1], p[2]
	if !validToken(ak) {
		return nil, errInvalidArgumentWith("malformed "+qV1AccessKeyID, qV1AccessKeyID, ak)
	}
	if err := v.checkUnixExpires(qV1Expires, expires); err != nil {
		return nil, err
	}
	cred, tok, err := v.signer(ak)
	if err != nil {
		return nil, err
	}
	sel, sts, ok := v.matchV1(cred.Secret, expires, sig)
	if !ok {
		return nil, errSignatureMismatch(ak, sts, sig, ecSignatureMismatchV1)
	}
	return principal(cred, SchemeV1Presign, tok.v1(sel)), nil
}

// checkUnixExpires checks the V1/OSS2 presign expiry: expires, the value of
// parameter name, is a Unix time that must not have passed.
func (v *verifier) checkUnixExpires(name, expires string) *Error {
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		return errBadExpires(name, expires)
	}
	if v.now.Unix() > exp {
		return errPresignExpired()
	}
	return nil
}

// dateSlot is the Date slot of a header-signed V1/OSS2 string to sign: the
// Date header; clients that send only x-oss-date (ali-oss) sign that value
// there instead.
func (v *verifier) dateSlot() string {
	return firstNonEmpty(v.r.Header.Get(headerDate), v.r.Header.Get(headerOSSDate))
}

// requiredParams returns the values of credential query parameters that
// must each be present once and non-empty, failing on the first that is not.
func (v *verifier) requiredParams(names ...string) ([]string, *Error) {
	vals := make([]string, len(names))
	for i, name := range names {
		val, ok, err := v.q.single(name)
		if err != nil {
			return nil, err
		}
		if !ok || val == "" {
			return nil, errInvalidArgumentWith("the signed URL lacks the "+quoteShort(name)+" parameter", name, "")
		}
		vals[i] = val
	}
	return vals, nil
}

// v1 picks the surfaced STS token of a V1 request: the x-oss-security-token
// query parameter counts only when the accepted sub-resource set signed it.
func (t tokens) v1(sel v1Selection) string {
	xq := t.xossQuery
	if !sel.includes(paramFlags(qOSSSecToken)) {
		xq = ""
	}
	return firstNonEmpty(t.hdr, t.query, xq)
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
	f, ferr := authFields(rest, ":", algorithmV2, "AccessKeyId", "AdditionalHeaders", "Signature")
	if ferr != nil {
		return nil, ferr
	}
	ak, additional, sig := f[0], f[1], f[2]
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
	cred, tok, err := v.signer(ak)
	if err != nil {
		return nil, err
	}
	sts := v.v2StringToSign(v.dateSlot(), addList, false)
	if !verifyBase64(sha256.New, cred.Secret, sts, sig) {
		return nil, errSignatureMismatch(ak, sts, sig, "")
	}
	return principal(cred, SchemeV2, firstNonEmpty(tok.hdr, tok.query, tok.xossQuery)), nil
}

// v2Presign verifies ?x-oss-signature-version=OSS2&x-oss-access-key-id=…&
// x-oss-expires=<unix>&x-oss-signature=…[&x-oss-additional-headers=…].
func (v *verifier) v2Presign() (*Principal, error) {
	p, err := v.requiredParams(qV2AccessKeyID, qExpires, qSignature)
	if err != nil {
		return nil, err
	}
	ak, expires, sig := p[0], p[1], p[2]
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
	if err := v.checkUnixExpires(qExpires, expires); err != nil {
		return nil, err
	}
	cred, tok, err := v.signer(ak)
	if err != nil {
		return nil, err
	}
	sts := v.v2StringToSign(expires, addList, true)
	if !verifyBase64(sha256.New, cred.Secret, sts, sig) {
		return nil, errSignatureMismatch(ak, sts, sig, "")
	}
	return principal(cred, SchemeV2Presign, firstNonEmpty(tok.hdr, tok.query, tok.xossQuery)), nil
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
