package cp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/config"
	"github.com/ossctl/ossctl/internal/cse"
	"github.com/ossctl/ossctl/internal/transfer"
)

// ObjectACLs are the values of --acl.
var ObjectACLs = []string{"private", "public-read", "public-read-write", "default"}

// SSEAlgorithms are the values of --sse.
var SSEAlgorithms = []string{"AES256", "KMS"}

// StorageClasses are the values of --storage-class.
var StorageClasses = []string{"Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"}

// TransferFlags are the flags that cp and sync share: concurrency, part sizes, checkpoints,
// bandwidth limits, destination headers and include/exclude filters.
type TransferFlags struct {
	// Jobs is the number of files transferred at once; Parallel the parts in flight per file.
	Jobs, Parallel int
	// PartSize is --part-size (0: automatic); Threshold is --multipart-threshold.
	PartSize, Threshold int64
	// CheckpointDir keeps resumable multipart checkpoints ("" disables resuming).
	CheckpointDir string
	// MaxUploadSpeed and MaxDownloadSpeed are in bytes per second (0: unlimited).
	MaxUploadSpeed, MaxDownloadSpeed int64
	FailFast                         bool
	// Meta, ACL, ContentType and StorageClass set the destination's headers.
	Meta                           map[string]string
	ACL, ContentType, StorageClass string
	// SSE and SSEKeyID ask for server-side encryption of the destination.
	SSE, SSEKeyID string
	// Rules are the --include/--exclude/--exclude-from rules in command-line order.
	Rules []transfer.Rule
	// Retry is the retry policy (zero: the engine's default).
	Retry transfer.Retry
	// Encrypt is --encrypt: kms:<key-id|alias>, key:<name> or none. EncryptSet says it was
	// given, so that it overrides the profile's encrypt setting (none turns that off).
	Encrypt    string
	EncryptSet bool
	// EncryptAuthenticated is --encrypt-authenticated: ossctl's authenticated mode instead of
	// the official SDKs' format.
	EncryptAuthenticated bool
	// Keyring and PassphraseCommand are --keyring and --passphrase-command (local master keys).
	Keyring, PassphraseCommand string

	cmd *cobra.Command

	partSize, threshold, upSpeed, downSpeed string
	meta                                    []string
}

// DefaultCheckpointDir is where checkpoints go by default: the user cache directory.
func DefaultCheckpointDir() string {
	d, err := os.UserCacheDir()
	if err != nil || d == "" {
		return ""
	}
	return filepath.Join(d, "ossctl", "checkpoints")
}

// ruleValue appends --include/--exclude/--exclude-from rules to one list, so their order on the
// command line is kept across the three flags.
type ruleValue struct {
	include bool
	file    bool
	rules   *[]transfer.Rule
	vals    []string
}

func (v *ruleValue) String() string { return "[" + strings.Join(v.vals, ",") + "]" }
func (v *ruleValue) Type() string {
	if v.file {
		return "file"
	}
	return "pattern"
}

func (v *ruleValue) Set(s string) error {
	v.vals = append(v.vals, s)
	if !v.file {
		*v.rules = append(*v.rules, transfer.Rule{Include: v.include, Pattern: s})
		return nil
	}
	pats, err := transfer.ReadPatterns(s)
	if err != nil {
		return err
	}
	for _, p := range pats {
		*v.rules = append(*v.rules, transfer.Rule{Include: v.include, Pattern: p})
	}
	return nil
}

