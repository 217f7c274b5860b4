// Package cmdutiltest builds Factories for command tests: buffered streams, an isolated home
// directory, and configuration pointing at a test endpoint (usually internal/server/servertest).
package cmdutiltest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
)

// Streams are the buffers behind a test Factory's IOStreams.
type Streams struct {
	IO     *iostreams.IOStreams
	In     *bytes.Buffer
	Out    *bytes.Buffer
	ErrOut *bytes.Buffer
}

// Options configure New.
type Options struct {
	// Endpoint, AccessKeyID and AccessKeySecret become OSS_ENDPOINT, OSS_ACCESS_KEY_ID and
	// OSS_ACCESS_KEY_SECRET.
	Endpoint        string
	AccessKeyID     string
	AccessKeySecret string
	// Env adds or overrides environment variables.
	Env map[string]string
	// JSON selects JSON output.
	JSON bool
	// StdoutTTY and StderrTTY flip terminal detection.
	StdoutTTY, StderrTTY bool
	// Now fixes the clock (default: time.Now).
	Now func() time.Time
}

// New returns a Factory whose configuration comes only from opts (no ~/.ossctlconfig, no
// ~/.ossutilconfig: the home directory is a fresh temporary directory).
func New(t testing.TB, opts Options) (*cmdutil.Factory, Streams) {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	ios.SetStdoutTTY(opts.StdoutTTY)
	ios.SetStderrTTY(opts.StderrTTY)
	home := t.TempDir()
	env := map[string]string{}
	if opts.Endpoint != "" {
		env["OSS_ENDPOINT"] = opts.Endpoint
	}
	if opts.AccessKeyID != "" {
		env["OSS_ACCESS_KEY_ID"] = opts.AccessKeyID
	}
	if opts.AccessKeySecret != "" {
		env["OSS_ACCESS_KEY_SECRET"] = opts.AccessKeySecret
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	f := cmdutil.New(ios, cmdutil.Env{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		HomeDir:   func() (string, error) { return home, nil },
	})
	f.Context = context.Background()
	if opts.Now != nil {
		f.Now = opts.Now
	}
	if opts.JSON {
		f.Globals.Format = output.FormatJSON
		ios.SetMachineOutput(true)
	}
	return f, Streams{IO: ios, In: in, Out: out, ErrOut: errOut}
}
