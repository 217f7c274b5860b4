package auth

import "strings"

// Membership flags of a query parameter name in the sub-resource lists that
// the V1 signature covers. The two SDK generations disagree (PROTOCOL.md
// §2.2), so the server tries the sets in turn; see v1Selections.
const (
	inV1List    uint8 = 1 << iota // aliyun-oss-go-sdk oss/conn.go signKeyList
	inV2Fixed                     // alibabacloud-oss-go-sdk-v2 signer/v1.go requiredSignedParametersMap
	inV2PerOp                     // names v2 operations pass as signer.SubResource
	isXOSSQuery                   // name starts with "x-oss-" (signed by the v2 SDK)
)

var subResourceFlags = func() map[string]uint8 {
	m := make(map[string]uint8, 160)
	add := func(flag uint8, names string) {
		for _, n := range strings.Fields(names) {
			m[n] |= flag
		}
	}
	add(inV1List, `acl uploads location cors logging website referer lifecycle delete append tagging objectMeta
		uploadId partNumber security-token position img style styleName replication replicationProgress
		replicationLocation cname bucketInfo comp qos live status vod startTime endTime symlink x-oss-process
		response-content-type x-oss-traffic-limit response-content-language response-expires
		response-cache-control response-content-disposition response-content-encoding udf udfName udfImage
		udfId udfImageDesc udfApplication udfApplicationLog restore callback callback-var qosInfo policy stat
		encryption versions versioning versionId requestPayment x-oss-request-payer sequential inventory
		inventoryId continuation-token asyncFetch worm wormId wormExtend withHashContext x-oss-enable-md5
		x-oss-enable-sha1 x-oss-enable-sha256 x-oss-hash-ctx x-oss-md5-ctx transferAcceleration regionList
		cloudboxes x-oss-ac-source-ip x-oss-ac-subnet-mask x-oss-ac-vpc-id x-oss-ac-forward-allow metaQuery
		resourceGroup rtc x-oss-async-process responseHeader`)
	add(inV2Fixed, `acl bucketInfo location stat delete append tagging objectMeta uploads uploadId partNumber
		security-token position response-content-type response-content-language response-expires
		response-cache-control response-content-disposition response-content-encoding restore callback
		callback-var versions versioning versionId sequential continuation-token regionList cloudboxes symlink`)
	add(inV2PerOp, `accessPoint accessPointConfigForObjectProcess accessPointForObjectProcess accessPointPolicy
		accessPointPolicyForObjectProcess bucketArchiveDirectRead cleanRestoredObject cloudboxes cname comp cors
		encryption httpsConfig inventory inventoryId legalHold lifecycle logging metaQuery metadataConfiguration
		metadataInventoryTable metadataJournalTable objectWorm overwriteConfig policy policyStatus
		publicAccessBlock quota redundancyTransition referer replication replicationLocation replicationProgress
		requestPayment resourceGroup retention rtc seal style styleName tagging transferAcceleration
		userDefinedLogFieldsConfig website worm wormExtend wormId x-oss-write-get-object-response`)
	return m
}()

// paramFlags returns the membership flags of a decoded parameter name.
func paramFlags(name string) uint8 {
	f := subResourceFlags[name]
	if strings.HasPrefix(name, "x-oss-") {
		f |= isXOSSQuery
	}
	return f
}

// v1Selection decides which parameters a V1 canonical resource includes.
type v1Selection uint8

const (
	// selUnion: v1 list ∪ v2 fixed ∪ v2 per-operation ∪ x-oss-* (tried first).
	selUnion v1Selection = iota
	// selStrictV1: the v1 SDK's list only; the v1 SDK leaves other x-oss-*
	// parameters unsigned.
	selStrictV1
	// selV2: what the v2 SDK signs; it leaves v1-only names (img, status,
	// live, ...) unsigned.
	selV2
)

// v1Selections is the order in which the sets are tried.
var v1Selections = [...]v1Selection{selUnion, selStrictV1, selV2}

func (s v1Selection) includes(flags uint8) bool {
	switch s {
	case selStrictV1:
		return flags&inV1List != 0
	case selV2:
		return flags&(inV2Fixed|inV2PerOp|isXOSSQuery) != 0
	default:
		return flags != 0
	}
}
