package ls

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/google/go-cmp/cmp"
	"github.com/google/shlex"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/cmdutil/cmdutiltest"
	"github.com/ossctl/ossctl/internal/server/servertest"
)

func TestNewCmdLsFlags(t *testing.T) {
	tests := []struct {
		in      string
		want    Options
		wantURL *cmdutil.OSSURL
		wantErr string
	}{
		{in: "", want: Options{}},
		{in: "oss://bkt1", wantURL: &cmdutil.OSSURL{Bucket: "bkt1"}},
		{in: "oss://bkt1/a//b/../c", wantURL: &cmdutil.OSSURL{Bucket: "bkt1", Key: "a//b/../c"}},
		{in: "-r oss://bkt1/logs/", want: Options{Recursive: true}, wantURL: &cmdutil.OSSURL{Bucket: "bkt1", Key: "logs/"}},
		{in: "-d oss://bkt1", want: Options{DirsOnly: true}, wantURL: &cmdutil.OSSURL{Bucket: "bkt1"}},
		{in: "-m --limit 5 oss://bkt1", want: Options{Uploads: true, Limit: 5}, wantURL: &cmdutil.OSSURL{Bucket: "bkt1"}},
		{in: "-r -d oss://bkt1", wantErr: "cannot be combined"},
		{in: "-m -d oss://bkt1", wantErr: "cannot be combined"},
		{in: "--limit -1 oss://bkt1", wantErr: "must not be negative"},
		{in: "-r", wantErr: "need an oss://BUCKET"},
		{in: "oss://bkt1 oss://bkt2", wantErr: "too many arguments"},
		{in: "s3://bkt1", wantErr: "not an OSS URL"},
		{in: "oss://Bad_Name", wantErr: "invalid bucket name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, _ := cmdutiltest.New(t, cmdutiltest.Options{})
			var got *Options
			cmd := NewCmdLs(f, func(o *Options) error { got = o; return nil })
			args, _ := shlex.Split(tt.in)
			cmd.SetArgs(args)
			cmd.SetOut(&strings.Builder{})
			cmd.SetErr(&strings.Builder{})
			_, err := cmd.ExecuteC()
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if !strings.Contains(tt.wantErr, "unknown") && !asFlagError(err, &fe) {
					t.Fatalf("err %v is not a FlagError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantURL, got.URL); diff != "" {
				t.Errorf("URL (-want +got):\n%s", diff)
			}
			if got.Recursive != tt.want.Recursive || got.DirsOnly != tt.want.DirsOnly ||
				got.Uploads != tt.want.Uploads || got.Limit != tt.want.Limit {
				t.Errorf("options = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func asFlagError(err error, fe **cmdutil.FlagError) bool {
	return errors.As(err, fe)
}

// fixture starts a server with bucket bkt1 holding a small tree.
func fixture(t *testing.T) (*servertest.Env, *oss.Bucket) {
	t.Helper()
	srv := servertest.Start(t)
	c, err := oss.New(srv.Endpoint, srv.AccessKeyID, srv.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateBucket("bkt1"); err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("bkt1")
	for _, k := range []string{"a.txt", "dir/b.txt", "dir/sub/c.txt", "dir2/d.txt", "tab\tkey", "z+%20 ü.bin"} {
		if err := b.PutObject(k, strings.NewReader("content:"+k)); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	return srv, b
}

func runLs(t *testing.T, srv *servertest.Env, o cmdutiltest.Options, opts Options) (string, string) {
	t.Helper()
	o.Endpoint, o.AccessKeyID, o.AccessKeySecret = srv.Endpoint, srv.AccessKeyID, srv.AccessKeySecret
	f, s := cmdutiltest.New(t, o)
	opts.IO, opts.OSS, opts.Printer = f.IOStreams, f.OSS, f.Printer
	if err := run(&opts); err != nil {
		t.Fatalf("run: %v\nstderr: %s", err, s.ErrOut.String())
	}
	return s.Out.String(), s.ErrOut.String()
}

func lastColumn(out string) []string {
	var urls []string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		cols := strings.Split(l, "\t")
		urls = append(urls, cols[len(cols)-1])
	}
	return urls
}

func TestRunListsOneLevelPiped(t *testing.T) {
	srv, _ := fixture(t)
	out, _ := runLs(t, srv, cmdutiltest.Options{}, Options{URL: &cmdutil.OSSURL{Bucket: "bkt1"}})
	want := []string{"oss://bkt1/a.txt", "oss://bkt1/dir/", "oss://bkt1/dir2/", `oss://bkt1/tab\tkey`, "oss://bkt1/z+%20 ü.bin"}
	if diff := cmp.Diff(want, lastColumn(out)); diff != "" {
		t.Errorf("one-level listing (-want +got):\n%s\n%s", diff, out)
	}
	first := strings.Split(strings.Split(out, "\n")[0], "\t")
	if len(first) != 4 || first[1] != "13" || !strings.HasSuffix(first[0], "Z") {
		t.Errorf("piped columns should be RFC 3339 time, byte count, class, url: %q", first)
	}
	if strings.Contains(out, "objects") {
		t.Errorf("summary printed when piped:\n%s", out)
	}
}

func TestRunRecursiveDirsAndLimit(t *testing.T) {
	srv, _ := fixture(t)
	out, _ := runLs(t, srv, cmdutiltest.Options{}, Options{URL: &cmdutil.OSSURL{Bucket: "bkt1", Key: "dir"}, Recursive: true})
	want := []string{"oss://bkt1/dir/b.txt", "oss://bkt1/dir/sub/c.txt", "oss://bkt1/dir2/d.txt"}
	if diff := cmp.Diff(want, lastColumn(out)); diff != "" {
		t.Errorf("recursive (-want +got):\n%s", diff)
	}
	out, _ = runLs(t, srv, cmdutiltest.Options{}, Options{URL: &cmdutil.OSSURL{Bucket: "bkt1"}, DirsOnly: true})
	if diff := cmp.Diff([]string{"oss://bkt1/dir/", "oss://bkt1/dir2/"}, lastColumn(out)); diff != "" {
		t.Errorf("dirs only (-want +got):\n%s", diff)
	}
	out, _ = runLs(t, srv, cmdutiltest.Options{}, Options{URL: &cmdutil.OSSURL{Bucket: "bkt1"}, Recursive: true, Limit: 2})
	if diff := cmp.Diff([]string{"oss://bkt1/a.txt", "oss://bkt1/dir/b.txt"}, lastColumn(out)); diff != "" {
		t.Errorf("limit (-want +got):\n%s", diff)
	}
}

func TestRunPagesThroughEverything(t *testing.T) {
	old := pageSize
	pageSize = 2
	t.Cleanup(func() { pageSize = old })
	srv, _ := fixture(t)
	out, _ := runLs(t, srv, cmdutiltest.Options{}, Options{URL: &cmdutil.OSSURL{Bucket: "bkt1"}, Recursive: true})
	if n := len(lastColumn(out)); n != 6 {
		t.Errorf("listed %d keys over pages of 2, want 6:\n%s", n, out)
	}
	out, _ = runLs(t, srv, cmdutiltest.Options{}, Options{URL: &cmdutil.OSSURL{Bucket: "bkt1"}})
	if n := len(lastColumn(out)); n != 5 {
		t.Errorf("listed %d entries one level over pages of 2, want 5:\n%s", n, out)
	}
}

func TestRunJSONLinesKeepsKeysExact(t *testing.T) {
	srv, _ := fixture(t)
	out, _ := runLs(t, srv, cmdutiltest.Options{JSON: true}, Options{URL: &cmdutil.OSSURL{Bucket: "bkt1"}, Recursive: true})
	var keys []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if e.Type != "object" || e.Size == nil || e.LastModified == nil || e.ETag == "" || strings.Contains(e.ETag, `"`) {
			t.Errorf("incomplete entry %+v", e)
		}
		keys = append(keys, e.Key)
	}
	want := []string{"a.txt", "dir/b.txt", "dir/sub/c.txt", "dir2/d.txt", "tab\tkey", "z+%20 ü.bin"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
}

func TestRunTTYHumanizesAndSummarizes(t *testing.T) {
	srv, _ := fixture(t)
	out, _ := runLs(t, srv, cmdutiltest.Options{StdoutTTY: true}, Options{URL: &cmdutil.OSSURL{Bucket: "bkt1"}})
	if strings.Contains(out, "\t") {
		t.Errorf("TTY output contains tabs:\n%s", out)
	}
	if !strings.Contains(out, "13 B") || !strings.Contains(out, "DIR") {
		t.Errorf("TTY output not humanized:\n%s", out)
	}
	if !strings.Contains(out, "3 objects (") || !strings.Contains(out, "2 directories") {
		t.Errorf("TTY summary missing:\n%s", out)
	}
}

func TestRunBucketsAndUploads(t *testing.T) {
	srv, b := fixture(t)
	out, _ := runLs(t, srv, cmdutiltest.Options{JSON: true}, Options{})
	var e Entry
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &e); err != nil || e.Type != "bucket" || e.Bucket != "bkt1" || e.CreationDate == nil {
		t.Fatalf("bucket entry = %+v (%v) from %q", e, err, out)
	}
	imur, err := b.InitiateMultipartUpload("big/file.bin")
	if err != nil {
		t.Fatal(err)
	}
	out, _ = runLs(t, srv, cmdutiltest.Options{}, Options{URL: &cmdutil.OSSURL{Bucket: "bkt1"}, Uploads: true, Recursive: true})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], imur.UploadID) || !strings.HasSuffix(lines[0], "oss://bkt1/big/file.bin") {
		t.Errorf("uploads listing = %q, want upload %s", out, imur.UploadID)
	}
	out, _ = runLs(t, srv, cmdutiltest.Options{}, Options{URL: &cmdutil.OSSURL{Bucket: "bkt1"}, Uploads: true})
	if diff := cmp.Diff([]string{"oss://bkt1/big/"}, lastColumn(out)); diff != "" {
		t.Errorf("one-level uploads (-want +got):\n%s", diff)
	}
}
