// Package output is ossctl's single printer. Commands hand it typed results; it renders them as
// text (aligned and humanized on a terminal, tab-separated with raw values when piped), as one JSON
// object, or as JSON Lines for listings and batches. Commands never call json.Marshal themselves.
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dustin/go-humanize"

	"github.com/ossctl/ossctl/internal/iostreams"
)

// Format is an output format selected with --output.
type Format string

// Output formats.
const (
	FormatText Format = "text"
	FormatJSON Format = "json"
)

// Formats lists the values --output accepts.
var Formats = []string{string(FormatText), string(FormatJSON)}

// ParseFormat validates an --output value.
func ParseFormat(s string) (Format, error) {
	switch Format(strings.ToLower(s)) {
	case FormatText, "":
		return FormatText, nil
	case FormatJSON:
		return FormatJSON, nil
	}
	return "", fmt.Errorf("invalid output format %q: valid formats are %s", s, strings.Join(Formats, ", "))
}

// Printer renders results to an IOStreams.
type Printer struct {
	io     *iostreams.IOStreams
	format Format
	now    func() time.Time
}

// New returns a printer writing to io in the given format. now is used for relative times.
func New(io *iostreams.IOStreams, format Format, now func() time.Time) *Printer {
	if now == nil {
		now = time.Now
	}
	if format == "" {
		format = FormatText
	}
	return &Printer{io: io, format: format, now: now}
}

// Format returns the selected format.
func (p *Printer) Format() Format { return p.format }

// IsJSON reports whether machine output (JSON or JSON Lines) was requested.
func (p *Printer) IsJSON() bool { return p.format == FormatJSON }

// IsTTY reports whether stdout is a terminal (text rendering may be humanized).
func (p *Printer) IsTTY() bool { return p.io.IsStdoutTTY() }

// Out is the data stream.
func (p *Printer) Out() io.Writer { return p.io.Out }

// JSON writes v as one JSON object followed by a newline: indented on a terminal, compact when
// piped. Use it for single results.
func (p *Printer) JSON(v any) error {
	var (
		b   []byte
		err error
	)
	if p.io.IsStdoutTTY() {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return fmt.Errorf("encoding JSON output: %w", err)
	}
	b = append(b, '\n')
	if _, err := p.io.Out.Write(b); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// JSONLine writes v as one compact JSON line. Use it for each entry of a listing or batch.
func (p *Printer) JSONLine(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding JSON output: %w", err)
	}
	b = append(b, '\n')
	if _, err := p.io.Out.Write(b); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// Printf writes text to stdout; use it for free-form text results.
func (p *Printer) Printf(format string, args ...any) error {
	if _, err := fmt.Fprintf(p.io.Out, format, args...); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// Status writes a human "Created …"/"Removed …" line. It goes to stdout on a terminal, nowhere
// when stdout is piped, in JSON mode or with --quiet (the data result speaks for itself).
func (p *Printer) Status(format string, args ...any) {
	if p.IsJSON() || p.io.IsQuiet() || !p.io.IsStdoutTTY() {
		return
	}
	// Status lines are chatter for a person at a terminal; the data result (or its absence)
	// is what scripts rely on, so a failed write here does not fail the command.
	_, _ = fmt.Fprintf(p.io.Out, format, args...)
}

// Size renders a byte count: "1.2 MiB" on a terminal, "1258291" when piped.
func (p *Printer) Size(n int64) string {
	if p.io.IsStdoutTTY() {
		if n < 0 {
			return strconv.FormatInt(n, 10)
		}
		return humanize.IBytes(uint64(n))
	}
	return strconv.FormatInt(n, 10)
}

// Timestamp renders an absolute time: local "2006-01-02 15:04:05" on a terminal, RFC 3339 UTC
// when piped. The zero time renders as "-".
func (p *Printer) Timestamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if p.io.IsStdoutTTY() {
		return t.Local().Format("2006-01-02 15:04:05")
	}
	return t.UTC().Format(time.RFC3339)
}

// RelativeTime renders "3 hours ago" on a terminal and RFC 3339 UTC when piped.
func (p *Printer) RelativeTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if p.io.IsStdoutTTY() {
		return humanize.RelTime(t, p.now(), "ago", "from now")
	}
	return t.UTC().Format(time.RFC3339)
}

