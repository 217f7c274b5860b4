package sign

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/google/shlex"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
	"github.com/ossctl/ossctl/internal/server/servertest"
)

func TestNewCmdSignFlags(t *testing.T) {
	tests := []struct {
		args, wantErr string
		timeout       time.Duration
		method        string
	}{
		{args: "oss://bkt1/k", timeout: time.Hour, method: "GET"},
		{args: "--timeout 15m --method put oss://bkt1/k", timeout: 15 * time.Minute, method: "PUT"},
		{args: "--method PUT --content-type text/plain oss://bkt1/k", timeout: time.Hour, method: "PUT"},
		{args: "--timeout 0s oss://bkt1/k", wantErr: "at least 1s"},
		{args: "--method DELETE oss://bkt1/k", wantErr: "valid values"},
		{args: "--content-type a/b oss://bkt1/k", wantErr: "PUT only"},
		{args: "oss://bkt1/", wantErr: "names a bucket"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := cmdutil.New(ios, cmdutil.Env{LookupEnv: func(string) (string, bool) { return "", false }})
			var got *Options
			cmd := NewCmdSign(f, func(o *Options) error { got = o; return nil })
			args, _ := shlex.Split(tt.args)
			cmd.SetArgs(args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Timeout != tt.timeout || got.Method != tt.method {
				t.Errorf("got timeout %v method %q", got.Timeout, got.Method)
			}
		})
	}
}

func signURL(t *testing.T, c *oss.Client, o Options) (string, *bytes.Buffer) {
	t.Helper()
	ios, _, out, _ := iostreams.Test()
	format := output.FormatText
	if o.Printer != nil {
		format = output.FormatJSON
	}
	o.IO = ios
	o.OSS = func() (*oss.Client, error) { return c, nil }
	o.Printer = func() *output.Printer { return output.New(ios, format, nil) }
	if o.Method == "" {
		o.Method = "GET"
	}
	if err := run(&o); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out.String()), out
}

func fetch(t *testing.T, method, u string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body = nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestSignedURLs(t *testing.T) {
	env := servertest.Start(t)
	v1, _ := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret)
	v4, _ := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret, oss.AuthVersion(oss.AuthV4), oss.Region(env.Region))
	if err := v1.CreateBucket("bkt1"); err != nil {
		t.Fatal(err)
	}
	b, _ := v1.Bucket("bkt1")
	key := "dir/a b+c.txt"
	if err := b.PutObject(key, strings.NewReader("secret content")); err != nil {
		t.Fatal(err)
	}
	target := cmdutil.OSSURL{Bucket: "bkt1", Key: key}
	for name, c := range map[string]*oss.Client{"v1": v1, "v4": v4} {
		t.Run(name, func(t *testing.T) {
			signed, _ := signURL(t, c, Options{URL: target, Timeout: 10 * time.Minute})
			u, err := url.Parse(signed)
			if err != nil {
				t.Fatal(err)
			}
			if name == "v1" && (u.Query().Get("OSSAccessKeyId") == "" || u.Query().Get("Signature") == "") {
				t.Errorf("not a V1 presigned URL: %s", signed)
			}
			if name == "v4" && u.Query().Get("x-oss-signature-version") != "OSS4-HMAC-SHA256" {
				t.Errorf("not a V4 presigned URL: %s", signed)
			}
			if strings.Contains(signed, env.AccessKeySecret) {
				t.Fatal("secret in the URL")
			}
			if code, body := fetch(t, "GET", signed, nil); code != 200 || string(body) != "secret content" {
				t.Fatalf("GET signed URL: %d %q", code, body)
			}
			// Tampering: another key, or a changed expiry.
			other := strings.Replace(signed, "a%20b%2Bc.txt", "other.txt", 1)
			if other == signed {
				t.Fatalf("could not tamper with %s", signed)
			}
			if code, _ := fetch(t, "GET", other, nil); code != 403 {
				t.Errorf("tampered key: status %d, want 403", code)
			}
			q := u.Query()
			if name == "v1" {
				q.Set("Expires", q.Get("Expires")+"0")
			} else {
				q.Set("x-oss-expires", "599")
			}
			u.RawQuery = q.Encode()
			if code, _ := fetch(t, "GET", u.String(), nil); code != 403 {
				t.Errorf("tampered expiry: status %d, want 403", code)
			}
			// A PUT URL uploads; it does not allow GET.
			put, _ := signURL(t, c, Options{URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "up-" + name}, Timeout: time.Minute, Method: "PUT"})
			if code, body := fetch(t, "PUT", put, []byte("uploaded")); code != 200 {
				t.Fatalf("PUT signed URL: %d %s", code, body)
			}
			if code, _ := fetch(t, "GET", put, nil); code != 403 {
				t.Errorf("GET with a PUT URL: status %d, want 403", code)
			}
		})
	}

	// JSON output and the V4 expiry limit.
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	_, out := signURL(t, v1, Options{URL: target, Timeout: 90 * time.Second, Printer: func() *output.Printer { return nil }, Now: func() time.Time { return now }})
	var res Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || !res.Expires.Equal(now.Add(90*time.Second)) || res.Method != "GET" || res.URL == "" {
		t.Errorf("JSON %s (%v)", out, err)
	}
	ios, _, _, _ := iostreams.Test()
	err := run(&Options{IO: ios, OSS: func() (*oss.Client, error) { return v4, nil }, URL: target, Timeout: 8 * 24 * time.Hour, Method: "GET",
		Printer: func() *output.Printer { return output.New(ios, output.FormatText, nil) }})
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "7 days") {
		t.Errorf("8-day V4 URL: error = %v", err)
	}
}
