package auth

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// Keys that stress the canonical resource: separators, form characters,
// dot segments, non-ASCII (NFC and NFD), characters that need escaping.
var trickyKeys = []string{
	"obj",
	"dir/a b+c.txt",
	"a//b",
	"a/../b",
	"./x",
	"trail/",
	"日本語/ファイル.txt",
	"emoji😀 end",
	"caf\u00e9",  // NFC
	"cafe\u0301", // NFD
	"pct%20lit%2F",
	"q?#&'\"<>=;,",
	"tilde~star*(paren)!",
}

type v1Mode struct {
	name   string
	scheme string
	opts   []oss.ClientOption
}

var v1Modes = []v1Mode{
	{"V1", SchemeV1, nil},
	{"V4", SchemeV4, []oss.ClientOption{oss.AuthVersion(oss.AuthV4), oss.Region(testRegion)}},
	{"V2", SchemeV2, []oss.ClientOption{oss.AuthVersion(oss.AuthV2)}},
}

func TestV1SDKHeaderKeysBothStyles(t *testing.T) {
	s := newAuthServer(t)
	for _, mode := range v1Modes {
		for _, style := range []struct {
			name string
			host string
		}{{"path", pathHost(s)}, {"vhost", vhostHost(s)}} {
			t.Run(mode.name+"/"+style.name, func(t *testing.T) {
				c := v1Client(t, s, style.host, rootAK, rootSecret, nil, mode.opts...)
				b, err := c.Bucket(sampleBucket)
				if err != nil {
					t.Fatal(err)
				}
				for _, key := range trickyKeys {
					if err := b.PutObject(key, strings.NewReader("data"), oss.Meta("Note", "x y")); err != nil {
						t.Fatalf("PutObject(%q): %v", key, err)
					}
					wantOK(t, s.last(t), mode.scheme, rootAK, sampleBucket, key)

					rc, err := b.GetObject(key, oss.ResponseContentType("text/plain; charset=utf-8"))
					if err != nil {
						t.Fatalf("GetObject(%q): %v", key, err)
					}
					_, _ = io.Copy(io.Discard, rc)
					rc.Close()
					wantOK(t, s.last(t), mode.scheme, rootAK, sampleBucket, key)

					if err := b.DeleteObject(key); err != nil {
						t.Fatalf("DeleteObject(%q): %v", key, err)
					}
					wantOK(t, s.last(t), mode.scheme, rootAK, sampleBucket, key)
				}
				// Service and bucket level.
				_, _ = c.ListBuckets(oss.Prefix("b"), oss.MaxKeys(10))
				wantOK(t, s.last(t), mode.scheme, rootAK, "", "")
				_, _ = b.ListObjects(oss.Prefix("a b/"), oss.Delimiter("/"), oss.Marker("m+k"), oss.EncodingType("url"))
				wantOK(t, s.last(t), mode.scheme, rootAK, sampleBucket, "")
			})
		}
	}
}

// TestV1SDKSubResources sends sub-resource requests through the SDK's own
// connection, with parameters signed by the v1 rules.
func TestV1SDKSubResources(t *testing.T) {
	s := newAuthServer(t)
	cases := []struct {
		name, method, key string
		params            map[string]any
		headers           map[string]string
	}{
		{"bucket acl", "GET", "", map[string]any{"acl": nil}, nil},
		{"put acl", "PUT", "", map[string]any{"acl": nil}, map[string]string{"x-oss-acl": "private"}},
		{"uploads", "POST", "dir/big file", map[string]any{"uploads": nil}, nil},
		{"upload part", "PUT", "dir/big file", map[string]any{"partNumber": "3", "uploadId": "0004B9894A22E5B1888A1E29F823****"}, nil},
		{"response overrides", "GET", "a+b", map[string]any{"response-content-type": "text/plain; charset=utf-8", "response-content-disposition": `attachment; filename="a b.txt"`}, nil},
		{"process", "GET", "img.jpg", map[string]any{"x-oss-process": "image/resize,w_100/quality,q_90"}, nil},
		{"unlisted x-oss param", "GET", "obj", map[string]any{"x-oss-unlisted-param": "v/1"}, nil},
		{"unsigned list params", "GET", "", map[string]any{"prefix": "a b/", "delimiter": "/", "max-keys": "100", "encoding-type": "url", "marker": "x+y"}, nil},
		{"versioned get", "GET", "obj", map[string]any{"versionId": "CAEQNhiBgMDJgZCA0BYiIDc4MGZjZGI2OTBjOTRmNTE5NmU5NmFhZjhjYmY0****"}, nil},
		{"symlink and tagging", "PUT", "link", map[string]any{"symlink": nil}, map[string]string{"x-oss-symlink-target": "t%20arget"}},
		{"policy", "PUT", "", map[string]any{"policy": nil}, map[string]string{"Content-Type": ""}},
		{"worm extend", "POST", "", map[string]any{"wormExtend": nil, "wormId": "1666E2CFB2B3418****"}, nil},
		{"v1-only names", "GET", "", map[string]any{"live": nil, "status": "enabled"}, nil},
	}
	for _, mode := range v1Modes {
		c := v1Client(t, s, pathHost(s), rootAK, rootSecret, nil, mode.opts...)
		for _, tc := range cases {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				bucket := sampleBucket
				resp, err := c.Conn.Do(tc.method, bucket, tc.key, tc.params, tc.headers, nil, 0, nil)
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				resp.Body.Close()
				wantOK(t, s.last(t), mode.scheme, rootAK, bucket, tc.key)
			})
		}
	}
}

