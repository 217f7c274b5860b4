package transfer

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// ListPageSize is the number of keys requested per listing page (the OSS maximum).
const ListPageSize = 1000

// LocalFile is a regular file found by WalkLocal.
type LocalFile struct {
	// Path is the file's path as the walk reached it (root joined with Rel).
	Path string
	// Rel is the path relative to the walk's root, '/'-separated.
	Rel     string
	Size    int64
	ModTime time.Time
}

// WalkLocal streams the regular files under root, in lexical order, to fn without loading the
// tree into memory. Symbolic links to regular files are followed; links to directories are not
// (no cycles). Other special files (sockets, devices, pipes) are skipped. An entry that cannot be
// read is passed to fn with a non-nil error and an empty Rel when unknown; the walk goes on
// unless fn returns an error, which stops it and is returned.
func WalkLocal(ctx context.Context, root string, fn func(f LocalFile, err error) error) error {
	if fi, err := os.Lstat(root); err == nil && fi.Mode()&fs.ModeSymlink != 0 && !strings.HasSuffix(root, string(filepath.Separator)) {
		// The root itself may be a link to a directory: walk the directory it names.
		root += string(filepath.Separator)
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		rel := relSlash(root, p)
		if err != nil {
			if ferr := fn(LocalFile{Path: p, Rel: rel}, fmt.Errorf("reading %s: %w", p, err)); ferr != nil {
				return ferr
			}
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		mode := d.Type()
		if mode&fs.ModeSymlink != 0 {
			fi, serr := os.Stat(p)
			if serr != nil {
				return fn(LocalFile{Path: p, Rel: rel}, fmt.Errorf("following symbolic link %s: %w", p, serr))
			}
			if !fi.Mode().IsRegular() {
				return nil
			}
			return fn(LocalFile{Path: p, Rel: rel, Size: fi.Size(), ModTime: fi.ModTime()}, nil)
		}
		if !mode.IsRegular() {
			return nil
		}
		fi, ierr := d.Info()
		if ierr != nil {
			return fn(LocalFile{Path: p, Rel: rel}, fmt.Errorf("reading %s: %w", p, ierr))
		}
		return fn(LocalFile{Path: p, Rel: rel, Size: fi.Size(), ModTime: fi.ModTime()}, nil)
	})
}

func relSlash(root, p string) string {
	r, err := filepath.Rel(root, p)
	if err != nil || r == "." {
		return ""
	}
	return filepath.ToSlash(r)
}

// WalkRemote streams every object whose key starts with prefix to fn, page by page
// (ListObjectsV2, ListPageSize keys per request), in key order. fn's error stops the walk and is
// returned; listing errors are returned wrapped.
func WalkRemote(ctx context.Context, b *oss.Bucket, prefix string, fn func(oss.ObjectProperties) error) error {
	token := ""
	for {
		opts := []oss.Option{oss.Prefix(prefix), oss.MaxKeys(ListPageSize), oss.WithContext(ctx)}
		if token != "" {
			opts = append(opts, oss.ContinuationToken(token))
		}
		res, err := b.ListObjectsV2(opts...)
		if err != nil {
			return fmt.Errorf("listing oss://%s/%s: %w", b.BucketName, prefix, err)
		}
		for _, o := range res.Objects {
			if err := fn(o); err != nil {
				return err
			}
		}
		if !res.IsTruncated {
			return nil
		}
		if res.NextContinuationToken == "" || res.NextContinuationToken == token {
			return fmt.Errorf("listing oss://%s/%s: truncated listing without a new continuation token", b.BucketName, prefix)
		}
		token = res.NextContinuationToken
	}
}

// PrefixBase returns the part of a listing prefix that relative names are computed from: the
// prefix up to and including its last '/'. Listing oss://b/photos/ names photos/a.jpg "a.jpg";
// listing oss://b/photos (a plain string prefix) names it "photos/a.jpg".
func PrefixBase(prefix string) string {
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		return prefix[:i+1]
	}
	return ""
}

// LocalRel maps an object key below base to a relative local path, refusing keys that would
// escape the destination directory or that do not name a file unambiguously ("..", ".", empty
// segments, absolute paths, a trailing '/'). It returns the '/'-separated path.
func LocalRel(key, base string) (string, error) {
	rel, ok := strings.CutPrefix(key, base)
	if !ok {
		return "", fmt.Errorf("key %q is not under %q", key, base)
	}
	if rel == "" || strings.HasSuffix(rel, "/") {
		return "", fmt.Errorf("key %q names a directory, not a file", key)
	}
	if path.Clean(rel) != rel || !filepath.IsLocal(filepath.FromSlash(rel)) || strings.ContainsRune(rel, 0) {
		return "", fmt.Errorf("key %q cannot be mapped safely to a local path (it contains '..', '.', '//' or an absolute path)", key)
	}
	if filepath.Separator != '/' && strings.ContainsRune(rel, filepath.Separator) {
		return "", fmt.Errorf("key %q contains %q, which is a path separator here", key, string(filepath.Separator))
	}
	return rel, nil
}
