package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/server/servertest"
)

// harness runs ossctl in-process against an isolated home directory and environment.
type harness struct {
	t    *testing.T
	home string
	env  map[string]string
	srv  *servertest.Env
}

func newHarness(t *testing.T, withServer bool) *harness {
	t.Helper()
	h := &harness{t: t, home: t.TempDir(), env: map[string]string{}}
	if withServer {
		h.srv = servertest.Start(t)
		h.env["OSS_ENDPOINT"] = h.srv.Endpoint
		h.env["OSS_ACCESS_KEY_ID"] = h.srv.AccessKeyID
		h.env["OSS_ACCESS_KEY_SECRET"] = h.srv.AccessKeySecret
	}
	return h
}

type result struct {
	code           int
	stdout, stderr string
}

func (h *harness) run(args ...string) result {
	h.t.Helper()
	return h.runCtx(context.Background(), false, args...)
}

func (h *harness) runTTY(args ...string) result {
	h.t.Helper()
	return h.runCtx(context.Background(), true, args...)
}

func (h *harness) runCtx(ctx context.Context, tty bool, args ...string) result {
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdoutTTY(tty)
	env := cmdutil.Env{
		LookupEnv: func(k string) (string, bool) { v, ok := h.env[k]; return v, ok },
		HomeDir:   func() (string, error) { return h.home, nil },
	}
	code := Run(ctx, args, ios, env)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

func expectCode(t *testing.T, r result, want int) {
	t.Helper()
	if r.code != want {
		t.Fatalf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
	}
}

func TestBucketLifecycleEndToEnd(t *testing.T) {
	h := newHarness(t, true)
	expectCode(t, h.run("mb", "oss://bkt1"), ExitOK)
	r := h.runTTY("mb", "oss://bkt2", "--acl", "public-read")
	expectCode(t, r, ExitOK)
	if !strings.Contains(r.stdout, "Created bucket oss://bkt2") {
		t.Errorf("TTY mb should print a status line, got %q", r.stdout)
	}
	if r := h.run("mb", "oss://bkt3"); r.stdout != "" {
		t.Errorf("piped mb should print nothing, got %q", r.stdout)
	}

	r = h.run("ls")
	expectCode(t, r, ExitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("ls printed %d lines, want 3:\n%s", len(lines), r.stdout)
	}
	for i, want := range []string{"oss://bkt1", "oss://bkt2", "oss://bkt3"} {
		cols := strings.Split(lines[i], "\t")
		if len(cols) != 4 || cols[3] != want {
			t.Errorf("line %d = %q, want 4 tab-separated columns ending in %s", i, lines[i], want)
		}
	}

	r = h.run("stat", "oss://bkt2", "-o", "json")
	expectCode(t, r, ExitOK)
	var info struct {
		Bucket string `json:"bucket"`
		ACL    string `json:"acl"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("stat JSON: %v\n%s", err, r.stdout)
	}
	if info.Bucket != "bkt2" || info.ACL != "public-read" {
		t.Errorf("stat = %+v, want bkt2/public-read", info)
	}

	expectCode(t, h.run("rb", "oss://bkt3"), ExitOK)
	r = h.run("ls", "--json")
	if n := strings.Count(r.stdout, "\n"); n != 2 {
		t.Errorf("after rb, ls --json printed %d lines, want 2:\n%s", n, r.stdout)
	}
}

func TestExitCodesAndErrorReports(t *testing.T) {
	h := newHarness(t, true)
	r := h.run("ls", "oss://no-such-bucket")
	expectCode(t, r, ExitNotFound)
	for _, want := range []string{"ossctl: listing oss://no-such-bucket: ", "code:       NoSuchBucket", "status:     404", "request id: "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "service returned error") {
		t.Errorf("stderr shows the SDK's raw error text:\n%s", r.stderr)
	}

	r = h.run("ls", "oss://no-such-bucket", "--json")
	expectCode(t, r, ExitNotFound)
	var env ErrorEnvelope
	if err := json.Unmarshal([]byte(r.stdout), &env); err != nil {
		t.Fatalf("JSON error: %v\n%q", err, r.stdout)
	}
	if env.Error.Code != "NoSuchBucket" || env.Error.Status != 404 || env.Error.ExitCode != 3 || env.Error.RequestID == "" {
		t.Errorf("JSON error = %+v", env.Error)
	}
	if r.stderr != "" {
		t.Errorf("JSON mode wrote to stderr: %q", r.stderr)
	}

	expectCode(t, h.run("stat", "oss://no-such-bucket/key"), ExitNotFound)
	expectCode(t, h.run("mb", "oss://bkt1"), ExitOK)
	expectCode(t, h.run("stat", "oss://bkt1/missing"), ExitNotFound)

	// Usage errors.
	r = h.run("ls", "--nope")
	expectCode(t, r, ExitUsage)
	if !strings.Contains(r.stderr, "Usage: ossctl ls") {
		t.Errorf("usage error without usage line:\n%s", r.stderr)
	}
	expectCode(t, h.run("frobnicate"), ExitUsage)
	expectCode(t, h.run("mb", "oss://UPPER"), ExitUsage)
	expectCode(t, h.run("mb"), ExitUsage)
	expectCode(t, h.run("ls", "-r", "-d", "oss://bkt1"), ExitUsage)
	expectCode(t, h.run("ls", "--json", "-o", "text"), ExitUsage)

	// Authentication errors.
	h.env["OSS_ACCESS_KEY_SECRET"] = "wrong-secret-value"
	r = h.run("ls")
	expectCode(t, r, ExitAuth)
	if !strings.Contains(r.stderr, "SignatureDoesNotMatch") {
		t.Errorf("stderr lacks the OSS code:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "wrong-secret-value") {
		t.Errorf("the secret leaked into stderr:\n%s", r.stderr)
	}
	h.env["OSS_ACCESS_KEY_ID"] = "LTAIunknown"
	expectCode(t, h.run("ls"), ExitAuth)

	// No credentials at all.
	delete(h.env, "OSS_ACCESS_KEY_ID")
	delete(h.env, "OSS_ACCESS_KEY_SECRET")
	h.env["OSSCTL_OSSUTIL_CONFIG"] = "none"
	r = h.run("ls")
	expectCode(t, r, ExitAuth)
	if !strings.Contains(r.stderr, "hint: run `ossctl config`") {
		t.Errorf("no hint for missing credentials:\n%s", r.stderr)
	}
}

func TestNetworkErrorExitCode(t *testing.T) {
	h := newHarness(t, true)
	endpoint := h.srv.Endpoint
	h.srv.Close()
	h.env["OSS_ENDPOINT"] = endpoint
	r := h.run("ls", "--connect-timeout", "2s")
	expectCode(t, r, ExitNetwork)
}

func TestInterruptedExitCode(t *testing.T) {
	h := newHarness(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := h.runCtx(ctx, false, "ls")
	expectCode(t, r, ExitInterrupted)
}

func TestDebugRedactsSecrets(t *testing.T) {
	h := newHarness(t, true)
	h.env["OSS_SESSION_TOKEN"] = "sts-token-should-not-leak"
	r := h.run("ls", "--debug")
	// The server rejects the unknown token; what matters is the log.
	if !strings.Contains(r.stderr, "http request") || !strings.Contains(r.stderr, "req.authorization") {
		t.Fatalf("no request log under --debug:\n%s", r.stderr)
	}
	for _, secret := range []string{h.srv.AccessKeySecret, "sts-token-should-not-leak"} {
		if strings.Contains(r.stderr, secret) || strings.Contains(r.stdout, secret) {
			t.Errorf("secret %q leaked:\n%s", secret, r.stderr)
		}
	}
	if !strings.Contains(r.stderr, cmdutil.Redacted) {
		t.Errorf("nothing marked redacted:\n%s", r.stderr)
	}
	if r := h.run("ls"); strings.Contains(r.stderr, "http request") {
		t.Errorf("request log without --debug:\n%s", r.stderr)
	}
}

func TestVersionAndCompletion(t *testing.T) {
	h := newHarness(t, false)
	r := h.run("version", "--json")
	expectCode(t, r, ExitOK)
	var v map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v["version"] == "" || v["goVersion"] == nil {
		t.Fatalf("version JSON = %q (%v)", r.stdout, err)
	}
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		r := h.run("completion", sh)
		expectCode(t, r, ExitOK)
		if !strings.Contains(r.stdout, "ossctl") || len(r.stdout) < 500 {
			t.Errorf("%s completion looks wrong: %d bytes", sh, len(r.stdout))
		}
	}
	expectCode(t, h.run("completion", "tcsh"), ExitUsage)
}
