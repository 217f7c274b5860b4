package auth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	v2oss "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	v2creds "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/signer"
)

type v2Mode struct {
	name, scheme, presignScheme string
	ver                         v2oss.SignatureVersionType
}

var v2Modes = []v2Mode{
	{"V4", SchemeV4, SchemeV4Presign, v2oss.SignatureVersionV4},
	{"V1", SchemeV1, SchemeV1Presign, v2oss.SignatureVersionV1},
}

func withVersion(v v2oss.SignatureVersionType) func(*v2oss.Config) {
	return func(c *v2oss.Config) { c.WithSignatureVersion(v) }
}

func wantV2ServiceError(t *testing.T, err error, status int, code string) *v2oss.ServiceError {
	t.Helper()
	var se *v2oss.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("SDK error = %v (%T), want ServiceError %s", err, err, code)
	}
	if se.StatusCode != status || se.Code != code {
		t.Fatalf("SDK error = %d %s, want %d %s", se.StatusCode, se.Code, status, code)
	}
	return se
}

func TestV2SDKClientKeysBothStyles(t *testing.T) {
	s := newAuthServer(t)
	ctx := context.Background()
	for _, mode := range v2Modes {
		for _, host := range []string{pathHost(s), vhostHost(s)} {
			t.Run(mode.name+"/"+host, func(t *testing.T) {
				c := v2Client(s, host, userAK, userSecret, "", nil, withVersion(mode.ver))
				for _, key := range trickyKeys {
					_, err := c.PutObject(ctx, &v2oss.PutObjectRequest{
						Bucket: v2oss.Ptr(sampleBucket), Key: v2oss.Ptr(key), Body: strings.NewReader("data"),
						Metadata: map[string]string{"note": " padded value "}, ContentType: v2oss.Ptr("text/plain"),
					})
					if err != nil {
						t.Fatalf("PutObject(%q): %v", key, err)
					}
					wantOK(t, s.last(t), mode.scheme, userAK, sampleBucket, key)

					res, err := c.GetObject(ctx, &v2oss.GetObjectRequest{Bucket: v2oss.Ptr(sampleBucket), Key: v2oss.Ptr(key),
						ResponseContentDisposition: v2oss.Ptr(`attachment; filename="x y.txt"`), Process: v2oss.Ptr("image/resize,w_10")})
					if err != nil {
						t.Fatalf("GetObject(%q): %v", key, err)
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					wantOK(t, s.last(t), mode.scheme, userAK, sampleBucket, key)

					if _, err := c.HeadObject(ctx, &v2oss.HeadObjectRequest{Bucket: v2oss.Ptr(sampleBucket), Key: v2oss.Ptr(key)}); err != nil {
						t.Fatalf("HeadObject(%q): %v", key, err)
					}
					wantOK(t, s.last(t), mode.scheme, userAK, sampleBucket, key)
				}
				_, _ = c.GetBucketAcl(ctx, &v2oss.GetBucketAclRequest{Bucket: v2oss.Ptr(sampleBucket)})
				wantOK(t, s.last(t), mode.scheme, userAK, sampleBucket, "")
				_, _ = c.ListObjectsV2(ctx, &v2oss.ListObjectsV2Request{Bucket: v2oss.Ptr(sampleBucket),
					Prefix: v2oss.Ptr("a b/"), Delimiter: v2oss.Ptr("/"), ContinuationToken: v2oss.Ptr("tok+en/=")})
				wantOK(t, s.last(t), mode.scheme, userAK, sampleBucket, "")
			})
		}
	}
}

// TestV2SDKInvokeOperation drives arbitrary sub-resources through the v2
// client, including per-operation sub-resource names and names the v2 SDK
// leaves unsigned although the v1 list has them.
func TestV2SDKInvokeOperation(t *testing.T) {
	s := newAuthServer(t)
	ctx := context.Background()
	cases := []struct {
		name, method, key string
		params            map[string]string
		subResource       []string
		headers           map[string]string
	}{
		{"policy", "PUT", "", map[string]string{"policy": ""}, []string{"policy"}, nil},
		{"lifecycle", "GET", "", map[string]string{"lifecycle": ""}, []string{"lifecycle"}, nil},
		{"worm extend", "POST", "", map[string]string{"wormExtend": "", "wormId": "ID1"}, []string{"wormExtend", "wormId"}, nil},
		{"uploads", "POST", "dir/a b", map[string]string{"uploads": "", "encoding-type": "url"}, nil, nil},
		{"part", "PUT", "dir/a b", map[string]string{"partNumber": "2", "uploadId": "U+1/2"}, nil, nil},
		{"x-oss query", "GET", "o", map[string]string{"x-oss-ac-source-ip": "10.0.0.1", "x-oss-unknown": "v w"}, nil, nil},
		{"v1-only name unsigned by v2", "GET", "", map[string]string{"status": "enabled", "img": ""}, nil, nil},
		{"token header", "GET", "o", nil, nil, map[string]string{"x-oss-request-payer": "requester"}},
	}
	for _, mode := range v2Modes {
		c := v2Client(s, pathHost(s), rootAK, rootSecret, "", nil, withVersion(mode.ver))
		for _, tc := range cases {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				in := &v2oss.OperationInput{OpName: tc.name, Method: tc.method, Bucket: v2oss.Ptr(sampleBucket),
					Parameters: tc.params, Headers: tc.headers}
				if tc.key != "" {
					in.Key = v2oss.Ptr(tc.key)
				}
				if tc.subResource != nil {
					in.OpMetadata.Set(signer.SubResource, tc.subResource)
				}
				out, err := c.InvokeOperation(ctx, in)
				if err != nil {
					t.Fatalf("InvokeOperation: %v", err)
				}
				out.Body.Close()
				wantOK(t, s.last(t), mode.scheme, rootAK, sampleBucket, tc.key)
			})
		}
	}
}

