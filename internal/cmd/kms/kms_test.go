package kms

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	popErrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/google/shlex"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/cmdutil/cmdutiltest"
	"github.com/ossctl/ossctl/internal/cse/csetest"
)

func TestFlagParsing(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
		check   func(t *testing.T, got any)
	}{
		{in: "create --description hi --origin external", check: func(t *testing.T, got any) {
			o := got.(*CreateOptions)
			if o.Description != "hi" || o.Origin != "EXTERNAL" {
				t.Errorf("%+v", o)
			}
		}},
		{in: "create --origin cloud", wantErr: "valid values are Aliyun_KMS, EXTERNAL"},
		{in: "create extra", wantErr: "unexpected argument"},
		{in: "describe", wantErr: "missing argument"},
		{in: "describe alias/x", check: func(t *testing.T, got any) {
			if got.(*KeyOptions).KeyID != "alias/x" {
				t.Errorf("%+v", got)
			}
		}},
		{in: "disable k1", check: func(t *testing.T, got any) {
			if o := got.(*KeyOptions); o.Verb != "disable" || o.KeyID != "k1" {
				t.Errorf("%+v", o)
			}
		}},
		{in: "schedule-deletion k1 --pending-window 0", wantErr: "--pending-window"},
		{in: "schedule-deletion k1", check: func(t *testing.T, got any) {
			if o := got.(*ScheduleDeletionOptions); o.Days != 30 {
				t.Errorf("%+v", o)
			}
		}},
		{in: "encrypt --in -", wantErr: "--key-id is required"},
		{in: "encrypt --key-id k --context notjson", wantErr: "invalid --context"},
		{in: "encrypt --key-id k --binary --out f", check: func(t *testing.T, got any) {
			if o := got.(*CryptOptions); !o.Binary || o.Out != "f" || o.In != "-" {
				t.Errorf("%+v", o)
			}
		}},
		{in: "decrypt --base64 --raw-plaintext", wantErr: "cannot be combined"},
		{in: "alias create nope k1", check: func(t *testing.T, got any) {
			if o := got.(*AliasOptions); o.AliasName != "alias/nope" || o.KeyID != "k1" {
				t.Errorf("%+v", o)
			}
		}},
		{in: "alias create alias/acs/x k1", wantErr: "reserved"},
		{in: "alias update 'alias/bad name' k1", wantErr: "only letters"},
		{in: "alias delete", wantErr: "missing argument"},
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

// run executes `kms ARGS` against env and returns stdout.
func run(t *testing.T, env *csetest.Env, json bool, stdin string, args string) (string, error) {
	t.Helper()
	f, s := cmdutiltest.New(t, cmdutiltest.Options{Endpoint: env.Endpoint, AccessKeyID: csetest.AccessKeyID,
		AccessKeySecret: csetest.AccessKeySecret, JSON: json})
	s.In.WriteString(stdin)
	root := NewCmdKMS(f)
	a, err := shlex.Split(args)
	if err != nil {
		t.Fatal(err)
	}
	root.SetArgs(a)
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	_, err = root.ExecuteC()
	return s.Out.String(), err
}

func mustRun(t *testing.T, env *csetest.Env, json bool, stdin, args string) string {
	t.Helper()
	out, err := run(t, env, json, stdin, args)
	if err != nil {
		t.Fatalf("kms %s: %v", args, err)
	}
	return out
}

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
}

