package iostreams

import (
	"bytes"
	"errors"
	"testing"
)

// failAfter accepts n writes, then fails every later one.
type failAfter struct {
	n     int
	calls int
	buf   bytes.Buffer
}

var errBroken = errors.New("broken pipe")

func (f *failAfter) Write(p []byte) (int, error) {
	f.calls++
	if f.calls > f.n {
		return 0, errBroken
	}
	return f.buf.Write(p)
}

func TestStickyWriterKeepsFirstError(t *testing.T) {
	fw := &failAfter{n: 1}
	sw := NewStickyWriter(fw)
	sw.Printf("a=%d\n", 1)
	if sw.Err() != nil {
		t.Fatalf("Err after a good write = %v", sw.Err())
	}
	sw.Println("b")
	sw.Printf("c\n")
	if _, err := sw.Write([]byte("d\n")); !errors.Is(err, errBroken) {
		t.Fatalf("Write after failure = %v, want %v", err, errBroken)
	}
	if !errors.Is(sw.Err(), errBroken) {
		t.Fatalf("Err = %v, want %v", sw.Err(), errBroken)
	}
	if fw.calls != 2 {
		t.Fatalf("underlying writer called %d times, want 2 (writes after the failure are skipped)", fw.calls)
	}
	if got := fw.buf.String(); got != "a=1\n" {
		t.Fatalf("written %q", got)
	}
}

func TestEprintfGoesToStderrAndSurvivesFailure(t *testing.T) {
	s, _, out, errOut := Test()
	s.Eprintf("warning: %s\n", "x")
	s.Eprintln("done")
	if out.Len() != 0 || errOut.String() != "warning: x\ndone\n" {
		t.Fatalf("stdout %q stderr %q", out, errOut)
	}
	s.ErrOut = &failAfter{}
	s.Eprintf("dropped\n") // must not panic or block
}
