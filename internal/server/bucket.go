package server

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ossctl/ossctl/internal/store"
)

const isoTime = "2006-01-02T15:04:05.000Z"

func fmtISO(t time.Time) string { return t.UTC().Format(isoTime) }

// writeXML sends v as an XML document with status 200.
func (rc *reqCtx) writeXML(v any) error {
	body, err := xml.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %T: %w", v, err)
	}
	body = append([]byte(xml.Header), body...)
	h := rc.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rc.w.WriteHeader(http.StatusOK)
	if rc.r.Method != http.MethodHead {
		_, _ = rc.w.Write(body)
	}
	return nil
}

// noContent sends 204.
func (rc *reqCtx) noContent() error {
	rc.w.Header().Set("Content-Length", "0")
	rc.w.WriteHeader(http.StatusNoContent)
	return nil
}

// ok sends 200 with an empty body.
func (rc *reqCtx) ok() error {
	rc.w.Header().Set("Content-Length", "0")
	rc.w.WriteHeader(http.StatusOK)
	return nil
}

// endpointHost is the service endpoint the client used (without a bucket
// prefix), shown as Extranet/IntranetEndpoint.
func (rc *reqCtx) endpointHost() string {
	h := rc.r.Host
	if rc.vhost {
		if i := strings.IndexByte(h, '.'); i >= 0 {
			h = h[i+1:]
		}
	}
	return h
}

// allowedBucket loads the bucket and authorizes the bucket-level action on
// it.
func (rc *reqCtx) allowedBucket(action string) (*store.Bucket, error) {
	b, err := rc.loadBucket()
	if err != nil {
		return nil, err
	}
	if err := rc.allow(action, b, "", nil); err != nil {
		return nil, err
	}
	return b, nil
}

