package cp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/google/go-cmp/cmp"
	"github.com/google/shlex"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
	"github.com/ossctl/ossctl/internal/server/servertest"
	"github.com/ossctl/ossctl/internal/transfer"
)

func testFactory(t *testing.T) *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	home := t.TempDir()
	return cmdutil.New(ios, cmdutil.Env{
		LookupEnv: func(string) (string, bool) { return "", false },
		HomeDir:   func() (string, error) { return home, nil },
	})
}

func TestNewCmdCpFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    string
		wantErr string
		check   func(t *testing.T, o *Options)
	}{
		{name: "upload", args: "./a.txt oss://bkt1/dir/", check: func(t *testing.T, o *Options) {
			if o.Mode != Upload || o.DstURL != (cmdutil.OSSURL{Bucket: "bkt1", Key: "dir/"}) || o.Source != "./a.txt" {
				t.Errorf("got %+v", o)
			}
			if o.Jobs != 4 || o.Parallel != transfer.DefaultParallel || o.PartSize != 0 || o.Threshold != 100<<20 || o.CheckpointDir == "" {
				t.Errorf("defaults: jobs %d parallel %d part %d threshold %d", o.Jobs, o.Parallel, o.PartSize, o.Threshold)
			}
		}},
		{name: "download", args: "oss://bkt1/a/b.txt ./out/", check: func(t *testing.T, o *Options) {
			if o.Mode != Download || o.SrcURL.Key != "a/b.txt" {
				t.Errorf("got %+v", o)
			}
		}},
		{name: "copy recursive with flags", args: `-r -f -u -j 8 --parallel 2 --part-size 1MiB --multipart-threshold 5MB --fail-fast oss://bkt1/p/ oss://bkt2/q --meta "Owner:a b:c" --meta x-oss-meta-k:v --acl PUBLIC-READ --content-type text/plain --storage-class ia --max-upload-speed 10MiB --max-download-speed 1.5MB --exclude *.tmp --include a/** --exclude-from EXCL`,
			check: func(t *testing.T, o *Options) {
				type view struct {
					Mode                           Mode
					Recursive, Force, Update, Fail bool
					Jobs, Parallel                 int
					PartSize, Threshold, Up, Down  int64
					ACL, ContentType, StorageClass string
					Meta                           map[string]string
					Rules                          []transfer.Rule
				}
				want := view{Mode: Copy, Recursive: true, Force: true, Update: true, Fail: true, Jobs: 8, Parallel: 2,
					PartSize: 1 << 20, Threshold: 5_000_000, Up: 10 << 20, Down: 1_500_000, ACL: "public-read", ContentType: "text/plain",
					StorageClass: "IA", Meta: map[string]string{"owner": "a b:c", "k": "v"},
					Rules: []transfer.Rule{{Pattern: "*.tmp"}, {Include: true, Pattern: "a/**"}, {Pattern: "x"}, {Pattern: "y/"}}}
				got := view{Mode: o.Mode, Recursive: o.Recursive, Force: o.Force, Update: o.Update, Fail: o.FailFast,
					Jobs: o.Jobs, Parallel: o.Parallel, PartSize: o.PartSize, Threshold: o.Threshold, Up: o.MaxUploadSpeed,
					Down: o.MaxDownloadSpeed, ACL: o.ACL, ContentType: o.ContentType, StorageClass: o.StorageClass, Meta: o.Meta, Rules: o.Rules}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("options (-want +got):\n%s", d)
				}
				if o.SrcURL.Key != "p/" || o.DstURL != (cmdutil.OSSURL{Bucket: "bkt2", Key: "q"}) {
					t.Errorf("urls: %+v %+v", o.SrcURL, o.DstURL)
				}
			}},
		{name: "two local paths", args: "a b", wantErr: "must be an oss:// URL"},
		{name: "one arg", args: "a", wantErr: "missing argument"},
		{name: "prefix without -r", args: "oss://bkt1/dir/ ./x", wantErr: "use -r"},
		{name: "bucket without -r", args: "oss://bkt1 ./x", wantErr: "use -r"},
		{name: "bad bucket", args: "./a oss://B/x", wantErr: "invalid bucket name"},
		{name: "bad part size", args: "--part-size 10KiB ./a oss://bkt1/x", wantErr: "--part-size"},
		{name: "unparsable size", args: "--multipart-threshold lots ./a oss://bkt1/x", wantErr: "--multipart-threshold"},
		{name: "bad jobs", args: "-j 0 ./a oss://bkt1/x", wantErr: "--jobs"},
		{name: "bad meta", args: "--meta novalue ./a oss://bkt1/x", wantErr: "NAME:VALUE"},
		{name: "duplicate meta", args: "--meta a:1 --meta A:2 ./a oss://bkt1/x", wantErr: "twice"},
		{name: "bad acl", args: "--acl open ./a oss://bkt1/x", wantErr: "valid values"},
		{name: "meta on download", args: "--meta a:1 oss://bkt1/x ./a", wantErr: "not downloads"},
		{name: "stdout", args: "oss://bkt1/x -", check: func(t *testing.T, o *Options) {
			if !o.ToStdout || o.Mode != Download {
				t.Errorf("got %+v", o)
			}
		}},
		{name: "stdin", args: "- oss://bkt1/x", check: func(t *testing.T, o *Options) {
			if !o.FromStdin || o.Mode != Upload || o.DstURL.Key != "x" {
				t.Errorf("got %+v", o)
			}
		}},
		{name: "stdin needs a key", args: "- oss://bkt1/dir/", wantErr: "full key"},
		{name: "stdin recursive", args: "-r - oss://bkt1/x", wantErr: "standard input"},
		{name: "filters need -r", args: "--exclude a ./a oss://bkt1/x", wantErr: "recursive"},
		{name: "bad glob", args: "-r --exclude a[ ./a oss://bkt1/x", wantErr: "invalid --exclude pattern"},
		{name: "missing exclude file", args: "-r --exclude-from /nonexistent/x ./a oss://bkt1/x", wantErr: "nonexistent"},
		{name: "bad speed", args: "--max-upload-speed fast ./a oss://bkt1/x", wantErr: "--max-upload-speed"},
		{name: "tiny speed", args: "--max-download-speed 10 oss://bkt1/x ./a", wantErr: "at least 1KiB"},
		{name: "bad storage class", args: "--storage-class hot ./a oss://bkt1/x", wantErr: "valid values"},
		{name: "leading slash key", args: "./a oss://bkt1//x", wantErr: "must not start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := testFactory(t)
			var got *Options
			cmd := NewCmdCp(f, func(o *Options) error { got = o; return nil })
			excl := filepath.Join(t.TempDir(), "excl")
			if err := os.WriteFile(excl, []byte("# comment\n\nx\ny/\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			args, err := shlex.Split(strings.ReplaceAll(tt.args, "EXCL", excl))
			if err != nil {
				t.Fatal(err)
			}
			cmd.SetArgs(args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err = cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) && !strings.Contains(err.Error(), "invalid argument") {
					t.Errorf("error %T is not a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

// ---- run() against a real server ----

type fixture struct {
	env    *servertest.Env
	client *oss.Client
	dir    string
}

func newFixture(t *testing.T, buckets ...string) *fixture {
	t.Helper()
	env := servertest.Start(t)
	c, err := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		if err := c.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{env: env, client: c, dir: t.TempDir()}
}

func (fx *fixture) opts(t *testing.T, format output.Format, args ...string) (*Options, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.SetMachineOutput(format == output.FormatJSON)
	o := &Options{
		IO:      ios,
		OSS:     func() (*oss.Client, error) { return fx.client, nil },
		Printer: func() *output.Printer { return output.New(ios, format, nil) },
		Ctx:     context.Background(),
		TransferFlags: TransferFlags{
			Jobs:          3,
			Parallel:      3,
			PartSize:      transfer.MinPartSize,
			Threshold:     100 << 20,
			CheckpointDir: filepath.Join(fx.dir, ".checkpoints"),
			Retry:         transfer.Retry{Attempts: 2, Base: time.Millisecond},
		},
	}
	if len(args) == 2 {
		if err := parseArgs(o, args[0], args[1]); err != nil {
			t.Fatal(err)
		}
	}
	return o, out, errOut
}

// setArgs parses the two ends after the flags that affect parsing (-r) are set.
func setArgs(t *testing.T, o *Options, src, dst string) {
	t.Helper()
	if err := parseArgs(o, src, dst); err != nil {
		t.Fatal(err)
	}
}

func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func crcString(b []byte) string {
	return strconv.FormatUint(crc64.Checksum(b, crc64.MakeTable(crc64.ECMA)), 10)
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func getObject(t *testing.T, c *oss.Client, bucket, key string) []byte {
	t.Helper()
	b, _ := c.Bucket(bucket)
	r, err := b.GetObject(key)
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func putObject(t *testing.T, c *oss.Client, bucket, key string, data []byte, opts ...oss.Option) {
	t.Helper()
	b, _ := c.Bucket(bucket)
	if err := b.PutObject(key, bytes.NewReader(data), opts...); err != nil {
		t.Fatalf("PutObject %s/%s: %v", bucket, key, err)
	}
}

// jsonLines parses JSON Lines output, leaving out "started" events (see allJSONLines).
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range allJSONLines(t, s) {
		if e["event"] != "started" {
			out = append(out, e)
		}
	}
	return out
}

func allJSONLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func listKeys(t *testing.T, c *oss.Client, bucket, prefix string) []string {
	t.Helper()
	b, _ := c.Bucket(bucket)
	var keys []string
	if err := transfer.WalkRemote(context.Background(), b, prefix, func(o oss.ObjectProperties) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestUploadDownloadRoundTrip(t *testing.T) {
	fx := newFixture(t, "bkt1")
	data := randBytes(64<<10+3, 1)
	src := filepath.Join(fx.dir, "a file+x.txt")
	writeFile(t, src, data)

	o, out, _ := fx.opts(t, output.FormatJSON, src, "oss://bkt1/docs/")
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if got := getObject(t, fx.client, "bkt1", "docs/a file+x.txt"); !bytes.Equal(got, data) {
		t.Fatal("uploaded bytes differ")
	}
	ev := jsonLines(t, out.String())
	if len(ev) != 2 || ev[0]["event"] != "done" || ev[1]["event"] != "summary" {
		t.Fatalf("events: %v", ev)
	}
	if ev[0]["crc64"] != crcString(data) || ev[0]["size"] != float64(len(data)) ||
		ev[0]["destination"] != "oss://bkt1/docs/a file+x.txt" || ev[0]["source"] != src {
		t.Errorf("done event: %v", ev[0])
	}
	if ev[1]["done"] != float64(1) || ev[1]["bytes"] != float64(len(data)) {
		t.Errorf("summary: %v", ev[1])
	}
	b, _ := fx.client.Bucket("bkt1")
	h, err := b.GetObjectDetailedMeta("docs/a file+x.txt")
	if err != nil {
		t.Fatal(err)
	}
	if ct := h.Get("Content-Type"); ct != "text/plain" && !strings.HasPrefix(ct, "text/plain;") {
		t.Errorf("content type %q, want text/plain by extension", ct)
	}

	dl := filepath.Join(fx.dir, "dl")
	if err := os.Mkdir(dl, 0o755); err != nil {
		t.Fatal(err)
	}
	o, out, _ = fx.opts(t, output.FormatText, "oss://bkt1/docs/a file+x.txt", dl)
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("stdout not empty in text mode: %q", out)
	}
	got, err := os.ReadFile(filepath.Join(dl, "a file+x.txt"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded bytes differ (err %v)", err)
	}
	assertNoTempFiles(t, dl)
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".ossctl-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func TestMultipartRoundTrip(t *testing.T) {
	fx := newFixture(t, "bkt1", "bkt2")
	data := randBytes(700<<10+17, 2) // 7+ parts of 100 KiB
	src := filepath.Join(fx.dir, "big.bin")
	writeFile(t, src, data)

	o, out, _ := fx.opts(t, output.FormatJSON, src, "oss://bkt1/big.bin")
	o.Threshold = 200 << 10
	o.ContentType = "application/x-test"
	o.Meta = map[string]string{"origin": "unit"}
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	b1, _ := fx.client.Bucket("bkt1")
	h, err := b1.GetObjectDetailedMeta("big.bin")
	if err != nil {
		t.Fatal(err)
	}
	if h.Get("X-Oss-Object-Type") != "Multipart" {
		t.Errorf("object type %q, want Multipart", h.Get("X-Oss-Object-Type"))
	}
	if h.Get("Content-Type") != "application/x-test" || h.Get("X-Oss-Meta-Origin") != "unit" {
		t.Errorf("headers lost in multipart upload: %v", h)
	}
	if ev := jsonLines(t, out.String()); ev[0]["crc64"] != crcString(data) {
		t.Errorf("crc64 %v, want %s", ev[0]["crc64"], crcString(data))
	}
	if got := getObject(t, fx.client, "bkt1", "big.bin"); !bytes.Equal(got, data) {
		t.Fatal("multipart upload corrupted the data")
	}
	if ents, _ := os.ReadDir(o.CheckpointDir); len(ents) != 0 {
		t.Errorf("checkpoint files left after success: %v", ents)
	}

	// Multipart server-side copy keeps content headers and metadata.
	o, _, _ = fx.opts(t, output.FormatText, "oss://bkt1/big.bin", "oss://bkt2/copies/")
	o.Threshold = 200 << 10
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	b2, _ := fx.client.Bucket("bkt2")
	h2, err := b2.GetObjectDetailedMeta("copies/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	if h2.Get("Content-Type") != "application/x-test" || h2.Get("X-Oss-Meta-Origin") != "unit" ||
		h2.Get("X-Oss-Hash-Crc64ecma") != crcString(data) {
		t.Errorf("multipart copy headers: %v", h2)
	}

	// Multipart download.
	dst := filepath.Join(fx.dir, "out", "big.copy")
	o, _, _ = fx.opts(t, output.FormatText, "oss://bkt2/copies/big.bin", dst)
	o.Threshold = 200 << 10
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("multipart download differs (err %v)", err)
	}
	assertNoTempFiles(t, filepath.Dir(dst))
}

func TestRecursiveTreeRoundTrip(t *testing.T) {
	fx := newFixture(t, "bkt1", "bkt2")
	tree := map[string][]byte{
		"top.txt":                  []byte("top"),
		"sub dir/with space.txt":   randBytes(1000, 3),
		"sub dir/a+b=c.bin":        randBytes(5000, 4),
		"ünïcödé/日本語/ファイル.txt":     []byte("こんにちは"),
		"deep/er/and/deeper/x.dat": randBytes(300<<10, 5), // multipart
		"empty":                    {},
	}
	src := filepath.Join(fx.dir, "src")
	for rel, data := range tree {
		writeFile(t, filepath.Join(src, filepath.FromSlash(rel)), data)
	}
	o, out, _ := fx.opts(t, output.FormatJSON)
	o.Recursive = true
	o.Threshold = 200 << 10
	setArgs(t, o, src, "oss://bkt1/up")
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	ev := jsonLines(t, out.String())
	if last := ev[len(ev)-1]; last["event"] != "summary" || last["done"] != float64(len(tree)) || last["failed"] != float64(0) {
		t.Fatalf("summary %v", last)
	}
	var want []string
	for rel := range tree {
		want = append(want, "up/"+rel)
	}
	sort.Strings(want)
	if d := cmp.Diff(want, listKeys(t, fx.client, "bkt1", "")); d != "" {
		t.Fatalf("uploaded keys (-want +got):\n%s", d)
	}

	// Server-side copy of the prefix to another bucket.
	o, _, _ = fx.opts(t, output.FormatText)
	o.Recursive = true
	setArgs(t, o, "oss://bkt1/up/", "oss://bkt2/copy/")
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	// Download it back and compare the trees.
	dl := filepath.Join(fx.dir, "dl")
	o, _, _ = fx.opts(t, output.FormatText)
	o.Recursive = true
	o.Jobs = 4
	o.Threshold = 200 << 10
	setArgs(t, o, "oss://bkt2/copy/", dl)
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	for rel, data := range tree {
		got, err := os.ReadFile(filepath.Join(dl, filepath.FromSlash(rel)))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: content differs (err %v)", rel, err)
		}
	}
	assertNoTempFiles(t, dl)
}

func TestRecursiveDownloadPartialFailure(t *testing.T) {
	fx := newFixture(t, "bkt1")
	putObject(t, fx.client, "bkt1", "p/good1", []byte("one"))
	putObject(t, fx.client, "bkt1", "p/a/../escape", []byte("evil"))
	putObject(t, fx.client, "bkt1", "p/good2", []byte("two"))
	dl := filepath.Join(fx.dir, "dl")
	o, out, errOut := fx.opts(t, output.FormatJSON)
	o.Recursive = true
	setArgs(t, o, "oss://bkt1/p/", dl)
	err := run(o)
	var pe *cmdutil.PartialError
	if !errors.As(err, &pe) || pe.Failed != 1 || pe.Total != 3 {
		t.Fatalf("error = %v, want a partial failure of 1 in 3", err)
	}
	for _, f := range []string{"good1", "good2"} {
		if _, err := os.Stat(filepath.Join(dl, f)); err != nil {
			t.Errorf("%s not downloaded: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(fx.dir, "escape")); err == nil {
		t.Fatal("a key with '..' was written outside the destination")
	}
	var failed int
	for _, e := range jsonLines(t, out.String()) {
		if e["event"] == "failed" {
			failed++
			if e["source"] != "oss://bkt1/p/a/../escape" || !strings.Contains(e["error"].(string), "cannot be mapped safely") {
				t.Errorf("failed event %v", e)
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d failed events, want 1", failed)
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr in JSON mode: %q", errOut)
	}

	// --fail-fast returns the failure itself, not a partial error.
	o, _, _ = fx.opts(t, output.FormatText)
	o.Recursive, o.FailFast, o.Force, o.Jobs = true, true, true, 1
	setArgs(t, o, "oss://bkt1/p/", filepath.Join(fx.dir, "dl2"))
	err = run(o)
	if err == nil || errors.As(err, &pe) || !strings.Contains(err.Error(), "cannot be mapped safely") {
		t.Fatalf("fail-fast error = %v", err)
	}
}

func TestUploadPartialFailureBrokenSymlink(t *testing.T) {
	fx := newFixture(t, "bkt1")
	src := filepath.Join(fx.dir, "src")
	writeFile(t, filepath.Join(src, "a.txt"), []byte("a"))
	writeFile(t, filepath.Join(src, "c.txt"), []byte("c"))
	if err := os.Symlink(filepath.Join(fx.dir, "missing"), filepath.Join(src, "b.txt")); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	o, _, errOut := fx.opts(t, output.FormatText)
	o.Recursive = true
	setArgs(t, o, src, "oss://bkt1/")
	err := run(o)
	var pe *cmdutil.PartialError
	if !errors.As(err, &pe) || pe.Failed != 1 || pe.Total != 3 {
		t.Fatalf("error = %v, want a partial failure", err)
	}
	if cmdutil.ExitPartial != 7 {
		t.Fatal("exit code table changed")
	}
	if !strings.Contains(errOut.String(), filepath.Join(src, "b.txt")+" to oss://bkt1/b.txt: following symbolic link") {
		t.Errorf("stderr does not name the failed file and its destination: %q", errOut)
	}
	if d := cmp.Diff([]string{"a.txt", "c.txt"}, listKeys(t, fx.client, "bkt1", "")); d != "" {
		t.Errorf("keys (-want +got):\n%s", d)
	}
}

func TestDownloadMissingKeyLeavesNoFile(t *testing.T) {
	fx := newFixture(t, "bkt1")
	dst := filepath.Join(fx.dir, "out.txt")
	for _, threshold := range []int64{100 << 20, 1} {
		o, _, _ := fx.opts(t, output.FormatText, "oss://bkt1/nope.txt", dst)
		o.Threshold = threshold
		err := run(o)
		var se oss.ServiceError
		if !errors.As(err, &se) || se.StatusCode != 404 {
			t.Fatalf("error = %v, want a 404 service error", err)
		}
		if !strings.HasPrefix(err.Error(), "copying oss://bkt1/nope.txt to "+dst+": ") {
			t.Errorf("error not wrapped with context: %v", err)
		}
		ents, _ := os.ReadDir(fx.dir)
		for _, e := range ents {
			if e.Name() != ".checkpoints" {
				t.Errorf("file left behind: %s", e.Name())
			}
		}
	}
	// Same with the multipart download path, after the object vanished between HEAD and GET.
	o, _, _ := fx.opts(t, output.FormatText)
	cfg := transfer.Config{Client: fx.client, Threshold: 1, PartSize: transfer.MinPartSize, CheckpointDir: o.CheckpointDir}
	_, err := cfg.Download(context.Background(), transfer.Download{Bucket: "bkt1", Key: "gone", LocalPath: dst, Size: 10}, nil)
	if err == nil {
		t.Fatal("download of a missing key succeeded")
	}
	for _, e := range func() []os.DirEntry { ents, _ := os.ReadDir(fx.dir); return ents }() {
		if e.Name() != ".checkpoints" {
			t.Errorf("file left behind: %s", e.Name())
		}
	}
	if ents, _ := os.ReadDir(o.CheckpointDir); len(ents) != 0 {
		t.Errorf("checkpoint left behind for a permanent failure: %v", ents)
	}
}

func TestExistingDestination(t *testing.T) {
	fx := newFixture(t, "bkt1")
	src := filepath.Join(fx.dir, "a.txt")
	writeFile(t, src, []byte("new"))
	putObject(t, fx.client, "bkt1", "a.txt", []byte("old"))

	// Not a terminal, no -f: refused with a hint, object untouched.
	o, _, _ := fx.opts(t, output.FormatText, src, "oss://bkt1/a.txt")
	err := run(o)
	if err == nil || !strings.Contains(err.Error(), "already exists") || len(cmdutil.Hints(err)) == 0 {
		t.Fatalf("error = %v, want 'already exists' with a hint", err)
	}
	if got := getObject(t, fx.client, "bkt1", "a.txt"); string(got) != "old" {
		t.Fatal("object overwritten without -f")
	}

	// -u: the object is newer than the file (just written) → skipped.
	old := getObjectTime(t, fx.client, "bkt1", "a.txt").Add(-time.Hour)
	if err := os.Chtimes(src, old, old); err != nil {
		t.Fatal(err)
	}
	o, out, _ := fx.opts(t, output.FormatJSON, src, "oss://bkt1/a.txt")
	o.Update = true
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if ev := jsonLines(t, out.String()); ev[0]["event"] != "skipped" {
		t.Errorf("events %v, want skipped", ev)
	}
	if got := getObject(t, fx.client, "bkt1", "a.txt"); string(got) != "old" {
		t.Fatal("-u overwrote a newer object")
	}
	// -u with a newer source overwrites without asking.
	newer := getObjectTime(t, fx.client, "bkt1", "a.txt").Add(time.Hour)
	if err := os.Chtimes(src, newer, newer); err != nil {
		t.Fatal(err)
	}
	o, _, _ = fx.opts(t, output.FormatText, src, "oss://bkt1/a.txt")
	o.Update = true
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if got := getObject(t, fx.client, "bkt1", "a.txt"); string(got) != "new" {
		t.Fatal("-u did not overwrite an older object")
	}
	putObject(t, fx.client, "bkt1", "a.txt", []byte("old"))

	// A terminal: the prompt decides.
	o, _, errOut := fx.opts(t, output.FormatText, src, "oss://bkt1/a.txt")
	o.IO.SetStdinTTY(true)
	o.IO.SetStderrTTY(true)
	o.IO.In = strings.NewReader("n\n")
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "overwrite oss://bkt1/a.txt?") {
		t.Errorf("no prompt on stderr: %q", errOut)
	}
	if got := getObject(t, fx.client, "bkt1", "a.txt"); string(got) != "old" {
		t.Fatal("overwritten after answering no")
	}
	o, _, _ = fx.opts(t, output.FormatText, src, "oss://bkt1/a.txt")
	o.IO.SetStdinTTY(true)
	o.IO.SetStderrTTY(true)
	o.IO.In = strings.NewReader("y\n")
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if got := getObject(t, fx.client, "bkt1", "a.txt"); string(got) != "new" {
		t.Fatal("not overwritten after answering yes")
	}

	// -f overwrites; a download onto an existing file needs -f too.
	writeFile(t, src, []byte("newer"))
	o, _, _ = fx.opts(t, output.FormatText, src, "oss://bkt1/a.txt")
	o.Force = true
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(fx.dir, "local.txt")
	writeFile(t, local, []byte("keep"))
	o, _, _ = fx.opts(t, output.FormatText, "oss://bkt1/a.txt", local)
	if err := run(o); err == nil {
		t.Fatal("download overwrote a local file without -f")
	}
	if got, _ := os.ReadFile(local); string(got) != "keep" {
		t.Fatal("local file changed")
	}
	o, _, _ = fx.opts(t, output.FormatText, "oss://bkt1/a.txt", local)
	o.Force = true
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(local); string(got) != "newer" {
		t.Fatalf("local file = %q", got)
	}
}

func getObjectTime(t *testing.T, c *oss.Client, bucket, key string) time.Time {
	t.Helper()
	b, _ := c.Bucket(bucket)
	h, err := b.GetObjectDetailedMeta(key)
	if err != nil {
		t.Fatal(err)
	}
	return lastModified(h)
}

func TestCopyMetadata(t *testing.T) {
	fx := newFixture(t, "bkt1", "bkt2")
	putObject(t, fx.client, "bkt1", "src.bin", []byte("payload"), oss.ContentType("image/png"), oss.Meta("a", "1"),
		oss.CacheControl("no-cache"))
	// Default: metadata copied.
	o, _, _ := fx.opts(t, output.FormatText, "oss://bkt1/src.bin", "oss://bkt2/dst.bin")
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	b2, _ := fx.client.Bucket("bkt2")
	h, _ := b2.GetObjectDetailedMeta("dst.bin")
	if h.Get("Content-Type") != "image/png" || h.Get("X-Oss-Meta-A") != "1" {
		t.Errorf("copied headers %v", h)
	}
	// --meta replaces user metadata, keeps content headers.
	o, _, _ = fx.opts(t, output.FormatText, "oss://bkt1/src.bin", "oss://bkt2/dst2.bin")
	o.Meta = map[string]string{"b": "2"}
	o.ACL = "public-read"
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	h, _ = b2.GetObjectDetailedMeta("dst2.bin")
	if h.Get("X-Oss-Meta-A") != "" || h.Get("X-Oss-Meta-B") != "2" || h.Get("Content-Type") != "image/png" || h.Get("Cache-Control") != "no-cache" {
		t.Errorf("replaced headers %v", h)
	}
	acl, err := b2.GetObjectACL("dst2.bin")
	if err != nil || acl.ACL != "public-read" {
		t.Errorf("ACL %q (%v), want public-read", acl.ACL, err)
	}
	// Copying an object onto itself without changes is refused locally.
	o, _, _ = fx.opts(t, output.FormatText, "oss://bkt1/src.bin", "oss://bkt1/src.bin")
	o.Force = true
	if err := run(o); err == nil || !strings.Contains(err.Error(), "same object") {
		t.Fatalf("self copy error = %v", err)
	}
	// Missing source → not found.
	o, _, _ = fx.opts(t, output.FormatText, "oss://bkt1/none", "oss://bkt2/none")
	o.Force = true
	var se oss.ServiceError
	if err := run(o); !errors.As(err, &se) || se.StatusCode != 404 {
		t.Fatalf("missing source error = %v", err)
	}
}

func TestCanceledContext(t *testing.T) {
	fx := newFixture(t, "bkt1")
	src := filepath.Join(fx.dir, "a.txt")
	writeFile(t, src, []byte("a"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o, _, _ := fx.opts(t, output.FormatText, src, "oss://bkt1/a.txt")
	o.Ctx = ctx
	err := run(o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if keys := listKeys(t, fx.client, "bkt1", ""); len(keys) != 0 {
		t.Errorf("uploaded after cancel: %v", keys)
	}
}

func TestProgressBarOnlyOnTerminal(t *testing.T) {
	fx := newFixture(t, "bkt1")
	src := filepath.Join(fx.dir, "a.txt")
	writeFile(t, src, randBytes(10000, 9))
	o, out, errOut := fx.opts(t, output.FormatText, src, "oss://bkt1/a.txt")
	o.IO.SetStderrTTY(true)
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", out)
	}
	if !strings.Contains(errOut.String(), "Copied 1 file") {
		t.Errorf("stderr = %q, want a summary", errOut)
	}
	// The finished bar shows files and bytes, and ends its line before the summary.
	for _, want := range []string{"1/1 files 9.8 KiB/9.8 KiB 100%", "/s)\nCopied 1 file"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr = %q, want %q", errOut, want)
		}
	}
	o, _, errOut = fx.opts(t, output.FormatText, src, "oss://bkt1/b.txt")
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr not a terminal, got %q", errOut)
	}
}

func TestStdinAndStdout(t *testing.T) {
	fx := newFixture(t, "bkt1")
	data := randBytes(350<<10+5, 21) // more than three 100 KiB parts: multipart from a stream
	o, _, _ := fx.opts(t, output.FormatText, "-", "oss://bkt1/from-stdin.bin")
	o.IO.In = bytes.NewReader(data)
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	b, _ := fx.client.Bucket("bkt1")
	if h, _ := b.GetObjectDetailedMeta("from-stdin.bin"); h.Get("X-Oss-Object-Type") != "Multipart" {
		t.Errorf("a large stream was not uploaded part by part: %v", h)
	}
	// An existing object needs -f (stdin carries the data: no prompt).
	o, _, _ = fx.opts(t, output.FormatText, "-", "oss://bkt1/from-stdin.bin")
	o.IO.In = strings.NewReader("x")
	if err := run(o); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("overwrite without -f: %v", err)
	}
	// To stdout: only the object's bytes, even with --output json.
	o, out, errOut := fx.opts(t, output.FormatJSON, "oss://bkt1/from-stdin.bin", "-")
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("stdout has %d bytes, want exactly the object's %d", out.Len(), len(data))
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr %q", errOut)
	}
	// A small stream is one PUT.
	o, _, _ = fx.opts(t, output.FormatText, "-", "oss://bkt1/small.txt")
	o.IO.In = strings.NewReader("hello\n")
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if got := getObject(t, fx.client, "bkt1", "small.txt"); string(got) != "hello\n" {
		t.Fatalf("small stream %q", got)
	}
}

func TestRecursiveFiltersAndStartedEvents(t *testing.T) {
	fx := newFixture(t, "bkt1")
	src := filepath.Join(fx.dir, "src")
	for _, rel := range []string{"a.jpg", "b.txt", "x.tmp", "node_modules/m.jpg", "d/c.jpg", "d/keep.tmp"} {
		writeFile(t, filepath.Join(src, filepath.FromSlash(rel)), []byte(rel))
	}
	o, out, _ := fx.opts(t, output.FormatJSON)
	o.Recursive = true
	o.Rules = []transfer.Rule{{Pattern: "node_modules"}, {Include: true, Pattern: "d/keep.tmp"}, {Pattern: "*.tmp"}}
	setArgs(t, o, src, "oss://bkt1/")
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"a.jpg", "b.txt", "d/c.jpg", "d/keep.tmp"}, listKeys(t, fx.client, "bkt1", "")); d != "" {
		t.Fatalf("keys (-want +got):\n%s", d)
	}
	all := allJSONLines(t, out.String())
	started := map[string]bool{}
	for _, e := range all {
		switch e["event"] {
		case "started":
			started[e["source"].(string)] = true
		case "done":
			if !started[e["source"].(string)] || e["action"] != "upload" {
				t.Errorf("done without a started event before it, or no action: %v", e)
			}
		}
	}
	// Download back only the jpgs.
	dl := filepath.Join(fx.dir, "dl")
	o, _, _ = fx.opts(t, output.FormatText)
	o.Recursive = true
	o.Rules = []transfer.Rule{{Include: true, Pattern: "*.jpg"}}
	setArgs(t, o, "oss://bkt1/", dl)
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dl, "d", "c.jpg")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dl, "b.txt")); err == nil {
		t.Error("b.txt downloaded despite --include '*.jpg'")
	}
}

func TestMissingBucketStopsTheBatch(t *testing.T) {
	fx := newFixture(t)
	src := filepath.Join(fx.dir, "src")
	for i := range 20 {
		writeFile(t, filepath.Join(src, strconv.Itoa(i)), []byte("x"))
	}
	o, out, _ := fx.opts(t, output.FormatJSON)
	o.Recursive, o.Force, o.Jobs = true, true, 2
	setArgs(t, o, src, "oss://nobucket/")
	err := run(o)
	var se oss.ServiceError
	if !errors.As(err, &se) || se.Code != "NoSuchBucket" {
		t.Fatalf("error %v, want NoSuchBucket", err)
	}
	if hints := cmdutil.Hints(err); len(hints) == 0 || !strings.Contains(hints[0], "ossctl mb oss://nobucket") {
		t.Errorf("hints %v", hints)
	}
	failed := 0
	for _, e := range jsonLines(t, out.String()) {
		if e["event"] == "failed" {
			failed++
		}
	}
	if failed > 3 {
		t.Errorf("%d files failed: the batch went on after the bucket was found missing", failed)
	}
}

func TestInterruptKeepsCheckpointAndResumes(t *testing.T) {
	fx := newFixture(t, "bkt1")
	data := randBytes(8*transfer.MinPartSize, 22)
	src := filepath.Join(fx.dir, "big.bin")
	writeFile(t, src, data)
	ctx, cancel := context.WithCancel(context.Background())
	o, _, _ := fx.opts(t, output.FormatText, src, "oss://bkt1/big.bin")
	o.Ctx = ctx
	o.Threshold, o.Parallel = 2*transfer.MinPartSize, 1
	o.MaxUploadSpeed = 400 << 10 // slow enough to interrupt mid-way
	go func() {
		time.Sleep(500 * time.Millisecond)
		cancel()
	}()
	err := run(o)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "run the same command again to resume") {
		t.Fatalf("interrupted: %v", err)
	}
	ents, _ := os.ReadDir(o.CheckpointDir)
	if len(ents) != 1 {
		t.Fatalf("checkpoint not kept: %v", ents)
	}
	// Corrupt it: the rerun says so and starts over cleanly.
	if err := os.WriteFile(filepath.Join(o.CheckpointDir, ents[0].Name()), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, _, errOut := fx.opts(t, output.FormatText, src, "oss://bkt1/big.bin")
	o.Threshold = 2 * transfer.MinPartSize
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "warning: checkpoint") || !strings.Contains(errOut.String(), "is corrupt") {
		t.Errorf("stderr %q: no message about the corrupt checkpoint", errOut)
	}
	if !bytes.Equal(getObject(t, fx.client, "bkt1", "big.bin"), data) {
		t.Fatal("content differs")
	}
}

// TestServerSideEncryptionFlags uploads with --sse on the single-PUT and the
// multipart path and copies with --sse KMS: the server must report each
// object as encrypted the way it was asked, and the bytes read back whole.
func TestServerSideEncryptionFlags(t *testing.T) {
	fx := newFixture(t, "bkt1")
	small, big := randBytes(10<<10, 7), randBytes(3*transfer.MinPartSize+17, 8)
	writeFile(t, filepath.Join(fx.dir, "small.bin"), small)
	writeFile(t, filepath.Join(fx.dir, "big.bin"), big)
	b, _ := fx.client.Bucket("bkt1")
	check := func(key, alg string, want []byte) {
		t.Helper()
		h, err := b.GetObjectDetailedMeta(key)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.Get("X-Oss-Server-Side-Encryption"); got != alg {
			t.Errorf("%s: x-oss-server-side-encryption %q, want %q", key, got, alg)
		}
		if got := getObject(t, fx.client, "bkt1", key); !bytes.Equal(got, want) {
			t.Errorf("%s: bytes differ", key)
		}
	}

	o, _, _ := fx.opts(t, output.FormatText, filepath.Join(fx.dir, "small.bin"), "oss://bkt1/small")
	o.SSE = "AES256"
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	check("small", "AES256", small)

	o, _, _ = fx.opts(t, output.FormatText, filepath.Join(fx.dir, "big.bin"), "oss://bkt1/big")
	o.SSE, o.Threshold = "AES256", transfer.MinPartSize
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	check("big", "AES256", big)

	o, _, _ = fx.opts(t, output.FormatText, "oss://bkt1/small", "oss://bkt1/small-kms")
	o.SSE = "KMS"
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	check("small-kms", "KMS", small)

	// a key id without KMS is a usage error
	o, _, _ = fx.opts(t, output.FormatText)
	o.SSE, o.SSEKeyID = "AES256", "alias/x"
	var fe *cmdutil.FlagError
	if err := o.Parse(); !errors.As(err, &fe) {
		t.Fatalf("--sse-key-id with AES256: %v, want a flag error", err)
	}
}

func TestFileWhereDirectoryIsNeeded(t *testing.T) {
	fx := newFixture(t, "bkt1")
	putObject(t, fx.client, "bkt1", "p/a.txt", []byte("a"))
	putObject(t, fx.client, "bkt1", "p/sub/b.txt", []byte("b"))
	file := filepath.Join(fx.dir, "file")
	writeFile(t, file, []byte("keep"))

	// -r into a file, with or without a trailing '/': a usage error naming the file.
	for _, dst := range []string{file, file + "/"} {
		o, _, _ := fx.opts(t, output.FormatText)
		o.Recursive = true
		setArgs(t, o, "oss://bkt1/p/", dst)
		err := run(o)
		if err == nil || !strings.Contains(err.Error(), file+" is a file") || len(cmdutil.Hints(err)) == 0 {
			t.Errorf("-r to %s: error = %v, want one naming the file, with a hint", dst, err)
		}
	}
	// One object into "file/": the file in the way is named.
	o, _, _ := fx.opts(t, output.FormatText, "oss://bkt1/p/a.txt", file+"/")
	if err := run(o); err == nil || !strings.Contains(err.Error(), file+" is a file, but a directory is needed") {
		t.Errorf("download into %s/: error = %v", file, err)
	}
	// Inside a tree, a file where a subdirectory goes fails that object only.
	dl := filepath.Join(fx.dir, "dl")
	writeFile(t, filepath.Join(dl, "sub"), []byte("in the way"))
	o, _, _ = fx.opts(t, output.FormatText)
	o.Recursive = true
	setArgs(t, o, "oss://bkt1/p/", dl)
	err := run(o)
	var pe *cmdutil.PartialError
	if !errors.As(err, &pe) || pe.Failed != 1 || pe.Total != 2 {
		t.Fatalf("error = %v, want 1 of 2 failed", err)
	}
	if !strings.Contains(pe.First.Error(), filepath.Join(dl, "sub")+" is a file, but a directory is needed") {
		t.Errorf("first error %v does not name the file in the way", pe.First)
	}
	if got, err := os.ReadFile(filepath.Join(dl, "a.txt")); err != nil || string(got) != "a" {
		t.Errorf("a.txt = %q, %v", got, err)
	}
	if got, _ := os.ReadFile(file); string(got) != "keep" {
		t.Error("the file in the way was changed")
	}
	ents, _ := os.ReadDir(dl)
	if len(ents) != 2 {
		t.Errorf("destination holds %d entries, want a.txt and sub (no temporary files)", len(ents))
	}
}

func TestSpecialFileInTreeIsReportedAndSkipped(t *testing.T) {
	fx := newFixture(t, "bkt1")
	src := filepath.Join(fx.dir, "src")
	writeFile(t, filepath.Join(src, "a.txt"), []byte("a"))
	mkfifo(t, filepath.Join(src, "pipe"))

	o, out, errOut := fx.opts(t, output.FormatJSON)
	o.Recursive = true
	setArgs(t, o, src, "oss://bkt1/")
	if err := run(o); err != nil {
		t.Fatalf("a named pipe in the tree failed the batch: %v", err) // and did not hang reading it
	}
	var skipped []map[string]any
	ev := jsonLines(t, out.String())
	for _, e := range ev {
		if e["event"] == "skipped" {
			skipped = append(skipped, e)
		}
	}
	if len(skipped) != 1 || skipped[0]["source"] != filepath.Join(src, "pipe") ||
		skipped[0]["destination"] != "oss://bkt1/pipe" || skipped[0]["reason"] != "not a regular file (a named pipe)" {
		t.Errorf("skipped events %v", skipped)
	}
	if sum := ev[len(ev)-1]; sum["event"] != "summary" || sum["done"] != 1.0 || sum["skipped"] != 1.0 || sum["failed"] != 0.0 {
		t.Errorf("summary %v", sum)
	}
	if !strings.Contains(errOut.String(), filepath.Join(src, "pipe")+" is a named pipe, not a regular file: skipped") {
		t.Errorf("stderr %q does not name the skipped pipe", errOut)
	}
	if d := cmp.Diff([]string{"a.txt"}, listKeys(t, fx.client, "bkt1", "")); d != "" {
		t.Errorf("keys (-want +got):\n%s", d)
	}
}
