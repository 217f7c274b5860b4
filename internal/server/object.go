package server

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ossctl/ossctl/internal/store"
)

func quoteETag(etag string) string { return `"` + etag + `"` }

func unquoteETag(etag string) string {
	etag = strings.TrimSpace(etag)
	etag = strings.TrimPrefix(etag, "W/")
	return strings.ToUpper(strings.Trim(etag, `"`))
}

// md5Base64 turns a plain MD5 ETag into a Content-MD5 value ("" for
// multipart-style ETags).
func md5Base64(etag string) string {
	b, err := hex.DecodeString(etag)
	if err != nil || len(b) != 16 {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}

// currentObject returns the current version of key (nil when absent or a
// delete marker).
func (rc *reqCtx) currentObject(bucket, key, versionID string) (*store.Object, error) {
	o, err := rc.s.store.GetObject(bucket, key, versionID)
	if errors.Is(err, store.ErrNoSuchKey) || errors.Is(err, store.ErrNoSuchVersion) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading metadata of %s/%s: %w", bucket, key, err)
	}
	if o.DeleteMarker {
		return nil, nil
	}
	return o, nil
}

// objectTemplate builds the metadata of a new object from request headers,
// validating them before any body byte is read.
func (rc *reqCtx) objectTemplate(b *store.Bucket, typ string) (*store.Object, error) {
	h := rc.r.Header
	if _, err := parseSSEHeaders(h); err != nil {
		return nil, err
	}
	acl, err := objectACLHeader(h)
	if err != nil {
		return nil, err
	}
	class, err := storageClassHeader(h, b.StorageClass)
	if err != nil {
		return nil, err
	}
	meta, err := userMeta(h)
	if err != nil {
		return nil, err
	}
	tagging := h.Get("x-oss-tagging")
	if err := checkTagging(tagging); err != nil {
		return nil, err
	}
	if class == "" {
		class = "Standard"
	}
	return &store.Object{
		Key:          rc.key,
		Type:         typ,
		StorageClass: class,
		ContentType:  h.Get("Content-Type"),
		Headers:      storedHeaders(h),
		UserMeta:     meta,
		ACL:          acl,
		Tagging:      tagging,
	}, nil
}

// setWriteHeaders sets the headers of a successful object write.
func (rc *reqCtx) setWriteHeaders(o *store.Object) {
	h := rc.w.Header()
	h.Set("ETag", quoteETag(o.ETag))
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.CRC64, 10))
	if m := md5Base64(o.ETag); m != "" && o.Type == store.TypeNormal {
		h.Set("Content-MD5", m)
	}
	if o.VersionID != "" && o.VersionID != store.NullVersion {
		h.Set("x-oss-version-id", o.VersionID)
	}
	setSSEHeaders(h, o.Extra)
}

func (rc *reqCtx) putOrCopyObject() error {
	if rc.r.Header.Get("x-oss-copy-source") != "" {
		return rc.copyObject()
	}
	return rc.putObject()
}

// writeTarget is the preamble of every request that writes rc.key: it loads
// the bucket and the key's current version, authorizes action on them and
// reads x-oss-forbid-overwrite.
func (rc *reqCtx) writeTarget(action string) (b *store.Bucket, cur *store.Object, forbid bool, err error) {
	if b, err = rc.loadBucket(); err != nil {
		return nil, nil, false, err
	}
	if cur, err = rc.currentObject(rc.bucket, rc.key, ""); err != nil {
		return nil, nil, false, err
	}
	if err = rc.allow(action, b, rc.key, cur); err != nil {
		return nil, nil, false, err
	}
	if forbid, err = forbidOverwrite(rc.r.Header); err != nil {
		return nil, nil, false, err
	}
	return b, cur, forbid, nil
}

func overwriteCheck(forbid bool) func(cur *store.Object) error {
	return func(cur *store.Object) error {
		if forbid && cur != nil && !cur.DeleteMarker {
			return errFileAlreadyExists()
		}
		return nil
	}
}