// loadBucket returns the request's bucket record.
func (rc *reqCtx) loadBucket() (*store.Bucket, error) {
	b, err := rc.s.store.GetBucket(rc.bucket)
	if errors.Is(err, store.ErrNoSuchBucket) {
		return nil, errNoSuchBucket(rc.bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("loading bucket %s: %w", rc.bucket, err)
	}
	return b, nil
}

type xmlOwner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

func (rc *reqCtx) owner(id string) xmlOwner {
	if id == "" {
		id = rc.s.accountID
	}
	return xmlOwner{ID: id, DisplayName: id}
}

// intParam parses an optional integer query parameter within [lo, hi].
func (rc *reqCtx) intParam(name string, def, lo, hi int) (int, error) {
	v, ok := rc.query[name]
	if !ok || v[0] == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < lo || n > hi {
		return 0, errInvalidArgument(name, v[0], "%s must be an integer between %d and %d.", name, lo, hi)
	}
	return n, nil
}

// ---- service ----

type xmlBucketEntry struct {
	CreationDate     string `xml:"CreationDate"`
	ExtranetEndpoint string `xml:"ExtranetEndpoint"`
	IntranetEndpoint string `xml:"IntranetEndpoint"`
	Location         string `xml:"Location"`
	Name             string `xml:"Name"`
	Region           string `xml:"Region"`
	StorageClass     string `xml:"StorageClass"`
}

type listAllMyBucketsResult struct {
	XMLName     xml.Name         `xml:"ListAllMyBucketsResult"`
	Prefix      string           `xml:"Prefix"`
	Marker      string           `xml:"Marker"`
	MaxKeys     int              `xml:"MaxKeys"`
	IsTruncated bool             `xml:"IsTruncated"`
	NextMarker  string           `xml:"NextMarker,omitempty"`
	Owner       xmlOwner         `xml:"Owner"`
	Buckets     []xmlBucketEntry `xml:"Buckets>Bucket"`
}

func (rc *reqCtx) listBuckets() error {
	if err := rc.allow(actListBuckets, nil, "", nil); err != nil {
		return err
	}
	maxKeys, err := rc.intParam("max-keys", 100, 1, 1000)
	if err != nil {
		return err
	}
	prefix, marker := rc.query.Get("prefix"), rc.query.Get("marker")
	res := listAllMyBucketsResult{Prefix: prefix, Marker: marker, MaxKeys: maxKeys, Owner: rc.owner(rc.principal.AccountID)}
	// Only the caller's buckets are listed; page through the store until
	// the page is full.
	cursor := marker
	for {
		page, more, err := rc.s.store.ListBuckets(prefix, cursor, maxKeys-len(res.Buckets)+1)
		if err != nil {
			return fmt.Errorf("listing buckets: %w", err)
		}
		for _, b := range page {
			cursor = b.Name
			owner := b.Owner
			if owner == "" {
				owner = rc.s.accountID
			}
			if owner != rc.principal.AccountID {
				continue
			}
			if len(res.Buckets) == maxKeys {
				res.IsTruncated = true
				res.NextMarker = res.Buckets[len(res.Buckets)-1].Name
				return rc.writeXML(res)
			}
			res.Buckets = append(res.Buckets, rc.bucketEntry(&b))
		}
		if !more || len(page) == 0 {
			return rc.writeXML(res)
		}
	}
}

func (rc *reqCtx) bucketEntry(b *store.Bucket) xmlBucketEntry {
	loc := b.Location
	if loc == "" {
		loc = rc.s.location()
	}
	return xmlBucketEntry{
		CreationDate:     fmtISO(b.Created),
		ExtranetEndpoint: rc.endpointHost(),
		IntranetEndpoint: rc.endpointHost(),
		Location:         loc,
		Name:             b.Name,
		Region:           strings.TrimPrefix(loc, "oss-"),
		StorageClass:     b.StorageClass,
	}
}

// ---- bucket ----

type createBucketConfiguration struct {
	XMLName            xml.Name `xml:"CreateBucketConfiguration"`
	StorageClass       string   `xml:"StorageClass"`
	DataRedundancyType string   `xml:"DataRedundancyType"`
}

func (rc *reqCtx) createBucket() error {
	if err := rc.allow(actPutBucket, nil, "", nil); err != nil {
		return err
	}
	acl := rc.r.Header.Get("x-oss-acl")
	if acl == "" {
		acl = aclPrivate
	} else if err := checkBucketACL(acl); err != nil {
		return err
	}
	var cfg createBucketConfiguration
	if _, err := rc.readXML(maxXMLBody, &cfg); err != nil {
		return err
	}
	class := "Standard"
	if cfg.StorageClass != "" {
		c, ok := storageClass(cfg.StorageClass)
		if !ok {
			return errInvalidArgument("StorageClass", cfg.StorageClass, "The storage class %q is not valid.", cfg.StorageClass)
		}
		class = c
	}
	redundancy := "LRS"
	switch strings.ToUpper(strings.TrimSpace(cfg.DataRedundancyType)) {
	case "", "LRS":
	case "ZRS":
		redundancy = "ZRS"
	default:
		return errInvalidArgument("DataRedundancyType", cfg.DataRedundancyType,
			"The data redundancy type %q is not valid; use LRS or ZRS.", cfg.DataRedundancyType)
	}
	err := rc.s.store.CreateBucket(store.Bucket{
		Name:               rc.bucket,
		Created:            rc.now,
		Location:           rc.s.location(),
		StorageClass:       class,
		DataRedundancyType: redundancy,
		ACL:                acl,
		Owner:              rc.principal.AccountID,
	})
	if errors.Is(err, store.ErrBucketExists) {
		return newError(http.StatusConflict, "BucketAlreadyExists",
			"The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.").
			with("BucketName", rc.bucket)
	}
	if err != nil {
		return fmt.Errorf("creating bucket %s: %w", rc.bucket, err)
	}
	rc.w.Header().Set("Location", "/"+rc.bucket)
	return rc.ok()
}

func (rc *reqCtx) deleteBucket() error {
	if _, err := rc.allowedBucket(actDeleteBucket); err != nil {
		return err
	}
	if err := rc.s.store.DeleteBucket(rc.bucket, nil); err != nil {
		if errors.Is(err, store.ErrBucketNotEmpty) || errors.Is(err, store.ErrNoSuchBucket) {
			return err
		}
		return fmt.Errorf("deleting bucket %s: %w", rc.bucket, err)
	}
	return rc.noContent()
}

func (rc *reqCtx) headBucket() error {
	if _, err := rc.allowedBucket(actListObjects); err != nil {
		return err
	}
	return rc.ok()
}

type xmlSSERule struct {
	SSEAlgorithm      string `xml:"SSEAlgorithm"`
	KMSMasterKeyID    string `xml:"KMSMasterKeyID,omitempty"`
	KMSDataEncryption string `xml:"KMSDataEncryption,omitempty"`
}

type bucketInfoResult struct {
	XMLName xml.Name `xml:"BucketInfo"`
	Bucket  struct {
		AccessMonitor            string     `xml:"AccessMonitor"`
		CreationDate             string     `xml:"CreationDate"`
		CrossRegionReplication   string     `xml:"CrossRegionReplication"`
		DataRedundancyType       string     `xml:"DataRedundancyType"`
		ExtranetEndpoint         string     `xml:"ExtranetEndpoint"`
		IntranetEndpoint         string     `xml:"IntranetEndpoint"`
		Location                 string     `xml:"Location"`
		Name                     string     `xml:"Name"`
		Region                   string     `xml:"Region"`
		StorageClass             string     `xml:"StorageClass"`
		TransferAcceleration     string     `xml:"TransferAcceleration"`
		Owner                    xmlOwner   `xml:"Owner"`
		Grant                    string     `xml:"AccessControlList>Grant"`
		ServerSideEncryptionRule xmlSSERule `xml:"ServerSideEncryptionRule"`
		Versioning               string     `xml:"Versioning,omitempty"`
	} `xml:"Bucket"`
}

func (rc *reqCtx) getBucketInfo() error {
	b, err := rc.allowedBucket(actGetBucketInfo)
	if err != nil {
		return err
	}
	e := rc.bucketEntry(b)
	var res bucketInfoResult
	bi := &res.Bucket
	bi.AccessMonitor = "Disabled"
	bi.CreationDate = e.CreationDate
	bi.CrossRegionReplication = "Disabled"
	bi.DataRedundancyType = b.DataRedundancyType
	bi.ExtranetEndpoint, bi.IntranetEndpoint = e.ExtranetEndpoint, e.IntranetEndpoint
	bi.Location, bi.Name, bi.Region, bi.StorageClass = e.Location, b.Name, e.Region, b.StorageClass
	bi.TransferAcceleration = "Disabled"
	bi.Owner = rc.owner(b.Owner)
	bi.Grant = b.ACL
	if bi.Grant == "" {
		bi.Grant = aclPrivate
	}
	bi.ServerSideEncryptionRule.SSEAlgorithm = "None"
	sp, err := rc.s.bucketSSE(rc.bucket)
	if err != nil {
		return err
	}
	if sp != nil {
		bi.ServerSideEncryptionRule = xmlSSERule{SSEAlgorithm: sp.Alg, KMSMasterKeyID: sp.KeyID, KMSDataEncryption: sp.DataEnc}
	}
	bi.Versioning = b.Versioning
	return rc.writeXML(res)
}

type locationResult struct {
	XMLName  xml.Name `xml:"LocationConstraint"`
	Location string   `xml:",chardata"`
}

func (rc *reqCtx) getBucketLocation() error {
	b, err := rc.allowedBucket(actGetBucketLocation)
	if err != nil {
		return err
	}
	loc := b.Location
	if loc == "" {
		loc = rc.s.location()
	}
	return rc.writeXML(locationResult{Location: loc})
}

type bucketStatResult struct {
	XMLName              xml.Name `xml:"BucketStat"`
	Storage              int64    `xml:"Storage"`
	ObjectCount          int64    `xml:"ObjectCount"`
	MultipartUploadCount int64    `xml:"MultipartUploadCount"`
	LiveChannelCount     int64    `xml:"LiveChannelCount"`
	LastModifiedTime     int64    `xml:"LastModifiedTime"`
}

func (rc *reqCtx) getBucketStat() error {
	if _, err := rc.allowedBucket(actGetBucketStat); err != nil {
		return err
	}
	st, err := rc.s.store.BucketStats(rc.bucket)
	if err != nil {
		if errors.Is(err, store.ErrNoSuchBucket) {
			return err
		}
		return fmt.Errorf("reading statistics of bucket %s: %w", rc.bucket, err)
	}
	res := bucketStatResult{Storage: st.Storage, ObjectCount: st.ObjectCount, MultipartUploadCount: st.MultipartUploadCount}
	if !st.LastModified.IsZero() {
		res.LastModifiedTime = st.LastModified.Unix()
	}
	return rc.writeXML(res)
}

type accessControlPolicy struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Owner   xmlOwner `xml:"Owner"`
	Grant   string   `xml:"AccessControlList>Grant"`
}

func (rc *reqCtx) getBucketACL() error {
	b, err := rc.allowedBucket(actGetBucketACL)
	if err != nil {
		return err
	}
	grant := b.ACL
	if grant == "" {
		grant = aclPrivate
	}
	return rc.writeXML(accessControlPolicy{Owner: rc.owner(b.Owner), Grant: grant})
}

func (rc *reqCtx) putBucketACL() error {
	if _, err := rc.allowedBucket(actPutBucketACL); err != nil {
		return err
	}
	acl := rc.r.Header.Get("x-oss-acl")
	if acl == "" {
		return errInvalidArgument("x-oss-acl", "", "The x-oss-acl header is required to set a bucket ACL.")
	}
	if err := checkBucketACL(acl); err != nil {
		return err
	}
	err := rc.s.store.UpdateBucket(rc.bucket, func(b *store.Bucket) error {
		b.ACL = acl
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNoSuchBucket) {
			return err
		}
		return fmt.Errorf("setting ACL of bucket %s: %w", rc.bucket, err)
	}
	return rc.ok()
}
