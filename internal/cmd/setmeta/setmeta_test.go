package setmeta

import (
	"context"
	"errors"
	"io"
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

func TestNewCmdSetMetaFlags(t *testing.T) {
	tests := []struct {
		args, wantErr string
		want          Options
	}{
		{args: "oss://bkt1/k --meta a:1 --meta B:x:y", want: Options{URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "k"}, Jobs: 5,
			Meta: map[string]string{"a": "1", "b": "x:y"}, Headers: map[string]string{}}},
		{args: `oss://bkt1/k --update --content-type text/html --cache-control no-cache --expires "Wed, 21 Oct 2026 07:28:00 GMT"`,
			want: Options{URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "k"}, Jobs: 5, Update: true, Meta: map[string]string{},
				Headers: map[string]string{"Content-Type": "text/html", "Cache-Control": "no-cache", "Expires": "Wed, 21 Oct 2026 07:28:00 GMT"}}},
		{args: "-r -j 2 oss://bkt1/p/ --replace", want: Options{URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "p/"}, Recursive: true, Jobs: 2,
			Meta: map[string]string{}, Headers: map[string]string{}}},
		{args: "oss://bkt1/k", wantErr: "nothing to change"},
		{args: "oss://bkt1/k --update --replace --meta a:1", wantErr: "cannot be combined"},
		{args: "oss://bkt1/p/ --meta a:1", wantErr: "use -r"},
		{args: "oss://bkt1/k --expires tomorrow", wantErr: "invalid --expires"},
		{args: "oss://bkt1/k --content-type ''", wantErr: "invalid --content-type"},
		{args: "oss://bkt1/k --meta :1", wantErr: "NAME:VALUE"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := cmdutil.New(ios, cmdutil.Env{LookupEnv: func(string) (string, bool) { return "", false }})
			var got *Options
			cmd := NewCmdSetMeta(f, func(o *Options) error { got = o; return nil })
			args, _ := shlex.Split(tt.args)
			cmd.SetArgs(args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
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
			g := Options{URL: got.URL, Recursive: got.Recursive, Jobs: got.Jobs, Meta: got.Meta, Headers: got.Headers, Update: got.Update}
			if d := cmp.Diff(tt.want, g); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestSetMeta(t *testing.T) {
	env := servertest.Start(t)
	c, _ := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret)
	if err := c.CreateBucket("bkt1"); err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("bkt1")
	if err := b.PutObject("k", strings.NewReader("body"), oss.ContentType("image/png"), oss.CacheControl("no-store"),
		oss.ContentDisposition("inline"), oss.Meta("a", "1"), oss.Meta("b", "2"), oss.ObjectACL(oss.ACLPublicRead)); err != nil {
		t.Fatal(err)
	}
	head := func(key string) (map[string]string, string, string, string) {
		h, err := b.GetObjectDetailedMeta(key)
		if err != nil {
			t.Fatal(err)
		}
		return transfer.UserMeta(h), h.Get("Content-Type"), h.Get("Cache-Control"), h.Get("Content-Disposition")
	}
	do := func(o Options) error {
		ios, _, _, _ := iostreams.Test()
		o.IO, o.Ctx = ios, context.Background()
		o.OSS = func() (*oss.Client, error) { return c, nil }
		o.Printer = func() *output.Printer { return output.New(ios, output.FormatText, nil) }
		if o.Headers == nil {
			o.Headers = map[string]string{}
		}
		return run(&o)
	}
	k := cmdutil.OSSURL{Bucket: "bkt1", Key: "k"}

	// --update merges and keeps the content headers.
	if err := do(Options{URL: k, Update: true, Meta: map[string]string{"b": "two", "c": "3"}}); err != nil {
		t.Fatal(err)
	}
	meta, ct, cc, cd := head("k")
	if d := cmp.Diff(map[string]string{"a": "1", "b": "two", "c": "3"}, meta); d != "" || ct != "image/png" || cc != "no-store" || cd != "inline" {
		t.Errorf("after --update: meta diff %s, %q %q %q", d, ct, cc, cd)
	}
	// Default (replace): only the given metadata; a changed header; others kept.
	if err := do(Options{URL: k, Meta: map[string]string{"z": "26"}, Headers: map[string]string{"Cache-Control": "max-age=60"}}); err != nil {
		t.Fatal(err)
	}
	meta, ct, cc, cd = head("k")
	if d := cmp.Diff(map[string]string{"z": "26"}, meta); d != "" || ct != "image/png" || cc != "max-age=60" || cd != "inline" {
		t.Errorf("after replace: meta diff %s, %q %q %q", d, ct, cc, cd)
	}
	// The object's content and ACL survive.
	acl, err := b.GetObjectACL("k")
	if err != nil || acl.ACL != "public-read" {
		t.Errorf("ACL %q (%v), want public-read kept", acl.ACL, err)
	}
	r, _ := b.GetObject("k")
	body, _ := io.ReadAll(r)
	r.Close()
	if string(body) != "body" {
		t.Errorf("body %q", body)
	}
	// -r over a prefix, with a missing object → not found for a single object.
	for _, key := range []string{"p/1", "p/2"} {
		if err := b.PutObject(key, strings.NewReader(key)); err != nil {
			t.Fatal(err)
		}
	}
	if err := do(Options{URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "p/"}, Recursive: true, Jobs: 2, Update: true,
		Headers: map[string]string{"Content-Type": "text/x-test"}}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"p/1", "p/2"} {
		if _, ct, _, _ := head(key); ct != "text/x-test" {
			t.Errorf("%s content type %q", key, ct)
		}
	}
	err = do(Options{URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "missing"}, Meta: map[string]string{"a": "1"}})
	var se oss.ServiceError
	if !errors.As(err, &se) || se.StatusCode != 404 || !strings.Contains(err.Error(), "setting metadata of oss://bkt1/missing") {
		t.Errorf("missing object: %v", err)
	}
}
