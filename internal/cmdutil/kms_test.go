package cmdutil

import (
	"errors"
	"strings"
	"testing"

	"github.com/ossctl/ossctl/internal/config"
)

func resolved(t *testing.T, env map[string]string) *config.Resolved {
	t.Helper()
	env["OSSCTL_OSSUTIL_CONFIG"] = "none"
	r, err := config.Resolve(config.Inputs{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		HomeDir:   t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestKMSEndpoint(t *testing.T) {
	tests := []struct {
		env                map[string]string
		wantDomain, scheme string
		wantErr            string
	}{
		{env: map[string]string{"OSS_ENDPOINT": "http://127.0.0.1:9000"}, wantDomain: "127.0.0.1:9000", scheme: "HTTP"},
		{env: map[string]string{"OSS_ENDPOINT": "127.0.0.1:9000"}, wantDomain: "127.0.0.1:9000", scheme: "HTTP"},
		{env: map[string]string{"OSS_ENDPOINT": "https://oss.example.test"}, wantDomain: "oss.example.test", scheme: "HTTPS"},
		{env: map[string]string{"OSS_ENDPOINT": "oss-cn-hangzhou.aliyuncs.com"}, wantDomain: "", scheme: "HTTPS"},
		{env: map[string]string{"OSS_ENDPOINT": "oss-cn-hangzhou.aliyuncs.com", "OSSCTL_KMS_ENDPOINT": "https://kms-vpc.cn-hangzhou.aliyuncs.com"},
			wantDomain: "kms-vpc.cn-hangzhou.aliyuncs.com", scheme: "HTTPS"},
		{env: map[string]string{}, wantErr: "no KMS endpoint"},
		{env: map[string]string{"OSSCTL_KMS_ENDPOINT": "http://h/path"}, wantErr: "invalid KMS endpoint"},
	}
	for _, tt := range tests {
		d, s, err := kmsEndpoint(resolved(t, tt.env))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: err = %v, want %q", tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil || d != tt.wantDomain || s != tt.scheme {
			t.Errorf("%v: = %q %q %v, want %q %q", tt.env, d, s, err, tt.wantDomain, tt.scheme)
		}
	}
}

func TestNewKMSClient(t *testing.T) {
	c, err := NewKMSClient(resolved(t, map[string]string{"OSS_ENDPOINT": "http://127.0.0.1:9000",
		"OSS_ACCESS_KEY_ID": "ak", "OSS_ACCESS_KEY_SECRET": "sk"}), ClientOptions{UserAgent: "ossctl/test"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Domain != "127.0.0.1:9000" || c.Scheme != "HTTP" || c.Endpoint != "http://127.0.0.1:9000" {
		t.Errorf("client = %+v", c)
	}
	_, err = NewKMSClient(resolved(t, map[string]string{"OSS_ENDPOINT": "http://127.0.0.1:9000"}), ClientOptions{})
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Errorf("no credentials: %v", err)
	}
}
