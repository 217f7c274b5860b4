package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	v2oss "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/server/servertest"
)

func TestHardenBucketNames(t *testing.T) {
	env, raw, _ := rawSetup(t)
	invalid := []string{
		"", "ab", strings.Repeat("b", 64), "Upper", "under_score", "dot.ted", "-lead", "trail-",
		"192.168.1.1", "10.0.0.1", "127.0.0.1", "bücket", "a%2Fb",
	}
	for _, name := range invalid {
		if name == "" {
			continue // "/" is the service, not a bucket
		}
		t.Run(name, func(t *testing.T) {
			resp, body := raw.do(t, rawReq{method: "PUT", bucket: name})
			wantRawError(t, resp, body, 400, "InvalidBucketName")
			resp, body = raw.do(t, rawReq{method: "GET", bucket: name, key: "k"})
			wantRawError(t, resp, body, 400, "InvalidBucketName")
			resp, body = raw.do(t, rawReq{method: "HEAD", bucket: name})
			if len(body) != 0 {
				t.Fatalf("HEAD error with a body: %q", body)
			}
			wantRawError(t, resp, body, 400, "InvalidBucketName")
		})
	}
	// An invalid copy source bucket is refused the same way.
	resp, body := raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: "dst",
		header: map[string]string{"x-oss-copy-source": "/192.168.0.1/k"}})
	wantRawError(t, resp, body, 400, "InvalidBucketName")

	c := v1Client(t, env)
	for _, name := range []string{"127-0-0-1", "123", "a-b", "0-9", strings.Repeat("z", 63)} {
		if err := c.CreateBucket(name); err != nil {
			t.Errorf("valid bucket name %q refused: %v", name, err)
		}
	}
}

// hardKeys are object names that must round-trip unchanged.
var hardKeys = []string{
	"a", "a/b", "a//b", "a/../b", "./x", "../x", "trail/", "dir/sub/",
	"中文/文件.txt", "日本語のキー", "한국어", "emoji-😀/🎉.bin", "zwj-👩‍💻",
	"caf\u00e9", "cafe\u0301", // NFC and NFD spellings stay distinct
	"pct%20not-decoded", "plus+sign", "q?mark", "hash#frag", "amp&eq=1", `quote'single`, `quote"double`,
	"lt<gt>", "space in key", " leading-space", "trailing-space ", "tab\tkey", "semi;colon", "back\\slash",
	"tilde~star*", "%", "%%", "%2F", "+", "a\u00a0nbsp", "\u202eRTL",
	strings.Repeat("中", 341), // 1023 bytes of three-byte characters
	strings.Repeat("k", 1023),
}

