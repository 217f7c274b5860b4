//go:build !windows

package sealing

import "io/fs"

// insecureMode reports whether group or others have any access.
func insecureMode(m fs.FileMode) bool { return m.Perm()&0o077 != 0 }
