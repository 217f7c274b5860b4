package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/server/servertest"
	"github.com/ossctl/ossctl/internal/store"
)

// errCollector gathers failures from goroutines (t.Fatal must not be
// called off the test goroutine).
type errCollector struct {
	mu   sync.Mutex
	errs []error
}

func (c *errCollector) add(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) < 20 {
		c.errs = append(c.errs, fmt.Errorf(format, args...))
	}
}

func (c *errCollector) check(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.errs {
		t.Error(e)
	}
	if len(c.errs) > 0 {
		t.FailNow()
	}
}

// serviceCode returns the status and code of an SDK error ("" for nil).
func serviceCode(err error) (int, string) {
	var se oss.ServiceError
	if errors.As(err, &se) {
		return se.StatusCode, se.Code
	}
	if err != nil {
		return -1, err.Error()
	}
	return 0, ""
}

// getWhole GETs key and returns body, ETag and CRC header.
func getWhole(b *oss.Bucket, key string, opts ...oss.Option) (body []byte, etag, crc string, err error) {
	res, err := b.DoGetObject(&oss.GetObjectRequest{ObjectKey: key}, opts)
	if err != nil {
		return nil, "", "", err
	}
	defer res.Response.Body.Close()
	body, err = io.ReadAll(res.Response.Body)
	h := res.Response.Headers
	return body, strings.Trim(h.Get("ETag"), `"`), h.Get("x-oss-hash-crc64ecma"), err
}

// TestHardenReadDuringOverwrite: readers racing overwrites of a 1 MiB
// object see one version whole, with matching ETag and CRC, whole or
// ranged; never a mix.
func TestHardenReadDuringOverwrite(t *testing.T) {
	env := servertest.Start(t)
	b := v1Bucket(t, v1Client(t, env), "atomic")
	const size = 1 << 20
	versions := map[string][]byte{} // ETag → content
	var contents [][]byte
	for i := range 6 {
		d := randBytes(size, uint64(100+i))
		contents = append(contents, d)
		versions[md5Hex(d)] = d
	}
	if err := b.PutObject("obj", bytes.NewReader(contents[0])); err != nil {
		t.Fatal(err)
	}
	var errs errCollector
	stop := make(chan struct{})
	var readers sync.WaitGroup
	reads := make([]int, 3)
	for r := range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r == 2 { // ranged reads
					body, etag, _, err := getWhole(b, "obj", oss.Range(1000, 300_000))
					if err != nil {
						errs.add("ranged GET: %v", err)
						return
					}
					v, ok := versions[etag]
					if !ok || !bytes.Equal(body, v[1000:300_001]) {
						errs.add("ranged GET returned bytes not from version %s (known=%v)", etag, ok)
						return
					}
				} else {
					body, etag, crc, err := getWhole(b, "obj")
					if err != nil {
						errs.add("GET: %v", err)
						return
					}
					if _, ok := versions[md5Hex(body)]; !ok || md5Hex(body) != etag || crcOf(body) != crc {
						errs.add("GET returned a torn object: %d bytes, md5 %s, etag %s, crc %s", len(body), md5Hex(body), etag, crc)
						return
					}
				}
				reads[r]++
			}
		}()
	}
	for i := range 18 {
		if err := b.PutObject("obj", bytes.NewReader(contents[i%len(contents)])); err != nil {
			errs.add("overwrite %d: %v", i, err)
			break
		}
	}
	close(stop)
	readers.Wait()
	errs.check(t)
	if reads[0]+reads[1] == 0 || reads[2] == 0 {
		t.Fatalf("readers made no progress: %v", reads)
	}
	if blobs := storeFiles(t, env, "blobs"); len(blobs) != 1 {
		t.Fatalf("%d blob files for one object: %v", len(blobs), blobs)
	}
}

