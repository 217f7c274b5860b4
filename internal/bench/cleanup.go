package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// deleteBatch is the number of keys per DeleteMultipleObjects request (the OSS maximum).
const deleteBatch = 1000

// CleanupResult says what Cleanup removed.
type CleanupResult struct {
	// ObjectsDeleted counts the objects deleted under the prefix.
	ObjectsDeleted int64 `json:"objectsDeleted"`
	// BucketRemoved is set when the temporary bucket was removed.
	BucketRemoved bool `json:"bucketRemoved"`
}

// Cleanup deletes every object whose key starts with prefix and then, when removeBucket is set,
// the bucket itself. prefix must not be empty unless the whole bucket is the benchmark's own.
// A bucket that does not exist has nothing to clean up. A request that was cut off by Ctrl-C may still complete on the server after the listing, so a
// bucket that is not empty yet is emptied again a few times before giving up.
func Cleanup(ctx context.Context, client *oss.Client, bucket, prefix string, removeBucket bool) (CleanupResult, error) {
	var res CleanupResult
	if prefix == "" && !removeBucket {
		return res, errors.New("cleanup: refusing to delete a whole bucket that the benchmark did not create")
	}
	b, err := client.Bucket(bucket)
	if err != nil {
		return res, fmt.Errorf("cleaning up oss://%s: %w", bucket, err)
	}
	const attempts = 4
	for attempt := 1; ; attempt++ {
		n, err := deletePrefix(ctx, b, prefix)
		res.ObjectsDeleted += n
		if isNoSuchBucket(err) {
			return res, nil // nothing was written, or someone removed it all already
		}
		if err != nil {
			return res, fmt.Errorf("cleaning up oss://%s/%s: %w", bucket, prefix, err)
		}
		if !removeBucket {
			return res, nil
		}
		err = client.DeleteBucket(bucket, oss.WithContext(ctx))
		if err == nil {
			res.BucketRemoved = true
			return res, nil
		}
		var se oss.ServiceError
		if !errors.As(err, &se) || se.Code != "BucketNotEmpty" || attempt == attempts {
			return res, fmt.Errorf("removing temporary bucket %s: %w", bucket, err)
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("removing temporary bucket %s: %w", bucket, ctx.Err())
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
}

func isNoSuchBucket(err error) bool {
	var se oss.ServiceError
	return errors.As(err, &se) && se.Code == "NoSuchBucket"
}

// deletePrefix deletes every object under prefix, a listing page at a time.
func deletePrefix(ctx context.Context, b *oss.Bucket, prefix string) (int64, error) {
	var deleted int64
	marker := ""
	for {
		lr, err := b.ListObjects(oss.Prefix(prefix), oss.Marker(marker), oss.MaxKeys(deleteBatch), oss.WithContext(ctx))
		if err != nil {
			return deleted, fmt.Errorf("listing objects: %w", err)
		}
		if len(lr.Objects) > 0 {
			keys := make([]string, len(lr.Objects))
			for i, o := range lr.Objects {
				keys[i] = o.Key
			}
			dr, err := b.DeleteObjects(keys, oss.DeleteObjectsQuiet(false), oss.WithContext(ctx))
			if err != nil {
				return deleted, fmt.Errorf("deleting objects: %w", err)
			}
			deleted += int64(len(dr.DeletedObjects))
			if missing := len(keys) - len(dr.DeletedObjects); missing > 0 {
				return deleted, fmt.Errorf("deleting objects: the server did not delete %d of %d objects", missing, len(keys))
			}
		}
		if !lr.IsTruncated {
			return deleted, nil
		}
		if lr.NextMarker == "" || lr.NextMarker == marker {
			return deleted, errors.New("listing objects: truncated listing without a new marker")
		}
		marker = lr.NextMarker
	}
}
