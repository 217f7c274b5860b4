package auth

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// param is one query parameter, as sent and decoded.
type param struct {
	rawKey, rawValue string // as on the wire
	key, value       string // percent-decoded with form semantics ('+' is a space)
}

// query is a request's query string, parsed by hand: net/url drops
// parameters with a ';' and loses the raw forms that V4 fallbacks need. A
// bare name ("?acl") is present with an empty value.
type query struct {
	params []param
	err    *Error // first malformed escape, reported only for signed requests
}

// parseQuery splits raw on '&'. A parameter whose escapes are malformed keeps
// its raw text as decoded value and sets q.err.
func parseQuery(raw string) query {
	var q query
	if raw == "" {
		return q
	}
	q.params = make([]param, 0, strings.Count(raw, "&")+1)
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		if seg == "" {
			continue
		}
		rk, rv, _ := strings.Cut(seg, "=")
		p := param{rawKey: rk, rawValue: rv, key: rk, value: rv}
		var err error
		if p.key, err = url.QueryUnescape(rk); err != nil {
			p.key = rk
			q.setErr(rk)
		}
		if p.value, err = url.QueryUnescape(rv); err != nil {
			p.value = rv
			q.setErr(rk)
		}
		q.params = append(q.params, p)
	}
	return q
}

func (q *query) setErr(rawKey string) {
	if q.err == nil {
		q.err = errInvalidArgumentWith("malformed percent-encoding in query parameter "+quoteShort(rawKey), rawKey, "")
	}
}

// get returns the first value of the parameter with decoded name k.
func (q *query) get(k string) (string, bool) {
	for i := range q.params {
		if q.params[i].key == k {
			return q.params[i].value, true
		}
	}
	return "", false
}

// has reports whether a parameter with decoded name k is present.
func (q *query) has(k string) bool {
	_, ok := q.get(k)
	return ok
}

// count returns how many parameters have decoded name k.
func (q *query) count(k string) int {
	n := 0
	for i := range q.params {
		if q.params[i].key == k {
			n++
		}
	}
	return n
}

// single returns the value of a credential parameter that must appear at
// most once; a repeated one is an InvalidArgument.
func (q *query) single(k string) (string, bool, *Error) {
	switch q.count(k) {
	case 0:
		return "", false, nil
	case 1:
		v, _ := q.get(k)
		return v, true, nil
	default:
		return "", false, errInvalidArgumentWith("query parameter "+quoteShort(k)+" appears more than once", k, "")
	}
}

// unreserved marks the bytes RFC 3986 leaves unescaped.
var unreserved = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['-'], t['.'], t['_'], t['~'] = true, true, true, true
	return t
}()

// writeEscaped appends s to b with RFC 3986 encoding (uppercase hex, space as
// %20); '/' stays literal when keepSlash is set.
func writeEscaped(b *strings.Builder, s string, keepSlash bool) {
	const hexdigits = "0123456789ABCDEF"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved[c] || (keepSlash && c == '/') {
			continue
		}
		b.WriteString(s[start:i])
		b.WriteByte('%')
		b.WriteByte(hexdigits[c>>4])
		b.WriteByte(hexdigits[c&15])
		start = i + 1
	}
	b.WriteString(s[start:])
}

// escape returns s RFC 3986-encoded.
func escape(s string, keepSlash bool) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !unreserved[c] && (!keepSlash || c != '/') {
			var b strings.Builder
			b.Grow(len(s) + 16)
			writeEscaped(&b, s, keepSlash)
			return b.String()
		}
	}
	return s
}

// iso8601Basic is the V4 timestamp layout (x-oss-date).
const iso8601Basic = "20060102T150405Z"

// parseRequestTime accepts the V4 basic ISO 8601 form (x-oss-date) and the
// HTTP date forms (RFC 1123, RFC 850, ANSI C) that Date and ali-oss's
// x-oss-date use.
func parseRequestTime(s string) (time.Time, bool) {
	if len(s) == len(iso8601Basic) && s[8] == 'T' {
		t, err := time.Parse(iso8601Basic, s)
		return t, err == nil
	}
	t, err := http.ParseTime(s)
	return t, err == nil
}
