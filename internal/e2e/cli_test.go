package e2e_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Exit codes of the documented table (internal/cmdutil/exitcodes.go).
const (
	exitPartial     = 7
	exitInterrupted = 130
)

// event is one JSON Lines record of `cp --output json`: a file event, the summary, or (last,
// for a failed command) the error envelope of docs/json-output.md.
type event struct {
	Event       string `json:"event"`
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Size        int64  `json:"size"`
	CRC64       string `json:"crc64"`
	// Error is a message (file events) or an object {code, message, exitCode} (the envelope).
	Error   json.RawMessage `json:"error"`
	Done    int64           `json:"done"`
	Skipped int64           `json:"skipped"`
	Failed  int64           `json:"failed"`
	Bytes   int64           `json:"bytes"`
}

func parseEvents(t *testing.T, out []byte) []event {
	t.Helper()
	var evs []event
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("stdout line is not JSON: %q: %v", sc.Text(), err)
		}
		evs = append(evs, e)
	}
	return evs
}

// TestKilledDownloadNeverTruncatesDestination kills a single-request download (below the
// multipart threshold) that overwrites an existing file: the old file stays whole under its
// name until a complete, verified download replaces it.
func TestKilledDownloadNeverTruncatesDestination(t *testing.T) {
	s := startServe(t)
	b := s.bucket(t, "kill-single")
	home := t.TempDir()
	content := randomBytes(8 << 20)
	if err := b.PutObject("obj.bin", bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(home, "out")
	final := filepath.Join(outDir, "obj.bin")
	old := []byte("the previous version of the file\n")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(final, old, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"cp", "-f", "oss://kill-single/obj.bin", final, "--checkpoint-dir", filepath.Join(home, "ck")}
	// 8 MiB at 4 MiB/s: about two seconds.
	p := s.start(t, home, nil, append(args, "--max-download-speed", "4MiB")...)
	eventually(t, 30*time.Second, 5*time.Millisecond, "a partly written temporary file", func() bool {
		if p.exited() {
			t.Fatalf("cp finished before it could be killed (exit %d)\n%s", exitCode(p.err), p.stderr.String())
		}
		tmps, _ := filepath.Glob(filepath.Join(outDir, ".*"))
		for _, tmp := range tmps {
			if fi, err := os.Stat(tmp); err == nil && fi.Size() > 0 {
				return true
			}
		}
		return false
	})
	if code := p.signal(t, syscall.SIGKILL); code != -1 {
		t.Fatalf("cp exit code %d, want death by SIGKILL", code)
	}
	got, err := os.ReadFile(final)
	if err != nil || !bytes.Equal(got, old) {
		t.Fatalf("after the kill the destination holds %d bytes (err %v), want the old %d bytes untouched", len(got), err, len(old))
	}

	s.mustRun(t, home, args...)
	got, err = os.ReadFile(final)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("rerun: destination holds %d bytes (err %v), want the object's %d", len(got), err, len(content))
	}
	entries, _ := os.ReadDir(outDir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("destination directory holds %v, want only obj.bin (no temporary files)", names)
	}
}

