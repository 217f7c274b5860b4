package key

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/crypto/keyring"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/cse"
)

// NameOptions are the inputs of verbs that take a key name.
type NameOptions struct {
	*Base
	Name string
	// Bits is the RSA modulus size for create and rotate (0: 3072).
	Bits int
	// Version selects a key version for export-public (0: primary).
	Version int
}

// keyName checks a NAME argument.
func keyName(arg string) (string, error) {
	if err := cse.ValidateKeyName(arg); err != nil {
		return "", cmdutil.FlagErrorWrap(err)
	}
	return arg, nil
}

func nameArg(opts *NameOptions, args []string) error {
	name, err := keyName(args[0])
	if err != nil {
		return err
	}
	opts.Name = name
	if opts.Bits != 0 && (opts.Bits < keyring.MinRSABits || opts.Bits > 8192 || opts.Bits%8 != 0) {
		return cmdutil.FlagErrorf("invalid --bits %d: want a multiple of 8 from %d to 8192", opts.Bits, keyring.MinRSABits)
	}
	return nil
}

func save(kr *keyring.Keyring) error {
	if err := kr.Save(); err != nil {
		return fmt.Errorf("saving keyring %s: %w", kr.Path(), err)
	}
	return nil
}

// saveAndPrint saves the keyring, tells whether it was just created and
// prints key k.
func saveAndPrint(b *Base, kr *keyring.Keyring, created bool, k keyring.KeyInfo) error {
	if err := save(kr); err != nil {
		return err
	}
	if created {
		b.IO.Eprintf("Created keyring %s\n", kr.Path())
	}
	return printKey(b, k)
}

// nameRunE is the RunE of a verb that takes NAME: it checks the argument
// and --bits, then check (if any), and calls runF (tests) or run.
func nameRunE(opts *NameOptions, runF, run func(*NameOptions) error, check func() error) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		if err := nameArg(opts, args); err != nil {
			return err
		}
		if check != nil {
			if err := check(); err != nil {
				return err
			}
		}
		if runF != nil {
			return runF(opts)
		}
		return run(opts)
	}
}

func newCmdCreate(b *Base, runF func(*NameOptions) error) *cobra.Command {
	opts := &NameOptions{Base: b}
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a master key (and the keyring, if needed)",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Generate an RSA key pair named NAME as version 1 of a new key. When the keyring file
			does not exist yet, it is created (mode 0600) and the passphrase is asked twice.
			Encrypt with it using 'ossctl cp --encrypt key:NAME'. Back the keyring up: objects
			encrypted under a lost key cannot be recovered.
		`), exitCodes...),
		Example: heredoc.Doc(`
			$ ossctl key create laptop
			$ OSSCTL_KEYRING_PASSPHRASE=... ossctl key create ci --bits 4096 --output json
		`),
		Args: cmdutil.ExactArgs(1, "NAME"),
		RunE: nameRunE(opts, runF, runCreate, nil),
	}
	cmd.Flags().IntVar(&opts.Bits, "bits", 0, "RSA modulus size (default 3072)")
	return cmd
}

func runCreate(opts *NameOptions) error {
	kr, created, err := opts.openOrCreate()
	if err != nil {
		return err
	}
	k, err := kr.Generate(opts.Name, opts.Bits)
	if errors.Is(err, keyring.ErrExists) {
		return cmdutil.FlagErrorf("a key named %q already exists in %s: use 'ossctl key rotate %s' for a new version", opts.Name, kr.Path(), opts.Name)
	}
	if err != nil {
		return fmt.Errorf("generating key %s: %w", opts.Name, err)
	}
	return saveAndPrint(opts.Base, kr, created, k)
}

// ListOptions are the inputs of `key list`.
type ListOptions struct{ *Base }

func newCmdList(b *Base, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Base: b}
	return &cobra.Command{
		Use:   "list",
		Short: "List the keyring's keys",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			List the keys: name, state, primary version, creation time and the primary version's
			fingerprint (SHA-256 of the public key). JSON output is one line per key.
		`), exitCodes...),
		Example: "$ ossctl key list\n",
		Args:    cmdutil.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runList(opts)
		},
	}
}

