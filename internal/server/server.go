// Package server implements the OSS HTTP protocol on top of internal/store:
// an http.Handler that routes path-style and virtual-host-style requests,
// authenticates them with internal/auth, authorizes them in one place, and
// answers with the XML documents and headers the official SDKs expect.
package server

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ossctl/ossctl/internal/auth"
	"github.com/ossctl/ossctl/internal/pop"
	"github.com/ossctl/ossctl/internal/store"
)

// Config wires a Server to its storage, credentials and identity.
type Config struct {
	Store     *store.Store
	Lookup    auth.Lookup      // credentials
	AccountID string           // owner id of everything (root account uid), shown in Owner elements
	Region    string           // e.g. "cn-hangzhou"; Location = "oss-"+Region
	Domains   []string         // virtual-host base domains; "localhost" is always included
	Now       func() time.Time // nil = time.Now
	Logger    *slog.Logger     // nil = discard
	// StallTimeout aborts a request whose client sends no request-body
	// byte, or accepts no response byte, for this long: the blocked read
	// or write fails, the upload leaves nothing behind and the handler
	// returns. 0 means DefaultStallTimeout; a negative value disables it.
	StallTimeout time.Duration
	// POP serves the Alibaba Cloud RPC APIs (KMS, RAM, STS) on the same
	// endpoint; requests without a bucket that carry Action and Version go
	// to it. nil answers them 501 NotImplemented.
	POP http.Handler
	// MasterKey seals the data keys of SSE-OSS (AES256) objects; nil
	// refuses SSE-OSS with 501.
	MasterKey Sealer
	// KMS issues the data keys of SSE-KMS objects (in process, usually the
	// same *pop.Handler as POP); nil refuses SSE-KMS with 501.
	KMS KeyService
}

// Server is the OSS protocol handler.
type Server struct {
	store     *store.Store
	lookup    auth.Lookup
	accountID string
	region    string
	domains   []string
	now       func() time.Time
	log       *slog.Logger
	stall     time.Duration // 0 = disabled
	// pop serves POP RPC requests (KMS, RAM, STS) on the same endpoint.
	pop http.Handler
	// masterKey and kms wrap the data keys of encrypted objects.
	masterKey Sealer
	kms       KeyService
}

// New validates cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: Config.Store is required")
	}
	if cfg.Lookup == nil {
		return nil, errors.New("server: Config.Lookup is required")
	}
	if cfg.AccountID == "" {
		return nil, errors.New("server: Config.AccountID is required")
	}
	if cfg.Region == "" {
		return nil, errors.New("server: Config.Region is required")
	}
	s := &Server{
		store:     cfg.Store,
		lookup:    cfg.Lookup,
		accountID: cfg.AccountID,
		region:    cfg.Region,
		now:       cfg.Now,
		log:       cfg.Logger,
	}
	if s.now == nil {
		s.now = time.Now
	}
	switch {
	case cfg.StallTimeout == 0:
		s.stall = DefaultStallTimeout
	case cfg.StallTimeout > 0:
		s.stall = cfg.StallTimeout
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	seen := map[string]bool{}
	for _, d := range append([]string{"localhost"}, cfg.Domains...) {
		d = strings.ToLower(strings.Trim(strings.TrimSpace(d), "."))
		if d == "" || seen[d] {
			continue
		}
		if strings.ContainsAny(d, "/:@ ") {
			return nil, fmt.Errorf("server: invalid virtual-host domain %q", d)
		}
		seen[d] = true
		s.domains = append(s.domains, d)
	}
	s.pop = cfg.POP
	s.masterKey, s.kms = cfg.MasterKey, cfg.KMS
	if s.kms != nil && isNilPointer(s.kms) {
		s.kms = nil
	}
	if s.pop == nil {
		s.pop = http.HandlerFunc(s.popNotImplemented)
	}
	return s, nil
}

// isNilPointer reports an interface holding a typed nil pointer.
func isNilPointer(v any) bool {
	p, ok := v.(*pop.Handler)
	return ok && p == nil
}

// location is the bucket location string, e.g. "oss-cn-hangzhou".
func (s *Server) location() string { return "oss-" + s.region }