// TestBatchWithOneFailureExits7 downloads a prefix in which one key cannot be a local path
// safely: that file fails, every other is copied, the summary counts both, and the exit status
// is the partial-failure code.
func TestBatchWithOneFailureExits7(t *testing.T) {
	s := startServe(t)
	b := s.bucket(t, "batch-bkt")
	home := t.TempDir()
	good := map[string][]byte{
		"tree/a.txt":       []byte("alpha\n"),
		"tree/sub/b.bin":   randomBytes(300 << 10),
		"tree/sub/c/d.txt": []byte("delta\n"),
	}
	for k, v := range good {
		if err := b.PutObject(k, bytes.NewReader(v)); err != nil {
			t.Fatal(err)
		}
	}
	const bad = "tree/x/../../escape.txt"
	if err := b.PutObject(bad, strings.NewReader("must not be written outside the destination\n")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(home, "dst")
	code, out, errOut := s.run(t, home, nil, "cp", "-r", "oss://batch-bkt/tree/", dst, "--output", "json", "-j", "2")
	if code != exitPartial {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitPartial, out, errOut)
	}
	evs := parseEvents(t, out)
	if len(evs) < 2 || evs[len(evs)-2].Event != "summary" || evs[len(evs)-1].Event != "" {
		t.Fatalf("want the summary, then the error envelope as the last JSON lines:\n%s", out)
	}
	var envelope struct {
		Code     string `json:"code"`
		ExitCode int    `json:"exitCode"`
	}
	if err := json.Unmarshal(evs[len(evs)-1].Error, &envelope); err != nil || envelope.ExitCode != exitPartial || envelope.Code != "PartialFailure" {
		t.Errorf("error envelope %s (%v), want code PartialFailure, exitCode %d", evs[len(evs)-1].Error, err, exitPartial)
	}
	sum := evs[len(evs)-2]
	if sum.Done != int64(len(good)) || sum.Failed != 1 || sum.Skipped != 0 {
		t.Errorf("summary done=%d failed=%d skipped=%d, want %d, 1, 0", sum.Done, sum.Failed, sum.Skipped, len(good))
	}
	var failed []event
	doneEvents := 0
	for _, e := range evs {
		switch e.Event {
		case "failed":
			failed = append(failed, e)
		case "done":
			doneEvents++
			k := strings.TrimPrefix(e.Source, "oss://batch-bkt/")
			v, ok := good[k]
			d, _ := digestOf(bytes.NewReader(v))
			if !ok || e.Size != int64(len(v)) || e.CRC64 != strconv.FormatUint(d.CRC64, 10) {
				t.Errorf("done event %+v: want size %d and crc64 %d of a good key", e, len(v), d.CRC64)
			}
		}
	}
	if doneEvents != len(good) {
		t.Errorf("%d done events, want %d", doneEvents, len(good))
	}
	if len(failed) != 1 || !strings.Contains(failed[0].Source, "escape.txt") || len(failed[0].Error) < 3 {
		t.Errorf("failed events %+v, want one for %s with a message", failed, bad)
	}
	// In text mode the failure is named on stderr; the exit status is the same.
	code, _, errOut = s.run(t, home, nil, "cp", "-r", "oss://batch-bkt/tree/", filepath.Join(home, "dst2"))
	if code != exitPartial || !strings.Contains(errOut, "escape.txt") {
		t.Errorf("text mode: exit %d, want %d, and stderr naming the failed key:\n%s", code, exitPartial, errOut)
	}
	for k, v := range good {
		p := filepath.Join(dst, filepath.FromSlash(strings.TrimPrefix(k, "tree/")))
		if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, v) {
			t.Errorf("%s: %d bytes (err %v), want %d", p, len(got), err, len(v))
		}
	}
	for _, p := range []string{filepath.Join(home, "escape.txt"), filepath.Join(dst, "escape.txt")} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists (%v): a key with '..' was written", p, err)
		}
	}
}

