//go:build !unix

package cp

import "testing"

func mkfifo(t *testing.T, _ string) {
	t.Helper()
	t.Skip("named pipes need a Unix system")
}
