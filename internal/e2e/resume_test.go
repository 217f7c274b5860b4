package e2e_test

import (
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

// Sizes of the resume tests: small enough for CI, with enough 1 MiB parts that a kill lands
// between the first and the last.
const (
	resumeSize     = 32 << 20
	resumePartSize = 1 << 20
	resumeParts    = resumeSize / resumePartSize
)

// multipartFlags make cp go part by part in 1 MiB parts with its checkpoints in dir.
func multipartFlags(ckDir string) []string {
	return []string{"--part-size", "1MiB", "--multipart-threshold", "1MiB", "--checkpoint-dir", ckDir}
}

// checkResent checks what a resumed run sent (one part number per request) against the
// checkpoint the killed run left: no part recorded as done is sent again, none is sent twice,
// and only the missing ones are sent.
func checkResent(t *testing.T, resent []int, done map[int]bool, total int) {
	t.Helper()
	seen := map[int]bool{}
	for _, n := range resent {
		if done[n] {
			t.Errorf("part %d was done before the kill but sent again", n)
		}
		if seen[n] {
			t.Errorf("part %d sent twice by the resumed run", n)
		}
		if n < 1 || n > total {
			t.Errorf("part number %d outside 1..%d", n, total)
		}
		seen[n] = true
	}
	if want := total - len(done); len(resent) != want {
		t.Errorf("resumed run sent %d parts, want the %d missing ones (%d of %d were done)", len(resent), want, len(done), total)
	}
}

// TestResumeUploadAfterSIGKILL kills an `ossctl cp` upload part-way with SIGKILL, runs the
// same command again, and checks that the second run continues the same multipart upload,
// sends only the parts that were not done, and leaves an object identical to the file.
func TestResumeUploadAfterSIGKILL(t *testing.T) {
	s := startServe(t)
	b := s.bucket(t, "resume-up")
	home := t.TempDir()
	src := filepath.Join(home, "big.bin")
	want := randomFile(t, src, resumeSize)
	ck := filepath.Join(home, "ck")
	const key = "dir/big.bin"
	args := append([]string{"cp", src, "oss://resume-up/" + key}, multipartFlags(ck)...)

	// Throttled so the kill lands mid-way: 32 MiB at 16 MiB/s takes about 2 s.
	p := s.start(t, home, nil, append(args, "--max-upload-speed", "16MiB")...)
	var uploadID string
	eventually(t, 30*time.Second, 5*time.Millisecond, "a third of the parts uploaded", func() bool {
		if p.exited() {
			t.Fatalf("cp finished before it could be killed (exit %d)\n%s", exitCode(p.err), p.stderr.String())
		}
		ups := uploadsOf(t, b, key)
		if len(ups) == 0 {
			return false
		}
		uploadID = ups[0].UploadID
		return len(serverParts(t, b, key, uploadID)) >= resumeParts/3
	})
	if code := p.signal(t, syscall.SIGKILL); code != -1 {
		t.Fatalf("cp exit code %d, want death by SIGKILL", code)
	}

	if _, err := b.GetObjectDetailedMeta(key); err == nil {
		t.Fatal("the object exists after the upload was killed")
	}
	onServer := serverParts(t, b, key, uploadID)
	cp, ok := readCheckpoint(t, ck, "upload")
	if !ok {
		t.Fatal("no upload checkpoint after the kill")
	}
	if cp.UploadID != uploadID {
		t.Fatalf("checkpoint upload %s, server upload %s", cp.UploadID, uploadID)
	}
	done := cp.partSet()
	for n := range done {
		if _, ok := onServer[n]; !ok {
			t.Errorf("checkpoint lists part %d, which the server does not hold", n)
		}
	}
	if len(done) == 0 || len(onServer) >= resumeParts {
		t.Fatalf("kill did not land mid-way: %d parts in the checkpoint, %d on the server, %d in all", len(done), len(onServer), resumeParts)
	}

	_, errOut := s.mustRun(t, home, append(args, "--debug")...)
	for _, e := range exchanges(errOut) {
		if e.Method == "POST" && e.hasQuery("uploads") {
			t.Errorf("resumed run started a new multipart upload: %s", e.URL)
		}
	}
	resent, sent := uploadParts(errOut)
	checkResent(t, resent, done, resumeParts)
	if missing := int64(resumeParts-len(done)) * resumePartSize; sent > missing {
		t.Errorf("resumed run sent %d bytes in parts, more than the %d missing", sent, missing)
	}
	if got := objectDigest(t, b, key); got != want {
		t.Fatalf("object %v, file %v", got, want)
	}
	if _, ok := readCheckpoint(t, ck, "upload"); ok {
		t.Error("checkpoint left behind after the upload completed")
	}
	if ups := uploadsOf(t, b, key); len(ups) != 0 {
		t.Errorf("incomplete uploads left behind: %+v", ups)
	}
	t.Logf("killed with %d/%d parts checkpointed (%d on the server); second run sent %d parts, %d of %d bytes (%.0f%%)",
		len(done), resumeParts, len(onServer), len(resent), sent, resumeSize, 100*float64(sent)/resumeSize)
}

// TestResumeDownloadAfterSIGKILL kills a ranged parallel download part-way: nothing may exist
// under the final name; the rerun fetches only the ranges that were not done and produces an
// exact file.
func TestResumeDownloadAfterSIGKILL(t *testing.T) {
	s := startServe(t)
	b := s.bucket(t, "resume-down")
	home := t.TempDir()
	src := filepath.Join(home, "src.bin")
	want := randomFile(t, src, resumeSize)
	const key = "big.bin"
	if err := b.PutObjectFromFile(key, src); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(home, "out")
	if err := os.Mkdir(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	final := filepath.Join(outDir, "big.bin")
	ck := filepath.Join(home, "ck")
	args := append([]string{"cp", "oss://resume-down/" + key, final}, multipartFlags(ck)...)

	p := s.start(t, home, nil, append(args, "--max-download-speed", "16MiB")...)
	var cp checkpointFile
	eventually(t, 30*time.Second, 5*time.Millisecond, "a third of the parts downloaded", func() bool {
		if p.exited() {
			t.Fatalf("cp finished before it could be killed (exit %d)\n%s", exitCode(p.err), p.stderr.String())
		}
		var ok bool
		cp, ok = readCheckpoint(t, ck, "download")
		return ok && len(cp.Parts) >= resumeParts/3
	})
	if code := p.signal(t, syscall.SIGKILL); code != -1 {
		t.Fatalf("cp exit code %d, want death by SIGKILL", code)
	}

	if _, err := os.Lstat(final); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after the kill, %s: %v; want no file under the final name", final, err)
	}
	cp, _ = readCheckpoint(t, ck, "download")
	if filepath.Dir(cp.TempFile) != outDir {
		t.Errorf("temporary file %s is not in the destination directory", cp.TempFile)
	}
	if fi, err := os.Stat(cp.TempFile); err != nil || !strings.HasPrefix(fi.Name(), ".") {
		t.Errorf("temporary file after the kill: %v (want a hidden file)", err)
	}
	done := cp.partSet()
	if len(done) >= resumeParts {
		t.Fatalf("kill did not land mid-way: %d of %d parts done", len(done), resumeParts)
	}

	_, errOut := s.mustRun(t, home, append(args, "--debug")...)
	var fetched int64
	var resent []int
	for _, r := range rangedGets(t, errOut) {
		if r[0]%cp.PartSize != 0 {
			t.Errorf("range %d-%d does not start on a part boundary", r[0], r[1])
		}
		resent = append(resent, int(r[0]/cp.PartSize)+1)
		fetched += r[1] - r[0] + 1
	}
	checkResent(t, resent, done, resumeParts)
	if fetched >= resumeSize {
		t.Errorf("resumed download fetched %d bytes, the whole object again", fetched)
	}
	if got := fileDigest(t, final); got != want {
		t.Fatalf("downloaded %v, object %v", got, want)
	}
	entries, _ := os.ReadDir(outDir)
	if len(entries) != 1 {
		t.Errorf("destination directory holds %d entries, want only big.bin", len(entries))
	}
	if _, ok := readCheckpoint(t, ck, "download"); ok {
		t.Error("checkpoint left behind after the download completed")
	}
	t.Logf("killed with %d/%d parts done; second run fetched %d ranges, %d of %d bytes (%.0f%%)",
		len(done), resumeParts, len(resent), fetched, resumeSize, 100*float64(fetched)/resumeSize)
}

// TestResumeCopyAfterSIGKILL kills a multipart server-side copy between buckets part-way; the
// rerun continues the same upload with UploadPartCopy for the missing parts only.
func TestResumeCopyAfterSIGKILL(t *testing.T) {
	s := startServe(t)
	srcB := s.bucket(t, "resume-copy-src")
	dstB := s.bucket(t, "resume-copy-dst")
	home := t.TempDir()
	src := filepath.Join(home, "src.bin")
	const (
		size     = 20 << 20
		partSize = 100 << 10
		total    = (size + partSize - 1) / partSize
	)
	want := randomFile(t, src, size)
	if err := srcB.PutObjectFromFile("obj", src); err != nil {
		t.Fatal(err)
	}
	ck := filepath.Join(home, "ck")
	// A server-side copy cannot be throttled from the client: many small parts, one at a
	// time, give the poller time to see some of them done.
	args := []string{"cp", "oss://resume-copy-src/obj", "oss://resume-copy-dst/copy", "--part-size", "100KiB",
		"--multipart-threshold", "1MiB", "--parallel", "1", "--checkpoint-dir", ck}
	p := s.start(t, home, nil, args...)
	eventually(t, 30*time.Second, time.Millisecond, "a quarter of the parts copied", func() bool {
		if p.exited() {
			t.Fatalf("cp finished before it could be killed (exit %d)\n%s", exitCode(p.err), p.stderr.String())
		}
		cp, ok := readCheckpoint(t, ck, "copy")
		return ok && len(cp.Parts) >= total/4
	})
	if code := p.signal(t, syscall.SIGKILL); code != -1 {
		t.Fatalf("cp exit code %d, want death by SIGKILL", code)
	}
	if _, err := dstB.GetObjectDetailedMeta("copy"); err == nil {
		t.Fatal("the copy exists after it was killed")
	}
	cp, ok := readCheckpoint(t, ck, "copy")
	if !ok {
		t.Fatal("no copy checkpoint after the kill")
	}
	ups := uploadsOf(t, dstB, "copy")
	if len(ups) != 1 || ups[0].UploadID != cp.UploadID {
		t.Fatalf("uploads in the destination bucket %+v, checkpoint upload %s", ups, cp.UploadID)
	}
	done := cp.partSet()
	onServer := serverParts(t, dstB, "copy", cp.UploadID)
	for n := range done {
		if _, ok := onServer[n]; !ok {
			t.Errorf("checkpoint lists part %d, which the server does not hold", n)
		}
	}
	if len(done) >= total {
		t.Fatalf("kill did not land mid-way: %d of %d parts done", len(done), total)
	}

	_, errOut := s.mustRun(t, home, append(args, "--debug")...)
	var resent []int
	for _, e := range exchanges(errOut) {
		if e.Method == "POST" && e.hasQuery("uploads") {
			t.Errorf("resumed copy started a new multipart upload: %s", e.URL)
		}
		if e.Method == "PUT" && e.hasQuery("partNumber") && e.Status == 200 {
			if !strings.Contains(e.URL, "/resume-copy-dst/") {
				t.Errorf("part request to the wrong bucket: %s", e.URL)
			}
			if e.Length != 0 {
				t.Errorf("UploadPartCopy carried a %d-byte body: the data should stay on the server", e.Length)
			}
			n, err := strconv.Atoi(e.query("partNumber"))
			if err != nil {
				t.Fatalf("bad partNumber in %s", e.URL)
			}
			resent = append(resent, n)
		}
	}
	checkResent(t, resent, done, total)
	if got := objectDigest(t, dstB, "copy"); got != want {
		t.Fatalf("copy %v, source %v", got, want)
	}
	if ups := uploadsOf(t, dstB, "copy"); len(ups) != 0 {
		t.Errorf("incomplete uploads left behind: %+v", ups)
	}
	t.Logf("killed with %d/%d parts done (%d on the server); second run copied %d parts", len(done), total, len(onServer), len(resent))
}

// TestResumeUploadRestartsWhenSourceChanged: the checkpoint is bound to the source's size and
// mtime, so a file rewritten after the kill is uploaded from scratch, the stale upload is
// aborted, and the object holds the new content.
func TestResumeUploadRestartsWhenSourceChanged(t *testing.T) {
	s := startServe(t)
	b := s.bucket(t, "resume-changed")
	home := t.TempDir()
	src := filepath.Join(home, "f.bin")
	const size, parts = 16 << 20, 16
	randomFile(t, src, size)
	ck := filepath.Join(home, "ck")
	args := append([]string{"cp", src, "oss://resume-changed/f.bin"}, multipartFlags(ck)...)
	p := s.start(t, home, nil, append(args, "--max-upload-speed", "8MiB")...)
	var oldID string
	eventually(t, 30*time.Second, 5*time.Millisecond, "4 uploaded parts", func() bool {
		if p.exited() {
			t.Fatalf("cp finished before it could be killed (exit %d)\n%s", exitCode(p.err), p.stderr.String())
		}
		ups := uploadsOf(t, b, "f.bin")
		if len(ups) == 0 {
			return false
		}
		oldID = ups[0].UploadID
		return len(serverParts(t, b, "f.bin", oldID)) >= 4
	})
	if code := p.signal(t, syscall.SIGKILL); code != -1 {
		t.Fatalf("cp exit code %d, want death by SIGKILL", code)
	}
	if cp, ok := readCheckpoint(t, ck, "upload"); !ok || len(cp.Parts) == 0 {
		t.Fatalf("no checkpoint with done parts after the kill")
	}
	// Same size, new content and a new mtime.
	want := randomFile(t, src, size)
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(src, later, later); err != nil {
		t.Fatal(err)
	}

	_, errOut := s.mustRun(t, home, append(args, "--debug")...)
	if !strings.Contains(errOut, "changed") {
		t.Errorf("no notice that the source changed:\n%s", tail(errOut))
	}
	newUpload := false
	for _, e := range exchanges(errOut) {
		newUpload = newUpload || e.Method == "POST" && e.hasQuery("uploads") && e.Status == 200
	}
	if !newUpload {
		t.Error("the rerun did not start a new multipart upload")
	}
	resent, _ := uploadParts(errOut)
	checkResent(t, resent, nil, parts)
	if got := objectDigest(t, b, "f.bin"); got != want {
		t.Fatalf("object %v, new file %v", got, want)
	}
	if ups := uploadsOf(t, b, "f.bin"); len(ups) != 0 {
		t.Errorf("stale upload %s not aborted: %+v", oldID, ups)
	}
}
