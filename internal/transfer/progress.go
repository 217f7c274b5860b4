package transfer

import (
	"fmt"
	"sync"
	"time"
)

// Bar is what Watch needs from a progress bar (a *progressbar.ProgressBar from
// iostreams.NewProgressBar satisfies it). The bar only displays; the Accounter counts.
type Bar interface {
	ChangeMax64(int64)
	Describe(string)
	Set64(int64) error
	Clear() error
	Finish() error
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
				d.draw()
				d.mu.Unlock()
			}
		}
	}()
	return d
}

func (d *Display) draw() {
	s := d.acc.Snapshot()
	if s.BytesPlanned != d.lastMax {
		d.lastMax = s.BytesPlanned
		d.bar.ChangeMax64(max(s.BytesPlanned, 1))
	}
	_ = d.bar.Set64(min(s.BytesTransferred, max(s.BytesPlanned, 1)))
	desc := describe(s, d.acc.Active())
	if desc != d.lastDesc {
		d.lastDesc = desc
		d.bar.Describe(desc)
	}
}

// describe renders the bar's description: files finished of files found, and the files in
// flight (at most two names, shortened).
func describe(s Stats, active []string) string {
	finished := s.FilesDone + s.FilesSkipped + s.FilesFailed
	desc := fmt.Sprintf("%d/%d files", finished, s.FilesPlanned)
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

// Stop draws the final state, finishes the bar and stops redrawing. It may be called more than
// once.
func (d *Display) Stop() {
	if d == nil {
		return
	}
	d.once.Do(func() {
		close(d.done)
		d.wg.Wait()
		d.mu.Lock()
		defer d.mu.Unlock()
		d.draw()
		_ = d.bar.Finish()
		d.finished = true
	})
}
