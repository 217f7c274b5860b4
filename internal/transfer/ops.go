package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/cmdutil"
)

// Defaults and limits of single-object transfers.
const (
	DefaultThreshold = 100 << 20 // multipart at or above 100 MiB
	DefaultPartSize  = 8 << 20
	DefaultParallel  = 4
	MinPartSize      = oss.MinPartSize // 100 KiB
	MaxPartSize      = oss.MaxPartSize // 5 GiB
	MaxParts         = 10000
	// MaxSingleCopy is the largest object copied with one CopyObject request; larger ones are
	// copied part by part.
	MaxSingleCopy = 1 << 30
)

// HeaderCRC64 is the response header carrying an object's CRC-64/ECMA.
const HeaderCRC64 = "X-Oss-Hash-Crc64ecma"

// Config tunes single-object transfers.
type Config struct {
	// Client is the SDK client; CRC checking must stay enabled on it (the SDK default).
	Client *oss.Client
	// Threshold is the size at or above which transfers go part by part (0: DefaultThreshold).
	Threshold int64
	// PartSize is the multipart part size (0: DefaultPartSize); it grows as needed to stay
	// within MaxParts.
	PartSize int64
	// Parallel is the number of parts in flight per object (0: DefaultParallel).
	Parallel int
	// CheckpointDir holds resumable-transfer checkpoints; "" disables resuming.
	CheckpointDir string
}

func (c *Config) threshold() int64 {
	if c.Threshold > 0 {
		return c.Threshold
	}
	return DefaultThreshold
}

func (c *Config) parallel() int {
	if c.Parallel > 0 {
		return c.Parallel
	}
	return DefaultParallel
}

// PartSizeFor returns the part size used for an object of the given size: the configured size
// (or the default), raised so that the object fits in MaxParts parts.
func (c *Config) PartSizeFor(size int64) int64 {
	ps := c.PartSize
	if ps <= 0 {
		ps = DefaultPartSize
	}
	ps = max(ps, MinPartSize)
	if need := (size + MaxParts - 1) / MaxParts; need > ps {
		ps = need
	}
	return min(ps, MaxPartSize)
}

// Multipart reports whether an object of the given size is transferred part by part.
func (c *Config) Multipart(size int64) bool { return size >= c.threshold() }

