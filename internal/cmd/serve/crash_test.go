package serve_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// -crash.rounds sets how many kill/restart rounds TestCrashSafety runs. CI
// runs a few; run hundreds with e.g.
//
//	go test ./internal/cmd/serve -run TestCrashSafety -crash.rounds 300 -v
var crashRounds = flag.Int("crash.rounds", 3, "kill/restart rounds in TestCrashSafety")

func newClient(t testing.TB, endpoint string) *oss.Client {
	t.Helper()
	c, err := oss.New(endpoint, testAK, testSK, oss.Timeout(5, 30))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// keyState is what a key holds: absent, or content with this MD5.
type keyState struct {
	exists bool
	md5    string
}

func (s keyState) String() string {
	if !s.exists {
		return "absent"
	}
	return s.md5
}

// keyModel tracks, per key, the last acknowledged state and the state of
// the one operation in flight (each key belongs to one worker, which runs
// its operations one at a time, so at most one is in flight).
type keyModel struct {
	acked    keyState
	inflight *keyState
}

type model struct {
	mu   sync.Mutex
	keys map[string]*keyModel
	acks int // acknowledged operations, to show the harness did work
	lost int // operations in flight when the server was killed
}

func (m *model) begin(key string, next keyState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.keys[key]
	if k == nil {
		k = &keyModel{}
		m.keys[key] = k
	}
	n := next
	k.inflight = &n
}

func (m *model) ack(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.keys[key]
	k.acked = *k.inflight
	k.inflight = nil
	m.acks++
}

func (m *model) state(key string) keyState {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k := m.keys[key]; k != nil {
		return k.acked
	}
	return keyState{}
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

// payload makes deterministic-but-varied content of n bytes.
func payload(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// worker runs random operations on its own keys until stop is closed or
// the server goes away.
func worker(id int, bkt *oss.Bucket, m *model, stop <-chan struct{}, seed uint64) {
	r := rand.New(rand.NewPCG(seed, uint64(id)))
	keys := []string{
		fmt.Sprintf("w%d/a", id), fmt.Sprintf("w%d/a/b", id), fmt.Sprintf("w%d/big", id),
		fmt.Sprintf("w%d/mp", id), fmt.Sprintf("w%d/copy", id), fmt.Sprintf("w%d/x y+z", id),
	}
	for {
		select {
		case <-stop:
			return
		default:
		}
		key := keys[r.IntN(len(keys))]
		var err error
		switch op := r.IntN(10); {
		case op < 4: // PUT, small or large
			n := r.IntN(8 << 10)
			if r.IntN(4) == 0 {
				n = 200<<10 + r.IntN(2<<20)
			}
			data := payload(r, n)
			m.begin(key, keyState{true, md5hex(data)})
			err = bkt.PutObject(key, bytes.NewReader(data))
		case op < 6: // multipart: 3 parts, last one short
			data := payload(r, 2*(100<<10)+r.IntN(50<<10))
			imur, ierr := bkt.InitiateMultipartUpload(key)
			if ierr != nil {
				return
			}
			var parts []oss.UploadPart
			for i, off := 1, 0; off < len(data); i++ {
				end := min(off+100<<10, len(data))
				p, perr := bkt.UploadPart(imur, bytes.NewReader(data[off:end]), int64(end-off), i)
				if perr != nil {
					return
				}
				parts = append(parts, p)
				off = end
			}
			m.begin(key, keyState{true, md5hex(data)})
			_, err = bkt.CompleteMultipartUpload(imur, parts)
		case op < 8: // copy another of this worker's keys onto key
			src := keys[r.IntN(len(keys))]
			st := m.state(src)
			if !st.exists || src == key {
				continue
			}
			m.begin(key, st)
			_, err = bkt.CopyObject(src, key)
		default: // delete
			m.begin(key, keyState{})
			err = bkt.DeleteObject(key)
		}
		if err != nil {
			// The server died (or the op failed): the op stays in flight.
			return
		}
		m.ack(key)
	}
}

// verify checks every key against the model, listings against GETs, and
// that uploads are listable and abortable. It then folds what it found
// into the model as the new acknowledged state.
func verify(t *testing.T, round int, bkt *oss.Bucket, m *model) {
	t.Helper()
	listed := map[string]oss.ObjectProperties{}
	marker := ""
	for {
		res, err := bkt.ListObjects(oss.Marker(marker), oss.MaxKeys(1000))
		if err != nil {
			t.Fatalf("round %d: list: %v", round, err)
		}
		for _, o := range res.Objects {
			listed[o.Key] = o
		}
		if !res.IsTruncated {
			break
		}
		marker = res.NextMarker
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, k := range m.keys {
		got := keyState{}
		body, err := bkt.GetObject(key)
		if err == nil {
			data, rerr := io.ReadAll(body)
			body.Close()
			if rerr != nil {
				t.Fatalf("round %d: read %q: %v (torn object or CRC mismatch?)", round, key, rerr)
			}
			got = keyState{true, md5hex(data)}
			lo, ok := listed[key]
			if !ok {
				t.Fatalf("round %d: %q readable but not listed", round, key)
			}
			if lo.Size != int64(len(data)) {
				t.Fatalf("round %d: %q listed size %d, GET %d bytes", round, key, lo.Size, len(data))
			}
			meta, herr := bkt.GetObjectDetailedMeta(key)
			if herr != nil {
				t.Fatalf("round %d: head %q: %v", round, key, herr)
			}
			if etag := strings.Trim(meta.Get("Etag"), `"`); !strings.Contains(etag, "-") && etag != got.md5 {
				t.Fatalf("round %d: %q ETag %s but content MD5 %s", round, key, etag, got.md5)
			}
		} else {
			var se oss.ServiceError
			if !errors.As(err, &se) || se.Code != "NoSuchKey" {
				t.Fatalf("round %d: get %q: %v", round, key, err)
			}
			if _, ok := listed[key]; ok {
				t.Fatalf("round %d: %q listed but GET says NoSuchKey", round, key)
			}
		}
		if k.inflight != nil {
			m.lost++
		}
		ok := got == k.acked || (k.inflight != nil && got == *k.inflight)
		if !ok {
			want := k.acked.String()
			if k.inflight != nil {
				want += " or " + k.inflight.String()
			}
			t.Fatalf("round %d: key %q is %s, want %s (lost or torn write)", round, key, got, want)
		}
		k.acked, k.inflight = got, nil
	}
	uploads, err := bkt.ListMultipartUploads()
	if err != nil {
		t.Fatalf("round %d: list uploads: %v", round, err)
	}
	for _, u := range uploads.Uploads {
		if err := bkt.AbortMultipartUpload(oss.InitiateMultipartUploadResult{Bucket: bkt.BucketName, Key: u.Key, UploadID: u.UploadID}); err != nil {
			t.Fatalf("round %d: abort upload %s of %q: %v", round, u.UploadID, u.Key, err)
		}
	}
}

// TestCrashSafety kills a real `ossctl serve` with SIGKILL at random points
// during concurrent PUT, UploadPart, Complete, Copy and Delete, restarts it,
// and checks that every acknowledged write is there whole, every key is
// old-or-new, listings agree with GETs, uploads are abortable, and startup
// leaves no temp files behind.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills real server processes")
	}
	dir := t.TempDir()
	env := []string{"OSSCTL_ROOT_ACCESS_KEY_ID=" + testAK, "OSSCTL_ROOT_ACCESS_KEY_SECRET=" + testSK}
	m := &model{keys: map[string]*keyModel{}}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d rounds", seed, *crashRounds)
	r := rand.New(rand.NewPCG(seed, 0))
	const workers = 6
	for round := 1; round <= *crashRounds; round++ {
		p := startServe(t, dir, env...)
		c := newClient(t, p.endpoint)
		if round == 1 {
			if err := c.CreateBucket("crash-bkt"); err != nil {
				t.Fatal(err)
			}
		}
		bkt, err := c.Bucket("crash-bkt")
		if err != nil {
			t.Fatal(err)
		}
		if round > 1 {
			if leftovers, _ := filepath.Glob(filepath.Join(dir, "store", "tmp", "*")); len(leftovers) > 0 {
				t.Fatalf("round %d: temp files survived startup: %v", round, leftovers)
			}
			verify(t, round, bkt, m)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				worker(w, bkt, m, stop, seed+uint64(round))
			}()
		}
		time.Sleep(time.Duration(50+r.IntN(400)) * time.Millisecond)
		p.kill(t)
		close(stop)
		wg.Wait()
	}
	p := startServe(t, dir, env...)
	defer p.stop(t)
	bkt, err := newClient(t, p.endpoint).Bucket("crash-bkt")
	if err != nil {
		t.Fatal(err)
	}
	verify(t, *crashRounds+1, bkt, m)
	t.Logf("%d operations acknowledged, %d in flight at a kill", m.acks, m.lost)
	if m.acks == 0 || m.lost == 0 {
		t.Fatal("the harness neither completed nor interrupted operations: it tested nothing")
	}
	if _, err := os.Stat(filepath.Join(dir, "store")); err != nil {
		t.Fatalf("store directory: %v", err)
	}
}
