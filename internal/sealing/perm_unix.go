//go:build !windows

package sealing

import "io/fs"

// insecureMode reports whether group or others have any access.
func insecureMode(m fs.FileMode) bool { return m.Perm()&0o077 != 0 }

// isSyncUnsupported reports whether a directory fsync error means the
// platform cannot sync directories.
func isSyncUnsupported(error) bool { return false }
