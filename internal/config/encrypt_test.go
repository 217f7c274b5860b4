package config

import "testing"

func TestEncryptionSettings(t *testing.T) {
	for in, want := range map[string]string{"kms:alias/x": "kms:alias/x", "key:laptop": "key:laptop", "NONE": "none", "": ""} {
		got, err := Normalize(KeyEncrypt, in)
		if err != nil || got != want {
			t.Errorf("Normalize(encrypt, %q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"kms:", "rsa:x", "alias/x", "key:a b"} {
		if _, err := Normalize(KeyEncrypt, bad); err == nil {
			t.Errorf("Normalize(encrypt, %q) accepted", bad)
		}
	}
	if got, err := Normalize(KeyKeyring, " ~/my keys/ring.json "); err != nil || got != "~/my keys/ring.json" {
		t.Errorf("keyring path = %q, %v", got, err)
	}
	if _, err := Normalize(KeyKeyring, "a\x00b"); err == nil {
		t.Error("control character accepted in keyring path")
	}
	if got, err := Normalize(KeyKMSEndpoint, "http://127.0.0.1:9000/"); err != nil || got != "http://127.0.0.1:9000" {
		t.Errorf("kms endpoint = %q, %v", got, err)
	}
}
