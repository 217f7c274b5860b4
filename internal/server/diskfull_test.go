package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/server/servertest"
)

// TestDiskFull runs the server on a 24 MiB tmpfs and writes until the disk
// is full: the failing PUT gets a 5xx, the objects written before stay whole
// and readable, listing goes on, and once space is freed writes succeed
// again. It needs to mount a tmpfs (root on Linux) and is skipped otherwise.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, bytes.TrimSpace(out))
	}
	// Registered before the server starts, so it runs after the server is closed.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	env := servertest.StartWith(t, servertest.Options{DataDir: mnt})
	c, err := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateBucket("full-bkt"); err != nil {
		t.Fatal(err)
	}
	b, _ := c.Bucket("full-bkt")

	payload := func(i, n int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, n) }
	var written []string
	var failure error
	for i := 0; i < 40; i++ {
		key := fmt.Sprintf("obj-%02d", i)
		if err := b.PutObject(key, bytes.NewReader(payload(i, 2<<20))); err != nil {
			failure = err
			break
		}
		written = append(written, key)
	}
	if failure == nil {
		t.Fatal("40 PUTs of 2 MiB fit on a 24 MiB tmpfs: the disk never filled")
	}
	var se oss.ServiceError
	if !errors.As(failure, &se) || se.StatusCode < 500 {
		t.Fatalf("PUT on a full disk: %v, want a 5xx service error", failure)
	}
	if len(written) == 0 {
		t.Fatal("no PUT succeeded before the disk filled")
	}
	t.Logf("disk full after %d objects: %d %s: %s", len(written), se.StatusCode, se.Code, se.Message)
	// Everything acknowledged before is still there, whole.
	for i, key := range written {
		r, err := b.GetObject(key)
		if err != nil {
			t.Fatalf("GET %s after the disk filled: %v", key, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, payload(i, 2<<20)) {
			t.Fatalf("%s changed after the disk filled (err %v)", key, err)
		}
	}
	res, err := b.ListObjects()
	if err != nil || len(res.Objects) != len(written) {
		t.Fatalf("list after the disk filled: %d objects, %v; want %d", len(res.Objects), err, len(written))
	}
	// Free space and write again.
	for _, key := range written[:len(written)/2+1] {
		if err := b.DeleteObject(key); err != nil {
			t.Fatalf("DELETE %s on a full disk: %v", key, err)
		}
	}
	if err := b.PutObject("after", bytes.NewReader(payload(0, 1<<20))); err != nil {
		t.Fatalf("PUT after freeing space: %v", err)
	}
	if entries, _ := os.ReadDir(mnt + "/store/tmp"); len(entries) != 0 {
		t.Fatalf("temp files left after the failed PUT: %d", len(entries))
	}
}
