package cat

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/crypto"
	"github.com/ossctl/ossctl/internal/cmdutil"
	"github.com/ossctl/ossctl/internal/cse"
	"github.com/ossctl/ossctl/internal/iostreams"
	"github.com/ossctl/ossctl/internal/server/servertest"
	"github.com/ossctl/ossctl/internal/transfer"
)

// rsaKeys is a KeySource with one local RSA master key.
type rsaKeys struct{ mk *crypto.RSAMasterKey }

func (k rsaKeys) MasterKey(cse.Spec) (crypto.MasterKey, error) { return k.mk, nil }
func (k rsaKeys) Resolve(env *crypto.Envelope) (crypto.MasterKey, error) {
	if env.MatDesc != k.mk.MatDesc() {
		return nil, crypto.ErrNoMasterKey
	}
	return k.mk, nil
}

// TestCatEncryptedRanges reads ranges of encrypted objects (SDK format and authenticated, single
// PUT and multipart) at several alignments: every one is the plaintext's slice.
func TestCatEncryptedRanges(t *testing.T) {
	env := servertest.Start(t)
	c, _ := oss.New(env.Endpoint, env.AccessKeyID, env.AccessKeySecret, oss.EnableCRC(false))
	if err := c.CreateBucket("bkt1"); err != nil {
		t.Fatal(err)
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	mk, _ := crypto.NewRSAMasterKey(&priv.PublicKey, priv, map[string]string{"desc": "cat"})
	keys := rsaKeys{mk: mk}
	data := make([]byte, 300<<10+7)
	for i := range data {
		data[i] = byte(i*13 + i>>9)
	}
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	n := len(data)
	ranges := []struct {
		rng  string
		want []byte
	}{
		{"", data}, {"0-0", data[:1]}, {"15-16", data[15:17]}, {"65535-65537", data[65535:65538]},
		{"100-199", data[100:200]}, {fmt.Sprintf("%d-", n-5), data[n-5:]}, {"-70000", data[n-70000:]},
		{"-99999999", data}, {"0-99999999", data}, {fmt.Sprintf("%d-", n), data},
	}
	for _, auth := range []bool{false, true} {
		for _, threshold := range []int64{100 << 20, transfer.MinPartSize} {
			key := fmt.Sprintf("enc-%v-%d", auth, threshold)
			cfg := &transfer.Config{Client: c, Threshold: threshold, PartSize: transfer.MinPartSize,
				Encryption: &transfer.Encryption{Spec: cse.Spec{Kind: cse.KindKey, ID: "k"}, Authenticated: auth, Keys: keys}}
			if _, err := cfg.Upload(context.Background(), transfer.Upload{LocalPath: src, Bucket: "bkt1", Key: key}, nil); err != nil {
				t.Fatal(err)
			}
			for _, tc := range ranges {
				ios, _, out, _ := iostreams.Test()
				o := &Options{IO: ios, OSS: func() (*oss.Client, error) { return c, nil }, Ctx: context.Background(),
					URL: cmdutil.OSSURL{Bucket: "bkt1", Key: key}, Range: tc.rng, Keys: keys}
				if err := run(o); err != nil {
					t.Fatalf("%s range %q: %v", key, tc.rng, err)
				}
				if !bytes.Equal(out.Bytes(), tc.want) {
					t.Errorf("%s range %q: got %d bytes, want %d", key, tc.rng, out.Len(), len(tc.want))
				}
			}
		}
	}
	// An authenticated object with a flipped byte: the range holding it fails with exit 6 and
	// writes nothing of the failing chunk.
	b, _ := c.Bucket("bkt1")
	h, _ := b.GetObjectDetailedMeta("enc-true-104857600")
	r, _ := b.GetObject("enc-true-104857600")
	stored := new(bytes.Buffer)
	_, _ = stored.ReadFrom(r)
	r.Close()
	ct := stored.Bytes()
	ct[200] ^= 1
	if err := b.PutObject("enc-true-104857600", bytes.NewReader(ct), transfer.MetaOptions(transfer.UserMeta(h))...); err != nil {
		t.Fatal(err)
	}
	ios, _, out, _ := iostreams.Test()
	o := &Options{IO: ios, OSS: func() (*oss.Client, error) { return c, nil }, Ctx: context.Background(),
		URL: cmdutil.OSSURL{Bucket: "bkt1", Key: "enc-true-104857600"}, Range: "100-199", Keys: keys}
	var ie *cmdutil.IntegrityError
	if err := run(o); !errors.As(err, &ie) {
		t.Fatalf("tampered range: %v, want an integrity error", err)
	}
	if out.Len() != 0 {
		t.Errorf("%d bytes of a tampered chunk were written", out.Len())
	}
}