func TestV2SDKPresign(t *testing.T) {
	s := newAuthServer(t)
	ctx := context.Background()
	for _, mode := range v2Modes {
		for _, host := range []string{pathHost(s), vhostHost(s)} {
			c := v2Client(s, host, stsAK, stsSecret, stsToken, nil, withVersion(mode.ver))
			for _, key := range trickyKeys {
				t.Run(mode.name+"/"+host+"/"+key, func(t *testing.T) {
					res, err := c.Presign(ctx, &v2oss.GetObjectRequest{Bucket: v2oss.Ptr(sampleBucket), Key: v2oss.Ptr(key),
						ResponseContentType: v2oss.Ptr("text/plain; a=b")}, v2oss.PresignExpires(10*time.Minute))
					if err != nil {
						t.Fatal(err)
					}
					if resp := presignDo(t, s, res.Method, res.URL, nil); resp.StatusCode != http.StatusOK {
						t.Fatalf("GET %s: %s", res.URL, resp.Status)
					}
					o := s.last(t)
					wantOK(t, o, mode.presignScheme, stsAK, sampleBucket, key)
					if o.principal.SecurityToken != stsToken {
						t.Fatalf("token = %q", o.principal.SecurityToken)
					}
				})
			}
			t.Run(mode.name+"/"+host+"/put signed headers", func(t *testing.T) {
				res, err := c.Presign(ctx, &v2oss.PutObjectRequest{Bucket: v2oss.Ptr(sampleBucket), Key: v2oss.Ptr("p"),
					ContentType: v2oss.Ptr("application/json"), Metadata: map[string]string{"a": "b"}})
				if err != nil {
					t.Fatal(err)
				}
				h := http.Header{}
				for k, v := range res.SignedHeaders {
					h.Set(k, v)
				}
				if resp := presignDo(t, s, res.Method, res.URL, h); resp.StatusCode != http.StatusOK {
					t.Fatalf("PUT: %s", resp.Status)
				}
				wantOK(t, s.last(t), mode.presignScheme, stsAK, sampleBucket, "p")
				h.Set("X-Oss-Meta-A", "c")
				presignDo(t, s, res.Method, res.URL, h)
				wantCode(t, s.last(t).err, http.StatusForbidden, CodeSignatureDoesNotMatch)
			})
		}
	}
}

