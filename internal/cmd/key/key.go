// Package key implements `ossctl key`: local RSA master keys for client-side encryption, kept in
// a passphrase-sealed keyring file (crypto/keyring).
package key

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/crypto/keyring"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/config"
	"github.com/ossctl/ossctl/internal/cse"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
)

// defaultKDF is the Argon2id cost of new keyrings; zero means the library's default (64 MiB).
// Tests lower it.
var defaultKDF keyring.KDFParams

// exitCodes are the exit codes of a key verb.
var exitCodes = []int{cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage, cmdutil.ExitNotFound, cmdutil.ExitIntegrity}

// Base is what every key verb needs; tests build it directly.
type Base struct {
	IO      *iostreams.IOStreams
	Printer func() *output.Printer
	Now     func() time.Time
	Ctx     context.Context
	// Config resolves the keyring setting; LookupEnv and Home serve the passphrase and paths.
	Config    func() (*config.Resolved, error)
	LookupEnv func(string) (string, bool)
	Home      string
	// Keyring is --keyring; PassphraseCommand is --passphrase-command.
	Keyring           string
	PassphraseCommand string
}

// NewCmdKey builds `ossctl key` and its verbs.
func NewCmdKey(f *cmdutil.Factory) *cobra.Command {
	base := &Base{IO: f.IOStreams, Printer: f.Printer, Now: f.Now, Config: f.Config, LookupEnv: f.Env.LookupEnv}
	if f.Env.HomeDir != nil {
		base.Home, _ = f.Env.HomeDir()
	}
	cmd := &cobra.Command{
		Use:   "key <command>",
		Short: "Manage local master keys for client-side encryption",
		Long: heredoc.Docf(`
			Local master keys are RSA key pairs kept in a keyring file sealed with a passphrase
			(Argon2id and XChaCha20-Poly1305). 'ossctl cp --encrypt key:NAME' wraps each object's
			data key with the key's primary version, in the official SDKs' RSA/NONE/PKCS1Padding
			format; downloads find the version from the object's matdesc.

			The keyring is --keyring, else the profile's keyring setting ($OSSCTL_KEYRING), else
			<user config dir>/ossctl/keyring.json. It is written 0600 and atomically; a keyring
			that its group or others can read is refused. The passphrase comes from
			--passphrase-command (its standard output), else $%s, else a prompt.
		`, cse.EnvPassphrase),
		Example: heredoc.Doc(`
			$ ossctl key create laptop
			$ ossctl key list
			$ ossctl cp --encrypt key:laptop report.pdf oss://my-bucket/
		`),
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			base.Ctx = cmd.Context()
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&base.Keyring, "keyring", "", "keyring file (default: $OSSCTL_KEYRING or <user config dir>/ossctl/keyring.json)")
	pf.StringVar(&base.PassphraseCommand, "passphrase-command", "", "command that prints the keyring passphrase (default: $"+cse.EnvPassphrase+" or a prompt)")
	cmd.AddCommand(
		newCmdCreate(base, nil),
		newCmdList(base, nil),
		newCmdShow(base, nil),
		newCmdExportPublic(base, nil),
		newCmdImport(base, nil),
		newCmdRotate(base, nil),
		newCmdDelete(base, nil),
	)
	return cmd
}

func (b *Base) passphrase() cse.PassphraseSource {
	return cse.PassphraseSource{IO: b.IO, LookupEnv: b.LookupEnv, Command: b.PassphraseCommand, Ctx: b.Ctx}
}

// path resolves the keyring file.
func (b *Base) path() (string, error) {
	var cfg *config.Resolved
	if b.Keyring == "" && b.Config != nil {
		c, err := b.Config()
		if err != nil {
			return "", err
		}
		cfg = c
	}
	return cse.KeyringPath(b.Keyring, cfg, b.LookupEnv, b.Home)
}

// open opens the existing keyring.
func (b *Base) open() (*keyring.Keyring, error) {
	p, err := b.path()
	if err != nil {
		return nil, err
	}
	return cse.OpenKeyring(p, b.passphrase(), b.Now)
}

