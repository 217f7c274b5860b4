package cmdutil

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in      string
		want    OSSURL
		wantErr string
	}{
		{in: "oss://bkt1", want: OSSURL{Bucket: "bkt1"}},
		{in: "OSS://bkt1/", want: OSSURL{Bucket: "bkt1"}},
		{in: "oss://bkt1/a/b.txt", want: OSSURL{Bucket: "bkt1", Key: "a/b.txt"}},
		{in: "oss://bkt1/a//b/../c/", want: OSSURL{Bucket: "bkt1", Key: "a//b/../c/"}},
		{in: "oss://bkt1/ü ?#%", want: OSSURL{Bucket: "bkt1", Key: "ü ?#%"}},
		{in: "oss://a-0/x", want: OSSURL{Bucket: "a-0", Key: "x"}},
		{in: "oss://", wantErr: "no bucket name"},
		{in: "oss:///key", wantErr: "no bucket name"},
		{in: "s3://bkt1", wantErr: "not an OSS URL"},
		{in: "bkt1/key", wantErr: "not an OSS URL"},
		{in: "oss://ab", wantErr: "3-63 characters"},
		{in: "oss://" + strings.Repeat("a", 64), wantErr: "3-63 characters"},
		{in: "oss://Bkt1", wantErr: "lowercase"},
		{in: "oss://bkt_1", wantErr: "lowercase"},
		{in: "oss://bkt1-", wantErr: "start and end"},
	}
	for _, tt := range tests {
		got, err := ParseURL(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseURL(%q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseBucketAndObjectURL(t *testing.T) {
	if b, err := ParseBucketURL("oss://bkt1/"); err != nil || b != "bkt1" {
		t.Errorf("bucket URL: %q %v", b, err)
	}
	if _, err := ParseBucketURL("oss://bkt1/k"); err == nil {
		t.Error("bucket URL with key accepted")
	}
	if u, err := ParseObjectURL("oss://bkt1/a/../b"); err != nil || u.Key != "a/../b" || u.String() != "oss://bkt1/a/../b" {
		t.Errorf("object URL: %+v %v", u, err)
	}
	for in, want := range map[string]string{
		"oss://bkt1":    "names a bucket",
		"oss://bkt1//x": `must not start with "/"`,
		`oss://bkt1/\x`: `must not start with "\\"`,
		"oss://bkt1/" + strings.Repeat("k", MaxKeyLength+1): "1024 bytes long",
		"oss://bkt1/\xff": "not valid UTF-8",
	} {
		if _, err := ParseObjectURL(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseObjectURL(%.30q) = %v, want %q", in, err, want)
		}
	}
	if _, err := ParseObjectURL("oss://bkt1/" + strings.Repeat("k", MaxKeyLength)); err != nil {
		t.Errorf("1023-byte key refused: %v", err)
	}
	if u, err := ParseBucketOrObjectURL("oss://bkt1"); err != nil || u.Bucket != "bkt1" || u.Key != "" {
		t.Errorf("ParseBucketOrObjectURL(bucket) = %+v, %v", u, err)
	}
	if u, err := ParseBucketOrObjectURL("oss://bkt1/a/b"); err != nil || u.Key != "a/b" {
		t.Errorf("ParseBucketOrObjectURL(object) = %+v, %v", u, err)
	}
	if _, err := ParseBucketOrObjectURL("oss://bkt1//x"); err == nil || !strings.Contains(err.Error(), `"oss://bkt1//x": object key must not start with "/"`) {
		t.Errorf("ParseBucketOrObjectURL(bad key) = %v", err)
	}
}

func TestRedactHeaderAndURL(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"Authorization", "OSS LTAIabc:c2lnbmF0dXJl", "OSS LTAIabc:" + Redacted},
		{"Authorization", "OSS4-HMAC-SHA256 Credential=LTAI/20260101/cn-hangzhou/oss/aliyun_v4_request,Signature=abcdef0123",
			"OSS4-HMAC-SHA256 Credential=LTAI/20260101/cn-hangzhou/oss/aliyun_v4_request,Signature=" + Redacted},
		{"authorization", "Bearer xyz", Redacted},
		{"X-Oss-Security-Token", "CAIS-token", Redacted},
		{"Content-Type", "text/plain", "text/plain"},
	} {
		if got := RedactHeader(tc.name, tc.in); got != tc.want {
			t.Errorf("RedactHeader(%s, %q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
	u, _ := url.Parse("http://127.0.0.1:9000/bkt1/k?Expires=1&OSSAccessKeyId=AK&Signature=sig%2B&security-token=tok")
	got := RedactURL(u)
	if strings.Contains(got, "sig%2B") || strings.Contains(got, "=tok") || !strings.Contains(got, "OSSAccessKeyId=AK") || !strings.Contains(got, "Signature="+Redacted) {
		t.Errorf("RedactURL = %q", got)
	}
	r := &Redactor{}
	r.Add("super-secret-value", "abc")
	if got := r.Redact("x super-secret-value abc"); got != "x "+Redacted+" abc" {
		t.Errorf("Redact = %q", got)
	}
}

func TestHintsAndErrorTypes(t *testing.T) {
	base := errors.New("boom")
	err := fmt.Errorf("outer: %w", WithHint(fmt.Errorf("mid: %w", WithHint(base, "inner hint")), "outer hint", "inner hint"))
	if got := Hints(err); strings.Join(got, "|") != "outer hint|inner hint" {
		t.Errorf("Hints = %q", got)
	}
	if !errors.Is(err, base) || err.Error() != "outer: mid: boom" {
		t.Errorf("chain broken: %v", err)
	}
	pe := &PartialError{Op: "removing objects", Failed: 2, Total: 5, First: base}
	if pe.Error() != "removing objects: 2 of 5 items failed (first error: boom)" || !errors.Is(pe, base) {
		t.Errorf("PartialError = %q", pe.Error())
	}
	var fe *FlagError
	if !errors.As(fmt.Errorf("x: %w", FlagErrorf("bad %d", 1)), &fe) || fe.Error() != "bad 1" {
		t.Errorf("FlagError not found")
	}
	if FlagErrorWrap(nil) != nil || WithHint(nil, "h") != nil {
		t.Error("wrapping nil must give nil")
	}
}

func TestStringEnumFlagAndArgs(t *testing.T) {
	var v string
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }, Args: ExactArgs(1, "ONE")}
	StringEnumFlag(cmd, &v, "mode", "m", "fast", []string{"fast", "Slow"}, "speed")
	cmd.SetArgs([]string{"--mode", "slow", "a"})
	if err := cmd.Execute(); err != nil || v != "Slow" {
		t.Fatalf("enum: %v %q", err, v)
	}
	cmd.SetArgs([]string{"--mode", "medium", "a"})
	cmd.SetErr(&strings.Builder{})
	cmd.SetOut(&strings.Builder{})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "valid values are fast, Slow") {
		t.Errorf("bad enum value: %v", err)
	}
	var fe *FlagError
	if err := ExactArgs(1, "ONE")(cmd, nil); !errors.As(err, &fe) || !strings.Contains(err.Error(), "expected ONE") {
		t.Errorf("ExactArgs: %v", err)
	}
	if err := RangeArgs(0, 1, "ARG")(cmd, []string{"a", "b"}); !errors.As(err, &fe) {
		t.Errorf("RangeArgs: %v", err)
	}
	if !strings.Contains(ExitStatus(), "130  interrupted") || !strings.HasPrefix(LongHelp("desc\n", ExitOK), "desc\n\nEXIT STATUS\n  0    success\n") {
		t.Errorf("exit status help:\n%s", LongHelp("desc\n", ExitOK))
	}
}