func TestV2SDKPresignExpired(t *testing.T) {
	s := newAuthServer(t)
	for _, mode := range v2Modes {
		t.Run(mode.name, func(t *testing.T) {
			c := v2Client(s, pathHost(s), rootAK, rootSecret, "", nil, withVersion(mode.ver))
			res, err := c.Presign(context.Background(), &v2oss.GetObjectRequest{Bucket: v2oss.Ptr(sampleBucket), Key: v2oss.Ptr("k")},
				v2oss.PresignExpires(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			s.setClock(func() time.Time { return time.Now().Add(90 * time.Second) })
			defer s.setClock(time.Now)
			presignDo(t, s, "GET", res.URL, nil)
			wantCode(t, s.last(t).err, http.StatusForbidden, CodeAccessDenied)
		})
	}
}

// TestV2SDKClockSkewCorrection: the v2 client reads the server clock from
// the RequestTimeTooSkewed response's Date and retries; the retry passes.
func TestV2SDKClockSkewCorrection(t *testing.T) {
	s := newAuthServer(t)
	s.setClock(func() time.Time { return time.Now().Add(40 * time.Minute) })
	c := v2Client(s, pathHost(s), rootAK, rootSecret, "", nil, func(cfg *v2oss.Config) { cfg.WithRetryMaxAttempts(3) })
	_, err := c.PutObject(context.Background(), &v2oss.PutObjectRequest{Bucket: v2oss.Ptr(sampleBucket), Key: v2oss.Ptr("k"),
		Body: strings.NewReader("x")})
	if err != nil {
		t.Fatalf("PutObject after skew correction: %v", err)
	}
	outs := s.all()
	if len(outs) != 2 {
		t.Fatalf("got %d requests, want a skewed one and a corrected retry", len(outs))
	}
	wantCode(t, outs[0].err, http.StatusForbidden, CodeRequestTimeTooSkewed)
	wantOK(t, outs[1], SchemeV4, rootAK, sampleBucket, "k")
}

func TestV2SDKTampering(t *testing.T) {
	s := newAuthServer(t)
	ctx := context.Background()
	tampers := map[string]func(*http.Request){
		"method": func(r *http.Request) { r.Method = http.MethodPut },
		"key":    func(r *http.Request) { r.URL.Path = "/bkt1/dir/b"; r.URL.RawPath = "" },
		"signed query": func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "versionId=v1", "versionId=v2", 1)
		},
		"x-oss header": func(r *http.Request) { r.Header.Set("X-Oss-Range-Behavior", "standard") },
		"x-oss-date": func(r *http.Request) {
			r.Header.Set("X-Oss-Date", time.Now().UTC().Add(time.Minute).Format(iso8601Basic))
		},
		"date": func(r *http.Request) { r.Header.Set("Date", time.Now().UTC().Add(time.Minute).Format(http.TimeFormat)) },
	}
	for _, mode := range v2Modes {
		for name, f := range tampers {
			t.Run(mode.name+"/"+name, func(t *testing.T) {
				c := v2Client(s, pathHost(s), rootAK, rootSecret, "", f, withVersion(mode.ver))
				_, err := c.GetObject(ctx, &v2oss.GetObjectRequest{Bucket: v2oss.Ptr(sampleBucket), Key: v2oss.Ptr("dir/a"),
					VersionId: v2oss.Ptr("v1")})
				if mode.ver == v2oss.SignatureVersionV4 && name == "date" {
					// V4 with x-oss-date does not sign Date.
					if err != nil {
						t.Fatalf("Date is not part of a V4 signature with x-oss-date: %v", err)
					}
					s.last(t)
					return
				}
				wantV2ServiceError(t, err, http.StatusForbidden, CodeSignatureDoesNotMatch)
				wantCode(t, s.last(t).err, http.StatusForbidden, CodeSignatureDoesNotMatch)
			})
		}
	}
}

