// Package stat implements `ossctl stat`: bucket information and statistics, or object metadata.
package stat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/spf13/cobra"

	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/output"
)

// Options is everything stat needs.
type Options struct {
	IO      *iostreams.IOStreams
	OSS     func() (*oss.Client, error)
	Printer func() *output.Printer
	Ctx     context.Context

	URL cmdutil.OSSURL
}

// BucketResult is the JSON output of `stat oss://BUCKET`.
type BucketResult struct {
	Type             string       `json:"type"`
	Bucket           string       `json:"bucket"`
	URL              string       `json:"url"`
	Location         string       `json:"location,omitempty"`
	CreationDate     *time.Time   `json:"creationDate,omitempty"`
	ExtranetEndpoint string       `json:"extranetEndpoint,omitempty"`
	IntranetEndpoint string       `json:"intranetEndpoint,omitempty"`
	ACL              string       `json:"acl,omitempty"`
	Owner            string       `json:"owner,omitempty"`
	StorageClass     string       `json:"storageClass,omitempty"`
	RedundancyType   string       `json:"redundancyType,omitempty"`
	Versioning       string       `json:"versioning,omitempty"`
	SSEAlgorithm     string       `json:"sseAlgorithm,omitempty"`
	KMSKeyID         string       `json:"kmsKeyId,omitempty"`
	Stat             *BucketUsage `json:"stat,omitempty"`
}

// BucketUsage is the bucket statistics part of BucketResult.
type BucketUsage struct {
	Storage              int64      `json:"storage"`
	ObjectCount          int64      `json:"objectCount"`
	MultipartUploadCount int64      `json:"multipartUploadCount"`
	LastModified         *time.Time `json:"lastModified,omitempty"`
}

// ObjectResult is the JSON output of `stat oss://BUCKET/KEY`.
type ObjectResult struct {
	Type               string            `json:"type"`
	Bucket             string            `json:"bucket"`
	Key                string            `json:"key"`
	URL                string            `json:"url"`
	Size               int64             `json:"size"`
	ETag               string            `json:"etag,omitempty"`
	CRC64              string            `json:"crc64,omitempty"`
	ObjectType         string            `json:"objectType,omitempty"`
	StorageClass       string            `json:"storageClass,omitempty"`
	LastModified       *time.Time        `json:"lastModified,omitempty"`
	ContentType        string            `json:"contentType,omitempty"`
	ContentEncoding    string            `json:"contentEncoding,omitempty"`
	ContentDisposition string            `json:"contentDisposition,omitempty"`
	CacheControl       string            `json:"cacheControl,omitempty"`
	Expires            string            `json:"expires,omitempty"`
	VersionID          string            `json:"versionId,omitempty"`
	SSEAlgorithm       string            `json:"sseAlgorithm,omitempty"`
	KMSKeyID           string            `json:"kmsKeyId,omitempty"`
	NextAppendPosition *int64            `json:"nextAppendPosition,omitempty"`
	ACL                string            `json:"acl,omitempty"`
	Metadata           map[string]string `json:"metadata"`
}

