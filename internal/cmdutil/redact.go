package cmdutil

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Redacted replaces a secret in logs and messages.
const Redacted = "REDACTED"

// sensitiveHeaders never appear in logs, whatever their value.
var sensitiveHeaders = map[string]bool{
	"x-oss-security-token": true,
	"proxy-authorization":  true,
	"cookie":               true,
	"set-cookie":           true,
	"x-oss-server-side-encryption-customer-key": true,
}

// sensitiveParams are query parameters that carry signatures or tokens.
var sensitiveParams = map[string]bool{
	"signature":            true,
	"security-token":       true,
	"x-oss-signature":      true,
	"x-oss-security-token": true,
}

var v4SignatureRE = regexp.MustCompile(`(?i)(Signature=)[^,\s]+`)

// RedactHeader returns a header value safe to log: Authorization keeps its scheme and AccessKey ID
// but loses the signature; tokens and keys are replaced entirely.
func RedactHeader(name, value string) string {
	lname := strings.ToLower(name)
	if sensitiveHeaders[lname] {
		return Redacted
	}
	if lname != "authorization" {
		return value
	}
	switch {
	case strings.HasPrefix(value, "OSS4-HMAC-SHA256"):
		return v4SignatureRE.ReplaceAllString(value, "${1}"+Redacted)
	case strings.HasPrefix(value, "OSS2 "):
		return v4SignatureRE.ReplaceAllString(strings.ReplaceAll(value, "Signature:", "Signature="), "${1}"+Redacted)
	case strings.HasPrefix(value, "OSS "):
		if i := strings.LastIndexByte(value, ':'); i > 0 {
			return value[:i+1] + Redacted
		}
	}
	return Redacted
}

// RedactURL renders u with signature and token query parameters replaced.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		q := c.Query()
		changed := false
		for k := range q {
			if sensitiveParams[strings.ToLower(k)] {
				q[k] = []string{Redacted}
				changed = true
			}
		}
		if changed {
			c.RawQuery = q.Encode()
		}
	}
	return c.String()
}

func sortedHeaderNames(h http.Header) []string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, strings.ToLower(k))
	}
	slices.Sort(names)
	return names
}

// Redactor replaces known secret values (AccessKey secret, STS token) in free text. It is safe for
// concurrent use.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
}

// Add registers secrets; values shorter than 6 characters are ignored to avoid mangling text.
func (r *Redactor) Add(secrets ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) >= 6 && !slices.Contains(r.secrets, s) {
			r.secrets = append(r.secrets, s)
		}
	}
}

// Redact returns s with every registered secret replaced by REDACTED.
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, Redacted)
	}
	return s
}

// NewLogger returns the --debug logger: slog text records on w at debug level when debug is on,
// with every string attribute passed through the redactor; otherwise a logger that discards.
func NewLogger(w io.Writer, debug bool, r *Redactor) *slog.Logger {
	if !debug {
		return slog.New(slog.DiscardHandler)
	}
	h := slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Value.Kind() == slog.KindString {
				a.Value = slog.StringValue(r.Redact(a.Value.String()))
			}
			return a
		},
	})
	return slog.New(h)
}

// DebugEnabled reports whether l logs debug records.
func DebugEnabled(l *slog.Logger) bool {
	return l != nil && l.Enabled(context.Background(), slog.LevelDebug)
}