// openOrCreate opens the keyring, creating it (with a confirmed passphrase) when it does not
// exist yet. created reports which happened.
func (b *Base) openOrCreate() (kr *keyring.Keyring, created bool, err error) {
	p, err := b.path()
	if err != nil {
		return nil, false, err
	}
	if _, err := os.Stat(p); err == nil || !errors.Is(err, fs.ErrNotExist) {
		kr, err := cse.OpenKeyring(p, b.passphrase(), b.Now)
		return kr, false, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, false, fmt.Errorf("creating the keyring directory: %w", err)
	}
	pass, err := b.passphrase().Get(true)
	if err != nil {
		return nil, false, fmt.Errorf("creating keyring %s: %w", p, err)
	}
	kr, err = keyring.Create(p, pass, &keyring.Options{KDF: defaultKDF, Now: b.Now})
	clear(pass)
	if err != nil {
		return nil, false, fmt.Errorf("creating keyring %s: %w", p, err)
	}
	return kr, true, nil
}

// Result is the JSON form of a keyring key (no secret material).
type Result struct {
	Name         string          `json:"name"`
	State        string          `json:"state"`
	Created      time.Time       `json:"created"`
	DeletionDate *time.Time      `json:"deletionDate,omitempty"`
	Primary      int             `json:"primaryVersion"`
	Spec         string          `json:"spec"`
	Versions     []VersionResult `json:"versions"`
}

// VersionResult is one key version.
type VersionResult struct {
	Version       int       `json:"version"`
	Created       time.Time `json:"created"`
	MatDesc       string    `json:"matDesc"`
	Bits          int       `json:"bits"`
	Fingerprint   string    `json:"fingerprint"`
	HasPrivateKey bool      `json:"hasPrivateKey"`
}

func toResult(k keyring.KeyInfo) Result {
	r := Result{Name: k.Name, State: string(k.State), Created: k.Created.UTC(), Primary: k.Primary, Spec: "key:" + k.Name}
	if !k.DeletionDate.IsZero() {
		d := k.DeletionDate.UTC()
		r.DeletionDate = &d
	}
	for _, v := range k.Versions {
		r.Versions = append(r.Versions, VersionResult{Version: v.Version, Created: v.Created.UTC(), MatDesc: v.MatDesc,
			Bits: v.Bits, Fingerprint: v.Fingerprint, HasPrivateKey: v.HasPrivateKey})
	}
	return r
}

func (r Result) primary() VersionResult {
	for _, v := range r.Versions {
		if v.Version == r.Primary {
			return v
		}
	}
	return VersionResult{}
}

func printKey(b *Base, k keyring.KeyInfo) error {
	r := toResult(k)
	p := b.Printer()
	if p.IsJSON() {
		return p.JSON(r)
	}
	pv := r.primary()
	fields := []output.Field{
		{Name: "Name", Value: r.Name},
		{Name: "Spec", Value: r.Spec},
		{Name: "State", Value: r.State},
		{Name: "Created", Value: p.Timestamp(r.Created)},
	}
	if r.DeletionDate != nil {
		fields = append(fields, output.Field{Name: "Deletion date", Value: p.Timestamp(*r.DeletionDate)})
	}
	fields = append(fields,
		output.Field{Name: "Primary version", Value: strconv.Itoa(r.Primary)},
		output.Field{Name: "Fingerprint", Value: pv.Fingerprint},
	)
	for _, v := range r.Versions {
		kind := "RSA-" + strconv.Itoa(v.Bits)
		if !v.HasPrivateKey {
			kind += ", public only (encrypt only)"
		}
		fields = append(fields, output.Field{Name: "Version " + strconv.Itoa(v.Version),
			Value: fmt.Sprintf("%s, created %s, matdesc %s, fingerprint %s", kind, p.Timestamp(v.Created), v.MatDesc, v.Fingerprint)})
	}
	return p.Fields(fields)
}
