package server

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"

	"github.com/ossctl/ossctl/internal/auth"
	"github.com/ossctl/ossctl/internal/store"
)

// apiError is an OSS error response.
type apiError struct {
	Status  int
	Code    string
	Message string
	EC      string
	// Fields are extra elements after HostId (ArgumentName, BucketName, ...),
	// in the order OSS writes them.
	Fields []xmlField
	// Header holds extra response headers (x-oss-next-append-position, ...).
	Header http.Header
}

type xmlField struct{ Name, Value string }

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// newError builds an apiError with the EC OSS uses for the code, if known.
func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...), EC: knownEC[code]}
}

// with appends an extra XML element.
func (e *apiError) with(name, value string) *apiError {
	e.Fields = append(e.Fields, xmlField{name, value})
	return e
}

// withHeader adds a response header.
func (e *apiError) withHeader(name, value string) *apiError {
	if e.Header == nil {
		e.Header = http.Header{}
	}
	e.Header.Set(name, value)
	return e
}

// withEC overrides the error's EC.
func (e *apiError) withEC(ec string) *apiError {
	e.EC = ec
	return e
}

// knownEC maps codes to the EC values real OSS sends with them. Codes whose
// EC is not known are sent without one rather than with an invented value.
var knownEC = map[string]string{
	"NoSuchBucket":             "0015-00000101",
	"BucketAlreadyExists":      "0015-00000104",
	"BucketNotEmpty":           "0015-00000301",
	"NoSuchKey":                "0026-00000001",
	"PositionNotEqualToLength": "0026-00000016",
	"FileAlreadyExists":        "0026-00000201",
	"SignatureDoesNotMatch":    "0002-00000040",
}

// Common errors.
func errInvalidArgument(name, value, format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "InvalidArgument", format, args...).
		with("ArgumentName", name).with("ArgumentValue", value)
}

func errMalformedXML(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "MalformedXML", format, args...)
}

func errNoSuchBucket(bucket string) *apiError {
	return newError(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist.").with("BucketName", bucket)
}

func errNoSuchKey(key string) *apiError {
	return newError(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.").with("Key", key)
}

func errNoSuchUpload(uploadID string) *apiError {
	return newError(http.StatusNotFound, "NoSuchUpload",
		"The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.").
		with("UploadId", uploadID)
}

func errNotImplemented(what string) *apiError {
	return newError(http.StatusNotImplemented, "NotImplemented", "%s is not implemented by this server.", what)
}

func errAccessDenied(format string, args ...any) *apiError {
	return newError(http.StatusForbidden, "AccessDenied", format, args...)
}

func errMethodNotAllowed(method, resource string) *apiError {
	return newError(http.StatusMethodNotAllowed, "MethodNotAllowed",
		"The specified method is not allowed against this resource.").
		with("Method", method).with("ResourceType", resource)
}

// toAPIError converts any handler error into the response to send. ok is
// false for errors that are server faults (logged, sent as 500).
func (rc *reqCtx) toAPIError(err error) (e *apiError, fault bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, false
	}
	var authErr *auth.Error
	if errors.As(err, &authErr) {
		e := &apiError{Status: authErr.Status, Code: authErr.Code, Message: authErr.Message, EC: authErr.EC}
		if e.Status == 0 {
			e.Status = http.StatusForbidden
		}
		if e.EC == "" {
			e.EC = knownEC[e.Code]
		}
		if authErr.Code == "SignatureDoesNotMatch" {
			e = e.with("StringToSign", authErr.StringToSign).
				with("SignatureProvided", authErr.SignatureProvided).
				with("StringToSignBytes", hexBytes(authErr.StringToSign))
		}
		return e, false
	}
	switch {
	case errors.Is(err, store.ErrNoSuchBucket):
		return errNoSuchBucket(rc.bucket), false
	case errors.Is(err, store.ErrNoSuchKey):
		return errNoSuchKey(rc.key), false
	case errors.Is(err, store.ErrNoSuchVersion):
		return newError(http.StatusNotFound, "NoSuchVersion", "The specified version does not exist.").
			with("VersionId", rc.query.Get("versionId")), false
	case errors.Is(err, store.ErrNoSuchUpload):
		return errNoSuchUpload(rc.query.Get("uploadId")), false
	case errors.Is(err, store.ErrBucketExists):
		return newError(http.StatusConflict, "BucketAlreadyExists", "The requested bucket name is not available.").
			with("BucketName", rc.bucket), false
	case errors.Is(err, store.ErrBucketNotEmpty):
		return newError(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty.").
			with("BucketName", rc.bucket), false
	case errors.Is(err, store.ErrInvalidKey):
		return newError(http.StatusBadRequest, "InvalidObjectName", "The specified object name is not valid."), false
	case errors.Is(err, store.ErrNoSuchPart):
		return newError(http.StatusBadRequest, "InvalidPart",
			"One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag."), false
	case errors.Is(err, errBodyIncomplete):
		return newError(http.StatusBadRequest, "IncompleteBody",
			"You did not provide the number of bytes specified by the Content-Length HTTP header."), false
	case errors.Is(err, context.Canceled):
		return newError(499, "RequestCanceled", "The client closed the request."), false
	}
	return newError(http.StatusInternalServerError, "InternalError",
		"We encountered an internal error. Please try again."), true
}

func hexBytes(s string) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)*3)
	for i := 0; i < len(s); i++ {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, digits[s[i]>>4], digits[s[i]&15])
	}
	return string(b)
}