// TestInterruptExits130AndKeepsCheckpoint sends SIGINT (what Ctrl-C delivers) to a multipart
// upload: cp stops with the interrupted code, keeps its checkpoint and the server-side upload,
// and the same command then finishes the job without starting over.
func TestInterruptExits130AndKeepsCheckpoint(t *testing.T) {
	s := startServe(t)
	b := s.bucket(t, "sigint-bkt")
	home := t.TempDir()
	src := filepath.Join(home, "big.bin")
	want := randomFile(t, src, 24<<20)
	ck := filepath.Join(home, "ck")
	args := append([]string{"cp", src, "oss://sigint-bkt/big.bin"}, multipartFlags(ck)...)
	p := s.start(t, home, nil, append(args, "--max-upload-speed", "8MiB")...)
	var uploadID string
	eventually(t, 30*time.Second, 10*time.Millisecond, "3 uploaded parts", func() bool {
		if p.exited() {
			t.Fatalf("cp finished before it could be interrupted (exit %d)\n%s", exitCode(p.err), p.stderr.String())
		}
		ups := uploadsOf(t, b, "big.bin")
		if len(ups) == 0 {
			return false
		}
		uploadID = ups[0].UploadID
		return len(serverParts(t, b, "big.bin", uploadID)) >= 3
	})
	start := time.Now()
	if code := p.signal(t, syscall.SIGINT); code != exitInterrupted {
		t.Fatalf("exit %d after SIGINT, want %d\nstderr:\n%s", code, exitInterrupted, p.stderr.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cp took %v to stop after SIGINT", d)
	}
	cp, ok := readCheckpoint(t, ck, "upload")
	if !ok || cp.UploadID != uploadID || len(cp.Parts) == 0 {
		t.Fatalf("checkpoint after SIGINT: present=%v %+v; want upload %s with its done parts", ok, cp, uploadID)
	}
	if ups := uploadsOf(t, b, "big.bin"); len(ups) != 1 || ups[0].UploadID != uploadID {
		t.Fatalf("uploads after SIGINT %+v, want %s kept for resuming", ups, uploadID)
	}

	_, errOut := s.mustRun(t, home, append(args, "--debug")...)
	resent, _ := uploadParts(errOut)
	checkResent(t, resent, cp.partSet(), 24)
	if got := objectDigest(t, b, "big.bin"); got != want {
		t.Fatalf("object %v, file %v", got, want)
	}
}

// TestCatAndStdoutWriteOnlyObjectBytes checks that `cat` and `cp KEY -` write exactly the
// object's bytes to stdout, even with --debug logging and for an object read part by part.
func TestCatAndStdoutWriteOnlyObjectBytes(t *testing.T) {
	s := startServe(t)
	b := s.bucket(t, "cat-bkt")
	home := t.TempDir()
	objects := map[string][]byte{
		"empty":     {},
		"text.txt":  []byte("line one\nline two, no newline at the end"),
		"blob.bin":  randomBytes(3<<20 + 12345),
		"dir/a b+c": []byte("\x00\x01\xff binary \r\n with a key that needs escaping"),
	}
	for k, v := range objects {
		if err := b.PutObject(k, bytes.NewReader(v)); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range objects {
		url := "oss://cat-bkt/" + k
		for _, args := range [][]string{
			{"cat", url},
			{"cat", url, "--debug"},
			{"cp", url, "-"},
			{"cp", url, "-", "--multipart-threshold", "1MiB", "--part-size", "1MiB", "--debug"},
		} {
			code, out, errOut := s.run(t, home, nil, args...)
			if code != 0 {
				t.Errorf("%v: exit %d\n%s", args, code, tail(errOut))
				continue
			}
			if !bytes.Equal(out, v) {
				t.Errorf("%v: stdout has %d bytes, want exactly the object's %d", args, len(out), len(v))
			}
			if strings.Contains(strings.Join(args, " "), "--debug") && !strings.Contains(errOut, "http request") {
				t.Errorf("%v: no request log on stderr", args)
			}
		}
	}
	// A missing object writes nothing to stdout and fails.
	code, out, errOut := s.run(t, home, nil, "cat", "oss://cat-bkt/missing")
	if code == 0 || len(out) != 0 || !strings.Contains(errOut, "missing") {
		t.Errorf("cat of a missing key: exit %d, %d bytes on stdout, stderr %q", code, len(out), errOut)
	}
}

// TestCpFromStdinPipe uploads standard input (a pipe, size unknown): a short stream as one PUT
// with Content-MD5, a long one part by part.
func TestCpFromStdinPipe(t *testing.T) {
	s := startServe(t)
	b := s.bucket(t, "stdin-bkt")
	home := t.TempDir()
	for _, tc := range []struct {
		name      string
		size      int
		multipart bool
	}{
		{"empty", 0, false},
		{"small", 100 << 10, false},
		{"large", 5<<20 + 777, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := randomBytes(tc.size)
			key := "in/" + tc.name
			code, _, errOut := s.run(t, home, bytes.NewReader(data), "cp", "-", "oss://stdin-bkt/"+key, "--part-size", "1MiB", "--debug")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, tail(errOut))
			}
			want, _ := digestOf(bytes.NewReader(data))
			if got := objectDigest(t, b, key); got != want {
				t.Fatalf("object %v, stdin %v", got, want)
			}
			parts, sent := uploadParts(errOut)
			if tc.multipart {
				if len(parts) != 6 || sent != int64(tc.size) {
					t.Errorf("%d parts sending %d bytes, want 6 parts of the %d bytes", len(parts), sent, tc.size)
				}
				return
			}
			if len(parts) != 0 {
				t.Errorf("a %d-byte stream went part by part", tc.size)
			}
			if !strings.Contains(errOut, "req.content-md5=") {
				t.Errorf("single PUT without Content-MD5:\n%s", tail(errOut))
			}
		})
	}
	// An existing object is not overwritten from stdin without -f.
	code, _, errOut := s.run(t, home, strings.NewReader("new"), "cp", "-", "oss://stdin-bkt/in/small")
	if code == 0 || !strings.Contains(errOut, "-f") {
		t.Errorf("overwrite from stdin without -f: exit %d, stderr %q", code, errOut)
	}
}
