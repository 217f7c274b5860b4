// Package config implements `ossctl config` and its subcommands: interactive setup, set, unset,
// show (every value with its source, secrets masked), list and path.
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

// Options is what `ossctl config` (interactive setup) needs.
type Options struct {
	IO      *iostreams.IOStreams
	Printer func() *output.Printer
	// Inputs returns the configuration inputs (which file, which profile, flags, environment).
	Inputs func() config.Inputs
}

// NewCmdConfig builds `ossctl config` with its subcommands. runF replaces the interactive run
// in tests.
func NewCmdConfig(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Printer: f.Printer, Inputs: f.ConfigInputs}
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Create and inspect configuration profiles",
		Long: cmdutil.LongHelp(heredoc.Docf(`
			With no subcommand, ask for the endpoint, region and AccessKey pair of the selected
			profile (--profile, $OSSCTL_PROFILE, or "default") and save them to the profiles file
			(--config, $OSSCTL_CONFIG, or ~/.ossctlconfig). The secret is read without echo.
			Press Enter to keep a value. This needs a terminal; use 'ossctl config set' in scripts.

			The file is INI: [default] holds the default profile and [profile NAME] any other. It is
			written atomically with mode 0600. Keys: %s.

			Values are resolved in this order: flag, environment, profile, the [Credentials]
			section of ~/.ossutilconfig, default. See docs/config.md.
		`, strings.Join(config.KeyNames(), ", ")), cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage),
		Example: heredoc.Doc(`
			# interactive setup of the default profile
			$ ossctl config

			# a second profile for the local server
			$ ossctl config set endpoint http://127.0.0.1:9000 --profile local
			$ ossctl config set access_key_id LTAI5tEXAMPLE --profile local
			$ ossctl config set access_key_secret - --profile local < secret.txt

			$ ossctl config show --profile local
		`),
		Args: cmdutil.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runInteractive(opts)
		},
	}
	cmd.AddCommand(
		NewCmdSet(f, nil),
		NewCmdUnset(f, nil),
		NewCmdShow(f, nil),
		NewCmdList(f, nil),
		NewCmdPath(f, nil),
	)
	return cmd
}

// SaveResult is the JSON result of commands that change the profiles file.
type SaveResult struct {
	ConfigFile string   `json:"configFile"`
	Profile    string   `json:"profile"`
	Changed    []string `json:"changed"`
}

func runInteractive(opts *Options) error {
	if !opts.IO.CanPrompt() {
		return cmdutil.FlagErrorf("interactive setup needs a terminal; use 'ossctl config set KEY VALUE' instead")
	}
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
		opts.IO.Eprintf("warning: %s\n", w)
	}
	opts.IO.Eprintf("Configuring profile %q in %s. Press Enter to keep the value in brackets.\n", profile, path)

	var changed []string
	ask := func(k config.Key, label string, secret bool) error {
		cur, _ := file.Get(profile, k)
		var (
			ans string
			err error
		)
		if secret {
			shown := ""
			if cur != "" {
				shown = " [" + config.Mask(cur) + "]"
			}
			ans, err = opts.IO.ReadPassword(label + shown)
			if err == nil && ans == "" {
				ans = cur
			}
		} else {
			ans, err = opts.IO.Prompt(label, cur)
		}
		if err != nil {
			return err
		}
		ans = strings.TrimSpace(ans)
		if ans == cur {
			return nil
		}
		if err := file.Set(profile, k, ans); err != nil {
			return cmdutil.FlagErrorWrap(err)
		}
		changed = append(changed, string(k))
		return nil
	}
	steps := []struct {
		key    config.Key
		label  string
		secret bool
	}{
		{config.KeyEndpoint, "Endpoint (e.g. oss-cn-hangzhou.aliyuncs.com, http://127.0.0.1:9000)", false},
		{config.KeyRegion, "Region (e.g. cn-hangzhou; empty for the local server)", false},
		{config.KeyAccessKeyID, "AccessKey ID", false},
		{config.KeyAccessKeySecret, "AccessKey secret", true},
	}
	for _, s := range steps {
		if err := ask(s.key, s.label, s.secret); err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("configuration aborted: end of input")
			}
			return err
		}
	}
	if len(changed) == 0 && file.Exists {
		opts.IO.Eprintln("Nothing changed.")
		return nil
	}
	if err := file.Save(); err != nil {
		return err
	}
	p := opts.Printer()
	if p.IsJSON() {
		return p.JSON(SaveResult{ConfigFile: path, Profile: profile, Changed: nonNil(changed)})
	}
	opts.IO.Eprintf("Saved profile %q to %s (mode 0600).\n", profile, path)
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
