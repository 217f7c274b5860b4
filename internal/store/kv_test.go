package store

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
)

func TestKVPutGetDelete(t *testing.T) {
	s := openTestStore(t, Options{})
	kv := s.KV("kms")
	if _, err := kv.Get("missing"); !errors.Is(err, ErrKVNotFound) {
		t.Fatalf("Get on an empty namespace: %v", err)
	}
	if err := kv.Put("a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	v, err := kv.Get("a")
	if err != nil || string(v) != "1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	v[0] = 'X' // a copy: mutating it changes nothing stored
	if v, _ := kv.Get("a"); string(v) != "1" {
		t.Fatalf("stored value aliased: %q", v)
	}
	if err := kv.Put("a", []byte{}); err != nil {
		t.Fatal(err)
	}
	if v, err := kv.Get("a"); err != nil || len(v) != 0 {
		t.Fatalf("empty value = %q, %v", v, err)
	}
	if err := kv.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete("a"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if _, err := kv.Get("a"); !errors.Is(err, ErrKVNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	// Namespaces are separate.
	if err := s.KV("ram").Put("a", []byte("ram")); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get("a"); !errors.Is(err, ErrKVNotFound) {
		t.Fatalf("namespace leak: %v", err)
	}
}

func TestKVValidation(t *testing.T) {
	s := openTestStore(t, Options{})
	for _, ns := range []string{"", "a/b", "sp ace", string(make([]byte, MaxKVNamespaceLen+1))} {
		if err := s.KV(ns).Put("k", []byte("v")); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("namespace %q: %v", ns, err)
		}
		if _, err := s.KV(ns).Get("k"); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("namespace %q Get: %v", ns, err)
		}
	}
	kv := s.KV("x")
	long := string(bytes.Repeat([]byte("k"), MaxKVKeyLen+1))
	for _, err := range []error{
		kv.Put("", []byte("v")),
		kv.Put(long, []byte("v")),
		kv.Put("k", nil),
		kv.Put("k", make([]byte, MaxKVValueLen+1)),
	} {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("want ErrInvalidArgument, got %v", err)
		}
	}
	if _, _, err := kv.List("", "", 0); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("limit 0: %v", err)
	}
	if _, _, err := kv.List("", "", MaxKVListLimit+1); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("limit too large: %v", err)
	}
}

