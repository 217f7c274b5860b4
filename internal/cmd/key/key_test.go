package key

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/shlex"

	"github.com/ossctl/ossctl/crypto/keyring"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/cmdutil/cmdutiltest"
	"github.com/ossctl/ossctl/internal/cse"
)

func TestMain(m *testing.M) {
	defaultKDF = keyring.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}
	os.Exit(m.Run())
}

type harness struct {
	t       *testing.T
	path    string
	env     map[string]string
	now     time.Time
	lastErr string
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, path: filepath.Join(t.TempDir(), "sub", "keyring.json"),
		env: map[string]string{cse.EnvPassphrase: "correct horse"}, now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
}

// run executes `key ARGS --keyring PATH` and returns stdout.
func (h *harness) run(json bool, stdin, args string) (string, error) {
	h.t.Helper()
	f, s := cmdutiltest.New(h.t, cmdutiltest.Options{Env: h.env, JSON: json, Now: func() time.Time { return h.now }})
	s.In.WriteString(stdin)
	cmd := NewCmdKey(f)
	a, err := shlex.Split(args + " --keyring " + h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	cmd.SetArgs(a)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	_, err = cmd.ExecuteC()
	h.lastErr = s.ErrOut.String()
	return s.Out.String(), err
}

func (h *harness) must(json bool, stdin, args string) string {
	h.t.Helper()
	out, err := h.run(json, stdin, args)
	if err != nil {
		h.t.Fatalf("key %s: %v", args, err)
	}
	return out
}

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
}

