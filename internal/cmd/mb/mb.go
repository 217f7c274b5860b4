// Package mb implements `ossctl mb`, which creates a bucket.
package mb

import (
	"context"
	"fmt"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
)

// ACLs, storage classes and redundancy types a bucket can be created with.
var (
	ACLs            = []string{"private", "public-read", "public-read-write"}
	StorageClasses  = []string{"Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"}
	RedundancyTypes = []string{"LRS", "ZRS"}
)

// Options is everything mb needs.
type Options struct {
	IO      *iostreams.IOStreams
	OSS     func() (*oss.Client, error)
	Printer func() *output.Printer
	Ctx     context.Context

	Bucket         string
	ACL            string
	StorageClass   string
	RedundancyType string
}

// Result is the JSON output of mb.
type Result struct {
	Bucket         string `json:"bucket"`
	URL            string `json:"url"`
	ACL            string `json:"acl,omitempty"`
	StorageClass   string `json:"storageClass"`
	RedundancyType string `json:"redundancyType,omitempty"`
}

// NewCmdMb builds `ossctl mb`.
func NewCmdMb(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "mb oss://BUCKET",
		Short: "Make a bucket",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Create a bucket. Bucket names are 3-63 characters of lowercase letters, digits and '-',
			and start and end with a letter or digit.

			--acl sets the bucket ACL (default private), --storage-class the default storage class
			of its objects (default Standard) and --redundancy-type its data redundancy (LRS:
			locally redundant, ZRS: zone-redundant; default chosen by the service).

			Creating a bucket that you already own fails with BucketAlreadyExists (exit 1).
		`), cmdutil.RemoteExitCodes...),
		Example: heredoc.Doc(`
			$ ossctl mb oss://my-bucket
			$ ossctl mb oss://my-logs --acl private --storage-class IA --redundancy-type ZRS
		`),
		Args: cmdutil.ExactArgs(1, "oss://BUCKET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := cmdutil.ParseBucketURL(args[0])
			if err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			opts.Bucket = b
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	cmdutil.StringEnumFlag(cmd, &opts.ACL, "acl", "", "", ACLs, "bucket ACL (default private)")
	cmdutil.StringEnumFlag(cmd, &opts.StorageClass, "storage-class", "", "Standard", StorageClasses, "default storage class")
	cmdutil.StringEnumFlag(cmd, &opts.RedundancyType, "redundancy-type", "", "", RedundancyTypes, "data redundancy type")
	return cmd
}

func run(opts *Options) error {
	c, err := opts.OSS()
	if err != nil {
		return err
	}
	ctx := opts.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	options := []oss.Option{oss.WithContext(ctx), oss.StorageClass(oss.StorageClassType(opts.StorageClass))}
	if opts.ACL != "" {
		options = append(options, oss.ACL(oss.ACLType(opts.ACL)))
	}
	if opts.RedundancyType != "" {
		options = append(options, oss.RedundancyType(oss.DataRedundancyType(opts.RedundancyType)))
	}
	if err := c.CreateBucket(opts.Bucket, options...); err != nil {
		return fmt.Errorf("creating bucket %s: %w", opts.Bucket, err)
	}
	p := opts.Printer()
	res := Result{
		Bucket:         opts.Bucket,
		URL:            cmdutil.OSSURL{Bucket: opts.Bucket}.String(),
		ACL:            opts.ACL,
		StorageClass:   opts.StorageClass,
		RedundancyType: opts.RedundancyType,
	}
	if p.IsJSON() {
		return p.JSON(res)
	}
	p.Status("Created bucket %s\n", res.URL)
	return nil
}
