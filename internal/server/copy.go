package server

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ossctl/ossctl/internal/store"
)

// copySource is a parsed x-oss-copy-source header.
type copySource struct {
	bucket, key, versionID string
}

// parseCopySource decodes "/bucket/key[?versionId=id]". The key is decoded
// with form semantics ('+' = space): the v1 SDK escapes it with
// url.QueryEscape, the v2 SDK with path escaping, and both decode right.
func parseCopySource(v string) (copySource, error) {
	bad := func(why string) (copySource, error) {
		return copySource{}, errInvalidArgument("x-oss-copy-source", v, "The copy source is not valid: %s.", why)
	}
	path, rawQuery, _ := strings.Cut(v, "?")
	path = strings.TrimPrefix(path, "/")
	bEsc, kEsc, ok := strings.Cut(path, "/")
	if !ok || bEsc == "" || kEsc == "" {
		return bad("expected /bucket/key")
	}
	b, err1 := url.QueryUnescape(bEsc)
	k, err2 := url.QueryUnescape(kEsc)
	if err1 != nil || err2 != nil {
		return bad("bad percent-encoding")
	}
	var src copySource
	src.bucket, src.key = b, k
	if rawQuery != "" {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return bad("bad query")
		}
		src.versionID = q.Get("versionId")
	}
	if err := checkBucketName(src.bucket); err != nil {
		return copySource{}, err
	}
	if err := checkKey(src.key); err != nil {
		return copySource{}, err
	}
	return src, nil
}

// loadCopySource resolves and authorizes the source of a copy. It returns
// the source bucket and the source object record.
func (rc *reqCtx) loadCopySource(src copySource) (*store.Bucket, *store.Object, error) {
	sb, err := rc.s.store.GetBucket(src.bucket)
	if errors.Is(err, store.ErrNoSuchBucket) {
		return nil, nil, errNoSuchBucket(src.bucket)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("loading bucket %s: %w", src.bucket, err)
	}
	so, err := rc.currentObject(src.bucket, src.key, src.versionID)
	if err != nil {
		return nil, nil, err
	}
	if err := rc.allow(actGetObject, sb, src.key, so); err != nil {
		return nil, nil, err
	}
	if so == nil {
		return nil, nil, errNoSuchKey(src.key)
	}
	return sb, so, nil
}

// copyConditions checks x-oss-copy-source-if-* against the source.
func (rc *reqCtx) copyConditions(src *store.Object) error {
	if st := preconditions(rc.r.Header, src.ETag, src.Modified, "x-oss-copy-source-"); st != 0 {
		return errPrecondition(st)
	}
	return nil
}

func directive(h http.Header, name string) (string, error) {
	v := strings.ToUpper(strings.TrimSpace(h.Get(name)))
	switch v {
	case "", "COPY":
		return "COPY", nil
	case "REPLACE":
		return "REPLACE", nil
	}
	return "", errInvalidArgument(name, h.Get(name), "%s must be COPY or REPLACE.", name)
}

type copyObjectResult struct {
	XMLName      xml.Name `xml:"CopyObjectResult"`
	ETag         string   `xml:"ETag"`
	LastModified string   `xml:"LastModified"`
}

