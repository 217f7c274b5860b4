package transfer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ossctl/ossctl/crypto"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/cse"
)

var (
	testRSAOnce sync.Once
	testRSA     *crypto.RSAMasterKey
)

// rsaKeys is a KeySource holding one local RSA master key.
type rsaKeys struct{ mk *crypto.RSAMasterKey }

func (k rsaKeys) MasterKey(cse.Spec) (crypto.MasterKey, error) { return k.mk, nil }

func (k rsaKeys) Resolve(env *crypto.Envelope) (crypto.MasterKey, error) {
	if env.MatDesc != k.mk.MatDesc() {
		return nil, fmt.Errorf("%w: %s", crypto.ErrNoMasterKey, env.MatDesc)
	}
	return k.mk, nil
}

func testKeys(t testing.TB) rsaKeys {
	t.Helper()
	testRSAOnce.Do(func() {
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testRSA, err = crypto.NewRSAMasterKey(&priv.PublicKey, priv, map[string]string{"desc": "transfer-test"})
		if err != nil {
			panic(err)
		}
	})
	return rsaKeys{mk: testRSA}
}

func cseSpec() cse.Spec { return cse.Spec{Kind: cse.KindKey, ID: "test"} }

func encCfg(fx *opsFixture, t testing.TB, auth bool) *Config {
	cfg := fx.cfg()
	cfg.Encryption = &Encryption{Spec: cseSpec(), Authenticated: auth, Keys: testKeys(t)}
	return cfg
}

