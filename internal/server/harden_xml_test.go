package server_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// badXMLBodies are hostile or broken documents; each must be refused with
// 400 MalformedXML by every endpoint that takes an XML body.
func badXMLBodies(root string) map[string]string {
	deep := strings.Repeat("<a>", 20000) + strings.Repeat("</a>", 20000)
	return map[string]string{
		"garbage":          "this is not xml",
		"truncated":        "<" + root + "><Object><Key>k",
		"unclosed root":    "<" + root + ">",
		"wrong root":       "<Foo><Key>k</Key></Foo>",
		"two roots":        "<" + root + "/><" + root + "/>",
		"text after root":  "<" + root + "/>trailing",
		"xxe file":         `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><` + root + `>&e;</` + root + `>`,
		"external dtd":     `<!DOCTYPE r SYSTEM "http://127.0.0.1:1/evil.dtd"><` + root + `/>`,
		"billion laughs":   `<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><` + root + `>&c;</` + root + `>`,
		"undefined entity": "<" + root + ">&lol;</" + root + ">",
		"latin-1 encoding": `<?xml version="1.0" encoding="ISO-8859-1"?><` + root + `/>`,
		"invalid utf-8":    "<" + root + "><X>\xff\xfe</X></" + root + ">",
		"deep nesting":     "<" + root + ">" + deep + "</" + root + ">",
		"nul byte":         "<" + root + ">\x00</" + root + ">",
	}
}

// xmlEndpoint is one request that carries an XML document.
type xmlEndpoint struct {
	name string
	req  func(body []byte) rawReq
	// wrongTypes are well-formed documents with wrong element types or
	// values, and the code each must get.
	wrongTypes map[string]string
	root       string
}

