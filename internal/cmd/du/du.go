// Package du implements `ossctl du`: the total size and number of objects under a prefix, per
// storage class.
package du

import (
	"context"
	"sort"
	"strconv"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
	"github.com/ossctl/ossctl/internal/transfer"
)

// Options is everything du needs.
type Options struct {
	IO      *iostreams.IOStreams
	OSS     func() (*oss.Client, error)
	Printer func() *output.Printer
	Ctx     context.Context

	URL cmdutil.OSSURL
}

// ClassUsage is the usage of one storage class.
type ClassUsage struct {
	StorageClass string `json:"storageClass"`
	Objects      int64  `json:"objects"`
	Size         int64  `json:"size"`
}

// Result is the JSON output of du.
type Result struct {
	Bucket         string       `json:"bucket"`
	Prefix         string       `json:"prefix"`
	URL            string       `json:"url"`
	Objects        int64        `json:"objects"`
	Size           int64        `json:"size"`
	StorageClasses []ClassUsage `json:"storageClasses"`
}

// NewCmdDu builds `ossctl du`.
func NewCmdDu(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "du oss://BUCKET[/PREFIX]",
		Short: "Show the total size and number of objects under a prefix",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Add up the size and number of the objects whose keys start with PREFIX (the whole
			bucket without one), per storage class, by listing them all. PREFIX is a plain string
			match: oss://b/logs also counts logs2.txt. Incomplete multipart uploads are not
			counted; 'ossctl ls -m' lists them.

			On a terminal a table with a total line is printed; when piped, one tab-separated line
			per storage class (class, objects, bytes) and a "total" line. --output json prints
			{"bucket","prefix","url","objects","size","storageClasses":[...]}.
		`), cmdutil.RemoteExitCodes...),
		Example: heredoc.Doc(`
			$ ossctl du oss://my-bucket
			$ ossctl du oss://my-bucket/logs/2026/ --output json | jq .size
		`),
		Args:              cmdutil.ExactArgs(1, "oss://BUCKET[/PREFIX]"),
		ValidArgsFunction: cmdutil.CompleteOSSPaths(f, 1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := cmdutil.ParseURL(args[0])
			if err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			opts.URL = u
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	return cmd
}

func run(opts *Options) error {
	if opts.Ctx == nil {
		opts.Ctx = context.Background()
	}
	c, err := opts.OSS()
	if err != nil {
		return err
	}
	b, err := c.Bucket(opts.URL.Bucket)
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	classes := map[string]*ClassUsage{}
	res := Result{Bucket: opts.URL.Bucket, Prefix: opts.URL.Key, URL: opts.URL.String(), StorageClasses: []ClassUsage{}}
	err = transfer.WalkRemote(opts.Ctx, b, opts.URL.Key, func(o oss.ObjectProperties) error {
		sc := o.StorageClass
		if sc == "" {
			sc = "Standard"
		}
		cu := classes[sc]
		if cu == nil {
			cu = &ClassUsage{StorageClass: sc}
			classes[sc] = cu
		}
		cu.Objects++
		cu.Size += o.Size
		res.Objects++
		res.Size += o.Size
		return nil
	})
	if err != nil {
		return err
	}
	for _, cu := range classes {
		res.StorageClasses = append(res.StorageClasses, *cu)
	}
	sort.Slice(res.StorageClasses, func(i, j int) bool {
		return res.StorageClasses[i].StorageClass < res.StorageClasses[j].StorageClass
	})
	p := opts.Printer()
	if p.IsJSON() {
		return p.JSON(res)
	}
	t := p.Table("STORAGE CLASS", "OBJECTS", "SIZE")
	for _, cu := range res.StorageClasses {
		t.AddRow(cu.StorageClass, strconv.FormatInt(cu.Objects, 10), p.Size(cu.Size))
	}
	t.AddRow("total", strconv.FormatInt(res.Objects, 10), p.Size(res.Size))
	return t.Render()
}
