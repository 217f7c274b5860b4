package auth

import (
	"net/http"
	"strings"
	"time"
)

// Error is an authentication failure in OSS terms.
type Error struct {
	Status            int    // 400 or 403
	Code              string // InvalidAccessKeyId, SignatureDoesNotMatch, ...
	Message           string
	StringToSign      string // for SignatureDoesNotMatch: the server's string to sign
	SignatureProvided string
	EC                string

	// AccessKeyID is the AccessKeyId the request named, for the
	// <OSSAccessKeyId> element OSS adds to InvalidAccessKeyId and
	// SignatureDoesNotMatch errors. "" when the request named none.
	AccessKeyID string
	// CanonicalRequest is, for a V4 SignatureDoesNotMatch, the canonical
	// request whose SHA-256 the server's string to sign contains.
	CanonicalRequest string
	// ArgumentName and ArgumentValue name the offending parameter of an
	// InvalidArgument error when there is one (<ArgumentName>,
	// <ArgumentValue> in the OSS error body).
	ArgumentName  string
	ArgumentValue string
	// RequestTime and ServerTime are set for RequestTimeTooSkewed
	// (<RequestTime>, <ServerTime> in the OSS error body).
	RequestTime time.Time
	ServerTime  time.Time
}

// Error returns "Code: Message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// StringToSignBytes renders StringToSign the way OSS does in the
// <StringToSignBytes> element: each byte as two uppercase hex digits
// followed by a space.
func (e *Error) StringToSignBytes() string {
	const hexdigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(3 * len(e.StringToSign))
	for i := 0; i < len(e.StringToSign); i++ {
		c := e.StringToSign[i]
		b.WriteByte(hexdigits[c>>4])
		b.WriteByte(hexdigits[c&15])
		b.WriteByte(' ')
	}
	return b.String()
}

// OSS error codes produced by this package.
const (
	CodeAccessDenied          = "AccessDenied"
	CodeInvalidAccessKeyID    = "InvalidAccessKeyId"
	CodeInvalidArgument       = "InvalidArgument"
	CodeRequestTimeTooSkewed  = "RequestTimeTooSkewed"
	CodeSignatureDoesNotMatch = "SignatureDoesNotMatch"
)

// EC values from the OSS error-code reference ("0002-xxxxxxxx" pages).
const (
	ecSignatureMismatchV1 = "0002-00000040" // V1 signature mismatch
	ecSignatureMismatchV4 = "0002-00000201" // V4 signature mismatch
	ecPresignExpired      = "0002-00000069" // signed URL expired (Expires / x-oss-expires)
	ecPresignBadExpires   = "0002-00000070" // Expires / x-oss-expires invalid
	ecPresignNotYetValid  = "0002-00000235" // V4 signed URL used before x-oss-date - 15 min
	ecTimeTooSkewed       = "0002-00000504" // header-signed request outside the 15-minute window
	ecInvalidDate         = "0002-00000505" // Date / x-oss-date unparseable
	ecV4BadCredentialDate = "0002-00000223" // bad SignDate in the V4 credential
)

func errInvalidArgument(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidArgument, Message: msg}
}

func errInvalidArgumentWith(msg, name, value string) *Error {
	e := errInvalidArgument(msg)
	e.ArgumentName = name
	e.ArgumentValue = value
	return e
}

func errInvalidAccessKeyID(ak string) *Error {
	return &Error{
		Status:      http.StatusForbidden,
		Code:        CodeInvalidAccessKeyID,
		Message:     "The OSS Access Key Id you provided does not exist in our records.",
		AccessKeyID: ak,
	}
}

func errSignatureMismatch(ak, stringToSign, provided, ec string) *Error {
	return &Error{
		Status:            http.StatusForbidden,
		Code:              CodeSignatureDoesNotMatch,
		Message:           "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
		StringToSign:      stringToSign,
		SignatureProvided: provided,
		EC:                ec,
		AccessKeyID:       ak,
	}
}

func errMissingDate() *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeAccessDenied, Message: "OSS authentication requires a valid Date."}
}

func errInvalidDate(v string) *Error {
	return &Error{
		Status:  http.StatusForbidden,
		Code:    CodeAccessDenied,
		Message: "OSS authentication requires a valid Date; cannot parse " + quoteShort(v) + ".",
		EC:      ecInvalidDate,
	}
}

func errTimeTooSkewed(reqTime, now time.Time) *Error {
	return &Error{
		Status:      http.StatusForbidden,
		Code:        CodeRequestTimeTooSkewed,
		Message:     "The difference between the request time and the current time is too large.",
		EC:          ecTimeTooSkewed,
		RequestTime: reqTime.UTC(),
		ServerTime:  now.UTC(),
	}
}

func errPresignExpired() *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeAccessDenied, Message: "Request has expired.", EC: ecPresignExpired}
}

func errPresignNotYetValid() *Error {
	return &Error{
		Status:  http.StatusForbidden,
		Code:    CodeAccessDenied,
		Message: "Request is not valid yet: x-oss-date is more than 15 minutes in the future.",
		EC:      ecPresignNotYetValid,
	}
}

func errBadExpires(name, value string) *Error {
	e := errInvalidArgumentWith("invalid expiration time "+quoteShort(value)+" in "+name, name, value)
	e.EC = ecPresignBadExpires
	return e
}
