// Package iostreams is the only way ossctl commands reach stdin, stdout and stderr. It knows which
// ends are terminals (with overrides for tests), whether the user may be prompted, and builds the
// progress bars that appear only when a person is watching.
package iostreams

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// IOStreams holds the three standard streams and what is known about them.
type IOStreams struct {
	// In is standard input. Read it through ReadLine/ReadPassword when prompting so that
	// buffered input is shared between prompts.
	In io.Reader
	// Out is standard output: data only.
	Out io.Writer
	// ErrOut is standard error: progress, warnings, prompts, errors.
	ErrOut io.Writer

	mu         sync.Mutex
	inReader   *bufio.Reader
	stdinTTY   bool
	stdoutTTY  bool
	stderrTTY  bool
	neverAsk   bool
	quiet      bool
	machine    bool
	termWidth  func() int
	passwordFn func(fd int) ([]byte, error)
}

// System returns streams bound to the process's stdin, stdout and stderr.
func System() *IOStreams {
	s := &IOStreams{
		In:         os.Stdin,
		Out:        os.Stdout,
		ErrOut:     os.Stderr,
		stdinTTY:   isTerminal(os.Stdin),
		stdoutTTY:  isTerminal(os.Stdout),
		stderrTTY:  isTerminal(os.Stderr),
		passwordFn: term.ReadPassword,
	}
	s.termWidth = func() int {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w > 0 {
			return w
		}
		return 80
	}
	return s
}

// Test returns streams backed by buffers, with every end reported as not a terminal. Flip the
// SetStdinTTY/SetStdoutTTY/SetStderrTTY overrides to exercise terminal behaviour.
func Test() (s *IOStreams, in *bytes.Buffer, out *bytes.Buffer, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	s = &IOStreams{In: in, Out: out, ErrOut: errOut, termWidth: func() int { return 80 }}
	return s, in, out, errOut
}

func isTerminal(f *os.File) bool {
	fd := f.Fd()
	return isatty.IsTerminal(fd) || isatty.IsCygwinTerminal(fd)
}

// IsStdinTTY reports whether standard input is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether standard output is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether standard error is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetStdinTTY overrides terminal detection for stdin (tests).
func (s *IOStreams) SetStdinTTY(v bool) { s.stdinTTY = v }

// SetStdoutTTY overrides terminal detection for stdout (tests).
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// SetStderrTTY overrides terminal detection for stderr (tests).
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }

// SetNeverPrompt forbids interactive prompts even on a terminal.
func (s *IOStreams) SetNeverPrompt(v bool) { s.neverAsk = v }

// SetQuiet suppresses chatter (summaries, "Created …" lines, progress).
func (s *IOStreams) SetQuiet(v bool) { s.quiet = v }

// IsQuiet reports whether --quiet is in effect.
func (s *IOStreams) IsQuiet() bool { return s.quiet }

// SetMachineOutput records that output is machine-readable (--output json): no progress bars.
func (s *IOStreams) SetMachineOutput(v bool) { s.machine = v }

// IsMachineOutput reports whether machine-readable output was requested.
func (s *IOStreams) IsMachineOutput() bool { return s.machine }

// CanPrompt reports whether the user can be asked questions: stdin and stderr are terminals and
// prompting was not disabled.
func (s *IOStreams) CanPrompt() bool {
	return !s.neverAsk && s.stdinTTY && s.stderrTTY
}

// ProgressEnabled reports whether progress bars are drawn: stderr is a terminal and neither quiet
// nor machine output is in effect.
func (s *IOStreams) ProgressEnabled() bool {
	return s.stderrTTY && !s.quiet && !s.machine
}

// TerminalWidth returns the width of the terminal on stdout, or 80.
func (s *IOStreams) TerminalWidth() int {
	if s.termWidth == nil {
		return 80
	}
	return s.termWidth()
}

func (s *IOStreams) reader() *bufio.Reader {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inReader == nil {
		s.inReader = bufio.NewReader(s.In)
	}
	return s.inReader
}

// ReadLine reads one line from stdin without its line ending. io.EOF is returned only when
// nothing at all was read.
func (s *IOStreams) ReadLine() (string, error) {
	line, err := s.reader().ReadString('\n')
	if err != nil && (!errors.Is(err, io.EOF) || line == "") {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// Prompt writes label to stderr and reads one line of answer. An empty answer returns def.
func (s *IOStreams) Prompt(label, def string) (string, error) {
	if def != "" {
		s.Eprintf("%s [%s]: ", label, def)
	} else {
		s.Eprintf("%s: ", label)
	}
	ans, err := s.ReadLine()
	if err != nil {
		return "", fmt.Errorf("reading answer: %w", err)
	}
	ans = strings.TrimSpace(ans)
	if ans == "" {
		return def, nil
	}
	return ans, nil
}

// ReadPassword writes label to stderr and reads a secret. On a terminal it turns echo off;
// otherwise (a pipe) it reads one line. The value is never echoed.
func (s *IOStreams) ReadPassword(label string) (string, error) {
	if label != "" {
		s.Eprintf("%s: ", label)
	}
	if f, ok := s.In.(*os.File); ok && s.stdinTTY && s.passwordFn != nil {
		b, err := s.passwordFn(int(f.Fd()))
		s.Eprintln()
		if err != nil {
			return "", fmt.Errorf("reading secret: %w", err)
		}
		return string(b), nil
	}
	line, err := s.ReadLine()
	if label != "" && s.stderrTTY {
		s.Eprintln()
	}
	if err != nil {
		return "", fmt.Errorf("reading secret: %w", err)
	}
	return line, nil
}

// ProgressThrottle is how often a progress bar redraws at most.
const ProgressThrottle = 65 * time.Millisecond

// NewProgressBar returns a byte-counting progress bar drawn on stderr. It is visible only when
// ProgressEnabled; a hidden bar ignores Add, so never use a bar to count bytes.
func (s *IOStreams) NewProgressBar(total int64, desc string) *progressbar.ProgressBar {
	w := s.ErrOut
	visible := s.ProgressEnabled()
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetVisibility(visible),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(ProgressThrottle),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionOnCompletion(func() {
			if visible {
				_, _ = fmt.Fprintln(w) // the bar's own writes to stderr are unchecked too
			}
		}),
	)
}
