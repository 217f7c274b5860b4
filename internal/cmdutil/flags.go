package cmdutil

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// enumValue is a string flag restricted to a set of values, matched case-insensitively and
// stored in its canonical spelling.
type enumValue struct {
	p       *string
	options []string
}

func (e *enumValue) Set(s string) error {
	for _, o := range e.options {
		if strings.EqualFold(o, s) {
			*e.p = o
			return nil
		}
	}
	return fmt.Errorf("valid values are %s", strings.Join(e.options, ", "))
}

func (e *enumValue) String() string { return *e.p }
func (e *enumValue) Type() string   { return "string" }

// StringEnumFlag defines a flag that accepts only the given options (case-insensitively), lists
// them in its help, and completes them in the shell.
func StringEnumFlag(cmd *cobra.Command, p *string, name, shorthand, defaultValue string, options []string, usage string) *pflag.Flag {
	*p = defaultValue
	v := &enumValue{p: p, options: options}
	f := cmd.Flags().VarPF(v, name, shorthand, fmt.Sprintf("%s: {%s}", usage, strings.Join(options, "|")))
	_ = cmd.RegisterFlagCompletionFunc(name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return options, cobra.ShellCompDirectiveNoFileComp
	})
	return f
}

// ExactArgs returns a positional-argument check that fails with a usage error naming what is
// expected, e.g. ExactArgs(1, "oss://BUCKET").
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		if len(args) < n {
			return FlagErrorf("missing argument: expected %s", what)
		}
		return FlagErrorf("too many arguments (%d): expected %s", len(args), what)
	}
}

// RangeArgs returns a positional-argument check for between lo and hi arguments.
func RangeArgs(lo, hi int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < lo {
			return FlagErrorf("missing argument: expected %s", what)
		}
		if len(args) > hi {
			return FlagErrorf("too many arguments (%d): expected %s", len(args), what)
		}
		return nil
	}
}

// NoArgs rejects any positional argument with a usage error.
func NoArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return FlagErrorf("unexpected argument %q", args[0])
	}
	return nil
}

// MutuallyExclusive returns a usage error when more than one of the conditions holds.
func MutuallyExclusive(message string, conditions ...bool) error {
	n := 0
	for _, c := range conditions {
		if c {
			n++
		}
	}
	if n > 1 {
		return FlagErrorf("%s", message)
	}
	return nil
}
