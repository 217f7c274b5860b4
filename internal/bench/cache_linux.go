package bench

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropCache asks the kernel to evict f's (clean, fsynced) pages from the page cache, so that
// reading it measures the device. It reports whether the kernel accepted.
func dropCache(f *os.File) bool {
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED) == nil
}

// syncDir makes a rename in the directory durable.
func syncDir(d *os.File) error { return d.Sync() }
