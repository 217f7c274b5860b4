package rm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/google/go-cmp/cmp"
	"github.com/google/shlex"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
	"github.com/ossctl/ossctl/internal/server/servertest"
	"github.com/ossctl/ossctl/internal/transfer"
)

func TestNewCmdRmFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    string
		tty     bool
		want    Options
		wantErr string
	}{
		{name: "one object", args: "oss://bkt1/a/b.txt", want: Options{URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "a/b.txt"}}},
		{name: "recursive forced", args: "-r -f oss://bkt1/p/", want: Options{URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "p/"}, Recursive: true, Force: true}},
		{name: "recursive on a terminal", args: "-r oss://bkt1", tty: true, want: Options{URL: cmdutil.OSSURL{Bucket: "bkt1"}, Recursive: true}},
		{name: "dry run needs no terminal", args: "-r --dry-run oss://bkt1/x", want: Options{URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "x"}, Recursive: true, DryRun: true}},
		{name: "multipart", args: "-m --force oss://bkt1/up", want: Options{URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "up"}, Uploads: true, Force: true}},
		{name: "recursive without terminal", args: "-r oss://bkt1/p/", wantErr: "refusing to remove every object under oss://bkt1/p/"},
		{name: "multipart without terminal", args: "-m oss://bkt1", wantErr: "refusing to remove every incomplete upload"},
		{name: "bucket without -r", args: "oss://bkt1", wantErr: "use -r"},
		{name: "prefix without -r", args: "oss://bkt1/dir/", wantErr: "use -r"},
		{name: "r and m", args: "-r -m -f oss://bkt1", wantErr: "cannot be combined"},
		{name: "not a URL", args: "./file", wantErr: "not an OSS URL"},
		{name: "no args", args: "", wantErr: "missing argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			ios.SetStdinTTY(tt.tty)
			ios.SetStderrTTY(tt.tty)
			f := cmdutil.New(ios, cmdutil.Env{LookupEnv: func(string) (string, bool) { return "", false }})
			var got *Options
			cmd := NewCmdRm(f, func(o *Options) error { got = o; return nil })
			args, _ := shlex.Split(tt.args)
			cmd.SetArgs(args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &fe) {
					t.Fatalf("error = %v, want a usage error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			gotCmp := Options{URL: got.URL, Recursive: got.Recursive, Uploads: got.Uploads, Force: got.Force, DryRun: got.DryRun}
			if d := cmp.Diff(tt.want, gotCmp); d != "" {
				t.Errorf("options (-want +got):\n%s", d)
			}
		})
	}
}

type fixture struct {
	client *oss.Client
	bucket *oss.Bucket
}

func newFixture(t *testing.T) *fixture {
	env := servertest.Start(t)
	c, err := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateBucket("bkt1"); err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("bkt1")
	return &fixture{client: c, bucket: b}
}

