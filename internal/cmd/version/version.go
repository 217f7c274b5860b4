// Package version implements `ossctl version`.
package version

import (
	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
	"github.com/ossctl/ossctl/internal/version"
)

// Options is everything version needs.
type Options struct {
	IO      *iostreams.IOStreams
	Printer func() *output.Printer
	// Info returns the build information.
	Info func() version.Info
}

// NewCmdVersion builds `ossctl version`.
func NewCmdVersion(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Printer: f.Printer, Info: version.Get}
	return &cobra.Command{
		Use:   "version",
		Short: "Print ossctl's version",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Print the version, the commit and date it was built from, and the Go toolchain and
			platform. With --output json the same fields are printed as one JSON object.
		`), cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage),
		Example: heredoc.Doc(`
			$ ossctl version
			$ ossctl version --output json
		`),
		Args: cmdutil.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
}

func run(opts *Options) error {
	info := opts.Info()
	p := opts.Printer()
	if p.IsJSON() {
		return p.JSON(info)
	}
	fields := []output.Field{{Name: "version", Value: info.Version}}
	if info.Commit != "" {
		fields = append(fields, output.Field{Name: "commit", Value: info.Commit})
	}
	if info.Date != "" {
		fields = append(fields, output.Field{Name: "date", Value: info.Date})
	}
	fields = append(fields,
		output.Field{Name: "go", Value: info.GoVersion},
		output.Field{Name: "platform", Value: info.Platform},
	)
	return p.Fields(fields)
}