// Register adds the flags to cmd. filters adds --include, --exclude and --exclude-from.
func (t *TransferFlags) Register(cmd *cobra.Command, filters bool) {
	fl := cmd.Flags()
	fl.IntVarP(&t.Jobs, "jobs", "j", 4, "files transferred at once")
	fl.IntVar(&t.Parallel, "parallel", transfer.DefaultParallel, "parts in flight per file in multipart transfers")
	fl.StringVar(&t.partSize, "part-size", "auto", "multipart part `size` (auto: 8MiB, raised to stay within 10000 parts)")
	fl.StringVar(&t.threshold, "multipart-threshold", "100MiB", "files of at least this `size` are transferred part by part, resumably")
	if t.CheckpointDir == "" {
		t.CheckpointDir = DefaultCheckpointDir()
	}
	fl.StringVar(&t.CheckpointDir, "checkpoint-dir", t.CheckpointDir, "`directory` for resumable-transfer checkpoints (\"\" disables resuming)")
	fl.StringVar(&t.upSpeed, "max-upload-speed", "", "limit uploads to this many bytes per `second` in total, e.g. 10MiB")
	fl.StringVar(&t.downSpeed, "max-download-speed", "", "limit downloads to this many bytes per `second` in total, e.g. 10MiB")
	fl.BoolVar(&t.FailFast, "fail-fast", false, "stop at the first failed file")
	fl.StringArrayVar(&t.meta, "meta", nil, "user metadata `NAME:VALUE` for the destination (repeatable)")
	cmdutil.StringEnumFlag(cmd, &t.ACL, "acl", "", "", ObjectACLs, "object ACL of the destination")
	cmdutil.StringEnumFlag(cmd, &t.StorageClass, "storage-class", "", "", StorageClasses, "storage class of the destination")
	cmdutil.StringEnumFlag(cmd, &t.SSE, "sse", "", "", SSEAlgorithms, "server-side encryption at rest of the destination (default: the bucket's)")
	fl.StringVar(&t.SSEKeyID, "sse-key-id", "", "KMS key (`id`, alias/NAME or ARN) for --sse KMS (default: the account's managed key)")
	fl.StringVar(&t.ContentType, "content-type", "", "Content-Type of the destination (default: from the file extension)")
	fl.StringVar(&t.Encrypt, "encrypt", "", "client-side encryption of uploads: `kms:KEY-ID|kms:alias/NAME|key:NAME|none` (default: the profile's encrypt setting)")
	fl.BoolVar(&t.EncryptAuthenticated, "encrypt-authenticated", false, "encrypt in ossctl's authenticated mode (AES-256-GCM chunks; only ossctl can read it) instead of the SDK format")
	RegisterKeyFlags(cmd, &t.Keyring, &t.PassphraseCommand)
	t.cmd = cmd
	if filters {
		fl.Var(&ruleValue{include: true, rules: &t.Rules}, "include", "copy only paths matching this glob `pattern` (repeatable; see FILTERS)")
		fl.Var(&ruleValue{rules: &t.Rules}, "exclude", "skip paths matching this glob `pattern` (repeatable; see FILTERS)")
		fl.Var(&ruleValue{file: true, rules: &t.Rules}, "exclude-from", "read --exclude patterns from `file`, one per line")
	}
}

// RegisterKeyFlags adds --keyring and --passphrase-command, which decrypting commands need for
// objects encrypted under a local master key.
func RegisterKeyFlags(cmd *cobra.Command, keyring, passCmd *string) {
	fl := cmd.Flags()
	fl.StringVar(keyring, "keyring", "", "keyring `file` of local master keys (default: $OSSCTL_KEYRING or <user config dir>/ossctl/keyring.json)")
	fl.StringVar(passCmd, "passphrase-command", "", "`command` that prints the keyring passphrase (default: $"+cse.EnvPassphrase+" or a prompt)")
}

// NewKeys returns the master-key finder of a command: KMS through the Factory's client, local
// keys through the keyring and its passphrase. Nothing is opened until an object needs it.
func NewKeys(f *cmdutil.Factory, cmd *cobra.Command, keyring, passCmd string) *cse.Keys {
	return cse.NewKeys(f, keyring, cse.PassphraseSource{IO: f.IOStreams, LookupEnv: f.Env.LookupEnv, Command: passCmd, Ctx: cmd.Context()})
}