func TestHardenMalformedXMLKeepsState(t *testing.T) {
	env, raw, b := rawSetup(t)
	c := v1Client(t, env)

	// Existing state that every refused request must leave alone.
	if err := c.CreateBucket("xml-cfg", oss.StorageClass(oss.StorageIA), oss.RedundancyType(oss.RedundancyZRS),
		oss.ACL(oss.ACLPublicRead)); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"keep/1", "keep/2"} {
		if err := b.PutObject(k, strings.NewReader(k)); err != nil {
			t.Fatal(err)
		}
	}
	imur, err := b.InitiateMultipartUpload("mp-keep")
	if err != nil {
		t.Fatal(err)
	}
	part, err := b.UploadPart(imur, strings.NewReader("only part"), 9, 1)
	if err != nil {
		t.Fatal(err)
	}

	endpoints := []xmlEndpoint{
		{
			name: "CreateBucket (new name)", root: "CreateBucketConfiguration",
			req: func(body []byte) rawReq { return rawReq{method: "PUT", bucket: "xml-new", body: body} },
			wrongTypes: map[string]string{
				"unknown class":      "<CreateBucketConfiguration><StorageClass>Glacier</StorageClass></CreateBucketConfiguration>",
				"unknown redundancy": "<CreateBucketConfiguration><DataRedundancyType>XRS</DataRedundancyType></CreateBucketConfiguration>",
			},
		},
		{
			name: "CreateBucket (existing)", root: "CreateBucketConfiguration",
			req: func(body []byte) rawReq { return rawReq{method: "PUT", bucket: "xml-cfg", body: body} },
			wrongTypes: map[string]string{
				"unknown class": "<CreateBucketConfiguration><StorageClass>Frozen</StorageClass></CreateBucketConfiguration>",
			},
		},
		{
			name: "DeleteMultipleObjects", root: "Delete",
			req: func(body []byte) rawReq {
				return rawReq{method: "POST", bucket: "raw-bkt", sub: "delete", body: body,
					header: map[string]string{"Content-MD5": md5B64(body)}}
			},
			wrongTypes: map[string]string{
				"quiet not bool": "<Delete><Quiet>maybe</Quiet><Object><Key>keep/1</Key></Object></Delete>",
				"key missing":    "<Delete><Object><VersionId>x</VersionId></Object></Delete>",
				"no objects":     "<Delete><Quiet>true</Quiet></Delete>",
			},
		},
		{
			name: "CompleteMultipartUpload", root: "CompleteMultipartUpload",
			req: func(body []byte) rawReq {
				return rawReq{method: "POST", bucket: "raw-bkt", key: "mp-keep", sub: "uploadId=" + imur.UploadID, body: body}
			},
			wrongTypes: map[string]string{
				"part number text": "<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
				"part number big":  "<CompleteMultipartUpload><Part><PartNumber>99999999999999999999</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
				"no parts":         "<CompleteMultipartUpload></CompleteMultipartUpload>",
			},
		},
	}
	wrongTypeCode := map[string]string{
		"unknown class": "InvalidArgument", "unknown redundancy": "InvalidArgument",
		"part number text": "MalformedXML", "part number big": "MalformedXML", "no parts": "MalformedXML",
		"quiet not bool": "MalformedXML", "key missing": "MalformedXML", "no objects": "MalformedXML",
	}
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			for name, doc := range badXMLBodies(ep.root) {
				resp, body := raw.do(t, ep.req([]byte(doc)))
				if resp.StatusCode != 400 {
					t.Fatalf("%s: status %d: %s", name, resp.StatusCode, body)
				}
				wantRawError(t, resp, body, 400, "MalformedXML")
			}
			for name, doc := range ep.wrongTypes {
				resp, body := raw.do(t, ep.req([]byte(doc)))
				wantRawError(t, resp, body, 400, wrongTypeCode[name])
			}
			// A declared 10 MB body is refused before it is read.
			rq := ep.req(nil)
			if rq.header == nil {
				rq.header = map[string]string{}
			}
			rq.header["Content-Length"] = fmt.Sprint(10 << 20)
			rq.halfClose = true
			resp, body := raw.do(t, rq)
			wantRawError(t, resp, body, 400, "MalformedXML")
			// A 10 MB body actually sent (chunked, so its size is unknown
			// up front) is cut off at the bound, not buffered.
			resp, body = streamChunked(t, raw, ep.req(nil), bytes.Repeat([]byte(" "), 10<<20))
			if resp.StatusCode != 400 {
				t.Fatalf("10 MB chunked body: %d %s", resp.StatusCode, body)
			}
		})
	}

	// Nothing changed.
	if _, err := c.GetBucketInfo("xml-new"); err == nil {
		t.Fatal("a refused CreateBucket created the bucket")
	} else {
		wantCode(t, err, 404, "NoSuchBucket")
	}
	info, err := c.GetBucketInfo("xml-cfg")
	if err != nil {
		t.Fatal(err)
	}
	if info.BucketInfo.StorageClass != "IA" || info.BucketInfo.RedundancyType != "ZRS" || info.BucketInfo.ACL != "public-read" {
		t.Fatalf("bucket configuration changed: %+v", info.BucketInfo)
	}
	for _, k := range []string{"keep/1", "keep/2"} {
		if ok, err := b.IsObjectExist(k); err != nil || !ok {
			t.Fatalf("%s gone after refused deletes (err %v)", k, err)
		}
	}
	lp, err := b.ListUploadedParts(imur)
	if err != nil || len(lp.UploadedParts) != 1 {
		t.Fatalf("upload damaged by refused completes: %+v %v", lp, err)
	}
	if _, err := b.CompleteMultipartUpload(imur, []oss.UploadPart{part}); err != nil {
		t.Fatalf("completing after refused attempts: %v", err)
	}
	wantNoTempFiles(t, env)
}

// streamChunked sends req with body as one chunked stream while reading
// the response concurrently (the server may answer, and stop reading,
// before the upload ends).
func streamChunked(t *testing.T, raw rawEnv, req rawReq, body []byte) (*rawResponse, []byte) {
	t.Helper()
	req.noLength = true
	if req.header == nil {
		req.header = map[string]string{}
	}
	delete(req.header, "Content-MD5")
	req.header["Transfer-Encoding"] = "chunked"
	req.body = nil
	head := raw.build(req)
	conn := dialRaw(t, raw.addr)
	go func() {
		if _, err := conn.Write(head); err != nil {
			return
		}
		const chunk = 64 << 10
		for off := 0; off < len(body); off += chunk {
			end := min(off+chunk, len(body))
			if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", end-off, body[off:end]); err != nil {
				return // the server gave up on the body: expected
			}
		}
		_, _ = conn.Write([]byte("0\r\n\r\n"))
	}()
	resp, respBody, err := conn.response(req.method)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	return resp, respBody
}
