package server

import (
	"net/http"
	"sort"
	"strings"
)

// knownSubresources are OSS query parameters that select an operation
// (as opposed to modifiers such as versionId, partNumber, position,
// response-* or listing parameters). A request naming one this server does
// not implement gets 501 NotImplemented, never a misrouted 200.
var knownSubresources = toSet(`acl uploads location cors logging website referer lifecycle delete append tagging
objectMeta uploadId symlink img style styleName replication replicationProgress replicationLocation cname bucketInfo
comp qos live status vod udf udfName udfImage udfId udfImageDesc udfApplication udfApplicationLog restore callback
qosInfo policy stat encryption versions versioning requestPayment inventory inventoryId asyncFetch worm wormId
wormExtend transferAcceleration regionList cloudboxes metaQuery resourceGroup rtc x-oss-async-process responseHeader
x-oss-process objectWorm retention legalHold publicAccessBlock accessPoint accessPointForObjectProcess
httpsConfig overwriteConfig bucketArchiveDirectRead redundancyTransition accessMonitor policyStatus userDefinedLogFieldsConfig
dataPipeline metadataTable select processConfiguration`)

func toSet(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

type handler func(*reqCtx) error

// Operation tables: "<METHOD> <subresource>" → handler.
var (
	serviceOps = map[string]handler{
		"GET ": (*reqCtx).listBuckets,
	}
	bucketOps = map[string]handler{
		"GET ":              (*reqCtx).listObjects,
		"GET acl":           (*reqCtx).getBucketACL,
		"GET bucketInfo":    (*reqCtx).getBucketInfo,
		"GET location":      (*reqCtx).getBucketLocation,
		"GET stat":          (*reqCtx).getBucketStat,
		"GET uploads":       (*reqCtx).listUploads,
		"HEAD ":             (*reqCtx).headBucket,
		"PUT ":              (*reqCtx).createBucket,
		"PUT acl":           (*reqCtx).putBucketACL,
		"PUT encryption":    (*reqCtx).putBucketEncryption,
		"GET encryption":    (*reqCtx).getBucketEncryption,
		"DELETE encryption": (*reqCtx).deleteBucketEncryption,
		"DELETE ":           (*reqCtx).deleteBucket,
		"POST delete":       (*reqCtx).deleteMultiple,
		"POST ":             nil, // PostObject (browser form upload): not implemented
	}
	objectOps = map[string]handler{
		"GET ":            (*reqCtx).getObject,
		"HEAD ":           (*reqCtx).getObject,
		"GET objectMeta":  (*reqCtx).getObjectMeta,
		"HEAD objectMeta": (*reqCtx).getObjectMeta,
		"GET acl":         (*reqCtx).getObjectACL,
		"PUT acl":         (*reqCtx).putObjectACL,
		"GET symlink":     (*reqCtx).getSymlink,
		"PUT symlink":     (*reqCtx).putSymlink,
		"PUT ":            (*reqCtx).putOrCopyObject,
		"DELETE ":         (*reqCtx).deleteObject,
		"POST append":     (*reqCtx).appendObject,
		"POST uploads":    (*reqCtx).initiateUpload,
		"PUT uploadId":    (*reqCtx).uploadPart,
		"POST uploadId":   (*reqCtx).completeUpload,
		"DELETE uploadId": (*reqCtx).abortUpload,
		"GET uploadId":    (*reqCtx).listParts,
	}
)

// dispatch picks the handler from the level (service, bucket, object), the
// method and the sub-resource.
func (s *Server) dispatch(rc *reqCtx) error {
	var subs []string
	for k := range rc.query {
		if knownSubresources[k] {
			subs = append(subs, k)
		}
	}
	sort.Strings(subs)
	if len(subs) > 1 {
		for _, sub := range subs {
			if !implementedSubresources[sub] {
				return errNotImplemented("The sub-resource ?" + sub)
			}
		}
		return errInvalidArgument("sub-resource", strings.Join(subs, "&"),
			"A request selects one operation; the sub-resources %s cannot be combined.", strings.Join(subs, ", "))
	}
	sub := ""
	if len(subs) == 1 {
		sub = subs[0]
	}
	ops, level := objectOps, "Object"
	switch {
	case rc.bucket == "":
		ops, level = serviceOps, "Service"
	case rc.key == "":
		ops, level = bucketOps, "Bucket"
	}
	h, ok := ops[rc.r.Method+" "+sub]
	switch {
	case ok && h != nil:
		return h(rc)
	case ok:
		return errNotImplemented("The " + rc.r.Method + " operation on a " + strings.ToLower(level))
	case sub != "" && !implementedSubresources[sub]:
		// An OSS feature this server does not have (yet): whatever the
		// method, the honest answer is 501.
		return errNotImplemented("The " + rc.r.Method + " ?" + sub + " operation on a " + strings.ToLower(level))
	}
	// A sub-resource this server implements, used with a method or at a
	// level where OSS defines no operation: a client mistake.
	return errMethodNotAllowed(rc.r.Method, level)
}

// implementedSubresources are the sub-resources some entry of the
// operation tables handles; for them every other method and level
// combination is known not to exist.
var implementedSubresources = func() map[string]bool {
	m := map[string]bool{}
	for _, ops := range []map[string]handler{serviceOps, bucketOps, objectOps} {
		for k, h := range ops {
			if _, sub, _ := strings.Cut(k, " "); sub != "" && h != nil {
				m[sub] = true
			}
		}
	}
	return m
}()

// setHeaderRaw sets a header under an exact (lowercase) name, as OSS sends
// x-oss-meta-* names.
func setHeaderRaw(h http.Header, name, value string) { h[name] = []string{value} }