func headOf(t *testing.T, fx *opsFixture, key string) http.Header {
	t.Helper()
	b, _ := fx.plain.Bucket("bkt1")
	h, err := b.GetObjectDetailedMeta(key)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func noTemps(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".ossctl-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestEncryptedRoundTrip(t *testing.T) {
	fx := newOps(t)
	for _, auth := range []bool{false, true} {
		for _, size := range []int{0, 1000, 3*MinPartSize + 17} {
			t.Run(fmt.Sprintf("auth=%v/size=%d", auth, size), func(t *testing.T) {
				cfg := encCfg(fx, t, auth)
				data := randData(size, uint64(size)+7)
				src := filepath.Join(fx.dir, fmt.Sprintf("src-%v-%d", auth, size))
				if err := os.WriteFile(src, data, 0o644); err != nil {
					t.Fatal(err)
				}
				key := filepath.Base(src)
				res, err := cfg.Upload(context.Background(), Upload{LocalPath: src, Bucket: "bkt1", Key: key}, (&Accounter{}).Listener())
				if err != nil {
					t.Fatal(err)
				}
				wantFormat := map[bool]string{false: FormatSDK, true: FormatAuthenticated}[auth]
				if res.Encrypted != "key:test" || res.CSEFormat != wantFormat || res.Size != int64(size) {
					t.Errorf("upload result %+v", res)
				}
				stored := fx.get(t, "bkt1", key)
				if size > 0 && bytes.Contains(stored, data[:min(size, 64)]) {
					t.Fatal("the stored object contains the plaintext")
				}
				h := headOf(t, fx, key)
				if !cse.IsEncrypted(h) {
					t.Fatalf("no envelope: %v", h)
				}
				if res.CRC64 != crcOf(stored) {
					t.Errorf("result CRC %s, stored ciphertext %s", res.CRC64, crcOf(stored))
				}
				multipart := size >= int(cfg.Threshold)
				if got := h.Get("X-Oss-Object-Type"); (got == "Multipart") != multipart {
					t.Errorf("object type %q for %d bytes", got, size)
				}
				if !auth && !multipart && h.Get("X-Oss-Meta-Client-Side-Encryption-Unencrypted-Content-Md5") == "" {
					t.Error("the SDK-format single PUT recorded no plaintext MD5")
				}
				for _, known := range []int64{-1, int64(len(stored))} {
					dst := filepath.Join(fx.dir, "out", key)
					_ = os.MkdirAll(filepath.Dir(dst), 0o755)
					fx.rec.reset()
					got, err := cfg.Download(context.Background(), Download{Bucket: "bkt1", Key: key, LocalPath: dst, Size: known}, (&Accounter{}).Listener())
					if err != nil {
						t.Fatalf("download (size %d): %v", known, err)
					}
					if got.Decrypted != "RSA/NONE/PKCS1Padding {\"desc\":\"transfer-test\"}" || got.CSEFormat != wantFormat || got.Size != int64(size) {
						t.Errorf("download result %+v", got)
					}
					back, _ := os.ReadFile(dst)
					if !bytes.Equal(back, data) {
						t.Fatalf("decrypted file differs (%d bytes, want %d)", len(back), len(data))
					}
					if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o600 {
						t.Errorf("decrypted file mode %v, want 0600", fi.Mode().Perm())
					}
					if multipart && fx.rec.count("RangeGet") < 2 {
						t.Errorf("large object fetched with %d ranged GETs", fx.rec.count("RangeGet"))
					}
					noTemps(t, filepath.Dir(dst))
					_ = os.Remove(dst)
				}
				var out bytes.Buffer
				if _, err := cfg.DownloadTo(context.Background(), &out, "bkt1", key, nil); err != nil || !bytes.Equal(out.Bytes(), data) {
					t.Fatalf("stream: %v (%d bytes)", err, out.Len())
				}
				// Without keys the object comes down as stored.
				raw := fx.cfg()
				out.Reset()
				if _, err := raw.DownloadTo(context.Background(), &out, "bkt1", key, nil); err != nil || !bytes.Equal(out.Bytes(), stored) {
					t.Fatalf("raw stream: %v", err)
				}
			})
		}
	}
}

// truncatingBody fails with io.ErrUnexpectedEOF after n bytes, like a dropped connection.
type truncatingBody struct {
	io.ReadCloser
	n int
}

func (b *truncatingBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if len(p) > b.n {
		p = p[:b.n]
	}
	n, err := b.ReadCloser.Read(p)
	b.n -= n
	return n, err
}

// TestEncryptedStreamResumesAfterDrop cuts the whole-object GET of an encrypted object short at
// an unaligned offset: the stream continues with a ranged GET and the output, the CRC-64 and
// the plaintext MD5 still check out.
func TestEncryptedStreamResumesAfterDrop(t *testing.T) {
	fx := newOps(t)
	for _, auth := range []bool{false, true} {
		cfg := encCfg(fx, t, auth)
		cfg.Threshold = 100 << 20
		data := randData(300<<10+5, 9)
		src := filepath.Join(fx.dir, "s.bin")
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := cfg.Upload(context.Background(), Upload{LocalPath: src, Bucket: "bkt1", Key: "s"}, nil); err != nil {
			t.Fatal(err)
		}
		fx.rec.reset()
		fx.rec.fault = func(kind string, n int, req *http.Request) (*http.Response, error) {
			if kind != "Get" || n != 1 {
				return nil, nil
			}
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				return nil, err
			}
			resp.Body = &truncatingBody{ReadCloser: resp.Body, n: 100<<10 + 3}
			return resp, nil
		}
		var out bytes.Buffer
		res, err := cfg.DownloadTo(context.Background(), &out, "bkt1", "s", nil)
		fx.rec.fault = nil
		if err != nil {
			t.Fatalf("auth=%v: %v", auth, err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("auth=%v: output differs after the resume (%d bytes)", auth, out.Len())
		}
		if fx.rec.count("RangeGet") != 1 {
			t.Errorf("auth=%v: %d ranged GETs, want 1 resume", auth, fx.rec.count("RangeGet"))
		}
		if res.CRC64 != crcOf(fx.get(t, "bkt1", "s")) {
			t.Errorf("auth=%v: CRC %s", auth, res.CRC64)
		}
	}
}

func TestEncryptedUploadResumesWithWrappedKeyOnly(t *testing.T) {
	fx := newOps(t)
	for _, auth := range []bool{false, true} {
		cfg := encCfg(fx, t, auth)
		cfg.PartSize = 2 * MinPartSize
		cfg.Threshold = MinPartSize
		data := randData(12*MinPartSize+99, 3)
		src := filepath.Join(fx.dir, "big.bin")
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		u := Upload{LocalPath: src, Bucket: "bkt1", Key: fmt.Sprintf("big-%v", auth)}
		cfg.Parallel = 1
		_, err := cfg.Upload(fx.cancelAfter("UploadPart", 2), u, nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted upload: %v", err)
		}
		cp, path := fx.checkpoint(t, cfg)
		raw, _ := os.ReadFile(path)
		if cp.Envelope == nil || cp.Encryption == "" || len(cp.Parts) < 1 {
			t.Fatalf("checkpoint %+v", cp)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("checkpoint mode %v", fi.Mode().Perm())
		}
		// The checkpoint holds the RSA-wrapped key (256 bytes), never a 32-byte plaintext key.
		env, err := crypto.ParseEnvelopeMetadata(cp.Envelope)
		if err != nil || len(env.WrappedKey) != 256 {
			t.Fatalf("checkpoint envelope: %v, wrapped key %d bytes", err, len(env.WrappedKey))
		}
		if !bytes.Contains(raw, []byte("encryption")) {
			t.Error("checkpoint does not name its encryption")
		}
		done := len(cp.Parts)
		fx.rec.after = nil
		fx.rec.reset()
		cfg.Parallel = 3
		if _, err := cfg.Upload(context.Background(), u, nil); err != nil {
			t.Fatal(err)
		}
		ps := cse.AlignPartSize(2*MinPartSize, auth)
		total := (int64(len(data)) + ps - 1) / ps
		if got := fx.rec.count("UploadPart"); int64(got) != total-int64(done) || fx.rec.count("Initiate") != 0 {
			t.Errorf("auth=%v: resumed upload sent %d parts and %d initiates, want %d parts", auth, got, fx.rec.count("Initiate"), total-int64(done))
		}
		var out bytes.Buffer
		if _, err := cfg.DownloadTo(context.Background(), &out, "bkt1", u.Key, nil); err != nil || !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("auth=%v: resumed object does not decrypt: %v", auth, err)
		}
		noCheckpoints(t, cfg)
		// Another encryption setting makes the old checkpoint stale rather than mixing keys.
		_ = os.Remove(filepath.Join(fx.dir, "cp"))
	}
}

