// Package transfer is ossctl's client-side transfer engine: walkers over local trees and OSS
// prefixes with include/exclude filters, a bounded worker pool with per-file events and a
// summary, an atomic byte and file accounter, and the single-object operations (upload,
// download, server-side copy, stream to and from stdin/stdout) that it drives part by part
// above a threshold with the SDK's low-level multipart calls: parallel parts, resumable JSON
// checkpoints, CRC-64 verified end to end, shared bandwidth limits and retries with backoff.
// Commands (cp, sync, rm -r, set-meta -r, set-acl -r) plan tasks; the engine runs them.
package transfer

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Event names.
const (
	EventStarted = "started"
	EventDone    = "done"
	EventSkipped = "skipped"
	EventFailed  = "failed"
	EventSummary = "summary"
)

// Task is one unit of work: transfer one file, or change one object.
type Task struct {
	// Source and Destination name the task in events, e.g. "./a.txt" and "oss://b/a.txt".
	// Destination may be empty for in-place changes.
	Source      string
	Destination string
	// Size is the expected number of bytes (0 when not applicable).
	Size int64
	// Action names what the task does in events ("upload", "download", "copy", "delete");
	// empty leaves it out.
	Action string
	// Run does the work. It reports progress through l and returns what happened. Errors
	// should already name the task ("copying ./a.txt to oss://b/a.txt: ...").
	Run func(ctx context.Context, l *FileListener) (Outcome, error)
}

// Outcome is what a successful Task reports.
type Outcome struct {
	// Skipped means nothing needed doing; Reason says why.
	Skipped bool
	Reason  string
	// CRC64 is the object's x-oss-hash-crc64ecma, when known.
	CRC64 string
	// Size overrides Task.Size when the real size turned out different (nil: keep it).
	Size *int64
	// Encrypted, Decrypted and CSEFormat report client-side encryption (see Result).
	Encrypted, Decrypted, CSEFormat string
}

// Outcome returns the Outcome of a finished transfer: its CRC-64, size and encryption.
func (r Result) Outcome() Outcome {
	size := r.Size
	return Outcome{CRC64: r.CRC64, Size: &size, Encrypted: r.Encrypted, Decrypted: r.Decrypted, CSEFormat: r.CSEFormat}
}

// Event reports one finished task. Commands print it (JSON Lines with --output json).
type Event struct {
	Event       string `json:"event"`
	Action      string `json:"action,omitempty"`
	Source      string `json:"source"`
	Destination string `json:"destination,omitempty"`
	Size        int64  `json:"size"`
	CRC64       string `json:"crc64,omitempty"`
	DurationMs  int64  `json:"durationMs"`
	Reason      string `json:"reason,omitempty"`
	// Encrypted is the encryption spec of a client-side encrypted upload ("kms:alias/x");
	// Decrypted names the master key that decrypted a download; CSEFormat is "sdk" or
	// "authenticated" with either.
	Encrypted string `json:"encrypted,omitempty"`
	Decrypted string `json:"decrypted,omitempty"`
	CSEFormat string `json:"cseFormat,omitempty"`
	Error     string `json:"error,omitempty"`
	// Err is the task's error for failed events.
	Err error `json:"-"`
}

// Summary describes a finished batch.
type Summary struct {
	Event      string `json:"event"`
	Done       int64  `json:"done"`
	Skipped    int64  `json:"skipped"`
	Failed     int64  `json:"failed"`
	Bytes      int64  `json:"bytes"`
	DurationMs int64  `json:"durationMs"`
	// FirstErr is the first failed task's error.
	FirstErr error `json:"-"`
}

// Options configure Run.
type Options struct {
	// Jobs is how many tasks run at once (at least 1).
	Jobs int
	// FailFast stops submitting and cancels running tasks at the first failure.
	FailFast bool
	// Accounter receives the counts; nil uses a private one.
	Accounter *Accounter
	// OnEvent is called once per finished task, never concurrently.
	OnEvent func(Event)
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Started emits an EventStarted event when a task begins.
	Started bool
	// Fatal reports errors that make the rest of the batch pointless (a missing bucket, bad
	// credentials): the first one stops the batch as FailFast would.
	Fatal func(error) bool
}

