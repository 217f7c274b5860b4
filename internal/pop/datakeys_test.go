package pop

import (
	"bytes"
	"errors"
	"net/http"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
)

func wantPopErr(t *testing.T, err error, status int, code string) {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) || pe.Status != status || pe.Code != code {
		t.Fatalf("error = %v, want %d %s", err, status, code)
	}
}

func TestDataKeyGoAPI(t *testing.T) {
	e := newEnv(t)
	ctx := map[string]string{"object": "abc"}

	def, err := e.h.DefaultKey()
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.h.DefaultKey()
	if err != nil || again != def {
		t.Fatalf("second DefaultKey = %q, %v; want %q", again, err, def)
	}
	dk, err := e.h.GenerateDataKey(DefaultOSSKeyAlias, 32, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dk.KeyID != def || len(dk.Plaintext) != 32 {
		t.Fatalf("data key = %s, %d bytes", dk.KeyID, len(dk.Plaintext))
	}
	pt, kid, err := e.h.DecryptDataKey(dk.CiphertextBlob, ctx)
	if err != nil || kid != def || !bytes.Equal(pt, dk.Plaintext) {
		t.Fatalf("DecryptDataKey = %x, %s, %v", pt, kid, err)
	}
	_, _, err = e.h.DecryptDataKey(dk.CiphertextBlob, map[string]string{"object": "other"})
	wantPopErr(t, err, http.StatusBadRequest, CodeInvalidParameter)

	// The alias is visible through the API like any other.
	req := kms.CreateListAliasesRequest()
	resp, err := e.client.ListAliases(req)
	if err != nil || len(resp.Aliases.Alias) != 1 || resp.Aliases.Alias[0].AliasName != DefaultOSSKeyAlias {
		t.Fatalf("ListAliases = %+v, %v", resp, err)
	}

	_, err = e.h.GenerateDataKey("00000000-0000-4000-8000-000000000000", 32, nil)
	wantPopErr(t, err, http.StatusNotFound, CodeKeyNotFound)

	dis := kms.CreateDisableKeyRequest()
	dis.KeyId = def
	if _, err := e.client.DisableKey(dis); err != nil {
		t.Fatal(err)
	}
	_, err = e.h.GenerateDataKey(def, 32, nil)
	wantPopErr(t, err, http.StatusConflict, CodeRejectedDisabled)
	_, _, err = e.h.DecryptDataKey(dk.CiphertextBlob, ctx)
	wantPopErr(t, err, http.StatusConflict, CodeRejectedDisabled)
}

func TestRewrapMaterial(t *testing.T) {
	e := newEnv(t)
	def, err := e.h.DefaultKey()
	if err != nil {
		t.Fatal(err)
	}
	dk, err := e.h.GenerateDataKey(def, 32, nil)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := e.keys.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.h.RewrapMaterial()
	if err != nil || n != 1 {
		t.Fatalf("RewrapMaterial = %d, %v", n, err)
	}
	if err := e.keys.Retire(1); err != nil {
		t.Fatal(err)
	}
	pt, _, err := e.h.DecryptDataKey(dk.CiphertextBlob, nil)
	if err != nil || !bytes.Equal(pt, dk.Plaintext) {
		t.Fatalf("after rewrap and retiring version 1 (primary %d): %v", v2, err)
	}
}
