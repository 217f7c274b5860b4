package crypto_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	ossv2 "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	ossv2crypto "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/crypto"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/crypto"
	"github.com/ossctl/ossctl/internal/server/servertest"
)

// TestInteropV2EncryptionClient checks both directions against the v2 SDK's
// EncryptionClient, which reads the envelope from the GET response itself
// and sends x-oss-range-behavior: standard on ranged reads.
func TestInteropV2EncryptionClient(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	cfg := ossv2.LoadDefaultConfig().
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(srv.AccessKeyID, srv.AccessKeySecret)).
		WithRegion(srv.Region).WithEndpoint(srv.Endpoint)
	client := ossv2.NewClient(cfg)
	const bucket = "cse-v2"
	if _, err := client.PutBucket(ctx, &ossv2.PutBucketRequest{Bucket: ossv2.Ptr(bucket)}); err != nil {
		t.Fatal(err)
	}
	md := map[string]string{"desc": "v2"}
	master, err := ossv2crypto.CreateMasterRsa(md, string(testdata(t, "rsa-2048-public-pkix.pem")), string(testdata(t, "rsa-2048-pkcs8.pem")))
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ossv2.NewEncryptionClient(client, master)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := oss.New(srv.Endpoint, srv.AccessKeyID, srv.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	plainBucket, err := v1.Bucket(bucket)
	if err != nil {
		t.Fatal(err)
	}
	plain := payload(20011)
	key := rsaKey(t, md)

	// Ours → v2.
	c, err := crypto.NewContent(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutObject(ctx, &ossv2.PutObjectRequest{
		Bucket: ossv2.Ptr(bucket), Key: ossv2.Ptr("ours"), Body: bytes.NewReader(encryptAll(t, c, plain)), Metadata: c.Envelope().Metadata(),
	}); err != nil {
		t.Fatal(err)
	}
	for _, rc := range [][2]int64{{0, -1}, {1, 1}, {15, 16}, {17, 4095}, {4096, -1}, {20000, 20010}, {19999, -1}} {
		req := &ossv2.GetObjectRequest{Bucket: ossv2.Ptr(bucket), Key: ossv2.Ptr("ours")}
		if rc != [2]int64{0, -1} {
			r := fmt.Sprintf("bytes=%d-", rc[0])
			if rc[1] >= 0 {
				r += fmt.Sprint(rc[1])
			}
			req.Range = ossv2.Ptr(r)
		}
		res, err := ec.GetObject(ctx, req)
		if err != nil {
			t.Fatalf("range %v: %v", rc, err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || !bytes.Equal(got, wantRange(plain, rc[0], rc[1])) {
			t.Fatalf("range %v: the v2 SDK read wrong plaintext (%d bytes, %v)", rc, len(got), err)
		}
	}

	// v2 → ours.
	if _, err := ec.PutObject(ctx, &ossv2.PutObjectRequest{Bucket: ossv2.Ptr(bucket), Key: ossv2.Ptr("v2"), Body: bytes.NewReader(plain)}); err != nil {
		t.Fatal(err)
	}
	res := &crypto.MasterKeyResolver{Default: key}
	for _, rc := range [][2]int64{{0, -1}, {3, 3}, {16, 31}, {4097, 12000}, {20010, -1}} {
		got, err := ourGet(t, plainBucket, "v2", res, rc[0], rc[1])
		if err != nil || !bytes.Equal(got, wantRange(plain, rc[0], rc[1])) {
			t.Fatalf("range %v of the v2 SDK's object: %v", rc, err)
		}
	}
}
