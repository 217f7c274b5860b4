package serve

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/output"
)

// credentialsOutput is what `serve credentials --output json` prints.
type credentialsOutput struct {
	Endpoint        string `json:"endpoint"`
	AccessKeyID     string `json:"accessKeyId"`
	AccessKeySecret string `json:"accessKeySecret"`
	AccountID       string `json:"accountId"`
}

func newCmdCredentials(f *cmdutil.Factory) *cobra.Command {
	var addr, dataDir string
	cmd := &cobra.Command{
		Use:   "credentials",
		Short: "Print shell exports that point clients at a local server",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Print the endpoint and root AccessKey pair of a local server's data directory as shell
			exports (OSS_ENDPOINT, OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET), for eval. These are the
			variables ossctl and the official SDKs' environment providers read, so the secret never
			has to appear on a command line.

		`), cmdutil.ExitOK, cmdutil.ExitUsage, cmdutil.ExitNotFound),
		Example: heredoc.Doc(`
			$ eval "$(ossctl serve credentials)"
			$ eval "$(ossctl serve credentials --data-dir ./oss-data --addr 127.0.0.1:9100)"
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addr, err := resolveAddr(cmd, addr, os.Getenv)
			if err != nil {
				return err
			}
			dataDir, err := resolveDataDir(cmd, dataDir, os.Getenv)
			if err != nil {
				return err
			}
			path := filepath.Join(dataDir, credentialsFile)
			c, err := readRoot(path)
			if errors.Is(err, fs.ErrNotExist) {
				return &cmdutil.NotFoundError{What: "credentials file " + path, Err: cmdutil.WithHint(err, "run 'ossctl serve' once to create it")}
			}
			if err != nil {
				return err
			}
			out := credentialsOutput{Endpoint: "http://" + addr, AccessKeyID: c.AccessKeyID, AccessKeySecret: c.AccessKeySecret, AccountID: c.AccountID}
			p := f.Printer()
			if p.Format() == output.FormatJSON {
				return p.JSON(out)
			}
			return p.Printf("export OSS_ENDPOINT=%s\nexport OSS_ACCESS_KEY_ID=%s\nexport OSS_ACCESS_KEY_SECRET=%s\n",
				shellQuote(out.Endpoint), shellQuote(out.AccessKeyID), shellQuote(out.AccessKeySecret))
		},
	}
	addAddrFlag(cmd, &addr, "address the server listens on")
	addDataDirFlag(cmd, &dataDir)
	return cmd
}
