package server

import (
	"context"
	"crypto/md5" //nolint:gosec // G501: OSS multipart ETags are MD5 by protocol, not for security
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ossctl/ossctl/internal/crc64x"
	"github.com/ossctl/ossctl/internal/store"
)

// Multipart limits.
const (
	maxPartNumber = 10000
	minPartSize   = 100 << 10 // every part but the last, checked at Complete
)

type initiateResult struct {
	XMLName      xml.Name `xml:"InitiateMultipartUploadResult"`
	EncodingType string   `xml:"EncodingType,omitempty"`
	Bucket       string   `xml:"Bucket"`
	Key          string   `xml:"Key"`
	UploadID     string   `xml:"UploadId"`
}

func (rc *reqCtx) initiateUpload() error {
	b, cur, forbid, err := rc.writeTarget(actPutObject)
	if err != nil {
		return err
	}
	if err := overwriteCheck(forbid)(cur); err != nil {
		return err
	}
	useURL, err := rc.encodingType()
	if err != nil {
		return err
	}
	tmpl, err := rc.objectTemplate(b, store.TypeMultipart)
	if err != nil {
		return err
	}
	// The encryption (and for KMS the data key) is fixed for the upload
	// now; every part is encrypted under it.
	key, err := rc.encryptNew(tmpl)
	if err != nil {
		return err
	}
	if key != nil {
		clear(key.key)
	}
	u, err := rc.s.store.CreateUpload(rc.bucket, &store.Upload{Key: rc.key, Template: *tmpl})
	if err != nil {
		return rc.storeWriteError(err, "initiating upload of")
	}
	setSSEHeaders(rc.w.Header(), u.Template.Extra)
	res := initiateResult{Bucket: rc.bucket, Key: encoder(useURL)(rc.key), UploadID: u.UploadID}
	if useURL {
		res.EncodingType = "url"
	}
	return rc.writeXML(res)
}

// allowAtKey authorizes an upload step against the ACL in effect at the
// request's key (an object ACL overrides the bucket's), as Initiate and
// Complete are: an upload a caller may start is one it may finish.
func (rc *reqCtx) allowAtKey(action string, b *store.Bucket) error {
	cur, err := rc.currentObject(rc.bucket, rc.key, "")
	if err != nil {
		return err
	}
	return rc.allow(action, b, rc.key, cur)
}

// partNumber parses the partNumber parameter (1..10000).
func (rc *reqCtx) partNumber() (int, error) {
	v := rc.query.Get("partNumber")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPartNumber {
		return 0, errInvalidArgument("partNumber", v, "Part number must be an integer between 1 and %d, inclusive.", maxPartNumber)
	}
	return n, nil
}

// loadUpload resolves the uploadId parameter.
func (rc *reqCtx) loadUpload() (*store.Upload, error) {
	id := rc.query.Get("uploadId")
	u, err := rc.s.store.GetUpload(rc.bucket, rc.key, id)
	if errors.Is(err, store.ErrNoSuchUpload) {
		return nil, errNoSuchUpload(id)
	}
	if err != nil {
		return nil, fmt.Errorf("loading upload %s of %s/%s: %w", id, rc.bucket, rc.key, err)
	}
	return u, nil
}

func (rc *reqCtx) uploadPart() error {
	if !rc.query.Has("partNumber") {
		return errInvalidArgument("partNumber", "", "UploadPart needs a partNumber parameter.")
	}
	n, err := rc.partNumber()
	if err != nil {
		return err
	}
	b, err := rc.loadBucket()
	if err != nil {
		return err
	}
	if err := rc.allowAtKey(actPutObject, b); err != nil {
		return err
	}
	u, err := rc.loadUpload()
	if err != nil {
		return err
	}
	if rc.r.Header.Get("x-oss-copy-source") != "" {
		return rc.uploadPartCopy(u, n)
	}
	key, err := rc.s.objectKey(u.Template.Extra)
	if err != nil {
		return sseErr(err)
	}
	blob, err := rc.receiveBody(maxSinglePut, key)
	if err != nil {
		return err
	}
	p, err := rc.s.store.PutPart(rc.r.Context(), rc.bucket, rc.key, u.UploadID, n, blob)
	if err != nil {
		return rc.storeWriteError(err, "storing part of")
	}
	h := rc.w.Header()
	setSSEHeaders(h, u.Template.Extra)
	h.Set("ETag", quoteETag(p.ETag))
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(p.CRC64, 10))
	if len(p.MD5) == md5.Size {
		h.Set("Content-MD5", base64.StdEncoding.EncodeToString(p.MD5))
	}
	return rc.ok()
}

