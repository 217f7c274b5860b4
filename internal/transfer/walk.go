package transfer

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
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

// NotRegularError reports a special file (a named pipe, socket or device, or a symbolic link to
// one) met by a walk: it has no content to transfer, so callers skip it and say so.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.Path, e.Kind())
}

// Kind names the kind of special file ("a named pipe").
func (e *NotRegularError) Kind() string {
	switch t := e.Mode.Type(); {
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

// WalkLocal streams the regular files under root to fn, in byte order of their relative paths
// (the order of OSS listings, so that a local tree and a prefix can be merged), without loading
// the tree into memory: only one directory's entries are held per level. Symbolic links to
// regular files are followed; links to directories are not (no cycles). Special files
// (sockets, devices, pipes) are passed to fn with a *NotRegularError, so that they are reported
// rather than silently left out. An entry that cannot be read is passed to fn with a non-nil
// error; the walk goes on unless fn returns an error, which stops it and is returned.
func WalkLocal(ctx context.Context, root string, fn func(f LocalFile, err error) error) error {
	return WalkLocalFiltered(ctx, root, nil, fn)
}

// WalkLocalFiltered is WalkLocal that passes only the files filter includes and does not enter
// directories it excludes entirely.
func WalkLocalFiltered(ctx context.Context, root string, filter *Filter, fn func(f LocalFile, err error) error) error {
	fi, err := os.Stat(root)
	if err != nil {
		return fn(LocalFile{Path: root}, fmt.Errorf("reading %s: %w", root, err))
	}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return nil
		}
		return fn(LocalFile{Path: root, Rel: filepath.Base(root), Size: fi.Size(), ModTime: fi.ModTime()}, nil)
	}
	return walkDir(ctx, root, "", filter, fn)
}

type walkEntry struct {
	name string
	key  string // name, plus '/' for directories: sorting by key orders full paths bytewise
	dir  bool
	info fs.FileInfo
	err  error
}

func walkDir(ctx context.Context, dir, rel string, filter *Filter, fn func(LocalFile, error) error) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if ferr := fn(LocalFile{Path: dir, Rel: rel}, fmt.Errorf("reading directory %s: %w", dir, err)); ferr != nil {
			return ferr
		}
		if len(ents) == 0 {
			return nil
		}
	}
	list := make([]walkEntry, 0, len(ents))
	for _, d := range ents {
		e := walkEntry{name: d.Name(), key: d.Name()}
		p := filepath.Join(dir, d.Name())
		switch t := d.Type(); {
		case t.IsDir():
			e.dir, e.key = true, d.Name()+"/"
		case t&fs.ModeSymlink != 0:
			fi, serr := os.Stat(p)
			switch {
			case serr != nil:
				e.err = fmt.Errorf("following symbolic link %s: %w", p, serr)
			case fi.Mode().IsRegular():
				e.info = fi
			case fi.IsDir():
				continue // links to directories are not followed: no cycles
			default:
				e.err = &NotRegularError{Path: p, Mode: fi.Mode()}
			}
		case t.IsRegular():
			fi, ierr := d.Info()
			if ierr != nil {
				e.err = fmt.Errorf("reading %s: %w", p, ierr)
			}
			e.info = fi
		default:
			e.err = &NotRegularError{Path: p, Mode: t}
		}
		list = append(list, e)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].key < list[j].key })
	for _, e := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(dir, e.name)
		r := e.name
		if rel != "" {
			r = rel + "/" + e.name
		}
		if e.dir {
			if filter.SkipDir(r) {
				continue
			}
			if err := walkDir(ctx, p, r, filter, fn); err != nil {
				return err
			}
			continue
		}
		if !filter.Match(r) {
			continue
		}
		if e.err != nil {
			if err := fn(LocalFile{Path: p, Rel: r}, e.err); err != nil {
				return err
			}
			continue
		}
		if err := fn(LocalFile{Path: p, Rel: r, Size: e.info.Size(), ModTime: e.info.ModTime()}, nil); err != nil {
			return err
		}
	}
	return nil
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
