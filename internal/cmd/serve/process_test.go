package serve_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
)

// These tests run the real ossctl binary: crash safety can only be shown by
// killing a real process.

const (
	testAK = "LTAItestcrashkey0001"
	testSK = "testcrashsecret0000000000000001"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// ossctlBinary builds ./cmd/ossctl once per test binary run.
func ossctlBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ossctl-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ossctl")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/ossctl/ossctl/cmd/ossctl")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// serveProc is a running `ossctl serve`.
type serveProc struct {
	cmd      *exec.Cmd
	endpoint string
	stderr   *syncBuffer
	done     chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listenRE = regexp.MustCompile(`listening on (http://[0-9.:]+)`)

// startServe starts serve on a free loopback port over dataDir and waits
// until it listens. env adds variables (KEY=VALUE).
func startServe(t testing.TB, dataDir string, env ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(ossctlBinary(t), "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn")
	cmd.Env = append(os.Environ(), env...)
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(errPipe)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			p.stderr.Write([]byte(line + "\n"))
			if m := listenRE.FindStringSubmatch(line); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		_, _ = io.Copy(p.stderr, errPipe)
		p.done <- cmd.Wait()
	}()
	select {
	case ep := <-found:
		p.endpoint = ep
	case err := <-p.done:
		t.Fatalf("serve exited before listening: %v\nstderr:\n%s", err, p.stderr.String())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("serve did not start within 30s\nstderr:\n%s", p.stderr.String())
	}
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *serveProc) kill(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not die after SIGKILL")
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *serveProc) stop(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM\nstderr:\n%s", err, p.stderr.String())
		}
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatal("serve did not stop within 60s of SIGTERM")
	}
}

func TestServeFirstStartCredentials(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, dir)
	p.stop(t) // the whole banner is in stderr once the process has exited
	first := p.stderr.String()
	if !strings.Contains(first, "Created the root AccessKey pair") {
		t.Fatalf("first start did not announce the new key:\n%s", first)
	}
	credPath := filepath.Join(dir, "root-credentials.json")
	fi, err := os.Stat(credPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode = %#o, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(credPath)
	secret := regexp.MustCompile(`"access_key_secret": "([^"]+)"`).FindSubmatch(data)
	if secret == nil {
		t.Fatalf("no secret in %s", data)
	}
	// stderr is not a terminal here: the secret must not be printed.
	if strings.Contains(first, string(secret[1])) {
		t.Fatal("secret printed to a non-terminal stderr")
	}
	p2 := startServe(t, dir)
	p2.stop(t)
	second := p2.stderr.String()
	if strings.Contains(second, "Created") || strings.Contains(second, string(secret[1])) {
		t.Fatalf("second start re-announced or printed the secret:\n%s", second)
	}
	if !strings.Contains(p2.stderr.String(), "stopped") {
		t.Fatalf("no clean stop message after SIGTERM:\n%s", p2.stderr.String())
	}

	// serve credentials prints exports for eval.
	out, err := exec.Command(ossctlBinary(t), "serve", "credentials", "--data-dir", dir, "--addr", "127.0.0.1:9100").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "export OSS_ACCESS_KEY_SECRET=" + string(secret[1])
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), "export OSS_ENDPOINT=http://127.0.0.1:9100") {
		t.Fatalf("credentials output:\n%s", out)
	}
}

func TestServeRefusesWorldReadableCredentials(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, dir)
	p.stop(t)
	if err := os.Chmod(filepath.Join(dir, "root-credentials.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ossctlBinary(t), "serve", "--addr", "127.0.0.1:0", "--data-dir", dir)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "chmod 600") {
		t.Fatalf("want a refusal naming chmod 600, got err=%v:\n%s", err, out)
	}
}

func TestServeRootKeyFromEnv(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, dir, "OSSCTL_ROOT_ACCESS_KEY_ID="+testAK, "OSSCTL_ROOT_ACCESS_KEY_SECRET="+testSK)
	defer p.stop(t)
	c := newClient(t, p.endpoint)
	if err := c.CreateBucket("envkey-bkt"); err != nil {
		t.Fatalf("root key from env not accepted: %v", err)
	}
	if strings.Contains(p.stderr.String(), testSK) {
		t.Fatal("secret from the environment was printed")
	}
}

// TestServeKMS drives the KMS API of a real serve process with the official
// KMS client on the same endpoint as OSS, and checks that a key survives a
// restart (its material sealed in the data directory).
func TestServeKMS(t *testing.T) {
	dir := t.TempDir()
	env := []string{"OSSCTL_ROOT_ACCESS_KEY_ID=" + testAK, "OSSCTL_ROOT_ACCESS_KEY_SECRET=" + testSK}
	p := startServe(t, dir, env...)
	client := kmsClient(t, p.endpoint)
	created, err := client.CreateKey(kms.CreateCreateKeyRequest())
	if err != nil {
		p.stop(t)
		t.Fatalf("CreateKey through serve: %v", err)
	}
	keyID := created.KeyMetadata.KeyId
	enc := kms.CreateEncryptRequest()
	enc.KeyId = keyID
	enc.Plaintext = "aGVsbG8sIGttcw=="
	out, err := client.Encrypt(enc)
	if err != nil {
		p.stop(t)
		t.Fatalf("Encrypt: %v", err)
	}
	p.stop(t)

	p = startServe(t, dir, env...)
	defer p.stop(t)
	dec := kms.CreateDecryptRequest()
	dec.CiphertextBlob = out.CiphertextBlob
	got, err := kmsClient(t, p.endpoint).Decrypt(dec)
	if err != nil {
		t.Fatalf("Decrypt after restart: %v", err)
	}
	if got.Plaintext != enc.Plaintext || got.KeyId != keyID {
		t.Fatalf("Decrypt = %q under %s, want %q under %s", got.Plaintext, got.KeyId, enc.Plaintext, keyID)
	}
	if fi, err := os.Stat(filepath.Join(dir, "master-keys.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("server master key file: %v, mode %v", err, fi)
	}
}

func kmsClient(t *testing.T, endpoint string) *kms.Client {
	t.Helper()
	c, err := kms.NewClientWithAccessKey("cn-hangzhou", testAK, testSK)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = strings.TrimPrefix(endpoint, "http://")
	return c
}
