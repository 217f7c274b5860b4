//go:build unix

package sync

import (
	"syscall"
	"testing"
)

// mkfifo creates a named pipe: a special file that walks must report, not silently leave out.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatalf("mkfifo %s: %v", path, err)
	}
}
