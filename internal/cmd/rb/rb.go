// Package rb implements `ossctl rb`, which removes a bucket, optionally emptying it first.
package rb

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
)

// batchSize is the number of keys per DeleteMultipleObjects request (the OSS maximum).
const batchSize = 1000

// Options is everything rb needs.
type Options struct {
	IO      *iostreams.IOStreams
	OSS     func() (*oss.Client, error)
	Printer func() *output.Printer
	Ctx     context.Context

	Bucket string
	// Force empties the bucket first: every object, object version, delete marker and
	// incomplete multipart upload.
	Force bool
	// Yes skips the confirmation that Force asks for.
	Yes bool
}

// Result is the JSON output of rb.
type Result struct {
	Bucket          string `json:"bucket"`
	URL             string `json:"url"`
	Removed         bool   `json:"removed"`
	ObjectsDeleted  int    `json:"objectsDeleted"`
	VersionsDeleted int    `json:"versionsDeleted"`
	UploadsAborted  int    `json:"uploadsAborted"`
}

// NewCmdRb builds `ossctl rb`.
func NewCmdRb(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "rb oss://BUCKET",
		Short: "Remove a bucket",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			Remove a bucket. OSS refuses to remove a bucket that still holds objects or incomplete
			multipart uploads (BucketNotEmpty, exit 1).

			--force first deletes every object (every version and delete marker in a versioned
			bucket) and aborts every incomplete multipart upload. It asks you to type the bucket
			name to confirm; --yes (or -f) skips the question, and is required when no terminal
			is attached. Objects under a WORM retention policy cannot be deleted, so such a bucket
			cannot be removed until the retention expires.
		`), cmdutil.RemoteExitCodes...),
		Example: heredoc.Doc(`
			$ ossctl rb oss://my-bucket
			$ ossctl rb oss://scratch-bucket --force
			$ ossctl rb oss://ci-bucket --force --yes
		`),
		Args:              cmdutil.ExactArgs(1, "oss://BUCKET"),
		ValidArgsFunction: cmdutil.CompleteBuckets(f, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := cmdutil.ParseBucketURL(args[0])
			if err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			opts.Bucket = b
			opts.Ctx = cmd.Context()
			if opts.Force && !opts.Yes && !opts.IO.CanPrompt() {
				return cmdutil.FlagErrorf("--force deletes every object in oss://%s: confirm with --yes when no terminal is attached", b)
			}
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "delete all objects, versions and incomplete uploads first")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	// -f is accepted as ossutil's spelling of "do not ask"; it is hidden to keep help short.
	cmd.Flags().BoolVarP(&opts.Yes, "no-confirm", "f", false, "same as --yes")
	_ = cmd.Flags().MarkHidden("no-confirm")
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
	res := Result{Bucket: opts.Bucket, URL: cmdutil.OSSURL{Bucket: opts.Bucket}.String()}
	if opts.Force {
		if !opts.Yes {
			opts.IO.Eprintf("This deletes every object, version and incomplete upload in %s.\n", res.URL)
			ans, err := opts.IO.Prompt("Type the bucket name to confirm", "")
			if err != nil {
				return err
			}
			if strings.TrimSpace(ans) != opts.Bucket {
				return fmt.Errorf("removing bucket %s: %w (the name did not match)", opts.Bucket, cmdutil.ErrCanceled)
			}
		}
		if err := empty(ctx, c, opts.Bucket, &res); err != nil {
			return fmt.Errorf("emptying bucket %s: %w", opts.Bucket, err)
		}
	}
	if err := c.DeleteBucket(opts.Bucket, oss.WithContext(ctx)); err != nil {
		err = fmt.Errorf("removing bucket %s: %w", opts.Bucket, err)
		var se oss.ServiceError
		if errors.As(err, &se) && se.Code == "BucketNotEmpty" && !opts.Force {
			err = cmdutil.WithHint(err, "use --force to delete its objects and incomplete uploads first")
		}
		return err
	}
	res.Removed = true
	p := opts.Printer()
	if p.IsJSON() {
		return p.JSON(res)
	}
	if opts.Force && !opts.IO.IsQuiet() {
		opts.IO.Eprintf("Deleted %d objects and %d object versions, aborted %d uploads\n",
			res.ObjectsDeleted, res.VersionsDeleted, res.UploadsAborted)
	}
	p.Status("Removed bucket %s\n", res.URL)
	return nil
}

// empty deletes everything a bucket holds.
func empty(ctx context.Context, c *oss.Client, bucket string, res *Result) error {
	b, err := c.Bucket(bucket)
	if err != nil {
		return err
	}
	versioned := false
	v, err := c.GetBucketVersioning(bucket, oss.WithContext(ctx))
	switch {
	case err == nil:
		versioned = v.Status != ""
	case isNotImplemented(err):
		// A server without versioning support has no versions to delete.
	default:
		return fmt.Errorf("reading versioning status: %w", err)
	}
	if versioned {
		if err := deleteVersions(ctx, b, res); err != nil {
			return err
		}
	} else if err := deleteObjects(ctx, b, res); err != nil {
		return err
	}
	return abortUploads(ctx, b, res)
}

func isNotImplemented(err error) bool {
	var se oss.ServiceError
	return errors.As(err, &se) && (se.Code == "NotImplemented" || se.StatusCode == 501)
}

func deleteObjects(ctx context.Context, b *oss.Bucket, res *Result) error {
	marker := ""
	for {
		lr, err := b.ListObjects(oss.Marker(marker), oss.MaxKeys(batchSize), oss.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("listing objects: %w", err)
		}
		if len(lr.Objects) > 0 {
			keys := make([]string, len(lr.Objects))
			for i, o := range lr.Objects {
				keys[i] = o.Key
			}
			dr, err := b.DeleteObjects(keys, oss.DeleteObjectsQuiet(false), oss.WithContext(ctx))
			if err != nil {
				return fmt.Errorf("deleting objects: %w", err)
			}
			if missing := len(keys) - len(dr.DeletedObjects); missing > 0 {
				return fmt.Errorf("deleting objects: the server did not delete %d of %d objects", missing, len(keys))
			}
			res.ObjectsDeleted += len(keys)
		}
		if !lr.IsTruncated {
			return nil
		}
		if lr.NextMarker == "" || lr.NextMarker == marker {
			return fmt.Errorf("listing objects: truncated listing without a new marker")
		}
		marker = lr.NextMarker
	}
}

func deleteVersions(ctx context.Context, b *oss.Bucket, res *Result) error {
	keyMarker, versionMarker := "", ""
	for {
		lr, err := b.ListObjectVersions(oss.KeyMarker(keyMarker), oss.VersionIdMarker(versionMarker),
			oss.MaxKeys(batchSize), oss.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("listing object versions: %w", err)
		}
		var objs []oss.DeleteObject
		for _, v := range lr.ObjectVersions {
			objs = append(objs, oss.DeleteObject{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range lr.ObjectDeleteMarkers {
			objs = append(objs, oss.DeleteObject{Key: m.Key, VersionId: m.VersionId})
		}
		for start := 0; start < len(objs); start += batchSize {
			chunk := objs[start:min(start+batchSize, len(objs))]
			dr, err := b.DeleteObjectVersions(chunk, oss.DeleteObjectsQuiet(false), oss.WithContext(ctx))
			if err != nil {
				return fmt.Errorf("deleting object versions: %w", err)
			}
			if missing := len(chunk) - len(dr.DeletedObjectsDetail); missing > 0 {
				return fmt.Errorf("deleting object versions: the server did not delete %d of %d versions", missing, len(chunk))
			}
			res.VersionsDeleted += len(chunk)
		}
		if !lr.IsTruncated {
			return nil
		}
		if lr.NextKeyMarker == keyMarker && lr.NextVersionIdMarker == versionMarker {
			return fmt.Errorf("listing object versions: truncated listing without a new marker")
		}
		keyMarker, versionMarker = lr.NextKeyMarker, lr.NextVersionIdMarker
	}
}

func abortUploads(ctx context.Context, b *oss.Bucket, res *Result) error {
	keyMarker, uploadMarker := "", ""
	for {
		lr, err := b.ListMultipartUploads(oss.KeyMarker(keyMarker), oss.UploadIDMarker(uploadMarker),
			oss.MaxUploads(batchSize), oss.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("listing multipart uploads: %w", err)
		}
		for _, u := range lr.Uploads {
			imur := oss.InitiateMultipartUploadResult{Bucket: b.BucketName, Key: u.Key, UploadID: u.UploadID}
			if err := b.AbortMultipartUpload(imur, oss.WithContext(ctx)); err != nil {
				var se oss.ServiceError
				if errors.As(err, &se) && se.Code == "NoSuchUpload" {
					continue // completed or aborted meanwhile
				}
				return fmt.Errorf("aborting upload %s of %s: %w", u.UploadID, u.Key, err)
			}
			res.UploadsAborted++
		}
		if !lr.IsTruncated {
			return nil
		}
		if lr.NextKeyMarker == keyMarker && lr.NextUploadIDMarker == uploadMarker {
			return fmt.Errorf("listing multipart uploads: truncated listing without a new marker")
		}
		keyMarker, uploadMarker = lr.NextKeyMarker, lr.NextUploadIDMarker
	}
}
