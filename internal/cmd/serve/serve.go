// Package serve implements `ossctl serve`: the bundled OSS-compatible
// server on an embedded, crash-safe store. It only parses flags and wires
// the store, auth and server packages together.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/auth"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/pop"
	"github.com/ossctl/ossctl/internal/sealing"
	"github.com/ossctl/ossctl/internal/server"
	"github.com/ossctl/ossctl/internal/store"
)

// Environment variables serve reads. The root key names are relied on by
// scripts and CI jobs: keep them.
const (
	EnvAddr             = "OSSCTL_ADDR"
	EnvDataDir          = "OSSCTL_DATA_DIR"
	EnvRootKeyID        = "OSSCTL_ROOT_ACCESS_KEY_ID"
	EnvRootKeySecret    = "OSSCTL_ROOT_ACCESS_KEY_SECRET" // #nosec G101 -- a variable name, not a secret
	DefaultAddr         = "127.0.0.1:9000"
	DefaultRegion       = "cn-hangzhou"
	shutdownGracePeriod = 30 * time.Second
)

// Options are the parsed flags of serve.
type Options struct {
	IO       *iostreams.IOStreams
	Getenv   func(string) string
	Addr     string
	DataDir  string
	Region   string
	Domains  []string
	LogLevel string

	// Ready, when set, is called with the listening address once the
	// server accepts connections (tests use it with --addr 127.0.0.1:0).
	Ready func(addr string)
}

// NewCmdServe builds `ossctl serve` and its `credentials` subcommand.
func NewCmdServe(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Getenv: os.Getenv}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a local OSS-compatible server",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Run a local server that speaks the OSS protocol, backed by an embedded, crash-safe store
			in a data directory. The official OSS SDKs, ossutil and ossctl work against it unchanged:
			path-style requests on an IP endpoint (http://127.0.0.1:9000/bucket/key) and virtual-host
			requests (http://bucket.localhost:9000/key, or bucket.DOMAIN with --domain).

			Every request is authenticated (V1 and V4 signatures, presigned URLs) with the root
			AccessKey pair, which the first start generates and stores with mode 0600 in the data
			directory, or which $OSSCTL_ROOT_ACCESS_KEY_ID and $OSSCTL_ROOT_ACCESS_KEY_SECRET set.
			Anonymous requests get what the bucket and object ACLs allow; buckets are private unless
			created otherwise.

			'ossctl serve credentials' prints shell exports that point ossctl, ossutil and the SDKs
			at the server. SIGINT or SIGTERM finishes in-flight requests and closes the store.

		`), cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage),
		Example: heredoc.Doc(`
			# serve on 127.0.0.1:9000 from the default data directory
			$ ossctl serve

			# in another shell: point ossctl at it and use it
			$ eval "$(ossctl serve credentials)"
			$ ossctl mb oss://demo-bucket

			# another address and data directory, with a fixed root key from the environment
			$ OSSCTL_ROOT_ACCESS_KEY_ID=... OSSCTL_ROOT_ACCESS_KEY_SECRET=... ossctl serve --addr 127.0.0.1:9100 --data-dir ./oss-data
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.applyDefaults(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	addAddrFlag(cmd, &opts.Addr, "address to listen on, HOST:PORT")
	addDataDirFlag(cmd, &opts.DataDir)
	fl.StringVar(&opts.Region, "region", DefaultRegion, "region the server reports (bucket Location is oss-REGION)")
	fl.StringSliceVar(&opts.Domains, "domain", nil, "base domain for virtual-host requests, BUCKET.DOMAIN (repeatable; localhost is always served)")
	fl.StringVar(&opts.LogLevel, "log-level", "info", "log level: {debug|info|warn|error}")
	_ = cmd.RegisterFlagCompletionFunc("log-level", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp
	})
	cmd.AddCommand(newCmdCredentials(f))
	cmd.AddCommand(NewCmdRotateMasterKey(f, nil))
	return cmd
}

// applyDefaults fills values from the environment where no flag was given
// and validates the result.
func (o *Options) applyDefaults(cmd *cobra.Command) error {
	var err error
	if o.Addr, err = resolveAddr(cmd, o.Addr, o.Getenv); err != nil {
		return err
	}
	if o.DataDir, err = resolveDataDir(cmd, o.DataDir, o.Getenv); err != nil {
		return err
	}
	switch o.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return cmdutil.FlagErrorf("invalid --log-level %q: want debug, info, warn or error", o.LogLevel)
	}
	for _, d := range o.Domains {
		if d == "" || strings.ContainsAny(d, "/: ") {
			return cmdutil.FlagErrorf("invalid --domain %q: want a host name such as oss.local", d)
		}
	}
	return nil
}