func TestKVList(t *testing.T) {
	s := openTestStore(t, Options{})
	kv := s.KV("kms")
	if got, more, err := kv.List("", "", 10); err != nil || len(got) != 0 || more {
		t.Fatalf("empty list = %v %v %v", got, more, err)
	}
	keys := []string{"alias/a", "alias/b", "alias/c", "key/1", "key/2", "key/3", "key/30", "keyz", "\xff\xff"}
	for _, k := range keys {
		if err := kv.Put(k, []byte("v:"+k)); err != nil {
			t.Fatal(err)
		}
	}
	names := func(ps []KVPair) string {
		var b bytes.Buffer
		for _, p := range ps {
			if string(p.Value) != "v:"+p.Key {
				t.Errorf("value of %q = %q", p.Key, p.Value)
			}
			b.WriteString(p.Key + ",")
		}
		return b.String()
	}
	cases := []struct {
		prefix, marker string
		limit          int
		want           string
		more           bool
	}{
		{"key/", "", 10, "key/1,key/2,key/3,key/30,", false},
		{"key/", "", 2, "key/1,key/2,", true},
		{"key/", "key/2", 2, "key/3,key/30,", false},
		{"key/", "key/3", 1, "key/30,", false},
		{"key/", "key/30", 5, "", false},
		{"key/", "a", 1, "key/1,", true},              // marker before the prefix range
		{"key/", "z", 5, "", false},                   // marker after it
		{"key/", "key/25", 5, "key/3,key/30,", false}, // marker between keys
		{"", "", 100, "alias/a,alias/b,alias/c,key/1,key/2,key/3,key/30,keyz,\xff\xff,", false},
		{"\xff", "", 5, "\xff\xff,", false},
		{"nothing", "", 5, "", false},
	}
	for _, c := range cases {
		got, more, err := kv.List(c.prefix, c.marker, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if names(got) != c.want || more != c.more {
			t.Errorf("List(%q,%q,%d) = %q more=%v; want %q more=%v", c.prefix, c.marker, c.limit, names(got), more, c.want, c.more)
		}
	}
	// Paging with the last key as the next marker visits everything once.
	var all []string
	marker := ""
	for {
		page, more, err := kv.List("", marker, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page {
			all = append(all, p.Key)
		}
		if !more {
			break
		}
		marker = page[len(page)-1].Key
	}
	if fmt.Sprint(all) != fmt.Sprint(keys) {
		t.Fatalf("paged = %q", all)
	}
}

func TestKVUpdate(t *testing.T) {
	s := openTestStore(t, Options{})
	kv := s.KV("c")
	incr := func(old []byte) ([]byte, error) {
		n := 0
		if old != nil {
			var err error
			if n, err = strconv.Atoi(string(old)); err != nil {
				return nil, err
			}
		}
		return []byte(strconv.Itoa(n + 1)), nil
	}
	if err := kv.Update("n", incr); err != nil {
		t.Fatal(err)
	}
	if v, _ := kv.Get("n"); string(v) != "1" {
		t.Fatalf("after first update %q", v)
	}
	// An error leaves the value untouched and comes back unchanged.
	boom := errors.New("boom")
	if err := kv.Update("n", func([]byte) ([]byte, error) { return []byte("9"), boom }); err != boom { //nolint:errorlint // identity is the point
		t.Fatalf("error = %v", err)
	}
	if v, _ := kv.Get("n"); string(v) != "1" {
		t.Fatalf("after failed update %q", v)
	}
	// Returning nil deletes; on a missing key it is a no-op.
	if err := kv.Update("n", func([]byte) ([]byte, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get("n"); !errors.Is(err, ErrKVNotFound) {
		t.Fatalf("after delete-update: %v", err)
	}
	if err := kv.Update("never", func(old []byte) ([]byte, error) {
		if old != nil {
			t.Error("old should be nil")
		}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}

	// Concurrent increments are serialised by the committer: none is lost.
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := kv.Update("ctr", incr); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v, _ := kv.Get("ctr"); string(v) != strconv.Itoa(workers*each) {
		t.Fatalf("counter = %s, want %d", v, workers*each)
	}
}

func TestKVTxnAtomicity(t *testing.T) {
	s := openTestStore(t, Options{})
	kv := s.KV("kms")
	if err := kv.Put("keep", []byte("1")); err != nil {
		t.Fatal(err)
	}
	// A transaction that writes and then fails leaves no trace, and does
	// not disturb operations batched with it.
	fail := errors.New("fail after writing")
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = kv.Txn(func(tx *KVTx) error {
				if err := tx.Put("k"+strconv.Itoa(i), []byte("v")); err != nil {
					return err
				}
				if i%2 == 0 {
					if err := tx.Delete("keep"); err != nil {
						return err
					}
					return fail
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		_, gerr := kv.Get("k" + strconv.Itoa(i))
		if i%2 == 0 {
			if !errors.Is(err, fail) || !errors.Is(gerr, ErrKVNotFound) {
				t.Errorf("txn %d: err %v, record %v", i, err, gerr)
			}
		} else if err != nil || gerr != nil {
			t.Errorf("txn %d: err %v, record %v", i, err, gerr)
		}
	}
	if v, err := kv.Get("keep"); err != nil || string(v) != "1" {
		t.Fatalf("keep = %q %v", v, err)
	}

	// Reads inside a transaction see its own writes.
	err := kv.Txn(func(tx *KVTx) error {
		if err := tx.Put("x/1", []byte("a")); err != nil {
			return err
		}
		if err := tx.Put("x/2", []byte("b")); err != nil {
			return err
		}
		ps, more, err := tx.List("x/", "", 10)
		if err != nil || len(ps) != 2 || more {
			return fmt.Errorf("in-txn list %v %v %w", ps, more, err)
		}
		if v, err := tx.Get("x/2"); err != nil || string(v) != "b" {
			return fmt.Errorf("in-txn get %q %w", v, err)
		}
		if err := tx.Delete("x/1"); err != nil {
			return err
		}
		if _, err := tx.Get("x/1"); !errors.Is(err, ErrKVNotFound) {
			return fmt.Errorf("in-txn get after delete: %w", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestKVDurableAcrossReopen(t *testing.T) {
	s := openTestStore(t, Options{})
	mustBucket(t, s, "bkt1")
	putObj(t, s, "bkt1", "obj", []byte("data"))
	if err := s.KV("kms").Put("key/1", []byte("material")); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, Options{})
	if v, err := s.KV("kms").Get("key/1"); err != nil || string(v) != "material" {
		t.Fatalf("after reopen %q %v", v, err)
	}
	// KV namespaces are invisible to bucket listings and to startup GC.
	bs, _, err := s.ListBuckets("", "", 100)
	if err != nil || len(bs) != 1 || bs[0].Name != "bkt1" {
		t.Fatalf("buckets = %v, %v", bs, err)
	}
	if got := readObj(t, s, "bkt1", "obj"); string(got) != "data" {
		t.Fatalf("object = %q", got)
	}
}

func TestKVClosed(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if err := s.KV("n").Put("k", []byte("v")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	if _, err := s.KV("n").Get("k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
	if _, _, err := s.KV("n").List("", "", 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("List after Close: %v", err)
	}
}

func BenchmarkKVPutParallel(b *testing.B) {
	s := openTestStore(b, Options{})
	kv := s.KV("bench")
	var n sync.Mutex
	i := 0
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n.Lock()
			i++
			k := "k" + strconv.Itoa(i)
			n.Unlock()
			if err := kv.Put(k, []byte("value")); err != nil {
				b.Fatal(err)
			}
		}
	})
}
