package store

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// refList is the brute-force reference for ListObjects over sorted keys.
func refList(keys []string, o ListOptions) (objs, cps []string, truncated bool, next string) {
	type ent struct {
		s  string
		cp bool
	}
	var ents []ent
	for _, k := range keys {
		if !strings.HasPrefix(k, o.Prefix) || k <= o.Marker {
			continue
		}
		if o.Delimiter != "" {
			if i := strings.Index(k[len(o.Prefix):], o.Delimiter); i >= 0 {
				cp := k[:len(o.Prefix)+i+len(o.Delimiter)]
				if cp <= o.Marker || len(ents) > 0 && ents[len(ents)-1].cp && ents[len(ents)-1].s == cp {
					continue
				}
				ents = append(ents, ent{cp, true})
				continue
			}
		}
		ents = append(ents, ent{k, false})
	}
	limit := o.MaxKeys
	if limit <= 0 {
		limit = 1000
	}
	if len(ents) > limit {
		truncated = true
		ents = ents[:limit]
		next = ents[limit-1].s
	}
	for _, e := range ents {
		if e.cp {
			cps = append(cps, e.s)
		} else {
			objs = append(objs, e.s)
		}
	}
	return objs, cps, truncated, next
}

var fixedKeys = []string{
	"a", "a/b", "a//b", "a/../b", "a/", "a/./c", "./x", "/", "//x", "b", "b/", "ab", "a0",
	"日本/語", "é/x", "e\u0301/x", "😀", "\xfe\xff", "\xff", "\xff\xff/", "\xff\xff\xff", "\x01", "\x7f/\x80",
	"dir/sub/file", "dir/sub/", "dir/file", "dir//", "% + ? # & ' \" < >", "trailing/",
}

