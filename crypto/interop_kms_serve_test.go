package crypto_test

import (
	"bytes"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	kmssdk "github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	osscrypto "github.com/aliyun/aliyun-oss-go-sdk/oss/crypto"

	"github.com/ossctl/ossctl/crypto"
	"github.com/ossctl/ossctl/crypto/kms"
	"github.com/ossctl/ossctl/internal/server/servertest"
)

// TestInteropSDKKMSCipherThroughServe runs the official SDK's own
// MasterAliKmsCipher (which always speaks HTTPS) against the built-in KMS
// of the bundled server, served over TLS, and this library's KMS master
// key against the same CMK: each side decrypts what the other wrote,
// through real OSS objects.
func TestInteropSDKKMSCipherThroughServe(t *testing.T) {
	srv := servertest.Start(t)
	tlsKMS := httptest.NewTLSServer(srv.Server)
	t.Cleanup(tlsKMS.Close)
	kc, err := kmssdk.NewClientWithAccessKey(srv.Region, srv.AccessKeyID, srv.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	kc.Domain = strings.TrimPrefix(tlsKMS.URL, "https://")
	kc.SetHTTPSInsecure(true) // the test server's self-signed certificate
	kc.GetConfig().WithScheme("HTTPS")
	cmk, err := kc.CreateKey(kmssdk.CreateCreateKeyRequest())
	if err != nil {
		t.Fatal(err)
	}
	keyID := cmk.KeyMetadata.KeyId

	client, err := oss.New(srv.Endpoint, srv.AccessKeyID, srv.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	const bucket = "kms-interop"
	if err := client.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	plainBucket, err := client.Bucket(bucket)
	if err != nil {
		t.Fatal(err)
	}
	md := map[string]string{"kms": "serve"}
	sdkMaster, err := osscrypto.CreateMasterAliKms(md, keyID, kc)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := osscrypto.GetCryptoBucket(client, bucket, osscrypto.CreateAesCtrCipher(sdkMaster))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := kms.New(kc, keyID, &kms.Options{MatDesc: md})
	if err != nil {
		t.Fatal(err)
	}
	res := &crypto.MasterKeyResolver{Default: ours}

	// Ours → SDK.
	plain := payload(200_001)
	c, err := crypto.NewContent(ours, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := plainBucket.PutObject("ours", bytes.NewReader(encryptAll(t, c, plain)), metaOptions(c.Envelope())...); err != nil {
		t.Fatal(err)
	}
	if c.Envelope().WrapAlg != osscrypto.KmsAliCryptoWrap {
		t.Fatalf("wrap algorithm %q", c.Envelope().WrapAlg)
	}
	r, err := cb.GetObject("ours")
	if err != nil {
		t.Fatalf("SDK GetObject of our KMS object: %v", err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("the SDK decrypted %d different bytes (%v)", len(got), err)
	}

	// SDK → ours, whole and ranged.
	sdkPlain := payload(150_007)
	if err := cb.PutObject("sdk", bytes.NewReader(sdkPlain)); err != nil {
		t.Fatal(err)
	}
	for _, rg := range [][2]int64{{0, -1}, {17, 65_553}, {150_000, -1}} {
		got, err := ourGet(t, plainBucket, "sdk", res, rg[0], rg[1])
		if err != nil || !bytes.Equal(got, wantRange(sdkPlain, rg[0], rg[1])) {
			t.Fatalf("our read of the SDK's KMS object, range %v: %v", rg, err)
		}
	}

	// A disabled CMK stops both readers.
	dis := kmssdk.CreateDisableKeyRequest()
	dis.KeyId = keyID
	if _, err := kc.DisableKey(dis); err != nil {
		t.Fatal(err)
	}
	if _, err := ourGet(t, plainBucket, "sdk", res, 0, -1); err == nil || !strings.Contains(err.Error(), "Rejected.Disabled") {
		t.Fatalf("read under a disabled CMK: %v", err)
	}
	if r, err := cb.GetObject("ours"); err == nil {
		r.Close()
		t.Fatal("the SDK read an object whose CMK is disabled")
	}
}
