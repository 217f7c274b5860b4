package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"io/fs"
	"net"
	"strings"
	"syscall"

	popErrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/cmdutil"
)

// Exit codes, re-exported from cmdutil where the table lives.
const (
	ExitOK          = cmdutil.ExitOK
	ExitError       = cmdutil.ExitError
	ExitUsage       = cmdutil.ExitUsage
	ExitNotFound    = cmdutil.ExitNotFound
	ExitAuth        = cmdutil.ExitAuth
	ExitNetwork     = cmdutil.ExitNetwork
	ExitIntegrity   = cmdutil.ExitIntegrity
	ExitPartial     = cmdutil.ExitPartial
	ExitInterrupted = cmdutil.ExitInterrupted
)

// notFoundCodes are OSS error codes meaning "does not exist".
var notFoundCodes = map[string]bool{
	"NoSuchBucket": true, "NoSuchKey": true, "NoSuchUpload": true, "NoSuchVersion": true,
	"NoSuchBucketPolicy": true, "NoSuchLifecycle": true, "NoSuchServerSideEncryptionRule": true,
	"NoSuchWORMConfiguration": true, "NoSuchCORSConfiguration": true, "NoSuchWebsiteConfiguration": true,
	"NoSuchTagSet": true, "NoSuchCname": true, "KeyNotFound": true, "SymlinkTargetNotExist": true,
}

// authCodes are OSS error codes meaning "who you are or what you may do".
var authCodes = map[string]bool{
	"AccessDenied": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
	"RequestTimeTooSkewed": true, "InvalidSecurityToken": true, "SecurityTokenExpired": true,
	"AccessKeyIdAndSecurityTokenNotMatch": true, "AccessForbidden": true, "InvalidAuthorization": true,
	"UserDisable": true, "AccessKeyDisabled": true,
}

// integrityCodes are OSS error codes meaning the data did not match its checksum.
var integrityCodes = map[string]bool{
	"InvalidDigest": true, "BadDigest": true, "InvalidCRC64": true, "CrcMismatch": true,
}

// ExitCode maps an error to ossctl's exit code. It is the only place where errors become codes.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var (
		flagErr   *cmdutil.FlagError
		partial   *cmdutil.PartialError
		notFound  *cmdutil.NotFoundError
		authErr   *cmdutil.AuthError
		integrity *cmdutil.IntegrityError
		crcErr    oss.CRCCheckError
		se        oss.ServiceError
		unexp     oss.UnexpectedStatusCodeError
		popSrv    *popErrors.ServerError
		popCli    *popErrors.ClientError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &flagErr), isCobraUsageError(err):
		return ExitUsage
	case errors.As(err, &partial):
		return ExitPartial
	case errors.As(err, &integrity), errors.As(err, &crcErr):
		return ExitIntegrity
	case errors.As(err, &se):
		return serviceExitCode(se.Code, se.StatusCode)
	case errors.As(err, &popSrv):
		return popExitCode(popSrv.ErrorCode(), popSrv.HttpStatus())
	case errors.As(err, &notFound), errors.Is(err, fs.ErrNotExist):
		return ExitNotFound
	case errors.As(err, &authErr):
		return ExitAuth
	case errors.As(err, &unexp):
		if unexp.Got() >= 500 {
			return ExitNetwork
		}
		return ExitError
	case errors.As(err, &popCli):
		if o := popCli.OriginError(); o != nil && !errors.Is(o, err) {
			if c := networkExitCode(o); c != 0 {
				return c
			}
		}
		return ExitError
	}
	if c := networkExitCode(err); c != 0 {
		return c
	}
	return ExitError
}

func networkExitCode(err error) int {
	var (
		certErr  *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		netErr   net.Error
	)
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknown), errors.As(err, &hostname):
		return ExitError // retrying will not fix a certificate problem
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrUnexpectedEOF),
		errors.As(err, &netErr):
		return ExitNetwork
	}
	return 0
}

func serviceExitCode(code string, status int) int {
	switch {
	case notFoundCodes[code]:
		return ExitNotFound
	case authCodes[code]:
		return ExitAuth
	case integrityCodes[code]:
		return ExitIntegrity
	case status >= 500:
		return ExitNetwork
	case status == 404:
		return ExitNotFound
	case status == 401 || status == 403:
		return ExitAuth
	}
	return ExitError
}

func popExitCode(code string, status int) int {
	switch {
	case strings.Contains(code, "NotFound"):
		return ExitNotFound
	case strings.HasPrefix(code, "InvalidAccessKeyId"), strings.HasPrefix(code, "SignatureDoesNotMatch"),
		strings.HasPrefix(code, "Forbidden"), strings.HasPrefix(code, "InvalidSecurityToken"),
		strings.HasPrefix(code, "IncompleteSignature"):
		return ExitAuth
	}
	return serviceExitCode("", status)
}

// isCobraUsageError recognises the untyped usage errors cobra itself returns.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command ") ||
		strings.HasPrefix(msg, "invalid argument ") ||
		strings.HasPrefix(msg, "required flag(s) ") ||
		strings.Contains(msg, "if any flags in the group")
}

// kind names an exit code's category; it is the "code" of non-OSS errors in JSON output.
func kind(code int) string {
	switch code {
	case ExitUsage:
		return "UsageError"
	case ExitNotFound:
		return "NotFound"
	case ExitAuth:
		return "AuthError"
	case ExitNetwork:
		return "NetworkError"
	case ExitIntegrity:
		return "IntegrityError"
	case ExitPartial:
		return "PartialFailure"
	case ExitInterrupted:
		return "Interrupted"
	}
	return "Error"
}
