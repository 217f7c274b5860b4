// Package config reads and writes ossctl's profiles file (~/.ossctlconfig) and resolves every
// setting from flags, environment, the selected profile, an ossutil config file and defaults,
// recording where each value came from.
//
// The file is INI. The default profile is the section [default]; other profiles are
// [profile NAME]. Keys are snake_case (see Keys). Files are written atomically with mode 0600.
package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Key names a setting, as written in the profiles file.
type Key string

// Settings ossctl resolves.
const (
	KeyEndpoint        Key = "endpoint"
	KeyRegion          Key = "region"
	KeyAccessKeyID     Key = "access_key_id"
	KeyAccessKeySecret Key = "access_key_secret" //nolint:gosec // G101: the name of a setting, not a secret
	KeySTSToken        Key = "sts_token"
	KeySignVersion     Key = "sign_version"
	KeyPathStyle       Key = "path_style"
	KeyConnectTimeout  Key = "connect_timeout"
	KeyReadTimeout     Key = "read_timeout"
	// KeyKMSEndpoint is the KMS endpoint; unset means the OSS endpoint (ossctl serve answers KMS
	// on it) or, for an aliyuncs.com OSS endpoint, the region's KMS endpoint.
	KeyKMSEndpoint Key = "kms_endpoint"
	// KeyKeyring is the local master-key keyring file of `ossctl key`.
	KeyKeyring Key = "keyring"
	// KeyEncrypt is the default client-side encryption spec: kms:<key-id|alias> or key:<name>.
	KeyEncrypt Key = "encrypt"
)

// Environment variables that select the file and the profile.
const (
	EnvConfig        = "OSSCTL_CONFIG"
	EnvProfile       = "OSSCTL_PROFILE"
	EnvOssutilConfig = "OSSCTL_OSSUTIL_CONFIG"
)

// DefaultFileName is the profiles file in the home directory.
const DefaultFileName = ".ossctlconfig"

// OssutilFileName is ossutil v1's config file in the home directory.
const OssutilFileName = ".ossutilconfig"

// Sign versions.
const (
	SignV1 = "v1"
	SignV4 = "v4"
)

// KeyInfo documents a setting: its global flag, environment variables and validation.
type KeyInfo struct {
	Key Key
	// Flag is the global flag that sets it ("" if none).
	Flag string
	// Env lists the environment variables that set it, highest priority first.
	Env []string
	// Secret values are masked in `config show` and redacted from logs.
	Secret bool
	// Credential values resolve as a group (see Resolve).
	Credential bool
	// Default is the value used when nothing sets it ("" means unset).
	Default string
	// Usage is a one-line description.
	Usage string
	// normalize validates a value and returns its canonical form.
	normalize func(string) (string, error)
}

// Keys lists every setting in display order.
var Keys = []KeyInfo{
	{Key: KeyEndpoint, Flag: "endpoint", Env: []string{"OSSCTL_ENDPOINT", "OSS_ENDPOINT"},
		Usage: "OSS endpoint, e.g. oss-cn-hangzhou.aliyuncs.com or http://127.0.0.1:9000", normalize: normalizeEndpoint},
	{Key: KeyRegion, Flag: "region", Env: []string{"OSSCTL_REGION", "OSS_REGION"},
		Usage: "region id, e.g. cn-hangzhou (required for V4 signatures)", normalize: normalizeToken},
	{Key: KeyAccessKeyID, Flag: "access-key-id", Env: []string{"OSS_ACCESS_KEY_ID"}, Credential: true,
		Usage: "AccessKey ID", normalize: normalizeToken},
	{Key: KeyAccessKeySecret, Flag: "access-key-secret", Env: []string{"OSS_ACCESS_KEY_SECRET"}, Credential: true, Secret: true,
		Usage: "AccessKey secret", normalize: normalizeToken},
	{Key: KeySTSToken, Flag: "sts-token", Env: []string{"OSS_SESSION_TOKEN"}, Credential: true, Secret: true,
		Usage: "STS security token for temporary credentials", normalize: normalizeToken},
	{Key: KeySignVersion, Flag: "sign-version", Env: []string{"OSSCTL_SIGN_VERSION"},
		Usage: "request signature version: v1 or v4 (default v4 when a region is known, else v1)", normalize: normalizeSignVersion},
	{Key: KeyPathStyle, Flag: "path-style", Env: []string{"OSSCTL_PATH_STYLE"}, Default: "false",
		Usage: "force path-style addressing (http://host/bucket/key)", normalize: normalizeBool},
	{Key: KeyConnectTimeout, Flag: "connect-timeout", Env: []string{"OSSCTL_CONNECT_TIMEOUT"}, Default: "30s",
		Usage: "TCP/TLS connect timeout (duration such as 30s, or seconds)", normalize: normalizeDuration},
	{Key: KeyReadTimeout, Flag: "read-timeout", Env: []string{"OSSCTL_READ_TIMEOUT"}, Default: "60s",
		Usage: "timeout for each read or write on a connection (duration or seconds)", normalize: normalizeDuration},
	{Key: KeyKMSEndpoint, Env: []string{"OSSCTL_KMS_ENDPOINT"},
		Usage: "KMS endpoint (default: the OSS endpoint if it is not aliyuncs.com, else kms.<region>.aliyuncs.com over HTTPS)", normalize: normalizeEndpoint},
	{Key: KeyKeyring, Env: []string{"OSSCTL_KEYRING"},
		Usage: "local master-key keyring file for client-side encryption (default: <user config dir>/ossctl/keyring.json)", normalize: normalizePath},
	{Key: KeyEncrypt, Env: []string{"OSSCTL_ENCRYPT"},
		Usage: "default client-side encryption for uploads: kms:<key-id|alias>, key:<name>, or none", normalize: normalizeEncryptSpec},
}