// TestV2SignerDirect signs hand-built requests with the v2 SDK's signer
// package (fixed time, additional headers) and verifies them in-process.
func TestV2SignerDirect(t *testing.T) {
	signTime := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	cred := &v2creds.Credentials{AccessKeyID: rootAK, AccessKeySecret: rootSecret, SecurityToken: stsToken}
	type tc struct {
		name       string
		signer     signer.Signer
		additional []string
		scheme     string
	}
	cases := []tc{
		{"v4", &signer.SignerV4{}, nil, SchemeV4},
		{"v4 additional headers", &signer.SignerV4{}, []string{"Host", "x-custom-b", "X-Custom-A", "content-type"}, SchemeV4},
		{"v1", &signer.SignerV1{}, nil, SchemeV1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := "http://bkt1.oss-cn-hangzhou.aliyuncs.com/dir/%E6%97%A5%20a%2Bb?acl&uploadId=abc%2Fdef&x-oss-process=a%2Cb&prefix=p"
			req, _ := http.NewRequest("PUT", u, strings.NewReader("body"))
			req.Header.Set("Content-Type", "text/plain")
			req.Header.Set("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==")
			req.Header.Set("X-Custom-A", " a ")
			req.Header.Set("X-Custom-B", "b")
			req.Header.Add("X-Oss-Meta-Multi", "1")
			req.Header.Add("X-Oss-Meta-Multi", " 2 ")
			sc := &signer.SigningContext{
				Product: v2oss.Ptr("oss"), Region: v2oss.Ptr(testRegion),
				Bucket: v2oss.Ptr(sampleBucket), Key: v2oss.Ptr("dir/日 a+b"),
				Request: req, Credentials: cred, Time: signTime, AdditionalHeaders: c.additional,
			}
			if err := c.signer.Sign(context.Background(), sc); err != nil {
				t.Fatal(err)
			}
			p, err := Verify(req, sampleBucket, "dir/日 a+b", signTime.Add(3*time.Minute), testLookup)
			if err != nil {
				var ae *Error
				errors.As(err, &ae)
				t.Fatalf("Verify: %v\nSDK:\n%s\nserver:\n%s\n%s", err, sc.StringToSign, ae.StringToSign, ae.CanonicalRequest)
			}
			if p.Scheme != c.scheme || p.SecurityToken != stsToken || !p.Root {
				t.Fatalf("principal %+v", p)
			}
			// The server's string to sign is the SDK's, byte for byte.
			req.Header.Set("X-Custom-B", "tampered")
			if c.additional == nil {
				req.Header.Set("X-Oss-Meta-Multi", "tampered")
			}
			_, err = Verify(req, sampleBucket, "dir/日 a+b", signTime, testLookup)
			ae := wantCode(t, err, http.StatusForbidden, CodeSignatureDoesNotMatch)
			if ae.StringToSign == sc.StringToSign {
				t.Fatalf("tampered request produced the same string to sign")
			}
			_, err = Verify(req, sampleBucket, "dir/日 a+b", signTime.Add(16*time.Minute), testLookup)
			wantCode(t, err, http.StatusForbidden, CodeRequestTimeTooSkewed)
		})
	}
}

