// Package acl implements `ossctl set-acl` and `ossctl get-acl`: the access control list of a
// bucket, of an object, or of every object under a prefix.
package acl

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
	"github.com/ossctl/ossctl/internal/transfer"
)

// BucketACLs are the canned ACLs of a bucket.
var BucketACLs = []string{"private", "public-read", "public-read-write"}

// ObjectACLs are the canned ACLs of an object; "default" inherits the bucket's.
var ObjectACLs = []string{"private", "public-read", "public-read-write", "default"}

// SetOptions is everything set-acl needs.
type SetOptions struct {
	IO      *iostreams.IOStreams
	OSS     func() (*oss.Client, error)
	Printer func() *output.Printer
	Ctx     context.Context

	URL       cmdutil.OSSURL
	ACL       string
	Recursive bool
	Jobs      int
}

// Result is the JSON output of get-acl and of set-acl on a bucket or one object.
type Result struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key,omitempty"`
	URL    string `json:"url"`
	ACL    string `json:"acl"`
	Owner  string `json:"owner,omitempty"`
}

// NewCmdSetACL builds `ossctl set-acl`.
func NewCmdSetACL(f *cmdutil.Factory, runF func(*SetOptions) error) *cobra.Command {
	opts := &SetOptions{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "set-acl oss://BUCKET[/KEY] ACL",
		Short: "Set the ACL of a bucket, an object, or every object under a prefix",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Set a canned access control list. For oss://BUCKET: private, public-read or
			public-read-write. For oss://BUCKET/KEY: the same or "default", which makes the object
			follow its bucket's ACL. With -r, every object whose key starts with the prefix gets
			the ACL (oss://BUCKET -r: every object in the bucket).

			public-read lets anyone on the internet read; public-read-write also lets anyone write
			and delete. Prefer private with presigned URLs ('ossctl sign') or a bucket policy.

			Nothing is printed on success except with --output json: one object for a bucket or
			an object, JSON Lines ({"event":"done"|"failed","source",...} and a summary) with -r.
		`), cmdutil.ExitOK, cmdutil.ExitError, cmdutil.ExitUsage, cmdutil.ExitNotFound, cmdutil.ExitAuth,
			cmdutil.ExitNetwork, cmdutil.ExitPartial, cmdutil.ExitInterrupted),
		Example: heredoc.Doc(`
			$ ossctl set-acl oss://my-bucket private
			$ ossctl set-acl oss://my-bucket/public/logo.png public-read
			$ ossctl set-acl -r oss://my-bucket/public/ default
		`),
		Args: cmdutil.ExactArgs(2, "oss://BUCKET[/KEY] and an ACL"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			switch len(args) {
			case 0:
				return cmdutil.CompleteOSSPaths(f, 1, false)(cmd, args, toComplete)
			case 1:
				if u, err := cmdutil.ParseURL(args[0]); err == nil && u.Key == "" && !opts.Recursive {
					return BucketACLs, cobra.ShellCompDirectiveNoFileComp
				}
				return ObjectACLs, cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := cmdutil.ParseURL(args[0])
			if err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			acl := strings.ToLower(args[1])
			switch {
			case opts.Recursive || u.Key != "":
				if !slices.Contains(ObjectACLs, acl) {
					return cmdutil.FlagErrorf("invalid object ACL %q: valid values are %s", args[1], strings.Join(ObjectACLs, ", "))
				}
			default:
				if !slices.Contains(BucketACLs, acl) {
					return cmdutil.FlagErrorf("invalid bucket ACL %q: valid values are %s", args[1], strings.Join(BucketACLs, ", "))
				}
			}
			if !opts.Recursive && u.Key != "" {
				if strings.HasSuffix(u.Key, "/") {
					return cmdutil.FlagErrorf("%s ends in '/': use -r to set the ACL of every object under it", args[0])
				}
				if err := cmdutil.ValidateObjectKey(u.Key); err != nil {
					return cmdutil.FlagErrorf("%q: %v", args[0], err)
				}
			}
			if opts.Jobs < 1 || opts.Jobs > 1000 {
				return cmdutil.FlagErrorf("--jobs must be between 1 and 1000")
			}
			opts.URL, opts.ACL = u, acl
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return runSet(opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Recursive, "recursive", "r", false, "set the ACL of every object under the prefix")
	cmd.Flags().IntVarP(&opts.Jobs, "jobs", "j", 5, "objects changed at once with -r")
	return cmd
}

func runSet(opts *SetOptions) error {
	if opts.Ctx == nil {
		opts.Ctx = context.Background()
	}
	c, err := opts.OSS()
	if err != nil {
		return err
	}
	p := opts.Printer()
	u := opts.URL
	switch {
	case opts.Recursive:
		return setRecursive(opts, c, p)
	case u.Key == "":
		if err := c.SetBucketACL(u.Bucket, oss.ACLType(opts.ACL), oss.WithContext(opts.Ctx)); err != nil {
			return fmt.Errorf("setting the ACL of %s: %w", u, err)
		}
	default:
		b, err := c.Bucket(u.Bucket)
		if err != nil {
			return cmdutil.FlagErrorWrap(err)
		}
		if err := b.SetObjectACL(u.Key, oss.ACLType(opts.ACL), oss.WithContext(opts.Ctx)); err != nil {
			return fmt.Errorf("setting the ACL of %s: %w", u, err)
		}
	}
	if p.IsJSON() {
		return p.JSON(Result{Bucket: u.Bucket, Key: u.Key, URL: u.String(), ACL: opts.ACL})
	}
	p.Status("Set the ACL of %s to %s\n", output.Text(u.String()), opts.ACL)
	return nil
}

func setRecursive(opts *SetOptions, c *oss.Client, p *output.Printer) error {
	u := opts.URL
	b, err := c.Bucket(u.Bucket)
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	var printErr error
	sum, err := transfer.Run(opts.Ctx, transfer.Options{Jobs: opts.Jobs, OnEvent: func(e transfer.Event) {
		switch {
		case p.IsJSON():
			if perr := p.JSONLine(e); perr != nil && printErr == nil {
				printErr = perr
			}
		case e.Event == transfer.EventFailed:
			opts.IO.Eprintf("error: %s\n", output.Text(e.Error))
		}
	}}, func(ctx context.Context, submit transfer.Submit) error {
		return transfer.WalkRemote(ctx, b, u.Key, func(o oss.ObjectProperties) error {
			key := o.Key
			url := cmdutil.OSSURL{Bucket: u.Bucket, Key: key}.String()
			return submit(transfer.Task{Source: url, Run: func(ctx context.Context, _ *transfer.FileListener) (transfer.Outcome, error) {
				if err := b.SetObjectACL(key, oss.ACLType(opts.ACL), oss.WithContext(ctx)); err != nil {
					return transfer.Outcome{}, fmt.Errorf("setting the ACL of %s: %w", url, err)
				}
				return transfer.Outcome{}, nil
			}})
		})
	})
	if p.IsJSON() {
		if perr := p.JSONLine(sum); perr != nil && printErr == nil {
			printErr = perr
		}
	} else if err == nil && opts.IO.IsStderrTTY() && !opts.IO.IsQuiet() {
		opts.IO.Eprintf("Set the ACL of %d objects under %s to %s\n", sum.Done, output.Text(u.String()), opts.ACL)
	}
	switch {
	case err != nil:
		return fmt.Errorf("setting ACLs under %s: %w", u, err)
	case printErr != nil:
		return printErr
	case sum.Failed > 0:
		return &cmdutil.PartialError{Op: "setting ACLs", Failed: int(sum.Failed), Total: int(sum.Done + sum.Failed), First: sum.FirstErr}
	}
	return nil
}

// GetOptions is everything get-acl needs.
type GetOptions struct {
	IO      *iostreams.IOStreams
	OSS     func() (*oss.Client, error)
	Printer func() *output.Printer
	Ctx     context.Context

	URL cmdutil.OSSURL
}

// NewCmdGetACL builds `ossctl get-acl`.
func NewCmdGetACL(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	opts := &GetOptions{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "get-acl oss://BUCKET[/KEY]",
		Short: "Show the ACL of a bucket or an object",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Print the canned ACL of a bucket (private, public-read or public-read-write) or of an
			object (the same, or "default" when it follows its bucket's ACL). Only the ACL is
			printed; --output json prints {"bucket","key","url","acl","owner"}.
		`), cmdutil.RemoteExitCodes...),
		Example: heredoc.Doc(`
			$ ossctl get-acl oss://my-bucket
			$ ossctl get-acl oss://my-bucket/public/logo.png --output json
		`),
		Args:              cmdutil.ExactArgs(1, "oss://BUCKET[/KEY]"),
		ValidArgsFunction: cmdutil.CompleteOSSPaths(f, 1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := cmdutil.ParseBucketOrObjectURL(args[0])
			if err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			opts.URL = u
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return runGet(opts)
		},
	}
	return cmd
}

func runGet(opts *GetOptions) error {
	if opts.Ctx == nil {
		opts.Ctx = context.Background()
	}
	c, err := opts.OSS()
	if err != nil {
		return err
	}
	u := opts.URL
	res := Result{Bucket: u.Bucket, Key: u.Key, URL: u.String()}
	if u.Key == "" {
		r, err := c.GetBucketACL(u.Bucket, oss.WithContext(opts.Ctx))
		if err != nil {
			return fmt.Errorf("reading the ACL of %s: %w", u, err)
		}
		res.ACL, res.Owner = r.ACL, r.Owner.ID
	} else {
		b, err := c.Bucket(u.Bucket)
		if err != nil {
			return cmdutil.FlagErrorWrap(err)
		}
		r, err := b.GetObjectACL(u.Key, oss.WithContext(opts.Ctx))
		if err != nil {
			return fmt.Errorf("reading the ACL of %s: %w", u, err)
		}
		res.ACL, res.Owner = r.ACL, r.Owner.ID
	}
	p := opts.Printer()
	if p.IsJSON() {
		return p.JSON(res)
	}
	return p.Printf("%s\n", res.ACL)
}
