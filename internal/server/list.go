package server

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	"github.com/ossctl/ossctl/internal/store"
)

// urlEncode percent-encodes s for encoding-type=url responses: every byte
// outside A-Za-z0-9-_.~ becomes %XX (space is %20), so url.QueryUnescape
// on the client restores s exactly.
func urlEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// encodingType reads encoding-type; only "url" is accepted.
func (rc *reqCtx) encodingType() (bool, error) {
	v := rc.query.Get("encoding-type")
	switch strings.ToLower(v) {
	case "":
		return false, nil
	case "url":
		return true, nil
	}
	return false, errInvalidArgument("encoding-type", v, "encoding-type must be url.")
}

// encoder returns the function applied to keys and prefixes in a listing.
func encoder(url bool) func(string) string {
	if url {
		return urlEncode
	}
	return func(s string) string { return s }
}

type xmlContents struct {
	Key          string    `xml:"Key"`
	LastModified string    `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Type         string    `xml:"Type"`
	Size         int64     `xml:"Size"`
	StorageClass string    `xml:"StorageClass"`
	Owner        *xmlOwner `xml:"Owner,omitempty"`
}

type xmlCommonPrefix struct {
	Prefix string `xml:"Prefix"`
}

type listBucketResult struct {
	XMLName        xml.Name          `xml:"ListBucketResult"`
	Name           string            `xml:"Name"`
	Prefix         string            `xml:"Prefix"`
	Marker         string            `xml:"Marker"`
	MaxKeys        int               `xml:"MaxKeys"`
	Delimiter      string            `xml:"Delimiter"`
	IsTruncated    bool              `xml:"IsTruncated"`
	NextMarker     string            `xml:"NextMarker,omitempty"`
	EncodingType   string            `xml:"EncodingType,omitempty"`
	Contents       []xmlContents     `xml:"Contents"`
	CommonPrefixes []xmlCommonPrefix `xml:"CommonPrefixes"`
}

type listBucketResultV2 struct {
	XMLName               xml.Name          `xml:"ListBucketResult"`
	Name                  string            `xml:"Name"`
	Prefix                string            `xml:"Prefix"`
	StartAfter            string            `xml:"StartAfter,omitempty"`
	ContinuationToken     string            `xml:"ContinuationToken,omitempty"`
	MaxKeys               int               `xml:"MaxKeys"`
	Delimiter             string            `xml:"Delimiter"`
	IsTruncated           bool              `xml:"IsTruncated"`
	NextContinuationToken string            `xml:"NextContinuationToken,omitempty"`
	KeyCount              int               `xml:"KeyCount"`
	EncodingType          string            `xml:"EncodingType,omitempty"`
	Contents              []xmlContents     `xml:"Contents"`
	CommonPrefixes        []xmlCommonPrefix `xml:"CommonPrefixes"`
}

// continuation tokens are the base64url (unpadded) encoding of the marker:
// opaque to clients and a no-op under URL decoding.
func encodeToken(marker string) string { return base64.RawURLEncoding.EncodeToString([]byte(marker)) }

func decodeToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", errInvalidArgument("continuation-token", tok, "The continuation token is not valid.")
	}
	return string(b), nil
}

func (rc *reqCtx) listObjects() error {
	b, err := rc.allowedBucket(actListObjects)
	if err != nil {
		return err
	}
	useURL, err := rc.encodingType()
	if err != nil {
		return err
	}
	enc := encoder(useURL)
	maxKeys, err := rc.intParam("max-keys", 100, 1, 1000)
	if err != nil {
		return err
	}
	q := rc.query
	v2 := q.Get("list-type") == "2"
	if lt := q.Get("list-type"); lt != "" && lt != "2" {
		return errInvalidArgument("list-type", lt, "list-type must be 2.")
	}
	opts := store.ListOptions{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), MaxKeys: maxKeys}
	if len(opts.Prefix) > 1023 {
		return errInvalidArgument("prefix", opts.Prefix, "The prefix must be at most 1023 bytes.")
	}
	if len(opts.Delimiter) > 1 && !utf8Single(opts.Delimiter) {
		return errInvalidArgument("delimiter", opts.Delimiter, "The delimiter must be one character.")
	}
	fetchOwner := !v2
	if v2 {
		opts.Marker = q.Get("start-after")
		if tok, ok := q["continuation-token"]; ok && tok[0] != "" {
			m, err := decodeToken(tok[0])
			if err != nil {
				return err
			}
			opts.Marker = m
		}
		fetchOwner = strings.EqualFold(q.Get("fetch-owner"), "true")
	} else {
		opts.Marker = q.Get("marker")
	}
	res, err := rc.s.store.ListObjects(rc.bucket, opts)
	if err != nil {
		if errors.Is(err, store.ErrNoSuchBucket) {
			return err
		}
		return fmt.Errorf("listing bucket %s: %w", rc.bucket, err)
	}
	contents := make([]xmlContents, 0, len(res.Objects))
	for i := range res.Objects {
		o := &res.Objects[i]
		c := xmlContents{
			Key:          enc(o.Key),
			LastModified: fmtISO(o.Modified),
			ETag:         quoteETag(o.ETag),
			Type:         o.Type,
			Size:         o.Size,
			StorageClass: o.StorageClass,
		}
		if c.Type == "" {
			c.Type = store.TypeNormal
		}
		if c.StorageClass == "" {
			c.StorageClass = "Standard"
		}
		if fetchOwner {
			ow := rc.owner(b.Owner)
			c.Owner = &ow
		}
		contents = append(contents, c)
	}
	prefixes := make([]xmlCommonPrefix, 0, len(res.CommonPrefixes))
	for _, p := range res.CommonPrefixes {
		prefixes = append(prefixes, xmlCommonPrefix{Prefix: enc(p)})
	}
	encType := ""
	if useURL {
		encType = "url"
	}
	if !v2 {
		out := listBucketResult{
			Name: rc.bucket, Prefix: enc(opts.Prefix), Marker: enc(opts.Marker), MaxKeys: maxKeys,
			Delimiter: enc(opts.Delimiter), IsTruncated: res.IsTruncated, EncodingType: encType,
			Contents: contents, CommonPrefixes: prefixes,
		}
		if res.IsTruncated {
			out.NextMarker = enc(res.NextMarker)
		}
		return rc.writeXML(out)
	}
	out := listBucketResultV2{
		Name: rc.bucket, Prefix: enc(opts.Prefix), StartAfter: enc(q.Get("start-after")),
		ContinuationToken: q.Get("continuation-token"), MaxKeys: maxKeys, Delimiter: enc(opts.Delimiter),
		IsTruncated: res.IsTruncated, KeyCount: len(contents) + len(prefixes), EncodingType: encType,
		Contents: contents, CommonPrefixes: prefixes,
	}
	if res.IsTruncated {
		out.NextContinuationToken = encodeToken(res.NextMarker)
	}
	return rc.writeXML(out)
}

func utf8Single(s string) bool { return len([]rune(s)) == 1 }

// ---- DeleteMultipleObjects ----

type deleteRequest struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   string   `xml:"Quiet"`
	Objects []struct {
		Key       *string `xml:"Key"`
		VersionID string  `xml:"VersionId"`
	} `xml:"Object"`
}

type xmlDeleted struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
}

type deleteResult struct {
	XMLName      xml.Name     `xml:"DeleteResult"`
	EncodingType string       `xml:"EncodingType,omitempty"`
	Deleted      []xmlDeleted `xml:"Deleted"`
}

func (rc *reqCtx) deleteMultiple() error {
	b, err := rc.loadBucket()
	if err != nil {
		return err
	}
	useURL, err := rc.encodingType()
	if err != nil {
		return err
	}
	if rc.r.Header.Get("Content-MD5") == "" {
		return errInvalidArgument("Content-MD5", "", "Missing required header for this request: Content-MD5.")
	}
	var req deleteRequest
	present, err := rc.readXML(maxDeleteBody, &req)
	if err != nil {
		return err
	}
	if !present || len(req.Objects) == 0 {
		return errMalformedXML("The Delete document must name at least one object.")
	}
	if len(req.Objects) > 1000 {
		return errMalformedXML("The Delete document names %d objects; at most 1000 are allowed.", len(req.Objects))
	}
	quiet := false
	switch strings.ToLower(strings.TrimSpace(req.Quiet)) {
	case "", "false":
	case "true":
		quiet = true
	default:
		return errMalformedXML("Quiet must be true or false.")
	}
	// Validate and authorize every key before deleting any.
	for _, o := range req.Objects {
		if o.Key == nil {
			return errMalformedXML("Every Object element needs a Key.")
		}
		if err := checkKey(*o.Key); err != nil {
			return err
		}
		cur, err := rc.currentObject(rc.bucket, *o.Key, o.VersionID)
		if err != nil {
			return err
		}
		if err := rc.allow(actDeleteObject, b, *o.Key, cur); err != nil {
			return err
		}
	}
	enc := encoder(useURL)
	res := deleteResult{}
	if useURL {
		res.EncodingType = "url"
	}
	for _, o := range req.Objects {
		_, err := rc.s.store.DeleteObject(rc.r.Context(), rc.bucket, *o.Key, o.VersionID, nil)
		if err != nil && !errors.Is(err, store.ErrNoSuchKey) && !errors.Is(err, store.ErrNoSuchVersion) {
			return fmt.Errorf("deleting %s/%s: %w", rc.bucket, *o.Key, err)
		}
		if !quiet {
			res.Deleted = append(res.Deleted, xmlDeleted{Key: enc(*o.Key), VersionID: o.VersionID})
		}
	}
	return rc.writeXML(res)
}

// checkMaxParam is shared by the multipart listings.
func (rc *reqCtx) checkMaxParam(name string) (int, error) {
	return rc.intParam(name, 1000, 1, 1000)
}
