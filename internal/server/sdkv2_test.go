package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"testing"

	v2oss "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/ossctl/ossctl/internal/server/servertest"
)

func v2Code(t *testing.T, err error, status int, code string) {
	t.Helper()
	var se *v2oss.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("want service error %s, got %v", code, err)
	}
	if se.StatusCode != status || se.Code != code || len(se.RequestID) != 24 {
		t.Fatalf("want %d %s, got %d %s (%s) id %q", status, code, se.StatusCode, se.Code, se.Message, se.RequestID)
	}
}

func TestV2CoreOperations(t *testing.T) {
	env := servertest.Start(t)
	ctx := context.Background()
	c := v2Client(env, env.Endpoint, true)
	p := v2oss.Ptr[string]

	if _, err := c.PutBucket(ctx, &v2oss.PutBucketRequest{Bucket: p("v2-bkt"),
		CreateBucketConfiguration: &v2oss.CreateBucketConfiguration{StorageClass: v2oss.StorageClassStandard}}); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.IsBucketExist(ctx, "v2-bkt"); err != nil || !ok {
		t.Fatalf("IsBucketExist %v %v", ok, err)
	}
	data := randBytes(300<<10, 21)
	put, err := c.PutObject(ctx, &v2oss.PutObjectRequest{Bucket: p("v2-bkt"), Key: p("dir/ü b+c"),
		Body: bytes.NewReader(data), Metadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if *put.ETag != `"`+md5Hex(data)+`"` || *put.HashCRC64 != crcOf(data) {
		t.Fatalf("put result %s %s", *put.ETag, *put.HashCRC64)
	}
	get, err := c.GetObject(ctx, &v2oss.GetObjectRequest{Bucket: p("v2-bkt"), Key: p("dir/ü b+c"), Range: p("bytes=100-199")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if !bytes.Equal(got, data[100:200]) || get.StatusCode != 206 || *get.ContentRange != "bytes 100-199/307200" {
		t.Fatalf("ranged get %d bytes status %d", len(got), get.StatusCode)
	}
	head, err := c.HeadObject(ctx, &v2oss.HeadObjectRequest{Bucket: p("v2-bkt"), Key: p("dir/ü b+c")})
	if err != nil || head.Metadata["k"] != "v" || head.ContentLength != int64(len(data)) {
		t.Fatalf("head %+v %v", head, err)
	}
	_, err = c.HeadObject(ctx, &v2oss.HeadObjectRequest{Bucket: p("v2-bkt"), Key: p("missing")})
	v2Code(t, err, 404, "NoSuchKey") // decoded from x-oss-err

	if _, err := c.CopyObject(ctx, &v2oss.CopyObjectRequest{Bucket: p("v2-bkt"), Key: p("copy of"),
		SourceKey: p("dir/ü b+c")}); err != nil {
		t.Fatal(err)
	}
	acl, err := c.GetObjectAcl(ctx, &v2oss.GetObjectAclRequest{Bucket: p("v2-bkt"), Key: p("copy of")})
	if err != nil || *acl.ACL != "default" {
		t.Fatalf("object acl %v %v", acl, err)
	}
	app, err := c.AppendObject(ctx, &v2oss.AppendObjectRequest{Bucket: p("v2-bkt"), Key: p("log"),
		Position: v2oss.Ptr(int64(0)), Body: strings.NewReader("line1\n")})
	if err != nil || app.NextPosition != 6 {
		t.Fatalf("append %+v %v", app, err)
	}

	keys := []string{"a", "a/b", "a b", "a+b", "100%", "x/y/z", "中/文"}
	for _, k := range keys {
		if _, err := c.PutObject(ctx, &v2oss.PutObjectRequest{Bucket: p("v2-bkt"), Key: p(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	var listed []string
	pager := c.NewListObjectsV2Paginator(&v2oss.ListObjectsV2Request{Bucket: p("v2-bkt"), MaxKeys: 2})
	for pager.HasNext() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			listed = append(listed, *o.Key)
		}
	}
	want := append(append([]string(nil), keys...), "dir/ü b+c", "copy of", "log")
	sort.Strings(want)
	if strings.Join(listed, "|") != strings.Join(want, "|") {
		t.Fatalf("listed %q, want %q", listed, want)
	}
	objs := []v2oss.DeleteObject{}
	for _, k := range keys {
		objs = append(objs, v2oss.DeleteObject{Key: p(k)})
	}
	del, err := c.DeleteMultipleObjects(ctx, &v2oss.DeleteMultipleObjectsRequest{Bucket: p("v2-bkt"), Objects: objs})
	if err != nil || len(del.DeletedObjects) != len(keys) {
		t.Fatalf("delete multiple %+v %v", del, err)
	}
	var deleted []string
	for _, d := range del.DeletedObjects {
		deleted = append(deleted, *d.Key)
	}
	sort.Strings(deleted)
	sorted := append([]string(nil), keys...)
	sort.Strings(sorted)
	if strings.Join(deleted, "|") != strings.Join(sorted, "|") {
		t.Fatalf("deleted %q", deleted)
	}

	// Multipart through the SDK's uploader and downloader.
	big := randBytes(1<<20+32<<10, 22)
	up := c.NewUploader(func(o *v2oss.UploaderOptions) { o.PartSize = 256 << 10; o.ParallelNum = 3 })
	ur, err := up.UploadFrom(ctx, &v2oss.PutObjectRequest{Bucket: p("v2-bkt"), Key: p("big")}, bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	if *ur.HashCRC64 != crcOf(big) || !strings.HasSuffix(*ur.ETag, `-5"`) {
		t.Fatalf("upload result crc %s etag %s", *ur.HashCRC64, *ur.ETag)
	}
	path := t.TempDir() + "/big"
	d := c.NewDownloader(func(o *v2oss.DownloaderOptions) { o.PartSize = 200 << 10; o.ParallelNum = 3 })
	if _, err := d.DownloadFile(ctx, &v2oss.GetObjectRequest{Bucket: p("v2-bkt"), Key: p("big")}, path); err != nil {
		t.Fatal(err)
	}
	if got, err := readFile(path); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("downloaded data differs (%v)", err)
	}

	_, err = c.DeleteBucket(ctx, &v2oss.DeleteBucketRequest{Bucket: p("v2-bkt")})
	v2Code(t, err, 409, "BucketNotEmpty")
}

func TestV2VirtualHostAndV4(t *testing.T) {
	env := servertest.Start(t)
	ctx := context.Background()
	_, port, _ := strings.Cut(env.Addr, ":")
	p := v2oss.Ptr[string]
	c := v2Client(env, env.Endpoint, true)
	if _, err := c.PutBucket(ctx, &v2oss.PutBucketRequest{Bucket: p("vh2")}); err != nil {
		t.Fatal(err)
	}
	cfg := v2oss.LoadDefaultConfig().
		WithCredentialsProvider(v2Creds(env)).
		WithRegion(env.Region).
		WithEndpoint("http://localhost:" + port).
		WithHttpClient(loopbackClient()).
		WithRetryMaxAttempts(1)
	vc := v2oss.NewClient(cfg) // virtual host: vh2.localhost:PORT, V4 signatures (the v2 default)
	if _, err := vc.PutObject(ctx, &v2oss.PutObjectRequest{Bucket: p("vh2"), Key: p("a//b/../c"), Body: strings.NewReader("vh")}); err != nil {
		t.Fatal(err)
	}
	get, err := c.GetObject(ctx, &v2oss.GetObjectRequest{Bucket: p("vh2"), Key: p("a//b/../c")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if string(got) != "vh" {
		t.Fatalf("got %q", got)
	}
	res, err := vc.ListObjectsV2(ctx, &v2oss.ListObjectsV2Request{Bucket: p("vh2")})
	if err != nil || len(res.Contents) != 1 || *res.Contents[0].Key != "a//b/../c" {
		t.Fatalf("vhost list %+v %v", res, err)
	}
}
