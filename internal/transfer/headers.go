package transfer

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// ContentHeaders are the standard headers OSS stores with an object and returns on GET/HEAD.
// A copy with x-oss-metadata-directive REPLACE, or a multipart copy, keeps only what it sends.
var ContentHeaders = []string{
	"Content-Type", "Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires",
}

// encryptionHeaders describe server-side encryption; sending them back keeps it on a rewrite.
var encryptionHeaders = []string{
	"X-Oss-Server-Side-Encryption", "X-Oss-Server-Side-Encryption-Key-Id", "X-Oss-Server-Side-Data-Encryption",
}

const metaPrefix = "X-Oss-Meta-"

// UserMeta returns an object's x-oss-meta-* metadata from its HEAD response, names lowercased
// and without the prefix.
func UserMeta(h http.Header) map[string]string {
	m := map[string]string{}
	for name, vals := range h {
		cn := http.CanonicalHeaderKey(name)
		if rest, ok := strings.CutPrefix(cn, metaPrefix); ok && rest != "" && len(vals) > 0 {
			m[strings.ToLower(rest)] = vals[0]
		}
	}
	return m
}

// MetaOptions turns user metadata into SDK options, in name order (deterministic requests).
func MetaOptions(m map[string]string) []oss.Option {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	opts := make([]oss.Option, 0, len(names))
	for _, k := range names {
		opts = append(opts, oss.Meta(k, m[k]))
	}
	return opts
}

// KeptHeaderOptions returns options that re-send an object's content headers and server-side
// encryption settings from its HEAD response, except the headers named in skip (canonical
// names). Use it when rewriting an object so that nothing is lost by accident.
func KeptHeaderOptions(h http.Header, skip map[string]bool) []oss.Option {
	var opts []oss.Option
	for _, name := range append(append([]string{}, ContentHeaders...), encryptionHeaders...) {
		if skip[name] {
			continue
		}
		if v := h.Get(name); v != "" {
			opts = append(opts, oss.SetHeader(name, v))
		}
	}
	return opts
}

// ParseMeta parses "name:value" metadata arguments (--meta). Names are lowercased; a repeated
// name is an error, as is an empty name or one that is not a valid header token.
func ParseMeta(args []string) (map[string]string, error) {
	m := map[string]string{}
	for _, a := range args {
		name, value, ok := strings.Cut(a, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("invalid metadata %q: expected NAME:VALUE", a)
		}
		name = strings.TrimPrefix(strings.ToLower(name), "x-oss-meta-")
		if name == "" || !isToken(name) {
			return nil, fmt.Errorf("invalid metadata name in %q: use letters, digits and '-'", a)
		}
		if strings.ContainsAny(value, "\r\n") {
			return nil, fmt.Errorf("invalid metadata value in %q: line breaks are not allowed", a)
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("metadata %q given twice", name)
		}
		m[name] = value
	}
	return m, nil
}

func isToken(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' && r != '.' {
			return false
		}
	}
	return true
}

// ContentTypeFor returns the MIME type for a file name by its extension, or
// application/octet-stream.
func ContentTypeFor(names ...string) string {
	for _, n := range names {
		if t := oss.TypeByExtension(n); t != "" {
			return t
		}
	}
	return "application/octet-stream"
}