// EncryptionHelp documents client-side encryption for cp and sync.
const EncryptionHelp = `CLIENT-SIDE ENCRYPTION: --encrypt kms:KEY (a KMS key id, alias/NAME or ARN) or --encrypt
key:NAME (an RSA key in the local keyring, see 'ossctl key') encrypts uploads on this machine
with a fresh data key per object, wrapped by that master key and stored in the object's
x-oss-meta-client-side-encryption-* metadata, in the format of the official SDKs' encryption
clients (AES-256-CTR), which can decrypt it. The profile's encrypt setting ($OSSCTL_ENCRYPT)
is the default; --encrypt none turns it off. --encrypt-authenticated selects ossctl's own
authenticated mode instead (AES-256-GCM in 64 KiB chunks with a key commitment: tampering,
truncation and swapped keys are detected; only ossctl reads it). Multipart uploads encrypt
their parts in parallel at their offsets and resume like any other (the checkpoint keeps the
wrapped data key, never the key). Standard input that fits in one part is sent with one PUT;
longer streams go as one streaming PUT of at most 5 GiB.

Downloads of encrypted objects are decrypted automatically, with the master key that the
object's metadata names (KMS through the configured endpoint; keyring keys found by their
material description, the keyring opened with --keyring and --passphrase-command,
$OSSCTL_KEYRING_PASSPHRASE or a prompt). The plaintext goes to a private (0600) temporary file
that is renamed into place only after every check passed: a tampered object, a wrong or missing
key, or an unknown cipher exits 6 and leaves no file. Server-side copies keep the ciphertext and
its envelope, so the copy decrypts like the original. JSON events say "encrypted" or
"decrypted" with the master key, and "cseFormat" ("sdk" or "authenticated").`

// FilterHelp documents --include and --exclude.
const FilterHelp = `FILTERS: --include and --exclude take glob patterns matched against each file's path relative
to SOURCE ('/'-separated). They apply in the order given; the first that matches decides. A
pattern with a '/' matches the whole relative path or a parent directory's path ("logs/**",
"build/cache"); one without '/' matches the file's name or any parent directory's name
("*.tmp", "node_modules"). '**' spans directories; a trailing '/' matches directories only.
When no pattern matches, the file is copied unless the last pattern is an --include.
--exclude-from FILE adds one --exclude per line (blank lines and '#' comments are ignored).
An excluded directory is not even read.`

// ParseSize parses a human size such as 8MiB or 10MB.
func ParseSize(flag, s string) (int64, error) {
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, cmdutil.FlagErrorf("invalid %s %q: %v", flag, s, err)
	}
	if n > 1<<62 {
		return 0, cmdutil.FlagErrorf("invalid %s %q: too large", flag, s)
	}
	return int64(n), nil
}

// Parse validates the flag values after parsing.
func (t *TransferFlags) Parse() error {
	var err error
	if t.partSize != "" && t.partSize != "auto" {
		if t.PartSize, err = ParseSize("--part-size", t.partSize); err != nil {
			return err
		}
		if t.PartSize < transfer.MinPartSize || t.PartSize > transfer.MaxPartSize {
			return cmdutil.FlagErrorf("--part-size must be between 100KiB and 5GiB")
		}
	}
	if t.threshold != "" {
		if t.Threshold, err = ParseSize("--multipart-threshold", t.threshold); err != nil {
			return err
		}
	}
	for _, s := range []struct {
		flag, val string
		dst       *int64
	}{{"--max-upload-speed", t.upSpeed, &t.MaxUploadSpeed}, {"--max-download-speed", t.downSpeed, &t.MaxDownloadSpeed}} {
		if s.val == "" {
			continue
		}
		if *s.dst, err = ParseSize(s.flag, strings.TrimSuffix(strings.TrimSuffix(s.val, "/s"), "ps")); err != nil {
			return err
		}
		if *s.dst < 1024 {
			return cmdutil.FlagErrorf("%s must be at least 1KiB", s.flag)
		}
	}
	if t.Jobs < 1 || t.Jobs > 1000 {
		return cmdutil.FlagErrorf("--jobs must be between 1 and 1000")
	}
	if t.Parallel < 1 || t.Parallel > 100 {
		return cmdutil.FlagErrorf("--parallel must be between 1 and 100")
	}
	if t.Meta, err = transfer.ParseMeta(t.meta); err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	if t.SSEKeyID != "" && t.SSE != "KMS" {
		return cmdutil.FlagErrorf("--sse-key-id needs --sse KMS")
	}
	if strings.ContainsAny(t.ContentType+t.SSEKeyID, "\r\n") {
		return cmdutil.FlagErrorf("invalid --content-type")
	}
	if _, err := transfer.NewFilter(t.Rules); err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	if t.cmd != nil && t.cmd.Flags().Changed("encrypt") {
		t.EncryptSet = true
	}
	if t.EncryptSet {
		if _, err := cse.ParseSpec(t.Encrypt); err != nil {
			return err
		}
	}
	return nil
}

