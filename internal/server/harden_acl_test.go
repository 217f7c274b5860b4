package server_test

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/server/servertest"
)

// The ACL model anonymous requests are checked against: an object ACL
// other than default overrides the bucket ACL; public-read grants reading
// (objects, listings, symlinks), public-read-write also writing (PUT,
// DELETE, append, symlink, multipart). Bucket and object ACL reads and
// writes, bucket info/stat/location and bucket deletion stay with the owner
// whatever the ACL (as OSS). effectiveACL is the ACL that applies to an
// object.
func effectiveACL(bucket, object string) string {
	if object == "" || object == "default" {
		return bucket
	}
	return object
}

func canRead(acl string) bool  { return acl == "public-read" || acl == "public-read-write" }
func canWrite(acl string) bool { return acl == "public-read-write" }

func expect(ok bool, okStatus int) int {
	if ok {
		return okStatus
	}
	return 403
}

var (
	matrixBucketACLs = []string{"private", "public-read", "public-read-write"}
	matrixObjectACLs = []string{"default", "private", "public-read", "public-read-write"}
)

func bucketFor(acl string) string {
	return "m-" + map[string]string{"private": "p", "public-read": "r", "public-read-write": "rw"}[acl]
}

func TestHardenAnonymousACLMatrix(t *testing.T) {
	env := servertest.Start(t)
	raw := newRawEnv(env)
	c := v1Client(t, env)
	buckets := map[string]*oss.Bucket{}
	for _, acl := range matrixBucketACLs {
		name := bucketFor(acl)
		if err := c.CreateBucket(name, oss.ACL(oss.ACLType(acl))); err != nil {
			t.Fatal(err)
		}
		buckets[acl], _ = c.Bucket(name)
	}
	// reset (re)creates the object with the given ACL as the owner.
	reset := func(t *testing.T, bacl, oacl string) string {
		t.Helper()
		key := "obj-" + oacl
		var opts []oss.Option
		if oacl != "default" {
			opts = append(opts, oss.ObjectACL(oss.ACLType(oacl)))
		}
		if err := buckets[bacl].PutObject(key, strings.NewReader("original"), opts...); err != nil {
			t.Fatal(err)
		}
		return key
	}
	anonDo := func(t *testing.T, rq rawReq) (int, string) {
		t.Helper()
		rq.anon = true
		resp, body := raw.do(t, rq)
		if resp.StatusCode >= 400 {
			e := wantRawError(t, resp, body, resp.StatusCode, errorCodeOf(t, resp, body))
			return resp.StatusCode, e.Code
		}
		return resp.StatusCode, ""
	}
	check := func(t *testing.T, what string, rq rawReq, want int) {
		t.Helper()
		got, code := anonDo(t, rq)
		if got != want {
			t.Errorf("anonymous %s: %d %s, want %d", what, got, code, want)
		}
		if got == 403 && code != "AccessDenied" {
			t.Errorf("anonymous %s: 403 with code %s", what, code)
		}
	}

	for _, bacl := range matrixBucketACLs {
		bkt := bucketFor(bacl)
		t.Run("bucket "+bacl, func(t *testing.T) {
			check(t, "ListObjects", rawReq{method: "GET", bucket: bkt}, expect(canRead(bacl), 200))
			check(t, "HeadBucket", rawReq{method: "HEAD", bucket: bkt}, expect(canRead(bacl), 200))
			check(t, "GET missing key", rawReq{method: "GET", bucket: bkt, key: "missing"}, expect(canRead(bacl), 404))
			check(t, "PUT new key", rawReq{method: "PUT", bucket: bkt, key: "anon-new", body: []byte("x")}, expect(canWrite(bacl), 200))
			check(t, "ListMultipartUploads", rawReq{method: "GET", bucket: bkt, sub: "uploads"}, expect(canWrite(bacl), 200))
			check(t, "InitiateMultipartUpload (new key)", rawReq{method: "POST", bucket: bkt, key: "anon-mp", sub: "uploads"}, expect(canWrite(bacl), 200))
			for _, sub := range []string{"acl", "bucketInfo", "location", "stat"} {
				check(t, "GET ?"+sub, rawReq{method: "GET", bucket: bkt, sub: sub}, 403)
			}
			check(t, "PutBucketAcl", rawReq{method: "PUT", bucket: bkt, sub: "acl", header: map[string]string{"x-oss-acl": "public-read-write"}}, 403)
			check(t, "PutBucket (exists)", rawReq{method: "PUT", bucket: bkt}, 403)
			check(t, "DeleteBucket", rawReq{method: "DELETE", bucket: bkt}, 403)
			if got, err := c.GetBucketACL(bkt); err != nil || got.ACL != bacl {
				t.Fatalf("bucket ACL changed to %q (%v)", got.ACL, err)
			}

			for _, oacl := range matrixObjectACLs {
				eff := effectiveACL(bacl, oacl)
				r, w := canRead(eff), canWrite(eff)
				t.Run("object "+oacl, func(t *testing.T) {
					key := reset(t, bacl, oacl)
					check(t, "GetObject", rawReq{method: "GET", bucket: bkt, key: key}, expect(r, 200))
					check(t, "HeadObject", rawReq{method: "HEAD", bucket: bkt, key: key}, expect(r, 200))
					check(t, "GetObjectMeta", rawReq{method: "HEAD", bucket: bkt, key: key, sub: "objectMeta"}, expect(r, 200))
					check(t, "GetSymlink (not a link)", rawReq{method: "GET", bucket: bkt, key: key, sub: "symlink"}, expect(r, 400))
					check(t, "GetObjectAcl", rawReq{method: "GET", bucket: bkt, key: key, sub: "acl"}, 403)
					check(t, "PutObjectAcl", rawReq{method: "PUT", bucket: bkt, key: key, sub: "acl",
						header: map[string]string{"x-oss-object-acl": "public-read-write"}}, 403)
					check(t, "AppendObject (normal object)", rawReq{method: "POST", bucket: bkt, key: key, sub: "append&position=8", body: []byte("x")}, expect(w, 409))

					// Multipart on the object's key: every step follows the
					// ACL in effect at the key.
					check(t, "InitiateMultipartUpload", rawReq{method: "POST", bucket: bkt, key: key, sub: "uploads"}, expect(w, 200))
					imur, err := buckets[bacl].InitiateMultipartUpload(key)
					if err != nil {
						t.Fatal(err)
					}
					check(t, "UploadPart", rawReq{method: "PUT", bucket: bkt, key: key, sub: "partNumber=1&uploadId=" + imur.UploadID, body: []byte("part")}, expect(w, 200))
					check(t, "ListParts", rawReq{method: "GET", bucket: bkt, key: key, sub: "uploadId=" + imur.UploadID}, expect(w, 200))
					if !w {
						if _, err := buckets[bacl].UploadPart(imur, strings.NewReader("part"), 4, 1); err != nil {
							t.Fatal(err)
						}
					}
					lp, err := buckets[bacl].ListUploadedParts(imur)
					if err != nil || len(lp.UploadedParts) != 1 {
						t.Fatalf("parts %+v %v", lp, err)
					}
					complete := fmt.Sprintf("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>", lp.UploadedParts[0].ETag)
					check(t, "CompleteMultipartUpload", rawReq{method: "POST", bucket: bkt, key: key, sub: "uploadId=" + imur.UploadID, body: []byte(complete)}, expect(w, 200))
					key = reset(t, bacl, oacl)
					imur2, err := buckets[bacl].InitiateMultipartUpload(key)
					if err != nil {
						t.Fatal(err)
					}
					check(t, "AbortMultipartUpload", rawReq{method: "DELETE", bucket: bkt, key: key, sub: "uploadId=" + imur2.UploadID}, expect(w, 204))
					_ = buckets[bacl].AbortMultipartUpload(imur2)

					// Writes that replace the object (each on a fresh copy).
					key = reset(t, bacl, oacl)
					check(t, "PutObject (overwrite)", rawReq{method: "PUT", bucket: bkt, key: key, body: []byte("anon")}, expect(w, 200))
					key = reset(t, bacl, oacl)
					check(t, "PutSymlink (overwrite)", rawReq{method: "PUT", bucket: bkt, key: key, sub: "symlink",
						header: map[string]string{"x-oss-symlink-target": "elsewhere"}}, expect(w, 200))
					key = reset(t, bacl, oacl)
					del := []byte("<Delete><Quiet>true</Quiet><Object><Key>" + key + "</Key></Object></Delete>")
					check(t, "DeleteMultipleObjects", rawReq{method: "POST", bucket: bkt, sub: "delete", body: del,
						header: map[string]string{"Content-MD5": md5B64(del)}}, expect(w, 200))
					if !w {
						mustStillBe(t, buckets[bacl], key, "original")
					}
					key = reset(t, bacl, oacl)
					check(t, "DeleteObject", rawReq{method: "DELETE", bucket: bkt, key: key}, expect(w, 204))
					if !w {
						mustStillBe(t, buckets[bacl], key, "original")
					}

					// Copy needs read on the source and write on the
					// destination.
					key = reset(t, bacl, oacl)
					for _, dacl := range matrixBucketACLs {
						dst := bucketFor(dacl)
						want := expect(r && canWrite(dacl), 200)
						check(t, fmt.Sprintf("CopyObject to %s bucket", dacl), rawReq{method: "PUT", bucket: dst, key: "copy-" + bkt + "-" + oacl,
							header: map[string]string{"x-oss-copy-source": "/" + bkt + "/" + key}}, want)
						check(t, fmt.Sprintf("UploadPartCopy to %s bucket", dacl), uploadPartCopyReq(t, buckets[dacl], dst, bkt, key), want)
					}
				})
			}
		})
	}
	// Service level.
	check(t, "ListBuckets", rawReq{method: "GET"}, 403)
	check(t, "PutBucket (new)", rawReq{method: "PUT", bucket: "anon-made"}, 403)
}