func runList(opts *ListOptions) error {
	kr, err := opts.open()
	if err != nil {
		return err
	}
	p := opts.Printer()
	keys := kr.Keys()
	if p.IsJSON() {
		for _, k := range keys {
			if err := p.JSONLine(toResult(k)); err != nil {
				return err
			}
		}
		return nil
	}
	t := p.Table("NAME", "STATE", "VERSION", "CREATED", "FINGERPRINT")
	for _, k := range keys {
		r := toResult(k)
		state := r.State
		if r.DeletionDate != nil {
			state += " (" + p.Timestamp(*r.DeletionDate) + ")"
		}
		t.AddRow(r.Name, state, strconv.Itoa(r.Primary), p.Timestamp(r.Created), r.primary().Fingerprint)
	}
	return t.Render()
}

func newCmdShow(b *Base, runF func(*NameOptions) error) *cobra.Command {
	opts := &NameOptions{Base: b}
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a key and its versions",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Show a key: state, deletion date, and every version with its size, creation time,
			material description (matdesc, stored with each object) and fingerprint. No secret
			material is printed.
		`), exitCodes...),
		Example: "$ ossctl key show laptop\n",
		Args:    cmdutil.ExactArgs(1, "NAME"),
		RunE:    nameRunE(opts, runF, runShow, nil),
	}
}

func lookup(kr *keyring.Keyring, name string) (keyring.KeyInfo, error) {
	k, err := kr.Key(name)
	if errors.Is(err, keyring.ErrKeyNotFound) {
		return k, &cmdutil.NotFoundError{What: fmt.Sprintf("key %q in %s", name, kr.Path())}
	}
	return k, err
}

// openKey opens the keyring and looks key name up in it.
func openKey(b *Base, name string) (*keyring.Keyring, keyring.KeyInfo, error) {
	kr, err := b.open()
	if err != nil {
		return nil, keyring.KeyInfo{}, err
	}
	k, err := lookup(kr, name)
	if err != nil {
		return nil, keyring.KeyInfo{}, err
	}
	return kr, k, nil
}

func runShow(opts *NameOptions) error {
	_, k, err := openKey(opts.Base, opts.Name)
	if err != nil {
		return err
	}
	return printKey(opts.Base, k)
}

func newCmdExportPublic(b *Base, runF func(*NameOptions) error) *cobra.Command {
	opts := &NameOptions{Base: b}
	cmd := &cobra.Command{
		Use:   "export-public NAME",
		Short: "Print a key's public key as PEM",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Print the public half of a key version (default: the primary one) as a PEM "PUBLIC
			KEY" on standard output. Whoever holds it can encrypt objects for you (for example
			with the official SDKs' RSA master cipher and the matdesc shown by 'ossctl key show'),
			but only the keyring can decrypt them.
		`), exitCodes...),
		Example: heredoc.Doc(`
			$ ossctl key export-public laptop > laptop.pub.pem
			$ ossctl key export-public laptop --version 1
		`),
		Args: cmdutil.ExactArgs(1, "NAME"),
		RunE: nameRunE(opts, runF, runExportPublic, func() error {
			if opts.Version < 0 {
				return cmdutil.FlagErrorf("invalid --version %d", opts.Version)
			}
			return nil
		}),
	}
	cmd.Flags().IntVar(&opts.Version, "version", 0, "key version (default: the primary version)")
	return cmd
}

