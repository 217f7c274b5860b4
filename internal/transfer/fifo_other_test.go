//go:build !unix

package transfer

import "testing"

func mkfifo(t *testing.T, _ string) {
	t.Helper()
	t.Skip("named pipes need a Unix system")
}