func (rc *reqCtx) putObject() error {
	b, cur, forbid, err := rc.writeTarget(actPutObject)
	if err != nil {
		return err
	}
	if err := overwriteCheck(forbid)(cur); err != nil {
		return err
	}
	tmpl, err := rc.objectTemplate(b, store.TypeNormal)
	if err != nil {
		return err
	}
	key, err := rc.encryptNew(tmpl)
	if err != nil {
		return err
	}
	blob, err := rc.receiveBody(maxSinglePut, key)
	if err != nil {
		return err
	}
	obj, err := rc.s.store.PutObject(rc.r.Context(), rc.bucket, tmpl, blob, overwriteCheck(forbid))
	if err != nil {
		return rc.storeWriteError(err, "storing object")
	}
	rc.setWriteHeaders(obj)
	return rc.ok()
}

// storeWriteError passes API errors from check callbacks and store
// sentinels through and wraps everything else.
func (rc *reqCtx) storeWriteError(err error, what string) error {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, store.ErrNoSuchBucket), errors.Is(err, store.ErrInvalidKey),
		errors.Is(err, store.ErrNoSuchUpload), errors.Is(err, store.ErrNoSuchKey),
		errors.Is(err, store.ErrNoSuchPart), errors.Is(err, store.ErrNoSuchVersion):
		return err
	}
	return fmt.Errorf("%s %s/%s: %w", what, rc.bucket, rc.key, err)
}

// ---- reads ----

// setObjectHeaders writes the metadata headers of a GET/HEAD response.
func (rc *reqCtx) setObjectHeaders(o *store.Object) {
	h := rc.w.Header()
	ct := o.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("ETag", quoteETag(o.ETag))
	h.Set("Last-Modified", o.Modified.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	typ := o.Type
	if typ == "" {
		typ = store.TypeNormal
	}
	h.Set("x-oss-object-type", typ)
	class := o.StorageClass
	if class == "" {
		class = "Standard"
	}
	h.Set("x-oss-storage-class", class)
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.CRC64, 10))
	if m := md5Base64(o.ETag); m != "" && typ == store.TypeNormal {
		h.Set("Content-MD5", m)
	}
	for k, v := range o.Headers {
		h.Set(k, v)
	}
	for k, v := range o.UserMeta {
		setHeaderRaw(h, "x-oss-meta-"+k, v)
	}
	if o.VersionID != "" && o.VersionID != store.NullVersion {
		h.Set("x-oss-version-id", o.VersionID)
	}
	if typ == store.TypeAppendable {
		h.Set("x-oss-next-append-position", strconv.FormatInt(o.Size, 10))
	}
	if o.Tagging != "" {
		if q, err := url.ParseQuery(o.Tagging); err == nil {
			h.Set("x-oss-tagging-count", strconv.Itoa(len(q)))
		}
	}
	setSSEHeaders(h, o.Extra)
}

// responseOverrides maps response-* query parameters to headers.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

// preconditions evaluates If-Match, If-Unmodified-Since, If-None-Match and
// If-Modified-Since (RFC 9110 order) and returns 0, 304 or 412.
func preconditions(h http.Header, etag string, modified time.Time, prefix string) int {
	get := func(name string) string { return h.Get(prefix + name) }
	modified = modified.Truncate(time.Second)
	if v := get("If-Match"); v != "" {
		if !etagListMatches(v, etag) {
			return http.StatusPreconditionFailed
		}
	} else if v := get("If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && modified.After(t) {
			return http.StatusPreconditionFailed
		}
	}
	if v := get("If-None-Match"); v != "" {
		if etagListMatches(v, etag) {
			return http.StatusNotModified
		}
	} else if v := get("If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !modified.After(t) {
			return http.StatusNotModified
		}
	}
	return 0
}