// errorBody renders the <Error> document.
func errorBody(e *apiError, requestID, hostID string) []byte {
	var buf xmlBuilder
	buf.header()
	buf.open("Error")
	buf.elem("Code", e.Code)
	buf.elem("Message", e.Message)
	buf.elem("RequestId", requestID)
	buf.elem("HostId", hostID)
	for _, f := range e.Fields {
		buf.elem(f.Name, f.Value)
	}
	if e.EC != "" {
		buf.elem("EC", e.EC)
		buf.elem("RecommendDoc", "https://api.aliyun.com/troubleshoot?q="+e.EC)
	}
	buf.close("Error")
	return buf.Bytes()
}

// writeError sends e. HEAD responses (and 304s) carry no body; their error
// document travels base64-encoded in x-oss-err.
func (rc *reqCtx) writeError(e *apiError) {
	rc.errCode = e.Code
	h := rc.w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	body := errorBody(e, rc.requestID, rc.hostID())
	if e.EC != "" {
		h.Set("x-oss-ec", e.EC)
	}
	status := e.Status
	if status == 499 { // client is gone; nothing useful can be sent
		status = http.StatusBadRequest
	}
	if rc.r.Method == http.MethodHead || status == http.StatusNotModified {
		h.Set("x-oss-err", base64.StdEncoding.EncodeToString(body))
		h.Del("Content-Type")
		h.Set("Content-Length", "0")
		rc.w.WriteHeader(status)
		return
	}
	// Object headers set before the failure must not describe the error
	// document (a stored Content-Encoding: gzip would make clients try to
	// decompress it).
	for _, name := range []string{"Content-Encoding", "Content-Disposition", "Content-Language", "Content-MD5",
		"Content-Range", "Cache-Control", "Expires", "ETag", "Last-Modified", "x-oss-hash-crc64ecma"} {
		h.Del(name)
	}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	rc.w.WriteHeader(status)
	_, _ = rc.w.Write(body)
}

// xmlBuilder writes small XML documents with escaped text content.
type xmlBuilder struct{ buf []byte }

func (b *xmlBuilder) header() { b.buf = append(b.buf, xml.Header...) }
func (b *xmlBuilder) open(name string) {
	b.buf = append(b.buf, '<')
	b.buf = append(b.buf, name...)
	b.buf = append(b.buf, '>')
}
func (b *xmlBuilder) close(name string) {
	b.buf = append(b.buf, "</"...)
	b.buf = append(b.buf, name...)
	b.buf = append(b.buf, '>')
}
func (b *xmlBuilder) elem(name, value string) {
	b.open(name)
	b.buf = appendEscaped(b.buf, value)
	b.close(name)
}
func (b *xmlBuilder) Bytes() []byte { return b.buf }

type byteWriter struct{ p *[]byte }

func (w byteWriter) Write(p []byte) (int, error) { *w.p = append(*w.p, p...); return len(p), nil }

func appendEscaped(dst []byte, s string) []byte {
	_ = xml.EscapeText(byteWriter{&dst}, []byte(s))
	return dst
}
