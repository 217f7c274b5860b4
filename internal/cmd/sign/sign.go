// Package sign implements `ossctl sign`: print a presigned URL for one object.
package sign

import (
	"fmt"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
)

// MaxV4Expiry is the longest validity of a V4 presigned URL.
const MaxV4Expiry = 7 * 24 * time.Hour

// Methods are the values of --method.
var Methods = []string{"GET", "PUT"}

// Options is everything sign needs.
type Options struct {
	IO      *iostreams.IOStreams
	OSS     func() (*oss.Client, error)
	Printer func() *output.Printer
	Now     func() time.Time

	URL     cmdutil.OSSURL
	Timeout time.Duration
	Method  string
	// ContentType is signed into a PUT URL; the uploader must send the same Content-Type.
	ContentType string
}

// Result is the JSON output of sign.
type Result struct {
	URL     string    `json:"url"`
	Method  string    `json:"method"`
	Expires time.Time `json:"expires"`
}

// NewCmdSign builds `ossctl sign`.
func NewCmdSign(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "sign oss://BUCKET/KEY",
		Short: "Print a presigned URL for an object",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Print a URL that grants its holder one kind of access (--method GET to download, PUT to
			upload) to one object until it expires, without credentials. Anyone who has the URL
			can use it: share it like a password.

			The URL is signed with the configured signature version: V1 (the 'Expires',
			'OSSAccessKeyId' and 'Signature' parameters) by default, V4 when the sign version is v4
			(then --timeout is at most 7 days). With STS credentials the URL carries the token and
			stops working when the token expires. For a PUT URL, --content-type is signed too and
			the uploader must send exactly that Content-Type header (no Content-Type otherwise).

			Only the URL is printed; --output json prints {"url","method","expires"}.
		`), cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage, cmdutil.ExitAuth),
		Example: heredoc.Doc(`
			$ ossctl sign oss://my-bucket/report.pdf --timeout 15m
			$ curl -o report.pdf "$(ossctl sign oss://my-bucket/report.pdf)"
			$ curl -T ./upload.bin "$(ossctl sign oss://my-bucket/incoming/upload.bin --method PUT)"
		`),
		Args:              cmdutil.ExactArgs(1, "oss://BUCKET/KEY"),
		ValidArgsFunction: cmdutil.CompleteOSSPaths(f, 1, false),
		RunE: func(_ *cobra.Command, args []string) error {
			u, err := cmdutil.ParseObjectURL(args[0])
			if err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			if opts.Timeout < time.Second {
				return cmdutil.FlagErrorf("--timeout must be at least 1s")
			}
			if opts.ContentType != "" && opts.Method != "PUT" {
				return cmdutil.FlagErrorf("--content-type applies to --method PUT only")
			}
			if strings.ContainsAny(opts.ContentType, "\r\n") {
				return cmdutil.FlagErrorf("invalid --content-type")
			}
			opts.URL = u
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&opts.Timeout, "timeout", time.Hour, "how long the URL stays valid (at most 168h with V4 signatures)")
	cmdutil.StringEnumFlag(cmd, &opts.Method, "method", "", "GET", Methods, "HTTP method the URL allows")
	fl.StringVar(&opts.ContentType, "content-type", "", "Content-Type the uploader must send (PUT only)")
	return cmd
}

func run(opts *Options) error {
	c, err := opts.OSS()
	if err != nil {
		return err
	}
	if c.Config.AuthVersion == oss.AuthV4 && opts.Timeout > MaxV4Expiry {
		return cmdutil.FlagErrorf("--timeout %s is too long: V4 presigned URLs are valid for at most 7 days (168h)", opts.Timeout)
	}
	b, err := c.Bucket(opts.URL.Bucket)
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	secs := int64((opts.Timeout + time.Second - 1) / time.Second)
	var signOpts []oss.Option
	if opts.ContentType != "" {
		signOpts = append(signOpts, oss.ContentType(opts.ContentType))
	}
	expires := now().Add(time.Duration(secs) * time.Second).UTC().Truncate(time.Second)
	signed, err := b.SignURL(opts.URL.Key, oss.HTTPMethod(opts.Method), secs, signOpts...)
	if err != nil {
		return fmt.Errorf("signing %s: %w", opts.URL, err)
	}
	p := opts.Printer()
	if p.IsJSON() {
		return p.JSON(Result{URL: signed, Method: opts.Method, Expires: expires})
	}
	return p.Printf("%s\n", signed)
}
