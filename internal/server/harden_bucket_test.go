package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/auth"
	"github.com/ossctl/ossctl/internal/server/servertest"
)

func TestHardenListBucketsPaging(t *testing.T) {
	env := servertest.StartWith(t, servertest.Options{Credentials: []auth.Credential{{
		AccessKeyID: "LTAI5tOtherAccount01", Secret: "other-secret",
		Principal: auth.Principal{Root: true, AccessKeyID: "LTAI5tOtherAccount01", AccountID: "9999"},
	}}})
	c := v1Client(t, env)
	var want []string
	for i := range 7 {
		name := fmt.Sprintf("pg-%02d", i)
		want = append(want, name)
		if err := c.CreateBucket(name); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"other-a", "ph-z", "pf-a"} {
		if err := c.CreateBucket(name); err != nil {
			t.Fatal(err)
		}
	}
	// Another account's bucket inside the prefix range is never listed.
	oc, _ := oss.New(env.Endpoint, "LTAI5tOtherAccount01", "other-secret")
	if err := oc.CreateBucket("pg-03x"); err != nil {
		t.Fatal(err)
	}

	var got []string
	marker := ""
	pages := 0
	for {
		res, err := c.ListBuckets(oss.Prefix("pg-"), oss.MaxKeys(3), oss.Marker(marker))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if res.Prefix != "pg-" || res.MaxKeys != 3 || res.Marker != marker {
			t.Fatalf("page echoes prefix %q max %d marker %q", res.Prefix, res.MaxKeys, res.Marker)
		}
		if len(res.Buckets) > 3 {
			t.Fatalf("page of %d buckets with max-keys 3", len(res.Buckets))
		}
		for _, b := range res.Buckets {
			got = append(got, b.Name)
			if b.Location != "oss-"+env.Region || b.Region != env.Region || b.StorageClass != "Standard" ||
				time.Since(b.CreationDate) > time.Minute {
				t.Fatalf("bucket entry %+v", b)
			}
		}
		if !res.IsTruncated {
			break
		}
		if res.NextMarker != res.Buckets[len(res.Buckets)-1].Name {
			t.Fatalf("NextMarker %q is not the last name on the page", res.NextMarker)
		}
		marker = res.NextMarker
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || pages != 3 {
		t.Fatalf("paged listing %v in %d pages, want %v in 3", got, pages, want)
	}
	// A marker in the middle, without a prefix.
	res, err := c.ListBuckets(oss.Marker("pg-04"), oss.MaxKeys(2))
	if err != nil || len(res.Buckets) != 2 || res.Buckets[0].Name != "pg-05" || res.Buckets[1].Name != "pg-06" || !res.IsTruncated {
		t.Fatalf("marker listing %+v %v", res, err)
	}
	res, err = c.ListBuckets(oss.Marker("pg-06"))
	if err != nil || len(res.Buckets) != 1 || res.Buckets[0].Name != "ph-z" || res.IsTruncated {
		t.Fatalf("tail listing %+v %v", res, err)
	}
	for _, bad := range []int{0, 1001, -1} {
		_, err := c.ListBuckets(oss.MaxKeys(bad))
		wantCode(t, err, 400, "InvalidArgument")
	}
	// The other account sees only its own bucket.
	ores, err := oc.ListBuckets()
	if err != nil || len(ores.Buckets) != 1 || ores.Buckets[0].Name != "pg-03x" {
		t.Fatalf("other account lists %+v %v", ores.Buckets, err)
	}
}

func TestHardenBucketInfoLocationStat(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	before := time.Now().Add(-time.Second)
	if err := c.CreateBucket("info-bkt", oss.ACL(oss.ACLPublicRead), oss.StorageClass(oss.StorageIA), oss.RedundancyType(oss.RedundancyZRS)); err != nil {
		t.Fatal(err)
	}
	res, err := c.GetBucketInfo("info-bkt")
	if err != nil {
		t.Fatal(err)
	}
	bi := res.BucketInfo
	host := strings.TrimPrefix(env.Endpoint, "http://")
	switch {
	case bi.Name != "info-bkt", bi.Location != "oss-"+env.Region, bi.ACL != "public-read",
		bi.StorageClass != "IA", bi.RedundancyType != "ZRS",
		bi.Owner.ID != env.AccountID, bi.ExtranetEndpoint != host, bi.IntranetEndpoint != host,
		bi.SseRule.SSEAlgorithm != "" /* the SDK maps "None" to "" */, bi.CreationDate.Before(before), time.Since(bi.CreationDate) > time.Minute:
		t.Fatalf("bucket info %+v", bi)
	}
	loc, err := c.GetBucketLocation("info-bkt")
	if err != nil || loc != "oss-"+env.Region {
		t.Fatalf("location %q %v", loc, err)
	}
	b, _ := c.Bucket("info-bkt")
	st, err := c.GetBucketStat("info-bkt")
	if err != nil || st.ObjectCount != 0 || st.Storage != 0 || st.MultipartUploadCount != 0 {
		t.Fatalf("empty bucket stat %+v %v", st, err)
	}
	sizes := []int{10, 2000, 70 << 10}
	total := 0
	for i, n := range sizes {
		total += n
		if err := b.PutObject(fmt.Sprintf("o%d", i), strings.NewReader(strings.Repeat("x", n))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.InitiateMultipartUpload("pending"); err != nil {
		t.Fatal(err)
	}
	st, err = c.GetBucketStat("info-bkt")
	if err != nil || st.ObjectCount != int64(len(sizes)) || st.Storage != int64(total) || st.MultipartUploadCount != 1 ||
		time.Since(time.Unix(st.LastModifiedTime, 0)) > time.Minute {
		t.Fatalf("bucket stat %+v %v", st, err)
	}
	if err := b.DeleteObject("o0"); err != nil {
		t.Fatal(err)
	}
	st, err = c.GetBucketStat("info-bkt")
	if err != nil || st.ObjectCount != 2 || st.Storage != int64(total-sizes[0]) {
		t.Fatalf("bucket stat after delete %+v %v", st, err)
	}
	for _, f := range []func(string) error{
		func(n string) error { _, err := c.GetBucketInfo(n); return err },
		func(n string) error { _, err := c.GetBucketLocation(n); return err },
		func(n string) error { _, err := c.GetBucketStat(n); return err },
	} {
		wantCode(t, f("no-such-bkt"), 404, "NoSuchBucket")
	}
}

func TestHardenCreateBucketClasses(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	classes := []oss.StorageClassType{oss.StorageStandard, oss.StorageIA, oss.StorageArchive, oss.StorageColdArchive, oss.StorageDeepColdArchive}
	for i, class := range classes {
		for _, red := range []oss.DataRedundancyType{oss.RedundancyLRS, oss.RedundancyZRS} {
			name := fmt.Sprintf("cls-%d-%s", i, strings.ToLower(string(red)))
			if err := c.CreateBucket(name, oss.StorageClass(class), oss.RedundancyType(red)); err != nil {
				t.Fatalf("%s %s: %v", class, red, err)
			}
			res, err := c.GetBucketInfo(name)
			if err != nil || res.BucketInfo.StorageClass != string(class) || res.BucketInfo.RedundancyType != string(red) {
				t.Fatalf("%s %s read back as %+v %v", class, red, res.BucketInfo, err)
			}
			lr, err := c.ListBuckets(oss.Prefix(name))
			if err != nil || len(lr.Buckets) != 1 || lr.Buckets[0].StorageClass != string(class) {
				t.Fatalf("ListBuckets class %+v %v", lr.Buckets, err)
			}
			// Objects inherit the bucket's class.
			b, _ := c.Bucket(name)
			if err := b.PutObject("o", strings.NewReader("x")); err != nil {
				t.Fatal(err)
			}
			h, err := b.GetObjectDetailedMeta("o")
			if err != nil || h.Get("X-Oss-Storage-Class") != string(class) {
				t.Fatalf("object class %q %v", h.Get("X-Oss-Storage-Class"), err)
			}
		}
	}
	// The default is Standard / LRS.
	if err := c.CreateBucket("cls-default"); err != nil {
		t.Fatal(err)
	}
	if res, err := c.GetBucketInfo("cls-default"); err != nil || res.BucketInfo.StorageClass != "Standard" || res.BucketInfo.RedundancyType != "LRS" {
		t.Fatalf("default bucket %+v %v", res.BucketInfo, err)
	}
	for name, opts := range map[string][]oss.Option{
		"class":      {oss.StorageClass("Glacier")},
		"redundancy": {oss.RedundancyType("GRS")},
		"both":       {oss.StorageClass("Cold"), oss.RedundancyType("XRS")},
	} {
		err := c.CreateBucket("cls-bad-"+name, opts...)
		wantCode(t, err, 400, "InvalidArgument")
		if _, err := c.GetBucketInfo("cls-bad-" + name); err == nil {
			t.Fatalf("bucket created despite invalid %s", name)
		}
	}
	// An invalid x-oss-storage-class on an object write is refused too.
	b, _ := c.Bucket("cls-default")
	err := b.PutObject("bad-class", strings.NewReader("x"), oss.ObjectStorageClass("Glacier"))
	wantCode(t, err, 400, "InvalidArgument")
}
