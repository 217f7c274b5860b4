package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type testEnv struct {
	home string
	vars map[string]string
}

func newTestEnv(t *testing.T) *testEnv {
	e := &testEnv{home: t.TempDir(), vars: map[string]string{}}
	return e
}

func (e *testEnv) inputs(flags map[Key]string) Inputs {
	return Inputs{
		Flags:     flags,
		HomeDir:   e.home,
		LookupEnv: func(k string) (string, bool) { v, ok := e.vars[k]; return v, ok },
	}
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// Fixtures shared with other tests: testdata/config/*.ini at the repository root.
var (
	profileFile = mustRead("profiles.ini")
	ossutilFile = mustRead("ossutilconfig.ini")
)

func mustRead(name string) string {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "config", name))
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestPrecedence walks the layers flag > env > profile > ossutil > default for the endpoint and
// the credential group, checking the source of each value.
func TestPrecedence(t *testing.T) {
	type want struct {
		endpoint, endpointSrc, id, idSrc, token string
	}
	tests := []struct {
		name    string
		profile bool
		ossutil bool
		env     map[string]string
		flags   map[Key]string
		want    want
	}{
		{name: "defaults only", want: want{endpoint: "", endpointSrc: "unset", id: "", idSrc: "unset"}},
		{name: "ossutil", ossutil: true,
			want: want{endpoint: "oss-cn-qingdao.aliyuncs.com", endpointSrc: "ossutil", id: "OSSUTILID", idSrc: "ossutil", token: "ossutil-token-1234"}},
		{name: "profile beats ossutil", ossutil: true, profile: true,
			want: want{endpoint: "http://profile.example:9000", endpointSrc: "profile", id: "PROFILEID", idSrc: "profile"}},
		{name: "env beats profile", ossutil: true, profile: true,
			env:  map[string]string{"OSS_ENDPOINT": "http://env.example", "OSS_ACCESS_KEY_ID": "ENVID", "OSS_ACCESS_KEY_SECRET": "env-secret-1234", "OSS_SESSION_TOKEN": "env-token"},
			want: want{endpoint: "http://env.example", endpointSrc: "env", id: "ENVID", idSrc: "env", token: "env-token"}},
		{name: "OSSCTL_ENDPOINT beats OSS_ENDPOINT", env: map[string]string{"OSS_ENDPOINT": "http://b", "OSSCTL_ENDPOINT": "http://a"},
			want: want{endpoint: "http://a", endpointSrc: "env", idSrc: "unset"}},
		{name: "flag beats env", profile: true,
			env:   map[string]string{"OSS_ENDPOINT": "http://env.example", "OSS_ACCESS_KEY_ID": "ENVID", "OSS_ACCESS_KEY_SECRET": "env-secret-1234"},
			flags: map[Key]string{KeyEndpoint: "http://flag.example", KeyAccessKeyID: "FLAGID", KeyAccessKeySecret: "flag-secret-1234"},
			want:  want{endpoint: "http://flag.example", endpointSrc: "flag", id: "FLAGID", idSrc: "flag"}},
		{name: "token never crosses layers", profile: true, env: map[string]string{"OSS_SESSION_TOKEN": "stray"},
			want: want{endpoint: "http://profile.example:9000", endpointSrc: "profile", id: "PROFILEID", idSrc: "profile", token: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			if tt.profile {
				write(t, filepath.Join(e.home, DefaultFileName), profileFile, 0o600)
			}
			if tt.ossutil {
				write(t, filepath.Join(e.home, OssutilFileName), ossutilFile, 0o600)
			}
			for k, v := range tt.env {
				e.vars[k] = v
			}
			r, err := Resolve(e.inputs(tt.flags))
			if err != nil {
				t.Fatal(err)
			}
			got := want{
				endpoint: r.Endpoint(), endpointSrc: string(r.Get(KeyEndpoint).Source),
				id: r.AccessKeyID(), idSrc: string(r.Get(KeyAccessKeyID).Source), token: r.STSToken(),
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if r.Get(KeyAccessKeySecret).Source != r.Get(KeyAccessKeyID).Source {
				t.Errorf("id and secret from different sources: %v vs %v", r.Get(KeyAccessKeyID), r.Get(KeyAccessKeySecret))
			}
		})
	}
}

func TestDerivedAndDefaults(t *testing.T) {
	e := newTestEnv(t)
	e.vars["OSS_ENDPOINT"] = "https://oss-cn-hangzhou-internal.aliyuncs.com"
	r, err := Resolve(e.inputs(nil))
	if err != nil {
		t.Fatal(err)
	}
	if v := r.Get(KeyRegion); v.Value != "cn-hangzhou" || v.Source != SourceDerived {
		t.Errorf("region = %+v", v)
	}
	if v := r.Get(KeySignVersion); v.Value != SignV4 || v.Source != SourceDefault {
		t.Errorf("sign_version = %+v", v)
	}
	if r.ConnectTimeout().Seconds() != 30 || r.ReadTimeout().Seconds() != 60 || r.PathStyle() {
		t.Errorf("defaults: %v %v %v", r.ConnectTimeout(), r.ReadTimeout(), r.PathStyle())
	}

	e.vars["OSS_ENDPOINT"] = "http://127.0.0.1:9000"
	r, err = Resolve(e.inputs(map[Key]string{KeyReadTimeout: "5", KeyPathStyle: "true"}))
	if err != nil {
		t.Fatal(err)
	}
	if r.SignVersion() != SignV1 || r.Region() != "" || r.ReadTimeout().Seconds() != 5 || !r.PathStyle() {
		t.Errorf("local endpoint: sign=%s region=%q read=%v path=%v", r.SignVersion(), r.Region(), r.ReadTimeout(), r.PathStyle())
	}

	_, err = Resolve(e.inputs(map[Key]string{KeySignVersion: "v4"}))
	if err == nil || !strings.Contains(err.Error(), "needs a region") {
		t.Errorf("v4 without region: %v", err)
	}
	_, err = Resolve(e.inputs(map[Key]string{KeySignVersion: "v3"}))
	if err == nil || !strings.Contains(err.Error(), "--sign-version") {
		t.Errorf("bad sign version: %v", err)
	}
}

func TestCredentialErrors(t *testing.T) {
	e := newTestEnv(t)
	e.vars["OSS_ACCESS_KEY_ID"] = "ONLYID"
	if _, err := Resolve(e.inputs(nil)); err == nil || !strings.Contains(err.Error(), "$OSS_ACCESS_KEY_ID sets access_key_id but not access_key_secret") {
		t.Errorf("half pair: %v", err)
	}
	delete(e.vars, "OSS_ACCESS_KEY_ID")
	if _, err := Resolve(e.inputs(map[Key]string{KeySTSToken: "tok"})); err == nil || !strings.Contains(err.Error(), "--sts-token needs") {
		t.Errorf("token flag alone: %v", err)
	}
	e.vars["OSS_SESSION_TOKEN"] = "stray-token"
	r, err := Resolve(e.inputs(nil))
	if err != nil || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "$OSS_SESSION_TOKEN") {
		t.Errorf("stray token: %v %q", err, r.Warnings)
	}
}

