package server

import (
	"errors"
	"fmt"

	"github.com/ossctl/ossctl/internal/auth"
	"github.com/ossctl/ossctl/internal/store"
)

// RAM action names of the operations this server implements.
const (
	actListBuckets          = "oss:ListBuckets"
	actPutBucket            = "oss:PutBucket"
	actDeleteBucket         = "oss:DeleteBucket"
	actGetBucketInfo        = "oss:GetBucketInfo"
	actGetBucketLocation    = "oss:GetBucketLocation"
	actGetBucketStat        = "oss:GetBucketStat"
	actGetBucketACL         = "oss:GetBucketAcl"
	actPutBucketACL         = "oss:PutBucketAcl"
	actListObjects          = "oss:ListObjects"
	actGetObject            = "oss:GetObject"
	actPutObject            = "oss:PutObject"
	actDeleteObject         = "oss:DeleteObject"
	actGetObjectACL         = "oss:GetObjectAcl"
	actPutObjectACL         = "oss:PutObjectAcl"
	actGetSymlink           = "oss:GetSymlink"
	actPutSymlink           = "oss:PutSymlink"
	actListParts            = "oss:ListParts"
	actAbortMultipartUpload = "oss:AbortMultipartUpload"
	actListMultipartUploads = "oss:ListMultipartUploads"

	actPutBucketEncryption    = "oss:PutBucketEncryption"
	actGetBucketEncryption    = "oss:GetBucketEncryption"
	actDeleteBucketEncryption = "oss:DeleteBucketEncryption"
)

// aclRead are the actions a public-read ACL grants to everyone;
// aclWrite are the further ones public-read-write grants.
var (
	aclRead = map[string]bool{
		actGetObject: true, actListObjects: true, actGetSymlink: true,
	}
	aclWrite = map[string]bool{
		actPutObject: true, actDeleteObject: true, actPutSymlink: true,
		actListParts: true, actAbortMultipartUpload: true, actListMultipartUploads: true,
	}
)

// authorize is the single place that decides whether principal p may
// perform action on bucket b (nil for service-level operations and
// CreateBucket), object key (may be "") whose current record is obj (nil if
// absent or not applicable). It returns nil or an AccessDenied error whose
// message says why. Every request passes through it; later features
// (bucket policy, RAM policies, referer rules, WORM) plug in here.
func (s *Server) authorize(p *auth.Principal, action string, b *store.Bucket, key string, obj *store.Object) error {
	if p == nil {
		p = &auth.Principal{Anonymous: true}
	}
	owner := s.accountID
	switch {
	case b != nil && b.Owner != "":
		owner = b.Owner
	case b == nil && !p.Anonymous && p.AccountID != "":
		// Service-level operations (ListBuckets, PutBucket) act on the
		// caller's own account: any account may list and create its own
		// buckets.
		owner = p.AccountID
	}
	// The account's own keys (root or the account key itself) may do
	// everything on the account's resources.
	if !p.Anonymous && p.AccountID == owner && (p.Root || p.UserName == "") {
		return nil
	}
	if b == nil {
		if p.Anonymous {
			return denied(action, "anonymous access is forbidden for this operation")
		}
		return denied(action, fmt.Sprintf("%s is reserved to the account owner", action))
	}
	who := "anonymous requests"
	if !p.Anonymous {
		who = fmt.Sprintf("AccessKey %s (not the bucket owner)", p.AccessKeyID)
	}
	if !aclRead[action] && !aclWrite[action] {
		return denied(action, fmt.Sprintf("%s on bucket %s is reserved to the bucket owner; %s may not perform it", action, b.Name, who))
	}
	acl, source := b.ACL, "bucket ACL"
	if obj != nil && obj.ACL != "" && obj.ACL != aclDefault {
		acl, source = obj.ACL, "object ACL"
	}
	switch {
	case acl == aclPublicReadWrite:
		return nil
	case acl == aclPublicRead && aclRead[action]:
		return nil
	}
	if acl == "" {
		acl = aclPrivate
	}
	target := "bucket " + b.Name
	if key != "" {
		target = fmt.Sprintf("object %s/%s", b.Name, key)
	}
	return denied(action, fmt.Sprintf("the %s of %s is %s, which does not grant %s to %s", source, target, acl, action, who))
}

func denied(action, why string) *apiError {
	return errAccessDenied("You have no right to access this resource: %s.", why).
		with("AuthAction", action)
}

// allow runs authorize for the current request and records the reason of a
// denial for the access log.
func (rc *reqCtx) allow(action string, b *store.Bucket, key string, obj *store.Object) error {
	err := rc.s.authorize(rc.principal, action, b, key, obj)
	var ae *apiError
	if errors.As(err, &ae) {
		rc.denyWhy = ae.Message
	} else if err != nil {
		rc.denyWhy = err.Error()
	}
	return err
}
