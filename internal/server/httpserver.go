package server

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// Limits of the HTTP server built by NewHTTPServer.
const (
	// MaxHeaderBytes bounds the request line plus header block; a larger
	// one is answered 431 Request Header Fields Too Large by net/http
	// before the handler runs.
	MaxHeaderBytes = 64 << 10
	// ReadHeaderTimeout bounds the time a client may take to send the
	// request line and headers (a slow-header client is cut off).
	ReadHeaderTimeout = 30 * time.Second
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout = 2 * time.Minute
	// DefaultStallTimeout is the default Config.StallTimeout.
	DefaultStallTimeout = 2 * time.Minute
)

// NewHTTPServer returns the http.Server `ossctl serve` runs handler in:
// bounded header size and header read time and an idle keep-alive limit.
// There is deliberately no ReadTimeout or WriteTimeout (they would cap the
// duration of a whole upload or download); a stalled body is cut off by the
// handler's per-read idle deadline instead (Config.StallTimeout).
func NewHTTPServer(handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// stallGuard pushes a connection's read and write deadlines forward while
// body bytes keep flowing, so a client that stops sending (or stops
// receiving) for longer than timeout makes the blocked Read or Write fail
// instead of holding the handler forever. It refreshes a deadline at most
// every timeout/8, so the effective idle limit lies between 7/8 and all of
// timeout.
type stallGuard struct {
	ctl     *http.ResponseController
	timeout time.Duration

	readArmed, writeArmed time.Time
	readOff, writeOff     bool // the connection does not support deadlines
	writeUsed             bool
	bodyPending           bool // a request body exists and has not reached EOF
}

// refresh pushes one deadline out when the last push is older than
// timeout/8; it reports whether it set the deadline.
func (g *stallGuard) refresh(armed *time.Time, off *bool, set func(time.Time) error) bool {
	if *off {
		return false
	}
	now := time.Now()
	if now.Sub(*armed) < g.timeout/8 {
		return false
	}
	if err := set(now.Add(g.timeout)); err != nil {
		*off = true // e.g. http.ErrNotSupported from a test recorder
		return false
	}
	*armed = now
	return true
}

func (g *stallGuard) beforeRead() {
	g.refresh(&g.readArmed, &g.readOff, g.ctl.SetReadDeadline)
}

// bodyDone lifts the read deadline once the body has been read to its end:
// net/http then keeps a background read pending on the connection (to
// notice a client hang-up) and a deadline hitting it would cancel the
// request's context while the handler is still committing.
func (g *stallGuard) bodyDone() {
	g.bodyPending = false
	if g.readOff || g.readArmed.IsZero() {
		return
	}
	_ = g.ctl.SetReadDeadline(time.Time{})
	g.readArmed = time.Time{}
}

func (g *stallGuard) beforeWrite() {
	if g.refresh(&g.writeArmed, &g.writeOff, g.ctl.SetWriteDeadline) {
		g.writeUsed = true
	}
}

// release clears the deadlines this guard set, so nothing it armed outlives
// the request on a kept-alive connection (net/http resets the read deadline
// for the next request itself, but not the write deadline).
func (g *stallGuard) release() {
	if g.bodyPending && !g.readOff {
		// net/http drains up to 256 KiB of an unread body after the
		// handler to keep the connection; bound that wait too, or a client
		// that stalls after an early error response holds the connection
		// forever.
		_ = g.ctl.SetReadDeadline(time.Now().Add(g.timeout))
	}
	if g.writeUsed {
		_ = g.ctl.SetWriteDeadline(time.Time{})
		g.writeUsed = false
		g.writeArmed = time.Time{}
	}
}

// stallBody is a request body whose reads are guarded by a stallGuard.
type stallBody struct {
	io.ReadCloser
	g *stallGuard
}

func (b *stallBody) Read(p []byte) (int, error) {
	b.g.beforeRead()
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.g.bodyDone()
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		err = &stallError{err: err}
	}
	return n, err
}

// stallError is a body read that timed out because the client sent nothing
// for the stall timeout.
type stallError struct{ err error }

func (e *stallError) Error() string { return "request body stalled: " + e.err.Error() }
func (e *stallError) Unwrap() error { return e.err }

// errRequestTimeout is the OSS answer to a stalled upload.
func errRequestTimeout() *apiError {
	return newError(http.StatusBadRequest, "RequestTimeout",
		"Your socket connection to the server was not read from or written to within the timeout period.")
}
