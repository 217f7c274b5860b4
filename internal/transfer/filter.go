package transfer

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Rule is one --include or --exclude pattern.
type Rule struct {
	Include bool
	Pattern string
}

// Filter decides which relative paths a recursive transfer includes. Its rules apply in the
// order given and the first rule that matches decides. A pattern with a '/' is matched against
// the whole relative path ('/'-separated, from the transfer's root) and against every parent
// directory's path; a pattern without '/' against the file's name and every parent directory's
// name, so "*.tmp" excludes temporary files at any depth and "node_modules" a directory
// anywhere. "**" matches any number of directories ("logs/**", "**/cache/*.bin"); a trailing
// '/' restricts a pattern to directories ("build/"). When no rule matches, the path is included
// unless the last rule is an --include (then only what some --include names is copied).
// Patterns use doublestar syntax: * ? [abc] [^a-z] {alt1,alt2} **.
type Filter struct {
	rules       []compiledRule
	defaultKeep bool
}

type compiledRule struct {
	include  bool
	pattern  string
	anchored bool // contains '/': matched against paths, not names
	dirOnly  bool
}

// NewFilter validates and compiles rules. No rules gives a nil Filter, which includes
// everything.
func NewFilter(rules []Rule) (*Filter, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	f := &Filter{defaultKeep: !rules[len(rules)-1].Include}
	for _, r := range rules {
		p := strings.TrimSpace(r.Pattern)
		kind := "--exclude"
		if r.Include {
			kind = "--include"
		}
		if p == "" || p == "/" {
			return nil, fmt.Errorf("empty %s pattern", kind)
		}
		cr := compiledRule{include: r.Include}
		if strings.HasSuffix(p, "/") {
			cr.dirOnly = true
			p = strings.TrimRight(p, "/")
		}
		p = strings.TrimPrefix(p, "./")
		p = strings.TrimPrefix(p, "/")
		cr.anchored = strings.Contains(p, "/")
		if !doublestar.ValidatePattern(p) {
			return nil, fmt.Errorf("invalid %s pattern %q", kind, r.Pattern)
		}
		cr.pattern = p
		f.rules = append(f.rules, cr)
	}
	return f, nil
}

// matchOne reports whether the rule matches a candidate path (a file, or a directory when dir).
func (r *compiledRule) matchOne(candidate string, dir bool) bool {
	if r.dirOnly && !dir {
		return false
	}
	if !r.anchored {
		candidate = path.Base(candidate)
	}
	ok, _ := doublestar.Match(r.pattern, candidate)
	return ok
}

// matches reports whether the rule matches the file rel or one of its parent directories.
func (r *compiledRule) matches(rel string) bool {
	if r.matchOne(rel, false) {
		return true
	}
	for i := 0; i < len(rel); i++ {
		if rel[i] == '/' && r.matchOne(rel[:i], true) {
			return true
		}
	}
	return false
}

// Match reports whether the file at rel ('/'-separated, relative to the transfer's root) is
// included. A nil Filter includes everything.
func (f *Filter) Match(rel string) bool {
	if f == nil {
		return true
	}
	for i := range f.rules {
		if f.rules[i].matches(rel) {
			return f.rules[i].include
		}
	}
	return f.defaultKeep
}

// SkipDir reports whether nothing under the directory rel can be included, so a walk need not
// enter it: an --exclude matches it and no --include comes before that rule.
func (f *Filter) SkipDir(rel string) bool {
	if f == nil || rel == "" {
		return false
	}
	for i := range f.rules {
		r := &f.rules[i]
		if r.include {
			return false
		}
		if r.matchOne(rel, true) {
			return true
		}
	}
	return false
}

// ReadPatterns reads --exclude-from/--include-from style files: one pattern per line; blank
// lines and lines starting with '#' are ignored.
func ReadPatterns(file string) ([]string, error) {
	fh, err := os.Open(file) //nolint:gosec // G304: the file the user named
	if err != nil {
		return nil, fmt.Errorf("reading patterns: %w", err)
	}
	defer func() { _ = fh.Close() }() // read-only
	var out []string
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		out = append(out, strings.TrimSpace(line))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading patterns from %s: %w", file, err)
	}
	return out, nil
}
