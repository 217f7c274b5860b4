// Package ls implements `ossctl ls`: buckets, objects and prefixes, or incomplete multipart
// uploads, paging through every result.
package ls

import (
	"context"
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

// pageSize is the number of entries requested per page (the OSS maximum); tests lower it to
// exercise paging.
var pageSize = 1000

// Options is everything ls needs.
type Options struct {
	IO      *iostreams.IOStreams
	OSS     func() (*oss.Client, error)
	Printer func() *output.Printer
	Ctx     context.Context

	// URL is the parsed argument; nil lists buckets.
	URL *cmdutil.OSSURL
	// Recursive lists every key under the prefix instead of one level.
	Recursive bool
	// DirsOnly lists only the common prefixes ("directories") of one level.
	DirsOnly bool
	// Uploads lists incomplete multipart uploads instead of objects.
	Uploads bool
	// Limit stops after this many entries (0: no limit).
	Limit int
}

// Entry is one line of `ls --output json` (JSON Lines). Type is "bucket", "object", "prefix" or
// "upload"; the other fields depend on it.
type Entry struct {
	Type         string     `json:"type"`
	Bucket       string     `json:"bucket"`
	Key          string     `json:"key,omitempty"`
	Prefix       string     `json:"prefix,omitempty"`
	URL          string     `json:"url"`
	Size         *int64     `json:"size,omitempty"`
	ETag         string     `json:"etag,omitempty"`
	LastModified *time.Time `json:"lastModified,omitempty"`
	StorageClass string     `json:"storageClass,omitempty"`
	ObjectType   string     `json:"objectType,omitempty"`
	UploadID     string     `json:"uploadId,omitempty"`
	Initiated    *time.Time `json:"initiated,omitempty"`
	Location     string     `json:"location,omitempty"`
	Region       string     `json:"region,omitempty"`
	CreationDate *time.Time `json:"creationDate,omitempty"`
}

// NewCmdLs builds `ossctl ls`.
func NewCmdLs(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "ls [oss://BUCKET[/PREFIX]]",
		Short: "List buckets, objects or incomplete uploads",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Without an argument, list your buckets.

			With oss://BUCKET[/PREFIX], list the objects whose keys start with PREFIX, one level at
			a time: keys containing another '/' after the prefix are grouped into "directories"
			(common prefixes), shown as DIR. A prefix is a plain string match, so
			oss://b/photos lists photos.jpg and photos/, while oss://b/photos/ lists inside it.
			-r lists every key recursively; -d lists only the directories of one level; -m lists
			incomplete multipart uploads instead of objects.

			All pages are fetched, so large buckets are listed completely; --limit N stops after
			N entries. On a terminal, sizes are humanized, times are local and a summary line
			follows; when piped, columns are tab-separated (time RFC 3339 UTC, size in bytes,
			storage class, URL). Control characters in keys are escaped in text output; use
			--output json (one JSON object per line) to get keys exactly.
		`), cmdutil.RemoteExitCodes...),
		Example: heredoc.Doc(`
			$ ossctl ls
			$ ossctl ls oss://my-bucket
			$ ossctl ls -r oss://my-bucket/logs/2026/
			$ ossctl ls -d oss://my-bucket/
			$ ossctl ls -m oss://my-bucket
			$ ossctl ls -r oss://my-bucket --output json | jq -r .key
		`),
		Args:              cmdutil.RangeArgs(0, 1, "at most one oss://BUCKET[/PREFIX]"),
		ValidArgsFunction: cmdutil.CompleteOSSPaths(f, 1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.MutuallyExclusive("-r/--recursive and -d/--dirs cannot be combined", opts.Recursive, opts.DirsOnly); err != nil {
				return err
			}
			if err := cmdutil.MutuallyExclusive("-m/--multipart and -d/--dirs cannot be combined", opts.Uploads, opts.DirsOnly); err != nil {
				return err
			}
			if opts.Limit < 0 {
				return cmdutil.FlagErrorf("--limit must not be negative")
			}
			if len(args) == 1 {
				u, err := cmdutil.ParseURL(args[0])
				if err != nil {
					return cmdutil.FlagErrorWrap(err)
				}
				opts.URL = &u
			} else if opts.Recursive || opts.DirsOnly || opts.Uploads {
				return cmdutil.FlagErrorf("-r, -d and -m need an oss://BUCKET argument")
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Recursive, "recursive", "r", false, "list all keys under the prefix, not one level")
	fl.BoolVarP(&opts.DirsOnly, "dirs", "d", false, "list only directories (common prefixes)")
	fl.BoolVarP(&opts.Uploads, "multipart", "m", false, "list incomplete multipart uploads")
	fl.IntVar(&opts.Limit, "limit", 0, "stop after `N` entries (0: no limit)")
	return cmd
}

func run(opts *Options) error {
	c, err := opts.OSS()
	if err != nil {
		return err
	}
	if opts.Ctx == nil {
		opts.Ctx = context.Background()
	}
	l := &lister{opts: opts, p: opts.Printer(), client: c}
	switch {
	case opts.URL == nil:
		err = l.buckets()
	case opts.Uploads:
		err = l.uploads()
	default:
		err = l.objects()
	}
	if err != nil {
		return err
	}
	l.summary()
	return nil
}

type lister struct {
	opts   *Options
	p      *output.Printer
	client *oss.Client
	stream *output.Stream

	count, dirs int
	bytes       int64
}

// full reports whether --limit has been reached.
func (l *lister) full() bool {
	return l.opts.Limit > 0 && l.count+l.dirs >= l.opts.Limit
}

// pageLimit is the max-keys for the next page.
func (l *lister) pageLimit() int {
	if l.opts.Limit > 0 {
		return min(pageSize, l.opts.Limit-l.count-l.dirs)
	}
	return pageSize
}

func (l *lister) row(e Entry, cells ...string) error {
	if l.p.IsJSON() {
		return l.p.JSONLine(e)
	}
	if l.stream == nil {
		l.stream = l.p.Stream(
			output.Column{Width: 19},
			output.Column{Width: 10, Right: true},
			output.Column{Width: 12},
			output.Column{},
		)
	}
	return l.stream.Row(cells...)
}

func (l *lister) buckets() error {
	marker := ""
	for {
		res, err := l.client.ListBuckets(oss.Marker(marker), oss.MaxKeys(l.pageLimit()), oss.WithContext(l.opts.Ctx))
		if err != nil {
			return fmt.Errorf("listing buckets: %w", err)
		}
		for _, b := range res.Buckets {
			if l.full() {
				return nil
			}
			created := b.CreationDate
			e := Entry{Type: "bucket", Bucket: b.Name, URL: cmdutil.OSSURL{Bucket: b.Name}.String(),
				Location: b.Location, Region: b.Region, StorageClass: b.StorageClass, CreationDate: timePtr(created)}
			if err := l.row(e, l.p.Timestamp(created), b.Location, b.StorageClass, e.URL); err != nil {
				return err
			}
			l.count++
		}
		if !res.IsTruncated || l.full() {
			return nil
		}
		if res.NextMarker == "" || res.NextMarker == marker {
			return fmt.Errorf("listing buckets: truncated listing without a new marker")
		}
		marker = res.NextMarker
	}
}

func (l *lister) bucket() (*oss.Bucket, error) {
	b, err := l.client.Bucket(l.opts.URL.Bucket)
	if err != nil {
		return nil, cmdutil.FlagErrorWrap(err)
	}
	return b, nil
}

func (l *lister) objects() error {
	b, err := l.bucket()
	if err != nil {
		return err
	}
	u := l.opts.URL
	delim := "/"
	if l.opts.Recursive {
		delim = ""
	}
	marker := ""
	for {
		res, err := b.ListObjects(oss.Prefix(u.Key), oss.Delimiter(delim), oss.Marker(marker),
			oss.MaxKeys(l.pageLimit()), oss.WithContext(l.opts.Ctx))
		if err != nil {
			return fmt.Errorf("listing %s: %w", u, err)
		}
		// OSS returns objects and common prefixes of a page merged in key order; print them
		// in that order.
		oi, pi := 0, 0
		for oi < len(res.Objects) || pi < len(res.CommonPrefixes) {
			if l.full() {
				return nil
			}
			takePrefix := pi < len(res.CommonPrefixes) &&
				(oi >= len(res.Objects) || res.CommonPrefixes[pi] < res.Objects[oi].Key)
			if takePrefix {
				pfx := res.CommonPrefixes[pi]
				pi++
				e := Entry{Type: "prefix", Bucket: u.Bucket, Prefix: pfx, URL: cmdutil.OSSURL{Bucket: u.Bucket, Key: pfx}.String()}
				if err := l.row(e, "", "", "DIR", e.URL); err != nil {
					return err
				}
				l.dirs++
				continue
			}
			o := res.Objects[oi]
			oi++
			if l.opts.DirsOnly {
				continue
			}
			size := o.Size
			e := Entry{Type: "object", Bucket: u.Bucket, Key: o.Key, URL: cmdutil.OSSURL{Bucket: u.Bucket, Key: o.Key}.String(),
				Size: &size, ETag: strings.Trim(o.ETag, `"`), LastModified: timePtr(o.LastModified),
				StorageClass: o.StorageClass, ObjectType: o.Type}
			if err := l.row(e, l.p.Timestamp(o.LastModified), l.p.Size(o.Size), o.StorageClass, e.URL); err != nil {
				return err
			}
			l.count++
			l.bytes += o.Size
		}
		if !res.IsTruncated || l.full() {
			return nil
		}
		if res.NextMarker == "" || res.NextMarker == marker {
			return fmt.Errorf("listing %s: truncated listing without a new marker", u)
		}
		marker = res.NextMarker
	}
}