func TestHardenKeysRoundTripV1(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "keys-v1")
	for i, k := range hardKeys {
		if err := b.PutObject(k, strings.NewReader(k), oss.Meta("idx", string(rune('A'+i%26)))); err != nil {
			t.Fatalf("PUT %q: %v", k, err)
		}
	}
	for _, k := range hardKeys {
		rd, err := b.GetObject(k)
		if err != nil {
			t.Fatalf("GET %q: %v", k, err)
		}
		got, _ := io.ReadAll(rd)
		rd.Close()
		if string(got) != k {
			t.Errorf("GET %q returned %q", k, got)
		}
		if _, err := b.GetObjectDetailedMeta(k); err != nil {
			t.Errorf("HEAD %q: %v", k, err)
		}
	}
	// Listing (the v1 SDK always asks for encoding-type=url and decodes).
	var listed []string
	marker := ""
	for {
		lr, err := b.ListObjects(oss.Marker(marker), oss.MaxKeys(7))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range lr.Objects {
			listed = append(listed, o.Key)
		}
		if !lr.IsTruncated {
			break
		}
		marker = lr.NextMarker
	}
	want := append([]string(nil), hardKeys...)
	sort.Strings(want)
	if strings.Join(listed, "\x00") != strings.Join(want, "\x00") {
		t.Fatalf("listing differs:\n got %q\nwant %q", listed, want)
	}
	// Delimiter listing: common prefixes come back decoded too.
	lr, err := b.ListObjects(oss.Delimiter("/"), oss.Prefix("emoji-😀/"))
	if err != nil || len(lr.Objects) != 1 || lr.Objects[0].Key != "emoji-😀/🎉.bin" {
		t.Fatalf("prefix listing %+v %v", lr, err)
	}
	lr, err = b.ListObjects(oss.Delimiter("/"), oss.Prefix("a"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lr.CommonPrefixes, ","); got != "a/" || len(lr.Objects) != 3 { // "a", "amp&eq=1", "a\u00a0nbsp"
		t.Fatalf("delimiter listing: prefixes %q objects %+v", got, lr.Objects)
	}

	// NFC and NFD are different keys with different content.
	for _, k := range []string{"caf\u00e9", "cafe\u0301"} {
		rd, _ := b.GetObject(k)
		got, _ := io.ReadAll(rd)
		rd.Close()
		if string(got) != k {
			t.Fatalf("normalization merged keys: GET %q = %q", k, got)
		}
	}

	// "a" and "a/b" coexist; deleting one keeps the other, both ways.
	if err := b.DeleteObject("a"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.IsObjectExist("a/b"); !ok {
		t.Fatal("deleting a removed a/b")
	}
	if err := b.PutObject("a", strings.NewReader("a")); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteObject("a/b"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.IsObjectExist("a"); !ok {
		t.Fatal("deleting a/b removed a")
	}
	// a/../b is not b; deleting it leaves "a/b"-like neighbours alone.
	if ok, _ := b.IsObjectExist("b"); ok {
		t.Fatal("a/../b was stored as b")
	}

	// Refused names, through the SDK.
	for name, k := range map[string]string{
		"1024 bytes":     strings.Repeat("k", 1024),
		"1024 bytes CJK": strings.Repeat("中", 341) + "k",
		"leading slash":  "/abs",
		"leading bslash": `\abs`,
		"only slash":     "/",
		"invalid utf-8":  "bad\xff",
		"nul":            "nul\x00byte",
	} {
		err := b.PutObject(k, strings.NewReader("x"))
		if err == nil {
			t.Errorf("%s: PUT %q accepted", name, k)
			continue
		}
		wantCode(t, err, 400, "InvalidObjectName")
	}
	_, err = b.CopyObject("a", "/abs")
	wantCode(t, err, 400, "InvalidObjectName")
}

func TestHardenKeysRoundTripV2(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	v1Bucket(t, c, "keys-v2")
	cl := v2Client(env, env.Endpoint, true)
	ctx := context.Background()
	for _, k := range hardKeys {
		_, err := cl.PutObject(ctx, &v2oss.PutObjectRequest{Bucket: v2oss.Ptr("keys-v2"), Key: v2oss.Ptr(k),
			Body: bytes.NewReader([]byte(k))})
		if err != nil {
			t.Fatalf("v2 PUT %q: %v", k, err)
		}
		res, err := cl.GetObject(ctx, &v2oss.GetObjectRequest{Bucket: v2oss.Ptr("keys-v2"), Key: v2oss.Ptr(k)})
		if err != nil {
			t.Fatalf("v2 GET %q: %v", k, err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(got) != k {
			t.Fatalf("v2 GET %q = %q", k, got)
		}
	}
	p := cl.NewListObjectsV2Paginator(&v2oss.ListObjectsV2Request{Bucket: v2oss.Ptr("keys-v2"), MaxKeys: 5})
	var listed []string
	for p.HasNext() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			listed = append(listed, v2oss.ToString(o.Key))
		}
	}
	want := append([]string(nil), hardKeys...)
	sort.Strings(want)
	if strings.Join(listed, "\x00") != strings.Join(want, "\x00") {
		t.Fatalf("v2 listing differs:\n got %q\nwant %q", listed, want)
	}
}

// TestHardenRawKeyEdgeCases covers what no SDK sends: a raw '?' or '#'
// cannot be in a request path, so they arrive percent-encoded; '+' in a
// path is a literal plus.
func TestHardenRawKeyEdgeCases(t *testing.T) {
	_, raw, b := rawSetup(t)
	rq := raw.build(rawReq{method: "PUT", bucket: "raw-bkt", key: "x", body: []byte("plus")})
	rq = bytes.Replace(rq, []byte("/raw-bkt/x "), []byte("/raw-bkt/a+b "), 1)
	resp, body := raw.doBytes(t, "PUT", rq)
	// The signature was computed for key "x", so the server must refuse it
	// rather than store under a differently decoded name.
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("re-targeted request: %d %s", resp.StatusCode, body)
	}
	resp, body = raw.do(t, rawReq{method: "PUT", bucket: "raw-bkt", key: "a+b", body: []byte("plus")})
	if resp.StatusCode != 200 {
		t.Fatalf("PUT a+b: %d %s", resp.StatusCode, body)
	}
	if ok, _ := b.IsObjectExist("a b"); ok {
		t.Fatal("'+' in a path was decoded as a space")
	}
	if ok, _ := b.IsObjectExist("a+b"); !ok {
		t.Fatal("a+b missing")
	}
}
