package cse

import (
	"errors"

	"github.com/ossctl/ossctl/crypto"
	"github.com/ossctl/ossctl/crypto/keyring"
	"github.com/ossctl/ossctl/internal/cmdutil"
)

// Classify marks errors that mean "this data cannot be decrypted or trusted" as
// *cmdutil.IntegrityError (exit 6): crypto integrity failures, a wrong or missing master key, an
// invalid envelope, an unsupported cipher, and a wrong keyring passphrase. Other errors (network, KMS service errors such as a disabled
// key, usage errors) pass through unchanged, and nil stays nil.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var ie *cmdutil.IntegrityError
	if errors.As(err, &ie) {
		return err
	}
	switch {
	case errors.Is(err, crypto.ErrIntegrity),
		errors.Is(err, crypto.ErrWrongKey),
		errors.Is(err, crypto.ErrNoMasterKey),
		errors.Is(err, crypto.ErrInvalidEnvelope),
		errors.Is(err, crypto.ErrUnsupportedAlgorithm),
		errors.Is(err, keyring.ErrWrongPassphrase),
		errors.Is(err, keyring.ErrCorrupt):
		return &cmdutil.IntegrityError{Err: err}
	}
	return err
}
