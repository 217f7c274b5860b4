package cli

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	popErrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
)

// ErrorBody is the "error" member of the JSON printed on stdout when a command fails in JSON mode.
type ErrorBody struct {
	// Code is the OSS (or KMS/RAM/STS) error code, or ossctl's category (UsageError, NotFound,
	// AuthError, NetworkError, IntegrityError, PartialFailure, Interrupted, Error).
	Code string `json:"code"`
	// Message is the full, human-readable message.
	Message string `json:"message"`
	// RequestID is the server's request id, for support tickets.
	RequestID string `json:"requestId,omitempty"`
	// Status is the HTTP status of a server error.
	Status int `json:"status,omitempty"`
	// EC is OSS's detailed error code.
	EC string `json:"ec,omitempty"`
	// ExitCode is the process exit code.
	ExitCode int `json:"exitCode"`
	// Details holds extra elements of the server's error document (StringToSign, ArgumentName...).
	Details map[string]string `json:"details,omitempty"`
	// Hints are suggestions for fixing the problem.
	Hints []string `json:"hints,omitempty"`
}

// ErrorEnvelope is the JSON object printed for a failed command: {"error": {...}}.
type ErrorEnvelope struct {
	Error ErrorBody `json:"error"`
}

// skipDetails are server error elements shown elsewhere or too sensitive to print.
var skipDetails = map[string]bool{
	"Code": true, "Message": true, "RequestId": true, "HostId": true, "EC": true,
	"SignatureProvided": true, "StringToSignBytes": true, "CanonicalRequestBytes": true,
}

type detail struct{ name, value string }

// serverDetails extracts the extra leaf elements of an OSS error document, in document order.
func serverDetails(raw string) []detail {
	if raw == "" {
		return nil
	}
	dec := xml.NewDecoder(strings.NewReader(raw))
	var (
		out   []detail
		depth int
		name  string
		text  strings.Builder
		leaf  bool
	)
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			leaf = true
			name = t.Name.Local
			text.Reset()
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if depth == 2 && leaf && !skipDetails[name] {
				if v := strings.TrimSpace(text.String()); v != "" {
					out = append(out, detail{name, v})
				}
			}
			leaf = false
			depth--
		}
	}
}

// describe builds the error report for err: message, server fields, hints.
func describe(err error, code int, redact func(string) string) ErrorBody {
	body := ErrorBody{Code: kind(code), ExitCode: code}
	msg := err.Error()
	var (
		se     oss.ServiceError
		popSrv *popErrors.ServerError
	)
	switch {
	case errors.As(err, &se):
		body.Code = se.Code
		body.RequestID = se.RequestID
		body.Status = se.StatusCode
		body.EC = se.Ec
		human := se.Message
		if human == "" {
			human = fmt.Sprintf("%s (HTTP %d)", se.Code, se.StatusCode)
		}
		if s := se.Error(); strings.HasSuffix(msg, s) {
			msg = msg[:len(msg)-len(s)] + human
		}
		if body.Code == "" {
			body.Code = kind(code)
		}
		for _, d := range serverDetails(se.RawMessage) {
			if body.Details == nil {
				body.Details = map[string]string{}
			}
			body.Details[d.name] = redact(d.value)
		}
	case errors.As(err, &popSrv):
		body.Code = popSrv.ErrorCode()
		body.RequestID = popSrv.RequestId()
		body.Status = popSrv.HttpStatus()
		if s := popSrv.Error(); strings.HasSuffix(msg, s) && popSrv.Message() != "" {
			msg = msg[:len(msg)-len(s)] + popSrv.Message()
		}
		if r := popSrv.Recommend(); r != "" {
			body.Details = map[string]string{"Recommend": r}
		}
	}
	body.Message = redact(msg)
	hints := cmdutil.Hints(err)
	switch code {
	case ExitAuth:
		hints = append(hints, "check the credentials and permissions in use: ossctl config show")
	case ExitNetwork:
		if body.Status == 0 {
			hints = append(hints, "check the endpoint and your network: ossctl config show")
		}
	}
	for _, h := range hints {
		body.Hints = append(body.Hints, redact(h))
	}
	return body
}

// printError reports err in text form on stderr. Write failures are dropped (see
// iostreams.Eprintf): stderr is the last place left to report anything.
func printError(ios *iostreams.IOStreams, body ErrorBody, serviceErr bool, rawOrder []detail) {
	ios.Eprintf("ossctl: %s\n", output.Text(body.Message))
	if serviceErr {
		ios.Eprintf("  code:       %s\n", output.Text(body.Code))
		if body.Status != 0 {
			ios.Eprintf("  status:     %d\n", body.Status)
		}
		if body.RequestID != "" {
			ios.Eprintf("  request id: %s\n", output.Text(body.RequestID))
		}
		if body.EC != "" {
			ios.Eprintf("  ec:         %s\n", output.Text(body.EC))
		}
		for _, d := range rawOrder {
			if v, ok := body.Details[d.name]; ok {
				ios.Eprintf("  %s: %s\n", d.name, output.Text(v))
			}
		}
		if r, ok := body.Details["Recommend"]; ok && len(rawOrder) == 0 {
			ios.Eprintf("  recommend:  %s\n", output.Text(r))
		}
	}
	for _, h := range body.Hints {
		ios.Eprintf("hint: %s\n", output.Text(h))
	}
}

// HandleError reports err (as JSON on stdout in JSON mode, as text on stderr otherwise) and
// returns the exit code. cmd is the command that failed, for usage output.
func HandleError(f *cmdutil.Factory, cmd *cobra.Command, err error) int {
	code := ExitCode(err)
	body := describe(err, code, f.Redactor.Redact)
	var (
		se     oss.ServiceError
		popSrv *popErrors.ServerError
	)
	isService := errors.As(err, &se) || errors.As(err, &popSrv)
	if f.Globals != nil && f.Globals.Format == output.FormatJSON {
		if perr := f.Printer().JSON(ErrorEnvelope{Error: body}); perr == nil {
			return code
		}
	}
	var order []detail
	if isService {
		order = serverDetails(se.RawMessage)
	}
	printError(f.IOStreams, body, isService, order)
	if code == ExitUsage && cmd != nil {
		f.IOStreams.Eprintf("Usage: %s\nRun '%s --help' for more information.\n", cmd.UseLine(), cmd.CommandPath())
	}
	return code
}