// addAddrFlag and addDataDirFlag register the --addr and --data-dir flags
// that serve and its subcommands share; resolveAddr and resolveDataDir give
// them their values: the flag if given, else the environment, else the
// default.
func addAddrFlag(cmd *cobra.Command, addr *string, usage string) {
	cmd.Flags().StringVar(addr, "addr", "", usage+" (default: $"+EnvAddr+" or "+DefaultAddr+")")
}

func addDataDirFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "data-dir", "", "data directory (default: $"+EnvDataDir+" or the user data directory)")
}

func resolveAddr(cmd *cobra.Command, flag string, getenv func(string) string) (string, error) {
	addr := flag
	if !cmd.Flags().Changed("addr") {
		if addr = getenv(EnvAddr); addr == "" {
			addr = DefaultAddr
		}
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", cmdutil.FlagErrorf("invalid --addr %q: want HOST:PORT", addr)
	}
	return addr, nil
}

func resolveDataDir(cmd *cobra.Command, flag string, getenv func(string) string) (string, error) {
	dir := flag
	if !cmd.Flags().Changed("data-dir") {
		dir = getenv(EnvDataDir)
	}
	if dir == "" {
		return DefaultDataDir(getenv)
	}
	return dir, nil
}

// DefaultDataDir is the per-user data directory: $XDG_DATA_HOME/ossctl or
// ~/.local/share/ossctl on Unix, ~/Library/Application Support/ossctl on
// macOS, %LocalAppData%\ossctl on Windows.
func DefaultDataDir(getenv func(string) string) (string, error) {
	switch runtime.GOOS {
	case "windows":
		if d := getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "ossctl"), nil
		}
	case "darwin":
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, "Library", "Application Support", "ossctl"), nil
		}
	default:
		if d := getenv("XDG_DATA_HOME"); d != "" {
			return filepath.Join(d, "ossctl"), nil
		}
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, ".local", "share", "ossctl"), nil
		}
	}
	return "", errors.New("cannot determine a data directory: set --data-dir or $" + EnvDataDir)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

