package rb

import (
	"errors"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/google/shlex"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/cmdutil/cmdutiltest"
	"github.com/ossctl/ossctl/internal/server/servertest"
)

func TestNewCmdRbFlags(t *testing.T) {
	tests := []struct {
		in        string
		tty       bool
		wantForce bool
		wantYes   bool
		wantErr   string
	}{
		{in: "oss://bkt1"},
		{in: "oss://bkt1/", wantForce: false},
		{in: "--force --yes oss://bkt1", wantForce: true, wantYes: true},
		{in: "--force -f oss://bkt1", wantForce: true, wantYes: true},
		{in: "--force -y oss://bkt1", wantForce: true, wantYes: true},
		{in: "--force oss://bkt1", tty: true, wantForce: true},
		{in: "--force oss://bkt1", wantErr: "confirm with --yes"},
		{in: "oss://bkt1/key", wantErr: "expected oss://BUCKET"},
		{in: "", wantErr: "missing argument"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, s := cmdutiltest.New(t, cmdutiltest.Options{StderrTTY: tt.tty})
			s.IO.SetStdinTTY(tt.tty)
			var got *Options
			cmd := NewCmdRb(f, func(o *Options) error { got = o; return nil })
			args, _ := shlex.Split(tt.in)
			cmd.SetArgs(args)
			cmd.SetErr(&strings.Builder{})
			cmd.SetOut(&strings.Builder{})
			_, err := cmd.ExecuteC()
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &fe) {
					t.Fatalf("err = %v, want FlagError %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Bucket != "bkt1" || got.Force != tt.wantForce || got.Yes != tt.wantYes {
				t.Errorf("options = %+v", got)
			}
		})
	}
}

func setup(t *testing.T) (*servertest.Env, *oss.Client) {
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
	for _, k := range []string{"a", "a/b", "a/../b", "c//d"} {
		if err := b.PutObject(k, strings.NewReader(k)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.InitiateMultipartUpload("pending"); err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func newOpts(t *testing.T, srv *servertest.Env, o cmdutiltest.Options) (*Options, cmdutiltest.Streams) {
	o.Endpoint, o.AccessKeyID, o.AccessKeySecret = srv.Endpoint, srv.AccessKeyID, srv.AccessKeySecret
	f, s := cmdutiltest.New(t, o)
	return &Options{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer, Bucket: "bkt1"}, s
}

func bucketExists(t *testing.T, c *oss.Client) bool {
	ok, err := c.IsBucketExist("bkt1")
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestRunRefusesNonEmptyBucketWithHint(t *testing.T) {
	srv, c := setup(t)
	opts, _ := newOpts(t, srv, cmdutiltest.Options{})
	err := run(opts)
	var se oss.ServiceError
	if !errors.As(err, &se) || se.Code != "BucketNotEmpty" {
		t.Fatalf("err = %v, want BucketNotEmpty", err)
	}
	if h := cmdutil.Hints(err); len(h) == 0 || !strings.Contains(h[0], "--force") {
		t.Errorf("hints = %q", h)
	}
	if !bucketExists(t, c) {
		t.Fatal("bucket removed")
	}
}

func TestRunForceEmptiesAndRemoves(t *testing.T) {
	srv, c := setup(t)
	opts, s := newOpts(t, srv, cmdutiltest.Options{JSON: true})
	opts.Force, opts.Yes = true, true
	if err := run(opts); err != nil {
		t.Fatal(err)
	}
	if bucketExists(t, c) {
		t.Fatal("bucket still exists")
	}
	want := `{"bucket":"bkt1","url":"oss://bkt1","removed":true,"objectsDeleted":4,"versionsDeleted":0,"uploadsAborted":1}` + "\n"
	if got := s.Out.String(); got != want {
		t.Errorf("JSON = %s want %s", got, want)
	}
}

func TestRunForceAsksForTheBucketName(t *testing.T) {
	srv, c := setup(t)
	opts, s := newOpts(t, srv, cmdutiltest.Options{StderrTTY: true})
	opts.Force = true
	s.In.WriteString("wrong-name\n")
	err := run(opts)
	if !errors.Is(err, cmdutil.ErrCanceled) {
		t.Fatalf("err = %v, want ErrCanceled", err)
	}
	if !strings.Contains(s.ErrOut.String(), "Type the bucket name to confirm") {
		t.Errorf("no prompt on stderr: %q", s.ErrOut.String())
	}
	if !bucketExists(t, c) {
		t.Fatal("bucket removed without confirmation")
	}

	opts, s = newOpts(t, srv, cmdutiltest.Options{StderrTTY: true, StdoutTTY: true})
	opts.Force = true
	s.In.WriteString("bkt1\n")
	if err := run(opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Out.String(), "Removed bucket oss://bkt1") {
		t.Errorf("stdout = %q", s.Out.String())
	}
	if bucketExists(t, c) {
		t.Fatal("bucket still exists")
	}
}