func (rc *reqCtx) copyObject() error {
	h := rc.r.Header
	src, err := parseCopySource(h.Get("x-oss-copy-source"))
	if err != nil {
		return err
	}
	b, err := rc.loadBucket()
	if err != nil {
		return err
	}
	_, so, err := rc.loadCopySource(src)
	if err != nil {
		return err
	}
	cur, err := rc.currentObject(rc.bucket, rc.key, "")
	if err != nil {
		return err
	}
	if err := rc.allow(actPutObject, b, rc.key, cur); err != nil {
		return err
	}
	forbid, err := forbidOverwrite(h)
	if err != nil {
		return err
	}
	metaDir, err := directive(h, "x-oss-metadata-directive")
	if err != nil {
		return err
	}
	tagDir, err := directive(h, "x-oss-tagging-directive")
	if err != nil {
		return err
	}
	dst, err := rc.objectTemplate(b, so.Type)
	if err != nil {
		return err
	}
	if h.Get("x-oss-storage-class") == "" {
		dst.StorageClass = so.StorageClass
	}
	if metaDir == "COPY" {
		dst.ContentType = so.ContentType
		dst.Headers = maps.Clone(so.Headers)
		dst.UserMeta = maps.Clone(so.UserMeta)
	}
	if tagDir == "COPY" {
		dst.Tagging = so.Tagging
	}
	if dst.Type == store.TypeAppendable || dst.Type == "" {
		dst.Type = store.TypeNormal
	}
	dst.Symlink = so.Symlink
	self := src.bucket == rc.bucket && src.key == rc.key && (src.versionID == "" || src.versionID == so.VersionID)
	if self && metaDir == "COPY" && tagDir == "COPY" && h.Get("x-oss-storage-class") == "" && h.Get("x-oss-object-acl") == "" &&
		h.Get(hdrSSE) == "" {
		return errInvalidArgument("x-oss-copy-source", h.Get("x-oss-copy-source"),
			"This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class or ACL.")
	}
	if err := rc.copyConditions(so); err != nil {
		return err
	}
	if err := overwriteCheck(forbid)(cur); err != nil {
		return err
	}
	srcEnv, err := envelopeOf(so.Extra)
	if err != nil {
		return sseErr(err)
	}
	dstSSE, err := rc.requestSSE()
	if err != nil {
		return err
	}
	if (srcEnv != nil || dstSSE != nil) && so.Type != store.TypeSymlink {
		return rc.copyThrough(src, dst, dstSSE, forbid)
	}
	obj, err := rc.s.store.CopyObject(rc.r.Context(), src.bucket, src.key, src.versionID, rc.bucket, dst,
		func(s, c *store.Object) error {
			if err := rc.copyConditions(s); err != nil {
				return err
			}
			return overwriteCheck(forbid)(c)
		})
	if errors.Is(err, store.ErrNoSuchKey) {
		return errNoSuchKey(src.key)
	}
	if err != nil {
		return rc.storeWriteError(err, "copying to")
	}
	return rc.writeCopyResult(so, obj)
}

// writeCopyResult answers a CopyObject that copied so into obj.
func (rc *reqCtx) writeCopyResult(so, obj *store.Object) error {
	rh := rc.w.Header()
	rh.Set("x-oss-hash-crc64ecma", strconv.FormatUint(obj.CRC64, 10))
	if so.VersionID != "" && so.VersionID != store.NullVersion {
		rh.Set("x-oss-copy-source-version-id", so.VersionID)
	}
	if obj.VersionID != "" && obj.VersionID != store.NullVersion {
		rh.Set("x-oss-version-id", obj.VersionID)
	}
	setSSEHeaders(rh, obj.Extra)
	return rc.writeXML(copyObjectResult{ETag: quoteETag(obj.ETag), LastModified: fmtISO(obj.Modified)})
}

// ---- append ----

func errPosition(next int64) *apiError {
	return newError(http.StatusConflict, "PositionNotEqualToLength",
		"Position is not equal to file length.").
		withHeader("x-oss-next-append-position", strconv.FormatInt(next, 10))
}

func appendCheck(pos int64) func(cur *store.Object) error {
	return func(cur *store.Object) error {
		if cur == nil || cur.DeleteMarker {
			if pos != 0 {
				return errPosition(0)
			}
			return nil
		}
		if cur.Type != store.TypeAppendable {
			return newError(http.StatusConflict, "ObjectNotAppendable", "The object is not appendable.")
		}
		if cur.Size != pos {
			return errPosition(cur.Size)
		}
		return nil
	}
}

