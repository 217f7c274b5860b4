package mb

import (
	"errors"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/google/shlex"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/cmdutil/cmdutiltest"
	"github.com/ossctl/ossctl/internal/server/servertest"
)

func TestNewCmdMbFlags(t *testing.T) {
	tests := []struct {
		in      string
		want    Options
		wantErr string
	}{
		{in: "oss://bkt1", want: Options{Bucket: "bkt1", StorageClass: "Standard"}},
		{in: "oss://bkt1 --acl PUBLIC-READ --storage-class ia --redundancy-type zrs",
			want: Options{Bucket: "bkt1", ACL: "public-read", StorageClass: "IA", RedundancyType: "ZRS"}},
		{in: "oss://bkt1 --acl everyone", wantErr: "valid values are private, public-read, public-read-write"},
		{in: "oss://b", wantErr: "3-63 characters"},
		{in: "oss://-bkt", wantErr: "start and end"},
		{in: "oss://bkt1/key", wantErr: "expected oss://BUCKET"},
		{in: "bkt1", wantErr: "not an OSS URL"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, _ := cmdutiltest.New(t, cmdutiltest.Options{})
			var got *Options
			cmd := NewCmdMb(f, func(o *Options) error { got = o; return nil })
			cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })
			args, _ := shlex.Split(tt.in)
			cmd.SetArgs(args)
			cmd.SetErr(&strings.Builder{})
			cmd.SetOut(&strings.Builder{})
			_, err := cmd.ExecuteC()
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &fe) {
					t.Fatalf("err = %v, want FlagError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Bucket != tt.want.Bucket || got.ACL != tt.want.ACL || got.StorageClass != tt.want.StorageClass || got.RedundancyType != tt.want.RedundancyType {
				t.Errorf("got %+v want %+v", got, tt.want)
			}
		})
	}
}

func TestRunCreatesBucketWithACLAndClass(t *testing.T) {
	srv := servertest.Start(t)
	f, s := cmdutiltest.New(t, cmdutiltest.Options{Endpoint: srv.Endpoint, AccessKeyID: srv.AccessKeyID, AccessKeySecret: srv.AccessKeySecret, JSON: true})
	opts := &Options{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer, Bucket: "bkt1", ACL: "public-read", StorageClass: "IA"}
	if err := run(opts); err != nil {
		t.Fatal(err)
	}
	want := `{"bucket":"bkt1","url":"oss://bkt1","acl":"public-read","storageClass":"IA"}` + "\n"
	if s.Out.String() != want {
		t.Errorf("JSON = %s, want %s", s.Out.String(), want)
	}
	c, _ := oss.New(srv.Endpoint, srv.AccessKeyID, srv.AccessKeySecret)
	info, err := c.GetBucketInfo("bkt1")
	if err != nil {
		t.Fatal(err)
	}
	if info.BucketInfo.ACL != "public-read" || info.BucketInfo.StorageClass != "IA" {
		t.Errorf("bucket info = %+v", info.BucketInfo)
	}
	err = run(opts)
	var se oss.ServiceError
	if !errors.As(err, &se) || se.Code != "BucketAlreadyExists" || !strings.HasPrefix(err.Error(), "creating bucket bkt1: ") {
		t.Errorf("second mb: %v", err)
	}
}