// TestHardenConcurrentWritersOneKey: N writers on one key leave exactly
// one writer's whole content, consistent in GET, listing and statistics,
// and no orphaned data.
func TestHardenConcurrentWritersOneKey(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "writers")
	const writers, rounds, size = 8, 4, 100 << 10
	all := map[string]bool{}
	var mu sync.Mutex
	var errs errCollector
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				d := randBytes(size, uint64(w*1000+i))
				mu.Lock()
				all[md5Hex(d)] = true
				mu.Unlock()
				if err := b.PutObject("k", bytes.NewReader(d)); err != nil {
					errs.add("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	errs.check(t)
	body, etag, crc, err := getWhole(b, "k")
	if err != nil {
		t.Fatal(err)
	}
	if !all[md5Hex(body)] || etag != md5Hex(body) || crc != crcOf(body) || len(body) != size {
		t.Fatalf("final object is not one writer's content: %d bytes etag %s", len(body), etag)
	}
	lr, err := b.ListObjects()
	if err != nil || len(lr.Objects) != 1 || lr.Objects[0].Size != size || strings.Trim(lr.Objects[0].ETag, `"`) != etag {
		t.Fatalf("listing disagrees with GET: %+v %v", lr.Objects, err)
	}
	st, err := c.GetBucketStat("writers")
	if err != nil || st.ObjectCount != 1 || st.Storage != size {
		t.Fatalf("bucket stat %+v %v", st, err)
	}
	if blobs := storeFiles(t, env, "blobs"); len(blobs) != 1 {
		t.Fatalf("%d blob files for one object (leak): %v", len(blobs), blobs)
	}
	wantNoTempFiles(t, env)
}

// TestHardenPutRacingDelete: PUTs and DELETEs of one key in parallel; all
// succeed and the end state is absent or one whole version.
func TestHardenPutRacingDelete(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "putdel")
	const size = 70 << 10
	var errs errCollector
	var wg sync.WaitGroup
	contents := map[string]bool{}
	var datas [][]byte
	for i := range 4 {
		d := randBytes(size, uint64(i+7))
		datas = append(datas, d)
		contents[md5Hex(d)] = true
	}
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				var err error
				if g%2 == 0 {
					err = b.PutObject("k", bytes.NewReader(datas[(g+i)%len(datas)]))
				} else {
					err = b.DeleteObject("k")
				}
				if err != nil {
					errs.add("goroutine %d op %d: %v", g, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	errs.check(t)
	body, etag, _, err := getWhole(b, "k")
	lr, lerr := b.ListObjects()
	if lerr != nil {
		t.Fatal(lerr)
	}
	switch code, _ := serviceCode(err); {
	case err == nil:
		if !contents[md5Hex(body)] || etag != md5Hex(body) || len(lr.Objects) != 1 {
			t.Fatalf("final object torn or unlisted: etag %s, listing %+v", etag, lr.Objects)
		}
		if n := len(storeFiles(t, env, "blobs")); n != 1 {
			t.Fatalf("%d blob files for one object", n)
		}
	case code == 404:
		if len(lr.Objects) != 0 {
			t.Fatalf("GET says absent, listing has %+v", lr.Objects)
		}
		if n := len(storeFiles(t, env, "blobs")); n != 0 {
			t.Fatalf("%d blob files for a deleted object", n)
		}
	default:
		t.Fatalf("final GET: %v", err)
	}
}

// TestHardenPutRacingDeleteBucket: writers keep uploading while another
// client empties and deletes the bucket. Every answer is a success or a
// client error (never 5xx); once DeleteBucket succeeds no object survives
// in the deleted bucket, and a bucket re-created under the name is empty.
func TestHardenPutRacingDeleteBucket(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	const size = 70 << 10
	var raced atomic.Int32 // writers that hit the deletion mid-stream
	for round := range 4 {
		name := fmt.Sprintf("doomed-%d", round)
		b := v1Bucket(t, c, name)
		var errs errCollector
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 { // bounded, so the deleter eventually wins
					select {
					case <-stop:
						return
					default:
					}
					err := b.PutObject(fmt.Sprintf("w%d/%d", w, i), bytes.NewReader(randBytes(size, uint64(i))))
					switch status, code := serviceCode(err); {
					case err == nil:
					case status == 404 && code == "NoSuchBucket":
						raced.Add(1)
						return
					default:
						errs.add("PUT into %s: %d %s", name, status, code)
						return
					}
				}
			}()
		}
		deleted := false
		giveUp := time.Now().Add(15 * time.Second)
		for !deleted && time.Now().Before(giveUp) {
			lr, err := b.ListObjects(oss.MaxKeys(1000))
			if err != nil {
				errs.add("list: %v", err)
				break
			}
			var keys []string
			for _, o := range lr.Objects {
				keys = append(keys, o.Key)
			}
			if len(keys) > 0 {
				if _, err := b.DeleteObjects(keys, oss.DeleteObjectsQuiet(true)); err != nil {
					errs.add("bulk delete: %v", err)
					break
				}
			}
			err = c.DeleteBucket(name)
			switch status, code := serviceCode(err); {
			case err == nil:
				deleted = true
			case status == 409 && code == "BucketNotEmpty":
			default:
				errs.add("DeleteBucket: %d %s", status, code)
			}
		}
		close(stop)
		wg.Wait()
		errs.check(t)
		if !deleted {
			t.Fatalf("round %d: DeleteBucket never succeeded", round)
		}
		if _, err := env.Store.ListObjects(name, store.ListOptions{MaxKeys: 10}); !errors.Is(err, store.ErrNoSuchBucket) {
			t.Fatalf("round %d: deleted bucket still lists: %v", round, err)
		}
		if err := c.CreateBucket(name); err != nil {
			t.Fatal(err)
		}
		lr, err := b.ListObjects()
		if err != nil || len(lr.Objects) != 0 {
			t.Fatalf("round %d: re-created bucket not empty: %+v %v", round, lr.Objects, err)
		}
		if err := c.DeleteBucket(name); err != nil {
			t.Fatal(err)
		}
	}
	if blobs := storeFiles(t, env, "blobs"); len(blobs) != 0 {
		t.Fatalf("blob files survive their buckets: %v", blobs)
	}
	wantNoTempFiles(t, env)
	t.Logf("%d writers were cut off by the deletion mid-stream", raced.Load())
}