// Lookup returns the KeyInfo for a key name, accepting dashes for underscores.
func Lookup(name string) (KeyInfo, bool) {
	n := Key(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "-", "_"))
	for _, k := range Keys {
		if k.Key == n {
			return k, true
		}
	}
	return KeyInfo{}, false
}

// KeyNames returns all key names in display order.
func KeyNames() []string {
	names := make([]string, len(Keys))
	for i, k := range Keys {
		names[i] = string(k.Key)
	}
	return names
}

func info(k Key) KeyInfo {
	for _, ki := range Keys {
		if ki.Key == k {
			return ki
		}
	}
	panic(fmt.Sprintf("config: unknown key %q", k))
}

// Normalize validates value for key and returns its canonical form.
func Normalize(k Key, value string) (string, error) {
	ki, ok := Lookup(string(k))
	if !ok {
		return "", fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(KeyNames(), ", "))
	}
	v, err := ki.normalize(value)
	if err != nil {
		return "", fmt.Errorf("invalid %s: %w", ki.Key, err)
	}
	return v, nil
}

func normalizeToken(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return "", fmt.Errorf("must not contain spaces or control characters")
		}
	}
	return s, nil
}

func normalizeEndpoint(s string) (string, error) {
	s, err := normalizeToken(s)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", nil
	}
	if strings.Contains(s, "://") && !strings.HasPrefix(strings.ToLower(s), "http://") && !strings.HasPrefix(strings.ToLower(s), "https://") {
		return "", fmt.Errorf("%q: scheme must be http or https", s)
	}
	return strings.TrimRight(s, "/"), nil
}

func normalizePath(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("must not contain control characters")
		}
	}
	return s, nil
}

// normalizeEncryptSpec checks the shape of an encryption spec; internal/cse resolves it.
func normalizeEncryptSpec(s string) (string, error) {
	s, err := normalizeToken(s)
	if err != nil || s == "" {
		return s, err
	}
	if strings.EqualFold(s, "none") {
		return "none", nil
	}
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" || (kind != "kms" && kind != "key") {
		return "", fmt.Errorf("%q: want kms:<key-id|alias>, key:<name> or none", s)
	}
	return s, nil
}

func normalizeSignVersion(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return "", nil
	case "v1", "1":
		return SignV1, nil
	case "v4", "4":
		return SignV4, nil
	}
	return "", fmt.Errorf("%q: must be v1 or v4", s)
}

func normalizeBool(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("%q: must be true or false", s)
	}
	return strconv.FormatBool(b), nil
}

// ParseDuration accepts a Go duration ("30s", "2m") or a whole number of seconds.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("%q: must not be negative", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: not a duration (use e.g. 30s or 2m)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q: must not be negative", s)
	}
	return d, nil
}

func normalizeDuration(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	d, err := ParseDuration(s)
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// Mask hides a secret for display: the first 4 characters followed by "****", or just "****"
// for values shorter than 8 characters. The empty string stays empty.
func Mask(s string) string {
	if s == "" {
		return ""
	}
	r := []rune(s)
	if len(r) < 8 {
		return "****"
	}
	return string(r[:4]) + "****"
}
