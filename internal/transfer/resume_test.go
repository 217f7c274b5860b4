package transfer

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/server/servertest"
)

// gate lets the first n ranged GETs through and holds the others until their request is
// canceled.
type gate struct {
	allowed atomic.Int32
	n       int32
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && r.Header.Get("Range") != "" && g.allowed.Add(1) > g.n {
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	return http.DefaultTransport.RoundTrip(r)
}

type cancelAfter struct {
	parts  atomic.Int32
	n      int32
	cancel context.CancelFunc
	first  atomic.Int64
}

func (c *cancelAfter) ProgressChanged(e *oss.ProgressEvent) {
	switch e.EventType {
	case oss.TransferStartedEvent:
		c.first.Store(e.ConsumedBytes)
	case oss.TransferDataEvent:
		if c.parts.Add(1) == c.n && c.cancel != nil {
			c.cancel()
		}
	}
}

func TestDownloadResumesFromCheckpoint(t *testing.T) {
	env := servertest.Start(t)
	plain, _ := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret)
	if err := plain.CreateBucket("bkt1"); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 10*MinPartSize+123)
	r := rand.New(rand.NewPCG(7, 8))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	b, _ := plain.Bucket("bkt1")
	if err := b.PutObject("big", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cpDir := filepath.Join(dir, "cp")
	dst := filepath.Join(dir, "out", "big")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	d := Download{Bucket: "bkt1", Key: "big", LocalPath: dst, Size: int64(len(data))}

	gated, _ := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret, oss.HTTPClient(&http.Client{Transport: &gate{n: 3}}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := &cancelAfter{n: 3, cancel: cancel}
	cfg := &Config{Client: gated, Threshold: 1, PartSize: MinPartSize, Parallel: 1, CheckpointDir: cpDir}
	_, err := cfg.Download(ctx, d, l)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted download: error %v, want context.Canceled", err)
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("final file exists after an interrupted download: %v", err)
	}
	if _, err := os.Stat(TempPath(d) + oss.TempFileSuffix); err != nil {
		t.Fatalf("partial download not kept for resuming: %v", err)
	}
	if ents, _ := os.ReadDir(cpDir); len(ents) != 1 || !strings.HasPrefix(ents[0].Name(), "download-") {
		t.Fatalf("checkpoint not kept: %v", ents)
	}

	l2 := &cancelAfter{}
	cfg.Client = plain
	crc, err := cfg.Download(context.Background(), d, l2)
	if err != nil {
		t.Fatal(err)
	}
	if l2.first.Load() != 3*MinPartSize {
		t.Errorf("resumed download started at %d bytes, want %d", l2.first.Load(), 3*MinPartSize)
	}
	if got := l2.parts.Load(); got != 8 {
		t.Errorf("resumed download fetched %d parts, want the remaining 8", got)
	}
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("resumed download differs (err %v)", err)
	}
	if crc == "" {
		t.Error("no CRC-64 reported")
	}
	if ents, _ := os.ReadDir(filepath.Dir(dst)); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	if ents, _ := os.ReadDir(cpDir); len(ents) != 0 {
		t.Errorf("checkpoint left after success: %v", ents)
	}
}