// keyContent is the deterministic content written under key.
func keyContent(key string, size int) []byte {
	h := fnv.New64a()
	h.Write([]byte(key))
	return randBytes(size, h.Sum64())
}

// TestHardenPutRacingBulkDeletePrefix: writers add keys under p/ while a
// cleaner lists p/ and bulk-deletes what it saw. Afterwards listing and
// GET agree key by key, other prefixes are untouched, and no data leaks.
func TestHardenPutRacingBulkDeletePrefix(t *testing.T) {
	env := servertest.Start(t)
	b := v1Bucket(t, v1Client(t, env), "prefix-race")
	const size = 70 << 10
	if err := b.PutObject("q/keep", bytes.NewReader(keyContent("q/keep", size))); err != nil {
		t.Fatal(err)
	}
	var errs errCollector
	var wg sync.WaitGroup
	written := make([][]string, 3)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				k := fmt.Sprintf("p/%d-%02d", w, i)
				if err := b.PutObject(k, bytes.NewReader(keyContent(k, size))); err != nil {
					errs.add("PUT %s: %v", k, err)
					return
				}
				written[w] = append(written[w], k)
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 15 {
			lr, err := b.ListObjects(oss.Prefix("p/"), oss.MaxKeys(1000))
			if err != nil {
				errs.add("list: %v", err)
				return
			}
			var keys []string
			for _, o := range lr.Objects {
				keys = append(keys, o.Key)
			}
			if len(keys) == 0 {
				time.Sleep(2 * time.Millisecond)
				continue
			}
			res, err := b.DeleteObjects(keys)
			if err != nil || len(res.DeletedObjects) != len(keys) {
				errs.add("bulk delete of %d: %v (%d reported)", len(keys), err, len(res.DeletedObjects))
				return
			}
		}
	}()
	wg.Wait()
	<-done
	errs.check(t)
	lr, err := b.ListObjects(oss.MaxKeys(1000))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, o := range lr.Objects {
		listed[o.Key] = true
		body, _, _, err := getWhole(b, o.Key)
		if err != nil || !bytes.Equal(body, keyContent(o.Key, size)) {
			t.Fatalf("listed key %s unreadable or wrong: %v", o.Key, err)
		}
	}
	if !listed["q/keep"] {
		t.Fatal("bulk delete of p/ removed q/keep")
	}
	for _, ks := range written {
		for _, k := range ks {
			if listed[k] {
				continue
			}
			if _, _, _, err := getWhole(b, k); err == nil {
				t.Fatalf("%s readable but not listed", k)
			} else if code, _ := serviceCode(err); code != 404 {
				t.Fatalf("GET %s: %v", k, err)
			}
		}
	}
	if n := len(storeFiles(t, env, "blobs")); n != len(listed) {
		t.Fatalf("%d blob files for %d objects", n, len(listed))
	}
}

