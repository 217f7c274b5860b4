package server_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/server/servertest"
)

func TestV1BucketLifecycle(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)

	if err := c.CreateBucket("bkt1", oss.ACL(oss.ACLPublicRead), oss.StorageClass(oss.StorageIA),
		oss.RedundancyType(oss.RedundancyZRS)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.CreateBucket("bkt1"), 409, "BucketAlreadyExists")
	for _, n := range []string{"bkt2", "other-3"} {
		if err := c.CreateBucket(n); err != nil {
			t.Fatal(err)
		}
	}

	lr, err := c.ListBuckets()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range lr.Buckets {
		names = append(names, b.Name)
		if b.Location != "oss-cn-hangzhou" || b.CreationDate.IsZero() {
			t.Errorf("bucket %s: location %q created %v", b.Name, b.Location, b.CreationDate)
		}
	}
	if strings.Join(names, ",") != "bkt1,bkt2,other-3" {
		t.Fatalf("ListBuckets = %v", names)
	}
	if lr.Owner.ID != env.AccountID {
		t.Errorf("owner %q", lr.Owner.ID)
	}
	lr, err = c.ListBuckets(oss.Prefix("bkt"), oss.MaxKeys(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(lr.Buckets) != 1 || !lr.IsTruncated || lr.NextMarker != "bkt1" {
		t.Fatalf("paged ListBuckets = %+v", lr)
	}
	lr, err = c.ListBuckets(oss.Prefix("bkt"), oss.Marker(lr.NextMarker))
	if err != nil || len(lr.Buckets) != 1 || lr.Buckets[0].Name != "bkt2" || lr.IsTruncated {
		t.Fatalf("second page = %+v, %v", lr, err)
	}

	info, err := c.GetBucketInfo("bkt1")
	if err != nil {
		t.Fatal(err)
	}
	bi := info.BucketInfo
	if bi.Name != "bkt1" || bi.ACL != "public-read" || bi.StorageClass != "IA" || bi.RedundancyType != "ZRS" ||
		bi.Location != "oss-cn-hangzhou" || bi.Owner.ID != env.AccountID || bi.SseRule.SSEAlgorithm != "" /* the SDK maps "None" to "" */ {
		t.Fatalf("bucket info = %+v", bi)
	}
	loc, err := c.GetBucketLocation("bkt1")
	if err != nil || loc != "oss-cn-hangzhou" {
		t.Fatalf("location %q %v", loc, err)
	}
	acl, err := c.GetBucketACL("bkt2")
	if err != nil || acl.ACL != "private" {
		t.Fatalf("acl %+v %v", acl, err)
	}
	if err := c.SetBucketACL("bkt2", oss.ACLPublicReadWrite); err != nil {
		t.Fatal(err)
	}
	if acl, _ := c.GetBucketACL("bkt2"); acl.ACL != "public-read-write" {
		t.Fatalf("acl after set = %q", acl.ACL)
	}

	b, _ := c.Bucket("bkt1")
	if err := b.PutObject("x", strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	stat, err := c.GetBucketStat("bkt1")
	if err != nil || stat.ObjectCount != 1 || stat.Storage != 5 {
		t.Fatalf("stat = %+v, %v", stat, err)
	}
	wantCode(t, c.DeleteBucket("bkt1"), 409, "BucketNotEmpty")
	if err := b.DeleteObject("x"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteBucket("bkt1"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.DeleteBucket("bkt1"), 404, "NoSuchBucket")
	_, err = c.GetBucketInfo("nope-bucket")
	wantCode(t, err, 404, "NoSuchBucket")
	if ok, err := c.IsBucketExist("bkt2"); err != nil || !ok {
		t.Fatalf("IsBucketExist = %v %v", ok, err)
	}
}

// TestV1DataLadder round-trips sizes across the inline/blob boundary and
// checks ETag, CRC64 and Content-MD5 on PUT and GET (the SDK verifies the
// CRC itself too).
func TestV1DataLadder(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "ladder")
	sizes := []int{0, 1, 1 << 10, 100 << 10, 1<<20 + 32<<10, 5<<20 + 1}
	for i, n := range sizes {
		data := randBytes(n, uint64(i+1))
		key := "obj-" + strconv.Itoa(n)
		var respHdr http.Header
		if err := b.PutObject(key, bytes.NewReader(data), oss.GetResponseHeader(&respHdr)); err != nil {
			t.Fatalf("put %d: %v", n, err)
		}
		if got, want := respHdr.Get("ETag"), `"`+md5Hex(data)+`"`; got != want {
			t.Errorf("put %d: ETag %s want %s", n, got, want)
		}
		if got := respHdr.Get("x-oss-hash-crc64ecma"); got != crcOf(data) {
			t.Errorf("put %d: crc %s want %s", n, got, crcOf(data))
		}
		if got := respHdr.Get("Content-MD5"); got != md5B64(data) {
			t.Errorf("put %d: Content-MD5 %s", n, got)
		}
		rd, err := b.GetObject(key)
		if err != nil {
			t.Fatalf("get %d: %v", n, err)
		}
		got, err := io.ReadAll(rd)
		rd.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("get %d: %d bytes, err %v", n, len(got), err)
		}
		meta, err := b.GetObjectDetailedMeta(key)
		if err != nil {
			t.Fatal(err)
		}
		if meta.Get("Content-Length") != strconv.Itoa(n) || meta.Get("ETag") != `"`+md5Hex(data)+`"` ||
			meta.Get("x-oss-hash-crc64ecma") != crcOf(data) || meta.Get("x-oss-object-type") != "Normal" {
			t.Errorf("head %d: %v", n, meta)
		}
	}
}

func TestV1ObjectMetadataAndHeaders(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "meta")
	err := b.PutObject("doc.txt", strings.NewReader("body"),
		oss.ContentType("text/x-test"), oss.Meta("Color", "blue"), oss.Meta("empty-ish", "v v"),
		oss.CacheControl("no-cache"), oss.ContentDisposition("attachment"), oss.ContentEncoding("identity"),
		oss.ObjectStorageClass(oss.StorageIA), oss.SetTagging(oss.Tagging{Tags: []oss.Tag{{Key: "k", Value: "v"}}}))
	if err != nil {
		t.Fatal(err)
	}
	h, err := b.GetObjectDetailedMeta("doc.txt")
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{
		"Content-Type": "text/x-test", "X-Oss-Meta-Color": "blue", "X-Oss-Meta-Empty-Ish": "v v",
		"Cache-Control": "no-cache", "Content-Disposition": "attachment", "Content-Encoding": "identity",
		"X-Oss-Storage-Class": "IA", "X-Oss-Tagging-Count": "1", "Accept-Ranges": "bytes",
	}
	for k, v := range checks {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
	if _, err := http.ParseTime(h.Get("Last-Modified")); err != nil {
		t.Errorf("Last-Modified %q: %v", h.Get("Last-Modified"), err)
	}
	// response-* overrides.
	rd, err := b.GetObject("doc.txt", oss.ResponseContentType("application/json"), oss.ResponseCacheControl("max-age=1"))
	if err != nil {
		t.Fatal(err)
	}
	rd.Close()
	// GetObjectMeta (HEAD ?objectMeta) and IsObjectExist use it.
	m, err := b.GetObjectMeta("doc.txt")
	if err != nil || m.Get("Content-Length") != "4" || m.Get("ETag") == "" {
		t.Fatalf("objectMeta %v %v", m, err)
	}
	if ok, err := b.IsObjectExist("nope"); err != nil || ok {
		t.Fatalf("IsObjectExist(nope) = %v %v", ok, err)
	}
	_, err = b.GetObjectMeta("nope")
	wantCode(t, err, 404, "NoSuchKey")
	// forbid-overwrite
	wantCode(t, b.PutObject("doc.txt", strings.NewReader("x"), oss.ForbidOverWrite(true)), 409, "FileAlreadyExists")
	if err := b.PutObject("new.txt", strings.NewReader("x"), oss.ForbidOverWrite(true)); err != nil {
		t.Fatal(err)
	}
	// ACL
	acl, err := b.GetObjectACL("doc.txt")
	if err != nil || acl.ACL != "default" {
		t.Fatalf("object acl %+v %v", acl, err)
	}
	if err := b.SetObjectACL("doc.txt", oss.ACLPublicRead); err != nil {
		t.Fatal(err)
	}
	if acl, _ := b.GetObjectACL("doc.txt"); acl.ACL != "public-read" {
		t.Fatalf("acl after set %q", acl.ACL)
	}
	_, err = b.GetObject("nope")
	wantCode(t, err, 404, "NoSuchKey")
	if err := b.DeleteObject("nope"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
}

func TestV1RangesAndConditions(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "ranges")
	data := randBytes(1000, 7)
	if err := b.PutObject("o", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := b.PutObject("empty", bytes.NewReader(nil)); err != nil {
		t.Fatal(err)
	}
	get := func(key string, opts ...oss.Option) (int, http.Header, []byte) {
		t.Helper()
		var hdr http.Header
		opts = append(opts, oss.GetResponseHeader(&hdr))
		rd, err := b.GetObject(key, opts...)
		if err != nil {
			return serviceError(t, err).StatusCode, hdr, nil
		}
		defer rd.Close()
		body, err := io.ReadAll(rd)
		if err != nil {
			t.Fatal(err)
		}
		status := 200
		if hdr.Get("Content-Range") != "" {
			status = 206
		}
		return status, hdr, body
	}
	std := oss.RangeBehavior("standard")
	cases := []struct {
		name       string
		key        string
		rng        string
		standard   bool
		status     int
		start, end int // inclusive, for 206
	}{
		{"first byte", "o", "bytes=0-0", false, 206, 0, 0},
		{"middle", "o", "bytes=10-19", false, 206, 10, 19},
		{"open end", "o", "bytes=990-", false, 206, 990, 999},
		{"suffix", "o", "bytes=-10", false, 206, 990, 999},
		{"end past size ignored", "o", "bytes=10-5000", false, 200, 0, 999},
		{"start past size ignored", "o", "bytes=1000-1001", false, 200, 0, 999},
		{"suffix too long ignored", "o", "bytes=-5000", false, 200, 0, 999},
		{"reversed ignored", "o", "bytes=20-10", false, 200, 0, 999},
		{"standard clips end", "o", "bytes=10-5000", true, 206, 10, 999},
		{"standard suffix too long", "o", "bytes=-5000", true, 206, 0, 999},
		{"standard start past size", "o", "bytes=1000-1001", true, 416, 0, 0},
		{"zero-byte object ignored", "empty", "bytes=0-0", false, 200, 0, -1},
		{"zero-byte object standard", "empty", "bytes=0-0", true, 416, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := []oss.Option{oss.NormalizedRange(strings.TrimPrefix(tc.rng, "bytes="))}
			if tc.standard {
				opts = append(opts, std)
			}
			status, hdr, body := get(tc.key, opts...)
			if status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			if status == 416 {
				return
			}
			src := data
			if tc.key == "empty" {
				src = nil
			}
			want := src[tc.start : tc.end+1]
			if !bytes.Equal(body, want) {
				t.Fatalf("body %d bytes, want %d", len(body), len(want))
			}
			if status == 206 {
				wantCR := "bytes " + strconv.Itoa(tc.start) + "-" + strconv.Itoa(tc.end) + "/" + strconv.Itoa(len(src))
				if hdr.Get("Content-Range") != wantCR {
					t.Fatalf("Content-Range %q, want %q", hdr.Get("Content-Range"), wantCR)
				}
			}
		})
	}

	etag := `"` + md5Hex(data) + `"`
	h, _ := b.GetObjectDetailedMeta("o")
	lm, _ := http.ParseTime(h.Get("Last-Modified"))
	condCases := []struct {
		name   string
		opt    oss.Option
		status int
	}{
		{"if-match ok", oss.IfMatch(etag), 200},
		{"if-match bad", oss.IfMatch(`"0000"`), 412},
		{"if-none-match hit", oss.IfNoneMatch(etag), 304},
		{"if-none-match miss", oss.IfNoneMatch(`"0000"`), 200},
		{"if-modified-since later", oss.IfModifiedSince(lm.Add(time.Hour)), 304},
		{"if-modified-since earlier", oss.IfModifiedSince(lm.Add(-time.Hour)), 200},
		{"if-unmodified-since earlier", oss.IfUnmodifiedSince(lm.Add(-time.Hour)), 412},
		{"if-unmodified-since later", oss.IfUnmodifiedSince(lm.Add(time.Hour)), 200},
	}
	for _, tc := range condCases {
		t.Run(tc.name, func(t *testing.T) {
			rd, err := b.GetObject("o", tc.opt)
			status := 200
			if err != nil {
				var se oss.ServiceError
				if ok := asServiceError(err, &se); ok {
					status = se.StatusCode
				} else if strings.Contains(err.Error(), "304") {
					status = 304
				} else {
					t.Fatalf("unexpected error %v", err)
				}
			} else {
				rd.Close()
			}
			if status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
		})
	}
}

func TestV1CopyAppendSymlink(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "src-bkt")
	d := v1Bucket(t, c, "dst-bkt")
	data := randBytes(200<<10, 3)
	srcKey := "dir/a+b c%.bin"
	if err := b.PutObject(srcKey, bytes.NewReader(data), oss.Meta("from", "src"), oss.ContentType("x/src")); err != nil {
		t.Fatal(err)
	}
	// COPY directive keeps metadata.
	if _, err := b.CopyObjectTo("dst-bkt", "copied", srcKey); err != nil {
		t.Fatal(err)
	}
	h, err := d.GetObjectDetailedMeta("copied")
	if err != nil || h.Get("X-Oss-Meta-From") != "src" || h.Get("Content-Type") != "x/src" ||
		h.Get("ETag") != `"`+md5Hex(data)+`"` || h.Get("x-oss-hash-crc64ecma") != crcOf(data) {
		t.Fatalf("copied meta %v %v", h, err)
	}
	// REPLACE directive.
	if _, err := b.CopyObject(srcKey, "replaced", oss.MetadataDirective(oss.MetaReplace), oss.Meta("new", "1")); err != nil {
		t.Fatal(err)
	}
	h, _ = b.GetObjectDetailedMeta("replaced")
	if h.Get("X-Oss-Meta-From") != "" || h.Get("X-Oss-Meta-New") != "1" {
		t.Fatalf("replaced meta %v", h)
	}
	// Self-copy with REPLACE rewrites metadata; with COPY and no change it is refused.
	if _, err := b.CopyObject(srcKey, srcKey, oss.MetadataDirective(oss.MetaReplace), oss.Meta("from", "self")); err != nil {
		t.Fatal(err)
	}
	h, _ = b.GetObjectDetailedMeta(srcKey)
	if h.Get("X-Oss-Meta-From") != "self" || h.Get("ETag") != `"`+md5Hex(data)+`"` {
		t.Fatalf("self-copied meta %v", h)
	}
	_, err = b.CopyObject(srcKey, srcKey)
	wantCode(t, err, 400, "InvalidArgument")
	// Copy conditions and forbid-overwrite.
	_, err = b.CopyObject(srcKey, "cond", oss.CopySourceIfMatch(`"0000"`))
	wantCode(t, err, 412, "PreconditionFailed")
	_, err = b.CopyObject(srcKey, "replaced", oss.ForbidOverWrite(true))
	wantCode(t, err, 409, "FileAlreadyExists")
	_, err = b.CopyObject("missing", "x")
	wantCode(t, err, 404, "NoSuchKey")
	rd, err := d.GetObject("copied")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rd)
	rd.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("copied data differs")
	}

	// Append: the SDK checks the chained CRC of the whole object.
	var next int64
	var whole []byte
	for i, chunk := range [][]byte{[]byte("hello "), randBytes(70<<10, 9), []byte("!")} {
		next, err = b.AppendObject("app", bytes.NewReader(chunk), next, oss.Meta("first", strconv.Itoa(i)))
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		whole = append(whole, chunk...)
		if next != int64(len(whole)) {
			t.Fatalf("next position %d, want %d", next, len(whole))
		}
	}
	h, _ = b.GetObjectDetailedMeta("app")
	if h.Get("x-oss-object-type") != "Appendable" || h.Get("x-oss-hash-crc64ecma") != crcOf(whole) ||
		h.Get("x-oss-next-append-position") != strconv.Itoa(len(whole)) || h.Get("X-Oss-Meta-First") != "0" {
		t.Fatalf("appendable meta %v", h)
	}
	_, err = b.AppendObject("app", strings.NewReader("x"), 3)
	wantCode(t, err, 409, "PositionNotEqualToLength")
	if p := serviceError(t, err); p.StatusCode != 409 {
		t.Fatal(p)
	}
	_, err = b.AppendObject("replaced", strings.NewReader("x"), 0)
	wantCode(t, err, 409, "ObjectNotAppendable")
	_, err = b.AppendObject("fresh", strings.NewReader("x"), 5)
	wantCode(t, err, 409, "PositionNotEqualToLength")

	// Symlink.
	if err := b.PutSymlink("link name+1", srcKey); err != nil {
		t.Fatal(err)
	}
	sh, err := b.GetSymlink("link name+1")
	if err != nil || sh.Get("X-Oss-Symlink-Target") != srcKey {
		t.Fatalf("GetSymlink %v %v", sh, err)
	}
	rd, err = b.GetObject("link name+1")
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(rd)
	rd.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("symlink GET did not return the target's data")
	}
	if err := b.PutSymlink("dangling", "no-such-target"); err != nil {
		t.Fatal(err)
	}
	_, err = b.GetObject("dangling")
	wantCode(t, err, 404, "NoSuchKey")
	_, err = b.GetSymlink("replaced")
	wantCode(t, err, 400, "NotSymlink")
}

