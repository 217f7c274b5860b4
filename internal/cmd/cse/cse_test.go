package cse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	kmssdk "github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/google/shlex"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/crypto/keyring"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/cmdutil/cmdutiltest"
	"github.com/ossctl/ossctl/internal/cse"
	"github.com/ossctl/ossctl/internal/cse/csetest"
	"github.com/ossctl/ossctl/internal/transfer"
)

func TestFlagParsing(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
		check   func(t *testing.T, got any)
	}{
		{in: "inspect oss://bkt1/a/b", check: func(t *testing.T, got any) {
			if o := got.(*InspectOptions); o.URL.Bucket != "bkt1" || o.URL.Key != "a/b" {
				t.Errorf("%+v", o.URL)
			}
		}},
		{in: "inspect oss://bkt1", wantErr: "expected oss://BUCKET/KEY"},
		{in: "inspect /tmp/x", wantErr: "oss://"},
		{in: "rewrap oss://bkt1/k", wantErr: "--to"},
		{in: "rewrap oss://bkt1/k --to none", wantErr: "needs a master key"},
		{in: "rewrap oss://bkt1/k --to rsa:x", wantErr: "unknown kind"},
		{in: "rewrap oss://bkt1/ --to key:a", wantErr: "expected oss://BUCKET/KEY"},
		{in: "rewrap oss://bkt1/ -r --to kms:alias/x", check: func(t *testing.T, got any) {
			o := got.(*RewrapOptions)
			if !o.Recursive || o.URL.Key != "" || o.To != (cse.Spec{Kind: cse.KindKMS, ID: "alias/x"}) || o.Keys == nil {
				t.Errorf("%+v", o)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, _ := cmdutiltest.New(t, cmdutiltest.Options{})
			var got any
			root := &cobra.Command{Use: "cse", SilenceErrors: true, SilenceUsage: true}
			root.AddCommand(newCmdInspect(f, func(o *InspectOptions) error { got = o; return nil }),
				newCmdRewrap(f, func(o *RewrapOptions) error { got = o; return nil }))
			args, _ := shlex.Split(tt.in)
			root.SetArgs(args)
			root.SetOut(&bytes.Buffer{})
			root.SetErr(&bytes.Buffer{})
			_, err := root.ExecuteC()
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &fe) {
					t.Fatalf("err = %v, want usage error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

type fixture struct {
	env     *csetest.Env
	bucket  *oss.Bucket
	kms     *cmdutil.KMSClient
	keyring string
	vars    map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := csetest.Start(t)
	client, err := oss.New(env.Endpoint, csetest.AccessKeyID, csetest.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.CreateBucket("bkt1"); err != nil {
		t.Fatal(err)
	}
	b, _ := client.Bucket("bkt1")
	kc, err := kmssdk.NewClientWithAccessKey(csetest.Region, csetest.AccessKeyID, csetest.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	kc.Domain = env.Addr
	path := filepath.Join(t.TempDir(), "keyring.json")
	kr, err := keyring.Create(path, []byte("pw"), &keyring.Options{KDF: keyring.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"alpha", "beta"} {
		if _, err := kr.Generate(n, 2048); err != nil {
			t.Fatal(err)
		}
	}
	if err := kr.Save(); err != nil {
		t.Fatal(err)
	}
	return &fixture{env: env, bucket: b, kms: &cmdutil.KMSClient{Client: kc, Scheme: "HTTP"}, keyring: path,
		vars: map[string]string{cse.EnvPassphrase: "pw", "OSSCTL_KEYRING": path}}
}

func (f *fixture) keys(_ *testing.T) *cse.Keys {
	return &cse.Keys{
		KMS: func() (*cmdutil.KMSClient, error) { return f.kms, nil },
		Keyring: func() (*keyring.Keyring, error) {
			return keyring.Open(f.keyring, []byte("pw"), nil)
		},
	}
}

func (f *fixture) put(t *testing.T, key string, spec cse.Spec, plain []byte, auth bool) {
	t.Helper()
	mk, err := f.keys(t).MasterKey(spec)
	if err != nil {
		t.Fatal(err)
	}
	up, err := cse.NewUpload(mk, cse.UploadOptions{Size: int64(len(plain)), Authenticated: auth})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := up.Reader(bytes.NewReader(plain))
	if err := f.bucket.PutObject(key, r, append(up.Options(), oss.ContentType("text/x-note"), oss.Meta("tag", "keep"))...); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) run(t *testing.T, json bool, args string) (string, string, error) {
	t.Helper()
	fac, s := cmdutiltest.New(t, cmdutiltest.Options{Endpoint: f.env.Endpoint, AccessKeyID: csetest.AccessKeyID,
		AccessKeySecret: csetest.AccessKeySecret, JSON: json, Env: f.vars})
	cmd := NewCmdCSE(fac)
	a, _ := shlex.Split(args)
	cmd.SetArgs(a)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	_, err := cmd.ExecuteC()
	return s.Out.String(), s.ErrOut.String(), err
}

func (f *fixture) createKMSKey(t *testing.T, alias string) string {
	t.Helper()
	req := kmssdk.CreateCreateKeyRequest()
	req.Scheme = "HTTP"
	resp, err := f.kms.CreateKey(req)
	if err != nil {
		t.Fatal(err)
	}
	a := kmssdk.CreateCreateAliasRequest()
	a.Scheme, a.AliasName, a.KeyId = "HTTP", alias, resp.KeyMetadata.KeyId
	if _, err := f.kms.CreateAlias(a); err != nil {
		t.Fatal(err)
	}
	return resp.KeyMetadata.KeyId
}

// get downloads and decrypts key with the transfer engine that cp uses: objects of 64 KiB or
// more in parallel ranged parts (of transfer.MinPartSize), smaller ones with a single GET.
func (f *fixture) get(t *testing.T, keys *cse.Keys, key string) ([]byte, error) {
	t.Helper()
	client, err := oss.New(f.env.Endpoint, csetest.AccessKeyID, csetest.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &transfer.Config{Client: client, Threshold: 64 << 10, PartSize: 64 << 10, Retry: transfer.Retry{Attempts: 1},
		Encryption: &transfer.Encryption{Keys: keys}}
	dst := filepath.Join(t.TempDir(), "out")
	if _, err := cfg.Download(context.Background(), transfer.Download{Bucket: "bkt1", Key: key, LocalPath: dst, Size: -1}, nil); err != nil {
		return nil, err
	}
	return os.ReadFile(dst)
}

func TestInspectAndRewrapRoundTrip(t *testing.T) {
	f := newFixture(t)
	kmsID := f.createKMSKey(t, "alias/next")
	plainA := bytes.Repeat([]byte("alpha data "), 20_000)
	plainB := bytes.Repeat([]byte("beta "), 1000)
	f.put(t, "dir/a", cse.Spec{Kind: cse.KindKey, ID: "alpha"}, plainA, true)
	f.put(t, "dir/b", cse.Spec{Kind: cse.KindKey, ID: "alpha"}, plainB, false)
	if err := f.bucket.PutObject("dir/plain", strings.NewReader("not encrypted")); err != nil {
		t.Fatal(err)
	}

	// inspect, JSON and text.
	out, _, err := f.run(t, true, "inspect oss://bkt1/dir/a")
	if err != nil {
		t.Fatal(err)
	}
	var info InspectResult
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	if !info.Authenticated || info.KeyringKey != "alpha" || info.WrapAlg != "RSA/NONE/PKCS1Padding" || info.PlaintextSize != int64(len(plainA)) ||
		info.StoredSize <= info.PlaintextSize || info.URL != "oss://bkt1/dir/a" {
		t.Fatalf("inspect = %s", out)
	}
	out, _, err = f.run(t, false, "inspect oss://bkt1/dir/b")
	if err != nil || !strings.Contains(out, "Format\tSDK format") || !strings.Contains(out, "Keyring key\tkey:alpha (version 1)") {
		t.Fatalf("inspect text: %v\n%s", err, out)
	}
	if _, _, err := f.run(t, false, "inspect oss://bkt1/dir/plain"); err == nil || !strings.Contains(err.Error(), "not client-side encrypted") {
		t.Fatalf("inspect of a plain object: %v", err)
	}

	// Rewrap everything under dir/ to KMS; the plain object is skipped.
	etags := map[string]string{}
	for _, k := range []string{"dir/a", "dir/b"} {
		h, err := f.bucket.GetObjectDetailedMeta(k)
		if err != nil {
			t.Fatal(err)
		}
		etags[k] = h.Get(oss.HTTPHeaderEtag)
	}
	out, _, err = f.run(t, true, "rewrap oss://bkt1/dir/ -r --to kms:alias/next")
	if err != nil {
		t.Fatal(err)
	}
	// Only metadata changed: the stored ciphertext (and so the ETag) is the same.
	for k, etag := range etags {
		if h, err := f.bucket.GetObjectDetailedMeta(k); err != nil || h.Get(oss.HTTPHeaderEtag) != etag {
			t.Fatalf("%s: ETag %q after rewrap, %q before (%v)", k, h.Get(oss.HTTPHeaderEtag), etag, err)
		}
	}
	status := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e RewrapEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		status[e.URL] = e.Status
		if e.Status == "rewrapped" && e.ToKMSKeyID != kmsID {
			t.Errorf("entry %s", l)
		}
	}
	want := map[string]string{"oss://bkt1/dir/a": "rewrapped", "oss://bkt1/dir/b": "rewrapped", "oss://bkt1/dir/plain": "skipped"}
	for k, v := range want {
		if status[k] != v {
			t.Fatalf("status = %v", status)
		}
	}
	out, _, _ = f.run(t, true, "inspect oss://bkt1/dir/a")
	_ = json.Unmarshal([]byte(out), &info)
	if info.KMSKeyID != kmsID || info.WrapAlg != "KMS/ALICLOUD" || info.KMSBlobFormat != "ossctl-serve" {
		t.Fatalf("after rewrap: %s", out)
	}
	h, _ := f.bucket.GetObjectDetailedMeta("dir/a")
	if h.Get("Content-Type") != "text/x-note" || h.Get("X-Oss-Meta-Tag") != "keep" {
		t.Fatalf("metadata lost: %v", h)
	}

	// Read with KMS only: no keyring at all.
	kmsOnly := &cse.Keys{KMS: func() (*cmdutil.KMSClient, error) { return f.kms, nil }}
	for key, plain := range map[string][]byte{"dir/a": plainA, "dir/b": plainB} {
		got, err := f.get(t, kmsOnly, key)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%s after rewrap: %v", key, err)
		}
	}

	// Again: nothing to do.
	out, _, err = f.run(t, false, "rewrap oss://bkt1/dir/a --to kms:alias/next")
	if err != nil || !strings.HasPrefix(out, "unchanged\toss://bkt1/dir/a") {
		t.Fatalf("second rewrap: %v %q", err, out)
	}

	// Back to the keyring (key beta), single object.
	out, _, err = f.run(t, false, "rewrap oss://bkt1/dir/b --to key:beta")
	if err != nil || !strings.HasPrefix(out, "rewrapped\toss://bkt1/dir/b\tkms:"+kmsID) {
		t.Fatalf("rewrap to beta: %v %q", err, out)
	}
	got, err := f.get(t, f.keys(t), "dir/b")
	if err != nil || !bytes.Equal(got, plainB) {
		t.Fatalf("dir/b with beta: %v", err)
	}
}

func TestRewrapPartialFailure(t *testing.T) {
	f := newFixture(t)
	f.createKMSKey(t, "alias/next")
	f.put(t, "p/ok", cse.Spec{Kind: cse.KindKey, ID: "alpha"}, []byte("fine"), false)
	// An object whose master key nobody has: an RSA envelope with a foreign matdesc.
	f.put(t, "p/orphan", cse.Spec{Kind: cse.KindKey, ID: "beta"}, []byte("lost"), false)
	kr, err := keyring.Open(f.keyring, []byte("pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.ScheduleDeletion("beta", 0); err != nil {
		t.Fatal(err)
	}
	kr.PurgeExpired()
	if err := kr.Save(); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := f.run(t, false, "rewrap oss://bkt1/p/ -r --to kms:alias/next")
	var pe *cmdutil.PartialError
	if !errors.As(err, &pe) || pe.Failed != 1 || pe.Total != 2 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(out, "rewrapped\toss://bkt1/p/ok") || !strings.Contains(stderr, "oss://bkt1/p/orphan") {
		t.Fatalf("out %q stderr %q", out, stderr)
	}
	var ie *cmdutil.IntegrityError
	if !errors.As(pe.First, &ie) {
		t.Fatalf("orphan error is not an integrity error: %v", pe.First)
	}
}