// write is one acknowledged configuration write and its time window.
type write struct {
	start, end time.Time
	value      string
}

// lastWriters returns the values of writes that no other write followed
// entirely: under last-writer-wins the final state must be one of them.
func lastWriters(ws []write) map[string]bool {
	out := map[string]bool{}
	for _, w := range ws {
		followed := false
		for _, o := range ws {
			if o.start.After(w.end) {
				followed = true
				break
			}
		}
		if !followed {
			out[w.value] = true
		}
	}
	return out
}

// TestHardenConcurrentACLWrites: racing ACL writes each read back a valid
// ACL; the final ACL is one a last writer set.
func TestHardenConcurrentACLWrites(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "acl-race")
	if err := b.PutObject("o", strings.NewReader("o")); err != nil {
		t.Fatal(err)
	}
	bucketACLs := []oss.ACLType{oss.ACLPrivate, oss.ACLPublicRead, oss.ACLPublicReadWrite}
	objectACLs := []oss.ACLType{oss.ACLPrivate, oss.ACLPublicRead, oss.ACLPublicReadWrite, oss.ACLDefault}
	var errs errCollector
	var mu sync.Mutex
	var bws, ows []write
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 8 {
				acl := bucketACLs[r.IntN(len(bucketACLs))]
				start := time.Now()
				if err := c.SetBucketACL("acl-race", acl); err != nil {
					errs.add("SetBucketACL: %v", err)
					return
				}
				mu.Lock()
				bws = append(bws, write{start, time.Now(), string(acl)})
				mu.Unlock()
				got, err := c.GetBucketACL("acl-race")
				if err != nil || !validACL(got.ACL, false) {
					errs.add("GetBucketACL during writes: %q %v", got.ACL, err)
					return
				}
				oacl := objectACLs[r.IntN(len(objectACLs))]
				start = time.Now()
				if err := b.SetObjectACL("o", oacl); err != nil {
					errs.add("SetObjectACL: %v", err)
					return
				}
				mu.Lock()
				ows = append(ows, write{start, time.Now(), string(oacl)})
				mu.Unlock()
				ogot, err := b.GetObjectACL("o")
				if err != nil || !validACL(ogot.ACL, true) {
					errs.add("GetObjectACL during writes: %q %v", ogot.ACL, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	errs.check(t)
	got, err := c.GetBucketACL("acl-race")
	if err != nil || !lastWriters(bws)[got.ACL] {
		t.Fatalf("final bucket ACL %q is not a last writer's (%v) %v", got.ACL, lastWriters(bws), err)
	}
	ogot, err := b.GetObjectACL("o")
	if err != nil || !lastWriters(ows)[ogot.ACL] {
		t.Fatalf("final object ACL %q is not a last writer's (%v) %v", ogot.ACL, lastWriters(ows), err)
	}
	// And the data under the object was never disturbed.
	body, _, _, err := getWhole(b, "o")
	if err != nil || string(body) != "o" {
		t.Fatalf("object data after ACL race: %q %v", body, err)
	}
}

func validACL(v string, object bool) bool {
	switch v {
	case "private", "public-read", "public-read-write":
		return true
	case "default":
		return object
	}
	return false
}