func TestProfileSelection(t *testing.T) {
	e := newTestEnv(t)
	write(t, filepath.Join(e.home, DefaultFileName), profileFile, 0o600)
	e.vars[EnvProfile] = "other"
	r, err := Resolve(e.inputs(nil))
	if err != nil {
		t.Fatal(err)
	}
	if r.Profile != "other" || r.ProfileSource != SourceEnv || r.AccessKeyID() != "OTHERID" || r.Region() != "cn-beijing" {
		t.Errorf("env profile: %+v region=%s", r, r.Region())
	}
	if !strings.Contains(r.Get(KeyEndpoint).Origin, "profile other in ") {
		t.Errorf("origin = %q", r.Get(KeyEndpoint).Origin)
	}
	flag := "default"
	in := e.inputs(nil)
	in.ProfileFlag = &flag
	if r, err = Resolve(in); err != nil || r.Profile != "default" || r.ProfileSource != SourceFlag {
		t.Errorf("flag profile: %v %+v", err, r)
	}
	missing := "nope"
	in.ProfileFlag = &missing
	if _, err = Resolve(in); err == nil || !strings.Contains(err.Error(), `profile "nope" not found`) || !strings.Contains(err.Error(), "default, other") {
		t.Errorf("missing profile: %v", err)
	}
	other := filepath.Join(e.home, "elsewhere.ini")
	e.vars[EnvConfig] = other
	delete(e.vars, EnvProfile)
	r, err = Resolve(e.inputs(nil))
	if err != nil || r.ConfigPath != other || r.ConfigSource != SourceEnv || r.Endpoint() != "" {
		t.Errorf("OSSCTL_CONFIG: %v %+v", err, r)
	}
}