func etagListMatches(list, etag string) bool {
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if e == "*" || unquoteETag(e) == strings.ToUpper(etag) {
			return true
		}
	}
	return false
}

func errPrecondition(status int) *apiError {
	if status == http.StatusNotModified {
		return newError(http.StatusNotModified, "NotModified", "The object was not modified.")
	}
	return newError(http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.")
}

// byteRange is a resolved Range request.
type byteRange struct {
	start, length int64
	partial       bool
}

// parseRange resolves a Range header against size. By default OSS ignores
// an invalid or unsatisfiable range and serves the whole object; with
// x-oss-range-behavior: standard an end past the object is clipped and a
// start past it is 416 InvalidRange.
func parseRange(spec string, size int64, standard bool) (byteRange, error) {
	full := byteRange{0, size, false}
	if spec == "" {
		return full, nil
	}
	invalid := func() (byteRange, error) {
		if standard {
			return byteRange{}, newError(http.StatusRequestedRangeNotSatisfiable, "InvalidRange",
				"The requested range is not satisfiable.").with("RangeRequested", spec).
				with("ActualObjectSize", strconv.FormatInt(size, 10))
		}
		return full, nil
	}
	r, ok := strings.CutPrefix(strings.TrimSpace(spec), "bytes=")
	if !ok || strings.Contains(r, ",") {
		if !ok {
			return full, nil // not a byte range: ignored in both modes
		}
		return invalid()
	}
	first, last, ok := strings.Cut(strings.TrimSpace(r), "-")
	if !ok {
		return full, nil
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	parse := func(s string) (int64, bool) {
		if s == "" || strings.TrimLeft(s, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	if first == "" { // suffix: last n bytes
		n, ok := parse(last)
		if !ok {
			return full, nil
		}
		if n == 0 || size == 0 {
			return invalid()
		}
		if n > size {
			if !standard {
				return full, nil
			}
			n = size
		}
		return byteRange{size - n, n, true}, nil
	}
	start, ok := parse(first)
	if !ok {
		return full, nil
	}
	end := size - 1
	if last != "" {
		e, ok := parse(last)
		if !ok || e < start {
			return full, nil // syntactically invalid: ignored
		}
		end = e
	}
	if start >= size {
		return invalid()
	}
	if end >= size {
		if !standard {
			return full, nil
		}
		end = size - 1
	}
	return byteRange{start, end - start + 1, true}, nil
}

// openForRead resolves key (following a symlink) and authorizes the read.
// With data=false no reader is opened.
func (rc *reqCtx) openForRead(b *store.Bucket, data bool) (*store.Object, *store.ObjectReader, *store.Object, error) {
	versionID := rc.query.Get("versionId")
	open := func(key, version string) (*store.Object, *store.ObjectReader, error) {
		if data {
			return rc.s.store.OpenObject(rc.bucket, key, version)
		}
		o, err := rc.s.store.GetObject(rc.bucket, key, version)
		return o, nil, err
	}
	obj, rd, err := open(rc.key, versionID)
	if errors.Is(err, store.ErrNoSuchKey) || (err == nil && obj.DeleteMarker) {
		if rd != nil {
			_ = rd.Close()
		}
		if aerr := rc.allow(actGetObject, b, rc.key, nil); aerr != nil {
			return nil, nil, nil, aerr
		}
		e := errNoSuchKey(rc.key)
		if err == nil {
			e = e.withHeader("x-oss-delete-marker", "true")
		}
		return nil, nil, nil, e
	}
	if err != nil {
		return nil, nil, nil, rc.storeWriteError(err, "opening object")
	}
	if err := rc.allow(actGetObject, b, rc.key, obj); err != nil {
		if rd != nil {
			_ = rd.Close()
		}
		return nil, nil, nil, err
	}
	if obj.Type != store.TypeSymlink {
		return obj, rd, nil, nil
	}
	link := obj
	if rd != nil {
		_ = rd.Close()
	}
	target, trd, err := open(link.Symlink, "")
	if errors.Is(err, store.ErrNoSuchKey) || (err == nil && target.DeleteMarker) {
		if trd != nil {
			_ = trd.Close()
		}
		return nil, nil, nil, newError(http.StatusNotFound, "NoSuchKey",
			"The symlink target object %q does not exist.", link.Symlink).with("Key", rc.key).withEC("0026-00000012")
	}
	if err == nil && target.Type == store.TypeSymlink {
		// OSS: "the target object that a symbolic link directs to cannot
		// be a symbolic link"; PutSymlink does not check it, reads through
		// the link fail. Links are never followed twice.
		if trd != nil {
			_ = trd.Close()
		}
		return nil, nil, nil, errSymlinkToSymlink(rc.key, link.Symlink)
	}
	if err != nil {
		return nil, nil, nil, rc.storeWriteError(err, "opening symlink target")
	}
	if err := rc.allow(actGetObject, b, link.Symlink, target); err != nil {
		if trd != nil {
			_ = trd.Close()
		}
		return nil, nil, nil, err
	}
	return target, trd, link, nil
}

// errSymlinkToSymlink is the answer to reading through a symlink whose
// target is itself a symlink.
func errSymlinkToSymlink(link, target string) *apiError {
	return newError(http.StatusBadRequest, "InvalidTargetType",
		"The symlink %q points to %q, which is itself a symlink; a symlink cannot point to another symlink.", link, target).
		with("Key", link).with("SymlinkTarget", target)
}

func (rc *reqCtx) getObject() error {
	b, err := rc.loadBucket()
	if err != nil {
		return err
	}
	head := rc.r.Method == http.MethodHead
	obj, rd, link, err := rc.openForRead(b, !head)
	if err != nil {
		return err
	}
	if rd != nil {
		defer rc.closeReader(rd)
	}
	if st := preconditions(rc.r.Header, obj.ETag, obj.Modified, ""); st != 0 {
		if st == http.StatusNotModified {
			rc.w.Header().Set("ETag", quoteETag(obj.ETag))
			rc.w.Header().Set("Last-Modified", obj.Modified.UTC().Format(http.TimeFormat))
		}
		return errPrecondition(st)
	}
	standard := strings.EqualFold(rc.r.Header.Get("x-oss-range-behavior"), "standard")
	rng, err := parseRange(rc.r.Header.Get("Range"), obj.Size, standard)
	if err != nil {
		return err
	}
	key, err := rc.s.readKey(obj, rd)
	if err != nil {
		return err
	}
	rc.setObjectHeaders(obj)
	if link != nil {
		h := rc.w.Header()
		h.Set("x-oss-object-type", store.TypeSymlink)
		for k, v := range link.UserMeta {
			setHeaderRaw(h, "x-oss-meta-"+k, v)
		}
		if link.Modified.After(obj.Modified) {
			h.Set("Last-Modified", link.Modified.UTC().Format(http.TimeFormat))
		}
	}
	for param, header := range responseOverrides {
		if v := rc.query.Get(param); v != "" {
			rc.w.Header().Set(header, v)
		}
	}
	h := rc.w.Header()
	h.Set("Content-Length", strconv.FormatInt(rng.length, 10))
	status := http.StatusOK
	if rng.partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.start, rng.start+rng.length-1, obj.Size))
	}
	if key != nil && !head && rng.length > 0 {
		return rc.sendDecrypted(rd, key, rng, status)
	}
	rc.w.WriteHeader(status)
	if head || rng.length == 0 {
		return nil
	}
	if _, err := rd.WriteRangeTo(rc.w, rng.start, rng.length); err != nil {
		return fmt.Errorf("sending %s/%s: %w", rc.bucket, rc.key, err)
	}
	return nil
}

// sendDecrypted streams a range of an encrypted object. The first batch is
// decrypted before the status line goes out, so damage near the start of
// the range is a clean 500; damage found later cuts the body short (the
// client sees fewer bytes than Content-Length), never wrong bytes.
func (rc *reqCtx) sendDecrypted(rd *store.ObjectReader, key *sseKey, rng byteRange, status int) error {
	pr, err := newPlainReader(rd, key, rng.start, rng.length)
	if err != nil {
		return err
	}
	buf := make([]byte, min(rng.length, sseBatchChunks*sseChunkSize))
	n, err := io.ReadFull(pr, buf)
	if err != nil {
		return sseErr(fmt.Errorf("decrypting %s/%s: %w", rc.bucket, rc.key, err))
	}
	rc.w.WriteHeader(status)
	if _, err := rc.w.Write(buf[:n]); err != nil {
		return fmt.Errorf("sending %s/%s: %w", rc.bucket, rc.key, err)
	}
	if _, err := io.CopyBuffer(onlyWriter{rc.w}, pr, buf); err != nil {
		if errors.Is(err, errSSEIntegrity) {
			rc.s.log.Error("encrypted object failed authentication mid-stream", "request_id", rc.requestID,
				"bucket", rc.bucket, "key", rc.key, "err", err)
		}
		return fmt.Errorf("sending %s/%s: %w", rc.bucket, rc.key, err)
	}
	return nil
}

// onlyWriter hides ReadFrom so io.CopyBuffer uses the given buffer.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

// encryptNew decides the encryption of a new object (request headers,
// else the bucket default) and, if any, makes its data key and records the
// envelope in tmpl.Extra. KMS is consulted before the body is read.
func (rc *reqCtx) encryptNew(tmpl *store.Object) (*sseKey, error) {
	sp, err := rc.requestSSE()
	if err != nil || sp == nil {
		return nil, err
	}
	key, err := rc.s.newObjectKey(sp)
	if err != nil {
		return nil, err
	}
	if tmpl.Extra == nil {
		tmpl.Extra = map[string]string{}
	}
	tmpl.Extra[extraSSE] = key.env.encode()
	return key, nil
}

// existingObject loads the bucket and the object version the request names
// (?versionId, else the current version), authorizes action on it, and
// fails with NoSuchKey when there is none. The permission check comes first,
// so a caller without access learns nothing about the key.
func (rc *reqCtx) existingObject(action string) (*store.Bucket, *store.Object, error) {
	b, err := rc.loadBucket()
	if err != nil {
		return nil, nil, err
	}
	obj, err := rc.currentObject(rc.bucket, rc.key, rc.query.Get("versionId"))
	if err != nil {
		return nil, nil, err
	}
	if err := rc.allow(action, b, rc.key, obj); err != nil {
		return nil, nil, err
	}
	if obj == nil {
		return nil, nil, errNoSuchKey(rc.key)
	}
	return b, obj, nil
}

func (rc *reqCtx) getObjectMeta() error {
	_, obj, err := rc.existingObject(actGetObject)
	if err != nil {
		return err
	}
	h := rc.w.Header()
	h.Set("ETag", quoteETag(obj.ETag))
	h.Set("Last-Modified", obj.Modified.UTC().Format(http.TimeFormat))
	h.Set("Content-Length", strconv.FormatInt(obj.Size, 10))
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(obj.CRC64, 10))
	if obj.VersionID != "" && obj.VersionID != store.NullVersion {
		h.Set("x-oss-version-id", obj.VersionID)
	}
	rc.w.WriteHeader(http.StatusOK)
	return nil
}

