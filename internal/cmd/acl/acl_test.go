package acl

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/google/go-cmp/cmp"
	"github.com/google/shlex"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
	"github.com/ossctl/ossctl/internal/server/servertest"
)

func factory() *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	return cmdutil.New(ios, cmdutil.Env{LookupEnv: func(string) (string, bool) { return "", false }})
}

func execute(cmd *cobra.Command, line string) error {
	args, _ := shlex.Split(line)
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return cmd.Execute()
}

func TestNewCmdSetACLFlags(t *testing.T) {
	tests := []struct {
		args, wantErr string
		want          SetOptions
	}{
		{args: "oss://bkt1 private", want: SetOptions{URL: cmdutil.OSSURL{Bucket: "bkt1"}, ACL: "private", Jobs: 5}},
		{args: "oss://bkt1/k Public-Read", want: SetOptions{URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "k"}, ACL: "public-read", Jobs: 5}},
		{args: "oss://bkt1/k default", want: SetOptions{URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "k"}, ACL: "default", Jobs: 5}},
		{args: "-r -j 9 oss://bkt1 default", want: SetOptions{URL: cmdutil.OSSURL{Bucket: "bkt1"}, ACL: "default", Recursive: true, Jobs: 9}},
		{args: "oss://bkt1 default", wantErr: "invalid bucket ACL"},
		{args: "oss://bkt1/k open", wantErr: "invalid object ACL"},
		{args: "oss://bkt1/p/ private", wantErr: "use -r"},
		{args: "oss://bkt1", wantErr: "missing argument"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			var got *SetOptions
			err := execute(NewCmdSetACL(factory(), func(o *SetOptions) error { got = o; return nil }), tt.args)
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &fe) {
					t.Fatalf("error = %v, want usage error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g := SetOptions{URL: got.URL, ACL: got.ACL, Recursive: got.Recursive, Jobs: got.Jobs}
			if d := cmp.Diff(tt.want, g); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestNewCmdGetACLFlags(t *testing.T) {
	var got *GetOptions
	if err := execute(NewCmdGetACL(factory(), func(o *GetOptions) error { got = o; return nil }), "oss://bkt1/a/b"); err != nil {
		t.Fatal(err)
	}
	if got.URL != (cmdutil.OSSURL{Bucket: "bkt1", Key: "a/b"}) {
		t.Errorf("URL %+v", got.URL)
	}
	if err := execute(NewCmdGetACL(factory(), nil), "oss://bkt1 extra"); err == nil {
		t.Error("two arguments accepted")
	}
}

func TestACLCompletion(t *testing.T) {
	cmd := NewCmdSetACL(factory(), nil)
	got, _ := cmd.ValidArgsFunction(cmd, []string{"oss://bkt1"}, "")
	if d := cmp.Diff(BucketACLs, got); d != "" {
		t.Errorf("bucket ACL completion: %s", d)
	}
	got, _ = cmd.ValidArgsFunction(cmd, []string{"oss://bkt1/k"}, "")
	if d := cmp.Diff(ObjectACLs, got); d != "" {
		t.Errorf("object ACL completion: %s", d)
	}
}

func TestACLRoundTrip(t *testing.T) {
	env := servertest.Start(t)
	c, _ := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret)
	if err := c.CreateBucket("bkt1"); err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("bkt1")
	for _, k := range []string{"k", "p/1", "p/2"} {
		if err := b.PutObject(k, strings.NewReader(k)); err != nil {
			t.Fatal(err)
		}
	}
	set := func(url, acl string, recursive bool) error {
		ios, _, _, _ := iostreams.Test()
		u, _ := cmdutil.ParseURL(url)
		return runSet(&SetOptions{IO: ios, OSS: func() (*oss.Client, error) { return c, nil }, Ctx: context.Background(),
			Printer: func() *output.Printer { return output.New(ios, output.FormatText, nil) }, URL: u, ACL: acl, Recursive: recursive, Jobs: 2})
	}
	get := func(url string, format output.Format) string {
		ios, _, out, _ := iostreams.Test()
		u, _ := cmdutil.ParseURL(url)
		if err := runGet(&GetOptions{IO: ios, OSS: func() (*oss.Client, error) { return c, nil },
			Printer: func() *output.Printer { return output.New(ios, format, nil) }, URL: u}); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if got := get("oss://bkt1/k", output.FormatText); got != "default\n" {
		t.Errorf("initial object ACL %q", got)
	}
	for _, acl := range BucketACLs {
		if err := set("oss://bkt1", acl, false); err != nil {
			t.Fatal(err)
		}
		if got := get("oss://bkt1", output.FormatText); got != acl+"\n" {
			t.Errorf("bucket ACL %q, want %s", got, acl)
		}
	}
	if err := set("oss://bkt1/k", "public-read", false); err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := json.Unmarshal([]byte(get("oss://bkt1/k", output.FormatJSON)), &res); err != nil || res.ACL != "public-read" || res.Key != "k" || res.Owner == "" {
		t.Errorf("JSON %+v (%v)", res, err)
	}
	if err := set("oss://bkt1/p/", "private", true); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"p/1", "p/2"} {
		if got := get("oss://bkt1/"+k, output.FormatText); got != "private\n" {
			t.Errorf("%s ACL %q after -r", k, got)
		}
	}
	if got := get("oss://bkt1/k", output.FormatText); got != "public-read\n" {
		t.Errorf("-r changed an object outside the prefix: %q", got)
	}
	err := set("oss://nosuchbucket", "private", false)
	var se oss.ServiceError
	if !errors.As(err, &se) || se.Code != "NoSuchBucket" {
		t.Errorf("missing bucket: %v", err)
	}
}
