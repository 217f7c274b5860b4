package auth

import (
	"context"
	"net/http"
	"testing"
	"time"

	v2oss "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	v2creds "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/signer"
)

func benchRequest(b *testing.B, s signer.Signer, query bool) (*http.Request, time.Time) {
	b.Helper()
	now := time.Now()
	req, _ := http.NewRequest("PUT", "http://127.0.0.1:9000/bkt1/dir/object%20name.txt?partNumber=3&uploadId=0004B9894A22E5B1888A1E29F823", nil)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Oss-Meta-Owner", "alice")
	req.Header.Set("User-Agent", "bench")
	sc := &signer.SigningContext{
		Product: v2oss.Ptr("oss"), Region: v2oss.Ptr(testRegion), Bucket: v2oss.Ptr(sampleBucket), Key: v2oss.Ptr("dir/object name.txt"),
		Request: req, Credentials: &v2creds.Credentials{AccessKeyID: rootAK, AccessKeySecret: rootSecret}, AuthMethodQuery: query,
	}
	if query {
		sc.Time = now.Add(time.Hour)
	}
	if err := s.Sign(context.Background(), sc); err != nil {
		b.Fatal(err)
	}
	if _, err := Verify(req, sampleBucket, "dir/object name.txt", now, testLookup); err != nil {
		b.Fatal(err)
	}
	return req, now
}

func benchVerify(b *testing.B, s signer.Signer, query bool) {
	req, now := benchRequest(b, s, query)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(req, sampleBucket, "dir/object name.txt", now, testLookup); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyV1Header(b *testing.B)  { benchVerify(b, &signer.SignerV1{}, false) }
func BenchmarkVerifyV4Header(b *testing.B)  { benchVerify(b, &signer.SignerV4{}, false) }
func BenchmarkVerifyV1Presign(b *testing.B) { benchVerify(b, &signer.SignerV1{}, true) }
func BenchmarkVerifyV4Presign(b *testing.B) { benchVerify(b, &signer.SignerV4{}, true) }

func BenchmarkVerifyAnonymous(b *testing.B) {
	req, _ := http.NewRequest("GET", "http://127.0.0.1:9000/bkt1/obj?prefix=a&max-keys=10", nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(req, sampleBucket, "obj", time.Now(), testLookup); err != nil {
			b.Fatal(err)
		}
	}
}