func (rc *reqCtx) deleteObject() error {
	b, err := rc.loadBucket()
	if err != nil {
		return err
	}
	versionID := rc.query.Get("versionId")
	cur, err := rc.currentObject(rc.bucket, rc.key, versionID)
	if err != nil {
		return err
	}
	if err := rc.allow(actDeleteObject, b, rc.key, cur); err != nil {
		return err
	}
	if cur != nil {
		if _, err := rc.s.store.DeleteObject(rc.r.Context(), rc.bucket, rc.key, versionID, nil); err != nil &&
			!errors.Is(err, store.ErrNoSuchKey) {
			return rc.storeWriteError(err, "deleting object")
		}
	}
	return rc.noContent()
}

// ---- ACL ----

func (rc *reqCtx) getObjectACL() error {
	b, obj, err := rc.existingObject(actGetObjectACL)
	if err != nil {
		return err
	}
	grant := obj.ACL
	if grant == "" {
		grant = aclDefault
	}
	return rc.writeXML(accessControlPolicy{Owner: rc.owner(b.Owner), Grant: grant})
}

func (rc *reqCtx) putObjectACL() error {
	_, obj, err := rc.existingObject(actPutObjectACL)
	if err != nil {
		return err
	}
	if rc.r.Header.Get("x-oss-object-acl") == "" {
		return errInvalidArgument("x-oss-object-acl", "", "The x-oss-object-acl header is required to set an object ACL.")
	}
	acl, err := objectACLHeader(rc.r.Header)
	if err != nil {
		return err
	}
	if _, err := rc.s.store.UpdateObject(rc.bucket, rc.key, obj.VersionID, func(o *store.Object) error {
		o.ACL = acl
		return nil
	}); err != nil {
		return rc.storeWriteError(err, "setting ACL of")
	}
	return rc.ok()
}