func TestOssutilAliasesAndDisable(t *testing.T) {
	e := newTestEnv(t)
	write(t, filepath.Join(e.home, OssutilFileName), "[Credentials]\nhost = oss-cn-shenzhen.aliyuncs.com\naccess_id = AID\naccess_key = asecret-123\n[Bucket-Endpoint]\nb=x\n", 0o644)
	r, err := Resolve(e.inputs(nil))
	if err != nil {
		t.Fatal(err)
	}
	if r.Endpoint() != "oss-cn-shenzhen.aliyuncs.com" || r.AccessKeyID() != "AID" || r.AccessKeySecret() != "asecret-123" {
		t.Errorf("aliases: %+v", r.All())
	}
	if !strings.HasSuffix(r.Get(KeyAccessKeyID).Origin, ".ossutilconfig [Credentials]") {
		t.Errorf("origin = %q", r.Get(KeyAccessKeyID).Origin)
	}
	e.vars[EnvOssutilConfig] = "none"
	if r, _ = Resolve(e.inputs(nil)); r.HasCredentials() {
		t.Error("ossutil config read although disabled")
	}
}

func TestSaveIsAtomicAndPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "cfg")
	path := filepath.Join(dir, "ossctl.ini")
	f, err := LoadFile(path)
	if err != nil || f.Exists {
		t.Fatalf("load missing: %v %v", f, err)
	}
	if err := f.Set("default", KeyEndpoint, "http://127.0.0.1:9000/"); err != nil {
		t.Fatal(err)
	}
	secret := `se#cr;et"with'quotes`
	if err := f.Set("ci", KeyAccessKeySecret, secret); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	dst, _ := os.Stat(dir)
	if runtime.GOOS != "windows" && (st.Mode().Perm() != 0o600 || dst.Mode().Perm() != 0o700) {
		t.Errorf("modes: file %v dir %v", st.Mode().Perm(), dst.Mode().Perm())
	}

	// A rewrite replaces the file (new inode) and fixes a loose mode.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err = LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && !strings.Contains(f.PermissionWarning(), "chmod 600") {
		t.Errorf("no warning for 0644: %q", f.PermissionWarning())
	}
	if err := f.Set("ci", KeyRegion, "cn-hangzhou"); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(path)
	if os.SameFile(st, st2) {
		t.Error("file rewritten in place, not replaced by rename")
	}
	if st2.Mode().Perm() != 0o600 {
		t.Errorf("mode after rewrite = %v", st2.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("leftover files: %v", entries)
	}

	f, err = LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Get("ci", KeyAccessKeySecret); got != secret {
		t.Errorf("secret round trip = %q, want %q", got, secret)
	}
	if got, _ := f.Get("default", KeyEndpoint); got != "http://127.0.0.1:9000" {
		t.Errorf("endpoint normalised to %q", got)
	}
	if diff := cmp.Diff([]string{"default", "ci"}, f.Profiles()); diff != "" {
		t.Errorf("profiles (-want +got):\n%s", diff)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "[profile ci]") {
		t.Errorf("file layout:\n%s", data)
	}
}

func TestSetValidates(t *testing.T) {
	f, _ := LoadFile(filepath.Join(t.TempDir(), "x"))
	for _, tc := range []struct {
		profile string
		key     Key
		value   string
		wantErr string
	}{
		{"default", "colour", "red", "unknown setting"},
		{"default", KeySignVersion, "v2", "must be v1 or v4"},
		{"default", KeyPathStyle, "maybe", "true or false"},
		{"default", KeyReadTimeout, "soon", "not a duration"},
		{"default", KeyEndpoint, "ftp://x", "http or https"},
		{"default", KeyAccessKeyID, "has space", "spaces"},
		{"bad name!", KeyRegion, "x", "invalid profile name"},
	} {
		if err := f.Set(tc.profile, tc.key, tc.value); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Set(%s,%s,%q) = %v, want %q", tc.profile, tc.key, tc.value, err, tc.wantErr)
		}
	}
}

func TestMaskAndRegion(t *testing.T) {
	for in, want := range map[string]string{"": "", "short": "****", "LTAI5tABCDEFG": "LTAI****", "ünïcödé-secret": "ünïc****"} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"oss-cn-hangzhou.aliyuncs.com":                 "cn-hangzhou",
		"https://oss-ap-southeast-1.aliyuncs.com/":     "ap-southeast-1",
		"http://oss-cn-beijing-internal.aliyuncs.com":  "cn-beijing",
		"http://127.0.0.1:9000":                        "",
		"oss-accelerate.aliyuncs.com":                  "",
		"https://bucket.oss-cn-hangzhou.aliyuncs.com":  "",
		"https://oss-cn-hangzhou.aliyuncs.com.evil.io": "",
	} {
		if got := RegionFromEndpoint(in); got != want {
			t.Errorf("RegionFromEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
}
