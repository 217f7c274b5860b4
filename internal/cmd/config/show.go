package config

import (
	"os"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/config"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
)

// ShowOptions is what `ossctl config show` needs.
type ShowOptions struct {
	IO      *iostreams.IOStreams
	Printer func() *output.Printer
	Config  func() (*config.Resolved, error)
}

// ShowResult is the JSON form of `ossctl config show`. Secret values are masked.
type ShowResult struct {
	ConfigFile        string        `json:"configFile"`
	ConfigFileSource  config.Source `json:"configFileSource"`
	ConfigFileExists  bool          `json:"configFileExists"`
	Profile           string        `json:"profile"`
	ProfileSource     config.Source `json:"profileSource"`
	OssutilConfigFile string        `json:"ossutilConfigFile,omitempty"`
	Values            []ShowValue   `json:"values"`
	Warnings          []string      `json:"warnings,omitempty"`
}

// ShowValue is one setting in ShowResult.
type ShowValue struct {
	Key    string        `json:"key"`
	Value  string        `json:"value"`
	Source config.Source `json:"source"`
	Origin string        `json:"origin,omitempty"`
	Masked bool          `json:"masked,omitempty"`
}

// NewCmdShow builds `ossctl config show`.
func NewCmdShow(f *cmdutil.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IOStreams, Printer: f.Printer, Config: f.Config}
	return &cobra.Command{
		Use:   "show",
		Short: "Show every setting and where it came from",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Resolve the configuration exactly as other commands do (flags, environment, profile,
			ossutil config, defaults) and print each value with its source. Secrets are masked:
			only their first four characters are shown.
		`), cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage),
		Example: heredoc.Doc(`
			$ ossctl config show
			$ ossctl config show --profile prod --output json
			$ OSS_REGION=cn-beijing ossctl config show
		`),
		Args: cmdutil.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runShow(opts)
		},
	}
}

func runShow(opts *ShowOptions) error {
	r, err := opts.Config()
	if err != nil {
		return err
	}
	res := ShowResult{
		ConfigFile:        r.ConfigPath,
		ConfigFileSource:  r.ConfigSource,
		Profile:           r.Profile,
		ProfileSource:     r.ProfileSource,
		OssutilConfigFile: r.OssutilPath,
		Warnings:          r.Warnings,
	}
	if _, err := os.Stat(r.ConfigPath); err == nil {
		res.ConfigFileExists = true
	}
	for _, v := range r.All() {
		res.Values = append(res.Values, ShowValue{
			Key:    string(v.Key),
			Value:  v.Display(),
			Source: v.Source,
			Origin: v.Origin,
			Masked: v.Secret && v.Value != "",
		})
	}
	p := opts.Printer()
	if p.IsJSON() {
		return p.JSON(res)
	}
	exists := "missing"
	if res.ConfigFileExists {
		exists = "exists"
	}
	header := []output.Field{
		{Name: "profile", Value: res.Profile + " (" + string(res.ProfileSource) + ")"},
		{Name: "config file", Value: res.ConfigFile + " (" + string(res.ConfigFileSource) + ", " + exists + ")"},
	}
	if res.OssutilConfigFile != "" {
		header = append(header, output.Field{Name: "ossutil config", Value: res.OssutilConfigFile})
	}
	if p.IsTTY() {
		if err := p.Fields(header); err != nil {
			return err
		}
		if err := p.Printf("\n"); err != nil {
			return err
		}
	}
	t := p.Table("KEY", "VALUE", "SOURCE", "ORIGIN")
	for _, v := range res.Values {
		val := v.Value
		if val == "" && p.IsTTY() {
			val = "-"
		}
		t.AddRow(v.Key, val, string(v.Source), v.Origin)
	}
	return t.Render()
}