func (rc *reqCtx) appendObject() error {
	pv := rc.query.Get("position")
	pos, err := strconv.ParseInt(pv, 10, 64)
	if err != nil || pos < 0 {
		return errInvalidArgument("position", pv, "position must be a non-negative integer.")
	}
	b, err := rc.loadBucket()
	if err != nil {
		return err
	}
	cur, err := rc.currentObject(rc.bucket, rc.key, "")
	if err != nil {
		return err
	}
	if err := rc.allow(actPutObject, b, rc.key, cur); err != nil {
		return err
	}
	if err := appendCheck(pos)(cur); err != nil {
		return err
	}
	if rc.r.ContentLength > 0 && pos+rc.r.ContentLength > maxSinglePut {
		return newError(http.StatusBadRequest, "EntityTooLarge",
			"An appendable object can be at most %d bytes.", int64(maxSinglePut))
	}
	tmpl, err := rc.objectTemplate(b, store.TypeAppendable)
	if err != nil {
		return err
	}
	// The first append decides the encryption; later ones follow the
	// object (their SSE headers are ignored, as OSS ignores metadata).
	var key *sseKey
	if cur == nil {
		if key, err = rc.encryptNew(tmpl); err != nil {
			return err
		}
	} else if key, err = rc.s.objectKey(cur.Extra); err != nil {
		return sseErr(err)
	}
	oid := ""
	if key != nil {
		oid = key.env.OID
	}
	blob, err := rc.receiveBody(maxSinglePut-pos, key)
	if err != nil {
		return err
	}
	obj, err := rc.s.store.AppendObject(rc.r.Context(), rc.bucket, tmpl, blob, func(c *store.Object) error {
		if err := appendCheck(pos)(c); err != nil {
			return err
		}
		// The data was encrypted for the object read above: it must
		// still be that object.
		if c != nil && !c.DeleteMarker {
			env, err := envelopeOf(c.Extra)
			if err != nil {
				return err
			}
			if (env == nil) != (oid == "") || (env != nil && env.OID != oid) {
				return errPosition(c.Size)
			}
		}
		return nil
	})
	if err != nil {
		return rc.storeWriteError(err, "appending to")
	}
	setSSEHeaders(rc.w.Header(), obj.Extra)
	rh := rc.w.Header()
	rh.Set("x-oss-next-append-position", strconv.FormatInt(obj.Size, 10))
	rh.Set("x-oss-hash-crc64ecma", strconv.FormatUint(obj.CRC64, 10))
	rh.Set("ETag", quoteETag(obj.ETag))
	if obj.VersionID != "" && obj.VersionID != store.NullVersion {
		rh.Set("x-oss-version-id", obj.VersionID)
	}
	return rc.ok()
}

// copyThrough copies by reading the source's content and writing it again
// (decrypting an encrypted source, encrypting for an encrypted
// destination with its own new data key). It serves every copy that
// involves server-side encryption, including a self-copy that encrypts an
// object written before encryption was enabled or changes its algorithm.
func (rc *reqCtx) copyThrough(src copySource, dst *store.Object, sp *sseSpec, forbid bool) error {
	so, rd, err := rc.s.store.OpenObject(src.bucket, src.key, src.versionID)
	if errors.Is(err, store.ErrNoSuchKey) {
		return errNoSuchKey(src.key)
	}
	if err != nil {
		return rc.storeWriteError(err, "opening copy source of")
	}
	defer rc.closeReader(rd)
	if err := rc.copyConditions(so); err != nil {
		return err
	}
	dst.Type = store.TypeNormal // the copy's ETag is the MD5 of its content
	dst.Extra = nil
	var dstKey *sseKey
	if sp != nil {
		if dstKey, err = rc.s.newObjectKey(sp); err != nil {
			return err
		}
		dst.Extra = map[string]string{extraSSE: dstKey.env.encode()}
	}
	blob, err := rc.stageFrom(so, rd, dstKey, 0, so.Size)
	if err != nil {
		return err
	}
	obj, err := rc.s.store.PutObject(rc.r.Context(), rc.bucket, dst, blob, overwriteCheck(forbid))
	if err != nil {
		return rc.storeWriteError(err, "copying to")
	}
	return rc.writeCopyResult(so, obj)
}

// stageFrom stages content [off, off+n) of the opened object so (decrypted
// when sealed) as a new blob, encrypted with dstKey when non-nil.
func (rc *reqCtx) stageFrom(so *store.Object, rd *store.ObjectReader, dstKey *sseKey, off, n int64) (*store.BlobWriter, error) {
	srcKey, err := rc.s.readKey(so, rd)
	if err != nil {
		return nil, err
	}
	pr, err := newPlainReader(rd, srcKey, off, n)
	if err != nil {
		return nil, err
	}
	src := ctxReader{rc.r.Context(), pr}
	if dstKey == nil {
		blob, err := rc.s.store.NewBlob()
		if err != nil {
			return nil, fmt.Errorf("staging copy: %w", err)
		}
		if _, err := blob.ReadFrom(src); err != nil {
			blob.Abort()
			return nil, sseErr(fmt.Errorf("copying data: %w", err))
		}
		return blob, nil
	}
	sw, err := rc.s.newSealWriter(dstKey)
	if err != nil {
		return nil, err
	}
	if _, err := sw.ReadFrom(src); err != nil {
		sw.abort()
		return nil, sseErr(fmt.Errorf("copying data: %w", err))
	}
	if err := sw.finish(); err != nil {
		sw.abort()
		return nil, fmt.Errorf("copying data: %w", err)
	}
	return sw.blob, nil
}

// ctxReader stops a copy when the request's context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