// reqCtx is the state of one request.
type reqCtx struct {
	s         *Server
	w         *responseWriter
	r         *http.Request
	requestID string
	now       time.Time
	query     url.Values
	bucket    string
	key       string
	vhost     bool
	principal *auth.Principal
	errCode   string
	denyWhy   string
}

func (rc *reqCtx) hostID() string {
	if rc.r.Host != "" {
		return rc.r.Host
	}
	return "localhost"
}

// closeReader closes a store reader once the response no longer needs it.
// Closing read-only blob files cannot change a response that is already
// decided, so a failure is logged rather than returned.
func (rc *reqCtx) closeReader(rd io.Closer) {
	if err := rd.Close(); err != nil {
		rc.s.log.Warn("closing object reader", "request_id", rc.requestID, "bucket", rc.bucket, "key", rc.key, "err", err)
	}
}

// newRequestID returns 24 uppercase hex characters: 4 bytes of Unix time
// and 8 random bytes, like the ids OSS issues.
func newRequestID(now time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(now.Unix()&math.MaxUint32)) // low 32 bits, as OSS
	_, _ = rand.Read(b[4:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	now := s.now()
	rw := &responseWriter{ResponseWriter: w}
	if s.stall > 0 {
		g := &stallGuard{ctl: http.NewResponseController(w), timeout: s.stall}
		rw.guard = g
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &stallBody{ReadCloser: r.Body, g: g}
			g.bodyPending = true
		}
		defer g.release()
	}
	rc := &reqCtx{s: s, w: rw, r: r, now: now, requestID: newRequestID(now)}
	h := w.Header()
	h.Set("x-oss-request-id", rc.requestID)
	h.Set("Server", "AliyunOSS")
	h.Set("Date", now.UTC().Format(http.TimeFormat))

	defer func() {
		if p := recover(); p != nil {
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(p)
			}
			s.log.Error("panic serving request", "request_id", rc.requestID, "method", r.Method,
				"bucket", rc.bucket, "key", rc.key, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if !rw.wroteHeader {
				rc.writeError(newError(http.StatusInternalServerError, "InternalError",
					"We encountered an internal error. Please try again."))
			} else {
				rc.errCode = "InternalError"
			}
		}
		s.accessLog(rc, time.Since(started))
	}()

	if err := s.serve(rc); err != nil {
		rc.fail(err)
	}
}

// fail converts err and writes it unless a response has started.
func (rc *reqCtx) fail(err error) {
	if rc.w.writeErr != nil {
		// The client stopped reading or went away mid-response: nothing
		// can be sent and it is not a server fault.
		rc.errCode = "ClientGone"
		rc.s.log.Info("response aborted", "request_id", rc.requestID, "method", rc.r.Method,
			"bucket", rc.bucket, "key", rc.key, "err", rc.w.writeErr)
		return
	}
	e, fault := rc.toAPIError(err)
	if fault {
		rc.s.log.Error("request failed", "request_id", rc.requestID, "method", rc.r.Method,
			"bucket", rc.bucket, "key", rc.key, "err", err)
	}
	if rc.w.wroteHeader {
		// The body is already streaming: the status cannot change. Leave the
		// short body to make the client see a broken transfer.
		rc.errCode = e.Code
		return
	}
	rc.writeError(e)
}

func (s *Server) accessLog(rc *reqCtx, d time.Duration) {
	status := rc.w.status
	if status == 0 {
		status = http.StatusOK
	}
	attrs := []any{
		"method", rc.r.Method,
		"bucket", rc.bucket,
		"key", rc.key,
		"status", status,
		"bytes", rc.w.bytes,
		"duration", d,
		"request_id", rc.requestID,
		"remote", rc.r.RemoteAddr,
	}
	if rc.principal != nil {
		attrs = append(attrs, "access_key_id", rc.principal.AccessKeyID)
	}
	if rc.errCode != "" {
		attrs = append(attrs, "error", rc.errCode)
	}
	if rc.denyWhy != "" {
		attrs = append(attrs, "deny_reason", rc.denyWhy)
	}
	s.log.Info("request", attrs...)
}

