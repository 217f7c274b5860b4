package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/cmdutil"
)

func svc(code string, status int) error {
	return fmt.Errorf("doing it: %w", oss.ServiceError{Code: code, StatusCode: status, Message: "msg", RequestID: "RID"})
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain", errors.New("x"), 1},
		{"flag", fmt.Errorf("w: %w", cmdutil.FlagErrorf("bad")), 2},
		{"cobra unknown command", errors.New(`unknown command "x" for "ossctl"`), 2},
		{"NoSuchBucket", svc("NoSuchBucket", 404), 3},
		{"NoSuchKey", svc("NoSuchKey", 404), 3},
		{"NoSuchUpload", svc("NoSuchUpload", 404), 3},
		{"other 404", svc("Whatever", 404), 3},
		{"local file", &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}, 3},
		{"NotFoundError", &cmdutil.NotFoundError{What: "local file x"}, 3},
		{"AccessDenied", svc("AccessDenied", 403), 4},
		{"InvalidAccessKeyId", svc("InvalidAccessKeyId", 403), 4},
		{"SignatureDoesNotMatch", svc("SignatureDoesNotMatch", 403), 4},
		{"RequestTimeTooSkewed", svc("RequestTimeTooSkewed", 403), 4},
		{"InvalidSecurityToken", svc("InvalidSecurityToken", 403), 4},
		{"AuthError", &cmdutil.AuthError{Err: errors.New("no creds")}, 4},
		{"500", svc("InternalError", 500), 5},
		{"503", svc("ServiceUnavailable", 503), 5},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, 5},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), 5},
		{"eof", fmt.Errorf("x: %w", io.ErrUnexpectedEOF), 5},
		{"crc", fmt.Errorf("x: %w", oss.CRCCheckError{}), 6},
		{"InvalidDigest", svc("InvalidDigest", 400), 6},
		{"IntegrityError", &cmdutil.IntegrityError{Err: errors.New("tampered")}, 6},
		{"partial wins over its first error", &cmdutil.PartialError{Op: "rm", Failed: 1, Total: 2, First: svc("AccessDenied", 403)}, 7},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), 130},
		{"interrupted wrapper", &interruptedError{cause: svc("NoSuchKey", 404)}, 130},
		{"BucketNotEmpty", svc("BucketNotEmpty", 409), 1},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("%s: ExitCode = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestDescribeServiceError(t *testing.T) {
	raw := `<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><Message>m</Message><RequestId>RID</RequestId>` +
		`<StringToSign>GET&#xA;x-oss-security-token:tok-secret-1</StringToSign><SignatureProvided>sig</SignatureProvided>` +
		`<StringToSignBytes>47 45</StringToSignBytes></Error>`
	err := fmt.Errorf("listing buckets: %w", oss.ServiceError{Code: "SignatureDoesNotMatch", StatusCode: 403,
		Message: "The request signature we calculated does not match", RequestID: "RID", RawMessage: raw})
	r := &cmdutil.Redactor{}
	r.Add("tok-secret-1")
	body := describe(err, ExitCode(err), r.Redact)
	if body.Message != "listing buckets: The request signature we calculated does not match" {
		t.Errorf("message = %q", body.Message)
	}
	if body.Code != "SignatureDoesNotMatch" || body.Status != 403 || body.RequestID != "RID" || body.ExitCode != 4 {
		t.Errorf("body = %+v", body)
	}
	if _, ok := body.Details["SignatureProvided"]; ok {
		t.Error("SignatureProvided shown")
	}
	if s := body.Details["StringToSign"]; !strings.Contains(s, "REDACTED") || strings.Contains(s, "tok-secret-1") {
		t.Errorf("StringToSign = %q", s)
	}
	if len(body.Hints) == 0 {
		t.Error("no hint for an auth error")
	}
}