func randomKeys(rng *rand.Rand, n int) []string {
	parts := []string{"a", "b", "/", "//", "..", "é", "中", "\xff", "\x7f", "\x01", "ab", "a/", "x", "0"}
	seen := map[string]bool{}
	var keys []string
	for _, k := range fixedKeys {
		seen[k] = true
		keys = append(keys, k)
	}
	for len(keys) < n {
		var sb strings.Builder
		for j := rng.IntN(5) + 1; j > 0; j-- {
			sb.WriteString(parts[rng.IntN(len(parts))])
		}
		if k := sb.String(); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// putKeys stores a tiny object under every key, concurrently (group commit).
func putKeys(t *testing.T, s *Store, bucket string, keys []string) {
	t.Helper()
	var wg sync.WaitGroup
	ch := make(chan string)
	errs := make(chan error, len(keys))
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range ch {
				b, err := s.NewBlob()
				if err == nil {
					_, err = b.Write([]byte(k))
				}
				if err == nil {
					_, err = s.PutObject(ctx, bucket, &Object{Key: k}, b, nil)
				}
				if err != nil {
					errs <- fmt.Errorf("put %q: %w", k, err)
				}
			}
		}()
	}
	for _, k := range keys {
		ch <- k
	}
	close(ch)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func checkListing(t *testing.T, s *Store, sorted []string, o ListOptions) {
	t.Helper()
	res, err := s.ListObjects("bkt1", o)
	if err != nil {
		t.Fatalf("ListObjects(%#v): %v", o, err)
	}
	wantObjs, wantCPs, wantTrunc, wantNext := refList(sorted, o)
	got := keyList(res.Objects)
	if !slices.Equal(got, wantObjs) || !slices.Equal(res.CommonPrefixes, wantCPs) || res.IsTruncated != wantTrunc || res.NextMarker != wantNext {
		t.Fatalf("ListObjects(%#v):\n got  objs=%q cps=%q trunc=%v next=%q\n want objs=%q cps=%q trunc=%v next=%q",
			o, got, res.CommonPrefixes, res.IsTruncated, res.NextMarker, wantObjs, wantCPs, wantTrunc, wantNext)
	}
	for _, obj := range res.Objects {
		if obj.Size != int64(len(obj.Key)) || obj.ETag != md5Hex([]byte(obj.Key)) {
			t.Fatalf("listed record of %q is wrong: %+v", obj.Key, obj)
		}
	}
}

// checkPaging walks all pages and compares the union with one big page.
func checkPaging(t *testing.T, s *Store, sorted []string, o ListOptions) {
	t.Helper()
	wantObjs, wantCPs, _, _ := refList(sorted, ListOptions{Prefix: o.Prefix, Delimiter: o.Delimiter, MaxKeys: len(sorted) + 1})
	var gotObjs, gotCPs []string
	for pages := 0; ; pages++ {
		if pages > len(sorted)+1 {
			t.Fatalf("paging %#v does not terminate", o)
		}
		res, err := s.ListObjects("bkt1", o)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(res.Objects) + len(res.CommonPrefixes); n > o.MaxKeys || (res.IsTruncated && n != o.MaxKeys) {
			t.Fatalf("page of %d entries with MaxKeys %d", n, o.MaxKeys)
		}
		gotObjs = append(gotObjs, keyList(res.Objects)...)
		gotCPs = append(gotCPs, res.CommonPrefixes...)
		if !res.IsTruncated {
			break
		}
		o.Marker = res.NextMarker
	}
	if !slices.Equal(gotObjs, wantObjs) || !slices.Equal(gotCPs, wantCPs) {
		t.Fatalf("paging %#v:\n got  %q %q\n want %q %q", o, gotObjs, gotCPs, wantObjs, wantCPs)
	}
}

func TestListObjectsAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 43))
	s := openTestStore(t, Options{})
	mustBucket(t, s, "bkt1")
	keys := randomKeys(rng, 400)
	putKeys(t, s, "bkt1", keys)
	sorted := slices.Sorted(slices.Values(keys))

	delims := []string{"", "/", "//", "b", "\xff", "é", "a/"}
	pick := func() string {
		k := sorted[rng.IntN(len(sorted))]
		return k[:rng.IntN(len(k)+1)]
	}
	query := func() ListOptions {
		o := ListOptions{Delimiter: delims[rng.IntN(len(delims))], MaxKeys: []int{1, 2, 3, 5, 17, 1000}[rng.IntN(6)]}
		switch rng.IntN(4) {
		case 1:
			o.Prefix = pick()
		case 2:
			o.Prefix = []string{"a/", "a", "\xff", "zzz", "dir/"}[rng.IntN(5)]
		}
		switch rng.IntN(4) {
		case 1:
			o.Marker = sorted[rng.IntN(len(sorted))]
		case 2:
			o.Marker = pick()
		case 3:
			o.Marker = []string{"a/", "\xff\xff", "dir/sub/", "a\x00b", "zzzz"}[rng.IntN(5)]
		}
		return o
	}
	for i := 0; i < 600; i++ {
		checkListing(t, s, sorted, query())
	}
	for i := 0; i < 60; i++ {
		o := query()
		o.Marker = ""
		o.MaxKeys = []int{1, 2, 7}[rng.IntN(3)]
		checkPaging(t, s, sorted, o)
	}

	// Delete a third of the keys; the listing follows.
	var keep []string
	for _, k := range sorted {
		if rng.IntN(3) == 0 {
			if _, err := s.DeleteObject(ctx, "bkt1", k, "", nil); err != nil {
				t.Fatal(err)
			}
			continue
		}
		keep = append(keep, k)
	}
	for i := 0; i < 300; i++ {
		checkListing(t, s, keep, query())
	}
	st, _ := s.BucketStats("bkt1")
	if st.ObjectCount != int64(len(keep)) {
		t.Fatalf("ObjectCount = %d, want %d", st.ObjectCount, len(keep))
	}
}

func TestListObjectsEdgeCases(t *testing.T) {
	s := openTestStore(t, Options{})
	mustBucket(t, s, "bkt1")
	keys := []string{"a", "a/b", "a//b", "a/../b", "\xff\xff", "\xff\xff/x"}
	putKeys(t, s, "bkt1", keys)
	sorted := slices.Sorted(slices.Values(keys))
	for _, o := range []ListOptions{
		{Delimiter: "/", MaxKeys: 1},
		{Delimiter: "/", Marker: "a/", MaxKeys: 10},
		{Delimiter: "/", Prefix: "a/", MaxKeys: 10},
		{Delimiter: "/", Prefix: "a/", Marker: "a//", MaxKeys: 10},
		{Delimiter: "\xff", MaxKeys: 10},
		{Delimiter: "\xff", Marker: "\xff", MaxKeys: 10},
		{Prefix: "\xff\xff", Delimiter: "/", MaxKeys: 10},
		{Prefix: "nothing", MaxKeys: 10},
		{Marker: "\xff\xff/x", MaxKeys: 10},
	} {
		checkListing(t, s, sorted, o)
	}
	_, err := s.ListObjects("nobkt", ListOptions{})
	wantErr(t, err, ErrNoSuchBucket)
}
