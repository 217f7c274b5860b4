package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/crc64x"
)

// ObjectInfo is what HeadObject returns about an object.
type ObjectInfo struct {
	Size   int64
	Header http.Header
}

// CRC64 returns the object's CRC-64 header value.
func (o ObjectInfo) CRC64() string { return o.Header.Get(HeaderCRC64) }

// ModTime returns the object's Last-Modified time (zero when absent).
func (o ObjectInfo) ModTime() time.Time {
	t, _ := http.ParseTime(o.Header.Get("Last-Modified"))
	return t
}

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

// Head is HeadObject with the Config's retry policy.
func (c *Config) Head(ctx context.Context, bucket, key string) (ObjectInfo, bool, error) {
	b, err := c.bucket(bucket)
	if err != nil {
		return ObjectInfo{}, false, err
	}
	var (
		info ObjectInfo
		ok   bool
	)
	err = c.Retry.do(ctx, func(int) error {
		var herr error
		info, ok, herr = HeadObject(ctx, b, key)
		return herr
	})
	return info, ok, err
}

// IsNotFound reports whether err is OSS's "no such key" answer (404).
func IsNotFound(err error) bool {
	var se oss.ServiceError
	if errors.As(err, &se) {
		return se.Code == "NoSuchKey" || (se.StatusCode == http.StatusNotFound && se.Code != "NoSuchBucket")
	}
	return false
}

// IsNoSuchBucket reports whether err is OSS's "no such bucket" answer.
func IsNoSuchBucket(err error) bool { return codeOf(err) == "NoSuchBucket" }

// FileCRC64 computes the CRC-64/ECMA of a local file (sync --checksum).
func FileCRC64(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the user's local file
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	defer func() { _ = f.Close() }() // read-only
	h := crc64x.New()
	buf := make([]byte, copyBufSize)
	if _, err := io.CopyBuffer(h, &meter{ctx: ctx, r: f}, buf); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return formatCRC(h.Sum64()), nil
}

// Delete removes one object, with retries. Removing a missing key succeeds.
func (c *Config) Delete(ctx context.Context, bucket, key string) error {
	b, err := c.bucket(bucket)
	if err != nil {
		return err
	}
	return c.Retry.do(ctx, func(int) error { return b.DeleteObject(key, oss.WithContext(ctx)) })
}

// MaxDeleteBatch is the most keys one DeleteMultipleObjects request may carry.
const MaxDeleteBatch = 1000

// DeleteBatch removes up to MaxDeleteBatch objects with one request (retried when retryable)
// and returns the keys the server confirmed.
func (c *Config) DeleteBatch(ctx context.Context, bucket string, keys []string) (map[string]bool, error) {
	b, err := c.bucket(bucket)
	if err != nil {
		return nil, err
	}
	var res oss.DeleteObjectsResult
	err = c.Retry.do(ctx, func(int) error {
		var derr error
		res, derr = b.DeleteObjects(keys, oss.DeleteObjectsQuiet(false), oss.WithContext(ctx))
		return derr
	})
	if err != nil {
		return nil, err
	}
	deleted := make(map[string]bool, len(res.DeletedObjects))
	for _, k := range res.DeletedObjects {
		deleted[k] = true
	}
	return deleted, nil
}
