package auth

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
)

// canonHeader is one header of a canonical header block.
type canonHeader struct {
	name   string // lowercase
	values []string
}

// headerRule selects the headers of a canonical block.
type headerRule uint8

const (
	ruleXOSS        headerRule = 1 << iota // x-oss-*
	ruleContentMeta                        // content-type and content-md5 (V4)
)

// collectHeaders gathers, sorted by lowercase name, the headers selected by
// rule plus those named in additional (lowercase names). A "host" entry in
// additional is served from r.Host, since net/http moves Host out of
// r.Header on the server side.
func collectHeaders(r *http.Request, rule headerRule, additional []string) []canonHeader {
	var out []canonHeader
	for k, vs := range r.Header {
		if !headerSelected(k, rule, additional) {
			continue
		}
		out = append(out, canonHeader{name: strings.ToLower(k), values: vs})
	}
	if slices.Contains(additional, "host") && r.Header.Get("Host") == "" && r.Host != "" {
		out = append(out, canonHeader{name: "host", values: []string{r.Host}})
	}
	slices.SortFunc(out, func(a, b canonHeader) int { return cmp.Compare(a.name, b.name) })
	// Header maps built by hand may hold the same name in two spellings.
	for i := 1; i < len(out); i++ {
		if out[i].name == out[i-1].name {
			merged := append(slices.Clip(out[i-1].values), out[i].values...)
			out[i-1].values = merged
			out = slices.Delete(out, i, i+1)
			i--
		}
	}
	return out
}

func headerSelected(k string, rule headerRule, additional []string) bool {
	if rule&ruleXOSS != 0 && len(k) >= 6 && strings.EqualFold(k[:6], "x-oss-") {
		return true
	}
	if rule&ruleContentMeta != 0 && (strings.EqualFold(k, "Content-Type") || strings.EqualFold(k, "Content-Md5")) {
		return true
	}
	for _, a := range additional {
		if strings.EqualFold(k, a) {
			return true
		}
	}
	return false
}

// writeHeaders writes each header as "name:value\n", values trimmed and
// repeated values comma-joined (the v2 SDK's rule; the v1 SDK never repeats a
// header, and net/http already trims what it receives).
func writeHeaders(b *strings.Builder, hs []canonHeader) {
	for _, h := range hs {
		b.WriteString(h.name)
		b.WriteByte(':')
		for i, v := range h.values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.TrimSpace(v))
		}
		b.WriteByte('\n')
	}
}

// parseHeaderList parses a ';'-separated list of header names (V4
// AdditionalHeaders, V2 AdditionalHeaders, x-oss-additional-headers) into
// lowercase names. Empty entries are an error.
func parseHeaderList(s, what string) ([]string, *Error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ";")
	for i, p := range parts {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" || !validToken(p) {
			return nil, errInvalidArgumentWith("malformed header list in "+what+": "+quoteShort(s), what, s)
		}
		parts[i] = p
	}
	return parts, nil
}

// validToken reports whether s is a plausible header name or AccessKeyId:
// printable ASCII without spaces, ':', ',', ';', '=' or '/'.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
		switch c {
		case ':', ',', ';', '=', '/', '"':
			return false
		}
	}
	return true
}
