package iostreams

import (
	"fmt"
	"io"
)

// Eprintf writes a message for the user (a warning, a prompt, a "Removed …" line) to ErrOut.
// A failed write is dropped on purpose: stderr is where failures are reported, so nothing is
// left to report it on, and chatter must not turn a command that did its work into a failure.
// Data for stdout goes through a StickyWriter (or the output package) instead, whose errors
// the command returns.
func (s *IOStreams) Eprintf(format string, a ...any) {
	_, _ = fmt.Fprintf(s.ErrOut, format, a...)
}

// Eprintln is Eprintf with fmt.Println formatting.
func (s *IOStreams) Eprintln(a ...any) {
	_, _ = fmt.Fprintln(s.ErrOut, a...)
}

// StickyWriter renders a block of output whose write errors matter. It keeps the first write
// error and skips every later write (the rule bufio.Writer follows), so a caller formats all
// its lines and checks Err once at the end.
type StickyWriter struct {
	w   io.Writer
	err error
}

// NewStickyWriter returns a StickyWriter that writes to w.
func NewStickyWriter(w io.Writer) *StickyWriter { return &StickyWriter{w: w} }

// Write implements io.Writer. After a failure it writes nothing and returns the first error.
func (sw *StickyWriter) Write(p []byte) (int, error) {
	if sw.err != nil {
		return 0, sw.err
	}
	n, err := sw.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	sw.err = err
	return n, err
}

// Printf formats like fmt.Printf into the writer.
func (sw *StickyWriter) Printf(format string, a ...any) {
	if sw.err == nil {
		_, _ = fmt.Fprintf(sw, format, a...) // the error is kept in sw.err
	}
}

// Println formats like fmt.Println into the writer.
func (sw *StickyWriter) Println(a ...any) {
	if sw.err == nil {
		_, _ = fmt.Fprintln(sw, a...) // the error is kept in sw.err
	}
}

// Err returns the first write error, or nil.
func (sw *StickyWriter) Err() error { return sw.err }
