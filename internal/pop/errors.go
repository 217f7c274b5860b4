package pop

import (
	"errors"
	"net/http"

	"github.com/ossctl/ossctl/internal/auth"
)

// Error is a POP API error: an HTTP status, a code clients match on and a
// message for people.
type Error struct {
	Status  int
	Code    string
	Message string
}

// Error returns "Code: Message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// KMS error codes (PROTOCOL.md §7.4).
const (
	CodeInvalidParameter       = "InvalidParameter"
	CodeMissingParameter       = "MissingParameter"
	CodeAccessDenied           = "AccessDenied"
	CodeKeyNotFound            = "Forbidden.KeyNotFound"
	CodeAliasNotFound          = "Forbidden.AliasNotFound"
	CodeAliasExists            = "Rejected.AliasExists"
	CodeRejectedDisabled       = "Rejected.Disabled"
	CodeRejectedPendingDelete  = "Rejected.PendingDeletion"
	CodeRejectedPendingImport  = "Rejected.PendingImport"
	CodeRejectedEnabled        = "Rejected.Enabled"
	CodeStateModifiedFailed    = "Rejected.StateModifiedFailed"
	CodeUnsupportedOperation   = "UnsupportedOperation"
	CodeDryRunOperation        = "DryRunOperation"
	CodeConcurrentModification = "Rejected.ConcurrentModification"
)

func errInvalidParameter(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidParameter, Message: msg}
}

func errMissing(name string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeMissingParameter,
		Message: `The input parameter "` + name + `" that is mandatory for processing this request is not supplied.`}
}

func errKeyNotFound(ref string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeKeyNotFound,
		Message: "The specified Key is not found: " + quote(ref) + "."}
}

func errAliasNotFound(name string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeAliasNotFound,
		Message: "The specified Alias is not found: " + quote(name) + "."}
}

func errUnsupported(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeUnsupportedOperation, Message: msg}
}

// errState is the 409 answer for an operation the key's state forbids.
func errState(state, keyID, what string) *Error {
	code := "Rejected." + state
	switch state {
	case StateDisabled:
		code = CodeRejectedDisabled
	case StatePendingDeletion:
		code = CodeRejectedPendingDelete
	case StatePendingImport:
		code = CodeRejectedPendingImport
	case StateEnabled:
		code = CodeRejectedEnabled
	}
	return &Error{Status: http.StatusConflict, Code: code,
		Message: "The key " + keyID + " is " + state + "; " + what + "."}
}

// fromAuthError turns a signature-verification failure into a POP error
// with the same code and status.
func fromAuthError(err error) error {
	var ae *auth.Error
	if !errors.As(err, &ae) {
		return err
	}
	status := ae.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	return &Error{Status: status, Code: ae.Code, Message: ae.Message}
}