// Submit queues a task; it blocks while all workers are busy and fails once the batch is
// canceled (by the caller's context or by FailFast).
type Submit func(Task) error

// ErrStopped is returned by Submit after FailFast stopped the batch.
var ErrStopped = errors.New("batch stopped after a failure")

// Run runs the tasks that produce submits, at most opts.Jobs at once, and returns the summary.
//
// The error is the context's error when ctx was canceled, the first task error with FailFast,
// or produce's own error; a batch in which some tasks failed otherwise returns nil and reports
// the failures in the summary (Failed, FirstErr) and through OnEvent.
func Run(ctx context.Context, opts Options, produce func(ctx context.Context, submit Submit) error) (Summary, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	acc := opts.Accounter
	if acc == nil {
		acc = &Accounter{}
	}
	jobs := max(opts.Jobs, 1)
	start := now()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		g        errgroup.Group
		mu       sync.Mutex
		sum      = Summary{Event: EventSummary}
		failErr  error
		stopOnce sync.Once
	)
	g.SetLimit(jobs)
	emit := func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Event {
		case EventDone:
			sum.Done++
			sum.Bytes += e.Size
		case EventSkipped:
			sum.Skipped++
		case EventFailed:
			sum.Failed++
			if sum.FirstErr == nil {
				sum.FirstErr = e.Err
			}
		}
		if opts.OnEvent != nil {
			opts.OnEvent(e)
		}
	}
	submit := func(t Task) error {
		if err := runCtx.Err(); err != nil {
			if ctx.Err() == nil {
				return ErrStopped
			}
			return err
		}
		acc.Plan(t.Size)
		g.Go(func() error {
			if runCtx.Err() != nil {
				return nil // canceled while queued: neither done nor failed
			}
			l := acc.Listener()
			t0 := now()
			if opts.Started {
				emit(Event{Event: EventStarted, Action: t.Action, Source: t.Source, Destination: t.Destination, Size: t.Size})
			}
			acc.begin(t.Source)
			out, err := t.Run(runCtx, l)
			acc.end(t.Source)
			e := Event{Action: t.Action, Source: t.Source, Destination: t.Destination, Size: t.Size, DurationMs: now().Sub(t0).Milliseconds()}
			if out.Size != nil {
				e.Size = *out.Size
			}
			switch {
			case err != nil && runCtx.Err() != nil && errors.Is(err, runCtx.Err()):
				// Interrupted by the caller or by FailFast: not this task's failure.
				return nil
			case err != nil:
				acc.Failed()
				e.Event, e.Error, e.Err = EventFailed, err.Error(), err
				emit(e)
				if opts.FailFast || (opts.Fatal != nil && opts.Fatal(err)) {
					stopOnce.Do(func() {
						mu.Lock()
						failErr = err
						mu.Unlock()
						cancel()
					})
				}
			case out.Skipped:
				acc.Skipped(e.Size - l.Consumed())
				e.Event, e.Reason = EventSkipped, out.Reason
				e.CRC64 = out.CRC64
				emit(e)
			default:
				// Top the transferred bytes up to the size: some paths (server-side copy,
				// zero-byte objects) report no progress of their own.
				if rest := e.Size - l.Consumed(); rest > 0 {
					l.Set(e.Size)
				}
				acc.Done(e.Size)
				e.Event, e.CRC64 = EventDone, out.CRC64
				e.Encrypted, e.Decrypted, e.CSEFormat = out.Encrypted, out.Decrypted, out.CSEFormat
				emit(e)
			}
			return nil
		})
		return nil
	}
	perr := produce(runCtx, submit)
	_ = g.Wait()
	sum.DurationMs = now().Sub(start).Milliseconds()
	mu.Lock()
	defer mu.Unlock()
	switch {
	case ctx.Err() != nil:
		return sum, ctx.Err()
	case failErr != nil:
		return sum, failErr
	case perr != nil && !errors.Is(perr, ErrStopped):
		return sum, perr
	}
	return sum, nil
}