func asServiceError(err error, se *oss.ServiceError) bool {
	return errors.As(err, se)
}

func TestV1DeleteMultipleWeirdKeys(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "multi")
	keys := []string{"a", "a/b", "sp ace", "plus+sign", "pct%41", "amp&<>\"'", "日本語/キー", "a//b", "a/../b", "./x", "trail/", "emoji😀"}
	for _, k := range keys {
		if err := b.PutObject(k, strings.NewReader(k)); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	res, err := b.DeleteObjects(append(keys[:6:6], "never-existed"))
	if err != nil {
		t.Fatal(err)
	}
	got := append([]string(nil), res.DeletedObjects...)
	sort.Strings(got)
	want := append(keys[:6:6], "never-existed")
	sort.Strings(want)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("deleted %q, want %q", got, want)
	}
	res, err = b.DeleteObjects(keys[6:], oss.DeleteObjectsQuiet(true))
	if err != nil || len(res.DeletedObjects) != 0 {
		t.Fatalf("quiet delete %+v %v", res, err)
	}
	lr, err := b.ListObjects()
	if err != nil || len(lr.Objects) != 0 {
		t.Fatalf("objects left: %+v %v", lr.Objects, err)
	}
}

func TestV1ListEncoding(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "listing")
	keys := []string{"a", "a/b", "a b/c", "a+b/c", "a%2Fb", "dir/sub/x", "dir/sub/y", "dir/z", "é/ü", "中文", "t/"}
	for _, k := range keys {
		if err := b.PutObject(k, strings.NewReader("v")); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	sorted := append([]string(nil), keys...)
	sort.Strings(sorted)

	// Page through everything, one key at a time (v1 listing).
	var all []string
	marker := ""
	for {
		lr, err := b.ListObjects(oss.Marker(marker), oss.MaxKeys(3))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range lr.Objects {
			all = append(all, o.Key)
			if o.ETag == "" || o.Type != "Normal" || o.Size != 1 || o.Owner.ID != env.AccountID {
				t.Fatalf("object entry %+v", o)
			}
		}
		if !lr.IsTruncated {
			break
		}
		marker = lr.NextMarker
	}
	if strings.Join(all, "|") != strings.Join(sorted, "|") {
		t.Fatalf("listing %q, want %q", all, sorted)
	}
	// Delimiter and prefix.
	lr, err := b.ListObjects(oss.Delimiter("/"))
	if err != nil {
		t.Fatal(err)
	}
	wantPrefixes := "a b/|a+b/|a/|dir/|t/|é/"
	if strings.Join(lr.CommonPrefixes, "|") != wantPrefixes {
		t.Fatalf("prefixes %q, want %q", lr.CommonPrefixes, wantPrefixes)
	}
	var top []string
	for _, o := range lr.Objects {
		top = append(top, o.Key)
	}
	if strings.Join(top, "|") != "a|a%2Fb|中文" {
		t.Fatalf("top-level keys %q", top)
	}
	lr, err = b.ListObjects(oss.Prefix("dir/"), oss.Delimiter("/"))
	if err != nil || strings.Join(lr.CommonPrefixes, "|") != "dir/sub/" || len(lr.Objects) != 1 || lr.Objects[0].Key != "dir/z" {
		t.Fatalf("dir listing %+v %v", lr, err)
	}
	// V2 with continuation tokens and start-after.
	all = nil
	token := ""
	for {
		opts := []oss.Option{oss.MaxKeys(4), oss.FetchOwner(true)}
		if token != "" {
			opts = append(opts, oss.ContinuationToken(token))
		}
		r2, err := b.ListObjectsV2(opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range r2.Objects {
			all = append(all, o.Key)
			if o.Owner.ID != env.AccountID {
				t.Fatalf("fetch-owner: %+v", o)
			}
		}
		if !r2.IsTruncated {
			break
		}
		token = r2.NextContinuationToken
	}
	if strings.Join(all, "|") != strings.Join(sorted, "|") {
		t.Fatalf("v2 listing %q", all)
	}
	r2, err := b.ListObjectsV2(oss.StartAfter("dir/sub/y"))
	if err != nil || len(r2.Objects) == 0 || r2.Objects[0].Key != "dir/z" || r2.StartAfter != "dir/sub/y" {
		t.Fatalf("start-after %+v %v", r2, err)
	}
	_, err = b.ListObjects(oss.MaxKeys(1001))
	wantCode(t, err, 400, "InvalidArgument")
}

func TestV1Multipart(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "mpu")
	key := "big/object name+1"
	data := randBytes(5<<20+1, 11)
	imur, err := b.InitiateMultipartUpload(key, oss.Meta("m", "1"), oss.ContentType("x/mp"))
	if err != nil {
		t.Fatal(err)
	}
	partSize := 2 << 20
	var parts []oss.UploadPart
	// Upload out of order, as ossutil does concurrently.
	for _, n := range []int{3, 1, 2} {
		off := (n - 1) * partSize
		end := min(off+partSize, len(data))
		p, err := b.UploadPart(imur, bytes.NewReader(data[off:end]), int64(end-off), n)
		if err != nil {
			t.Fatalf("part %d: %v", n, err)
		}
		parts = append(parts, p)
	}
	lp, err := b.ListUploadedParts(imur)
	if err != nil || len(lp.UploadedParts) != 3 || lp.UploadedParts[0].PartNumber != 1 {
		t.Fatalf("ListUploadedParts %+v %v", lp, err)
	}
	lmu, err := b.ListMultipartUploads()
	if err != nil || len(lmu.Uploads) != 1 || lmu.Uploads[0].Key != key || lmu.Uploads[0].UploadID != imur.UploadID {
		t.Fatalf("ListMultipartUploads %+v %v", lmu, err)
	}
	// The SDK sorts parts itself; an out-of-order list is sent raw below.
	sort.Slice(parts, func(i, j int) bool { return parts[i].PartNumber < parts[j].PartNumber })
	bad := append([]oss.UploadPart(nil), parts...)
	bad[1].ETag = `"00000000000000000000000000000000"`
	_, err = b.CompleteMultipartUpload(imur, bad)
	wantCode(t, err, 400, "InvalidPart")
	bad = append(append([]oss.UploadPart(nil), parts...), oss.UploadPart{PartNumber: 9, ETag: parts[0].ETag})
	_, err = b.CompleteMultipartUpload(imur, bad)
	wantCode(t, err, 400, "InvalidPart")

	var hdr http.Header
	res, err := b.CompleteMultipartUpload(imur, parts, oss.GetResponseHeader(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(res.ETag, `-3"`) || res.Key != key || hdr.Get("ETag") != res.ETag {
		t.Fatalf("complete result %+v, ETag header %q", res, hdr.Get("ETag"))
	}
	// Retry of the same Complete is idempotent.
	res2, err := b.CompleteMultipartUpload(imur, parts)
	if err != nil || res2.ETag != res.ETag {
		t.Fatalf("retried complete %+v %v", res2, err)
	}
	h, err := b.GetObjectDetailedMeta(key)
	if err != nil || h.Get("x-oss-hash-crc64ecma") != crcOf(data) || h.Get("x-oss-object-type") != "Multipart" ||
		h.Get("X-Oss-Meta-M") != "1" || h.Get("Content-Type") != "x/mp" || h.Get("Content-Length") != strconv.Itoa(len(data)) {
		t.Fatalf("multipart object meta %v %v", h, err)
	}
	rd, err := b.GetObject(key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rd)
	rd.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("multipart data differs")
	}

	// EntityTooSmall, abort, NoSuchUpload, part number limits, UploadPartCopy.
	imur2, err := b.InitiateMultipartUpload("small")
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := b.UploadPart(imur2, bytes.NewReader(data[:1000]), 1000, 1)
	p2, _ := b.UploadPart(imur2, bytes.NewReader(data[:1000]), 1000, 2)
	_, err = b.CompleteMultipartUpload(imur2, []oss.UploadPart{p1, p2})
	wantCode(t, err, 400, "EntityTooSmall")
	_, err = b.UploadPart(imur2, bytes.NewReader(data[:10]), 10, 10001)
	wantCode(t, err, 400, "InvalidArgument")
	if err := b.AbortMultipartUpload(imur2); err != nil {
		t.Fatal(err)
	}
	wantCode(t, b.AbortMultipartUpload(imur2), 404, "NoSuchUpload")
	_, err = b.UploadPart(imur2, bytes.NewReader(data[:10]), 10, 1)
	wantCode(t, err, 404, "NoSuchUpload")

	imur3, err := b.InitiateMultipartUpload("copied")
	if err != nil {
		t.Fatal(err)
	}
	cp1, err := b.UploadPartCopy(imur3, "mpu", key, 0, 1<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	cp2, err := b.UploadPartCopy(imur3, "mpu", key, 1<<20, int64(len(data)-1<<20), 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CompleteMultipartUpload(imur3, []oss.UploadPart{cp1, cp2}); err != nil {
		t.Fatal(err)
	}
	h, _ = b.GetObjectDetailedMeta("copied")
	if h.Get("x-oss-hash-crc64ecma") != crcOf(data) {
		t.Fatalf("part-copied object crc %s, want %s", h.Get("x-oss-hash-crc64ecma"), crcOf(data))
	}
}

// TestV1ResumableTransfers uses the SDK's concurrent, checkpointed upload
// and ranged download (CRC-combined against HEAD), like ossutil cp.
func TestV1ResumableTransfers(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "resumable")
	dir := t.TempDir()
	data := randBytes(1<<20+32<<10, 5)
	src := dir + "/src.bin"
	if err := writeFile(src, data); err != nil {
		t.Fatal(err)
	}
	if err := b.UploadFile("up.bin", src, 256<<10, oss.Routines(3), oss.Checkpoint(true, dir+"/up.cp")); err != nil {
		t.Fatal(err)
	}
	dst := dir + "/dst.bin"
	if err := b.DownloadFile("up.bin", dst, 200<<10, oss.Routines(3), oss.Checkpoint(true, dir+"/down.cp")); err != nil {
		t.Fatal(err)
	}
	got, err := readFile(dst)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded data differs (%v)", err)
	}
}

func TestV1VirtualHost(t *testing.T) {
	env := servertest.StartWith(t, servertest.Options{Domains: []string{"oss.test"}})
	_, port, _ := strings.Cut(env.Addr, ":")
	// localhost + the SDK's default virtual-host style: bkt.localhost:PORT
	// must resolve; route the dial to 127.0.0.1.
	c := v1Client(t, env)
	if err := c.CreateBucket("vhost-bkt"); err != nil {
		t.Fatal(err)
	}
	vc, err := oss.New("http://localhost:"+port, env.AccessKeyID, env.AccessKeySecret, oss.HTTPClient(loopbackClient()))
	if err != nil {
		t.Fatal(err)
	}
	vb, _ := vc.Bucket("vhost-bkt")
	if err := vb.PutObject("dir/key with space", strings.NewReader("vh")); err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("vhost-bkt")
	rd, err := b.GetObject("dir/key with space")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rd)
	rd.Close()
	if string(got) != "vh" {
		t.Fatalf("got %q", got)
	}
	lr, err := vb.ListObjects()
	if err != nil || len(lr.Objects) != 1 {
		t.Fatalf("vhost listing %+v %v", lr, err)
	}
	// A configured custom domain works as well.
	cc, err := oss.New("http://oss.test:"+port, env.AccessKeyID, env.AccessKeySecret, oss.HTTPClient(loopbackClient()))
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := cc.Bucket("vhost-bkt")
	if _, err := cb.GetObjectDetailedMeta("dir/key with space"); err != nil {
		t.Fatal(err)
	}
}

