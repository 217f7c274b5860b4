package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/auth"
	"github.com/ossctl/ossctl/internal/server/servertest"
)

// anon performs an unsigned request and returns the status.
func anon(t *testing.T, env *servertest.Env, method, path string, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, env.Endpoint+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestAnonymousAccessFollowsACLs(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	for name, acl := range map[string]oss.ACLType{"acl-private": oss.ACLPrivate, "acl-read": oss.ACLPublicRead, "acl-rw": oss.ACLPublicReadWrite} {
		if err := c.CreateBucket(name, oss.ACL(acl)); err != nil {
			t.Fatal(err)
		}
		b, _ := c.Bucket(name)
		if err := b.PutObject("obj", strings.NewReader("data")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.CreateBucket("acl-default"); err != nil { // no x-oss-acl: private
		t.Fatal(err)
	}
	cases := []struct {
		method, path string
		want         int
	}{
		{"GET", "/acl-private/obj", 403},
		{"HEAD", "/acl-private/obj", 403},
		{"GET", "/acl-private/missing", 403}, // no existence leak
		{"GET", "/acl-private/", 403},
		{"PUT", "/acl-private/new", 403},
		{"GET", "/acl-default/", 403},
		{"GET", "/acl-read/obj", 200},
		{"HEAD", "/acl-read/obj", 200},
		{"GET", "/acl-read/missing", 404},
		{"GET", "/acl-read/", 200},
		{"PUT", "/acl-read/new", 403},
		{"DELETE", "/acl-read/obj", 403},
		{"GET", "/acl-read/?acl", 403},
		{"GET", "/acl-read/?bucketInfo", 403},
		{"PUT", "/acl-read/?acl", 403},
		{"DELETE", "/acl-read/", 403},
		{"GET", "/acl-rw/obj", 200},
		{"PUT", "/acl-rw/new", 200},
		{"DELETE", "/acl-rw/new", 204},
		{"PUT", "/acl-rw/?acl", 403},
		{"DELETE", "/acl-rw/", 403},
		{"GET", "/", 403},
		{"PUT", "/anon-bucket/", 403},
	}
	for _, tc := range cases {
		if got := anon(t, env, tc.method, tc.path, ""); got != tc.want {
			t.Errorf("anonymous %s %s = %d, want %d", tc.method, tc.path, got, tc.want)
		}
	}

	// Object ACLs override the bucket's; "default" inherits it again.
	priv, _ := c.Bucket("acl-private")
	if err := priv.SetObjectACL("obj", oss.ACLPublicRead); err != nil {
		t.Fatal(err)
	}
	if got := anon(t, env, "GET", "/acl-private/obj", ""); got != 200 {
		t.Fatalf("public-read object in private bucket: %d", got)
	}
	if got := anon(t, env, "PUT", "/acl-private/obj", "x"); got != 403 {
		t.Fatalf("anonymous overwrite of public-read object: %d", got)
	}
	if err := priv.SetObjectACL("obj", oss.ACLPublicReadWrite); err != nil {
		t.Fatal(err)
	}
	if got := anon(t, env, "PUT", "/acl-private/obj", "x"); got != 200 {
		t.Fatalf("anonymous overwrite of public-read-write object: %d", got)
	}
	read, _ := c.Bucket("acl-read")
	if err := read.SetObjectACL("obj", oss.ACLPrivate); err != nil {
		t.Fatal(err)
	}
	if got := anon(t, env, "GET", "/acl-read/obj", ""); got != 403 {
		t.Fatalf("private object in public-read bucket: %d", got)
	}
	if err := read.SetObjectACL("obj", oss.ACLType("default")); err != nil {
		t.Fatal(err)
	}
	if got := anon(t, env, "GET", "/acl-read/obj", ""); got != 200 {
		t.Fatalf("default object ACL in public-read bucket: %d", got)
	}
	// A PUT with x-oss-object-acl sets the object ACL.
	if err := priv.PutObject("pub", strings.NewReader("p"), oss.ObjectACL(oss.ACLPublicRead)); err != nil {
		t.Fatal(err)
	}
	if got := anon(t, env, "GET", "/acl-private/pub", ""); got != 200 {
		t.Fatalf("object put public-read: %d", got)
	}
}

func TestRAMUserWithoutPolicyFollowsACL(t *testing.T) {
	env := servertest.StartWith(t, servertest.Options{Credentials: []auth.Credential{{
		AccessKeyID: "LTAI5tUser0000000002", Secret: "user-secret",
		Principal: auth.Principal{AccessKeyID: "LTAI5tUser0000000002", AccountID: servertest.AccountID, UserName: "alice"},
	}}})
	c := v1Client(t, env)
	if err := c.CreateBucket("ram-bkt"); err != nil {
		t.Fatal(err)
	}
	uc, _ := oss.New(env.Endpoint, "LTAI5tUser0000000002", "user-secret")
	ub, _ := uc.Bucket("ram-bkt")
	err := ub.PutObject("x", strings.NewReader("x"))
	wantCode(t, err, 403, "AccessDenied")
	if se := serviceError(t, err); !strings.Contains(se.Message, "bucket ACL") {
		t.Fatalf("deny message does not say why: %q", se.Message)
	}
}

// recordingHandler captures slog records.
type recordingHandler struct {
	mu      sync.Mutex
	records []map[string]any
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	m := map[string]any{"msg": r.Message}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
	h.mu.Lock()
	h.records = append(h.records, m)
	h.mu.Unlock()
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

func TestAccessLog(t *testing.T) {
	rec := &recordingHandler{}
	env := servertest.StartWith(t, servertest.Options{Logger: slog.New(rec)})
	c := v1Client(t, env)
	b := v1Bucket(t, c, "logged")
	if err := b.PutObject("k/1", bytes.NewReader([]byte("12345"))); err != nil {
		t.Fatal(err)
	}
	_, err := b.GetObject("missing")
	wantCode(t, err, 404, "NoSuchKey")
	anon(t, env, "GET", "/logged/k/1", "")

	rec.mu.Lock()
	defer rec.mu.Unlock()
	var put, miss, denied map[string]any
	for _, r := range rec.records {
		if r["msg"] != "request" {
			continue
		}
		switch {
		case r["method"] == "PUT" && r["key"] == "k/1":
			put = r
		case r["key"] == "missing":
			miss = r
		case r["method"] == "GET" && r["key"] == "k/1":
			denied = r
		}
		for k, v := range r {
			s, _ := v.(string)
			if strings.Contains(s, env.AccessKeySecret) || strings.Contains(s, "OSS "+env.AccessKeyID+":") {
				t.Fatalf("access log field %s leaks a secret or signature: %q", k, s)
			}
		}
	}
	if put == nil || put["bucket"] != "logged" || put["status"] != int64(200) || put["access_key_id"] != env.AccessKeyID ||
		len(put["request_id"].(string)) != 24 {
		t.Fatalf("PUT record %v", put)
	}
	if miss == nil || miss["status"] != int64(404) || miss["error"] != "NoSuchKey" {
		t.Fatalf("404 record %v", miss)
	}
	if denied == nil || denied["status"] != int64(403) || denied["error"] != "AccessDenied" || denied["deny_reason"] == nil {
		t.Fatalf("denied record %v", denied)
	}
}