func runExportPublic(opts *NameOptions) error {
	kr, _, err := openKey(opts.Base, opts.Name)
	if err != nil {
		return err
	}
	pemBytes, err := kr.PublicKeyPEM(opts.Name, opts.Version)
	if errors.Is(err, keyring.ErrKeyNotFound) {
		return &cmdutil.NotFoundError{What: fmt.Sprintf("version %d of key %q", opts.Version, opts.Name)}
	}
	if err != nil {
		return fmt.Errorf("exporting the public key of %s: %w", opts.Name, err)
	}
	if _, err := opts.IO.Out.Write(pemBytes); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// ImportOptions are the inputs of `key import`.
type ImportOptions struct {
	*Base
	Name string
	// In is the PEM file, or - for standard input.
	In string
	// MatDesc labels the key as other tools know it (a JSON object of strings).
	MatDesc string
}

func newCmdImport(b *Base, runF func(*ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{Base: b}
	cmd := &cobra.Command{
		Use:   "import NAME --in FILE|-",
		Short: "Import an existing RSA key",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Import an RSA private key (PEM "PRIVATE KEY" or "RSA PRIVATE KEY") or, for an
			encrypt-only key, a public key (PEM "PUBLIC KEY" or "RSA PUBLIC KEY") as key NAME. The
			PEM is read from --in, a file or - for standard input, never from the command line.
			Give --matdesc to label it as your SDK applications do, so that objects they wrote
			are found: ossctl selects keys by matdesc, as the official SDKs do.
		`), exitCodes...),
		Example: heredoc.Doc(`
			$ ossctl key import app-rsa --in private.pem --matdesc '{"desc":"app"}'
			$ ossctl key import partner --in partner.pub.pem
		`),
		Args: cmdutil.ExactArgs(1, "NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			name, err := keyName(args[0])
			if err != nil {
				return err
			}
			opts.Name = name
			if opts.In == "" {
				return cmdutil.FlagErrorf("--in FILE (or - for standard input) is required")
			}
			if opts.MatDesc != "" {
				var m map[string]string
				if err := json.Unmarshal([]byte(opts.MatDesc), &m); err != nil || len(m) == 0 {
					return cmdutil.FlagErrorf("invalid --matdesc: want a non-empty JSON object of strings, e.g. '{\"desc\":\"app\"}'")
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return runImport(opts)
		},
	}
	cmd.Flags().StringVar(&opts.In, "in", "", "PEM file, or - for standard input")
	cmd.Flags().StringVar(&opts.MatDesc, "matdesc", "", "material description to label the key with (JSON object)")
	return cmd
}

func runImport(opts *ImportOptions) error {
	r := io.Reader(opts.IO.In)
	if opts.In != "-" {
		f, err := os.Open(opts.In)
		if err != nil {
			return fmt.Errorf("reading the key: %w", err)
		}
		defer func() { _ = f.Close() }()
		r = f
	}
	pemBytes, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the key: %w", err)
	}
	defer clear(pemBytes)
	var md map[string]string
	if opts.MatDesc != "" {
		_ = json.Unmarshal([]byte(opts.MatDesc), &md)
	}
	kr, created, err := opts.openOrCreate()
	if err != nil {
		return err
	}
	k, err := kr.Import(opts.Name, pemBytes, md)
	if errors.Is(err, keyring.ErrExists) {
		return cmdutil.FlagErrorf("importing %s: %v", opts.Name, err)
	}
	if err != nil {
		return fmt.Errorf("importing %s: %w", opts.Name, err)
	}
	return saveAndPrint(opts.Base, kr, created, k)
}

func newCmdRotate(b *Base, runF func(*NameOptions) error) *cobra.Command {
	opts := &NameOptions{Base: b}
	cmd := &cobra.Command{
		Use:   "rotate NAME",
		Short: "Add a new primary version to a key",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Generate a new RSA key pair as the key's next version and make it primary: new
			objects use it, objects under older versions still decrypt. To move old objects to
			the new version, run 'ossctl cse rewrap oss://BUCKET/PREFIX -r --to key:NAME'.
		`), exitCodes...),
		Example: "$ ossctl key rotate laptop\n",
		Args:    cmdutil.ExactArgs(1, "NAME"),
		RunE:    nameRunE(opts, runF, runRotate, nil),
	}
	cmd.Flags().IntVar(&opts.Bits, "bits", 0, "RSA modulus size (default 3072)")
	return cmd
}

func runRotate(opts *NameOptions) error {
	kr, _, err := openKey(opts.Base, opts.Name)
	if err != nil {
		return err
	}
	k, err := kr.Rotate(opts.Name, opts.Bits)
	if err != nil {
		return fmt.Errorf("rotating key %s: %w", opts.Name, err)
	}
	return saveAndPrint(opts.Base, kr, false, k)
}

// DeleteOptions are the inputs of `key delete`.
type DeleteOptions struct {
	*Base
	Name string
	// Window is the pending-deletion period.
	Window time.Duration
	// Force removes a key whose pending window has passed.
	Force bool
	// Cancel returns a PendingDeletion key to Enabled.
	Cancel bool
}

// MinDeletionWindow is the shortest pending window `key delete` accepts.
const MinDeletionWindow = 24 * time.Hour

