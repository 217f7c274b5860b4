package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/sealing"
	"github.com/ossctl/ossctl/internal/server"
	"github.com/ossctl/ossctl/internal/server/servertest"
	"github.com/ossctl/ossctl/internal/store"
)

const (
	hdrSSE      = "x-oss-server-side-encryption"
	hdrSSEKeyID = "x-oss-server-side-encryption-key-id"
)

// marked returns n bytes made of a distinctive marker that the plaintext
// scan looks for, with a varying counter so chunks differ.
func marked(marker string, n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		b.WriteString(marker)
		b.WriteByte(byte('a' + i%26))
	}
	return b.Bytes()[:n]
}

// scanDataDir fails if marker occurs in any file under dir.
func scanDataDir(t *testing.T, dir, marker string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		if bytes.Contains(data, []byte(marker)) {
			t.Errorf("plaintext marker found in %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 2 {
		t.Fatalf("scanned only %d files", files)
	}
}

func getAll(t *testing.T, b *oss.Bucket, key string, opts ...oss.Option) ([]byte, http.Header) {
	t.Helper()
	var gh http.Header
	r, err := b.GetObject(key, append(opts, oss.GetResponseHeader(&gh))...)
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	h, err := b.GetObjectDetailedMeta(key)
	if err != nil {
		t.Fatal(err)
	}
	// GET (whole or ranged) and HEAD describe the encryption alike.
	for _, name := range []string{hdrSSE, hdrSSEKeyID, "x-oss-server-side-data-encryption"} {
		if gh.Get(name) != h.Get(name) {
			t.Fatalf("GET %s: %s = %q but HEAD says %q", key, name, gh.Get(name), h.Get(name))
		}
	}
	return data, h
}

func wantSSE(t *testing.T, h http.Header, alg, keyID string) {
	t.Helper()
	if got := h.Get(hdrSSE); got != alg {
		t.Fatalf("%s = %q, want %q", hdrSSE, got, alg)
	}
	if got := h.Get(hdrSSEKeyID); got != keyID {
		t.Fatalf("%s = %q, want %q", hdrSSEKeyID, got, keyID)
	}
}

func createCMK(t *testing.T, env *servertest.Env) string {
	t.Helper()
	c, err := kms.NewClientWithAccessKey(env.Region, env.AccessKeyID, env.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = env.Addr
	resp, err := c.CreateKey(kms.CreateCreateKeyRequest())
	if err != nil {
		t.Fatal(err)
	}
	return resp.KeyMetadata.KeyId
}

// TestSSEEveryPathNoPlaintextOnDisk writes a marked plaintext through
// every write path with encryption and finds it nowhere in the data
// directory, while every object reads back whole, ranged, and with the
// plaintext's ETag and CRC-64.
func TestSSEEveryPathNoPlaintextOnDisk(t *testing.T) {
	const marker = "PLAINTEXT-MARKER-7f3c9a"
	env := servertest.StartWith(t, servertest.Options{Logger: testLogger(t)})
	c := v1Client(t, env)
	b := v1Bucket(t, c, "sse-bkt")
	cmk := createCMK(t, env)
	small := marked(marker, 5000)
	big := marked(marker, 3<<20+12345)
	if testing.Short() {
		big = big[:1<<20+777]
	}
	want := map[string][]byte{}
	aes := oss.ServerSideEncryption("AES256")

	// PUT, small and large, both algorithms.
	for key, opts := range map[string][]oss.Option{
		"put-small-aes": {aes}, "put-big-aes": {aes},
		"put-big-kms": {oss.ServerSideEncryption("KMS"), oss.ServerSideEncryptionKeyID(cmk)},
	} {
		data := small
		if strings.Contains(key, "big") {
			data = big
		}
		var resp http.Header
		if err := b.PutObject(key, bytes.NewReader(data), append(opts, oss.GetResponseHeader(&resp))...); err != nil {
			t.Fatalf("PUT %s: %v", key, err)
		}
		if resp.Get(hdrSSE) == "" || resp.Get("ETag") != `"`+md5Hex(data)+`"` {
			t.Fatalf("PUT %s response: sse %q etag %q", key, resp.Get(hdrSSE), resp.Get("ETag"))
		}
		want[key] = data
	}
	// Multipart (SDK verifies each part's CRC).
	imur, err := b.InitiateMultipartUpload("multi", aes)
	if err != nil {
		t.Fatal(err)
	}
	var parts []oss.UploadPart
	for i, chunk := range [][]byte{big[:1<<20], big[1<<20:]} {
		var h http.Header
		p, err := b.UploadPart(imur, bytes.NewReader(chunk), int64(len(chunk)), i+1, oss.GetResponseHeader(&h))
		if err != nil {
			t.Fatal(err)
		}
		if h.Get(hdrSSE) != "AES256" {
			t.Fatalf("UploadPart did not echo SSE: %v", h)
		}
		parts = append(parts, p)
	}
	// UploadPartCopy of an encrypted source into the encrypted upload.
	pc, err := b.UploadPartCopy(imur, "sse-bkt", "put-small-aes", 0, int64(len(small)), 3)
	if err != nil {
		t.Fatal(err)
	}
	parts = append(parts, pc)
	if _, err := b.CompleteMultipartUpload(imur, parts); err != nil {
		t.Fatal(err)
	}
	want["multi"] = append(append([]byte{}, big...), small...)
	// Append: the first append decides.
	var next int64
	for i, chunk := range [][]byte{small, big[:200000], small[:10]} {
		opts := []oss.Option{}
		if i == 0 {
			opts = append(opts, oss.ServerSideEncryption("KMS"))
		}
		if next, err = b.AppendObject("app", bytes.NewReader(chunk), next, opts...); err != nil {
			t.Fatal(err)
		}
	}
	want["app"] = append(append(append([]byte{}, small...), big[:200000]...), small[:10]...)
	// Copy to an encrypted destination (re-encrypted with a new key).
	if _, err := b.CopyObject("put-big-aes", "copy-kms", oss.ServerSideEncryption("KMS")); err != nil {
		t.Fatal(err)
	}
	want["copy-kms"] = big
	// Bucket default.
	if err := c.SetBucketEncryption("sse-bkt", oss.ServerEncryptionRule{SSEDefault: oss.SSEDefaultRule{SSEAlgorithm: "AES256"}}); err != nil {
		t.Fatal(err)
	}
	if err := b.PutObject("default", bytes.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	want["default"] = big

	for key, data := range want {
		got, h := getAll(t, b, key)
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: read back %d bytes differ from the %d written", key, len(got), len(data))
		}
		if h.Get(hdrSSE) == "" {
			t.Fatalf("%s: HEAD does not say it is encrypted", key)
		}
		if h.Get("x-oss-hash-crc64ecma") != crcOf(data) {
			t.Fatalf("%s: CRC %s, want the plaintext's %s", key, h.Get("x-oss-hash-crc64ecma"), crcOf(data))
		}
		// Ranged reads at chunk boundaries and across pieces.
		for _, r := range [][2]int64{{0, 0}, {65535, 65537}, {1, 4999}, {int64(len(data)) - 3, int64(len(data)) - 1}, {1<<20 - 5, 1<<20 + 70000}} {
			if r[1] >= int64(len(data)) {
				continue
			}
			got, _ := getAll(t, b, key, oss.Range(r[0], r[1]))
			if !bytes.Equal(got, data[r[0]:r[1]+1]) {
				t.Fatalf("%s: range %v differs", key, r)
			}
		}
	}
	_, h := getAll(t, b, "put-big-kms")
	wantSSE(t, h, "KMS", cmk)
	_, h = getAll(t, b, "app")
	if h.Get(hdrSSE) != "KMS" || h.Get(hdrSSEKeyID) == "" {
		t.Fatalf("append with the default CMK: %v", h)
	}
	if err := env.Store.Close(); err != nil { // flush everything to disk
		t.Fatal(err)
	}
	scanDataDir(t, env.DataDir, marker)
}

func TestSSEBucketEncryptionConfig(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	v1Bucket(t, c, "enc-bkt")
	_, err := c.GetBucketEncryption("enc-bkt")
	wantCode(t, err, 404, "NoSuchServerSideEncryptionRule")
	info, err := c.GetBucketInfo("enc-bkt")
	if err != nil || info.BucketInfo.SseRule.SSEAlgorithm != "" /* the SDK maps None to "" */ {
		t.Fatalf("GetBucketInfo SSE = %+v, %v", info.BucketInfo.SseRule, err)
	}
	cmk := createCMK(t, env)
	rule := oss.ServerEncryptionRule{SSEDefault: oss.SSEDefaultRule{SSEAlgorithm: "KMS", KMSMasterKeyID: cmk}}
	if err := c.SetBucketEncryption("enc-bkt", rule); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBucketEncryption("enc-bkt")
	if err != nil || got.SSEDefault.SSEAlgorithm != "KMS" || got.SSEDefault.KMSMasterKeyID != cmk {
		t.Fatalf("GetBucketEncryption = %+v, %v", got, err)
	}
	info, err = c.GetBucketInfo("enc-bkt")
	if err != nil || info.BucketInfo.SseRule.SSEAlgorithm != "KMS" || info.BucketInfo.SseRule.KMSMasterKeyID != cmk {
		t.Fatalf("GetBucketInfo SSE = %+v, %v", info.BucketInfo.SseRule, err)
	}
	for _, bad := range []oss.SSEDefaultRule{
		{SSEAlgorithm: "AES128"},
		{SSEAlgorithm: "AES256", KMSMasterKeyID: cmk},
		{SSEAlgorithm: "AES256", KMSDataEncryption: "SM4"},
		{SSEAlgorithm: "SM4"},
		{SSEAlgorithm: "KMS", KMSDataEncryption: "DES"},
	} {
		err := c.SetBucketEncryption("enc-bkt", oss.ServerEncryptionRule{SSEDefault: bad})
		wantCode(t, err, 400, "InvalidArgument")
	}
	got, err = c.GetBucketEncryption("enc-bkt")
	if err != nil || got.SSEDefault.KMSMasterKeyID != cmk {
		t.Fatalf("a refused PUT changed the rule: %+v, %v", got, err)
	}
	if err := c.DeleteBucketEncryption("enc-bkt"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBucketEncryption("enc-bkt")
	wantCode(t, err, 404, "NoSuchServerSideEncryptionRule")
}

func TestSSEBadInput(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "bad-bkt")
	cmk := createCMK(t, env)
	kc, _ := kms.NewClientWithAccessKey(env.Region, env.AccessKeyID, env.AccessKeySecret)
	kc.Domain = env.Addr

	put := func(key string, opts ...oss.Option) error {
		return b.PutObject(key, strings.NewReader("payload"), opts...)
	}
	// An existing object that refused overwrites must leave whole.
	keep := marked("KEEP", 100000)
	if err := b.PutObject("keep", bytes.NewReader(keep), oss.ServerSideEncryption("AES256")); err != nil {
		t.Fatal(err)
	}
	unknown := oss.ServerSideEncryptionKeyID("00000000-0000-4000-8000-000000000000")
	_, err := b.CopyObject("keep", "k", oss.ServerSideEncryption("KMS"), unknown)
	wantCode(t, err, 404, "KeyNotFound")
	_, err = b.CopyObject("keep", "keep", oss.ServerSideEncryption("KMS"), unknown)
	wantCode(t, err, 404, "KeyNotFound")
	wantCode(t, b.PutObject("keep", strings.NewReader("overwrite"), oss.ServerSideEncryption("KMS"), unknown), 404, "KeyNotFound")
	wantCode(t, put("k", oss.ServerSideEncryption("ROT13")), 400, "InvalidArgument")
	// Ciphers OSS knows but this server does not implement are refused, never ignored.
	wantCode(t, put("k", oss.ServerSideEncryption("SM4")), 400, "InvalidArgument")
	wantCode(t, put("k", oss.ServerSideEncryption("KMS"), oss.ServerSideDataEncryption("SM4")), 400, "InvalidArgument")
	wantCode(t, put("k", oss.SetHeader("x-oss-server-side-encryption-customer-algorithm", "AES256")), 501, "NotImplemented")
	wantCode(t, put("k", oss.ServerSideEncryption("AES256"), oss.ServerSideEncryptionKeyID(cmk)), 400, "InvalidArgument")
	wantCode(t, put("k", oss.ServerSideEncryption("KMS"), oss.ServerSideEncryptionKeyID("00000000-0000-4000-8000-000000000000")), 404, "KeyNotFound")
	wantCode(t, put("k", oss.ServerSideEncryption("KMS"), oss.ServerSideEncryptionKeyID("alias/nope")), 404, "KeyNotFound")
	_, err = b.InitiateMultipartUpload("k", oss.ServerSideEncryption("KMS"), oss.ServerSideEncryptionKeyID("alias/nope"))
	wantCode(t, err, 404, "KeyNotFound")

	dis := kms.CreateDisableKeyRequest()
	dis.KeyId = cmk
	if _, err := kc.DisableKey(dis); err != nil {
		t.Fatal(err)
	}
	wantCode(t, put("k", oss.ServerSideEncryption("KMS"), oss.ServerSideEncryptionKeyID(cmk)), 409, "Rejected.Disabled")
	_, err = b.AppendObject("k", strings.NewReader("x"), 0, oss.ServerSideEncryption("KMS"), oss.ServerSideEncryptionKeyID(cmk))
	wantCode(t, err, 409, "Rejected.Disabled")
	_, err = b.InitiateMultipartUpload("k", oss.ServerSideEncryption("KMS"), oss.ServerSideEncryptionKeyID(cmk))
	wantCode(t, err, 409, "Rejected.Disabled")
	_, err = b.CopyObject("keep", "k", oss.ServerSideEncryption("KMS"), oss.ServerSideEncryptionKeyID(cmk))
	wantCode(t, err, 409, "Rejected.Disabled")
	_, err = b.CopyObject("keep", "keep", oss.ServerSideEncryption("KMS"), oss.ServerSideEncryptionKeyID(cmk))
	wantCode(t, err, 409, "Rejected.Disabled")
	// A bucket default naming the disabled key refuses plain PUTs too.
	if err := c.SetBucketEncryption("bad-bkt", oss.ServerEncryptionRule{SSEDefault: oss.SSEDefaultRule{SSEAlgorithm: "KMS", KMSMasterKeyID: cmk}}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, put("k"), 409, "Rejected.Disabled")
	wantCode(t, b.PutObject("keep", strings.NewReader("overwrite")), 409, "Rejected.Disabled")
	if err := c.DeleteBucketEncryption("bad-bkt"); err != nil {
		t.Fatal(err)
	}
	if got, h := getAll(t, b, "keep"); !bytes.Equal(got, keep) || h.Get(hdrSSE) != "AES256" {
		t.Fatalf("refused writes changed the existing object (sse %q, equal %v)", h.Get(hdrSSE), bytes.Equal(got, keep))
	}

	cmk2 := createCMK(t, env)
	if err := put("readable", oss.ServerSideEncryption("KMS"), oss.ServerSideEncryptionKeyID(cmk2)); err != nil {
		t.Fatal(err)
	}
	del := kms.CreateScheduleKeyDeletionRequest()
	del.KeyId = cmk2
	del.PendingWindowInDays = "7"
	if _, err := kc.ScheduleKeyDeletion(del); err != nil {
		t.Fatal(err)
	}
	wantCode(t, put("k", oss.ServerSideEncryption("KMS"), oss.ServerSideEncryptionKeyID(cmk2)), 409, "Rejected.PendingDeletion")
	_, err = b.GetObject("readable")
	wantCode(t, err, 409, "Rejected.PendingDeletion")

	if ok, _ := b.IsObjectExist("k"); ok {
		t.Fatal("a refused encrypted upload stored an object")
	}
	if ups, err := b.ListMultipartUploads(); err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("a refused Initiate left uploads: %+v, %v", ups.Uploads, err)
	}
}

func TestSSETamperedBlob(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "tamper-bkt")
	data := marked("TAMPER", 300000) // file-backed, five chunks
	if err := b.PutObject("obj", bytes.NewReader(data), oss.ServerSideEncryption("AES256")); err != nil {
		t.Fatal(err)
	}
	o, err := env.Store.GetObject("tamper-bkt", "obj", "")
	if err != nil || len(o.Extents) != 1 || !o.Extents[0].Sealed() {
		t.Fatalf("record = %+v, %v", o, err)
	}
	id := o.Extents[0].Blob
	paths, _ := filepath.Glob(filepath.Join(env.DataDir, "store", "blobs", "*", id))
	if len(paths) != 1 {
		t.Fatalf("blob file of %s: %v", id, paths)
	}
	path := paths[0]
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw[100] ^= 1 // inside the first chunk
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = b.GetObject("obj")
	wantCode(t, err, 500, "InternalError")
	// A range that avoids the damaged chunk still reads.
	r, err := b.GetObject("obj", oss.Range(200000, 200009))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, data[200000:200010]) {
		t.Fatal("undamaged range differs")
	}
	// Truncation of the stored data is detected too.
	if err := os.WriteFile(path, raw[:len(raw)-20], 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = b.GetObject("obj", oss.Range(290000, 299999))
	wantCode(t, err, 500, "InternalError")
}