func TestV1MultipartListingPaging(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "mpu-list")
	keys := []string{"a b", "a+b", "dir/x%y", "dir/z", "ü"}
	ids := map[string]string{}
	for _, k := range keys {
		imur, err := b.InitiateMultipartUpload(k)
		if err != nil {
			t.Fatal(err)
		}
		ids[k] = imur.UploadID
	}
	var got []string
	keyMarker, idMarker := "", ""
	for {
		res, err := b.ListMultipartUploads(oss.MaxUploads(2), oss.KeyMarker(keyMarker), oss.UploadIDMarker(idMarker))
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range res.Uploads {
			got = append(got, u.Key)
			if ids[u.Key] != u.UploadID {
				t.Fatalf("upload %q id %q, want %q", u.Key, u.UploadID, ids[u.Key])
			}
		}
		if !res.IsTruncated {
			break
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	if strings.Join(got, "|") != strings.Join(keys, "|") {
		t.Fatalf("uploads %q, want %q", got, keys)
	}
	res, err := b.ListMultipartUploads(oss.Delimiter("/"))
	if err != nil || strings.Join(res.CommonPrefixes, "|") != "dir/" || len(res.Uploads) != 3 {
		t.Fatalf("delimited uploads %+v %v", res, err)
	}

	imur := oss.InitiateMultipartUploadResult{Bucket: "mpu-list", Key: "a+b", UploadID: ids["a+b"]}
	for n := 1; n <= 5; n++ {
		if _, err := b.UploadPart(imur, strings.NewReader("p"), 1, n); err != nil {
			t.Fatal(err)
		}
	}
	// Re-uploading a part replaces it.
	if _, err := b.UploadPart(imur, strings.NewReader("PP"), 2, 3); err != nil {
		t.Fatal(err)
	}
	var nums []int
	marker := 0
	for {
		lp, err := b.ListUploadedParts(imur, oss.MaxParts(2), oss.PartNumberMarker(marker))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range lp.UploadedParts {
			nums = append(nums, p.PartNumber)
			if p.PartNumber == 3 && p.Size != 2 {
				t.Fatalf("part 3 size %d after re-upload", p.Size)
			}
		}
		if lp.Key != "a+b" {
			t.Fatalf("ListParts key %q", lp.Key)
		}
		if !lp.IsTruncated {
			break
		}
		marker, _ = strconv.Atoi(lp.NextPartNumberMarker)
	}
	if len(nums) != 5 || nums[0] != 1 || nums[4] != 5 {
		t.Fatalf("parts %v", nums)
	}
	_, err = b.ListUploadedParts(oss.InitiateMultipartUploadResult{Bucket: "mpu-list", Key: "a+b", UploadID: "nope"})
	wantCode(t, err, 404, "NoSuchUpload")
}

func TestV1GzipObjectErrorIsReadable(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "gzip-bkt")
	if err := b.PutObject("g", strings.NewReader("abc"), oss.ContentEncoding("gzip")); err != nil {
		t.Fatal(err)
	}
	_, err := b.GetObject("g", oss.NormalizedRange("5-6"), oss.RangeBehavior("standard"))
	wantCode(t, err, 416, "InvalidRange")
}