// EncryptRequested reports whether the flags ask for encryption explicitly (a usage error on
// downloads and server-side copies).
func (t *TransferFlags) EncryptRequested() bool {
	if t.EncryptAuthenticated {
		return true
	}
	spec, err := cse.ParseSpec(t.Encrypt)
	return t.EncryptSet && err == nil && !spec.IsZero()
}

// Encryption returns the client-side encryption of a batch. Uploads (upload set) are encrypted
// under --encrypt, else the profile's encrypt setting; keys finds master keys for that and for
// decrypting downloads (nil: objects are transferred as stored).
func (t *TransferFlags) Encryption(upload bool, cfg func() (*config.Resolved, error), keys transfer.KeySource) (*transfer.Encryption, error) {
	enc := &transfer.Encryption{Keys: keys}
	if !upload || keys == nil {
		return enc, nil
	}
	var resolved *config.Resolved
	if !t.EncryptSet && cfg != nil {
		r, err := cfg()
		if err != nil {
			return nil, err
		}
		resolved = r
	}
	spec, err := cse.ResolveSpec(t.Encrypt, t.EncryptSet, resolved)
	if err != nil {
		return nil, err
	}
	if t.EncryptAuthenticated && spec.IsZero() {
		return nil, cmdutil.FlagErrorf("--encrypt-authenticated needs a master key: pass --encrypt kms:KEY or key:NAME, or set the profile's encrypt setting")
	}
	enc.Spec, enc.Authenticated = spec, t.EncryptAuthenticated
	return enc, nil
}

// HeadersSet reports whether a destination header flag was given.
func (t *TransferFlags) HeadersSet() bool {
	return len(t.Meta) > 0 || t.ACL != "" || t.ContentType != "" || t.StorageClass != "" || t.SSE != ""
}

// Headers returns the destination headers.
func (t *TransferFlags) Headers() transfer.Headers {
	return transfer.Headers{ContentType: t.ContentType, Meta: t.Meta, ACL: t.ACL, StorageClass: t.StorageClass,
		SSE: t.SSE, SSEKeyID: t.SSEKeyID}
}

// Filter returns the compiled include/exclude rules (nil: everything).
func (t *TransferFlags) Filter() *transfer.Filter {
	f, _ := transfer.NewFilter(t.Rules) // validated by Parse
	return f
}

// Config returns the engine configuration for one batch: one Config, so bandwidth limits are
// shared by all its workers.
func (t *TransferFlags) Config(client *oss.Client, warn func(string)) *transfer.Config {
	return &transfer.Config{
		Client:        client,
		Threshold:     t.Threshold,
		PartSize:      t.PartSize,
		Parallel:      t.Parallel,
		CheckpointDir: t.CheckpointDir,
		UploadLimit:   transfer.NewLimiter(t.MaxUploadSpeed),
		DownloadLimit: transfer.NewLimiter(t.MaxDownloadSpeed),
		Retry:         t.Retry,
		Warn:          warn,
	}
}

// BatchFatal reports errors after which the other files of a batch cannot succeed either: a
// missing bucket or rejected credentials.
func BatchFatal(err error) bool {
	var se oss.ServiceError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code {
	case "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch", "SecurityTokenExpired", "InvalidSecurityToken":
		return true
	}
	return false
}

// WithBucketHint adds what to do about a missing bucket.
func WithBucketHint(err error, bucket string) error {
	if transfer.IsNoSuchBucket(err) {
		return cmdutil.WithHint(err, fmt.Sprintf("bucket %q does not exist: create it with `ossctl mb oss://%s` or check the name", bucket, bucket))
	}
	return err
}