// TestV2SignerPresignDirect checks the v2 signer's presign mode with fixed
// expiry, including x-oss-additional-headers.
func TestV2SignerPresignDirect(t *testing.T) {
	cred := &v2creds.Credentials{AccessKeyID: userAK, AccessKeySecret: userSecret}
	for _, c := range []struct {
		name   string
		signer signer.Signer
		scheme string
	}{{"v4", &signer.SignerV4{}, SchemeV4Presign}, {"v1", &signer.SignerV1{}, SchemeV1Presign}} {
		t.Run(c.name, func(t *testing.T) {
			expiry := time.Now().Add(time.Hour)
			req, _ := http.NewRequest("GET", "http://127.0.0.1:9000/bkt1/a%2F%2Fb?x-oss-process=image%2Finfo", nil)
			req.Header.Set("X-Custom", "v")
			sc := &signer.SigningContext{
				Product: v2oss.Ptr("oss"), Region: v2oss.Ptr(testRegion), Bucket: v2oss.Ptr(sampleBucket), Key: v2oss.Ptr("a//b"),
				Request: req, Credentials: cred, Time: expiry, AuthMethodQuery: true, AdditionalHeaders: []string{"x-custom"},
			}
			if err := c.signer.Sign(context.Background(), sc); err != nil {
				t.Fatal(err)
			}
			p, err := Verify(req, sampleBucket, "a//b", time.Now(), testLookup)
			if err != nil {
				t.Fatalf("Verify %s: %v", req.URL, err)
			}
			if p.Scheme != c.scheme || p.AccessKeyID != userAK || p.UserName != "alice" {
				t.Fatalf("principal %+v", p)
			}
			if c.name == "v4" {
				req.Header.Set("X-Custom", "w")
				_, err = Verify(req, sampleBucket, "a//b", time.Now(), testLookup)
				wantCode(t, err, http.StatusForbidden, CodeSignatureDoesNotMatch)
				req.Header.Set("X-Custom", "v")
			}
			_, err = Verify(req, sampleBucket, "a//b", expiry.Add(2*time.Second), testLookup)
			wantCode(t, err, http.StatusForbidden, CodeAccessDenied)
			q, _ := url.ParseQuery(req.URL.RawQuery)
			if c.name == "v4" && q.Get("x-oss-additional-headers") != "x-custom" {
				t.Fatalf("expected the signer to list x-custom, query %s", req.URL.RawQuery)
			}
		})
	}
}

func TestV2SDKWrongSecretUnknownKeyToken(t *testing.T) {
	s := newAuthServer(t)
	ctx := context.Background()
	for _, mode := range v2Modes {
		t.Run(mode.name, func(t *testing.T) {
			get := func(c *v2oss.Client) error {
				_, err := c.GetObject(ctx, &v2oss.GetObjectRequest{Bucket: v2oss.Ptr(sampleBucket), Key: v2oss.Ptr("k")})
				return err
			}
			se := wantV2ServiceError(t, get(v2Client(s, pathHost(s), rootAK, "not-the-secret", "", nil, withVersion(mode.ver))),
				http.StatusForbidden, CodeSignatureDoesNotMatch)
			if se.EC == "" {
				t.Fatal("SignatureDoesNotMatch without EC")
			}
			s.last(t)
			wantV2ServiceError(t, get(v2Client(s, pathHost(s), "LTAI5tNoSuchKey99", "x", "", nil, withVersion(mode.ver))),
				http.StatusForbidden, CodeInvalidAccessKeyID)
			s.last(t)
			if err := get(v2Client(s, vhostHost(s), stsAK, stsSecret, stsToken, nil, withVersion(mode.ver))); err != nil {
				t.Fatal(err)
			}
			o := s.last(t)
			wantOK(t, o, mode.scheme, stsAK, sampleBucket, "k")
			if o.principal.SecurityToken != stsToken {
				t.Fatalf("token = %q", o.principal.SecurityToken)
			}
			// A swapped token is a signed header: the signature breaks.
			swap := func(r *http.Request) { r.Header.Set("X-Oss-Security-Token", "other") }
			wantV2ServiceError(t, get(v2Client(s, pathHost(s), stsAK, stsSecret, stsToken, swap, withVersion(mode.ver))),
				http.StatusForbidden, CodeSignatureDoesNotMatch)
			s.last(t)
		})
	}
}