type copyPartResult struct {
	XMLName      xml.Name `xml:"CopyPartResult"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
}

// parseCopyRange parses x-oss-copy-source-range (bytes=a-b, both within
// the source).
func parseCopyRange(v string, size int64) (off, n int64, err error) {
	if v == "" {
		return 0, size, nil
	}
	bad := errInvalidArgument("x-oss-copy-source-range", v,
		"The copy range must be bytes=first-last within the source object of %d bytes.", size)
	r, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !ok {
		return 0, 0, bad
	}
	a, z, ok := strings.Cut(r, "-")
	if !ok {
		return 0, 0, bad
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	if err1 != nil || first < 0 || first >= size {
		return 0, 0, bad
	}
	last := size - 1
	if z != "" {
		l, err := strconv.ParseInt(z, 10, 64)
		if err != nil || l < first {
			return 0, 0, bad
		}
		last = min(l, size-1)
	}
	return first, last - first + 1, nil
}

func (rc *reqCtx) uploadPartCopy(u *store.Upload, n int) error {
	src, err := parseCopySource(rc.r.Header.Get("x-oss-copy-source"))
	if err != nil {
		return err
	}
	_, so, err := rc.loadCopySource(src)
	if err != nil {
		return err
	}
	off, length, err := parseCopyRange(rc.r.Header.Get("x-oss-copy-source-range"), so.Size)
	if err != nil {
		return err
	}
	if length > maxSinglePut {
		return newError(http.StatusBadRequest, "EntityTooLarge", "A part can be at most %d bytes.", int64(maxSinglePut))
	}
	if err := rc.copyConditions(so); err != nil {
		return err
	}
	srcEnv, err := envelopeOf(so.Extra)
	if err != nil {
		return sseErr(err)
	}
	if _, has := u.Template.Extra[extraSSE]; has || srcEnv != nil {
		return rc.uploadPartCopyThrough(u, n, src, off, length)
	}
	p, err := rc.s.store.PutPartCopy(rc.r.Context(), src.bucket, src.key, src.versionID, off, length,
		rc.bucket, rc.key, u.UploadID, n, func(s *store.Object) error {
			if s.Size < off+length {
				return errInvalidArgument("x-oss-copy-source-range", rc.r.Header.Get("x-oss-copy-source-range"),
					"The source object changed size during the copy.")
			}
			return rc.copyConditions(s)
		})
	if errors.Is(err, store.ErrNoSuchKey) {
		return errNoSuchKey(src.key)
	}
	if err != nil {
		return rc.storeWriteError(err, "copying part into")
	}
	rc.w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(p.CRC64, 10))
	return rc.writeXML(copyPartResult{LastModified: fmtISO(p.Modified), ETag: quoteETag(p.ETag)})
}

// uploadPartCopyThrough is UploadPartCopy when the source or the upload
// is encrypted: the range is decrypted and re-encrypted under the upload's
// data key as a new piece.
func (rc *reqCtx) uploadPartCopyThrough(u *store.Upload, n int, src copySource, off, length int64) error {
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
	if so.Size < off+length {
		return errInvalidArgument("x-oss-copy-source-range", rc.r.Header.Get("x-oss-copy-source-range"),
			"The source object changed size during the copy.")
	}
	dstKey, err := rc.s.objectKey(u.Template.Extra)
	if err != nil {
		return sseErr(err)
	}
	blob, err := rc.stageFrom(so, rd, dstKey, off, length)
	if err != nil {
		return err
	}
	p, err := rc.s.store.PutPart(rc.r.Context(), rc.bucket, rc.key, u.UploadID, n, blob)
	if err != nil {
		return rc.storeWriteError(err, "copying part into")
	}
	rc.w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(p.CRC64, 10))
	setSSEHeaders(rc.w.Header(), u.Template.Extra)
	return rc.writeXML(copyPartResult{LastModified: fmtISO(p.Modified), ETag: quoteETag(p.ETag)})
}

type completeRequest struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

type completeResult struct {
	XMLName      xml.Name `xml:"CompleteMultipartUploadResult"`
	EncodingType string   `xml:"EncodingType,omitempty"`
	Location     string   `xml:"Location"`
	Bucket       string   `xml:"Bucket"`
	Key          string   `xml:"Key"`
	ETag         string   `xml:"ETag"`
}

func errInvalidPart(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "InvalidPart", format, args...)
}

// multipartETag is HEX(MD5(concatenated binary part MD5s))-N.
func multipartETag(parts []store.Part) string {
	h := md5.New() //nolint:gosec // G401: the OSS multipart ETag is defined as an MD5
	for _, p := range parts {
		if len(p.MD5) == md5.Size {
			h.Write(p.MD5)
		} else if b, err := hex.DecodeString(p.ETag); err == nil {
			h.Write(b)
		}
	}
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil))) + "-" + strconv.Itoa(len(parts))
}

// assemble builds the completed object's record from the chosen parts.
func assemble(u *store.Upload, key string, chosen []store.Part) (*store.Object, error) {
	if len(chosen) == 0 {
		return nil, errInvalidPart("The upload has no parts to complete.")
	}
	for i, p := range chosen[:len(chosen)-1] {
		if p.Size < minPartSize {
			return nil, newError(http.StatusBadRequest, "EntityTooSmall",
				"Your proposed upload is smaller than the minimum allowed size: part %d (#%d in the list) is %d bytes; every part but the last must be at least %d bytes.",
				p.Number, i+1, p.Size, minPartSize).
				with("PartNumber", strconv.Itoa(p.Number)).with("ProposedSize", strconv.FormatInt(p.Size, 10)).
				with("MinSizeAllowed", strconv.Itoa(minPartSize))
		}
	}
	obj := u.Template
	obj.Key = key
	obj.Type = store.TypeMultipart
	obj.Size = 0
	obj.Extents = make([]store.Extent, 0, len(chosen))
	crcs := make([]crc64x.Part, 0, len(chosen))
	for _, p := range chosen {
		obj.Size += p.Size
		obj.Extents = append(obj.Extents, p.Extent)
		crcs = append(crcs, crc64x.Part{CRC: p.CRC64, Size: p.Size})
	}
	obj.CRC64 = crc64x.CombineAll(crcs)
	obj.ETag = multipartETag(chosen)
	return &obj, nil
}

func (rc *reqCtx) completeUpload() error {
	uploadID := rc.query.Get("uploadId")
	_, _, forbid, err := rc.writeTarget(actPutObject)
	if err != nil {
		return err
	}
	useURL, err := rc.encodingType()
	if err != nil {
		return err
	}
	completeAll := false
	switch v := rc.r.Header.Get("x-oss-complete-all"); strings.ToLower(v) {
	case "":
	case "yes":
		completeAll = true
	default:
		return errInvalidArgument("x-oss-complete-all", v, "x-oss-complete-all must be yes.")
	}
	var req completeRequest
	if completeAll {
		data, err := rc.readSmallBody(maxXMLBody)
		if err != nil {
			return err
		}
		if len(strings.TrimSpace(string(data))) != 0 {
			return errInvalidArgument("x-oss-complete-all", "yes",
				"A request with x-oss-complete-all: yes must not carry a part list.")
		}
	} else {
		present, err := rc.readXML(maxCompleteXML, &req)
		if err != nil {
			return err
		}
		if !present || len(req.Parts) == 0 {
			return errMalformedXML("The CompleteMultipartUpload document must list at least one part.")
		}
		if len(req.Parts) > maxPartNumber {
			return errMalformedXML("The CompleteMultipartUpload document lists more than %d parts.", maxPartNumber)
		}
		for i, p := range req.Parts {
			if p.PartNumber < 1 || p.PartNumber > maxPartNumber {
				return errInvalidArgument("PartNumber", strconv.Itoa(p.PartNumber),
					"Part number must be an integer between 1 and %d, inclusive.", maxPartNumber)
			}
			if i > 0 && p.PartNumber <= req.Parts[i-1].PartNumber {
				return newError(http.StatusBadRequest, "InvalidPartOrder",
					"The list of parts was not in ascending order. The parts list must be specified in order by part number.")
			}
		}
	}
	build := func(u *store.Upload, parts []store.Part) (*store.Object, error) {
		if completeAll {
			return assemble(u, rc.key, parts)
		}
		byNum := make(map[int]store.Part, len(parts))
		for _, p := range parts {
			byNum[p.Number] = p
		}
		chosen := make([]store.Part, 0, len(req.Parts))
		for _, rp := range req.Parts {
			p, ok := byNum[rp.PartNumber]
			if !ok {
				return nil, errInvalidPart("Part %d has not been uploaded.", rp.PartNumber).
					with("PartNumber", strconv.Itoa(rp.PartNumber))
			}
			if unquoteETag(rp.ETag) != strings.ToUpper(p.ETag) {
				return nil, errInvalidPart("The ETag %s given for part %d does not match the uploaded part's ETag.",
					rp.ETag, rp.PartNumber).with("PartNumber", strconv.Itoa(rp.PartNumber)).with("ETag", rp.ETag)
			}
			chosen = append(chosen, p)
		}
		return assemble(u, rc.key, chosen)
	}
	// Completion continues if the client goes away (as in OSS): the parts
	// are all here and a retry will find the finished object.
	obj, err := rc.s.store.CompleteUpload(context.WithoutCancel(rc.r.Context()), rc.bucket, rc.key, uploadID, build, overwriteCheck(forbid))
	if errors.Is(err, store.ErrNoSuchUpload) {
		return errNoSuchUpload(uploadID)
	}
	if err != nil {
		return rc.storeWriteError(err, "completing upload of")
	}
	h := rc.w.Header()
	h.Set("ETag", quoteETag(obj.ETag))
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(obj.CRC64, 10))
	if obj.VersionID != "" && obj.VersionID != store.NullVersion {
		h.Set("x-oss-version-id", obj.VersionID)
	}
	setSSEHeaders(h, obj.Extra)
	res := completeResult{
		Location: rc.objectURL(),
		Bucket:   rc.bucket,
		Key:      encoder(useURL)(rc.key),
		ETag:     quoteETag(obj.ETag),
	}
	if useURL {
		res.EncodingType = "url"
	}
	return rc.writeXML(res)
}

// objectURL is the object's URL in the addressing style of the request.
func (rc *reqCtx) objectURL() string {
	scheme := "http"
	if rc.r.TLS != nil {
		scheme = "https"
	}
	if rc.vhost {
		return scheme + "://" + rc.r.Host + "/" + urlEncodePath(rc.key)
	}
	return scheme + "://" + rc.r.Host + "/" + rc.bucket + "/" + urlEncodePath(rc.key)
}

// urlEncodePath is urlEncode keeping '/' literal.
func urlEncodePath(s string) string {
	parts := strings.Split(s, "/")
	for i, p := range parts {
		parts[i] = urlEncode(p)
	}
	return strings.Join(parts, "/")
}

func (rc *reqCtx) abortUpload() error {
	b, err := rc.loadBucket()
	if err != nil {
		return err
	}
	if err := rc.allowAtKey(actAbortMultipartUpload, b); err != nil {
		return err
	}
	id := rc.query.Get("uploadId")
	if err := rc.s.store.AbortUpload(rc.r.Context(), rc.bucket, rc.key, id); err != nil {
		if errors.Is(err, store.ErrNoSuchUpload) {
			return errNoSuchUpload(id)
		}
		return rc.storeWriteError(err, "aborting upload of")
	}
	return rc.noContent()
}

type xmlPart struct {
	PartNumber    int    `xml:"PartNumber"`
	LastModified  string `xml:"LastModified"`
	ETag          string `xml:"ETag"`
	HashCrc64ecma uint64 `xml:"HashCrc64ecma"`
	Size          int64  `xml:"Size"`
}

type listPartsResult struct {
	XMLName              xml.Name  `xml:"ListPartsResult"`
	EncodingType         string    `xml:"EncodingType,omitempty"`
	Bucket               string    `xml:"Bucket"`
	Key                  string    `xml:"Key"`
	UploadID             string    `xml:"UploadId"`
	StorageClass         string    `xml:"StorageClass"`
	PartNumberMarker     int       `xml:"PartNumberMarker"`
	NextPartNumberMarker int       `xml:"NextPartNumberMarker"`
	MaxParts             int       `xml:"MaxParts"`
	IsTruncated          bool      `xml:"IsTruncated"`
	Parts                []xmlPart `xml:"Part"`
}

func (rc *reqCtx) listParts() error {
	b, err := rc.loadBucket()
	if err != nil {
		return err
	}
	if err := rc.allowAtKey(actListParts, b); err != nil {
		return err
	}
	useURL, err := rc.encodingType()
	if err != nil {
		return err
	}
	maxParts, err := rc.checkMaxParam("max-parts")
	if err != nil {
		return err
	}
	marker, err := rc.intParam("part-number-marker", 0, 0, maxPartNumber)
	if err != nil {
		return err
	}
	u, err := rc.loadUpload()
	if err != nil {
		return err
	}
	parts, truncated, err := rc.s.store.ListParts(rc.bucket, rc.key, u.UploadID, marker, maxParts)
	if err != nil {
		return rc.storeWriteError(err, "listing parts of")
	}
	res := listPartsResult{
		Bucket: rc.bucket, Key: encoder(useURL)(rc.key), UploadID: u.UploadID,
		StorageClass: u.Template.StorageClass, PartNumberMarker: marker, MaxParts: maxParts, IsTruncated: truncated,
	}
	if res.StorageClass == "" {
		res.StorageClass = "Standard"
	}
	if useURL {
		res.EncodingType = "url"
	}
	for _, p := range parts {
		res.Parts = append(res.Parts, xmlPart{
			PartNumber: p.Number, LastModified: fmtISO(p.Modified), ETag: quoteETag(p.ETag),
			HashCrc64ecma: p.CRC64, Size: p.Size,
		})
		res.NextPartNumberMarker = p.Number
	}
	return rc.writeXML(res)
}

type xmlUpload struct {
	Key          string `xml:"Key"`
	UploadID     string `xml:"UploadId"`
	StorageClass string `xml:"StorageClass"`
	Initiated    string `xml:"Initiated"`
}

type listUploadsResult struct {
	XMLName            xml.Name          `xml:"ListMultipartUploadsResult"`
	EncodingType       string            `xml:"EncodingType,omitempty"`
	Bucket             string            `xml:"Bucket"`
	KeyMarker          string            `xml:"KeyMarker"`
	UploadIDMarker     string            `xml:"UploadIdMarker"`
	NextKeyMarker      string            `xml:"NextKeyMarker"`
	NextUploadIDMarker string            `xml:"NextUploadIdMarker"`
	Delimiter          string            `xml:"Delimiter"`
	Prefix             string            `xml:"Prefix"`
	MaxUploads         int               `xml:"MaxUploads"`
	IsTruncated        bool              `xml:"IsTruncated"`
	Uploads            []xmlUpload       `xml:"Upload"`
	CommonPrefixes     []xmlCommonPrefix `xml:"CommonPrefixes"`
}

func (rc *reqCtx) listUploads() error {
	if _, err := rc.allowedBucket(actListMultipartUploads); err != nil {
		return err
	}
	useURL, err := rc.encodingType()
	if err != nil {
		return err
	}
	maxUploads, err := rc.checkMaxParam("max-uploads")
	if err != nil {
		return err
	}
	q := rc.query
	opts := store.UploadListOptions{
		Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"),
		KeyMarker: q.Get("key-marker"), UploadIDMarker: q.Get("upload-id-marker"), MaxUploads: maxUploads,
	}
	if opts.KeyMarker == "" {
		opts.UploadIDMarker = "" // ignored without a key marker, as in OSS
	}
	res, err := rc.s.store.ListUploads(rc.bucket, opts)
	if err != nil {
		return rc.storeWriteError(err, "listing uploads in")
	}
	enc := encoder(useURL)
	out := listUploadsResult{
		Bucket: rc.bucket, KeyMarker: enc(opts.KeyMarker), UploadIDMarker: opts.UploadIDMarker,
		Delimiter: enc(opts.Delimiter), Prefix: enc(opts.Prefix), MaxUploads: maxUploads, IsTruncated: res.IsTruncated,
	}
	if res.IsTruncated {
		out.NextKeyMarker, out.NextUploadIDMarker = enc(res.NextKeyMarker), res.NextUploadIDMarker
	}
	if useURL {
		out.EncodingType = "url"
	}
	for _, u := range res.Uploads {
		class := u.Template.StorageClass
		if class == "" {
			class = "Standard"
		}
		out.Uploads = append(out.Uploads, xmlUpload{Key: enc(u.Key), UploadID: u.UploadID, StorageClass: class, Initiated: fmtISO(u.Initiated)})
	}
	for _, p := range res.CommonPrefixes {
		out.CommonPrefixes = append(out.CommonPrefixes, xmlCommonPrefix{Prefix: enc(p)})
	}
	return rc.writeXML(out)
}
