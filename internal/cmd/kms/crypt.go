package kms

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/MakeNowJust/heredoc"
	kmssdk "github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/google/renameio/v2/maybe"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
)

// MaxPlaintext is the largest input `kms encrypt` accepts: KMS takes at most 6 KB of Plaintext,
// and ossctl sends the input base64-encoded.
const MaxPlaintext = 4608

// maxBlob bounds the ciphertext input of `kms decrypt`.
const maxBlob = 64 << 10

// CryptOptions are the inputs of `kms encrypt` and `kms decrypt`.
type CryptOptions struct {
	Base
	// KeyID is the key for encrypt (id, alias/NAME or ARN); decrypt finds it in the blob.
	KeyID string
	// In and Out are file names; "-" is stdin/stdout.
	In, Out string
	// Context is the EncryptionContext as a JSON object of strings.
	Context string
	// Binary reads (decrypt) or writes (encrypt) the raw ciphertext blob instead of base64.
	Binary bool
	// Base64 writes the decrypted plaintext base64-encoded.
	Base64 bool
	// RawPlaintext treats KMS's Plaintext as the bytes themselves rather than base64 (for
	// ciphertexts made by tools that send text as is).
	RawPlaintext bool
}

// EncryptResult is the JSON output of `kms encrypt`.
type EncryptResult struct {
	KeyID          string `json:"KeyId"`
	KeyVersionID   string `json:"KeyVersionId"`
	CiphertextBlob string `json:"CiphertextBlob"`
}

// DecryptResult is the JSON output of `kms decrypt`; Plaintext is base64.
type DecryptResult struct {
	KeyID        string `json:"KeyId"`
	KeyVersionID string `json:"KeyVersionId"`
	Plaintext    string `json:"Plaintext"`
}

func validateContext(s string) error {
	if s == "" {
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return cmdutil.FlagErrorf("invalid --context: want a JSON object of strings, e.g. '{\"purpose\":\"backup\"}': %v", err)
	}
	return nil
}

func newCmdEncrypt(f *cmdutil.Factory, runF func(*CryptOptions) error) *cobra.Command {
	opts := &CryptOptions{Base: newBase(f)}
	cmd := &cobra.Command{
		Use:   "encrypt --key-id KEY --in FILE|-",
		Short: "Encrypt a small secret with a KMS key",
		Long: cmdutil.LongHelp(heredoc.Docf(`
			Encrypt up to %d bytes read from --in (a file, or - for standard input; never
			the command line) with KMS Encrypt, and write the ciphertext blob to --out (default
			standard output) as base64 text, or as raw bytes with --binary. The input is sent as
			base64, so any bytes work; 'ossctl kms decrypt' returns them unchanged.

			An --context JSON object becomes the EncryptionContext: decryption must present the
			same one.
		`, MaxPlaintext), exitCodes...),
		Example: heredoc.Doc(`
			$ ossctl kms encrypt --key-id alias/backups --in db-password.txt > db-password.kms
			$ head -c 32 /dev/urandom | ossctl kms encrypt --key-id KEY_ID --in - --binary --out key.bin
		`),
		Args: cmdutil.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if opts.KeyID == "" {
				return cmdutil.FlagErrorf("--key-id is required")
			}
			if err := validateContext(opts.Context); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runEncrypt(opts)
		},
	}
	cmd.Flags().StringVar(&opts.KeyID, "key-id", "", "key id, alias/NAME or ARN")
	cmd.Flags().StringVar(&opts.In, "in", "-", "plaintext file, or - for standard input")
	cmd.Flags().StringVar(&opts.Out, "out", "-", "ciphertext file (created 0600), or - for standard output")
	cmd.Flags().StringVar(&opts.Context, "context", "", "EncryptionContext as a JSON object of strings")
	cmd.Flags().BoolVar(&opts.Binary, "binary", false, "write the raw ciphertext blob instead of base64")
	return cmd
}

// readInput reads at most limit bytes from a file or stdin, failing beyond it.
func readInput(opts *CryptOptions, limit int64, what string) ([]byte, error) {
	var r io.Reader
	if opts.In == "-" || opts.In == "" {
		r = opts.IO.In
	} else {
		fh, err := os.Open(opts.In)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", what, err)
		}
		defer func() { _ = fh.Close() }()
		r = fh
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if int64(len(b)) > limit {
		return nil, cmdutil.FlagErrorf("%s is larger than %d bytes: KMS encrypts small secrets; encrypt files with 'ossctl cp --encrypt'", what, limit)
	}
	return b, nil
}

// writeOutput writes data to --out (0600, atomically) or stdout. Binary data is refused on a
// terminal.
func writeOutput(opts *CryptOptions, data []byte, binary bool) error {
	if opts.Out == "-" || opts.Out == "" {
		if binary && opts.IO.IsStdoutTTY() {
			return cmdutil.FlagErrorf("refusing to write binary data to a terminal: use --out FILE, --base64, or a pipe")
		}
		if _, err := opts.IO.Out.Write(data); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
		return nil
	}
	if err := maybe.WriteFile(opts.Out, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", opts.Out, err)
	}
	return nil
}

