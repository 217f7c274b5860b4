package config

import (
	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/config"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
)

// ListOptions is what `ossctl config list` and `ossctl config path` need.
type ListOptions struct {
	IO      *iostreams.IOStreams
	Printer func() *output.Printer
	Inputs  func() config.Inputs
}

// ProfileEntry is one line of `ossctl config list --output json`.
type ProfileEntry struct {
	Name        string `json:"name"`
	Endpoint    string `json:"endpoint,omitempty"`
	Region      string `json:"region,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	Selected    bool   `json:"selected"`
}

// NewCmdList builds `ossctl config list`.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Printer: f.Printer, Inputs: f.ConfigInputs}
	return &cobra.Command{
		Use:   "list",
		Short: "List the profiles in the profiles file",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			List the profiles defined in the profiles file with their endpoint, region and
			AccessKey ID. The selected profile is marked with '*' (JSON: "selected": true).
			With --output json each profile is one JSON line.
		`), cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage),
		Example: heredoc.Doc(`
			$ ossctl config list
			$ ossctl config list --config ./ci.ini --output json
		`),
		Aliases: []string{"ls"},
		Args:    cmdutil.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runList(opts)
		},
	}
}

func runList(opts *ListOptions) error {
	in := opts.Inputs()
	path, _ := config.DefaultPath(in)
	selected, _ := config.SelectedProfile(in)
	file, err := config.LoadFile(path)
	if err != nil {
		return err
	}
	if w := file.PermissionWarning(); w != "" {
		opts.IO.Eprintf("warning: %s\n", w)
	}
	p := opts.Printer()
	t := p.Table("", "PROFILE", "ENDPOINT", "REGION", "ACCESS KEY ID")
	for _, name := range file.Profiles() {
		e := ProfileEntry{Name: name, Selected: name == selected}
		e.Endpoint, _ = file.Get(name, config.KeyEndpoint)
		e.Region, _ = file.Get(name, config.KeyRegion)
		e.AccessKeyID, _ = file.Get(name, config.KeyAccessKeyID)
		if p.IsJSON() {
			if err := p.JSONLine(e); err != nil {
				return err
			}
			continue
		}
		mark := ""
		if e.Selected {
			mark = "*"
		}
		t.AddRow(mark, e.Name, e.Endpoint, e.Region, e.AccessKeyID)
	}
	if p.IsJSON() {
		return nil
	}
	if t.Len() == 0 {
		if !opts.IO.IsQuiet() {
			opts.IO.Eprintf("no profiles in %s; run 'ossctl config' to create one\n", path)
		}
		return nil
	}
	return t.Render()
}

// PathResult is the JSON form of `ossctl config path`.
type PathResult struct {
	ConfigFile string        `json:"configFile"`
	Source     config.Source `json:"source"`
	Exists     bool          `json:"exists"`
}

// NewCmdPath builds `ossctl config path`.
func NewCmdPath(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Printer: f.Printer, Inputs: f.ConfigInputs}
	return &cobra.Command{
		Use:   "path",
		Short: "Print the path of the profiles file",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Print the path of the profiles file in use: --config, $OSSCTL_CONFIG, or
			~/.ossctlconfig. The file need not exist.
		`), cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage),
		Example: heredoc.Doc(`
			$ ossctl config path
			$ chmod 600 "$(ossctl config path)"
		`),
		Args: cmdutil.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runPath(opts)
		},
	}
}

func runPath(opts *ListOptions) error {
	path, src := config.DefaultPath(opts.Inputs())
	file, err := config.LoadFile(path)
	if err != nil {
		return err
	}
	p := opts.Printer()
	if p.IsJSON() {
		return p.JSON(PathResult{ConfigFile: path, Source: src, Exists: file.Exists})
	}
	return p.Printf("%s\n", output.Text(path))
}
