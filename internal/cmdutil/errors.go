// Package cmdutil is what every command package shares: the Factory (streams, configuration, SDK
// clients, clock, printer), typed errors that internal/cli maps to exit codes, oss:// URL parsing,
// enum flags and shell-completion helpers.
package cmdutil

import (
	"errors"
	"fmt"
	"strings"
)

// FlagError is a usage error: a bad flag, a wrong number of arguments, a malformed oss:// URL.
// ossctl prints it with the command's usage and exits 2.
type FlagError struct{ err error }

// Error implements error.
func (e *FlagError) Error() string { return e.err.Error() }

// Unwrap returns the underlying error.
func (e *FlagError) Unwrap() error { return e.err }

// FlagErrorf returns a FlagError with a formatted message.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{err: fmt.Errorf(format, args...)}
}

// FlagErrorWrap marks err as a usage error.
func FlagErrorWrap(err error) error {
	if err == nil {
		return nil
	}
	return &FlagError{err: err}
}

// NotFoundError reports something missing that is not an OSS error, e.g. a local file. Exit 3.
// (A missing local file reported as an *fs.PathError with fs.ErrNotExist maps to 3 as well.)
type NotFoundError struct {
	// What names the missing thing, e.g. "local file ./a.txt".
	What string
	Err  error
}

// Error implements error.
func (e *NotFoundError) Error() string {
	if e.Err != nil {
		return e.What + ": " + e.Err.Error()
	}
	return e.What + " not found"
}

// Unwrap returns the underlying error.
func (e *NotFoundError) Unwrap() error { return e.Err }

// AuthError reports a credentials problem found before any request (no credentials configured,
// an expired token detected locally, ...). Exit 4.
type AuthError struct{ Err error }

// Error implements error.
func (e *AuthError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *AuthError) Unwrap() error { return e.Err }

// IntegrityError reports corrupted or unverifiable data: a checksum mismatch, a failed
// decryption, a tampered envelope. Exit 6. (The SDK's oss.CRCCheckError maps to 6 by itself.)
type IntegrityError struct{ Err error }

// Error implements error.
func (e *IntegrityError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *IntegrityError) Unwrap() error { return e.Err }

// PartialError reports a batch in which some items failed and the rest succeeded. The command has
// already reported each failure (on stderr, or as JSON Lines); the exit code is 7.
type PartialError struct {
	// Op names the batch, e.g. "copying" or "removing objects".
	Op     string
	Failed int
	Total  int
	// First is the first item's error, shown as an example.
	First error
}

// Error implements error.
func (e *PartialError) Error() string {
	msg := fmt.Sprintf("%s: %d of %d items failed", e.Op, e.Failed, e.Total)
	if e.First != nil {
		msg += " (first error: " + e.First.Error() + ")"
	}
	return msg
}

// Unwrap returns the first item's error so that its details stay reachable. The exit code of a
// PartialError is always 7, whatever First is.
func (e *PartialError) Unwrap() error { return e.First }

// ErrCanceled is returned when the user declines a confirmation prompt. Exit 1.
var ErrCanceled = errors.New("canceled")

// HintError attaches hint lines that ossctl prints after the error message.
type HintError struct {
	Err   error
	Hints []string
}

// Error implements error.
func (e *HintError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *HintError) Unwrap() error { return e.Err }

// WithHint wraps err with hint lines such as "run `ossctl config` to set credentials".
func WithHint(err error, hints ...string) error {
	if err == nil {
		return nil
	}
	return &HintError{Err: err, Hints: hints}
}

// Hints collects the hint lines attached anywhere in err's chain, outermost first.
func Hints(err error) []string {
	var out []string
	// The chain is walked by hand because every HintError in it counts, not just the first
	// that errors.As would find; each node is inspected exactly once.
	for err != nil {
		if h, ok := err.(*HintError); ok { //nolint:errorlint // inspecting one node of a chain walked by hand
			out = append(out, h.Hints...)
		}
		switch u := err.(type) { //nolint:errorlint // unwrapping by hand, see above
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				out = append(out, Hints(e)...)
			}
			return dedupe(out)
		default:
			err = nil
		}
	}
	return dedupe(out)
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := in[:0]
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}
