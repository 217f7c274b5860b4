package transfer

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// Accounter counts the files and bytes of a batch. It is safe for concurrent use: walkers add
// planned work, the SDK's progress listeners add transferred bytes, and the engine records each
// file's outcome. Progress bars and summaries only read it.
type Accounter struct {
	filesPlanned atomic.Int64
	filesDone    atomic.Int64
	filesSkipped atomic.Int64
	filesFailed  atomic.Int64

	bytesPlanned     atomic.Int64
	bytesTransferred atomic.Int64
	bytesDone        atomic.Int64

	activeMu sync.Mutex
	active   map[string]int
}

// begin records that a file started; end that it finished. Active lists the running ones.
func (a *Accounter) begin(name string) {
	a.activeMu.Lock()
	defer a.activeMu.Unlock()
	if a.active == nil {
		a.active = map[string]int{}
	}
	a.active[name]++
}

func (a *Accounter) end(name string) {
	a.activeMu.Lock()
	defer a.activeMu.Unlock()
	if a.active[name] <= 1 {
		delete(a.active, name)
		return
	}
	a.active[name]--
}

// Active returns the names of the files being transferred, sorted.
func (a *Accounter) Active() []string {
	a.activeMu.Lock()
	defer a.activeMu.Unlock()
	out := make([]string, 0, len(a.active))
	for n := range a.active {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Stats is a consistent-enough snapshot of an Accounter (each field is read atomically).
type Stats struct {
	// FilesPlanned is the number of files discovered so far.
	FilesPlanned int64
	// FilesDone, FilesSkipped and FilesFailed count finished files by outcome.
	FilesDone    int64
	FilesSkipped int64
	FilesFailed  int64
	// BytesPlanned is the total size of the files discovered so far.
	BytesPlanned int64
	// BytesTransferred counts bytes moved so far, including partial and resumed files.
	BytesTransferred int64
	// BytesDone is the total size of the files that completed.
	BytesDone int64
}

// Plan records a file of the given size that is about to be transferred.
func (a *Accounter) Plan(size int64) {
	a.filesPlanned.Add(1)
	if size > 0 {
		a.bytesPlanned.Add(size)
	}
}

// AddTransferred records n bytes moved.
func (a *Accounter) AddTransferred(n int64) {
	if n != 0 {
		a.bytesTransferred.Add(n)
	}
}

// Done records a completed file of the given size.
func (a *Accounter) Done(size int64) {
	a.filesDone.Add(1)
	if size > 0 {
		a.bytesDone.Add(size)
	}
}

// Skipped records a file that needed no transfer. Its planned bytes count as transferred so
// that a progress bar still reaches its end.
func (a *Accounter) Skipped(size int64) {
	a.filesSkipped.Add(1)
	if size > 0 {
		a.bytesTransferred.Add(size)
	}
}

// Failed records a file that failed.
func (a *Accounter) Failed() { a.filesFailed.Add(1) }

// Snapshot returns the current counters.
func (a *Accounter) Snapshot() Stats {
	return Stats{
		FilesPlanned:     a.filesPlanned.Load(),
		FilesDone:        a.filesDone.Load(),
		FilesSkipped:     a.filesSkipped.Load(),
		FilesFailed:      a.filesFailed.Load(),
		BytesPlanned:     a.bytesPlanned.Load(),
		BytesTransferred: a.bytesTransferred.Load(),
		BytesDone:        a.bytesDone.Load(),
	}
}

// Listener returns an oss.ProgressListener for one file. It turns the SDK's cumulative
// ConsumedBytes into increments of the accounter's transferred bytes; a resumed transfer's
// started event counts the bytes already done by an earlier run.
func (a *Accounter) Listener() *FileListener { return &FileListener{acc: a} }

// FileListener feeds one file's progress into an Accounter. Create it with Accounter.Listener.
type FileListener struct {
	acc  *Accounter
	last atomic.Int64
}

// ProgressChanged implements oss.ProgressListener.
func (l *FileListener) ProgressChanged(e *oss.ProgressEvent) {
	if e == nil {
		return
	}
	switch e.EventType {
	case oss.TransferStartedEvent, oss.TransferDataEvent, oss.TransferCompletedEvent:
		l.Set(e.ConsumedBytes)
	}
}

// Set reports that the file has consumed n bytes in total. A value below the previous one means
// the SDK restarted the body (a retry); the new bytes count again, as they travel again.
func (l *FileListener) Set(n int64) {
	if l == nil {
		return
	}
	prev := l.last.Swap(n)
	if n >= prev {
		l.acc.AddTransferred(n - prev)
		return
	}
	l.acc.AddTransferred(n)
}

// Add reports n more bytes moved for this file (a retried request counts again: its bytes
// travel again).
func (l *FileListener) Add(n int64) {
	if l == nil || n == 0 {
		return
	}
	l.last.Add(n)
	l.acc.AddTransferred(n)
}

// Consumed returns the bytes this file has reported so far.
func (l *FileListener) Consumed() int64 {
	if l == nil {
		return 0
	}
	return l.last.Load()
}