func (l *lister) uploads() error {
	b, err := l.bucket()
	if err != nil {
		return err
	}
	u := l.opts.URL
	options := []oss.Option{oss.Prefix(u.Key), oss.WithContext(l.opts.Ctx)}
	if !l.opts.Recursive {
		options = append(options, oss.Delimiter("/"))
	}
	keyMarker, idMarker := "", ""
	for {
		res, err := b.ListMultipartUploads(append(options, oss.KeyMarker(keyMarker), oss.UploadIDMarker(idMarker),
			oss.MaxUploads(l.pageLimit()))...)
		if err != nil {
			return fmt.Errorf("listing multipart uploads in %s: %w", u, err)
		}
		for _, pfx := range res.CommonPrefixes {
			if l.full() {
				return nil
			}
			e := Entry{Type: "prefix", Bucket: u.Bucket, Prefix: pfx, URL: cmdutil.OSSURL{Bucket: u.Bucket, Key: pfx}.String()}
			if err := l.row(e, "", "", "DIR", e.URL); err != nil {
				return err
			}
			l.dirs++
		}
		for _, up := range res.Uploads {
			if l.full() {
				return nil
			}
			e := Entry{Type: "upload", Bucket: u.Bucket, Key: up.Key, URL: cmdutil.OSSURL{Bucket: u.Bucket, Key: up.Key}.String(),
				UploadID: up.UploadID, Initiated: timePtr(up.Initiated)}
			if err := l.row(e, l.p.Timestamp(up.Initiated), "", up.UploadID, e.URL); err != nil {
				return err
			}
			l.count++
		}
		if !res.IsTruncated || l.full() {
			return nil
		}
		if res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker {
			return fmt.Errorf("listing multipart uploads in %s: truncated listing without a new marker", u)
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}

// summary prints a count line on a terminal only.
func (l *lister) summary() {
	if l.p.IsJSON() || !l.opts.IO.IsStdoutTTY() || l.opts.IO.IsQuiet() {
		return
	}
	switch {
	case l.opts.URL == nil:
		_ = l.p.Printf("\n%d buckets\n", l.count)
	case l.opts.Uploads:
		_ = l.p.Printf("\n%d uploads, %d directories\n", l.count, l.dirs)
	case l.opts.DirsOnly:
		_ = l.p.Printf("\n%d directories\n", l.dirs)
	default:
		_ = l.p.Printf("\n%d objects (%s), %d directories\n", l.count, l.p.Size(l.bytes), l.dirs)
	}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
