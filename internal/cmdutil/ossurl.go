package cmdutil

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Scheme is the prefix of OSS URLs on the command line.
const Scheme = "oss://"

// MaxKeyLength is the longest object key OSS accepts, in bytes.
const MaxKeyLength = 1023

// OSSURL is a parsed oss://bucket/key argument. Key is everything after the first '/' following
// the bucket, verbatim: it may be empty, end in '/', or contain "//" and "..".
type OSSURL struct {
	Bucket string
	Key    string
}

// String renders the URL as oss://bucket/key (oss://bucket/ for an empty key is rendered as
// oss://bucket).
func (u OSSURL) String() string {
	if u.Key == "" {
		return Scheme + u.Bucket
	}
	return Scheme + u.Bucket + "/" + u.Key
}

// IsOSSURL reports whether s starts with oss:// (case-insensitive).
func IsOSSURL(s string) bool {
	return len(s) >= len(Scheme) && strings.EqualFold(s[:len(Scheme)], Scheme)
}

// ParseURL parses oss://BUCKET[/KEY]. The bucket name is validated; the key is not (use
// ValidateObjectKey when the key names one object, not a prefix).
func ParseURL(s string) (OSSURL, error) {
	if !IsOSSURL(s) {
		return OSSURL{}, fmt.Errorf("%q is not an OSS URL: expected oss://BUCKET[/KEY]", s)
	}
	rest := s[len(Scheme):]
	bucket, key, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return OSSURL{}, fmt.Errorf("%q has no bucket name: expected oss://BUCKET[/KEY]", s)
	}
	if err := ValidateBucketName(bucket); err != nil {
		return OSSURL{}, err
	}
	return OSSURL{Bucket: bucket, Key: key}, nil
}

// ParseBucketURL parses oss://BUCKET (a trailing '/' is allowed) and rejects any key.
func ParseBucketURL(s string) (string, error) {
	u, err := ParseURL(s)
	if err != nil {
		return "", err
	}
	if u.Key != "" {
		return "", fmt.Errorf("%q names an object or prefix: expected oss://BUCKET", s)
	}
	return u.Bucket, nil
}

// ParseObjectURL parses oss://BUCKET/KEY where KEY names one object and is validated.
func ParseObjectURL(s string) (OSSURL, error) {
	u, err := ParseURL(s)
	if err != nil {
		return OSSURL{}, err
	}
	if u.Key == "" {
		return OSSURL{}, fmt.Errorf("%q names a bucket: expected oss://BUCKET/KEY", s)
	}
	if err := ValidateObjectKey(u.Key); err != nil {
		return OSSURL{}, fmt.Errorf("%q: %w", s, err)
	}
	return u, nil
}

// ParseBucketOrObjectURL parses oss://BUCKET[/KEY] where KEY, when present, names one object and
// is validated.
func ParseBucketOrObjectURL(s string) (OSSURL, error) {
	u, err := ParseURL(s)
	if err != nil {
		return OSSURL{}, err
	}
	if u.Key != "" {
		if err := ValidateObjectKey(u.Key); err != nil {
			return OSSURL{}, fmt.Errorf("%q: %w", s, err)
		}
	}
	return u, nil
}

// ValidateBucketName applies OSS's bucket naming rules: 3–63 characters of lowercase letters,
// digits and '-', not starting or ending with '-'.
func ValidateBucketName(name string) error {
	if n := len(name); n < 3 || n > 63 {
		return fmt.Errorf("invalid bucket name %q: must be 3-63 characters long", name)
	}
	for _, r := range name {
		if !bucketNameRune(r) {
			return fmt.Errorf("invalid bucket name %q: only lowercase letters, digits and '-' are allowed", name)
		}
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return fmt.Errorf("invalid bucket name %q: must start and end with a letter or digit", name)
	}
	return nil
}

// ValidateObjectKey applies OSS's object key rules: 1–1023 bytes of UTF-8, not starting with '/'
// or '\'.
func ValidateObjectKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("object key is empty")
	case len(key) > MaxKeyLength:
		return fmt.Errorf("object key is %d bytes long; the limit is %d", len(key), MaxKeyLength)
	case !utf8.ValidString(key):
		return fmt.Errorf("object key is not valid UTF-8")
	case key[0] == '/' || key[0] == '\\':
		return fmt.Errorf("object key must not start with %q", key[:1])
	}
	return nil
}

// bucketNameRune reports whether r may appear in a bucket name: a lowercase letter, a digit or
// '-'.
func bucketNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-'
}