func TestSSESelfCopyEncryptsAndRewrap(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "self-bkt")
	data := marked("OLDPLAIN", 200000)
	if err := b.PutObject("old", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := c.SetBucketEncryption("self-bkt", oss.ServerEncryptionRule{SSEDefault: oss.SSEDefaultRule{SSEAlgorithm: "AES256"}}); err != nil {
		t.Fatal(err)
	}
	if _, h := getAll(t, b, "old"); h.Get(hdrSSE) != "" {
		t.Fatal("enabling a default encrypted an existing object")
	}
	if _, err := b.CopyObject("old", "old", oss.MetadataDirective(oss.MetaReplace)); err != nil {
		t.Fatal(err)
	}
	got, h := getAll(t, b, "old")
	if !bytes.Equal(got, data) || h.Get(hdrSSE) != "AES256" {
		t.Fatalf("self-copy: sse %q, data equal %v", h.Get(hdrSSE), bytes.Equal(got, data))
	}
	// Changing the algorithm with only the SSE header.
	if _, err := b.CopyObject("old", "old", oss.ServerSideEncryption("KMS")); err != nil {
		t.Fatal(err)
	}
	if got, h = getAll(t, b, "old"); !bytes.Equal(got, data) || h.Get(hdrSSE) != "KMS" {
		t.Fatalf("re-encrypting self-copy: sse %q", h.Get(hdrSSE))
	}

	// Master key rotation: write, rotate, write, rewrap, retire.
	if err := b.PutObject("before", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.InitiateMultipartUpload("pending-upload"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.MasterKey.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := b.PutObject("after", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	rec := func() (*store.Object, []byte) {
		t.Helper()
		o, err := env.Store.GetObject("self-bkt", "before", "")
		if err != nil || len(o.Extents) != 1 || o.Extents[0].Inline {
			t.Fatalf("record of before = %+v, %v", o, err)
		}
		paths, _ := filepath.Glob(filepath.Join(env.DataDir, "store", "blobs", "*", o.Extents[0].Blob))
		if len(paths) != 1 {
			t.Fatalf("blob file of %s: %v", o.Extents[0].Blob, paths)
		}
		raw, err := os.ReadFile(paths[0])
		if err != nil {
			t.Fatal(err)
		}
		return o, raw
	}
	preRec, preBlob := rec()
	moved, err := server.RewrapDataKeys(context.Background(), env.Store, env.MasterKey, sealing.BlobVersion)
	if err != nil || moved != 2 { // "before" and the pending upload
		t.Fatalf("RewrapDataKeys = %d, %v", moved, err)
	}
	// The re-wrap replaced the wrapped data key only: same extents, same stored bytes.
	postRec, postBlob := rec()
	if postRec.Extra["sse"] == preRec.Extra["sse"] || !reflect.DeepEqual(postRec.Extents, preRec.Extents) || !bytes.Equal(postBlob, preBlob) {
		t.Fatalf("rewrap: envelope changed %v, extents %+v → %+v, blob bytes equal %v",
			postRec.Extra["sse"] != preRec.Extra["sse"], preRec.Extents, postRec.Extents, bytes.Equal(postBlob, preBlob))
	}
	if _, err := env.KMS.RewrapMaterial(); err != nil {
		t.Fatal(err)
	}
	if err := env.MasterKey.Retire(1); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"before", "after", "old"} {
		if got, _ := getAll(t, b, k); !bytes.Equal(got, data) {
			t.Fatalf("%s unreadable after rotation", k)
		}
	}
	if again, err := server.RewrapDataKeys(context.Background(), env.Store, env.MasterKey, sealing.BlobVersion); err != nil || again != 0 {
		t.Fatalf("second rewrap moved %d, %v", again, err)
	}
}

// TestSSESelfCopyLeavesNoPlaintext encrypts objects written before
// encryption by copying them onto themselves (inline and file-backed sizes)
// and then finds none of their old plaintext left in the data directory.
func TestSSESelfCopyLeavesNoPlaintext(t *testing.T) {
	const marker = "OLDPLAIN-4b1d"
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "self-scan")
	want := map[string][]byte{}
	for i, n := range []int{100, 5000, 200000, 1<<20 + 333} {
		key := fmt.Sprintf("old-%d", i)
		want[key] = marked(marker, n)
		if err := b.PutObject(key, bytes.NewReader(want[key])); err != nil {
			t.Fatal(err)
		}
		if _, err := b.CopyObject(key, key, oss.ServerSideEncryption("AES256")); err != nil {
			t.Fatal(err)
		}
	}
	for key, data := range want {
		if got, h := getAll(t, b, key); !bytes.Equal(got, data) || h.Get(hdrSSE) != "AES256" {
			t.Fatalf("%s after self-copy: sse %q, equal %v", key, h.Get(hdrSSE), bytes.Equal(got, data))
		}
	}
	if err := env.Store.Close(); err != nil {
		t.Fatal(err)
	}
	scanDataDir(t, env.DataDir, marker)
}

// TestSSEEachObjectHasItsOwnDataKey unwraps the stored data keys of
// identical objects and finds them all different, wrapped by the master
// key (AES256) or by the named CMK (KMS), each bound to its own object:
// a wrapped key moved to another object's envelope does not open.
func TestSSEEachObjectHasItsOwnDataKey(t *testing.T) {
	env := servertest.Start(t)
	c := v1Client(t, env)
	b := v1Bucket(t, c, "dk-bkt")
	cmk := createCMK(t, env)
	type stored struct {
		Alg     string `json:"alg"`
		KeyID   string `json:"kid"`
		OID     string `json:"oid"`
		Wrapped string `json:"wk"`
	}
	load := func(key string) stored {
		t.Helper()
		o, err := env.Store.GetObject("dk-bkt", key, "")
		if err != nil {
			t.Fatal(err)
		}
		var s stored
		if err := json.Unmarshal([]byte(o.Extra["sse"]), &s); err != nil {
			t.Fatalf("%s: envelope %q: %v", key, o.Extra["sse"], err)
		}
		return s
	}
	masterAAD := func(oid string) []byte { return []byte("ossctl/sse/data-key\x00" + oid) }
	kmsCtx := func(oid string) map[string]string { return map[string]string{"ossctl:sse-object": oid} }
	unwrap := func(s stored) ([]byte, error) {
		if s.Alg == "AES256" {
			sealed, err := base64.StdEncoding.DecodeString(s.Wrapped)
			if err != nil {
				return nil, err
			}
			return env.MasterKey.Open(sealed, masterAAD(s.OID))
		}
		k, _, err := env.KMS.DecryptDataKey(s.Wrapped, kmsCtx(s.OID))
		return k, err
	}
	data := []byte("identical plaintext in every object")
	seen := map[string]string{}
	var envs []stored
	for _, o := range []struct {
		key  string
		opts []oss.Option
	}{
		{"aes-1", []oss.Option{oss.ServerSideEncryption("AES256")}},
		{"aes-2", []oss.Option{oss.ServerSideEncryption("AES256")}},
		{"kms-1", []oss.Option{oss.ServerSideEncryption("KMS"), oss.ServerSideEncryptionKeyID(cmk)}},
		{"kms-2", []oss.Option{oss.ServerSideEncryption("KMS"), oss.ServerSideEncryptionKeyID(cmk)}},
	} {
		if err := b.PutObject(o.key, bytes.NewReader(data), o.opts...); err != nil {
			t.Fatal(err)
		}
		s := load(o.key)
		if (s.Alg == "KMS") != strings.HasPrefix(o.key, "kms") || (s.Alg == "KMS" && s.KeyID != cmk) {
			t.Fatalf("%s: envelope %+v", o.key, s)
		}
		k, err := unwrap(s)
		if err != nil || len(k) != 32 {
			t.Fatalf("%s: unwrapping the data key: %d bytes, %v", o.key, len(k), err)
		}
		if prev, dup := seen[string(k)]; dup {
			t.Fatalf("%s reuses the data key of %s", o.key, prev)
		}
		seen[string(k)] = o.key
		envs = append(envs, s)
	}
	// Swap object ids between envelopes of the same algorithm.
	for _, pair := range [][2]int{{0, 1}, {2, 3}} {
		moved := envs[pair[0]]
		moved.OID = envs[pair[1]].OID
		if _, err := unwrap(moved); err == nil {
			t.Fatalf("%s's wrapped data key opened under another object's id", moved.Alg)
		}
	}
}

// testLogger sends the server's errors to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
