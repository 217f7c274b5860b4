package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ossctl/ossctl/internal/cmdutil/cmdutiltest"
	"github.com/ossctl/ossctl/internal/config"
)

func TestInteractiveSetup(t *testing.T) {
	f, s := cmdutiltest.New(t, cmdutiltest.Options{StderrTTY: true})
	s.IO.SetStdinTTY(true)
	path := filepath.Join(t.TempDir(), "cfg")
	in := f.ConfigInputs() // as if --config PATH had been given

	in.ConfigFlag = &path
	opts := &Options{IO: f.IOStreams, Printer: f.Printer, Inputs: func() config.Inputs { return in }}

	s.In.WriteString("http://127.0.0.1:9000\n\nLTAIinteractive\ninteractive-secret\n")
	if err := runInteractive(opts); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.ErrOut.String(), "interactive-secret") {
		t.Error("secret echoed")
	}
	file, err := config.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := file.Values("default")
	if got[config.KeyEndpoint] != "http://127.0.0.1:9000" || got[config.KeyAccessKeyID] != "LTAIinteractive" ||
		got[config.KeyAccessKeySecret] != "interactive-secret" || got[config.KeyRegion] != "" {
		t.Errorf("saved %v", got)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}

	// Enter keeps every value, including the secret, whose prompt shows it masked.
	s.ErrOut.Reset()
	s.In.WriteString("\n\n\n\n")
	if err := runInteractive(opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.ErrOut.String(), "[inte****]") || !strings.Contains(s.ErrOut.String(), "Nothing changed") {
		t.Errorf("prompts: %q", s.ErrOut.String())
	}

	// Invalid input is a usage error and the file is unchanged.
	before, _ := os.ReadFile(path)
	s.In.WriteString("ftp://nope\n")
	if err := runInteractive(opts); err == nil || !strings.Contains(err.Error(), "http or https") {
		t.Errorf("bad endpoint: %v", err)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Error("file changed after a failed setup")
	}
}
