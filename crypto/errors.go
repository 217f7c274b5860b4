package crypto

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package that falls into one
// of these classes matches it with errors.Is, so callers can map them to exit
// codes without parsing messages.
var (
	// ErrNotEncrypted reports that an object carries no client-side
	// encryption metadata at all (neither the SDK format nor an ossctl mode).
	ErrNotEncrypted = errors.New("object is not client-side encrypted")

	// ErrInvalidEnvelope reports envelope metadata that is missing a required
	// field, has a malformed value, or is otherwise inconsistent.
	ErrInvalidEnvelope = errors.New("invalid client-side encryption envelope")

	// ErrUnsupportedAlgorithm reports a content (cek-alg) or key-wrapping
	// (wrap-alg) algorithm, or an ossctl mode, that this library does not
	// implement. Decryption fails closed instead of guessing.
	ErrUnsupportedAlgorithm = errors.New("unsupported client-side encryption algorithm")

	// ErrIntegrity reports authenticated-mode ciphertext or metadata that
	// failed verification (bit flip, truncation, reordering, a swapped
	// envelope, a wrong data key), and length or digest checks that failed in
	// the unauthenticated SDK format. No plaintext of a failing chunk is
	// released.
	ErrIntegrity = errors.New("client-side encryption integrity check failed")

	// ErrWrongKey reports that a master key could not unwrap a data key:
	// the object was most likely encrypted under a different master key.
	ErrWrongKey = errors.New("master key cannot unwrap the data key")

	// ErrNoMasterKey reports that no configured master key matches an
	// object's material description (matdesc).
	ErrNoMasterKey = errors.New("no master key for the object's material description")

	// ErrInvalidRange reports a requested plaintext range that is empty,
	// inverted or starts beyond the end of the object.
	ErrInvalidRange = errors.New("invalid byte range")

	// ErrInvalidPart reports a multipart layout the format cannot express: a
	// part size that is not a multiple of the alignment, a part number out of
	// range, or a part body of the wrong length.
	ErrInvalidPart = errors.New("invalid multipart layout")
)

// IntegrityError describes an integrity failure. It matches ErrIntegrity
// with errors.Is.
type IntegrityError struct {
	// Chunk is the index of the failing chunk in the authenticated mode, or
	// -1 when the failure is not tied to one chunk.
	Chunk int64
	// Reason says what failed, in words.
	Reason string
}

// Error implements error.
func (e *IntegrityError) Error() string {
	if e.Chunk >= 0 {
		return fmt.Sprintf("%v: chunk %d: %s", ErrIntegrity, e.Chunk, e.Reason)
	}
	return fmt.Sprintf("%v: %s", ErrIntegrity, e.Reason)
}

// Is makes errors.Is(err, ErrIntegrity) true.
func (e *IntegrityError) Is(target error) bool { return target == ErrIntegrity }

func integrityErr(chunk int64, format string, args ...any) error {
	return &IntegrityError{Chunk: chunk, Reason: fmt.Sprintf(format, args...)}
}

func envelopeErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidEnvelope, fmt.Sprintf(format, args...))
}

func unsupportedErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupportedAlgorithm, fmt.Sprintf(format, args...))
}