// TestV1SDKTampering changes one signed element of a signed request in
// flight; each change must fail with SignatureDoesNotMatch.
func TestV1SDKTampering(t *testing.T) {
	s := newAuthServer(t)
	tampers := []struct {
		name   string
		mutate func(*http.Request)
		// unsignedUnderV1 marks changes that only V4 covers.
		unsignedUnderV1 bool
	}{
		{"method", func(r *http.Request) { r.Method = http.MethodDelete }, false},
		{"path", func(r *http.Request) { r.URL.Path = "/bkt1/other"; r.URL.RawPath = "" }, false},
		{"bucket", func(r *http.Request) { r.URL.Path = "/bkt2/obj%20name"; r.URL.RawPath = "" }, false},
		{"signed query", func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "response-content-type=text%2Fplain", "response-content-type=text%2Fhtml", 1)
		}, false},
		{"drop signed query", func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "&response-content-type=text%2Fplain", "", 1)
		}, false},
		{"unsigned query", func(r *http.Request) { r.URL.RawQuery += "&prefix=zzz" }, true},
		{"signed header", func(r *http.Request) { r.Header.Set("X-Oss-Meta-Owner", "mallory") }, false},
		{"added x-oss header", func(r *http.Request) { r.Header.Set("X-Oss-Forbid-Overwrite", "true") }, false},
		{"content type", func(r *http.Request) { r.Header.Set("Content-Type", "text/html") }, false},
		{"date", func(r *http.Request) {
			d, _ := http.ParseTime(r.Header.Get("Date"))
			r.Header.Set("Date", d.Add(time.Second).Format(http.TimeFormat))
		}, false},
	}
	for _, mode := range v1Modes[:2] {
		for _, tc := range tampers {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				c := v1Client(t, s, pathHost(s), rootAK, rootSecret, tc.mutate, mode.opts...)
				params := map[string]any{"response-content-type": "text/plain", "acl": nil}
				headers := map[string]string{"X-Oss-Meta-Owner": "alice", "Content-Type": "text/plain"}
				_, err := c.Conn.Do("GET", sampleBucket, "obj name", params, headers, nil, 0, nil)
				if tc.unsignedUnderV1 && mode.scheme == SchemeV1 {
					if err != nil {
						t.Fatalf("unsigned change under V1 must pass: %v", err)
					}
					s.last(t)
					return
				}
				wantV1ServiceError(t, err, http.StatusForbidden, CodeSignatureDoesNotMatch)
				ae := wantCode(t, s.last(t).err, http.StatusForbidden, CodeSignatureDoesNotMatch)
				if ae.StringToSign == "" || ae.SignatureProvided == "" || ae.AccessKeyID != rootAK {
					t.Fatalf("SignatureDoesNotMatch lacks detail: %+v", ae)
				}
			})
		}
	}
}