// Text makes an arbitrary string (an object key, a server message) safe for text output: control
// characters, including tabs and newlines that would break tab-separated columns, are escaped Go
// style (\t, \n, \x1b, \u2028), and invalid UTF-8 bytes become \xNN. JSON output needs no escaping.
func Text(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case unicode.IsControl(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Table collects rows and renders them aligned on a terminal (with headers) or tab-separated
// without headers when piped. Build it with Printer.Table; cells are escaped with Text.
type Table struct {
	p       *Printer
	headers []string
	rows    [][]string
}

// Table starts a table with the given column headers.
func (p *Printer) Table(headers ...string) *Table {
	return &Table{p: p, headers: headers}
}

// AddRow appends a row; it is padded or truncated to the number of headers.
func (t *Table) AddRow(cells ...string) {
	row := make([]string, len(t.headers))
	for i := range row {
		if i < len(cells) {
			row[i] = Text(cells[i])
		}
	}
	t.rows = append(t.rows, row)
}

// Len returns the number of rows added.
func (t *Table) Len() int { return len(t.rows) }

// Render writes the table to stdout.
func (t *Table) Render() error {
	out := t.p.io.Out
	if !t.p.io.IsStdoutTTY() {
		var b strings.Builder
		for _, r := range t.rows {
			b.WriteString(strings.Join(r, "\t"))
			b.WriteByte('\n')
		}
		if _, err := io.WriteString(out, b.String()); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	sw := iostreams.NewStickyWriter(tw)
	if len(t.headers) > 0 {
		sw.Println(strings.Join(t.headers, "\t"))
	}
	for _, r := range t.rows {
		sw.Println(strings.Join(r, "\t"))
	}
	return flushTab(tw, sw)
}

// flushTab flushes tw after the rows written to it through sw, and reports the first failure
// of either.
func flushTab(tw *tabwriter.Writer, sw *iostreams.StickyWriter) error {
	err := sw.Err()
	if err == nil {
		err = tw.Flush()
	}
	if err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// Field is one "name: value" line of a detail view (stat, config show).
type Field struct {
	Name  string
	Value string
}

// Fields renders a detail view: aligned "Name:  value" lines on a terminal, "name<TAB>value"
// lines when piped. Values are escaped with Text.
func (p *Printer) Fields(fields []Field) error {
	out := p.io.Out
	if !p.io.IsStdoutTTY() {
		var b strings.Builder
		for _, f := range fields {
			b.WriteString(f.Name)
			b.WriteByte('\t')
			b.WriteString(Text(f.Value))
			b.WriteByte('\n')
		}
		if _, err := io.WriteString(out, b.String()); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 1, ' ', 0)
	sw := iostreams.NewStickyWriter(tw)
	for _, f := range fields {
		sw.Printf("%s:\t%s\n", f.Name, Text(f.Value))
	}
	return flushTab(tw, sw)
}

// Column describes one column of a streaming list.
type Column struct {
	// Width is the minimum width on a terminal; 0 means no padding (use it for the last column).
	Width int
	// Right aligns the column to the right on a terminal.
	Right bool
}

// Stream prints rows one at a time, for listings too long to buffer: fixed-width columns on a
// terminal, tab-separated when piped. Cells are escaped with Text.
type Stream struct {
	p    *Printer
	cols []Column
}

// Stream starts a streaming list with the given column layout.
func (p *Printer) Stream(cols ...Column) *Stream { return &Stream{p: p, cols: cols} }

// Row writes one row.
func (s *Stream) Row(cells ...string) error {
	var b strings.Builder
	tty := s.p.io.IsStdoutTTY()
	for i, c := range cells {
		c = Text(c)
		if i > 0 {
			if tty {
				b.WriteString("  ")
			} else {
				b.WriteByte('\t')
			}
		}
		if tty && i < len(s.cols) && s.cols[i].Width > 0 && i < len(cells)-1 {
			pad := s.cols[i].Width - utf8.RuneCountInString(c)
			if pad > 0 && s.cols[i].Right {
				b.WriteString(strings.Repeat(" ", pad))
			}
			b.WriteString(c)
			if pad > 0 && !s.cols[i].Right {
				b.WriteString(strings.Repeat(" ", pad))
			}
			continue
		}
		b.WriteString(c)
	}
	b.WriteByte('\n')
	if _, err := io.WriteString(s.p.io.Out, b.String()); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}
