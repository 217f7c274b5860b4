package du

import (
	"context"
	"encoding/json"
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
)

func TestNewCmdDuFlags(t *testing.T) {
	for _, tt := range []struct {
		args, wantErr string
		want          cmdutil.OSSURL
	}{
		{args: "oss://bkt1", want: cmdutil.OSSURL{Bucket: "bkt1"}},
		{args: "oss://bkt1/logs/", want: cmdutil.OSSURL{Bucket: "bkt1", Key: "logs/"}},
		{args: "", wantErr: "missing argument"},
		{args: "bkt1", wantErr: "not an OSS URL"},
	} {
		ios, _, _, _ := iostreams.Test()
		f := cmdutil.New(ios, cmdutil.Env{LookupEnv: func(string) (string, bool) { return "", false }})
		var got *Options
		cmd := NewCmdDu(f, func(o *Options) error { got = o; return nil })
		args, _ := shlex.Split(tt.args)
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.URL != tt.want {
			t.Errorf("%q: %v %+v", tt.args, err, got)
		}
	}
}

func TestDu(t *testing.T) {
	env := servertest.Start(t)
	c, _ := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret)
	if err := c.CreateBucket("bkt1"); err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("bkt1")
	put := func(key string, n int, opts ...oss.Option) {
		if err := b.PutObject(key, strings.NewReader(strings.Repeat("x", n)), opts...); err != nil {
			t.Fatal(err)
		}
	}
	put("logs/a", 10)
	put("logs/b", 20, oss.ObjectStorageClass(oss.StorageIA))
	put("logs/c/d", 30)
	put("other", 1000)

	run1 := func(format output.Format, tty bool, url string) string {
		ios, _, out, _ := iostreams.Test()
		ios.SetStdoutTTY(tty)
		u, _ := cmdutil.ParseURL(url)
		o := &Options{IO: ios, OSS: func() (*oss.Client, error) { return c, nil }, Ctx: context.Background(), URL: u,
			Printer: func() *output.Printer { return output.New(ios, format, nil) }}
		if err := run(o); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	var res Result
	if err := json.Unmarshal([]byte(run1(output.FormatJSON, false, "oss://bkt1/logs/")), &res); err != nil {
		t.Fatal(err)
	}
	want := Result{Bucket: "bkt1", Prefix: "logs/", URL: "oss://bkt1/logs/", Objects: 3, Size: 60,
		StorageClasses: []ClassUsage{{"IA", 1, 20}, {"Standard", 2, 40}}}
	if d := cmp.Diff(want, res); d != "" {
		t.Errorf("du (-want +got):\n%s", d)
	}
	if got := run1(output.FormatText, false, "oss://bkt1"); got != "IA\t1\t20\nStandard\t3\t1040\ntotal\t4\t1060\n" {
		t.Errorf("piped text %q", got)
	}
	if got := run1(output.FormatText, true, "oss://bkt1"); !strings.Contains(got, "STORAGE CLASS") || !strings.Contains(got, "1.0 KiB") {
		t.Errorf("terminal text %q", got)
	}
	if got := run1(output.FormatJSON, false, "oss://bkt1/none/"); !strings.Contains(got, `"objects":0,"size":0,"storageClasses":[]`) {
		t.Errorf("empty prefix %q", got)
	}
}