func TestV1SDKWrongSecretAndUnknownKey(t *testing.T) {
	s := newAuthServer(t)
	for _, mode := range v1Modes {
		t.Run(mode.name, func(t *testing.T) {
			c := v1Client(t, s, pathHost(s), rootAK, rootSecret+"x", nil, mode.opts...)
			b, _ := c.Bucket(sampleBucket)
			_, err := b.GetObjectMeta("obj")
			// HEAD: the SDK reads the code from the x-oss-err header.
			wantV1ServiceError(t, err, http.StatusForbidden, CodeSignatureDoesNotMatch)
			ae := wantCode(t, s.last(t).err, http.StatusForbidden, CodeSignatureDoesNotMatch)
			if mode.scheme == SchemeV1 && ae.EC != ecSignatureMismatchV1 {
				t.Fatalf("EC = %q", ae.EC)
			}

			c = v1Client(t, s, pathHost(s), "LTAI5tNoSuchKey99", rootSecret, nil, mode.opts...)
			b, _ = c.Bucket(sampleBucket)
			err = b.PutObject("obj", strings.NewReader("x"))
			wantV1ServiceError(t, err, http.StatusForbidden, CodeInvalidAccessKeyID)

			c = v1Client(t, s, pathHost(s), disabledAK, "whatever", nil, mode.opts...)
			b, _ = c.Bucket(sampleBucket)
			err = b.PutObject("obj", strings.NewReader("x"))
			wantV1ServiceError(t, err, http.StatusForbidden, CodeInvalidAccessKeyID)
		})
	}
}

func TestV1SDKClockSkew(t *testing.T) {
	s := newAuthServer(t)
	for _, mode := range v1Modes {
		for _, off := range []time.Duration{16 * time.Minute, -16 * time.Minute} {
			t.Run(mode.name+"/"+off.String(), func(t *testing.T) {
				s.setClock(func() time.Time { return time.Now().Add(off) })
				defer s.setClock(time.Now)
				c := v1Client(t, s, pathHost(s), rootAK, rootSecret, nil, mode.opts...)
				b, _ := c.Bucket(sampleBucket)
				err := b.PutObject("obj", strings.NewReader("x"))
				wantV1ServiceError(t, err, http.StatusForbidden, CodeRequestTimeTooSkewed)
			})
		}
		t.Run(mode.name+"/within window", func(t *testing.T) {
			s.setClock(func() time.Time { return time.Now().Add(14 * time.Minute) })
			defer s.setClock(time.Now)
			c := v1Client(t, s, pathHost(s), rootAK, rootSecret, nil, mode.opts...)
			b, _ := c.Bucket(sampleBucket)
			if err := b.PutObject("obj", strings.NewReader("x")); err != nil {
				t.Fatal(err)
			}
			wantOK(t, s.last(t), mode.scheme, rootAK, sampleBucket, "obj")
		})
	}
}

func TestV1SDKSecurityToken(t *testing.T) {
	s := newAuthServer(t)
	for _, mode := range v1Modes {
		t.Run(mode.name, func(t *testing.T) {
			c := v1Client(t, s, vhostHost(s), stsAK, stsSecret, nil, append(mode.opts, oss.SecurityToken(stsToken))...)
			b, _ := c.Bucket(sampleBucket)
			if err := b.PutObject("k", strings.NewReader("x")); err != nil {
				t.Fatal(err)
			}
			o := s.last(t)
			wantOK(t, o, mode.scheme, stsAK, sampleBucket, "k")
			if o.principal.SecurityToken != stsToken {
				t.Fatalf("SecurityToken = %q", o.principal.SecurityToken)
			}
		})
	}
}

// presignGet fetches a presigned URL through the test transport.
// presignStatus is what the presigned-URL tests look at in a response whose
// body presignDo has already drained and closed.
type presignStatus struct {
	StatusCode int
	Status     string
}

