package cp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
	"github.com/ossctl/ossctl/internal/transfer"
)

// Reporter shows a batch to its user: JSON Lines events on stdout with --output json, errors
// on stderr otherwise, one overall progress bar on stderr when a person watches, and a final
// summary. cp and sync share it.
type Reporter struct {
	IO  *iostreams.IOStreams
	P   *output.Printer
	Acc *transfer.Accounter
	// NoEvents keeps stdout free of events (stdout carries data: cp ... -).
	NoEvents bool
	// Verb starts the text summary, e.g. "Copied".
	Verb string

	display  *transfer.Display
	mu       sync.Mutex
	printErr error
}

// NewReporter starts the progress bar when one should be shown.
func NewReporter(ios *iostreams.IOStreams, p *output.Printer, verb string) *Reporter {
	r := &Reporter{IO: ios, P: p, Acc: &transfer.Accounter{}, Verb: verb}
	if ios.ProgressEnabled() {
		r.display = transfer.Watch(r.Acc, ios.NewProgressBar(-1, ""), iostreams.ProgressThrottle)
	}
	return r
}

// Hold clears the progress bar while a prompt or message is written.
func (r *Reporter) Hold() func() { return r.display.Hold() }

// Warn prints a notice on stderr (not with --quiet).
func (r *Reporter) Warn(msg string) {
	if r.IO.IsQuiet() {
		return
	}
	release := r.Hold()
	defer release()
	r.IO.Eprintf("warning: %s\n", output.Text(msg))
}

// Line prints a JSON line (any value) or, in text mode, nothing; it records output errors.
func (r *Reporter) Line(v any) {
	if !r.P.IsJSON() || r.NoEvents {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.P.JSONLine(v); err != nil && r.printErr == nil {
		r.printErr = err
	}
}

// OnEvent is the engine's event callback. showErrors prints failures on stderr in text mode
// (for a single file the returned error says it instead).
func (r *Reporter) OnEvent(showErrors bool) func(transfer.Event) {
	return func(e transfer.Event) {
		if r.P.IsJSON() {
			r.Line(e)
			return
		}
		if e.Event == transfer.EventFailed && showErrors {
			release := r.Hold()
			r.IO.Eprintf("error: %s\n", output.Text(e.Error))
			release()
		}
	}
}

// Finish stops the bar, prints the summary and turns the batch's outcome into the command's
// error: the context's error when interrupted (exit 130), the failure itself for a single
// file, a PartialError when some files of a batch failed (exit 7).
func (r *Reporter) Finish(sum transfer.Summary, err error, op string, batch bool, extra string) error {
	r.display.Stop()
	if r.P.IsJSON() {
		r.Line(sum)
	} else if r.IO.IsStderrTTY() && !r.IO.IsQuiet() && err == nil && (batch || sum.Failed == 0) {
		msg := fmt.Sprintf("%s %d %s (%s) in %s", r.Verb, sum.Done, plural(sum.Done, "file", "files"),
			humanize.IBytes(uint64(max(sum.Bytes, 0))), (time.Duration(sum.DurationMs) * time.Millisecond).String())
		if sum.Skipped > 0 {
			msg += fmt.Sprintf(", %d skipped", sum.Skipped)
		}
		if sum.Failed > 0 {
			msg += fmt.Sprintf(", %d failed", sum.Failed)
		}
		r.IO.Eprintln(msg + extra)
	}
	r.mu.Lock()
	printErr := r.printErr
	r.mu.Unlock()
	switch {
	case err != nil:
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s: interrupted; run the same command again to resume: %w", op, err)
		}
		return err
	case printErr != nil:
		return printErr
	case sum.Failed > 0 && !batch:
		return sum.FirstErr
	case sum.Failed > 0:
		return &cmdutil.PartialError{Op: op, Failed: int(sum.Failed),
			Total: int(sum.Done + sum.Skipped + sum.Failed), First: sum.FirstErr}
	}
	return nil
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
