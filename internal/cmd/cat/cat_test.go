package cat

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/google/shlex"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/server/servertest"
)

func TestNewCmdCatFlags(t *testing.T) {
	tests := []struct {
		args, wantErr string
		wantURL       cmdutil.OSSURL
		wantRange     string
	}{
		{args: `"oss://bkt1/a b.txt"`, wantURL: cmdutil.OSSURL{Bucket: "bkt1", Key: "a b.txt"}},
		{args: "--range 0-9 oss://bkt1/k", wantURL: cmdutil.OSSURL{Bucket: "bkt1", Key: "k"}, wantRange: "0-9"},
		{args: "--range 5- oss://bkt1/k", wantURL: cmdutil.OSSURL{Bucket: "bkt1", Key: "k"}, wantRange: "5-"},
		{args: "--range=-5 oss://bkt1/k", wantURL: cmdutil.OSSURL{Bucket: "bkt1", Key: "k"}, wantRange: "-5"},
		{args: "--range 9-1 oss://bkt1/k", wantErr: "START must not exceed END"},
		{args: "--range=- oss://bkt1/k", wantErr: "invalid range"},
		{args: "--range=-0 oss://bkt1/k", wantErr: "must be positive"},
		{args: "--range a-b oss://bkt1/k", wantErr: "invalid range"},
		{args: "oss://bkt1", wantErr: "names a bucket"},
		{args: "oss://bkt1/k extra", wantErr: "too many arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := cmdutil.New(ios, cmdutil.Env{LookupEnv: func(string) (string, bool) { return "", false }})
			var got *Options
			cmd := NewCmdCat(f, func(o *Options) error { got = o; return nil })
			args, _ := shlex.Split(tt.args)
			cmd.SetArgs(args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &fe) {
					t.Fatalf("error = %v, want usage error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.URL != tt.wantURL || got.Range != tt.wantRange {
				t.Errorf("got %+v %q", got.URL, got.Range)
			}
		})
	}
}

func TestCatBytes(t *testing.T) {
	env := servertest.Start(t)
	c, _ := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret)
	if err := c.CreateBucket("bkt1"); err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("bkt1")
	data := make([]byte, 70000)
	for i := range data {
		data[i] = byte(i*7 + i>>8) // includes NUL, 0xff, newlines
	}
	if err := b.PutObject("bin/ü+x", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		rng  string
		want []byte
	}{
		{"", data},
		{"0-0", data[:1]},
		{"100-199", data[100:200]},
		{"69990-", data[69990:]},
		{"-10", data[len(data)-10:]},
		{"0-999999", data}, // past the end: ignored, whole object
	}
	for _, tc := range cases {
		ios, _, out, errOut := iostreams.Test()
		ios.SetStdoutTTY(true)
		o := &Options{IO: ios, OSS: func() (*oss.Client, error) { return c, nil }, Ctx: context.Background(),
			URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "bin/ü+x"}, Range: tc.rng}
		if err := run(o); err != nil {
			t.Fatalf("range %q: %v", tc.rng, err)
		}
		if !bytes.Equal(out.Bytes(), tc.want) {
			t.Errorf("range %q: got %d bytes, want %d", tc.rng, out.Len(), len(tc.want))
		}
		if errOut.Len() != 0 {
			t.Errorf("stderr %q", errOut)
		}
	}
	ios, _, out, _ := iostreams.Test()
	o := &Options{IO: ios, OSS: func() (*oss.Client, error) { return c, nil }, URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "missing"}}
	err := run(o)
	var se oss.ServiceError
	if !errors.As(err, &se) || se.Code != "NoSuchKey" || !strings.HasPrefix(err.Error(), "reading oss://bkt1/missing: ") {
		t.Fatalf("error = %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("stdout after an error: %q", out)
	}
}