// ---- symlink ----

func (rc *reqCtx) putSymlink() error {
	b, err := rc.loadBucket()
	if err != nil {
		return err
	}
	raw := rc.r.Header.Get("x-oss-symlink-target")
	if raw == "" {
		return errInvalidArgument("x-oss-symlink-target", "", "The x-oss-symlink-target header is required.")
	}
	target, err := url.QueryUnescape(raw)
	if err != nil {
		target = raw
	}
	if err := checkKey(target); err != nil {
		return err
	}
	cur, err := rc.currentObject(rc.bucket, rc.key, "")
	if err != nil {
		return err
	}
	if err := rc.allow(actPutSymlink, b, rc.key, cur); err != nil {
		return err
	}
	forbid, err := forbidOverwrite(rc.r.Header)
	if err != nil {
		return err
	}
	if err := overwriteCheck(forbid)(cur); err != nil {
		return err
	}
	tmpl, err := rc.objectTemplate(b, store.TypeSymlink)
	if err != nil {
		return err
	}
	tmpl.Symlink = target
	blob, err := rc.s.store.NewBlob()
	if err != nil {
		return fmt.Errorf("staging symlink: %w", err)
	}
	obj, err := rc.s.store.PutObject(rc.r.Context(), rc.bucket, tmpl, blob, overwriteCheck(forbid))
	if err != nil {
		return rc.storeWriteError(err, "storing symlink")
	}
	if obj.VersionID != "" && obj.VersionID != store.NullVersion {
		rc.w.Header().Set("x-oss-version-id", obj.VersionID)
	}
	return rc.ok()
}

func (rc *reqCtx) getSymlink() error {
	_, obj, err := rc.existingObject(actGetSymlink)
	if err != nil {
		return err
	}
	if obj.Type != store.TypeSymlink {
		return newError(http.StatusBadRequest, "NotSymlink", "The specified object is not a symlink.").with("Key", rc.key)
	}
	h := rc.w.Header()
	h.Set("x-oss-symlink-target", url.QueryEscape(obj.Symlink))
	h.Set("ETag", quoteETag(obj.ETag))
	h.Set("Last-Modified", obj.Modified.UTC().Format(http.TimeFormat))
	for k, v := range obj.UserMeta {
		setHeaderRaw(h, "x-oss-meta-"+k, v)
	}
	if obj.VersionID != "" && obj.VersionID != store.NullVersion {
		h.Set("x-oss-version-id", obj.VersionID)
	}
	return rc.ok()
}
