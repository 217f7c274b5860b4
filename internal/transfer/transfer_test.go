package transfer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/google/go-cmp/cmp"
)

func TestFileListener(t *testing.T) {
	acc := &Accounter{}
	l := acc.Listener()
	l.ProgressChanged(&oss.ProgressEvent{EventType: oss.TransferStartedEvent, ConsumedBytes: 100}) // resumed
	l.ProgressChanged(&oss.ProgressEvent{EventType: oss.TransferDataEvent, ConsumedBytes: 150})
	l.ProgressChanged(&oss.ProgressEvent{EventType: oss.TransferFailedEvent, ConsumedBytes: 999})
	l.ProgressChanged(&oss.ProgressEvent{EventType: oss.TransferDataEvent, ConsumedBytes: 20}) // restarted body
	l.ProgressChanged(nil)
	if got := acc.Snapshot().BytesTransferred; got != 170 {
		t.Errorf("transferred %d, want 170", got)
	}
	if l.Consumed() != 20 {
		t.Errorf("consumed %d", l.Consumed())
	}
}

func TestRunCountsAndEvents(t *testing.T) {
	acc := &Accounter{}
	var (
		running, peak atomic.Int32
		events        []Event
	)
	sum, err := Run(context.Background(), Options{Jobs: 3, Accounter: acc, OnEvent: func(e Event) { events = append(events, e) }},
		func(_ context.Context, submit Submit) error {
			for i := range 20 {
				err := submit(Task{Source: fmt.Sprint(i), Size: 10, Run: func(_ context.Context, l *FileListener) (Outcome, error) {
					n := running.Add(1)
					defer running.Add(-1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					time.Sleep(2 * time.Millisecond)
					switch i % 5 {
					case 0:
						return Outcome{}, fmt.Errorf("task %d failed", i)
					case 1:
						return Outcome{Skipped: true, Reason: "up to date"}, nil
					}
					l.Set(4) // partial progress; the engine tops it up
					return Outcome{CRC64: "1"}, nil
				}})
				if err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if peak.Load() > 3 || peak.Load() < 2 {
		t.Errorf("peak concurrency %d, want 2..3", peak.Load())
	}
	if sum.Done != 12 || sum.Skipped != 4 || sum.Failed != 4 || sum.Bytes != 120 || sum.FirstErr == nil || sum.Event != "summary" {
		t.Errorf("summary %+v", sum)
	}
	s := acc.Snapshot()
	want := Stats{FilesPlanned: 20, FilesDone: 12, FilesSkipped: 4, FilesFailed: 4, BytesPlanned: 200, BytesTransferred: 160, BytesDone: 120}
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
	if len(events) != 20 {
		t.Fatalf("%d events", len(events))
	}
	for _, e := range events {
		if e.Event == EventFailed && (e.Error == "" || e.Err == nil) {
			t.Errorf("failed event without error: %+v", e)
		}
	}
}

func TestRunFailFast(t *testing.T) {
	var started atomic.Int32
	boom := errors.New("boom")
	sum, err := Run(context.Background(), Options{Jobs: 1, FailFast: true}, func(_ context.Context, submit Submit) error {
		for i := range 10 {
			if err := submit(Task{Run: func(context.Context, *FileListener) (Outcome, error) {
				started.Add(1)
				if i == 2 {
					return Outcome{}, boom
				}
				return Outcome{}, nil
			}}); err != nil {
				if !errors.Is(err, ErrStopped) {
					t.Errorf("submit error %v, want ErrStopped", err)
				}
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want boom", err)
	}
	if n := started.Load(); n > 4 {
		t.Errorf("%d tasks started after the failure", n)
	}
	if sum.Failed != 1 {
		t.Errorf("summary %+v", sum)
	}
}

func TestRunCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var events int
	var started atomic.Int32
	_, err := Run(ctx, Options{Jobs: 2, OnEvent: func(Event) { events++ }}, func(_ context.Context, submit Submit) error {
		for {
			if err := submit(Task{Run: func(ctx context.Context, _ *FileListener) (Outcome, error) {
				if started.Add(1) == 2 {
					cancel() // both workers are busy: the producer is blocked in submit
				}
				<-ctx.Done()
				return Outcome{}, fmt.Errorf("copying: %w", ctx.Err())
			}}); err != nil {
				return err
			}
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v", err)
	}
	if events != 0 {
		t.Errorf("%d events for interrupted tasks, want none", events)
	}
}

func TestRunProducerError(t *testing.T) {
	listErr := errors.New("listing failed")
	sum, err := Run(context.Background(), Options{}, func(_ context.Context, submit Submit) error {
		if err := submit(Task{Run: func(context.Context, *FileListener) (Outcome, error) { return Outcome{}, nil }}); err != nil {
			return err
		}
		return listErr
	})
	if !errors.Is(err, listErr) || sum.Done != 1 {
		t.Errorf("err %v sum %+v", err, sum)
	}
}

func TestWalkLocal(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"b.txt", "a/z.txt", "a/b/c.txt", "sp ace/ü.txt"} {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "b.txt"), filepath.Join(root, "link.txt")); err != nil {
		t.Skip(err)
	}
	if err := os.Symlink(filepath.Join(root, "a"), filepath.Join(root, "dirlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "nowhere"), filepath.Join(root, "broken")); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(root, "fifo")
	mkfifo(t, fifo)
	if err := os.Symlink(fifo, filepath.Join(root, "fifolink")); err != nil {
		t.Fatal(err)
	}
	var rels, bad, special []string
	err := WalkLocal(context.Background(), root, func(f LocalFile, err error) error {
		var nr *NotRegularError
		if errors.As(err, &nr) {
			if nr.Kind() != "a named pipe" || nr.Path != f.Path || !strings.Contains(nr.Error(), f.Path+" is a named pipe") {
				t.Errorf("special file %s: %v (%s)", f.Rel, nr, nr.Kind())
			}
			special = append(special, f.Rel)
			return nil
		}
		if err != nil {
			bad = append(bad, f.Rel)
			return nil
		}
		if f.Size != int64(len(f.Rel)) && f.Rel != "link.txt" {
			t.Errorf("%s: size %d", f.Rel, f.Size)
		}
		rels = append(rels, f.Rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"a/b/c.txt", "a/z.txt", "b.txt", "link.txt", "sp ace/ü.txt"}, rels); d != "" {
		t.Errorf("walk (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"broken"}, bad); d != "" {
		t.Errorf("errors (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"fifo", "fifolink"}, special); d != "" {
		t.Errorf("special files reported (-want +got):\n%s", d)
	}
	var viaLink []string
	if err := WalkLocal(context.Background(), filepath.Join(root, "dirlink"), func(f LocalFile, err error) error {
		if err != nil {
			return err
		}
		viaLink = append(viaLink, f.Rel)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"b/c.txt", "z.txt"}, viaLink); d != "" {
		t.Errorf("walk through a linked root (-want +got):\n%s", d)
	}
	stop := errors.New("stop")
	if err := WalkLocal(context.Background(), root, func(LocalFile, error) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("callback error not returned: %v", err)
	}
}

func TestLocalRel(t *testing.T) {
	for _, tt := range []struct {
		key, base, want string
		ok              bool
	}{
		{"p/a.txt", "p/", "a.txt", true},
		{"p/d/e f+g.txt", "p/", "d/e f+g.txt", true},
		{"photos/x.jpg", "", "photos/x.jpg", true},
		{"p/../x", "p/", "", false},
		{"p/a/../../x", "p/", "", false},
		{"p//x", "p/", "", false},
		{"p/./x", "p/", "", false},
		{"p/x/", "p/", "", false},
		{"/etc/passwd", "", "", false},
		{"p/..", "p/", "", false},
		{"q/x", "p/", "", false},
	} {
		got, err := LocalRel(tt.key, tt.base)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("LocalRel(%q, %q) = %q, %v", tt.key, tt.base, got, err)
		}
	}
	if PrefixBase("photos/2026") != "photos/" || PrefixBase("photos") != "" || PrefixBase("a/b/") != "a/b/" {
		t.Error("PrefixBase")
	}
}

func TestParseMetaAndHeaders(t *testing.T) {
	m, err := ParseMeta([]string{"Owner:alice", "x-oss-meta-Tag:a:b", "empty:"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"owner": "alice", "tag": "a:b", "empty": ""}, m); d != "" {
		t.Error(d)
	}
	for _, bad := range [][]string{{"novalue"}, {":v"}, {"a b:v"}, {"a:1", "A:2"}, {"a:x\ny"}} {
		if _, err := ParseMeta(bad); err == nil {
			t.Errorf("ParseMeta(%q) accepted", bad)
		}
	}
	h := map[string][]string{"X-Oss-Meta-Owner": {"alice"}, "Content-Type": {"text/plain"}, "X-Oss-Meta-": {"x"}}
	if d := cmp.Diff(map[string]string{"owner": "alice"}, UserMeta(h)); d != "" {
		t.Error(d)
	}
	if got := len(KeptHeaderOptions(h, nil)); got != 1 {
		t.Errorf("%d kept headers, want 1", got)
	}
	if got := len(KeptHeaderOptions(h, map[string]bool{"Content-Type": true})); got != 0 {
		t.Errorf("%d kept headers, want 0", got)
	}
	if ContentTypeFor("a.html") != "text/html" || ContentTypeFor("noext", "k.json") != "application/json" || ContentTypeFor("x") != "application/octet-stream" {
		t.Error("ContentTypeFor")
	}
}

func TestPartSizeFor(t *testing.T) {
	c := &Config{}
	if got := c.PartSizeFor(1 << 30); got != DefaultPartSize {
		t.Errorf("1 GiB: %d", got)
	}
	if got := c.PartSizeFor(200 << 30); got*MaxParts < 200<<30 {
		t.Errorf("200 GiB: part %d too small for %d parts", got, MaxParts)
	}
	c.PartSize = 1
	if got := c.PartSizeFor(10); got != MinPartSize {
		t.Errorf("tiny part size: %d", got)
	}
	if c.Multipart(DefaultThreshold-1) || !c.Multipart(DefaultThreshold) {
		t.Error("default threshold")
	}
}

type fakeBar struct {
	mu       sync.Mutex
	max, cur int64
	desc     string
	finished bool
	exited   bool
	cleared  int
}

func (b *fakeBar) ChangeMax64(n int64) { b.mu.Lock(); b.max = n; b.mu.Unlock() }
func (b *fakeBar) Describe(s string)   { b.mu.Lock(); b.desc = s; b.mu.Unlock() }
func (b *fakeBar) Set64(n int64) error { b.mu.Lock(); b.cur = n; b.mu.Unlock(); return nil }
func (b *fakeBar) Finish() error       { b.mu.Lock(); b.finished = true; b.mu.Unlock(); return nil }
func (b *fakeBar) Clear() error        { b.mu.Lock(); b.cleared++; b.mu.Unlock(); return nil }
func (b *fakeBar) Exit() error         { b.mu.Lock(); b.exited = true; b.mu.Unlock(); return nil }

func TestWatch(t *testing.T) {
	acc := &Accounter{}
	bar := &fakeBar{}
	d := Watch(acc, bar, time.Millisecond)
	acc.Plan(100)
	acc.AddTransferred(40)
	acc.begin("dir/a.txt")
	time.Sleep(10 * time.Millisecond)
	bar.mu.Lock()
	if bar.desc != "0/1 files 40 B/100 B dir/a.txt" {
		t.Errorf("description %q", bar.desc)
	}
	bar.mu.Unlock()
	// Every byte moved but the file not yet finished (say, its multipart upload is being
	// completed): the bar stays short of its end, or it would finish for good.
	acc.AddTransferred(60)
	time.Sleep(10 * time.Millisecond)
	bar.mu.Lock()
	if bar.cur != 99 || bar.finished {
		t.Errorf("bar before the file finished: cur %d, finished %v", bar.cur, bar.finished)
	}
	bar.mu.Unlock()
	acc.AddTransferred(-60)
	acc.end("dir/a.txt")
	release := d.Hold()
	bar.mu.Lock()
	cur := bar.cur
	bar.mu.Unlock()
	acc.AddTransferred(60)
	time.Sleep(10 * time.Millisecond)
	bar.mu.Lock()
	if bar.cur != cur || bar.cleared != 1 {
		t.Errorf("bar redrawn while held: %d → %d, cleared %d", cur, bar.cur, bar.cleared)
	}
	bar.mu.Unlock()
	release()
	acc.Done(100)
	d.Stop()
	d.Stop()
	if bar.max != 100 || bar.cur != 100 || !bar.finished || bar.exited {
		t.Errorf("bar %+v", bar)
	}
	if want := "1/1 files 100 B/100 B"; bar.desc != want {
		t.Errorf("final description %q, want %q", bar.desc, want)
	}

	// An interrupted batch leaves the bar where it stopped instead of filling it.
	acc2, bar2 := &Accounter{}, &fakeBar{}
	d2 := Watch(acc2, bar2, time.Hour)
	acc2.Plan(100)
	acc2.Plan(100)
	acc2.AddTransferred(150)
	acc2.Done(100)
	d2.Stop()
	if bar2.cur != 150 || bar2.finished || !bar2.exited {
		t.Errorf("interrupted bar %+v, want it left at 150 and exited", bar2)
	}
	var none *Display
	none.Hold()()
	none.Stop()
}
