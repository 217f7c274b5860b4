package server_test

import (
	"bufio"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ossctl/ossctl/internal/server/servertest"
)

// storeFiles lists the regular files under sub ("tmp", "blobs") of the
// test server's data directory.
func storeFiles(t testing.TB, env *servertest.Env, sub string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(env.Store.Dir(), sub)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return out
}

// waitUntil polls cond until it holds or d elapses.
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantNoTempFiles waits for in-flight handlers to clean up and then
// asserts that the store's temp directory is empty.
func wantNoTempFiles(t testing.TB, env *servertest.Env) {
	t.Helper()
	var left []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		left = storeFiles(t, env, "tmp")
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("temp files left behind: %v", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawConn is a TCP connection to the test server driven byte by byte.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{Conn: c, br: bufio.NewReader(c)}
}

// response reads one response (its body fully).
func (c *rawConn) response(method string) (*rawResponse, []byte, error) {
	return readRawResponse(c.br, method)
}
