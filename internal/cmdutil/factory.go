package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/spf13/pflag"

	"github.com/ossctl/ossctl/internal/config"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
	"github.com/ossctl/ossctl/internal/version"
)

// Globals holds the values of the global flags. The root command binds them; the Factory reads
// them lazily, after parsing, so a value counts as given only when its flag Changed.
type Globals struct {
	// Flags is the root command's persistent flag set.
	Flags *pflag.FlagSet
	// ConfigFile is --config.
	ConfigFile string
	// Profile is --profile.
	Profile string
	// Output is --output (text or json); JSON is --json.
	Output string
	JSON   bool
	// Quiet is --quiet; Debug is --debug.
	Quiet bool
	Debug bool
	// Values holds the flags that map onto configuration keys (--endpoint, --region, ...).
	Values map[config.Key]*string
	// PathStyle is --path-style.
	PathStyle bool
	// Format is the output format decided by the root command after parsing.
	Format output.Format
}

// NewGlobals returns empty Globals with a slot for every configuration flag.
func NewGlobals() *Globals {
	g := &Globals{Values: map[config.Key]*string{}, Format: output.FormatText}
	for _, ki := range config.Keys {
		if ki.Flag != "" && ki.Key != config.KeyPathStyle {
			g.Values[ki.Key] = new(string)
		}
	}
	return g
}

// changed reports whether a global flag was given explicitly.
func (g *Globals) changed(name string) bool {
	if g == nil || g.Flags == nil {
		return false
	}
	f := g.Flags.Lookup(name)
	return f != nil && f.Changed
}

// Env is the process environment as the Factory sees it; tests replace it.
type Env struct {
	// LookupEnv reads a variable (os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// HomeDir returns the home directory (os.UserHomeDir).
	HomeDir func() (string, error)
}

// SystemEnv returns the real environment.
func SystemEnv() Env {
	return Env{LookupEnv: os.LookupEnv, HomeDir: os.UserHomeDir}
}

// Factory gives commands what they need, lazily: a flag error never requires credentials, and a
// command that never talks to OSS never reads the config file. Tests build Factories directly and
// replace any field.
type Factory struct {
	// IOStreams is stdin/stdout/stderr.
	IOStreams *iostreams.IOStreams
	// AppVersion is reported in the User-Agent.
	AppVersion string
	// Globals holds the global flag values (bound by the root command).
	Globals *Globals
	// Env is the environment used for configuration.
	Env Env
	// Now is the clock.
	Now func() time.Time
	// Config resolves configuration (flags, env, profile, ossutil config, defaults). The result is
	// cached.
	Config func() (*config.Resolved, error)
	// OSS returns the OSS SDK client built from Config. The result is cached.
	OSS func() (*oss.Client, error)
	// OSSTransfer returns the client of the transfer engine (cp, sync, cat): the
	// same settings with the SDK's CRC-64 off, because the engine verifies
	// CRC-64 end to end itself. The result is cached.
	OSSTransfer func() (*oss.Client, error)
	// KMS returns the KMS client built from Config (see kms.go). The result is cached.
	KMS func() (*KMSClient, error)
	// Printer returns the printer for the selected output format.
	Printer func() *output.Printer
	// Logger returns the --debug logger (it discards everything without --debug).
	Logger func() *slog.Logger
	// Redactor scrubs secrets from text meant for logs and error messages.
	Redactor *Redactor
	// Context is the process context (canceled by SIGINT/SIGTERM); SDK clients bind every request
	// to it. Commands use cmd.Context(), which is the same context.
	Context context.Context
}

// New returns a Factory for the given streams and environment with lazy, cached Config and OSS.
func New(ios *iostreams.IOStreams, env Env) *Factory {
	f := &Factory{
		IOStreams:  ios,
		AppVersion: version.String(),
		Globals:    NewGlobals(),
		Env:        env,
		Now:        time.Now,
		Redactor:   &Redactor{},
	}
	f.Config = sync.OnceValues(func() (*config.Resolved, error) {
		cfg, err := config.Resolve(f.ConfigInputs())
		if err != nil {
			return nil, fmt.Errorf("loading configuration: %w", err)
		}
		f.Redactor.Add(cfg.Secrets()...)
		for _, w := range cfg.Warnings {
			f.IOStreams.Eprintf("warning: %s\n", w)
		}
		return cfg, nil
	})
	f.OSS = sync.OnceValues(func() (*oss.Client, error) {
		cfg, err := f.Config()
		if err != nil {
			return nil, err
		}
		return NewOSSClient(cfg, f.clientOptions())
	})
	f.OSSTransfer = sync.OnceValues(func() (*oss.Client, error) {
		cfg, err := f.Config()
		if err != nil {
			return nil, err
		}
		o := f.clientOptions()
		o.Context, o.NoSDKCRC = nil, true
		return NewOSSClient(cfg, o)
	})
	f.KMS = sync.OnceValues(func() (*KMSClient, error) {
		cfg, err := f.Config()
		if err != nil {
			return nil, err
		}
		return NewKMSClient(cfg, f.clientOptions())
	})
	f.Logger = sync.OnceValue(func() *slog.Logger {
		return NewLogger(f.IOStreams.ErrOut, f.Globals != nil && f.Globals.Debug, f.Redactor)
	})
	f.Printer = func() *output.Printer {
		format := output.FormatText
		if f.Globals != nil && f.Globals.Format != "" {
			format = f.Globals.Format
		}
		return output.New(f.IOStreams, format, f.Now)
	}
	return f
}

// clientOptions are the options every SDK client of the Factory is built with.
func (f *Factory) clientOptions() ClientOptions {
	return ClientOptions{
		UserAgent: "ossctl/" + f.AppVersion,
		Logger:    f.Logger(),
		Redactor:  f.Redactor,
		Context:   f.Context,
	}
}

// ConfigInputs collects the inputs of config.Resolve from the global flags and the environment.
func (f *Factory) ConfigInputs() config.Inputs {
	in := config.Inputs{Flags: map[config.Key]string{}, LookupEnv: f.Env.LookupEnv}
	if f.Env.HomeDir != nil {
		if h, err := f.Env.HomeDir(); err == nil {
			in.HomeDir = h
		}
	}
	g := f.Globals
	if g == nil {
		return in
	}
	if g.changed("config") {
		in.ConfigFlag = &g.ConfigFile
	}
	if g.changed("profile") {
		in.ProfileFlag = &g.Profile
	}
	for _, ki := range config.Keys {
		if ki.Flag == "" || !g.changed(ki.Flag) {
			continue
		}
		if ki.Key == config.KeyPathStyle {
			in.Flags[ki.Key] = fmt.Sprint(g.PathStyle)
			continue
		}
		if p := g.Values[ki.Key]; p != nil {
			in.Flags[ki.Key] = *p
		}
	}
	return in
}

// ErrNoEndpoint is returned when no endpoint is configured anywhere.
var ErrNoEndpoint = errors.New("no OSS endpoint configured")

// ErrNoCredentials is returned when no AccessKey pair is configured anywhere.
var ErrNoCredentials = errors.New("no OSS credentials configured")
