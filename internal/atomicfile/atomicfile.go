// Package atomicfile replaces small files (configuration, credentials, key
// files) so that readers see the old or the new content, never a torn one,
// and a completed write survives a crash.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// WriteFile writes data to a temporary file next to path with exactly mode
// perm (whatever the umask or the old file's mode), fsyncs it, renames it
// over path, and fsyncs the directory so the rename itself is durable. On
// Windows, where a file cannot be replaced atomically, it is a plain write.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	if err := replace(path, data, perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs a directory, making renames into it durable. Filesystems
// that cannot sync a directory (EINVAL, ENOTSUP) and Windows are not an
// error: there is nothing more to do there.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return fmt.Errorf("opening %s to sync it: %w", dir, err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