// tamper rewrites an object with one ciphertext byte flipped, keeping its metadata.
func tamper(t *testing.T, fx *opsFixture, key string, at int) {
	t.Helper()
	b, _ := fx.plain.Bucket("bkt1")
	h := headOf(t, fx, key)
	data := fx.get(t, "bkt1", key)
	data[at] ^= 0x01
	if err := b.PutObject(key, bytes.NewReader(data), MetaOptions(UserMeta(h))...); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedEncryptedObjectLeavesNoFile(t *testing.T) {
	fx := newOps(t)
	cases := []struct {
		name string
		auth bool
		size int
	}{
		{"sdk single PUT (plaintext MD5)", false, 5000},
		{"authenticated single PUT", true, 5000},
		{"authenticated multipart", true, 4 * MinPartSize},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := encCfg(fx, t, tc.auth)
			data := randData(tc.size, 11)
			src := filepath.Join(fx.dir, "t.bin")
			if err := os.WriteFile(src, data, 0o644); err != nil {
				t.Fatal(err)
			}
			key := "t-" + strings.ReplaceAll(tc.name, " ", "-")
			if _, err := cfg.Upload(context.Background(), Upload{LocalPath: src, Bucket: "bkt1", Key: key}, nil); err != nil {
				t.Fatal(err)
			}
			tamper(t, fx, key, tc.size/2)
			dir := filepath.Join(fx.dir, "tampered")
			_ = os.MkdirAll(dir, 0o755)
			dst := filepath.Join(dir, "out.bin")
			_, err := cfg.Download(context.Background(), Download{Bucket: "bkt1", Key: key, LocalPath: dst, Size: -1}, nil)
			var ie *cmdutil.IntegrityError
			if !errors.As(err, &ie) {
				t.Fatalf("download of a tampered object: %v, want an IntegrityError", err)
			}
			if _, serr := os.Stat(dst); !errors.Is(serr, os.ErrNotExist) {
				t.Error("a file was left at the destination")
			}
			noTemps(t, dir)
			noCheckpoints(t, cfg)
		})
	}
}

func TestEncryptedStdinUpload(t *testing.T) {
	fx := newOps(t)
	for _, auth := range []bool{false, true} {
		for _, size := range []int{10, 3*MinPartSize + 5} { // one part; several (streaming PUT)
			cfg := encCfg(fx, t, auth)
			data := randData(size, 4)
			key := fmt.Sprintf("stdin-%v-%d", auth, size)
			res, err := cfg.UploadStream(context.Background(), bytes.NewReader(data), "bkt1", key, Headers{}, nil)
			if err != nil {
				t.Fatalf("auth=%v size=%d: %v", auth, size, err)
			}
			if res.Size != int64(size) || res.Encrypted == "" {
				t.Errorf("result %+v", res)
			}
			var out bytes.Buffer
			if _, err := cfg.DownloadTo(context.Background(), &out, "bkt1", key, nil); err != nil || !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("auth=%v size=%d: %v", auth, size, err)
			}
		}
	}
}

func TestCopyKeepsEnvelopeWhenMetaIsReplaced(t *testing.T) {
	fx := newOps(t)
	cfg := encCfg(fx, t, false)
	data := randData(2000, 5)
	src := filepath.Join(fx.dir, "c.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Upload(context.Background(), Upload{LocalPath: src, Bucket: "bkt1", Key: "c"}, nil); err != nil {
		t.Fatal(err)
	}
	h := headOf(t, fx, "c")
	if _, err := cfg.Copy(context.Background(), Copy{SrcBucket: "bkt1", SrcKey: "c", DstBucket: "bkt2", DstKey: "c2", SrcHeader: h,
		Headers: Headers{Meta: map[string]string{"owner": "me", "client-side-encryption-key": "Zm9v"}}}, nil); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := cfg.DownloadTo(context.Background(), &out, "bkt2", "c2", nil); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("copy with new metadata does not decrypt: %v", err)
	}
	b2, _ := fx.plain.Bucket("bkt2")
	if h2, _ := b2.GetObjectDetailedMeta("c2"); h2.Get("X-Oss-Meta-Owner") != "me" {
		t.Error("the new metadata was not applied")
	}
}
