package output

import (
	"strings"
	"testing"
	"time"

	"github.com/ossctl/ossctl/internal/iostreams"
)

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"plain/key.txt": "plain/key.txt",
		"ü 中文 ✓":        "ü 中文 ✓",
		"tab\there":     `tab\there`,
		"nl\nx\r":       `nl\nx\r`,
		"esc\x1b[31m":   `esc\x1b[31m`,
		"bad\xffutf8":   `bad\xffutf8`,
		"sep\u2028":     `sep\u2028`,
		"del\x7f":       `del\x7f`,
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTableTTYAndPiped(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	p := New(ios, FormatText, nil)
	tb := p.Table("NAME", "SIZE")
	tb.AddRow("a\tb", "1")
	tb.AddRow("long-name", "22")
	if err := tb.Render(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "a\\tb\t1\nlong-name\t22\n" {
		t.Errorf("piped table = %q", got)
	}
	out.Reset()
	ios.SetStdoutTTY(true)
	if err := tb.Render(); err != nil {
		t.Fatal(err)
	}
	want := "NAME       SIZE\na\\tb       1\nlong-name  22\n"
	if got := out.String(); got != want {
		t.Errorf("TTY table = %q, want %q", got, want)
	}
}

func TestHumanizedValuesOnlyOnTTY(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := New(ios, FormatText, func() time.Time { return now })
	ts := now.Add(-3 * time.Hour)
	if p.Size(1536) != "1536" || p.Timestamp(ts) != "2026-03-01T09:00:00Z" || p.RelativeTime(ts) != "2026-03-01T09:00:00Z" {
		t.Errorf("piped: %s %s %s", p.Size(1536), p.Timestamp(ts), p.RelativeTime(ts))
	}
	ios.SetStdoutTTY(true)
	if p.Size(1536) != "1.5 KiB" || p.RelativeTime(ts) != "3 hours ago" {
		t.Errorf("TTY: %s %s", p.Size(1536), p.RelativeTime(ts))
	}
	if p.Timestamp(time.Time{}) != "-" {
		t.Error("zero time")
	}
}

func TestJSONAndStatus(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	p := New(ios, FormatJSON, nil)
	type row struct {
		Key string `json:"key"`
	}
	_ = p.JSONLine(row{"a\nb"})
	_ = p.JSON(row{"c"})
	p.Status("hello\n")
	if got := out.String(); got != "{\"key\":\"a\\nb\"}\n{\"key\":\"c\"}\n" {
		t.Errorf("JSON = %q", got)
	}
	ios.SetStdoutTTY(true)
	out.Reset()
	_ = p.JSON(row{"c"})
	if got := out.String(); got != "{\n  \"key\": \"c\"\n}\n" {
		t.Errorf("TTY JSON = %q", got)
	}
	tp := New(ios, FormatText, nil)
	out.Reset()
	tp.Status("hi %d\n", 1)
	ios.SetQuiet(true)
	tp.Status("hidden\n")
	if out.String() != "hi 1\n" {
		t.Errorf("status = %q", out.String())
	}
	if _, err := ParseFormat("yaml"); err == nil {
		t.Error("yaml accepted")
	}
	if f, err := ParseFormat("JSON"); err != nil || f != FormatJSON {
		t.Errorf("ParseFormat(JSON) = %v %v", f, err)
	}
}

func TestStream(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	p := New(ios, FormatText, nil)
	s := p.Stream(Column{Width: 4, Right: true}, Column{Width: 3}, Column{})
	_ = s.Row("1", "ab", "tail\tx")
	if out.String() != "1\tab\ttail\\tx\n" {
		t.Errorf("piped stream = %q", out.String())
	}
	out.Reset()
	ios.SetStdoutTTY(true)
	_ = s.Row("1", "ab", "tail")
	if out.String() != "   1  ab   tail\n" {
		t.Errorf("TTY stream = %q", out.String())
	}
	if strings.Contains(out.String(), "\t") {
		t.Error("tabs on TTY")
	}
}