// NewCmdStat builds `ossctl stat`.
func NewCmdStat(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, OSS: f.OSS, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "stat oss://BUCKET[/KEY]",
		Short: "Show bucket or object details",
		Long: cmdutil.LongHelp(heredoc.Doc(`
			For oss://BUCKET, show the bucket's information (location, creation date, endpoints,
			ACL, owner, storage class, redundancy, versioning, default encryption) and its usage
			statistics when the service provides them.

			For oss://BUCKET/KEY, show the object's metadata: size, ETag, CRC-64, object type,
			storage class, last-modified time, content headers, version id, server-side
			encryption, user metadata (x-oss-meta-*) and its ACL ("default" means it inherits the
			bucket's). The ACL is omitted when you may read the object but not its ACL.
		`), cmdutil.RemoteExitCodes...),
		Example: heredoc.Doc(`
			$ ossctl stat oss://my-bucket
			$ ossctl stat oss://my-bucket/photos/cat.jpg
			$ ossctl stat oss://my-bucket/report.pdf --output json | jq .metadata
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
			return run(opts)
		},
	}
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
	if opts.URL.Key == "" {
		return statBucket(opts, c)
	}
	return statObject(opts, c)
}

// tolerable reports errors that only hide an optional part of the output.
func tolerable(err error) bool {
	var se oss.ServiceError
	return errors.As(err, &se) && (se.Code == "NotImplemented" || se.StatusCode == 501 || se.Code == "AccessDenied")
}

func statBucket(opts *Options, c *oss.Client) error {
	name := opts.URL.Bucket
	info, err := c.GetBucketInfo(name, oss.WithContext(opts.Ctx))
	if err != nil {
		return fmt.Errorf("reading bucket info of %s: %w", name, err)
	}
	bi := info.BucketInfo
	res := BucketResult{
		Type: "bucket", Bucket: name, URL: opts.URL.String(),
		Location: bi.Location, CreationDate: timePtr(bi.CreationDate),
		ExtranetEndpoint: bi.ExtranetEndpoint, IntranetEndpoint: bi.IntranetEndpoint,
		ACL: bi.ACL, Owner: bi.Owner.ID, StorageClass: bi.StorageClass, RedundancyType: bi.RedundancyType,
		Versioning: bi.Versioning, SSEAlgorithm: bi.SseRule.SSEAlgorithm, KMSKeyID: bi.SseRule.KMSMasterKeyID,
	}
	st, err := c.GetBucketStat(name, oss.WithContext(opts.Ctx))
	switch {
	case err == nil:
		res.Stat = &BucketUsage{Storage: st.Storage, ObjectCount: st.ObjectCount, MultipartUploadCount: st.MultipartUploadCount}
		if st.LastModifiedTime > 0 {
			res.Stat.LastModified = timePtr(time.Unix(st.LastModifiedTime, 0))
		}
	case tolerable(err):
	default:
		return fmt.Errorf("reading statistics of %s: %w", name, err)
	}
	p := opts.Printer()
	if p.IsJSON() {
		return p.JSON(res)
	}
	fields := []output.Field{
		{Name: "Name", Value: res.Bucket},
		{Name: "Location", Value: res.Location},
		{Name: "Created", Value: timeText(p, res.CreationDate)},
		{Name: "Extranet endpoint", Value: res.ExtranetEndpoint},
		{Name: "Intranet endpoint", Value: res.IntranetEndpoint},
		{Name: "ACL", Value: res.ACL},
		{Name: "Owner", Value: res.Owner},
		{Name: "Storage class", Value: res.StorageClass},
		{Name: "Redundancy", Value: res.RedundancyType},
		{Name: "Versioning", Value: orDash(res.Versioning)},
		{Name: "Encryption", Value: orDash(res.SSEAlgorithm)},
	}
	if res.KMSKeyID != "" {
		fields = append(fields, output.Field{Name: "KMS key", Value: res.KMSKeyID})
	}
	if s := res.Stat; s != nil {
		fields = append(fields,
			output.Field{Name: "Storage used", Value: sizeText(p, s.Storage)},
			output.Field{Name: "Objects", Value: strconv.FormatInt(s.ObjectCount, 10)},
			output.Field{Name: "Multipart uploads", Value: strconv.FormatInt(s.MultipartUploadCount, 10)},
		)
		if s.LastModified != nil {
			fields = append(fields, output.Field{Name: "Stats updated", Value: timeText(p, s.LastModified)})
		}
	}
	return p.Fields(fields)
}

func statObject(opts *Options, c *oss.Client) error {
	u := opts.URL
	b, err := c.Bucket(u.Bucket)
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	h, err := b.GetObjectDetailedMeta(u.Key, oss.WithContext(opts.Ctx))
	if err != nil {
		return fmt.Errorf("reading metadata of %s: %w", u, err)
	}
	res := objectResult(u, h)
	acl, err := b.GetObjectACL(u.Key, oss.WithContext(opts.Ctx))
	switch {
	case err == nil:
		res.ACL = acl.ACL
	case tolerable(err):
	default:
		return fmt.Errorf("reading ACL of %s: %w", u, err)
	}
	p := opts.Printer()
	if p.IsJSON() {
		return p.JSON(res)
	}
	fields := []output.Field{
		{Name: "URL", Value: res.URL},
		{Name: "Size", Value: sizeText(p, res.Size)},
		{Name: "ETag", Value: res.ETag},
		{Name: "CRC64", Value: orDash(res.CRC64)},
		{Name: "Object type", Value: res.ObjectType},
		{Name: "Storage class", Value: res.StorageClass},
		{Name: "Last modified", Value: timeText(p, res.LastModified)},
		{Name: "Content-Type", Value: res.ContentType},
	}
	opt := func(name, v string) {
		if v != "" {
			fields = append(fields, output.Field{Name: name, Value: v})
		}
	}
	opt("Content-Encoding", res.ContentEncoding)
	opt("Content-Disposition", res.ContentDisposition)
	opt("Cache-Control", res.CacheControl)
	opt("Expires", res.Expires)
	opt("Version id", res.VersionID)
	opt("Encryption", res.SSEAlgorithm)
	opt("KMS key", res.KMSKeyID)
	if res.NextAppendPosition != nil {
		opt("Next append position", strconv.FormatInt(*res.NextAppendPosition, 10))
	}
	opt("ACL", res.ACL)
	names := make([]string, 0, len(res.Metadata))
	for k := range res.Metadata {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		fields = append(fields, output.Field{Name: "Meta " + k, Value: res.Metadata[k]})
	}
	return p.Fields(fields)
}

func objectResult(u cmdutil.OSSURL, h http.Header) ObjectResult {
	res := ObjectResult{
		Type: "object", Bucket: u.Bucket, Key: u.Key, URL: u.String(),
		ETag:               strings.Trim(h.Get("ETag"), `"`),
		CRC64:              h.Get(oss.HTTPHeaderOssCRC64),
		ObjectType:         h.Get("X-Oss-Object-Type"),
		StorageClass:       h.Get(oss.HTTPHeaderOssStorageClass),
		ContentType:        h.Get("Content-Type"),
		ContentEncoding:    h.Get("Content-Encoding"),
		ContentDisposition: h.Get("Content-Disposition"),
		CacheControl:       h.Get("Cache-Control"),
		Expires:            h.Get("Expires"),
		VersionID:          h.Get("X-Oss-Version-Id"),
		SSEAlgorithm:       h.Get(oss.HTTPHeaderOssServerSideEncryption),
		KMSKeyID:           h.Get(oss.HTTPHeaderOssServerSideEncryptionKeyID),
		Metadata:           map[string]string{},
	}
	if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil {
		res.Size = n
	}
	if t, err := http.ParseTime(h.Get("Last-Modified")); err == nil {
		res.LastModified = timePtr(t)
	}
	if v := h.Get(oss.HTTPHeaderOssNextAppendPosition); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			res.NextAppendPosition = &n
		}
	}
	for name, vals := range h {
		if len(vals) == 0 {
			continue
		}
		if k, ok := cutPrefixFold(name, oss.HTTPHeaderOssMetaPrefix); ok {
			res.Metadata[strings.ToLower(k)] = vals[0]
		}
	}
	return res
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

func sizeText(p *output.Printer, n int64) string {
	if p.IsTTY() {
		return fmt.Sprintf("%s (%d bytes)", p.Size(n), n)
	}
	return strconv.FormatInt(n, 10)
}

func timeText(p *output.Printer, t *time.Time) string {
	if t == nil {
		return "-"
	}
	if p.IsTTY() {
		return p.Timestamp(*t) + " (" + p.RelativeTime(*t) + ")"
	}
	return p.Timestamp(*t)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