// checkpoint returns the option enabling a resumable transfer whose checkpoint file is named
// after the transfer's identity, or nil when checkpoints are disabled.
func (c *Config) checkpoint(kind string, parts ...string) ([]oss.Option, string, error) {
	if c.CheckpointDir == "" {
		return nil, "", nil
	}
	if err := os.MkdirAll(c.CheckpointDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("creating checkpoint directory: %w", err)
	}
	path := filepath.Join(c.CheckpointDir, kind+"-"+digest(parts...)+".cp")
	return []oss.Option{oss.Checkpoint(true, path)}, path, nil
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// detached runs fn and returns its error, or ctx's error as soon as ctx is done. The SDK's
// multipart upload and copy workers do not watch a context; on cancellation they are left to
// finish their current part in the background while the caller returns (the process is about
// to exit), and their checkpoint stays for the next run.
func detached(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Upload is one local file to one object.
type Upload struct {
	LocalPath string
	Bucket    string
	Key       string
	// Size is the file's size when planned.
	Size int64
	// Options are the object's headers: content type, metadata, ACL, ...
	Options []oss.Option
}

// Upload sends a local file, with a single PutObject below the threshold and a resumable
// parallel multipart upload at or above it. The SDK verifies the CRC-64 of the object (or of
// every part). It returns the object's CRC-64 as reported by OSS.
func (c *Config) Upload(ctx context.Context, u Upload, l oss.ProgressListener) (string, error) {
	b, err := c.Client.Bucket(u.Bucket)
	if err != nil {
		return "", err
	}
	var h http.Header
	opts := append([]oss.Option{}, u.Options...)
	opts = append(opts, oss.WithContext(ctx), oss.GetResponseHeader(&h))
	if l != nil {
		opts = append(opts, oss.Progress(l))
	}
	if !c.Multipart(u.Size) {
		if err := b.PutObjectFromFile(u.Key, u.LocalPath, opts...); err != nil {
			return "", err
		}
		return h.Get(HeaderCRC64), nil
	}
	abs, _ := filepath.Abs(u.LocalPath)
	cp, _, err := c.checkpoint("upload", abs, u.Bucket, u.Key)
	if err != nil {
		return "", err
	}
	opts = append(opts, cp...)
	opts = append(opts, oss.Routines(c.parallel()))
	err = detached(ctx, func() error {
		return b.UploadFile(u.Key, u.LocalPath, c.PartSizeFor(u.Size), opts...)
	})
	if err != nil {
		return "", err
	}
	return h.Get(HeaderCRC64), nil
}

// Download is one object to one local file.
type Download struct {
	Bucket string
	Key    string
	// LocalPath is the final file name.
	LocalPath string
	// Size is the object's size as listed or read from its metadata.
	Size int64
	// CRC64 is the object's CRC-64 when already known (from a HEAD), reported back as is.
	CRC64 string
}

// TempPath returns the hidden file in the destination directory that a download writes
// before renaming it into place. The SDK itself appends ".temp" while it writes.
func TempPath(d Download) string {
	abs, _ := filepath.Abs(d.LocalPath)
	return filepath.Join(filepath.Dir(d.LocalPath), ".ossctl-"+digest(d.Bucket, d.Key, abs)+".download")
}

// Download fetches an object into a temporary file next to the destination and renames it into
// place only when the whole object arrived and its CRC-64 matched, so a failed or interrupted
// download never leaves a partial file under the final name. Large objects are fetched in
// parallel ranges with a checkpoint: an interrupted or network-failed download resumes on the
// next run; any other failure removes the temporary files.
func (c *Config) Download(ctx context.Context, d Download, l oss.ProgressListener) (string, error) {
	b, err := c.Client.Bucket(d.Bucket)
	if err != nil {
		return "", err
	}
	tmp := TempPath(d)
	sdkTmp := tmp + oss.TempFileSuffix
	var h http.Header
	opts := []oss.Option{oss.WithContext(ctx), oss.GetResponseHeader(&h)}
	if l != nil {
		opts = append(opts, oss.Progress(l))
	}
	if !c.Multipart(d.Size) {
		err = b.GetObjectToFile(d.Key, tmp, opts...)
		if err != nil {
			removeQuietly(sdkTmp, tmp)
			return "", err
		}
	} else {
		abs, _ := filepath.Abs(d.LocalPath)
		cp, cpPath, cerr := c.checkpoint("download", d.Bucket, d.Key, abs)
		if cerr != nil {
			return "", cerr
		}
		opts = append(opts, cp...)
		opts = append(opts, oss.Routines(c.parallel()))
		err = b.DownloadFile(d.Key, tmp, c.PartSizeFor(d.Size), opts...)
		if err != nil {
			if cpPath == "" || !resumable(ctx, err) {
				removeQuietly(sdkTmp, tmp, cpPath)
			}
			return "", err
		}
	}
	if err := os.Rename(tmp, d.LocalPath); err != nil {
		removeQuietly(tmp)
		return "", fmt.Errorf("moving the downloaded file into place: %w", err)
	}
	crc := d.CRC64
	if crc == "" && h != nil {
		crc = h.Get(HeaderCRC64)
	}
	return crc, nil
}

// resumable reports whether a failed download is worth keeping for the next run: it was
// interrupted, or the network failed. Service errors (the object is gone or changed, access is
// denied) and integrity failures start over.
func resumable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	var (
		se  oss.ServiceError
		crc oss.CRCCheckError
	)
	if errors.As(err, &se) || errors.As(err, &crc) {
		return false
	}
	var ue oss.UnexpectedStatusCodeError
	return !errors.As(err, &ue)
}

func removeQuietly(paths ...string) {
	for _, p := range paths {
		if p != "" {
			_ = os.Remove(p)
		}
	}
}

// Copy is a server-side copy of one object.
type Copy struct {
	SrcBucket, SrcKey string
	DstBucket, DstKey string
	// Size is the source's size.
	Size int64
	// SrcCRC64 is the source's CRC-64 when known; the copy is verified against it.
	SrcCRC64 string
	// Options are the destination's headers. For a single CopyObject they apply on top of the
	// metadata directive the caller chose; for a multipart copy (which copies no metadata by
	// itself) they must carry everything the destination should have.
	Options []oss.Option
}

// Copy copies an object inside OSS without moving its data through this machine: one
// CopyObject below the threshold (and up to MaxSingleCopy), parallel UploadPartCopy requests
// with a checkpoint above. When both CRC-64 values are known they must match.
func (c *Config) Copy(ctx context.Context, cp Copy, l *FileListener) (string, error) {
	dst, err := c.Client.Bucket(cp.DstBucket)
	if err != nil {
		return "", err
	}
	var h http.Header
	opts := append([]oss.Option{}, cp.Options...)
	opts = append(opts, oss.WithContext(ctx))
	if !c.Multipart(cp.Size) && cp.Size <= MaxSingleCopy {
		opts = append(opts, oss.GetResponseHeader(&h))
		if _, err := dst.CopyObjectFrom(cp.SrcBucket, cp.SrcKey, cp.DstKey, opts...); err != nil {
			return "", err
		}
	} else {
		// No GetResponseHeader here: the SDK hands it to every concurrent part request.
		ck, _, cerr := c.checkpoint("copy", cp.SrcBucket, cp.SrcKey, cp.DstBucket, cp.DstKey)
		if cerr != nil {
			return "", cerr
		}
		opts = append(opts, ck...)
		opts = append(opts, oss.Routines(c.parallel()))
		if l != nil {
			opts = append(opts, oss.Progress(l))
		}
		err = detached(ctx, func() error {
			return dst.CopyFile(cp.SrcBucket, cp.SrcKey, cp.DstKey, c.PartSizeFor(cp.Size), opts...)
		})
		if err != nil {
			return "", err
		}
		if h, err = dst.GetObjectDetailedMeta(cp.DstKey, oss.WithContext(ctx)); err != nil {
			return "", fmt.Errorf("reading the copy's metadata: %w", err)
		}
	}
	got := h.Get(HeaderCRC64)
	if got != "" && cp.SrcCRC64 != "" && got != cp.SrcCRC64 {
		return "", &cmdutil.IntegrityError{Err: fmt.Errorf("CRC-64 of the copy (%s) differs from the source's (%s)", got, cp.SrcCRC64)}
	}
	if got == "" {
		got = cp.SrcCRC64
	}
	return got, nil
}

// ObjectInfo is what HeadObject returns about an object.
type ObjectInfo struct {
	Size   int64
	Header http.Header
}

// CRC64 returns the object's CRC-64 header value.
func (o ObjectInfo) CRC64() string { return o.Header.Get(HeaderCRC64) }

// HeadObject reads an object's metadata. A missing object returns ok=false and no error.
func HeadObject(ctx context.Context, b *oss.Bucket, key string) (ObjectInfo, bool, error) {
	h, err := b.GetObjectDetailedMeta(key, oss.WithContext(ctx))
	if err != nil {
		if IsNotFound(err) {
			return ObjectInfo{}, false, nil
		}
		return ObjectInfo{}, false, err
	}
	size, perr := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if perr != nil {
		return ObjectInfo{}, false, fmt.Errorf("reading the size of oss://%s/%s: bad Content-Length %q", b.BucketName, key, h.Get("Content-Length"))
	}
	return ObjectInfo{Size: size, Header: h}, true, nil
}

// IsNotFound reports whether err is OSS's "no such key" answer (404).
func IsNotFound(err error) bool {
	var se oss.ServiceError
	if errors.As(err, &se) {
		return se.Code == "NoSuchKey" || (se.StatusCode == http.StatusNotFound && se.Code != "NoSuchBucket")
	}
	return false
}