// responseWriter records the status and body size for the access log and
// keeps the write deadline moving while bytes flow.
type responseWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
	guard       *stallGuard // nil when stall detection is off
	writeErr    error       // first failed body write (client gone or stalled)
}

func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.status, w.wroteHeader = code, true
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.guard != nil {
		w.guard.beforeWrite()
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	if err != nil && w.writeErr == nil {
		w.writeErr = err
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// popNotImplemented answers POP RPC requests when no Config.POP handler
// is configured.
func (s *Server) popNotImplemented(w http.ResponseWriter, r *http.Request) {
	rc := &reqCtx{s: s, w: &responseWriter{ResponseWriter: w}, r: r, requestID: w.Header().Get("x-oss-request-id")}
	rc.writeError(errNotImplemented("The POP RPC API (KMS, RAM, STS)"))
}

// serve routes, authenticates and dispatches one request.
func (s *Server) serve(rc *reqCtx) error {
	r := rc.r
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return errInvalidArgument("query", r.URL.RawQuery, "The query string is not properly encoded.")
	}
	rc.query = q
	if err := s.route(rc); err != nil {
		return err
	}
	if rc.bucket == "" && !rc.vhost && isPOPRequest(r, q) {
		s.pop.ServeHTTP(rc.w, r)
		return nil
	}
	if rc.bucket != "" {
		if err := checkBucketName(rc.bucket); err != nil {
			return err
		}
	}
	if rc.key != "" {
		if err := checkKey(rc.key); err != nil {
			return err
		}
	}
	if err := checkSingularHeaders(r.Header); err != nil {
		return err
	}
	p, err := auth.Verify(r, rc.bucket, rc.key, rc.now, s.lookup)
	if err != nil {
		var ae *auth.Error
		if errors.As(err, &ae) {
			return ae
		}
		return fmt.Errorf("verifying request signature: %w", err)
	}
	rc.principal = p
	return s.dispatch(rc)
}

// route resolves bucket and key from Host and the escaped path. The path
// is decoded exactly once; nothing is cleaned.
func (s *Server) route(rc *reqCtx) error {
	r := rc.r
	esc := r.URL.EscapedPath()
	if !strings.HasPrefix(esc, "/") {
		return errInvalidArgument("path", esc, "The request path must start with '/'.")
	}
	esc = esc[1:]
	if b, ok := s.virtualHostBucket(r.Host); ok {
		key, err := url.PathUnescape(esc)
		if err != nil {
			return errInvalidArgument("path", r.URL.EscapedPath(), "The request path is not properly percent-encoded.")
		}
		rc.bucket, rc.key, rc.vhost = b, key, true
		return nil
	}
	if esc == "" {
		return nil
	}
	bEsc, kEsc, _ := strings.Cut(esc, "/")
	b, err1 := url.PathUnescape(bEsc)
	k, err2 := url.PathUnescape(kEsc)
	if err1 != nil || err2 != nil {
		return errInvalidArgument("path", r.URL.EscapedPath(), "The request path is not properly percent-encoded.")
	}
	if b == "" {
		// "//key": an empty bucket name.
		return newError(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.").with("BucketName", "")
	}
	rc.bucket, rc.key = b, k
	return nil
}

// virtualHostBucket returns the bucket when host is <bucket>.<domain>.
func (s *Server) virtualHostBucket(host string) (string, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range s.domains {
		if b, ok := strings.CutSuffix(host, "."+d); ok && b != "" {
			return b, true
		}
	}
	return "", false
}

// isPOPRequest reports whether r is an Alibaba Cloud RPC call (KMS, RAM,
// STS): Action and Version in the query or a form body.
func isPOPRequest(r *http.Request, q url.Values) bool {
	if q.Get("Action") != "" && q.Get("Version") != "" {
		return true
	}
	if r.Method != http.MethodPost {
		return false
	}
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
		return false
	}
	// Parse the (bounded) form so the POP handler finds it in r.PostForm.
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return false
	}
	return r.PostForm.Get("Action") != "" && r.PostForm.Get("Version") != ""
}
