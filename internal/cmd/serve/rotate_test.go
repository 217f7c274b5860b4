package serve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/auth"
	"github.com/ossctl/ossctl/internal/pop"
	"github.com/ossctl/ossctl/internal/sealing"
	"github.com/ossctl/ossctl/internal/server"
	"github.com/ossctl/ossctl/internal/server/servertest"
	"github.com/ossctl/ossctl/internal/store"
)

func TestRotateMasterKeyRewrapRetire(t *testing.T) {
	env := servertest.Start(t)
	c, err := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateBucket("rot-bkt"); err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("rot-bkt")
	data := bytes.Repeat([]byte("rotate me "), 20000)
	if err := b.PutObject("aes", bytes.NewReader(data), oss.ServerSideEncryption("AES256")); err != nil {
		t.Fatal(err)
	}
	if err := b.PutObject("kms", bytes.NewReader(data), oss.ServerSideEncryption("KMS")); err != nil {
		t.Fatal(err)
	}
	if _, err := RotateMasterKey(context.Background(), env.DataDir, true, true); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("rotation while the server runs: %v, want ErrLocked", err)
	}
	env.Close()
	res, err := RotateMasterKey(context.Background(), env.DataDir, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.PrimaryVersion != 2 || res.DataKeysMoved != 1 || res.KMSSecretsMoved != 1 ||
		len(res.RetiredVersions) != 1 || len(res.RemainingVersion) != 1 {
		t.Fatalf("result = %+v", res)
	}

	// A server on the rotated directory reads both objects; version 1 is gone.
	st, err := store.Open(filepath.Join(env.DataDir, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kr, err := sealing.Open(env.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if vs := kr.Versions(); len(vs) != 1 || vs[0] != 2 {
		t.Fatalf("key file versions = %v", vs)
	}
	cred := &auth.Credential{AccessKeyID: env.AccessKeyID, Secret: env.AccessKeySecret,
		Principal: auth.Principal{Root: true, AccessKeyID: env.AccessKeyID, AccountID: env.AccountID}}
	lookup := func(id string) (*auth.Credential, bool) { return cred, id == cred.AccessKeyID }
	kms, err := pop.New(pop.Config{Store: st, Sealer: kr, Lookup: lookup, AccountID: env.AccountID})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: st, Lookup: lookup, AccountID: env.AccountID, Region: env.Region,
		POP: kms, MasterKey: kr, KMS: kms})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	c2, _ := oss.New(hs.URL, env.AccessKeyID, env.AccessKeySecret)
	b2, _ := c2.Bucket("rot-bkt")
	for _, k := range []string{"aes", "kms"} {
		r, err := b2.GetObject(k)
		if err != nil {
			t.Fatalf("%s after rotation: %v", k, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s after rotation differs (%v)", k, err)
		}
	}
	// New writes use the new version.
	if err := b2.PutObject("new", bytes.NewReader(data), oss.ServerSideEncryption("AES256")); err != nil {
		t.Fatal(err)
	}
}
