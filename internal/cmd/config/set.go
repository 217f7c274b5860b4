package config

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/config"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
)

// SetOptions is what `ossctl config set` and `unset` need.
type SetOptions struct {
	IO      *iostreams.IOStreams
	Printer func() *output.Printer
	Inputs  func() config.Inputs
	Key     config.Key
	// Value is the new value; FromStdin means it is read from standard input instead.
	Value     string
	FromStdin bool
	// Unset removes the key instead of setting it.
	Unset bool
}

func completeKeys(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return config.KeyNames(), cobra.ShellCompDirectiveNoFileComp
}

// NewCmdSet builds `ossctl config set KEY VALUE`.
func NewCmdSet(f *cmdutil.Factory, runF func(*SetOptions) error) *cobra.Command {
	opts := &SetOptions{IO: f.IOStreams, Printer: f.Printer, Inputs: f.ConfigInputs}
	cmd := &cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Set a value in a profile",
		Long: cmdutil.LongHelp(heredoc.Docf(`
			Set KEY to VALUE in the selected profile (--profile, $OSSCTL_PROFILE or "default"),
			creating the profile and the file as needed. The file is rewritten atomically, mode 0600.

			A VALUE of "-" reads the value from standard input (without echo on a terminal), so
			secrets never appear in the process list or shell history. Keys: %s.
		`, strings.Join(config.KeyNames(), ", ")), cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage),
		Example: heredoc.Doc(`
			$ ossctl config set endpoint oss-cn-shanghai.aliyuncs.com
			$ ossctl config set region cn-shanghai --profile prod
			$ ossctl config set access_key_secret -          # prompts without echo
			$ printf '%s' "$SECRET" | ossctl config set access_key_secret -
		`),
		Args:              cmdutil.ExactArgs(2, "KEY VALUE"),
		ValidArgsFunction: completeKeys,
		RunE: func(_ *cobra.Command, args []string) error {
			ki, ok := config.Lookup(args[0])
			if !ok {
				return cmdutil.FlagErrorf("unknown key %q: valid keys are %s", args[0], strings.Join(config.KeyNames(), ", "))
			}
			opts.Key = ki.Key
			if args[1] == "-" {
				opts.FromStdin = true
			} else {
				opts.Value = args[1]
				if ki.Secret {
					opts.IO.Eprintf("warning: a secret on the command line is visible to other local users and kept in shell history; use '%s -' to read it from stdin\n", "ossctl config set "+string(ki.Key))
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return runSet(opts)
		},
	}
	return cmd
}

// NewCmdUnset builds `ossctl config unset KEY`.
func NewCmdUnset(f *cmdutil.Factory, runF func(*SetOptions) error) *cobra.Command {
	opts := &SetOptions{IO: f.IOStreams, Printer: f.Printer, Inputs: f.ConfigInputs, Unset: true}
	return &cobra.Command{
		Use:   "unset KEY",
		Short: "Remove a value from a profile",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Remove KEY from the selected profile. Removing a key that is not set is not an error.
		`), cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage),
		Example: heredoc.Doc(`
			$ ossctl config unset sts_token --profile temp
		`),
		Args:              cmdutil.ExactArgs(1, "KEY"),
		ValidArgsFunction: completeKeys,
		RunE: func(_ *cobra.Command, args []string) error {
			ki, ok := config.Lookup(args[0])
			if !ok {
				return cmdutil.FlagErrorf("unknown key %q: valid keys are %s", args[0], strings.Join(config.KeyNames(), ", "))
			}
			opts.Key = ki.Key
			if runF != nil {
				return runF(opts)
			}
			return runSet(opts)
		},
	}
}

func readValue(opts *SetOptions, ki config.KeyInfo) (string, error) {
	if opts.IO.CanPrompt() {
		if ki.Secret {
			return opts.IO.ReadPassword(string(ki.Key))
		}
		return opts.IO.Prompt(string(ki.Key), "")
	}
	v, err := opts.IO.ReadLine()
	if errors.Is(err, io.EOF) {
		return "", cmdutil.FlagErrorf("no value on standard input for %s", ki.Key)
	}
	if err != nil {
		return "", fmt.Errorf("reading %s from standard input: %w", ki.Key, err)
	}
	return v, nil
}

func runSet(opts *SetOptions) error {
	in := opts.Inputs()
	path, _ := config.DefaultPath(in)
	profile, _ := config.SelectedProfile(in)
	if err := config.ValidateProfileName(profile); err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	file, err := config.LoadFile(path)
	if err != nil {
		return err
	}
	if w := file.PermissionWarning(); w != "" {
		opts.IO.Eprintf("warning: %s (it is about to be rewritten with mode 0600)\n", w)
	}
	ki, _ := config.Lookup(string(opts.Key))
	changed := []string{}
	if opts.Unset {
		if file.Unset(profile, ki.Key) {
			changed = append(changed, string(ki.Key))
		}
	} else {
		value := opts.Value
		if opts.FromStdin {
			if value, err = readValue(opts, ki); err != nil {
				return err
			}
		}
		if strings.TrimSpace(value) == "" {
			return cmdutil.FlagErrorf("empty value for %s: use 'ossctl config unset %s' to remove it", ki.Key, ki.Key)
		}
		if err := file.Set(profile, ki.Key, value); err != nil {
			return cmdutil.FlagErrorWrap(err)
		}
		changed = append(changed, string(ki.Key))
	}
	if len(changed) > 0 || !file.Exists {
		if err := file.Save(); err != nil {
			return err
		}
	}
	p := opts.Printer()
	if p.IsJSON() {
		return p.JSON(SaveResult{ConfigFile: path, Profile: profile, Changed: changed})
	}
	if !opts.IO.IsQuiet() {
		switch {
		case opts.Unset && len(changed) == 0:
			opts.IO.Eprintf("%s was not set in profile %q\n", ki.Key, profile)
		case opts.Unset:
			opts.IO.Eprintf("Removed %s from profile %q in %s\n", ki.Key, profile, path)
		default:
			opts.IO.Eprintf("Set %s in profile %q in %s\n", ki.Key, profile, path)
		}
	}
	return nil
}
