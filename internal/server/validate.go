package server

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// checkBucketName applies OSS's rules: 3–63 characters of [a-z0-9-], not
// starting or ending with '-'.
func checkBucketName(name string) error {
	bad := func() error {
		return newError(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.").
			with("BucketName", name)
	}
	if len(name) < 3 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
		return bad()
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !bucketNameByte(c) {
			return bad()
		}
	}
	return nil
}

// checkKey applies OSS's object-name rules: 1–1023 bytes of valid UTF-8,
// not starting with '/' or '\', no NUL.
func checkKey(key string) error {
	switch {
	case key == "":
		return newError(http.StatusBadRequest, "InvalidObjectName", "The object name must not be empty.")
	case len(key) > 1023:
		return newError(http.StatusBadRequest, "InvalidObjectName",
			"The length of the object name must be between 1 and 1023 bytes; it is %d.", len(key))
	case !utf8.ValidString(key):
		return newError(http.StatusBadRequest, "InvalidObjectName", "The object name must be valid UTF-8.")
	case key[0] == '/' || key[0] == '\\':
		return newError(http.StatusBadRequest, "InvalidObjectName", "The object name must not start with '/' or '\\'.")
	case strings.IndexByte(key, 0) >= 0:
		return newError(http.StatusBadRequest, "InvalidObjectName", "The object name must not contain NUL characters.")
	}
	return nil
}

// ACL values.
const (
	aclDefault         = "default"
	aclPrivate         = "private"
	aclPublicRead      = "public-read"
	aclPublicReadWrite = "public-read-write"
)

func checkBucketACL(v string) error {
	switch v {
	case aclPrivate, aclPublicRead, aclPublicReadWrite:
		return nil
	}
	return errInvalidArgument("x-oss-acl", v, "The ACL %q is not valid; use private, public-read or public-read-write.", v)
}

// objectACLHeader validates x-oss-object-acl and returns the value to store
// ("" for default/absent).
func objectACLHeader(h http.Header) (string, error) {
	v, ok := h[http.CanonicalHeaderKey("x-oss-object-acl")]
	if !ok {
		return "", nil
	}
	switch v[0] {
	case aclDefault:
		return "", nil
	case aclPrivate, aclPublicRead, aclPublicReadWrite:
		return v[0], nil
	}
	return "", errInvalidArgument("x-oss-object-acl", v[0],
		"The object ACL %q is not valid; use default, private, public-read or public-read-write.", v[0])
}

var storageClasses = map[string]string{
	"standard":        "Standard",
	"ia":              "IA",
	"archive":         "Archive",
	"coldarchive":     "ColdArchive",
	"deepcoldarchive": "DeepColdArchive",
}

// storageClass normalizes a storage-class name; ok=false if unknown.
func storageClass(v string) (string, bool) {
	c, ok := storageClasses[strings.ToLower(strings.TrimSpace(v))]
	return c, ok
}

// storageClassHeader returns x-oss-storage-class or def when absent.
func storageClassHeader(h http.Header, def string) (string, error) {
	v := h.Get("x-oss-storage-class")
	if v == "" {
		return def, nil
	}
	c, ok := storageClass(v)
	if !ok {
		return "", errInvalidArgument("x-oss-storage-class", v, "The storage class %q is not valid.", v)
	}
	return c, nil
}