func TestKeyLifecycleAgainstServe(t *testing.T) {
	env := csetest.Start(t)
	var key struct {
		KeyID                                                string `json:"KeyId"`
		KeyState, Description, PrimaryKeyVersion, DeleteDate string
	}
	decode(t, mustRun(t, env, true, "", "create --description first"), &key)
	if key.KeyID == "" || key.KeyState != "Enabled" || key.Description != "first" {
		t.Fatalf("created %+v", key)
	}
	id := key.KeyID
	mustRun(t, env, true, "", "create --description second")

	// Text listing, piped: tab-separated, no header.
	out := mustRun(t, env, false, "", "list")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(out, id+"\t") {
		t.Fatalf("list:\n%s", out)
	}
	// JSON Lines with --long.
	out = mustRun(t, env, true, "", "list --long")
	var n int
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e ListEntry
		decode(t, l, &e)
		if e.KeyMetadata == nil || e.KeyMetadata.KeyState != "Enabled" {
			t.Fatalf("list --long entry %s", l)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("list --long: %d entries", n)
	}

	mustRun(t, env, false, "", "alias create backups "+id)
	decode(t, mustRun(t, env, true, "", "describe alias/backups"), &key)
	if key.KeyID != id {
		t.Fatalf("describe via alias = %+v", key)
	}
	out = mustRun(t, env, true, "", "alias list --key-id "+id)
	var al AliasEntry
	decode(t, strings.TrimSpace(out), &al)
	if al.AliasName != "alias/backups" || al.KeyID != id {
		t.Fatalf("alias list: %s", out)
	}

	// Encrypt from stdin through the alias, decrypt back, before and after rotation.
	secret := "db password: hunter2\n"
	blob := mustRun(t, env, false, secret, "encrypt --key-id alias/backups")
	if got := mustRun(t, env, false, blob, "decrypt"); got != secret {
		t.Fatalf("decrypt = %q", got)
	}
	var ver KeyVersionResult
	decode(t, mustRun(t, env, true, "", "rotate "+id), &ver)
	decode(t, mustRun(t, env, true, "", "describe "+id), &key)
	if ver.KeyVersionID == "" || key.PrimaryKeyVersion != ver.KeyVersionID {
		t.Fatalf("rotate: %+v, key %+v", ver, key)
	}
	if got := mustRun(t, env, false, blob, "decrypt"); got != secret {
		t.Fatalf("old ciphertext after rotation = %q", got)
	}

	// Encryption context must match.
	blob2 := mustRun(t, env, false, secret, `encrypt --key-id `+id+` --context '{"app":"x"}'`)
	if _, err := run(t, env, false, blob2, "decrypt"); err == nil {
		t.Fatal("decrypt without the encryption context succeeded")
	}
	if got := mustRun(t, env, false, blob2, `decrypt --context '{"app":"x"}'`); got != secret {
		t.Fatalf("decrypt with context = %q", got)
	}

	// Disabled key: KMS's code, exit code by the POP mapping.
	mustRun(t, env, false, "", "disable "+id)
	_, err := run(t, env, false, blob, "decrypt")
	var se *popErrors.ServerError
	if !errors.As(err, &se) || se.ErrorCode() != "Rejected.Disabled" {
		t.Fatalf("decrypt with disabled key: %v", err)
	}
	mustRun(t, env, false, "", "enable "+id)

	decode(t, mustRun(t, env, true, "", "schedule-deletion "+id+" --pending-window 7"), &key)
	if key.KeyState != "PendingDeletion" || key.DeleteDate == "" {
		t.Fatalf("schedule-deletion: %+v", key)
	}
	decode(t, mustRun(t, env, true, "", "cancel-deletion alias/backups"), &key)
	if key.KeyState != "Enabled" {
		t.Fatalf("cancel-deletion: %+v", key)
	}

	mustRun(t, env, false, "", "alias delete alias/backups")
	if _, err := run(t, env, false, "", "describe alias/backups"); err == nil {
		t.Fatal("describe of a deleted alias succeeded")
	}
}

func TestEncryptBinaryFilesAndLimits(t *testing.T) {
	env := csetest.Start(t)
	var key struct {
		KeyID string `json:"KeyId"`
	}
	decode(t, mustRun(t, env, true, "", "create"), &key)
	dir := t.TempDir()
	plain := []byte{0, 1, 2, 0xff, 0xfe, '\n'}
	in := filepath.Join(dir, "in.bin")
	if err := os.WriteFile(in, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	blobFile := filepath.Join(dir, "blob.bin")
	mustRun(t, env, false, "", "encrypt --key-id "+key.KeyID+" --in "+in+" --binary --out "+blobFile)
	st, err := os.Stat(blobFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("blob file: %v %v", st, err)
	}
	out := filepath.Join(dir, "out.bin")
	mustRun(t, env, false, "", "decrypt --binary --in "+blobFile+" --out "+out)
	if got, _ := os.ReadFile(out); !bytes.Equal(got, plain) {
		t.Fatalf("round trip = %v", got)
	}
	var res DecryptResult
	decode(t, mustRun(t, env, true, "", "decrypt --binary --in "+blobFile), &res)
	if res.Plaintext != "AAEC//4K" || res.KeyID != key.KeyID {
		t.Fatalf("JSON decrypt = %+v", res)
	}
	// Too large for KMS: a usage error before any request.
	_, err = run(t, env, false, strings.Repeat("x", MaxPlaintext+1), "encrypt --key-id "+key.KeyID)
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) {
		t.Fatalf("oversized plaintext: %v", err)
	}
	// Garbage ciphertext: integrity error locally; a forged blob: KMS refuses it.
	_, err = run(t, env, false, "not base64 !!", "decrypt")
	var ie *cmdutil.IntegrityError
	if !errors.As(err, &ie) {
		t.Fatalf("garbage ciphertext: %v", err)
	}
	if _, err := run(t, env, false, "QUtCMQVrZXktMQJ2MQAAAAAAAAAAAAAAAAAAAAAAAAAA", "decrypt"); err == nil {
		t.Fatal("forged blob decrypted")
	}
}

func TestBinaryRefusedOnTerminal(t *testing.T) {
	opts := &CryptOptions{Out: "-"}
	f, s := cmdutiltest.New(t, cmdutiltest.Options{StdoutTTY: true})
	opts.IO = f.IOStreams
	if err := writeOutput(opts, []byte{0, 1}, looksBinary([]byte{0, 1})); err == nil {
		t.Fatal("binary written to a terminal")
	}
	if err := writeOutput(opts, []byte("text\n"), looksBinary([]byte("text\n"))); err != nil || s.Out.String() != "text\n" {
		t.Fatalf("text to terminal: %v %q", err, s.Out.String())
	}
}
