// Command gen-docs regenerates ossctl's reference documentation (markdown and man pages) and its
// shell completion scripts from the command tree. Output is deterministic: run it after changing
// any command and commit the result.
//
//	go run ./cmd/gen-docs [--docs docs] [--completions completions]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/ossctl/ossctl/internal/cli"
	"github.com/ossctl/ossctl/internal/cmd/completion"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
)

// manDate is the fixed date in man page headers, so regeneration never produces a diff.
var manDate = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// completionFiles maps each shell to the file its script is written to.
var completionFiles = map[string]string{
	"bash":       "ossctl.bash",
	"zsh":        "_ossctl",
	"fish":       "ossctl.fish",
	"powershell": "ossctl.ps1",
}

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("gen-docs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	docsDir := fs.String("docs", "docs", "directory for markdown (and man/ for man pages)")
	complDir := fs.String("completions", "completions", "directory for shell completion scripts")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := Generate(*docsDir, *complDir); err != nil {
		_, _ = fmt.Fprintf(stderr, "gen-docs: %v\n", err) // nothing is left to report a failed write on
		return 1
	}
	return 0
}

// stubFactory builds a Factory that needs no credentials, environment or network: the doc
// generator only walks the command tree.
func stubFactory() *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	f := cmdutil.New(ios, cmdutil.Env{
		LookupEnv: func(string) (string, bool) { return "", false },
		HomeDir:   func() (string, error) { return "", errors.New("no home directory while generating docs") },
	})
	f.AppVersion = "docs"
	return f
}

// Root returns the command tree as documented: auto-generated date tags off everywhere.
func Root() *cobra.Command {
	root := cli.NewCmdRoot(stubFactory())
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.DisableAutoGenTag = true
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return root
}

// Generate writes markdown to docsDir, man pages to docsDir/man and completion scripts to
// complDir, removing previously generated files first so that deleted commands leave nothing
// behind. Hand-written files in docsDir are left alone.
func Generate(docsDir, complDir string) error {
	manDir := filepath.Join(docsDir, "man")
	for _, d := range []string{docsDir, manDir, complDir} {
		if err := os.MkdirAll(d, 0o755); err != nil { //nolint:gosec // G301: docs and completions are public repository content
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	for _, pattern := range []string{filepath.Join(docsDir, "ossctl*.md"), filepath.Join(manDir, "ossctl*.1")} {
		old, _ := filepath.Glob(pattern)
		for _, p := range old {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("removing stale %s: %w", p, err)
			}
		}
	}
	root := Root()
	if err := doc.GenMarkdownTree(root, docsDir); err != nil {
		return fmt.Errorf("generating markdown: %w", err)
	}
	header := &doc.GenManHeader{Title: "OSSCTL", Section: "1", Date: &manDate, Source: "ossctl", Manual: "ossctl manual"}
	if err := doc.GenManTree(root, header, manDir); err != nil {
		return fmt.Errorf("generating man pages: %w", err)
	}
	for shell, name := range completionFiles {
		path := filepath.Join(complDir, name)
		f, err := os.Create(path) //nolint:gosec // G304: a file under the --completions directory the caller chose
		if err != nil {
			return fmt.Errorf("creating %s: %w", path, err)
		}
		genErr := completion.Generate(root, shell, f)
		if err := f.Close(); err != nil && genErr == nil {
			genErr = err
		}
		if genErr != nil {
			return fmt.Errorf("writing %s: %w", path, genErr)
		}
	}
	return nil
}
