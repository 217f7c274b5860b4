package iostreams

import (
	"strings"
	"testing"
)

func TestProgressBarVisibility(t *testing.T) {
	s, _, out, errOut := Test()
	bar := s.NewProgressBar(100, "upload")
	_ = bar.Add(50)
	_ = bar.Finish()
	if errOut.Len() != 0 || out.Len() != 0 {
		t.Errorf("hidden bar wrote: stdout %q stderr %q", out, errOut)
	}

	s.SetStderrTTY(true)
	bar = s.NewProgressBar(100, "upload")
	_ = bar.Add(100)
	if out.Len() != 0 {
		t.Errorf("bar wrote to stdout: %q", out)
	}
	if !strings.Contains(errOut.String(), "upload") || !strings.HasSuffix(errOut.String(), "\n") {
		t.Errorf("visible bar output = %q", errOut)
	}

	for _, tc := range []struct {
		name  string
		setup func(*IOStreams)
	}{
		{"quiet", func(s *IOStreams) { s.SetQuiet(true) }},
		{"json", func(s *IOStreams) { s.SetMachineOutput(true) }},
	} {
		s, _, _, errOut := Test()
		s.SetStderrTTY(true)
		tc.setup(s)
		if s.ProgressEnabled() {
			t.Errorf("%s: progress enabled", tc.name)
		}
		bar := s.NewProgressBar(10, "x")
		_ = bar.Add(10)
		if errOut.Len() != 0 {
			t.Errorf("%s: bar drawn: %q", tc.name, errOut)
		}
	}
}

func TestPromptsShareBufferedInput(t *testing.T) {
	s, in, _, errOut := Test()
	in.WriteString("first\n\nsecret-value\r\nlast")
	if v, err := s.Prompt("Name", "def"); err != nil || v != "first" {
		t.Fatalf("Prompt = %q %v", v, err)
	}
	if v, err := s.Prompt("Empty", "def"); err != nil || v != "def" {
		t.Fatalf("default = %q %v", v, err)
	}
	if v, err := s.ReadPassword("Secret"); err != nil || v != "secret-value" {
		t.Fatalf("ReadPassword = %q %v", v, err)
	}
	if v, err := s.ReadLine(); err != nil || v != "last" {
		t.Fatalf("last line without newline = %q %v", v, err)
	}
	if _, err := s.ReadLine(); err == nil {
		t.Fatal("expected EOF")
	}
	if strings.Contains(errOut.String(), "secret-value") {
		t.Error("secret echoed")
	}
	if !strings.Contains(errOut.String(), "Name [def]: ") {
		t.Errorf("prompt text = %q", errOut)
	}
}

func TestCanPrompt(t *testing.T) {
	s, _, _, _ := Test()
	if s.CanPrompt() {
		t.Error("can prompt without a terminal")
	}
	s.SetStdinTTY(true)
	s.SetStderrTTY(true)
	if !s.CanPrompt() {
		t.Error("cannot prompt on a terminal")
	}
	s.SetNeverPrompt(true)
	if s.CanPrompt() {
		t.Error("can prompt with prompting disabled")
	}
}
