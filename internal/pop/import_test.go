package pop

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
)

// wrapMaterial encrypts material with the PublicKey GetParametersForImport
// returned, the way a KMS user does with openssl or an SDK.
func wrapMaterial(t *testing.T, publicKeyB64, alg string, material []byte) string {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(publicKeyB64)
	if err != nil {
		t.Fatalf("PublicKey is not base64: %v", err)
	}
	pk, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatalf("PublicKey is not a PKIX key: %v", err)
	}
	pub, ok := pk.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() != 2048 {
		t.Fatalf("PublicKey is %T", pk)
	}
	var ct []byte
	switch alg {
	case WrapRSAOAEPSHA256:
		ct, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, material, nil)
	case WrapRSAOAEPSHA1:
		ct, err = rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, material, nil)
	case WrapRSAPKCS1v15:
		ct, err = rsa.EncryptPKCS1v15(rand.Reader, pub, material) //nolint:staticcheck // documented KMS algorithm
	}
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(ct)
}

func (e *env) importParams(keyID, alg string) *kms.GetParametersForImportResponse {
	e.t.Helper()
	req := kms.CreateGetParametersForImportRequest()
	req.KeyId, req.WrappingAlgorithm, req.WrappingKeySpec = keyID, alg, "RSA_2048"
	resp, err := e.client.GetParametersForImport(req)
	if err != nil {
		e.t.Fatalf("GetParametersForImport: %v", err)
	}
	return resp
}

func (e *env) importMaterial(keyID, token, wrapped string, expire int64) error {
	req := kms.CreateImportKeyMaterialRequest()
	req.KeyId, req.ImportToken, req.EncryptedKeyMaterial = keyID, token, wrapped
	if expire != 0 {
		req.KeyMaterialExpireUnix = requests.NewInteger64(expire)
	}
	_, err := e.client.ImportKeyMaterial(req)
	return err
}

// openOffline decrypts a CiphertextBlob with known key material, proving
// the server really encrypted under the imported material.
func openOffline(t *testing.T, material []byte, blobB64 string) []byte {
	t.Helper()
	b, err := parseBlob(blobB64)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(material)
	gcm, _ := cipher.NewGCM(block)
	pt, err := gcm.Open(nil, b.nonce, b.sealed, b.header)
	if err != nil {
		t.Fatalf("offline decrypt: %v", err)
	}
	return pt
}

func TestImportKeyMaterial(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, alg := range []string{WrapRSAOAEPSHA256, WrapRSAOAEPSHA1, WrapRSAPKCS1v15} {
		t.Run(alg, func(t *testing.T) {
			id := e.createKey(func(r *kms.CreateKeyRequest) { r.Origin = "EXTERNAL" })
			md := must[*kms.DescribeKeyResponse](t)(e.describe(id)).KeyMetadata
			if md.KeyState != StatePendingImport || md.Origin != "EXTERNAL" || md.PrimaryKeyVersion != "" {
				t.Fatalf("new EXTERNAL key: %+v", md)
			}
			_, err := e.encrypt(id, "x", "")
			wantErr(t, err, http.StatusConflict, CodeRejectedPendingImport)

			params := e.importParams(id, alg)
			exp, err := time.Parse("2006-01-02T15:04:05Z", params.TokenExpireTime)
			if err != nil || params.KeyId != id || params.ImportToken == "" || exp.Before(e.clock.Now().Add(23*time.Hour)) {
				t.Fatalf("GetParametersForImport = %+v", params)
			}
			material := make([]byte, 32)
			_, _ = rand.Read(material)
			if err := e.importMaterial(id, params.ImportToken, wrapMaterial(t, params.PublicKey, alg, material), 0); err != nil {
				t.Fatalf("ImportKeyMaterial: %v", err)
			}
			md = must[*kms.DescribeKeyResponse](t)(e.describe(id)).KeyMetadata
			if md.KeyState != StateEnabled || md.PrimaryKeyVersion == "" || md.MaterialExpireTime != "" {
				t.Fatalf("after import: %+v", md)
			}
			enc := must[*kms.EncryptResponse](t)(e.encrypt(id, "byok plaintext", ""))
			if got := openOffline(t, material, enc.CiphertextBlob); string(got) != "byok plaintext" {
				t.Fatalf("offline decrypt = %q", got)
			}
			if dec := must[*kms.DecryptResponse](t)(e.decrypt(enc.CiphertextBlob, "")); dec.Plaintext != "byok plaintext" {
				t.Fatalf("Decrypt = %q", dec.Plaintext)
			}
		})
	}
}

func TestImportErrorsAndExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createKey(func(r *kms.CreateKeyRequest) { r.Origin = "EXTERNAL" })
	native := e.createKey(nil)

	// Parameter checks.
	req := kms.CreateGetParametersForImportRequest()
	req.KeyId, req.WrappingAlgorithm = id, WrapRSAOAEPSHA256
	_, err := e.client.GetParametersForImport(req)
	wantErr(t, err, http.StatusBadRequest, CodeMissingParameter)
	req.WrappingKeySpec, req.WrappingAlgorithm = "RSA_2048", "RSAES_OAEP_SHA_512"
	_, err = e.client.GetParametersForImport(req)
	wantErr(t, err, http.StatusBadRequest, CodeInvalidParameter)
	req = kms.CreateGetParametersForImportRequest()
	req.KeyId, req.WrappingAlgorithm, req.WrappingKeySpec = id, WrapRSAOAEPSHA256, "EC_P256"
	_, err = e.client.GetParametersForImport(req)
	wantErr(t, err, http.StatusBadRequest, CodeInvalidParameter)
	req = kms.CreateGetParametersForImportRequest()
	req.KeyId, req.WrappingAlgorithm, req.WrappingKeySpec = native, WrapRSAOAEPSHA256, "RSA_2048"
	_, err = e.client.GetParametersForImport(req)
	wantErr(t, err, http.StatusBadRequest, CodeUnsupportedOperation)

	// Enable/Disable refuse a key without material.
	en := kms.CreateEnableKeyRequest()
	en.KeyId = id
	_, err = e.client.EnableKey(en)
	wantErr(t, err, http.StatusConflict, CodeStateModifiedFailed)

	params := e.importParams(id, WrapRSAOAEPSHA256)
	material := bytes.Repeat([]byte{0x5a}, 32)
	wrapped := wrapMaterial(t, params.PublicKey, WrapRSAOAEPSHA256, material)

	wantErr(t, e.importMaterial(id, "bogus-token", wrapped, 0), http.StatusBadRequest, CodeInvalidParameter)
	wantErr(t, e.importMaterial(id, params.ImportToken, "!!notbase64", 0), http.StatusBadRequest, CodeInvalidParameter)
	wantErr(t, e.importMaterial(id, params.ImportToken, base64.StdEncoding.EncodeToString([]byte("garbage")), 0), http.StatusBadRequest, CodeInvalidParameter)
	wantErr(t, e.importMaterial(id, params.ImportToken, wrapMaterial(t, params.PublicKey, WrapRSAOAEPSHA256, material[:16]), 0), http.StatusBadRequest, CodeInvalidParameter)
	// Wrapped with the wrong algorithm for the token.
	wantErr(t, e.importMaterial(id, params.ImportToken, wrapMaterial(t, params.PublicKey, WrapRSAOAEPSHA1, material), 0), http.StatusBadRequest, CodeInvalidParameter)
	wantErr(t, e.importMaterial(id, params.ImportToken, wrapped, e.clock.Now().Add(-time.Hour).Unix()), http.StatusBadRequest, CodeInvalidParameter)
	wantErr(t, e.importMaterial(native, params.ImportToken, wrapped, 0), http.StatusBadRequest, CodeUnsupportedOperation)
	wantErr(t, e.importMaterial(id, "", wrapped, 0), http.StatusBadRequest, CodeMissingParameter)

	// Import with an expiry in one hour.
	expire := e.clock.Now().Add(time.Hour).Unix()
	if err := e.importMaterial(id, params.ImportToken, wrapped, expire); err != nil {
		t.Fatal(err)
	}
	md := must[*kms.DescribeKeyResponse](t)(e.describe(id)).KeyMetadata
	if md.KeyState != StateEnabled || md.MaterialExpireTime != time.Unix(expire, 0).UTC().Format("2006-01-02T15:04:05Z") {
		t.Fatalf("after import: %+v", md)
	}
	// The token is spent.
	wantErr(t, e.importMaterial(id, params.ImportToken, wrapped, 0), http.StatusBadRequest, CodeInvalidParameter)
	enc := must[*kms.EncryptResponse](t)(e.encrypt(id, "expiring", ""))
	cv := kms.CreateCreateKeyVersionRequest()
	cv.KeyId = id
	_, err = e.client.CreateKeyVersion(cv)
	wantErr(t, err, http.StatusBadRequest, CodeUnsupportedOperation)

	// Material expires: the key reads PendingImport and refuses crypto.
	e.clock.Advance(2 * time.Hour)
	if s := must[*kms.DescribeKeyResponse](t)(e.describe(id)).KeyMetadata.KeyState; s != StatePendingImport {
		t.Fatalf("after expiry: %s", s)
	}
	_, err = e.decrypt(enc.CiphertextBlob, "")
	wantErr(t, err, http.StatusConflict, CodeRejectedPendingImport)

	// Re-import must bring the same material; then old blobs decrypt again.
	p2 := e.importParams(id, WrapRSAPKCS1v15)
	other := bytes.Repeat([]byte{0x11}, 32)
	wantErr(t, e.importMaterial(id, p2.ImportToken, wrapMaterial(t, p2.PublicKey, WrapRSAPKCS1v15, other), 0), http.StatusBadRequest, CodeInvalidParameter)
	if err := e.importMaterial(id, p2.ImportToken, wrapMaterial(t, p2.PublicKey, WrapRSAPKCS1v15, material), 0); err != nil {
		t.Fatal(err)
	}
	if dec := must[*kms.DecryptResponse](t)(e.decrypt(enc.CiphertextBlob, "")); dec.Plaintext != "expiring" {
		t.Fatalf("after re-import: %q", dec.Plaintext)
	}

	// Tokens expire after 24 hours.
	p3 := e.importParams(id, WrapRSAOAEPSHA256)
	e.clock.Advance(25 * time.Hour)
	wantErr(t, e.importMaterial(id, p3.ImportToken, wrapMaterial(t, p3.PublicKey, WrapRSAOAEPSHA256, material), 0), http.StatusBadRequest, CodeInvalidParameter)

	// A key pending deletion refuses imports; cancelling returns it to Enabled.
	sd := kms.CreateScheduleKeyDeletionRequest()
	sd.KeyId, sd.PendingWindowInDays = id, "7"
	must[*kms.ScheduleKeyDeletionResponse](t)(e.client.ScheduleKeyDeletion(sd))
	req = kms.CreateGetParametersForImportRequest()
	req.KeyId, req.WrappingAlgorithm, req.WrappingKeySpec = id, WrapRSAOAEPSHA256, "RSA_2048"
	_, err = e.client.GetParametersForImport(req)
	wantErr(t, err, http.StatusConflict, CodeRejectedPendingDelete)
	ck := kms.CreateCancelKeyDeletionRequest()
	ck.KeyId = id
	must[*kms.CancelKeyDeletionResponse](t)(e.client.CancelKeyDeletion(ck))
	if s := must[*kms.DescribeKeyResponse](t)(e.describe(id)).KeyMetadata.KeyState; s != StateEnabled {
		t.Fatalf("after cancel: %s", s)
	}

	// Cancelling the deletion of a never-imported key returns it to PendingImport.
	fresh := e.createKey(func(r *kms.CreateKeyRequest) { r.Origin = "EXTERNAL" })
	sd.KeyId = fresh
	must[*kms.ScheduleKeyDeletionResponse](t)(e.client.ScheduleKeyDeletion(sd))
	ck.KeyId = fresh
	must[*kms.CancelKeyDeletionResponse](t)(e.client.CancelKeyDeletion(ck))
	if s := must[*kms.DescribeKeyResponse](t)(e.describe(fresh)).KeyMetadata.KeyState; s != StatePendingImport {
		t.Fatalf("never-imported key after cancel: %s", s)
	}
}