func run(ctx context.Context, opts *Options) (err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	root, source, err := loadOrCreateRoot(opts.DataDir, opts.Getenv(EnvRootKeyID), opts.Getenv(EnvRootKeySecret))
	if err != nil {
		return fmt.Errorf("root credentials: %w", err)
	}

	st, err := store.Open(filepath.Join(opts.DataDir, "store"), store.Options{})
	if err != nil {
		return fmt.Errorf("opening the store in %s: %w", opts.DataDir, err)
	}
	defer func() {
		// On the shutdown path below the store is already closed (and a
		// failure reported); this covers the early returns.
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("closing the store: %w", cerr))
		}
	}()

	logger := newLogger(opts.IO.ErrOut, opts.LogLevel)
	rootCred := &auth.Credential{
		AccessKeyID: root.AccessKeyID,
		Secret:      root.AccessKeySecret,
		Principal:   auth.Principal{Root: true, AccessKeyID: root.AccessKeyID, AccountID: root.AccountID},
	}
	lookup := func(id string) (*auth.Credential, bool) {
		if id == rootCred.AccessKeyID {
			return rootCred, true
		}
		return nil, false
	}
	// The server master key seals KMS key material (and, with server-side
	// encryption, data keys) at rest.
	sealer, err := sealing.Open(opts.DataDir)
	if err != nil {
		return fmt.Errorf("opening the server master key: %w", err)
	}
	kms, err := pop.New(pop.Config{
		Store:     st,
		Sealer:    sealer,
		Lookup:    lookup,
		AccountID: root.AccountID,
		Region:    opts.Region,
		Logger:    logger,
	})
	if err != nil {
		return err
	}
	handler, err := server.New(server.Config{
		Store:     st,
		AccountID: root.AccountID,
		Region:    opts.Region,
		Domains:   opts.Domains,
		Logger:    logger,
		Lookup:    lookup,
		POP:       kms,
		MasterKey: sealer,
		KMS:       kms,
	})
	if err != nil {
		return err
	}
	go purgeDeletedKeys(ctx, kms, logger)

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", opts.Addr, err)
	}
	endpoint := "http://" + ln.Addr().String()
	srv := server.NewHTTPServer(handler)
	srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)

	printBanner(opts, endpoint, root, source)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}

	select {
	case err := <-serveErr:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	opts.IO.Eprintln("ossctl serve: shutting down, finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGracePeriod)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		logger.Warn("forced shutdown", "err", err)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	opts.IO.Eprintln("ossctl serve: stopped")
	return nil
}

// purgeDeletedKeys removes KMS keys whose deletion date has passed, hourly
// (lookups also purge them lazily).
func purgeDeletedKeys(ctx context.Context, kms *pop.Handler, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := kms.PurgeDeleted(); err != nil {
				logger.Warn("purging deleted KMS keys", "err", err)
			} else if n > 0 {
				logger.Info("purged deleted KMS keys", "count", n)
			}
		}
	}
}

// printBanner tells the user where the server is and how to reach it. The
// secret appears only on the first start, and only on a terminal.
func printBanner(opts *Options, endpoint string, root *rootCredentials, source credentialSource) {
	opts.IO.Eprintf("ossctl serve: listening on %s (data: %s)\n", endpoint, opts.DataDir)
	credPath := filepath.Join(opts.DataDir, credentialsFile)
	switch source {
	case credsEnv:
		opts.IO.Eprintf("root AccessKey %s from $%s\n", root.AccessKeyID, EnvRootKeyID)
		return
	case credsLoaded:
		opts.IO.Eprintf("root AccessKey %s (secret in %s)\n", root.AccessKeyID, credPath)
		opts.IO.Eprintf("point clients here with: eval \"$(ossctl serve credentials%s)\"\n", dataDirArg(opts))
		return
	}
	opts.IO.Eprintf("\nCreated the root AccessKey pair in %s (mode 0600).\n", credPath)
	opts.IO.Eprintln("Point ossctl, ossutil or an OSS SDK at this server:")
	opts.IO.Eprintf("  export OSS_ENDPOINT=%s\n", endpoint)
	opts.IO.Eprintf("  export OSS_ACCESS_KEY_ID=%s\n", root.AccessKeyID)
	if opts.IO.IsStderrTTY() {
		opts.IO.Eprintf("  export OSS_ACCESS_KEY_SECRET=%s   # shown only this once\n", root.AccessKeySecret)
	} else {
		opts.IO.Eprintf("  export OSS_ACCESS_KEY_SECRET=...   # see %s\n", credPath)
	}
	opts.IO.Eprintf("or simply: eval \"$(ossctl serve credentials%s)\"\n", dataDirArg(opts))
	opts.IO.Eprintln("  ossutil: ossutil -e \"$OSS_ENDPOINT\" -i \"$OSS_ACCESS_KEY_ID\" -k \"$OSS_ACCESS_KEY_SECRET\" ls")
	opts.IO.Eprintln()
}

func dataDirArg(opts *Options) string {
	def, err := DefaultDataDir(opts.Getenv)
	if err == nil && def == opts.DataDir {
		return ""
	}
	return " --data-dir " + shellQuote(opts.DataDir)
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !shellSafe(r)
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellSafe reports whether r needs no quoting in a POSIX shell word.
func shellSafe(r rune) bool {
	return strings.ContainsRune("/.-_:@%+,=", r) || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}
