//go:build !linux

package bench

import (
	"os"
	"runtime"
)

// dropCache is unsupported here: the read may come from the page cache.
func dropCache(*os.File) bool { return false }

// syncDir makes a rename in the directory durable where the OS supports syncing directories.
func syncDir(d *os.File) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	return d.Sync()
}
