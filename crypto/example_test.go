package crypto_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"

	"github.com/ossctl/ossctl/crypto"
)

// Example encrypts an object for upload, then reads a byte range back the
// way a client does after a HEAD request.
func Example() {
	pub, _ := os.ReadFile("testdata/rsa-2048-public-pkix.pem")
	priv, _ := os.ReadFile("testdata/rsa-2048-pkcs8.pem")
	master, err := crypto.ParseRSAMasterKey(pub, priv, map[string]string{"desc": "example"})
	if err != nil {
		log.Fatal(err)
	}

	// Upload: encrypt the body, send the envelope as user metadata.
	plain := []byte("the quick brown fox jumps over the lazy dog")
	c, err := crypto.NewContent(master, nil)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := c.EncryptReader(bytes.NewReader(plain), 0)
	stored, _ := io.ReadAll(body)
	headers := http.Header{}
	for k, v := range c.Envelope().Metadata() {
		headers.Set(crypto.MetaPrefix+k, v) // what a HEAD returns
	}

	// Download bytes 10..18: parse, resolve, plan, fetch, decrypt.
	env, err := crypto.ParseEnvelope(headers)
	if err != nil {
		log.Fatal(err)
	}
	oc, err := crypto.OpenContent(env, &crypto.MasterKeyResolver{Default: master})
	if err != nil {
		log.Fatal(err)
	}
	plan, _ := oc.PlanRange(10, 18, int64(len(stored)))
	fetched := stored[plan.FetchStart : plan.FetchEnd+1] // GET with Range: plan.HTTPRange()
	r, _ := oc.DecryptRange(bytes.NewReader(fetched), plan)
	got, _ := io.ReadAll(r)
	fmt.Printf("%s %s %q\n", env.CEKAlg, plan.HTTPRange(), got)
	// Output: AES/CTR/NoPadding bytes=0-18 "brown fox"
}