func (fx *fixture) put(t *testing.T, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := fx.bucket.PutObject(k, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
}

func (fx *fixture) keys(t *testing.T) []string {
	t.Helper()
	var out []string
	if err := transfer.WalkRemote(context.Background(), fx.bucket, "", func(o oss.ObjectProperties) error {
		out = append(out, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func (fx *fixture) opts(format output.Format, url string) (*Options, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	ios, in, out, errOut := iostreams.Test()
	ios.SetMachineOutput(format == output.FormatJSON)
	u, err := cmdutil.ParseURL(url)
	if err != nil {
		panic(err)
	}
	return &Options{
		IO:      ios,
		OSS:     func() (*oss.Client, error) { return fx.client, nil },
		Printer: func() *output.Printer { return output.New(ios, format, nil) },
		Ctx:     context.Background(),
		URL:     u,
	}, in, out, errOut
}

func TestRemoveOne(t *testing.T) {
	fx := newFixture(t)
	fx.put(t, "a", "a/b", "a b+c")
	o, _, out, _ := fx.opts(output.FormatJSON, "oss://bkt1/a b+c")
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	var e Entry
	if err := json.Unmarshal(out.Bytes(), &e); err != nil || e.Event != "removed" || e.Key != "a b+c" {
		t.Errorf("output %q (%v)", out, err)
	}
	o, _, _, _ = fx.opts(output.FormatText, "oss://bkt1/a")
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"a/b"}, fx.keys(t)); d != "" {
		t.Errorf("keys (-want +got):\n%s", d)
	}
}

func TestRemoveRecursive(t *testing.T) {
	fx := newFixture(t)
	var keys []string
	for i := range 1005 { // more than one batch
		keys = append(keys, fmt.Sprintf("p/%04d", i))
	}
	fx.put(t, keys...)
	fx.put(t, "p2/keep", "q/keep")

	// Dry run: lists, removes nothing.
	o, _, out, _ := fx.opts(output.FormatText, "oss://bkt1/p/")
	o.Recursive, o.DryRun = true, true
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 1005 || lines[0] != "oss://bkt1/p/0000" {
		t.Errorf("dry run printed %d lines, first %q", len(lines), lines[0])
	}
	if n := len(fx.keys(t)); n != 1007 {
		t.Fatalf("dry run removed objects: %d left", n)
	}

	// No terminal, no -f: refused before anything is listed.
	o, _, _, _ = fx.opts(output.FormatText, "oss://bkt1/p/")
	o.Recursive = true
	var fe *cmdutil.FlagError
	if err := run(o); !errors.As(err, &fe) {
		t.Fatalf("error = %v, want a usage error", err)
	}

	// A terminal and "n": canceled.
	o, in, _, _ := fx.opts(output.FormatText, "oss://bkt1/p/")
	o.Recursive = true
	o.IO.SetStdinTTY(true)
	o.IO.SetStderrTTY(true)
	in.WriteString("n\n")
	if err := run(o); !errors.Is(err, cmdutil.ErrCanceled) {
		t.Fatalf("error = %v, want canceled", err)
	}
	if n := len(fx.keys(t)); n != 1007 {
		t.Fatalf("objects removed after answering no: %d left", n)
	}

	// "y": removed, with JSON lines.
	o, in, out, errOut := fx.opts(output.FormatJSON, "oss://bkt1/p/")
	o.Recursive, o.Jobs = true, 3 // two batches at once on the transfer engine
	o.IO.SetStdinTTY(true)
	o.IO.SetStderrTTY(true)
	in.WriteString("y\n")
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "Remove every object under oss://bkt1/p/? [y/N]") {
		t.Errorf("prompt = %q", errOut)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1006 {
		t.Fatalf("%d JSON lines, want 1005 + summary", len(lines))
	}
	var sum Summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.Removed != 1005 || sum.Failed != 0 {
		t.Errorf("summary %q", lines[len(lines)-1])
	}
	if d := cmp.Diff([]string{"p2/keep", "q/keep"}, fx.keys(t)); d != "" {
		t.Errorf("keys (-want +got):\n%s", d)
	}
}

func TestRemoveUploads(t *testing.T) {
	fx := newFixture(t)
	for _, k := range []string{"up/a", "up/b", "other"} {
		if _, err := fx.bucket.InitiateMultipartUpload(k); err != nil {
			t.Fatal(err)
		}
	}
	o, _, out, _ := fx.opts(output.FormatJSON, "oss://bkt1/up/")
	o.Uploads, o.Force = true, true
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), `"event":"aborted"`); n != 2 {
		t.Errorf("%d aborted events, want 2: %s", n, out)
	}
	res, err := fx.bucket.ListMultipartUploads()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Uploads) != 1 || res.Uploads[0].Key != "other" {
		t.Errorf("uploads left: %+v", res.Uploads)
	}
}

func TestRemovePartialFailure(t *testing.T) {
	env := servertest.Start(t)
	admin, _ := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret)
	if err := admin.CreateBucket("bkt1", oss.ACL(oss.ACLPublicRead)); err != nil {
		t.Fatal(err)
	}
	b, _ := admin.Bucket("bkt1")
	if err := b.PutObject("p/a", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	// Anonymous callers may list a public-read bucket but not delete from it.
	anon, err := oss.New(env.Endpoint, "anonymous", "none", oss.HTTPClient(&http.Client{Transport: stripAuth{}}))
	if err != nil {
		t.Fatal(err)
	}
	ios, _, out, _ := iostreams.Test()
	o := &Options{IO: ios, OSS: func() (*oss.Client, error) { return anon, nil },
		Printer: func() *output.Printer { return output.New(ios, output.FormatJSON, nil) },
		Ctx:     context.Background(), URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "p/"}, Recursive: true, Force: true}
	err = run(o)
	var pe *cmdutil.PartialError
	if !errors.As(err, &pe) || pe.Failed != 1 {
		t.Fatalf("error = %v (output %s), want a partial failure", err, out)
	}
	if !strings.Contains(out.String(), `"event":"failed"`) {
		t.Errorf("no failed event: %s", out)
	}
}

// stripAuth sends requests without their signature: an anonymous client.
type stripAuth struct{}

func (stripAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Del("Authorization")
	return http.DefaultTransport.RoundTrip(r)
}