func newCmdDelete(b *Base, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Base: b}
	var days int
	cmd := &cobra.Command{
		Use:   "delete NAME [--pending-window DAYS | --force | --cancel]",
		Short: "Schedule a key's deletion, or complete or cancel it",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Deleting a key makes every object encrypted under it unreadable, so it happens in two
			steps, as in KMS. 'delete NAME' puts the key in PendingDeletion for --pending-window
			days (default 7, at least 1): it can neither encrypt nor decrypt, and 'delete NAME
			--cancel' restores it. Once the window has passed, 'delete NAME --force' removes the
			key material for good; before that, --force is refused.
		`), exitCodes...),
		Example: heredoc.Doc(`
			$ ossctl key delete old-laptop --pending-window 30
			$ ossctl key delete old-laptop --cancel
			$ ossctl key delete old-laptop --force     # after the window
		`),
		Args: cmdutil.ExactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := keyName(args[0])
			if err != nil {
				return err
			}
			opts.Name = name
			if err := cmdutil.MutuallyExclusive("--force, --cancel and --pending-window cannot be combined",
				opts.Force, opts.Cancel, cmd.Flags().Changed("pending-window")); err != nil {
				return err
			}
			if days < 1 || days > 366 {
				return cmdutil.FlagErrorf("invalid --pending-window %d: want 1 to 366 days", days)
			}
			opts.Window = time.Duration(days) * MinDeletionWindow
			if runF != nil {
				return runF(opts)
			}
			return runDelete(opts)
		},
	}
	cmd.Flags().IntVar(&days, "pending-window", 7, "days before the key may be removed (1 to 366)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "remove the key now that its pending window has passed")
	cmd.Flags().BoolVar(&opts.Cancel, "cancel", false, "cancel a scheduled deletion")
	return cmd
}

// DeleteResult is the JSON output of `key delete`.
type DeleteResult struct {
	Name         string     `json:"name"`
	State        string     `json:"state"`
	DeletionDate *time.Time `json:"deletionDate,omitempty"`
}

func runDelete(opts *DeleteOptions) error {
	kr, k, err := openKey(opts.Base, opts.Name)
	if err != nil {
		return err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	p := opts.Printer()
	res := DeleteResult{Name: k.Name}
	switch {
	case opts.Cancel:
		if k.State != keyring.StatePendingDeletion {
			return fmt.Errorf("key %s is %s, not pending deletion", k.Name, k.State)
		}
		if k, err = kr.CancelDeletion(opts.Name); err != nil {
			return fmt.Errorf("canceling the deletion of %s: %w", opts.Name, err)
		}
		res.State = string(k.State)
		p.Status("Key %s is enabled again\n", k.Name)
	case opts.Force:
		if k.State != keyring.StatePendingDeletion {
			return cmdutil.WithHint(fmt.Errorf("key %s is not pending deletion", k.Name),
				"schedule it first: ossctl key delete "+k.Name+" --pending-window DAYS")
		}
		if now().Before(k.DeletionDate) {
			return cmdutil.WithHint(fmt.Errorf("key %s is in its pending window until %s", k.Name, k.DeletionDate.UTC().Format(time.RFC3339)),
				"run again after that date, or cancel with: ossctl key delete "+k.Name+" --cancel")
		}
		kr.PurgeExpired()
		res.State = "Deleted"
		p.Status("Deleted key %s\n", k.Name)
	default:
		if k.State == keyring.StatePendingDeletion {
			return fmt.Errorf("key %s is already pending deletion (until %s)", k.Name, k.DeletionDate.UTC().Format(time.RFC3339))
		}
		if k, err = kr.ScheduleDeletion(opts.Name, opts.Window); err != nil {
			return fmt.Errorf("scheduling the deletion of %s: %w", opts.Name, err)
		}
		res.State = string(k.State)
		d := k.DeletionDate.UTC()
		res.DeletionDate = &d
		p.Status("Key %s is pending deletion until %s; objects encrypted under it cannot be read meanwhile\n", k.Name, p.Timestamp(d))
	}
	if err := save(kr); err != nil {
		return err
	}
	if p.IsJSON() {
		return p.JSON(res)
	}
	return nil
}
