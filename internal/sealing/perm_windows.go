//go:build windows

package sealing

import "io/fs"

// insecureMode: Windows has no POSIX permission bits; access is governed
// by ACLs inherited from the data directory.
func insecureMode(fs.FileMode) bool { return false }
