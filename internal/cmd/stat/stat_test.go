package stat

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/google/shlex"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/cmdutil/cmdutiltest"
	"github.com/ossctl/ossctl/internal/server/servertest"
)

func TestNewCmdStatArgs(t *testing.T) {
	tests := []struct {
		in      string
		want    cmdutil.OSSURL
		wantErr string
	}{
		{in: "oss://bkt1", want: cmdutil.OSSURL{Bucket: "bkt1"}},
		{in: "oss://bkt1/", want: cmdutil.OSSURL{Bucket: "bkt1"}},
		{in: "oss://bkt1/a/../b", want: cmdutil.OSSURL{Bucket: "bkt1", Key: "a/../b"}},
		{in: "oss://bkt1//lead", wantErr: "must not start with"},
		{in: "", wantErr: "missing argument"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, _ := cmdutiltest.New(t, cmdutiltest.Options{})
			var got *Options
			cmd := NewCmdStat(f, func(o *Options) error { got = o; return nil })
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
			if err != nil || got.URL != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestRunObject(t *testing.T) {
	srv := servertest.Start(t)
	c, _ := oss.New(srv.Endpoint, srv.AccessKeyID, srv.AccessKeySecret)
	if err := c.CreateBucket("bkt1"); err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("bkt1")
	if err := b.PutObject("docs/r.txt", strings.NewReader("123456789"),
		oss.ContentType("text/plain"), oss.Meta("Owner-Team", "storage"), oss.ObjectACL(oss.ACLPublicRead)); err != nil {
		t.Fatal(err)
	}
	f, s := cmdutiltest.New(t, cmdutiltest.Options{Endpoint: srv.Endpoint, AccessKeyID: srv.AccessKeyID, AccessKeySecret: srv.AccessKeySecret, JSON: true})
	opts := &Options{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer, URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "docs/r.txt"}}
	if err := run(opts); err != nil {
		t.Fatal(err)
	}
	var got ObjectResult
	if err := json.Unmarshal(s.Out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, s.Out.String())
	}
	if got.Size != 9 || got.CRC64 != "11051210869376104954" || got.ContentType != "text/plain" ||
		got.ACL != "public-read" || got.Metadata["owner-team"] != "storage" || got.ETag != "25F9E794323B453885F5181F1B624D0B" ||
		got.LastModified == nil || got.ObjectType != "Normal" {
		t.Errorf("stat = %+v", got)
	}

	f, s = cmdutiltest.New(t, cmdutiltest.Options{Endpoint: srv.Endpoint, AccessKeyID: srv.AccessKeyID, AccessKeySecret: srv.AccessKeySecret})
	opts = &Options{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer, URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "docs/r.txt"}}
	if err := run(opts); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Size\t9\n", "CRC64\t11051210869376104954\n", "Meta owner-team\tstorage\n", "ACL\tpublic-read\n"} {
		if !strings.Contains(s.Out.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, s.Out.String())
		}
	}
}

func TestRunBucket(t *testing.T) {
	srv := servertest.Start(t)
	c, _ := oss.New(srv.Endpoint, srv.AccessKeyID, srv.AccessKeySecret)
	if err := c.CreateBucket("bkt1", oss.ACL(oss.ACLPrivate)); err != nil {
		t.Fatal(err)
	}
	f, s := cmdutiltest.New(t, cmdutiltest.Options{Endpoint: srv.Endpoint, AccessKeyID: srv.AccessKeyID, AccessKeySecret: srv.AccessKeySecret, StdoutTTY: true})
	opts := &Options{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer, URL: cmdutil.OSSURL{Bucket: "bkt1"}}
	if err := run(opts); err != nil {
		t.Fatal(err)
	}
	out := s.Out.String()
	for _, want := range []string{"Name:", "bkt1", "ACL:", "private", "Created:", "Storage used:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	opts.URL = cmdutil.OSSURL{Bucket: "nope-bkt"}
	err := run(opts)
	var se oss.ServiceError
	if !errors.As(err, &se) || se.Code != "NoSuchBucket" {
		t.Errorf("err = %v, want NoSuchBucket", err)
	}
}
