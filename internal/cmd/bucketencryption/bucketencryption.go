// Package bucketencryption implements `ossctl bucket-encryption put|get|delete`: a bucket's
// default server-side encryption (SSE-OSS with AES256, or SSE-KMS with a CMK).
package bucketencryption

import (
	"fmt"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
)

// Verbs.
const (
	VerbPut    = "put"
	VerbGet    = "get"
	VerbDelete = "delete"
)

// Options is everything a bucket-encryption verb needs.
type Options struct {
	IO      *iostreams.IOStreams
	OSS     func() (*oss.Client, error)
	Printer func() *output.Printer

	Verb      string
	Bucket    string
	Algorithm string // put: AES256 or KMS
	KMSKeyID  string // put: with KMS only
}

// Result is the JSON output of put and get.
type Result struct {
	Bucket    string `json:"bucket"`
	Algorithm string `json:"algorithm,omitempty"`
	KMSKeyID  string `json:"kmsKeyId,omitempty"`
	Deleted   bool   `json:"deleted,omitempty"`
}

// NewCmdBucketEncryption builds `ossctl bucket-encryption` and its verbs.
func NewCmdBucketEncryption(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bucket-encryption",
		Short: "Manage a bucket's default server-side encryption",
		Long: heredoc.Doc(`
			Set, show or remove the default server-side encryption of a bucket. Objects written
			without an x-oss-server-side-encryption header are then encrypted at rest with
			SSE-OSS (AES256, a data key per object wrapped by the service's master key) or
			SSE-KMS (KMS, a data key per object from a KMS CMK; without --kms-key-id the
			account's default managed key). Existing objects are not re-encrypted; copy an
			object onto itself to encrypt it.
		`),
		Example: heredoc.Doc(`
			$ ossctl bucket-encryption put oss://my-bucket --algorithm AES256
			$ ossctl bucket-encryption put oss://my-bucket --algorithm KMS --kms-key-id alias/app-data
			$ ossctl bucket-encryption get oss://my-bucket --output json
			$ ossctl bucket-encryption delete oss://my-bucket
		`),
	}
	cmd.AddCommand(newVerb(f, runF, VerbPut), newVerb(f, runF, VerbGet), newVerb(f, runF, VerbDelete))
	return cmd
}

func newVerb(f *cmdutil.Factory, runF func(*Options) error, verb string) *cobra.Command {
	opts := &Options{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer, Verb: verb}
	cmd := &cobra.Command{Use: verb + " oss://BUCKET", Args: cobra.ExactArgs(1)}
	switch verb {
	case VerbPut:
		cmd.Short = "Set the bucket's default encryption"
		cmd.Long = cmdutil.LongHelp(heredoc.Doc(`
			Set the default server-side encryption of a bucket: --algorithm AES256 (SSE-OSS) or
			KMS (SSE-KMS). --kms-key-id names the CMK (key id, alias/NAME or ARN) and is valid only
			with KMS; without it OSS uses the account's default managed key. SM4 is not offered.

		`), cmdutil.RemoteExitCodes...)
		cmd.Example = heredoc.Doc(`
			$ ossctl bucket-encryption put oss://my-bucket --algorithm AES256
			$ ossctl bucket-encryption put oss://my-bucket --algorithm KMS --kms-key-id alias/my-key
		`)
		cmd.Flags().StringVar(&opts.Algorithm, "algorithm", "", "encryption algorithm: {AES256|KMS} (required)")
		cmd.Flags().StringVar(&opts.KMSKeyID, "kms-key-id", "", "KMS CMK id, alias or ARN (with --algorithm KMS)")
		_ = cmd.RegisterFlagCompletionFunc("algorithm", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"AES256", "KMS"}, cobra.ShellCompDirectiveNoFileComp
		})
	case VerbGet:
		cmd.Short = "Show the bucket's default encryption"
		cmd.Long = cmdutil.LongHelp(heredoc.Doc(`
			Show the default server-side encryption of a bucket. A bucket without one is reported
			as not found (NoSuchServerSideEncryptionRule, exit 3).

		`), cmdutil.RemoteExitCodes...)
		cmd.Example = "$ ossctl bucket-encryption get oss://my-bucket --output json\n"
	case VerbDelete:
		cmd.Short = "Remove the bucket's default encryption"
		cmd.Long = cmdutil.LongHelp(heredoc.Doc(`
			Remove the default server-side encryption of a bucket. Objects already encrypted stay
			encrypted; new objects are stored unencrypted unless their request asks otherwise.

		`), cmdutil.RemoteExitCodes...)
		cmd.Example = "$ ossctl bucket-encryption delete oss://my-bucket\n"
	}
	cmd.RunE = func(_ *cobra.Command, args []string) error {
		b, ok := strings.CutPrefix(args[0], "oss://")
		b = strings.TrimSuffix(b, "/")
		if !ok || b == "" || strings.Contains(b, "/") {
			return cmdutil.FlagErrorf("expected oss://BUCKET, got %q", args[0])
		}
		opts.Bucket = b
		if verb == VerbPut {
			switch strings.ToUpper(opts.Algorithm) {
			case "AES256", "KMS":
				opts.Algorithm = strings.ToUpper(opts.Algorithm)
			case "":
				return cmdutil.FlagErrorf("--algorithm is required: AES256 or KMS")
			default:
				return cmdutil.FlagErrorf("invalid --algorithm %q: want AES256 or KMS", opts.Algorithm)
			}
			if opts.KMSKeyID != "" && opts.Algorithm != "KMS" {
				return cmdutil.FlagErrorf("--kms-key-id is only valid with --algorithm KMS")
			}
		}
		if runF != nil {
			return runF(opts)
		}
		return run(opts)
	}
	return cmd
}