// uploadPartCopyReq prepares (as the owner) an upload in dst and returns
// an anonymous UploadPartCopy request from src/key into it.
func uploadPartCopyReq(t *testing.T, owner *oss.Bucket, dst, srcBucket, srcKey string) rawReq {
	t.Helper()
	imur, err := owner.InitiateMultipartUpload("upc-target")
	if err != nil {
		t.Fatal(err)
	}
	return rawReq{method: "PUT", bucket: dst, key: "upc-target", sub: "partNumber=1&uploadId=" + imur.UploadID,
		header: map[string]string{"x-oss-copy-source": "/" + srcBucket + "/" + srcKey}}
}

func mustStillBe(t *testing.T, b *oss.Bucket, key, want string) {
	t.Helper()
	body, _, _, err := getWhole(b, key)
	if err != nil || string(body) != want {
		t.Fatalf("%s after a denied write: %q %v", key, body, err)
	}
}

// errorCodeOf extracts the Code of an error response (body or x-oss-err).
func errorCodeOf(t *testing.T, resp *rawResponse, body []byte) string {
	t.Helper()
	doc := body
	if len(doc) == 0 {
		doc, _ = base64.StdEncoding.DecodeString(resp.Header.Get("x-oss-err"))
	}
	var e errorDoc
	if err := xml.Unmarshal(doc, &e); err != nil {
		t.Fatalf("%d response without an error document: %q", resp.StatusCode, body)
	}
	return e.Code
}

// TestHardenSymlinkACLs: reading through a symlink needs read permission
// on the link and on the target (least privilege).
func TestHardenSymlinkACLs(t *testing.T) {
	env := servertest.Start(t)
	raw := newRawEnv(env)
	b := v1Bucket(t, v1Client(t, env), "links")
	for _, linkACL := range []string{"private", "public-read"} {
		for _, targetACL := range []string{"private", "public-read"} {
			target := "t-" + linkACL + "-" + targetACL
			link := "l-" + linkACL + "-" + targetACL
			if err := b.PutObject(target, strings.NewReader("target"), oss.ObjectACL(oss.ACLType(targetACL))); err != nil {
				t.Fatal(err)
			}
			if err := b.PutSymlink(link, target, oss.ObjectACL(oss.ACLType(linkACL))); err != nil {
				t.Fatal(err)
			}
			resp, body := raw.do(t, rawReq{method: "GET", bucket: "links", key: link, anon: true})
			want := expect(linkACL == "public-read" && targetACL == "public-read", 200)
			if resp.StatusCode != want {
				t.Errorf("link %s → target %s: %d, want %d (%s)", linkACL, targetACL, resp.StatusCode, want, body)
			}
		}
	}
}
