package cse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/google/shlex"

	"github.com/ossctl/ossctl/crypto/keyring"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/config"
	"github.com/ossctl/ossctl/internal/iostreams"
)

// EnvPassphrase holds the keyring passphrase for non-interactive use.
const EnvPassphrase = "OSSCTL_KEYRING_PASSPHRASE" //nolint:gosec // a variable name, not a credential

// DefaultKeyringFile is the keyring's file name under the user config directory.
const DefaultKeyringFile = "keyring.json"

// KeyringPath returns the keyring file to use: flag (when non-empty), then the resolved `keyring`
// setting ($OSSCTL_KEYRING or the profile), then <user config dir>/ossctl/keyring.json. home is
// used for a leading "~/" and as the fallback base when no config directory is known.
func KeyringPath(flag string, cfg *config.Resolved, lookupEnv func(string) (string, bool), home string) (string, error) {
	p := flag
	if p == "" && cfg != nil {
		p = cfg.Get(config.KeyKeyring).Value
	}
	if p == "" && cfg == nil && lookupEnv != nil {
		p, _ = lookupEnv("OSSCTL_KEYRING")
	}
	if p != "" {
		if len(p) > 1 && p[0] == '~' && (p[1] == '/' || p[1] == filepath.Separator) && home != "" {
			p = filepath.Join(home, p[2:])
		}
		return p, nil
	}
	dir := ""
	if lookupEnv != nil {
		if x, ok := lookupEnv("XDG_CONFIG_HOME"); ok && x != "" {
			dir = x
		}
	}
	if dir == "" {
		if home == "" {
			d, err := os.UserConfigDir()
			if err != nil {
				return "", fmt.Errorf("finding the user config directory for the keyring: %w", err)
			}
			dir = d
		} else {
			dir = filepath.Join(home, ".config")
		}
	}
	return filepath.Join(dir, "ossctl", DefaultKeyringFile), nil
}

// PassphraseSource says where the keyring passphrase comes from, in this order: Command (run it
// and take its standard output, one trailing newline removed), $OSSCTL_KEYRING_PASSPHRASE, then
// a prompt on the terminal (without echo).
type PassphraseSource struct {
	// IO is used for the prompt.
	IO *iostreams.IOStreams
	// LookupEnv reads the environment.
	LookupEnv func(string) (string, bool)
	// Command is --passphrase-command: a command line split like a shell would (no shell runs).
	Command string
	// Ctx bounds the command.
	Ctx context.Context
}

// ErrNoPassphrase means no passphrase source is available (no command, no environment variable,
// no terminal to prompt on).
var ErrNoPassphrase = errors.New("no keyring passphrase available")

// Get returns the passphrase. With confirm (creating a keyring or changing the passphrase), a
// prompt asks twice and refuses an empty or mismatched answer.
func (s PassphraseSource) Get(confirm bool) ([]byte, error) {
	if s.Command != "" {
		return s.run()
	}
	if s.LookupEnv != nil {
		if v, ok := s.LookupEnv(EnvPassphrase); ok {
			if v == "" {
				return nil, fmt.Errorf("$%s is set but empty", EnvPassphrase)
			}
			return []byte(v), nil
		}
	}
	if s.IO == nil || !s.IO.CanPrompt() {
		return nil, cmdutil.WithHint(ErrNoPassphrase,
			"set $"+EnvPassphrase+", pass --passphrase-command CMD, or run on a terminal to be prompted")
	}
	p, err := s.IO.ReadPassword("Keyring passphrase")
	if err != nil {
		return nil, err
	}
	if p == "" {
		return nil, errors.New("empty keyring passphrase")
	}
	if confirm {
		again, err := s.IO.ReadPassword("Repeat the passphrase")
		if err != nil {
			return nil, err
		}
		if again != p {
			return nil, errors.New("the passphrases do not match")
		}
	}
	return []byte(p), nil
}

func (s PassphraseSource) run() ([]byte, error) {
	argv, err := shlex.Split(s.Command)
	if err != nil || len(argv) == 0 {
		return nil, cmdutil.FlagErrorf("invalid --passphrase-command %q", s.Command)
	}
	ctx := s.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...) //nolint:gosec // the user's own --passphrase-command, run without a shell
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if s.IO != nil {
		cmd.Stdin = s.IO.In
	}
	out, err := cmd.Output()
	if err != nil {
		msg := bytes.TrimSpace(stderr.Bytes())
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if len(msg) > 0 {
			return nil, fmt.Errorf("running the passphrase command %s: %w: %s", argv[0], err, msg)
		}
		return nil, fmt.Errorf("running the passphrase command %s: %w", argv[0], err)
	}
	out = bytes.TrimSuffix(out, []byte("\n"))
	out = bytes.TrimSuffix(out, []byte("\r"))
	if len(out) == 0 {
		return nil, fmt.Errorf("the passphrase command %s printed nothing", argv[0])
	}
	return out, nil
}

// OpenKeyring opens the keyring at path with the passphrase from src. Errors are classified:
// a missing file is a NotFoundError (exit 3) with a hint, a wrong passphrase or tampered file an
// IntegrityError (exit 6), a group- or world-readable file an error with a chmod hint.
func OpenKeyring(path string, src PassphraseSource, now func() time.Time) (*keyring.Keyring, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, cmdutil.WithHint(&cmdutil.NotFoundError{What: "keyring " + path},
			"create one with `ossctl key create NAME`, or point --keyring / $OSSCTL_KEYRING at yours")
	}
	if err != nil {
		return nil, fmt.Errorf("opening keyring %s: %w", path, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, cmdutil.WithHint(fmt.Errorf("opening keyring %s: %w (mode %04o)", path, keyring.ErrInsecurePermissions, st.Mode().Perm()),
			"restrict it with: chmod 600 "+path)
	}
	pass, err := src.Get(false)
	if err != nil {
		return nil, fmt.Errorf("opening keyring %s: %w", path, err)
	}
	kr, err := keyring.Open(path, pass, &keyring.Options{Now: now})
	clear(pass)
	if err != nil {
		return nil, Classify(fmt.Errorf("opening keyring %s: %w", path, err))
	}
	return kr, nil
}
