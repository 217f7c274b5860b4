package sync

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/google/shlex"

	"github.com/ossctl/ossctl/crypto"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/cse"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
	"github.com/ossctl/ossctl/internal/transfer"
)

type rsaKeys struct{ mk *crypto.RSAMasterKey }

func (k rsaKeys) MasterKey(cse.Spec) (crypto.MasterKey, error) { return k.mk, nil }
func (k rsaKeys) Resolve(env *crypto.Envelope) (crypto.MasterKey, error) {
	if env.MatDesc != k.mk.MatDesc() {
		return nil, crypto.ErrNoMasterKey
	}
	return k.mk, nil
}

// syncEnc runs sync with a local RSA key as the master-key finder and returns its events.
func (fx *fixture) syncEnc(t *testing.T, keys rsaKeys, args string) []map[string]any {
	t.Helper()
	ios, _, out, _ := iostreams.Test()
	ios.SetMachineOutput(true)
	f := cmdutil.New(ios, cmdutil.Env{LookupEnv: func(string) (string, bool) { return "", false }})
	f.OSSTransfer = func() (*oss.Client, error) { return fx.client, nil }
	f.Printer = func() *output.Printer { return output.New(ios, output.FormatJSON, nil) }
	cmd := NewCmdSync(f, func(o *Options) error {
		o.CheckpointDir = filepath.Join(fx.dir, ".cp")
		o.Retry = transfer.Retry{Attempts: 2, Base: time.Millisecond}
		o.Ctx = context.Background()
		o.Keys = keys
		return run(o)
	})
	argv, _ := shlex.Split(args)
	cmd.SetArgs(argv)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("sync %s: %v", args, err)
	}
	var events []map[string]any
	for _, e := range allLines(t, out.String()) {
		if e["event"] != "started" {
			events = append(events, e)
		}
	}
	return events
}

func allLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := jsonUnmarshal(line, &m); err != nil {
			t.Fatalf("bad JSON line %q", line)
		}
		out = append(out, m)
	}
	return out
}

// TestSyncEncrypted syncs a tree up with client-side encryption in both formats, syncs again
// (nothing to do: encrypted objects compare by plaintext size, and -c by the recorded MD5 in
// the SDK format), and syncs it back down, decrypted.
func TestSyncEncrypted(t *testing.T) {
	fx := newFixture(t)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	mk, _ := crypto.NewRSAMasterKey(&priv.PublicKey, priv, map[string]string{"desc": "sync"})
	keys := rsaKeys{mk: mk}
	files := map[string]string{"a.txt": "alpha", "d/b.txt": strings.Repeat("bravo", 5000), "d/e/c.txt": ""}
	for rel, data := range files {
		fx.write(t, "up/"+rel, data)
	}
	up := filepath.Join(fx.dir, "up")
	for _, mode := range []struct{ flag, prefix, format string }{{"", "sdk/", "sdk"}, {"--encrypt-authenticated", "auth/", "authenticated"}} {
		ev := fx.syncEnc(t, keys, "--encrypt key:k "+mode.flag+" "+up+" oss://bkt1/"+mode.prefix)
		if n := count(ev, "done", "upload"); n != len(files) {
			t.Fatalf("%s: %d uploads, want %d: %v", mode.prefix, n, len(files), ev)
		}
		for _, e := range ev {
			if e["event"] == "done" && (e["encrypted"] != "key:k" || e["cseFormat"] != mode.format) {
				t.Errorf("event %v", e)
			}
		}
		if got := fx.get(t, "bkt1", mode.prefix+"d/b.txt"); got == files["d/b.txt"] {
			t.Fatal("uploaded in plaintext")
		}
		for _, again := range []string{"", "-c"} {
			ev = fx.syncEnc(t, keys, "--encrypt key:k "+mode.flag+" "+again+" "+up+" oss://bkt1/"+mode.prefix)
			transferred := count(ev, "done", "upload")
			if again == "-c" && mode.format == "authenticated" {
				// The authenticated mode records no plaintext digest: -c cannot prove equality.
				if transferred != len(files) {
					t.Errorf("%s -c: %d uploads, want all %d again", mode.prefix, transferred, len(files))
				}
				continue
			}
			if transferred != 0 || count(ev, "skipped", "upload") != len(files) {
				t.Errorf("%s second sync %q: %v", mode.prefix, again, ev)
			}
		}
		down := filepath.Join(fx.dir, "down-"+mode.format)
		ev = fx.syncEnc(t, keys, "oss://bkt1/"+mode.prefix+" "+down)
		if n := count(ev, "done", "download"); n != len(files) {
			t.Fatalf("%s: %d downloads: %v", mode.prefix, n, ev)
		}
		for rel, data := range files {
			got, err := os.ReadFile(filepath.Join(down, filepath.FromSlash(rel)))
			if err != nil || string(got) != data {
				t.Errorf("%s%s: %v, %d bytes", mode.prefix, rel, err, len(got))
			}
		}
		ev = fx.syncEnc(t, keys, "oss://bkt1/"+mode.prefix+" "+down)
		if count(ev, "done", "download") != 0 {
			t.Errorf("%s: second download sync transferred again: %v", mode.prefix, ev)
		}
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