func runEncrypt(opts *CryptOptions) error {
	plain, err := readInput(opts, MaxPlaintext, "the plaintext")
	if err != nil {
		return err
	}
	c, err := opts.KMS()
	if err != nil {
		return err
	}
	req := kmssdk.CreateEncryptRequest()
	req.Scheme, req.KeyId = c.Scheme, opts.KeyID
	req.Plaintext = base64.StdEncoding.EncodeToString(plain)
	req.EncryptionContext = opts.Context
	clear(plain)
	resp, err := c.Encrypt(req)
	if err != nil {
		return fmt.Errorf("encrypting with KMS key %s: %w", opts.KeyID, err)
	}
	p := opts.Printer()
	if p.IsJSON() && (opts.Out == "-" || opts.Out == "") {
		return p.JSON(EncryptResult{KeyID: resp.KeyId, KeyVersionID: resp.KeyVersionId, CiphertextBlob: resp.CiphertextBlob})
	}
	out := []byte(resp.CiphertextBlob + "\n")
	if opts.Binary {
		if out, err = base64.StdEncoding.DecodeString(resp.CiphertextBlob); err != nil {
			return fmt.Errorf("KMS returned a CiphertextBlob that is not base64: %w", err)
		}
	}
	if err := writeOutput(opts, out, opts.Binary); err != nil {
		return err
	}
	if p.IsJSON() {
		return p.JSON(EncryptResult{KeyID: resp.KeyId, KeyVersionID: resp.KeyVersionId})
	}
	return nil
}

func newCmdDecrypt(f *cmdutil.Factory, runF func(*CryptOptions) error) *cobra.Command {
	opts := &CryptOptions{Base: newBase(f)}
	cmd := &cobra.Command{
		Use:   "decrypt --in FILE|-",
		Short: "Decrypt a KMS ciphertext blob",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Decrypt a ciphertext blob read from --in (base64 text, or raw bytes with --binary) with
			KMS Decrypt; the blob names its key. The plaintext goes to --out (default standard
			output; raw bytes are refused on a terminal) or, with --base64, base64-encoded.
			In JSON mode the plaintext is the base64 "Plaintext" field.

			ossctl's encrypt sends base64; --raw-plaintext outputs KMS's Plaintext as is, for
			ciphertexts made by tools that send text unencoded.
		`), exitCodes...),
		Example: heredoc.Doc(`
			$ ossctl kms decrypt --in db-password.kms
			$ ossctl kms decrypt --in key.bin --binary --out key.raw
		`),
		Args: cmdutil.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if err := validateContext(opts.Context); err != nil {
				return err
			}
			if err := cmdutil.MutuallyExclusive("--base64 and --raw-plaintext cannot be combined", opts.Base64, opts.RawPlaintext); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runDecrypt(opts)
		},
	}
	cmd.Flags().StringVar(&opts.In, "in", "-", "ciphertext file, or - for standard input")
	cmd.Flags().StringVar(&opts.Out, "out", "-", "plaintext file (created 0600), or - for standard output")
	cmd.Flags().StringVar(&opts.Context, "context", "", "EncryptionContext given at encryption, as a JSON object")
	cmd.Flags().BoolVar(&opts.Binary, "binary", false, "read the ciphertext as raw bytes instead of base64")
	cmd.Flags().BoolVar(&opts.Base64, "base64", false, "write the plaintext base64-encoded")
	cmd.Flags().BoolVar(&opts.RawPlaintext, "raw-plaintext", false, "output KMS's Plaintext without base64-decoding it")
	return cmd
}

func runDecrypt(opts *CryptOptions) error {
	in, err := readInput(opts, maxBlob, "the ciphertext")
	if err != nil {
		return err
	}
	blob := string(bytes.TrimSpace(in))
	if opts.Binary {
		blob = base64.StdEncoding.EncodeToString(in)
	} else if _, err := base64.StdEncoding.DecodeString(blob); err != nil || blob == "" {
		return &cmdutil.IntegrityError{Err: errors.New("the ciphertext is not a base64 KMS blob (use --binary for raw bytes)")}
	}
	c, err := opts.KMS()
	if err != nil {
		return err
	}
	req := kmssdk.CreateDecryptRequest()
	req.Scheme, req.CiphertextBlob, req.EncryptionContext = c.Scheme, blob, opts.Context
	resp, err := c.Decrypt(req)
	if err != nil {
		return fmt.Errorf("decrypting with KMS: %w", err)
	}
	plain := []byte(resp.Plaintext)
	if !opts.RawPlaintext {
		if plain, err = base64.StdEncoding.DecodeString(resp.Plaintext); err != nil {
			return cmdutil.WithHint(errors.New("KMS's Plaintext is not base64: the ciphertext was not made by 'ossctl kms encrypt'"),
				"use --raw-plaintext to output it as is")
		}
	}
	p := opts.Printer()
	if p.IsJSON() && (opts.Out == "-" || opts.Out == "") {
		return p.JSON(DecryptResult{KeyID: resp.KeyId, KeyVersionID: resp.KeyVersionId, Plaintext: base64.StdEncoding.EncodeToString(plain)})
	}
	binary := looksBinary(plain)
	if opts.Base64 {
		plain = []byte(base64.StdEncoding.EncodeToString(plain) + "\n")
		binary = false
	}
	if err := writeOutput(opts, plain, binary); err != nil {
		return err
	}
	if p.IsJSON() {
		return p.JSON(DecryptResult{KeyID: resp.KeyId, KeyVersionID: resp.KeyVersionId})
	}
	return nil
}

// looksBinary reports data that is not printable UTF-8 text (tabs and line breaks allowed).
func looksBinary(b []byte) bool {
	if !utf8.Valid(b) {
		return true
	}
	for _, r := range string(b) {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return true
		}
	}
	return false
}
