// Package store is the embedded storage engine behind `ossctl serve`.
//
// Metadata (buckets, object records, multipart uploads, bucket
// configuration documents) lives in a bbolt B+tree file; object data lives in
// blob files named by random IDs (small objects are stored inline in the
// metadata file). Object keys are never used as file paths.
//
// A write goes: data to a temp file → fsync → rename into the blob directory
// → fsync the directory → commit the metadata record. Metadata commits from
// concurrent writers are grouped into one transaction (one fsync). Startup
// removes temp files and blobs that no committed record references.
//
// The store knows nothing of HTTP or signatures: callers pass precondition
// callbacks that run inside the metadata transaction and may return any
// error, which the store returns unchanged.
package store

import (
	"errors"
	"time"
)

// Sentinel errors. Callers match them with errors.Is.
var (
	ErrNoSuchBucket    = errors.New("store: no such bucket")
	ErrBucketExists    = errors.New("store: bucket already exists")
	ErrBucketNotEmpty  = errors.New("store: bucket not empty")
	ErrNoSuchKey       = errors.New("store: no such key")
	ErrNoSuchVersion   = errors.New("store: no such version")
	ErrNoSuchUpload    = errors.New("store: no such upload")
	ErrNoSuchPart      = errors.New("store: no such part")
	ErrNoSuchConfig    = errors.New("store: no such configuration")
	ErrInvalidKey      = errors.New("store: invalid object key")
	ErrClosed          = errors.New("store: closed")
	ErrCorruptMetadata = errors.New("store: corrupt metadata record")
)

// Object types as OSS reports them in x-oss-object-type.
const (
	TypeNormal     = "Normal"
	TypeMultipart  = "Multipart"
	TypeAppendable = "Appendable"
	TypeSymlink    = "Symlink"
)

// NullVersion is the version id of objects written while versioning is
// not enabled.
const NullVersion = "null"

// Bucket is a bucket's record.
type Bucket struct {
	Name               string    `json:"name"`
	Created            time.Time `json:"created"`
	Location           string    `json:"location"`     // e.g. "oss-cn-hangzhou"
	StorageClass       string    `json:"storageClass"` // Standard|IA|Archive|ColdArchive|DeepColdArchive
	DataRedundancyType string    `json:"redundancy"`   // LRS|ZRS
	ACL                string    `json:"acl"`          // private|public-read|public-read-write
	Owner              string    `json:"owner"`        // owner account id
	Versioning         string    `json:"versioning"`   // ""|Enabled|Suspended
}

// Extent is one contiguous piece of an object's data: a blob file or an
// inline value. An object's bytes are its extents concatenated.
//
// A sealed extent stores its content transformed (server-side encrypted):
// Size is then the content's length and Stored the length of the bytes on
// disk, and Seal carries the caller's per-extent parameters (for example a
// salt), which the store keeps without interpreting. Sealed extents are
// read only through ObjectReader.Pieces and ReadPieceAt.
type Extent struct {
	Blob   string `json:"b"`           // blob ID
	Size   int64  `json:"n"`           // content bytes in this extent
	Inline bool   `json:"i,omitempty"` // data kept in the metadata file
	Stored int64  `json:"z,omitempty"` // bytes on disk of a sealed extent (0 = unsealed: Size)
	Seal   string `json:"s,omitempty"` // caller's parameters of a sealed extent (printable text)
}

// Sealed reports whether the extent stores transformed content.
func (e Extent) Sealed() bool { return e.Stored > 0 }

// storedSize is the number of bytes the extent occupies on disk.
func (e Extent) storedSize() int64 {
	if e.Stored > 0 {
		return e.Stored
	}
	return e.Size
}

// Object is an object version's metadata record.
type Object struct {
	Key          string            `json:"key"`
	VersionID    string            `json:"ver"` // NullVersion unless versioning
	Size         int64             `json:"size"`
	ETag         string            `json:"etag"` // unquoted, uppercase hex; multipart "HEX-N"
	CRC64        uint64            `json:"crc64"`
	Type         string            `json:"type"`
	StorageClass string            `json:"class"`
	Modified     time.Time         `json:"mtime"`
	ContentType  string            `json:"ctype,omitempty"`
	Headers      map[string]string `json:"hdr,omitempty"`  // canonical names: Cache-Control, Content-Disposition, Content-Encoding, Content-Language, Expires
	UserMeta     map[string]string `json:"meta,omitempty"` // lowercased names without the x-oss-meta- prefix
	ACL          string            `json:"acl,omitempty"`  // ""(=default)|private|public-read|public-read-write
	Tagging      string            `json:"tag,omitempty"`  // k=v&k2=v2 as sent
	Symlink      string            `json:"link,omitempty"` // target key for Symlink objects
	DeleteMarker bool              `json:"dm,omitempty"`
	Extents      []Extent          `json:"ext,omitempty"`
	// Extra carries feature data owned by the server (SSE envelope, WORM
	// bookkeeping, ...) that the store persists without interpreting.
	Extra map[string]string `json:"x,omitempty"`
}

// ListOptions selects a page of a bucket listing.
type ListOptions struct {
	Prefix    string
	Delimiter string
	Marker    string // exclusive: listing starts after this key (or common prefix)
	MaxKeys   int    // 1..1000
}

// ListResult is one page. NextMarker is the last key or common prefix
// returned when IsTruncated.
type ListResult struct {
	Objects        []Object
	CommonPrefixes []string
	IsTruncated    bool
	NextMarker     string
}

// Upload is a multipart upload in progress. Template holds the metadata
// from InitiateMultipartUpload that the completed object inherits.
type Upload struct {
	Key       string    `json:"key"`
	UploadID  string    `json:"id"`
	Initiated time.Time `json:"init"`
	Template  Object    `json:"tmpl"`
}

// Part is one uploaded part.
type Part struct {
	Number   int       `json:"num"`
	Size     int64     `json:"size"`
	ETag     string    `json:"etag"` // unquoted uppercase hex MD5
	MD5      []byte    `json:"md5"`
	CRC64    uint64    `json:"crc64"`
	Modified time.Time `json:"mtime"`
	Extent   Extent    `json:"ext"`
}

// UploadListOptions selects a page of ListMultipartUploads.
type UploadListOptions struct {
	Prefix         string
	Delimiter      string
	KeyMarker      string
	UploadIDMarker string
	MaxUploads     int // 1..1000
}

// UploadListResult is one page of uploads.
type UploadListResult struct {
	Uploads            []Upload
	CommonPrefixes     []string
	IsTruncated        bool
	NextKeyMarker      string
	NextUploadIDMarker string
}

// BucketStats are the counters GetBucketStat reports.
type BucketStats struct {
	Storage              int64 `json:"storage"`
	ObjectCount          int64 `json:"objects"`
	MultipartUploadCount int64 `json:"uploads"`
	LastModified         time.Time
}
