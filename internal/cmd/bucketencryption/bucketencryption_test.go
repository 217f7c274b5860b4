package bucketencryption

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

func TestFlags(t *testing.T) {
	tests := []struct {
		in, verb, alg, kid, wantErr string
	}{
		{in: "put oss://bkt1 --algorithm AES256", verb: VerbPut, alg: "AES256"},
		{in: "put oss://bkt1/ --algorithm kms --kms-key-id alias/k", verb: VerbPut, alg: "KMS", kid: "alias/k"},
		{in: "get oss://bkt1", verb: VerbGet},
		{in: "delete oss://bkt1", verb: VerbDelete},
		{in: "put oss://bkt1", wantErr: "--algorithm is required"},
		{in: "put oss://bkt1 --algorithm SM4", wantErr: "invalid --algorithm"},
		{in: "put oss://bkt1 --algorithm AES256 --kms-key-id k", wantErr: "only valid with --algorithm KMS"},
		{in: "get oss://bkt1/key", wantErr: "expected oss://BUCKET"},
		{in: "get bkt1", wantErr: "expected oss://BUCKET"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, _ := cmdutiltest.New(t, cmdutiltest.Options{})
			var got *Options
			cmd := NewCmdBucketEncryption(f, func(o *Options) error { got = o; return nil })
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
			if got.Bucket != "bkt1" || got.Verb != tt.verb || got.Algorithm != tt.alg || got.KMSKeyID != tt.kid {
				t.Errorf("options = %+v", got)
			}
		})
	}
}

func TestRunPutGetDelete(t *testing.T) {
	srv := servertest.Start(t)
	c, err := oss.New(srv.Endpoint, srv.AccessKeyID, srv.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateBucket("bkt1"); err != nil {
		t.Fatal(err)
	}
	kid, err := srv.KMS.DefaultKey()
	if err != nil {
		t.Fatal(err)
	}
	newOpts := func(verb string) (*Options, cmdutiltest.Streams) {
		f, s := cmdutiltest.New(t, cmdutiltest.Options{JSON: true, Endpoint: srv.Endpoint,
			AccessKeyID: srv.AccessKeyID, AccessKeySecret: srv.AccessKeySecret})
		return &Options{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer, Verb: verb, Bucket: "bkt1"}, s
	}

	opts, _ := newOpts(VerbGet)
	err = run(opts)
	var se oss.ServiceError
	if !errors.As(err, &se) || se.Code != "NoSuchServerSideEncryptionRule" {
		t.Fatalf("get of an unset rule: %v", err)
	}

	opts, _ = newOpts(VerbPut)
	opts.Algorithm, opts.KMSKeyID = "KMS", kid
	if err := run(opts); err != nil {
		t.Fatal(err)
	}
	opts, s := newOpts(VerbGet)
	if err := run(opts); err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := json.Unmarshal(s.Out.Bytes(), &res); err != nil || res.Algorithm != "KMS" || res.KMSKeyID != kid {
		t.Fatalf("get = %q (%v)", s.Out.String(), err)
	}
	// New objects follow the rule.
	b, _ := c.Bucket("bkt1")
	if err := b.PutObject("o", strings.NewReader("data")); err != nil {
		t.Fatal(err)
	}
	h, err := b.GetObjectDetailedMeta("o")
	if err != nil || h.Get("x-oss-server-side-encryption") != "KMS" || h.Get("x-oss-server-side-encryption-key-id") != kid {
		t.Fatalf("object headers = %v, %v", h, err)
	}

	opts, _ = newOpts(VerbDelete)
	if err := run(opts); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBucketEncryption("bkt1"); err == nil {
		t.Fatal("rule still set after delete")
	}
}