func TestFlagParsing(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
		check   func(t *testing.T, got any)
	}{
		{in: "create laptop --bits 4096", check: func(t *testing.T, got any) {
			if o := got.(*NameOptions); o.Name != "laptop" || o.Bits != 4096 {
				t.Errorf("%+v", o)
			}
		}},
		{in: "create laptop --bits 1024", wantErr: "invalid --bits"},
		{in: "create 'bad name'", wantErr: "may contain only"},
		{in: "create", wantErr: "missing argument"},
		{in: "export-public k --version -1", wantErr: "invalid --version"},
		{in: "import k", wantErr: "--in FILE"},
		{in: "import k --in - --matdesc '[1]'", wantErr: "invalid --matdesc"},
		{in: "delete k --force --cancel", wantErr: "cannot be combined"},
		{in: "delete k --force --pending-window 3", wantErr: "cannot be combined"},
		{in: "delete k --pending-window 0", wantErr: "1 to 366"},
		{in: "delete k", check: func(t *testing.T, got any) {
			if o := got.(*DeleteOptions); o.Window != 7*24*time.Hour || o.Force || o.Cancel {
				t.Errorf("%+v", o)
			}
		}},
		{in: "delete k --force", check: func(t *testing.T, got any) {
			if o := got.(*DeleteOptions); !o.Force {
				t.Errorf("%+v", o)
			}
		}},
		{in: "list x", wantErr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, _ := cmdutiltest.New(t, cmdutiltest.Options{})
			var got any
			root := captureTree(f, &got)
			args, _ := shlex.Split(tt.in)
			root.SetArgs(args)
			root.SetOut(&bytes.Buffer{})
			root.SetErr(&bytes.Buffer{})
			_, err := root.ExecuteC()
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &fe) {
					t.Fatalf("err = %v, want usage error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

func TestKeyringLifecycle(t *testing.T) {
	h := newHarness(t)
	// Nothing yet: not found (exit 3) with a hint.
	_, err := h.run(false, "", "list")
	var nf *cmdutil.NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("list without keyring: %v", err)
	}

	var k Result
	decode(t, h.must(true, "", "create laptop --bits 2048"), &k)
	if k.Name != "laptop" || k.State != "Enabled" || k.Primary != 1 || len(k.Versions) != 1 || !k.Versions[0].HasPrivateKey ||
		k.Versions[0].Bits != 2048 || k.Spec != "key:laptop" {
		t.Fatalf("created %+v", k)
	}
	if !strings.Contains(h.lastErr, "Created keyring") {
		t.Errorf("stderr = %q", h.lastErr)
	}
	st, err := os.Stat(h.path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("keyring mode: %v %v", st, err)
	}
	if _, err := h.run(false, "", "create laptop --bits 2048"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate create: %v", err)
	}

	// Import a public key (encrypt only) with an SDK-style matdesc.
	pub, err := os.ReadFile(filepath.Join("..", "..", "..", "crypto", "testdata", "rsa-2048-public-pkix.pem"))
	if err != nil {
		t.Fatal(err)
	}
	decode(t, h.must(true, string(pub), `import partner --in - --matdesc '{"desc":"partner"}'`), &k)
	if k.Versions[0].HasPrivateKey || k.Versions[0].MatDesc != `{"desc":"partner"}` {
		t.Fatalf("imported %+v", k)
	}

	// Piped text listing: tab-separated rows.
	out := h.must(false, "", "list")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "laptop\tEnabled\t1\t") {
		t.Fatalf("list:\n%s", out)
	}

	// export-public prints a PEM that parses, for the primary version.
	pemOut := h.must(false, "", "export-public laptop")
	blk, _ := pem.Decode([]byte(pemOut))
	if blk == nil || blk.Type != "PUBLIC KEY" {
		t.Fatalf("export-public: %q", pemOut)
	}
	if _, err := x509.ParsePKIXPublicKey(blk.Bytes); err != nil {
		t.Fatal(err)
	}

	decode(t, h.must(true, "", "rotate laptop --bits 2048"), &k)
	if k.Primary != 2 || len(k.Versions) != 2 || k.Versions[0].MatDesc == k.Versions[1].MatDesc {
		t.Fatalf("rotated %+v", k)
	}
	if v1 := h.must(false, "", "export-public laptop --version 1"); v1 != pemOut {
		t.Fatal("version 1's public key changed after rotation")
	}
	if _, err := h.run(false, "", "export-public laptop --version 9"); !errors.As(err, &nf) {
		t.Fatalf("missing version: %v", err)
	}

	// Delayed deletion.
	var del DeleteResult
	decode(t, h.must(true, "", "delete laptop --pending-window 3"), &del)
	if del.State != "PendingDeletion" || del.DeletionDate == nil || !del.DeletionDate.Equal(h.now.Add(72*time.Hour)) {
		t.Fatalf("delete: %+v", del)
	}
	if _, err := h.run(false, "", "delete laptop --force"); err == nil || !strings.Contains(err.Error(), "pending window until") {
		t.Fatalf("early --force: %v", err)
	}
	decode(t, h.must(true, "", "delete laptop --cancel"), &del)
	if del.State != "Enabled" {
		t.Fatalf("cancel: %+v", del)
	}
	if _, err := h.run(false, "", "delete laptop --force"); err == nil || !strings.Contains(err.Error(), "not pending deletion") {
		t.Fatalf("--force on an enabled key: %v", err)
	}
	h.must(false, "", "delete laptop --pending-window 1")
	h.now = h.now.Add(25 * time.Hour)
	decode(t, h.must(true, "", "delete laptop --force"), &del)
	if del.State != "Deleted" {
		t.Fatalf("force: %+v", del)
	}
	if _, err := h.run(false, "", "show laptop"); !errors.As(err, &nf) {
		t.Fatalf("show after deletion: %v", err)
	}
}

func TestPassphraseSourcesAndPermissions(t *testing.T) {
	h := newHarness(t)
	h.must(false, "", "create k1 --bits 2048")

	// Wrong passphrase: an integrity error (exit 6), nothing changed.
	before, _ := os.ReadFile(h.path)
	h.env[cse.EnvPassphrase] = "wrong"
	_, err := h.run(false, "", "rotate k1")
	var ie *cmdutil.IntegrityError
	if !errors.As(err, &ie) || !errors.Is(err, keyring.ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if after, _ := os.ReadFile(h.path); !bytes.Equal(before, after) {
		t.Fatal("keyring changed after a failed open")
	}

	// --passphrase-command beats the environment.
	script := filepath.Join(t.TempDir(), "pass.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'correct horse'\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	h.must(false, "", "show k1 --passphrase-command "+script)
	if _, err := h.run(false, "", "show k1 --passphrase-command false"); err == nil || !strings.Contains(err.Error(), "passphrase command") {
		t.Fatalf("failing passphrase command: %v", err)
	}

	// No passphrase source at all, and no terminal: a clear error.
	delete(h.env, cse.EnvPassphrase)
	if _, err := h.run(false, "", "show k1"); !errors.Is(err, cse.ErrNoPassphrase) {
		t.Fatalf("no passphrase: %v", err)
	}

	// Group-readable keyring refused.
	h.env[cse.EnvPassphrase] = "correct horse"
	if err := os.Chmod(h.path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := h.run(false, "", "list"); !errors.Is(err, keyring.ErrInsecurePermissions) {
		t.Fatalf("group-readable keyring: %v", err)
	}
}

func TestPromptConfirmsOnCreate(t *testing.T) {
	h := newHarness(t)
	delete(h.env, cse.EnvPassphrase)
	f, s := cmdutiltest.New(t, cmdutiltest.Options{Env: h.env})
	s.IO.SetStdinTTY(true)
	s.IO.SetStderrTTY(true)
	s.In.WriteString("one\ntwo\n")
	cmd := NewCmdKey(f)
	cmd.SetArgs([]string{"create", "k", "--bits", "2048", "--keyring", h.path})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	if _, err := cmd.ExecuteC(); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Fatalf("mismatched confirmation: %v", err)
	}
	if _, err := os.Stat(h.path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("keyring created despite mismatched passphrases")
	}
	if strings.Contains(s.ErrOut.String(), "one") {
		t.Fatal("passphrase echoed")
	}

	// Matching answers create the keyring sealed with the prompted passphrase.
	f, s = cmdutiltest.New(t, cmdutiltest.Options{Env: h.env})
	s.IO.SetStdinTTY(true)
	s.IO.SetStderrTTY(true)
	s.In.WriteString("prompted pass\nprompted pass\n")
	cmd = NewCmdKey(f)
	cmd.SetArgs([]string{"create", "k", "--bits", "2048", "--keyring", h.path})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	if _, err := cmd.ExecuteC(); err != nil {
		t.Fatalf("create with a prompted passphrase: %v", err)
	}
	if strings.Contains(s.ErrOut.String(), "prompted pass") {
		t.Fatal("passphrase echoed")
	}
	if _, err := keyring.Open(h.path, []byte("prompted pass"), nil); err != nil {
		t.Fatalf("keyring not sealed with the prompted passphrase: %v", err)
	}
}