func run(opts *Options) error {
	c, err := opts.OSS()
	if err != nil {
		return err
	}
	p := opts.Printer()
	res := Result{Bucket: opts.Bucket}
	switch opts.Verb {
	case VerbPut:
		rule := oss.ServerEncryptionRule{SSEDefault: oss.SSEDefaultRule{SSEAlgorithm: opts.Algorithm, KMSMasterKeyID: opts.KMSKeyID}}
		if err := c.SetBucketEncryption(opts.Bucket, rule); err != nil {
			return fmt.Errorf("setting the encryption of bucket %s: %w", opts.Bucket, err)
		}
		res.Algorithm, res.KMSKeyID = opts.Algorithm, opts.KMSKeyID
		if p.IsJSON() {
			return p.JSON(res)
		}
		if opts.IO.IsStdoutTTY() {
			return p.Printf("Bucket oss://%s now encrypts new objects with %s\n", opts.Bucket, describe(res))
		}
		return nil
	case VerbGet:
		r, err := c.GetBucketEncryption(opts.Bucket)
		if err != nil {
			return fmt.Errorf("getting the encryption of bucket %s: %w", opts.Bucket, err)
		}
		res.Algorithm, res.KMSKeyID = r.SSEDefault.SSEAlgorithm, r.SSEDefault.KMSMasterKeyID
		if p.IsJSON() {
			return p.JSON(res)
		}
		if res.KMSKeyID != "" {
			return p.Printf("algorithm\t%s\nkms-key-id\t%s\n", res.Algorithm, res.KMSKeyID)
		}
		return p.Printf("algorithm\t%s\n", res.Algorithm)
	default:
		if err := c.DeleteBucketEncryption(opts.Bucket); err != nil {
			return fmt.Errorf("deleting the encryption of bucket %s: %w", opts.Bucket, err)
		}
		res.Deleted = true
		if p.IsJSON() {
			return p.JSON(res)
		}
		if opts.IO.IsStdoutTTY() {
			return p.Printf("Removed the default encryption of oss://%s\n", opts.Bucket)
		}
		return nil
	}
}

func describe(r Result) string {
	if r.Algorithm == "KMS" {
		if r.KMSKeyID == "" {
			return "SSE-KMS (the default managed key)"
		}
		return "SSE-KMS (key " + r.KMSKeyID + ")"
	}
	return "SSE-OSS (AES256)"
}
