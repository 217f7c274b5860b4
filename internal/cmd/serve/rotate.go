package serve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/output"
	"github.com/ossctl/ossctl/internal/pop"
	"github.com/ossctl/ossctl/internal/sealing"
	"github.com/ossctl/ossctl/internal/server"
	"github.com/ossctl/ossctl/internal/store"
)

// RotateOptions are the flags of `serve rotate-master-key`.
type RotateOptions struct {
	Printer   func() *output.Printer
	DataDir   string
	NoRewrap  bool
	RetireOld bool
}

// RotateResult is the JSON output of rotate-master-key.
type RotateResult struct {
	DataDir          string   `json:"dataDir"`
	PrimaryVersion   uint32   `json:"primaryVersion"`
	Rewrapped        bool     `json:"rewrapped"`
	DataKeysMoved    int      `json:"dataKeysMoved"`
	KMSSecretsMoved  int      `json:"kmsSecretsMoved"`
	RetiredVersions  []uint32 `json:"retiredVersions,omitempty"`
	RemainingVersion []uint32 `json:"versions"`
}

// NewCmdRotateMasterKey builds `ossctl serve rotate-master-key`.
func NewCmdRotateMasterKey(f *cmdutil.Factory, runF func(*RotateOptions) error) *cobra.Command {
	opts := &RotateOptions{Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "rotate-master-key",
		Short: "Rotate the server master key of a data directory",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Add a new version of the server master key, which seals the data keys of SSE-OSS
			(AES256) objects and the key material of the built-in KMS, and make it the one new writes
			use. Objects written before stay readable: old versions are kept.

			Then, unless --no-rewrap is given, re-wrap every SSE-OSS data key (objects and multipart
			uploads in progress) and all KMS key material under the new version. This rewrites
			metadata only; no object data is read or rewritten. With --retire-old the older versions
			are removed from the key file once the re-wrap has finished, so a leaked old key file
			protects nothing current.

			The server must not be running on the data directory: the store is locked by a running
			server, and this command fails after about a second if it cannot take the lock. Stop the
			server, rotate, start it again.

		`), cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage),
		Example: heredoc.Doc(`
			# rotate and re-wrap everything under the new version
			$ ossctl serve rotate-master-key --data-dir ./oss-data

			# rotate, re-wrap, and remove the old versions from the key file
			$ ossctl serve rotate-master-key --data-dir ./oss-data --retire-old
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.NoRewrap && opts.RetireOld {
				return cmdutil.FlagErrorf("--retire-old needs the re-wrap pass: it cannot be combined with --no-rewrap")
			}
			dir, err := resolveDataDir(cmd, opts.DataDir, os.Getenv)
			if err != nil {
				return err
			}
			opts.DataDir = dir
			if runF != nil {
				return runF(opts)
			}
			return runRotate(cmd.Context(), opts)
		},
	}
	addDataDirFlag(cmd, &opts.DataDir)
	cmd.Flags().BoolVar(&opts.NoRewrap, "no-rewrap", false, "only add the new version; leave existing data keys under the old ones")
	cmd.Flags().BoolVar(&opts.RetireOld, "retire-old", false, "after re-wrapping, remove the old versions from the key file")
	return cmd
}

func runRotate(ctx context.Context, opts *RotateOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := RotateMasterKey(ctx, opts.DataDir, !opts.NoRewrap, opts.RetireOld)
	if err != nil {
		return err
	}
	p := opts.Printer()
	if p.IsJSON() {
		return p.JSON(res)
	}
	if err := p.Printf("Master key rotated: version %d is now primary (data: %s)\n", res.PrimaryVersion, res.DataDir); err != nil {
		return err
	}
	if res.Rewrapped {
		if err := p.Printf("Re-wrapped %d SSE-OSS data keys and %d KMS secrets\n", res.DataKeysMoved, res.KMSSecretsMoved); err != nil {
			return err
		}
	}
	if len(res.RetiredVersions) > 0 {
		return p.Printf("Retired versions %v\n", res.RetiredVersions)
	}
	return nil
}

// RotateMasterKey rotates the master key of the server data directory
// dataDir, optionally re-wraps every secret under the new version and
// retires the older versions. It fails with store.ErrLocked while a
// server runs on dataDir.
func RotateMasterKey(ctx context.Context, dataDir string, rewrap, retire bool) (res *RotateResult, err error) {
	if _, err := os.Stat(dataDir); err != nil {
		return nil, &cmdutil.NotFoundError{What: "data directory " + dataDir, Err: err}
	}
	// The store lock first: it is what tells us no server is running.
	st, err := store.Open(filepath.Join(dataDir, "store"), store.Options{})
	if errors.Is(err, store.ErrLocked) {
		return nil, cmdutil.WithHint(fmt.Errorf("the data directory %s is in use: %w", dataDir, err),
			"stop 'ossctl serve' on it first, then rotate")
	}
	if err != nil {
		return nil, fmt.Errorf("opening the store in %s: %w", dataDir, err)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil {
			res, err = nil, errors.Join(err, fmt.Errorf("closing the store: %w", cerr))
		}
	}()
	kr, err := sealing.Open(dataDir)
	if err != nil {
		return nil, fmt.Errorf("opening the server master key: %w", err)
	}
	old := kr.Versions()
	v, err := kr.Rotate()
	if err != nil {
		return nil, fmt.Errorf("rotating the server master key: %w", err)
	}
	res = &RotateResult{DataDir: dataDir, PrimaryVersion: v}
	if rewrap {
		if res.DataKeysMoved, err = server.RewrapDataKeys(ctx, st, kr, sealing.BlobVersion); err != nil {
			return nil, fmt.Errorf("re-wrapping data keys (the new version is in place; run again to finish): %w", err)
		}
		kms, err := pop.New(pop.Config{Store: st, Sealer: kr, AccountID: "rotation"})
		if err != nil {
			return nil, err
		}
		if res.KMSSecretsMoved, err = kms.RewrapMaterial(); err != nil {
			return nil, fmt.Errorf("re-wrapping KMS key material (run again to finish): %w", err)
		}
		res.Rewrapped = true
	}
	if retire {
		for _, ov := range old {
			if err := kr.Retire(ov); err != nil {
				return nil, fmt.Errorf("retiring master key version %d: %w", ov, err)
			}
			res.RetiredVersions = append(res.RetiredVersions, ov)
		}
	}
	res.RemainingVersion = kr.Versions()
	return res, nil
}
