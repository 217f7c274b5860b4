package cse_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ossctl/ossctl/crypto"
	"github.com/ossctl/ossctl/crypto/keyring"
	"github.com/ossctl/ossctl/internal/cli"
	"github.com/ossctl/ossctl/internal/cse"
)

// TestClassifiedExitCodes pins the exit codes users see for encryption failures.
func TestClassifiedExitCodes(t *testing.T) {
	for err, want := range map[error]int{
		fmt.Errorf("x: %w", crypto.ErrIntegrity):            cli.ExitIntegrity,
		fmt.Errorf("x: %w", crypto.ErrWrongKey):             cli.ExitIntegrity,
		fmt.Errorf("x: %w", crypto.ErrNoMasterKey):          cli.ExitIntegrity,
		fmt.Errorf("x: %w", crypto.ErrUnsupportedAlgorithm): cli.ExitIntegrity,
		fmt.Errorf("x: %w", keyring.ErrWrongPassphrase):     cli.ExitIntegrity,
		fmt.Errorf("x: %w", keyring.ErrCorrupt):             cli.ExitIntegrity,
		fmt.Errorf("x: %w", crypto.ErrInvalidEnvelope):      cli.ExitIntegrity,
		// A keyring others can read is a setup problem, not damaged data:
		// refused with a chmod hint and the general exit code.
		fmt.Errorf("x: %w", keyring.ErrInsecurePermissions): cli.ExitError,
		fmt.Errorf("x: %w", crypto.ErrNotEncrypted):         cli.ExitError,
		errors.New("network down"):                          cli.ExitError,
	} {
		if got := cli.ExitCode(cse.Classify(err)); got != want {
			t.Errorf("exit code of %v = %d, want %d", err, got, want)
		}
	}
	if cse.Classify(nil) != nil {
		t.Error("Classify(nil) != nil")
	}
}
