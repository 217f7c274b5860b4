package auth

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary Authorization headers, query strings, dates and
// keys to Verify. It must never panic, and every failure must be a 400 or
// 403 *Error.
func FuzzVerify(f *testing.F) {
	date := fixedNow.Format(http.TimeFormat)
	f.Add("GET", "OSS "+rootAK+":c2lnbmF0dXJl", "acl&uploadId=1", date, "", "dir/a b")
	f.Add("PUT", "OSS4-HMAC-SHA256 Credential="+rootAK+"/20261122/cn-hangzhou/oss/aliyun_v4_request,AdditionalHeaders=host;x-a,Signature=00ff",
		"x-oss-process=a%2Cb", date, "20261122T111250Z", "k")
	f.Add("GET", "", "x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-credential="+url.QueryEscape(rootAK+"/20261122/r/oss/aliyun_v4_request")+
		"&x-oss-date=20261122T111250Z&x-oss-expires=60&x-oss-signature=00", "", "", "k")
	f.Add("GET", "", "OSSAccessKeyId="+rootAK+"&Expires=1800000000&Signature=abc%3D&security-token=t", "", "", "")
	f.Add("GET", "OSS2 AccessKeyId:"+rootAK+",AdditionalHeaders:host,Signature:YWJj", "a=%zz", date, "", "")
	f.Add("DELETE", "OSS4-HMAC-SHA256 Credential=///,Signature=", "&&=&=x&%", "x", "y", "\x00/..//")
	f.Add("GET", "", "x-oss-signature-version=OSS2&x-oss-access-key-id="+rootAK+"&x-oss-expires=1800000000&x-oss-signature=YQ==", "", "", "k")
	f.Fuzz(func(t *testing.T, method, authz, rawQuery, dateHdr, ossDate, key string) {
		r := &http.Request{
			Method: method,
			URL:    &url.URL{Path: "/bkt1/" + key, RawQuery: rawQuery},
			Host:   "127.0.0.1:9000",
			Header: http.Header{},
		}
		if authz != "" {
			r.Header["Authorization"] = []string{authz}
		}
		if dateHdr != "" {
			r.Header.Set("Date", dateHdr)
		}
		if ossDate != "" {
			r.Header.Set("X-Oss-Date", ossDate)
		}
		r.Header.Set("X-Oss-Meta-Fuzz", key)
		p, err := Verify(r, "bkt1", key, fixedNow.Add(time.Duration(len(key))*time.Second), testLookup)
		if err != nil {
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("non-auth error %T: %v", err, err)
			}
			if ae.Status != http.StatusBadRequest && ae.Status != http.StatusForbidden {
				t.Fatalf("status %d for %v", ae.Status, err)
			}
			if p != nil {
				t.Fatal("principal returned with an error")
			}
			return
		}
		if p == nil {
			t.Fatal("nil principal without error")
		}
		if !p.Anonymous {
			// A random input verifying is a forgery unless it is one of
			// the unsigned shapes (anonymous).
			t.Fatalf("accepted a fuzzed signature: %+v", p)
		}
	})
}
