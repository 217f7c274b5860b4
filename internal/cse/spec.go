package cse

import (
	"fmt"
	"strings"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/config"
)

// Kind says which kind of master key a Spec names.
type Kind string

// Spec kinds.
const (
	// KindKMS is a KMS customer master key: kms:<key-id|alias/name|arn>.
	KindKMS Kind = "kms"
	// KindKey is a key in the local keyring: key:<name>.
	KindKey Kind = "key"
)

// Spec is a parsed encryption spec such as "kms:alias/backup" or "key:laptop". The zero Spec
// means "no client-side encryption".
type Spec struct {
	Kind Kind
	// ID is the KMS key id, alias or ARN (KindKMS) or the keyring key name (KindKey).
	ID string
}

// IsZero reports whether s selects no encryption.
func (s Spec) IsZero() bool { return s.Kind == "" }

// String renders the spec as it is written on the command line.
func (s Spec) String() string {
	if s.IsZero() {
		return "none"
	}
	return string(s.Kind) + ":" + s.ID
}

// ParseSpec parses kms:<key-id|alias>, key:<name> or none (also ""). A bare alias may be written
// with or without its alias/ prefix: kms:alias/backup. Errors are usage errors.
func ParseSpec(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "none") {
		return Spec{}, nil
	}
	kind, id, ok := strings.Cut(s, ":")
	if !ok {
		return Spec{}, cmdutil.FlagErrorf("invalid encryption spec %q: want kms:<key-id|alias>, key:<name> or none", s)
	}
	switch Kind(strings.ToLower(kind)) {
	case KindKMS:
		if id == "" || strings.ContainsAny(id, " \t\r\n") {
			return Spec{}, cmdutil.FlagErrorf("invalid encryption spec %q: kms: needs a key id, alias/<name> or ARN", s)
		}
		return Spec{Kind: KindKMS, ID: id}, nil
	case KindKey:
		if err := ValidateKeyName(id); err != nil {
			return Spec{}, cmdutil.FlagErrorf("invalid encryption spec %q: %v", s, err)
		}
		return Spec{Kind: KindKey, ID: id}, nil
	}
	return Spec{}, cmdutil.FlagErrorf("invalid encryption spec %q: unknown kind %q (want kms: or key:)", s, kind)
}

// ValidateKeyName checks a keyring key name: 1–64 characters of letters, digits, '-', '_' and
// '.', starting with a letter or digit (what crypto/keyring accepts).
func ValidateKeyName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("key name must be 1 to 64 characters long")
	}
	for i, r := range name {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		switch {
		case alnum, i > 0 && (r == '-' || r == '_' || r == '.'):
		default:
			return fmt.Errorf("key name %q may contain only letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}

// ResolveSpec returns the encryption spec of an upload: the --encrypt flag when it was given
// (flagChanged), else the profile's `encrypt` setting ($OSSCTL_ENCRYPT or the config file), else
// none. "none" given explicitly turns a configured default off.
func ResolveSpec(flag string, flagChanged bool, cfg *config.Resolved) (Spec, error) {
	if flagChanged {
		return ParseSpec(flag)
	}
	if cfg == nil {
		return Spec{}, nil
	}
	v := cfg.Get(config.KeyEncrypt)
	spec, err := ParseSpec(v.Value)
	if err != nil {
		return Spec{}, fmt.Errorf("encrypt setting from %s: %w", v.Origin, err)
	}
	return spec, nil
}
