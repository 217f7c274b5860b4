package transfer

import (
	"fmt"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
)

// Bar is what Watch needs from a progress bar (a *progressbar.ProgressBar from
// iostreams.NewProgressBar satisfies it). The bar only displays; the Accounter counts.
type Bar interface {
	ChangeMax64(int64)
	Describe(string)
	Set64(int64) error
	Clear() error
	// Finish fills the bar and ends its line; Exit ends its line keeping the bar as it is.
	Finish() error
	Exit() error
}

// Display redraws a Bar from an Accounter until stopped. A nil *Display is valid and does
// nothing, so callers need not check whether a bar is shown.
type Display struct {
	acc      *Accounter
	bar      Bar
	mu       sync.Mutex // held while drawing, and by Hold
	done     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
	lastMax  int64
	lastDesc string
	finished bool
}

// Watch copies the accounter's totals into bar every interval until Stop is called.
func Watch(acc *Accounter, bar Bar, interval time.Duration) *Display {
	d := &Display{acc: acc, bar: bar, done: make(chan struct{}), lastMax: -2}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-d.done:
				return
			case <-t.C:
				d.mu.Lock()
				d.draw(false)
				d.mu.Unlock()
			}
		}
	}()
	return d
}

// draw copies the accounter into the bar. Until final, the bar is kept one byte short of its
// end: a progress bar that reaches its maximum finishes for good (it ends its line and stops
// redrawing), while the walker may still find files and the last file may still be completing.
func (d *Display) draw(final bool) {
	s := d.acc.Snapshot()
	if s.BytesPlanned != d.lastMax {
		d.lastMax = s.BytesPlanned
		d.bar.ChangeMax64(max(s.BytesPlanned, 1))
	}
	// Describe before Set64: a bar that reaches its end draws its last line then.
	desc := describe(s, d.acc.Active())
	if desc != d.lastDesc {
		d.lastDesc = desc
		d.bar.Describe(desc)
	}
	limit := max(s.BytesPlanned, 1)
	if !final {
		limit--
	}
	_ = d.bar.Set64(min(s.BytesTransferred, limit))
}

// describe renders the bar's description: files finished of files found, bytes moved of bytes
// found, and the files in flight (at most two names, shortened). The bar itself adds the
// percentage, the rate and the time left.
func describe(s Stats, active []string) string {
	finished := s.FilesDone + s.FilesSkipped + s.FilesFailed
	desc := fmt.Sprintf("%d/%d files %s/%s", finished, s.FilesPlanned,
		humanize.IBytes(uint64(max(s.BytesTransferred, 0))), humanize.IBytes(uint64(max(s.BytesPlanned, 0))))
	if s.FilesFailed > 0 {
		desc += fmt.Sprintf(" (%d failed)", s.FilesFailed)
	}
	for i, a := range active {
		if i == 2 {
			desc += fmt.Sprintf(" +%d", len(active)-2)
			break
		}
		desc += " " + shorten(a, 28)
	}
	return desc
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n+1:])
}

// Hold clears the bar and keeps it from redrawing until the returned function is called, so
// that a prompt or an error line can be written to the same terminal without interleaving.
func (d *Display) Hold() (release func()) {
	if d == nil {
		return func() {}
	}
	d.mu.Lock()
	if !d.finished {
		_ = d.bar.Clear()
	}
	return d.mu.Unlock
}

// Stop draws the final state and stops redrawing. A batch whose files all finished fills the
// bar; an interrupted one leaves it where it stopped. It may be called more than once.
func (d *Display) Stop() {
	if d == nil {
		return
	}
	d.once.Do(func() {
		close(d.done)
		d.wg.Wait()
		d.mu.Lock()
		defer d.mu.Unlock()
		s := d.acc.Snapshot()
		complete := s.FilesDone+s.FilesSkipped+s.FilesFailed >= s.FilesPlanned
		d.draw(complete)
		if complete {
			_ = d.bar.Finish()
		} else {
			_ = d.bar.Exit()
		}
		d.finished = true
	})
}