// forbidOverwrite parses x-oss-forbid-overwrite.
func forbidOverwrite(h http.Header) (bool, error) {
	v := h.Get("x-oss-forbid-overwrite")
	switch strings.ToLower(v) {
	case "":
		return false, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errInvalidArgument("x-oss-forbid-overwrite", v,
		"x-oss-forbid-overwrite must be true or false.").withEC("0017-00000279")
}

func errFileAlreadyExists() *apiError {
	return newError(http.StatusConflict, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.")
}

// maxUserMeta is the total size allowed for x-oss-meta-* names and values.
const maxUserMeta = 8 << 10

// userMeta collects x-oss-meta-* headers (names lowercased, prefix removed)
// and enforces the 8 KiB limit.
func userMeta(h http.Header) (map[string]string, error) {
	var meta map[string]string
	total := 0
	for name, vals := range h {
		lower := strings.ToLower(name)
		rest, ok := strings.CutPrefix(lower, "x-oss-meta-")
		if !ok || len(vals) == 0 {
			continue
		}
		if rest == "" {
			return nil, errInvalidArgument(name, vals[0], "A user metadata header needs a name after x-oss-meta-.")
		}
		if meta == nil {
			meta = map[string]string{}
		}
		v := strings.Join(vals, ",")
		meta[rest] = v
		total += len(lower) + len(v)
	}
	if total > maxUserMeta {
		return nil, newError(http.StatusBadRequest, "InvalidArgument",
			"Your metadata headers exceed the maximum allowed metadata size (%d bytes > %d).", total, maxUserMeta).
			withEC("0011-00000002")
	}
	return meta, nil
}

// contentHeaders are the standard headers an object stores and returns.
var contentHeaders = []string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

func storedHeaders(h http.Header) map[string]string {
	var out map[string]string
	for _, name := range contentHeaders {
		if v := h.Get(name); v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = v
		}
	}
	return out
}

// checkTagging validates x-oss-tagging (k=v&k2=v2, URL-encoded): at most 10
// tags, keys 1–128 bytes, values ≤ 256 bytes, no duplicate keys.
func checkTagging(v string) error {
	if v == "" {
		return nil
	}
	q, err := url.ParseQuery(v)
	if err != nil {
		return errInvalidArgument("x-oss-tagging", v, "The tagging header is not properly URL-encoded.")
	}
	if len(q) > 10 {
		return errInvalidArgument("x-oss-tagging", v, "An object can have at most 10 tags.")
	}
	for k, vals := range q {
		if len(vals) > 1 {
			return errInvalidArgument("x-oss-tagging", v, "The tag key %q appears more than once.", k)
		}
		if k == "" || len(k) > 128 || len(vals[0]) > 256 {
			return errInvalidArgument("x-oss-tagging", v, "Tag keys must be 1-128 bytes and values at most 256 bytes.")
		}
	}
	return nil
}

// singularHeaders are request headers that carry one value. Sent more than
// once with different values they are ambiguous (the signature code, the
// handlers and a proxy in front could each pick another one), so such a
// request is refused before it is authenticated.
var singularHeaders = []string{
	"Authorization", "Date", "Content-MD5", "Range",
	"x-oss-date", "x-oss-security-token", "x-oss-content-sha256",
	"x-oss-acl", "x-oss-object-acl", "x-oss-storage-class", "x-oss-forbid-overwrite",
	"x-oss-copy-source", "x-oss-copy-source-range", "x-oss-metadata-directive", "x-oss-tagging-directive",
	"x-oss-tagging", "x-oss-symlink-target", "x-oss-complete-all", "x-oss-range-behavior",
	"x-oss-server-side-encryption", "x-oss-server-side-encryption-key-id",
	"x-oss-copy-source-if-match", "x-oss-copy-source-if-none-match",
	"x-oss-copy-source-if-modified-since", "x-oss-copy-source-if-unmodified-since",
	"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
}

// checkSingularHeaders refuses conflicting repeats of singularHeaders.
func checkSingularHeaders(h http.Header) error {
	for _, name := range singularHeaders {
		vals := h[http.CanonicalHeaderKey(name)]
		for _, v := range vals[min(1, len(vals)):] {
			if v != vals[0] {
				return errInvalidArgument(name, strings.Join(vals, ", "),
					"The %s header was sent more than once with different values.", name)
			}
		}
	}
	return nil
}

// bucketNameByte reports whether c may appear in a bucket name: a lowercase
// letter, a digit or '-'.
func bucketNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
}