// presignDo sends a request to the presigned URL signed and returns its status.
func presignDo(t *testing.T, s *authServer, method, signed string, header http.Header) presignStatus {
	t.Helper()
	req, err := http.NewRequest(method, signed, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := (&http.Client{Transport: newTransport(s.Listener.Addr().String(), nil)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return presignStatus{StatusCode: resp.StatusCode, Status: resp.Status}
}

func TestV1SDKSignURL(t *testing.T) {
	s := newAuthServer(t)
	modes := []struct {
		name, scheme string
		opts         []oss.ClientOption
	}{
		{"V1", SchemeV1Presign, nil},
		{"V4", SchemeV4Presign, []oss.ClientOption{oss.AuthVersion(oss.AuthV4), oss.Region(testRegion)}},
		{"V2", SchemeV2Presign, []oss.ClientOption{oss.AuthVersion(oss.AuthV2)}},
	}
	for _, mode := range modes {
		for _, host := range []string{pathHost(s), vhostHost(s)} {
			c := v1Client(t, s, host, userAK, userSecret, nil, mode.opts...)
			b, _ := c.Bucket(sampleBucket)
			for _, key := range trickyKeys {
				t.Run(mode.name+"/"+host+"/"+key, func(t *testing.T) {
					u, err := b.SignURL(key, oss.HTTPGet, 300, oss.Process("image/resize,w_10"), oss.ResponseContentType("a b"))
					if err != nil {
						t.Fatal(err)
					}
					if resp := presignDo(t, s, "GET", u, nil); resp.StatusCode != http.StatusOK {
						t.Fatalf("GET %s: %s", u, resp.Status)
					}
					wantOK(t, s.last(t), mode.scheme, userAK, sampleBucket, key)
				})
			}
			t.Run(mode.name+"/"+host+"/put with content type", func(t *testing.T) {
				u, err := b.SignURL("up load", oss.HTTPPut, 300, oss.ContentType("text/plain"), oss.Meta("k", "v"))
				if err != nil {
					t.Fatal(err)
				}
				h := http.Header{"Content-Type": {"text/plain"}, "X-Oss-Meta-K": {"v"}}
				if resp := presignDo(t, s, "PUT", u, h); resp.StatusCode != http.StatusOK {
					t.Fatalf("PUT: %s", resp.Status)
				}
				wantOK(t, s.last(t), mode.scheme, userAK, sampleBucket, "up load")
				h.Set("Content-Type", "text/html")
				if resp := presignDo(t, s, "PUT", u, h); resp.StatusCode != http.StatusForbidden {
					t.Fatalf("PUT with another Content-Type: %s", resp.Status)
				}
				wantCode(t, s.last(t).err, http.StatusForbidden, CodeSignatureDoesNotMatch)
				if resp := presignDo(t, s, "GET", u, nil); resp.StatusCode != http.StatusForbidden {
					t.Fatalf("GET with a PUT URL: %s", resp.Status)
				}
				wantCode(t, s.last(t).err, http.StatusForbidden, CodeSignatureDoesNotMatch)
			})
		}
	}
}

func TestV1SDKSignURLTamperingAndExpiry(t *testing.T) {
	s := newAuthServer(t)
	for _, v4 := range []bool{false, true} {
		var opts []oss.ClientOption
		name, scheme := "V1", SchemeV1Presign
		if v4 {
			opts = []oss.ClientOption{oss.AuthVersion(oss.AuthV4), oss.Region(testRegion)}
			name, scheme = "V4", SchemeV4Presign
		}
		c := v1Client(t, s, pathHost(s), rootAK, rootSecret, nil, append(opts, oss.SecurityToken(stsToken))...)
		b, _ := c.Bucket(sampleBucket)
		u, err := b.SignURL("dir/obj", oss.HTTPGet, 60, oss.ResponseContentType("text/plain"))
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name+"/ok carries token", func(t *testing.T) {
			presignDo(t, s, "GET", u, nil)
			o := s.last(t)
			wantOK(t, o, scheme, rootAK, sampleBucket, "dir/obj")
			if o.principal.SecurityToken != stsToken {
				t.Fatalf("token = %q", o.principal.SecurityToken)
			}
		})
		parsed, _ := url.Parse(u)
		tamper := map[string]func(q url.Values, u *url.URL){
			"path":          func(_ url.Values, u *url.URL) { u.Path = "/bkt1/dir/obj2"; u.RawPath = "" },
			"signed param":  func(q url.Values, _ *url.URL) { q.Set("response-content-type", "text/html") },
			"token":         func(q url.Values, _ *url.URL) { setEither(q, "security-token", "x-oss-security-token", "other") },
			"extend expiry": func(q url.Values, _ *url.URL) { setEither(q, "Expires", "x-oss-expires", "1800") },
			"signature":     func(q url.Values, _ *url.URL) { flipSignature(q) },
		}
		for tn, f := range tamper {
			t.Run(name+"/"+tn, func(t *testing.T) {
				cp := *parsed
				q := cp.Query()
				f(q, &cp)
				cp.RawQuery = q.Encode()
				if tn == "extend expiry" && !v4 {
					q.Set("Expires", strconv.FormatInt(time.Now().Unix()+3600, 10))
					cp.RawQuery = q.Encode()
				}
				resp := presignDo(t, s, "GET", cp.String(), nil)
				if resp.StatusCode != http.StatusForbidden {
					t.Fatalf("status %s", resp.Status)
				}
				wantCode(t, s.last(t).err, http.StatusForbidden, CodeSignatureDoesNotMatch)
			})
		}
		t.Run(name+"/expired", func(t *testing.T) {
			s.setClock(func() time.Time { return time.Now().Add(2 * time.Minute) })
			defer s.setClock(time.Now)
			presignDo(t, s, "GET", u, nil)
			ae := wantCode(t, s.last(t).err, http.StatusForbidden, CodeAccessDenied)
			if ae.EC != ecPresignExpired || !strings.Contains(ae.Message, "expired") {
				t.Fatalf("expired presign error = %+v", ae)
			}
		})
	}
}

// setEither sets whichever of the two parameters the URL has.
func setEither(q url.Values, a, b, v string) {
	if q.Has(a) {
		q.Set(a, v)
		return
	}
	q.Set(b, v)
}

// flipSignature changes one character of the signature parameter.
func flipSignature(q url.Values) {
	for _, name := range []string{"Signature", "x-oss-signature"} {
		if s := q.Get(name); s != "" {
			c := byte('A')
			if s[0] == 'A' {
				c = 'B'
			}
			if name == "x-oss-signature" {
				c = 'a'
				if s[0] == 'a' {
					c = 'b'
				}
			}
			q.Set(name, string(c)+s[1:])
		}
	}
}

// TestV1SDKAdditionalHeaders: the v1 SDK's AdditionalHeaders option (V4 and
// V2 header signing and presigned URLs) names extra signed headers.
func TestV1SDKAdditionalHeaders(t *testing.T) {
	s := newAuthServer(t)
	for _, mode := range []struct {
		name, scheme, presign string
		opts                  []oss.ClientOption
	}{
		{"V4", SchemeV4, SchemeV4Presign, []oss.ClientOption{oss.AuthVersion(oss.AuthV4), oss.Region(testRegion)}},
		{"V2", SchemeV2, SchemeV2Presign, []oss.ClientOption{oss.AuthVersion(oss.AuthV2)}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			opts := append(mode.opts, oss.AdditionalHeaders([]string{"Content-Type", "X-Custom", "Host"}))
			c := v1Client(t, s, vhostHost(s), rootAK, rootSecret, nil, opts...)
			b, _ := c.Bucket(sampleBucket)
			if err := b.PutObject("a b", strings.NewReader("x"), oss.SetHeader("X-Custom", "c1")); err != nil {
				t.Fatal(err)
			}
			wantOK(t, s.last(t), mode.scheme, rootAK, sampleBucket, "a b")

			u, err := b.SignURL("a b", oss.HTTPPut, 60, oss.ContentType("text/plain"), oss.SetHeader("X-Custom", "c1"))
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{"Content-Type": {"text/plain"}, "X-Custom": {"c1"}}
			if resp := presignDo(t, s, "PUT", u, h); resp.StatusCode != http.StatusOK {
				t.Fatalf("PUT %s: %s", u, resp.Status)
			}
			wantOK(t, s.last(t), mode.presign, rootAK, sampleBucket, "a b")
			h.Set("X-Custom", "c2")
			presignDo(t, s, "PUT", u, h)
			wantCode(t, s.last(t).err, http.StatusForbidden, CodeSignatureDoesNotMatch)

			tampered := v1Client(t, s, vhostHost(s), rootAK, rootSecret, func(r *http.Request) { r.Header.Set("X-Custom", "c2") }, opts...)
			tb, _ := tampered.Bucket(sampleBucket)
			err = tb.PutObject("a b", strings.NewReader("x"), oss.SetHeader("X-Custom", "c1"))
			wantV1ServiceError(t, err, http.StatusForbidden, CodeSignatureDoesNotMatch)
			s.last(t)
		})
	}
}
