package pop

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ossctl/ossctl/internal/store"
)

// kmsActions is the dispatch table of KMS 2016-01-20.
func (h *Handler) kmsActions() map[string]action {
	return map[string]action{
		"CreateKey":                       h.createKey,
		"DescribeKey":                     h.describeKey,
		"ListKeys":                        h.listKeys,
		"EnableKey":                       h.enableKey,
		"DisableKey":                      h.disableKey,
		"ScheduleKeyDeletion":             h.scheduleKeyDeletion,
		"CancelKeyDeletion":               h.cancelKeyDeletion,
		"CreateAlias":                     h.createAlias,
		"UpdateAlias":                     h.updateAlias,
		"DeleteAlias":                     h.deleteAlias,
		"ListAliases":                     h.listAliases,
		"ListAliasesByKeyId":              h.listAliasesByKeyID,
		"Encrypt":                         h.encrypt,
		"Decrypt":                         h.decrypt,
		"GenerateDataKey":                 h.generateDataKey,
		"GenerateDataKeyWithoutPlaintext": h.generateDataKeyWithoutPlaintext,
		"ReEncrypt":                       h.reEncrypt,
		"CreateKeyVersion":                h.createKeyVersion,
		"ListKeyVersions":                 h.listKeyVersions,
		"GetParametersForImport":          h.getParametersForImport,
		"ImportKeyMaterial":               h.importKeyMaterial,
	}
}

// Constants of the key model.
const (
	keySpecAES256      = "Aliyun_AES_256"
	keyUsageEncrypt    = "ENCRYPT/DECRYPT"
	protectionSoftware = "SOFTWARE"
	timeFormat         = "2006-01-02T15:04:05Z"

	minPendingDays      = 7
	maxPendingDays      = 366
	minRotationInterval = 7 * 24 * time.Hour
	maxRotationInterval = 365 * 24 * time.Hour
	importTokenTTL      = 24 * time.Hour
	maxDescriptionLen   = 8192
	maxDataKeyBytes     = 1024
	maxPageSize         = 100
	defaultPageSize     = 10
)

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

// ---- parameters ----

func (rq *request) required(name string) (string, error) {
	v := rq.str(name)
	if v == "" {
		return "", errMissing(name)
	}
	return v, nil
}

// strOr returns parameter name, or def when it is empty.
func (rq *request) strOr(name, def string) string {
	if v := rq.str(name); v != "" {
		return v
	}
	return def
}

// intParam parses an optional integer parameter within [lo, hi].
func (rq *request) intParam(name string, def, lo, hi int64) (int64, error) {
	s := strings.TrimSpace(rq.str(name))
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, errInvalidParameter(fmt.Sprintf("The parameter %s %s is invalid; expected an integer from %d to %d.", name, quote(s), lo, hi))
	}
	return n, nil
}

func (rq *request) boolParam(name string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(rq.str(name))) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, errInvalidParameter("The parameter " + name + " " + quote(rq.str(name)) + " is invalid; expected true or false.")
	}
}

// page parses PageNumber (≥ 1, default 1) and PageSize (1–100, default 10).
func (rq *request) page() (number, size int, err error) {
	n, err := rq.intParam("PageNumber", 1, 1, 1<<31-1)
	if err != nil {
		return 0, 0, err
	}
	s, err := rq.intParam("PageSize", defaultPageSize, 1, maxPageSize)
	if err != nil {
		return 0, 0, err
	}
	return int(n), int(s), nil
}

// pageBounds returns the slice bounds of page number/size over total items.
func pageBounds(number, size, total int) (lo, hi int) {
	if number-1 > total/size {
		return total, total
	}
	lo = (number - 1) * size
	return lo, min(lo+size, total)
}

// listPage returns the header of a paged list response over total items
// and the slice bounds of page number/size.
func (rq *request) listPage(number, size, total int) (hdr listHeader, lo, hi int) {
	lo, hi = pageBounds(number, size, total)
	return listHeader{RequestID: rq.requestID, PageNumber: number, PageSize: size, TotalCount: total}, lo, hi
}

// dryRun answers DryRunOperation once validation and authorization passed.
func (rq *request) dryRun() error {
	on, err := rq.boolParam("DryRun")
	if err != nil {
		return err
	}
	if on {
		return &Error{Status: http.StatusBadRequest, Code: CodeDryRunOperation,
			Message: "Request validation has been passed with DryRun flag set."}
	}
	return nil
}

// ---- ARNs and key resolution ----

func (h *Handler) arnPrefix() string           { return "acs:kms:" + h.cfg.Region + ":" + h.cfg.AccountID + ":" }
func (h *Handler) keyARN(id string) string     { return h.arnPrefix() + "key/" + id }
func (h *Handler) aliasARN(name string) string { return h.arnPrefix() + name }

// resolveRef turns a KeyId parameter (key id, alias/<name>, key ARN or
// alias ARN) into a key id.
func (h *Handler) resolveRef(ref string) (string, error) {
	if strings.HasPrefix(ref, "acs:") {
		rest, ok := strings.CutPrefix(ref, h.arnPrefix())
		if !ok {
			return "", errKeyNotFound(ref)
		}
		ref = rest
		if id, ok := strings.CutPrefix(ref, "key/"); ok {
			return id, nil
		}
		if !strings.HasPrefix(ref, "alias/") {
			return "", errKeyNotFound(ref)
		}
	}
	if strings.HasPrefix(ref, "alias/") {
		a, err := h.getAlias(ref)
		if err != nil {
			return "", err
		}
		if a == nil {
			return "", errAliasNotFound(ref)
		}
		return a.KeyID, nil
	}
	return ref, nil
}

// loadKey resolves ref to a live key. A key whose deletion date has passed
// is purged and reported as not found.
func (rq *request) loadKey(ref string) (*keyRecord, error) {
	h := rq.h
	id, err := h.resolveRef(ref)
	if err != nil {
		return nil, err
	}
	if !isUUID(id) {
		return nil, errKeyNotFound(ref)
	}
	k, err := h.getKey(id)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, errKeyNotFound(ref)
	}
	if _, deleted := k.effectiveState(rq.now); deleted {
		if err := h.kv.Txn(func(tx *store.KVTx) error {
			_, err := txPurgeKey(tx, id, rq.now)
			return err
		}); err != nil {
			h.log.Warn("pop: purging deleted key", "key", id, "err", err)
		}
		return nil, errKeyNotFound(ref)
	}
	return k, nil
}

// authorizedKey loads the key ref names and authorizes act on it.
func (rq *request) authorizedKey(ref, act string) (*keyRecord, error) {
	k, err := rq.loadKey(ref)
	if err != nil {
		return nil, err
	}
	if err := rq.authorize(act, rq.h.keyARN(k.ID)); err != nil {
		return nil, err
	}
	return k, nil
}

// keyParam loads the key the KeyId parameter names and authorizes act on
// it.
func (rq *request) keyParam(act string) (*keyRecord, error) {
	ref, err := rq.required("KeyId")
	if err != nil {
		return nil, err
	}
	return rq.authorizedKey(ref, act)
}

// keyPage reads the KeyId and paging parameters of a per-key list action
// and loads the key, authorizing act on it.
func (rq *request) keyPage(act string) (k *keyRecord, number, size int, err error) {
	ref, err := rq.required("KeyId")
	if err != nil {
		return nil, 0, 0, err
	}
	if number, size, err = rq.page(); err != nil {
		return nil, 0, 0, err
	}
	if k, err = rq.authorizedKey(ref, act); err != nil {
		return nil, 0, 0, err
	}
	return k, number, size, nil
}

// usable fails unless the key may be used for cryptographic operations.
func (rq *request) usable(k *keyRecord) error {
	state, _ := k.effectiveState(rq.now)
	if state != StateEnabled {
		return errState(state, k.ID, "it cannot be used for cryptographic operations")
	}
	return nil
}

// material unseals one version's key material.
func (h *Handler) material(k *keyRecord, versionID string) ([]byte, error) {
	v := k.version(versionID)
	if v == nil {
		return nil, fmt.Errorf("pop: key %s has no version %s", k.ID, versionID)
	}
	m, err := h.cfg.Sealer.Open(v.Sealed, materialAAD(k.ID, v.ID))
	if err != nil {
		return nil, fmt.Errorf("pop: unsealing material of key %s version %s: %w", k.ID, v.ID, err)
	}
	if len(m) != materialLen {
		return nil, fmt.Errorf("pop: key %s version %s: material of %d bytes", k.ID, v.ID, len(m))
	}
	return m, nil
}

// newVersion makes a sealed version holding fresh (or given) material.
func (h *Handler) newVersion(keyID string, material []byte, now time.Time) (keyVersion, error) {
	vid, err := newUUID(h.rand)
	if err != nil {
		return keyVersion{}, err
	}
	if material == nil {
		if material, err = randomBytes(h.rand, materialLen); err != nil {
			return keyVersion{}, err
		}
		defer clear(material)
	}
	sealed, err := h.cfg.Sealer.Seal(material, materialAAD(keyID, vid))
	if err != nil {
		return keyVersion{}, fmt.Errorf("pop: sealing key material: %w", err)
	}
	return keyVersion{ID: vid, Created: now.UTC(), Sealed: sealed}, nil
}

// rotateIfDue performs a due automatic rotation and returns the current
// record.
func (rq *request) rotateIfDue(k *keyRecord) (*keyRecord, error) {
	next := k.nextRotation()
	if next.IsZero() || rq.now.Before(next) || k.Origin != OriginKMS {
		return k, nil
	}
	v, err := rq.h.newVersion(k.ID, nil, rq.now)
	if err != nil {
		return nil, err
	}
	var out *keyRecord
	err = rq.h.kv.Txn(func(tx *store.KVTx) error {
		cur, err := txGetKey(tx, k.ID)
		if err != nil {
			return err
		}
		if cur == nil {
			return errKeyNotFound(k.ID)
		}
		out = cur
		if n := cur.nextRotation(); n.IsZero() || rq.now.Before(n) {
			return nil // someone else rotated it
		}
		cur.Versions = append(cur.Versions, v)
		cur.PrimaryVersion = v.ID
		cur.LastRotation = rq.now.UTC()
		return txPutKey(tx, cur)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// updateKey runs fn on the current record of id inside a transaction and
// stores the result.
func (rq *request) updateKey(id string, fn func(k *keyRecord) error) (*keyRecord, error) {
	var out *keyRecord
	err := rq.h.kv.Txn(func(tx *store.KVTx) error {
		k, err := txGetKey(tx, id)
		if err != nil {
			return err
		}
		if k == nil {
			return errKeyNotFound(id)
		}
		if _, deleted := k.effectiveState(rq.now); deleted {
			return errKeyNotFound(id)
		}
		if err := fn(k); err != nil {
			return err
		}
		out = k
		return txPutKey(tx, k)
	})
	return out, err
}

func (h *Handler) metadata(k *keyRecord, now time.Time) keyMetadata {
	state, _ := k.effectiveState(now)
	m := keyMetadata{
		KeyID:              k.ID,
		Arn:                h.keyARN(k.ID),
		KeyState:           state,
		KeyUsage:           k.KeyUsage,
		KeySpec:            k.KeySpec,
		Origin:             k.Origin,
		ProtectionLevel:    k.ProtectionLevel,
		Description:        k.Description,
		Creator:            k.Creator,
		CreationDate:       fmtTime(k.Created),
		PrimaryKeyVersion:  k.PrimaryVersion,
		AutomaticRotation:  "Disabled",
		LastRotationDate:   fmtTime(k.LastRotation),
		MaterialExpireTime: fmtTime(k.MaterialExpire),
		DeletionProtection: "Disabled",
	}
	if m.LastRotationDate == "" {
		m.LastRotationDate = fmtTime(k.Created)
	}
	if state == StatePendingDeletion {
		m.DeleteDate = fmtTime(k.DeleteDate)
	}
	if k.AutoRotation {
		m.AutomaticRotation = "Enabled"
		m.RotationInterval = strconv.FormatInt(k.RotationInterval, 10) + "s"
		m.NextRotationDate = fmtTime(k.nextRotation())
	}
	return m
}

// ---- key lifecycle ----

var rotationRE = regexp.MustCompile(`^\d+[dhms]$`)

// parseRotationInterval parses "<n>d|h|m|s" (e.g. "604800s", "7d").
func parseRotationInterval(s string) (time.Duration, error) {
	if !rotationRE.MatchString(s) {
		return 0, errInvalidParameter("The RotationInterval " + quote(s) + " is invalid; use an integer and a unit d, h, m or s, e.g. 7d or 604800s.")
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n > 1<<40 {
		return 0, errInvalidParameter("The RotationInterval " + quote(s) + " is out of range.")
	}
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute, 's': time.Second}[s[len(s)-1]]
	d := time.Duration(n) * unit
	if d < minRotationInterval || d > maxRotationInterval {
		return 0, errInvalidParameter("The RotationInterval " + quote(s) + " must be from 7 days to 365 days.")
	}
	return d, nil
}

func (h *Handler) createKey(rq *request) (any, error) {
	spec := rq.strOr("KeySpec", keySpecAES256)
	if spec != keySpecAES256 {
		return nil, errInvalidParameter("The KeySpec " + quote(spec) + " is not supported; this server supports Aliyun_AES_256.")
	}
	usage := rq.strOr("KeyUsage", keyUsageEncrypt)
	if usage != keyUsageEncrypt {
		return nil, errInvalidParameter("The KeyUsage " + quote(usage) + " is invalid for an Aliyun_AES_256 key; use ENCRYPT/DECRYPT.")
	}
	origin := rq.strOr("Origin", OriginKMS)
	if origin != OriginKMS && origin != OriginExternal {
		return nil, errInvalidParameter("The Origin " + quote(origin) + " is invalid; use Aliyun_KMS or EXTERNAL.")
	}
	protection := rq.strOr("ProtectionLevel", protectionSoftware)
	if protection != protectionSoftware {
		return nil, errInvalidParameter("The ProtectionLevel " + quote(protection) + " is not supported; this server supports SOFTWARE.")
	}
	if rq.str("DKMSInstanceId") != "" {
		return nil, errUnsupported("Dedicated KMS instances (DKMSInstanceId) are not supported by this server.")
	}
	desc := rq.str("Description")
	if len(desc) > maxDescriptionLen {
		return nil, errInvalidParameter(fmt.Sprintf("The Description exceeds %d bytes.", maxDescriptionLen))
	}
	autoRot, err := rq.boolParam("EnableAutomaticRotation")
	if err != nil {
		return nil, err
	}
	var interval time.Duration
	if autoRot {
		if origin == OriginExternal {
			return nil, errUnsupported("Automatic rotation is not supported for keys with Origin EXTERNAL.")
		}
		s, err := rq.required("RotationInterval")
		if err != nil {
			return nil, err
		}
		if interval, err = parseRotationInterval(s); err != nil {
			return nil, err
		}
	}
	tags := rq.str("Tags")
	if tags != "" {
		var parsed []struct {
			TagKey   string `json:"TagKey"`
			TagValue string `json:"TagValue"`
		}
		if err := json.Unmarshal([]byte(tags), &parsed); err != nil {
			return nil, errInvalidParameter(`The Tags must be a JSON array of {"TagKey","TagValue"} objects.`)
		}
		for _, t := range parsed {
			if t.TagKey == "" {
				return nil, errInvalidParameter("The Tags contain an empty TagKey.")
			}
		}
	}
	policy := rq.str("Policy")
	if policy != "" && !json.Valid([]byte(policy)) {
		return nil, errInvalidParameter("The Policy is not valid JSON.")
	}
	if err := rq.authorize("kms:CreateKey", h.keyARN("*")); err != nil {
		return nil, err
	}

	id, err := newUUID(h.rand)
	if err != nil {
		return nil, err
	}
	k := &keyRecord{
		ID:               id,
		Description:      desc,
		KeySpec:          spec,
		KeyUsage:         usage,
		Origin:           origin,
		ProtectionLevel:  protection,
		State:            StateEnabled,
		Created:          rq.now.UTC().Truncate(time.Second),
		Creator:          h.cfg.AccountID,
		AutoRotation:     autoRot,
		RotationInterval: int64(interval / time.Second),
		Tags:             tags,
		Policy:           policy,
	}
	if origin == OriginExternal {
		k.State = StatePendingImport
	} else {
		v, err := h.newVersion(id, nil, k.Created)
		if err != nil {
			return nil, err
		}
		k.Versions = []keyVersion{v}
		k.PrimaryVersion = v.ID
	}
	err = h.kv.Txn(func(tx *store.KVTx) error {
		if old, err := tx.Get(keyKey(id)); err == nil && old != nil {
			return errors.New("pop: key id collision")
		}
		return txPutKey(tx, k)
	})
	if err != nil {
		return nil, err
	}
	return &keyMetadataResponse{RequestID: rq.requestID, KeyMetadata: h.metadata(k, rq.now)}, nil
}

func (h *Handler) describeKey(rq *request) (any, error) {
	k, err := rq.keyParam("kms:DescribeKey")
	if err != nil {
		return nil, err
	}
	return &keyMetadataResponse{RequestID: rq.requestID, KeyMetadata: h.metadata(k, rq.now)}, nil
}

// keyFilter is one ListKeys filter.
type keyFilter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

func (h *Handler) listKeys(rq *request) (any, error) {
	number, size, err := rq.page()
	if err != nil {
		return nil, err
	}
	var filters []keyFilter
	if f := rq.str("Filters"); f != "" {
		if err := json.Unmarshal([]byte(f), &filters); err != nil {
			return nil, errInvalidParameter(`The Filters must be a JSON array of {"Key","Values"} objects.`)
		}
		for _, flt := range filters {
			switch flt.Key {
			case "KeyState", "KeySpec", "KeyUsage", "ProtectionLevel", "CreatorType":
			default:
				return nil, errInvalidParameter("The filter key " + quote(flt.Key) + " is not supported; use KeyState, KeySpec, KeyUsage, ProtectionLevel or CreatorType.")
			}
		}
	}
	if err := rq.authorize("kms:ListKeys", h.keyARN("*")); err != nil {
		return nil, err
	}
	var all []keyEntry
	err = h.scan(pfxKey, func(_ string, v []byte) error {
		k, err := decodeKey(v)
		if err != nil {
			return err
		}
		state, deleted := k.effectiveState(rq.now)
		if deleted {
			return nil
		}
		for _, flt := range filters {
			var field string
			switch flt.Key {
			case "KeyState":
				field = state
			case "KeySpec":
				field = k.KeySpec
			case "KeyUsage":
				field = k.KeyUsage
			case "ProtectionLevel":
				field = k.ProtectionLevel
			case "CreatorType":
				field = "User"
			}
			if !slices.Contains(flt.Values, field) {
				return nil
			}
		}
		all = append(all, keyEntry{KeyID: k.ID, KeyArn: h.keyARN(k.ID)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	hdr, lo, hi := rq.listPage(number, size, len(all))
	return &listKeysResponse{listHeader: hdr, Keys: keyList{Key: append([]keyEntry{}, all[lo:hi]...)}}, nil
}

// setEnabled implements EnableKey and DisableKey.
func (h *Handler) setEnabled(rq *request, enable bool) (any, error) {
	act := "kms:DisableKey"
	if enable {
		act = "kms:EnableKey"
	}
	k, err := rq.keyParam(act)
	if err != nil {
		return nil, err
	}
	_, err = rq.updateKey(k.ID, func(k *keyRecord) error {
		state, _ := k.effectiveState(rq.now)
		switch state {
		case StatePendingDeletion, StatePendingImport:
			return &Error{Status: http.StatusConflict, Code: CodeStateModifiedFailed,
				Message: "The key " + k.ID + " is " + state + "; its state cannot be modified."}
		}
		if enable {
			k.State = StateEnabled
		} else {
			k.State = StateDisabled
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &emptyResponse{RequestID: rq.requestID}, nil
}

func (h *Handler) enableKey(rq *request) (any, error)  { return h.setEnabled(rq, true) }
func (h *Handler) disableKey(rq *request) (any, error) { return h.setEnabled(rq, false) }

func (h *Handler) scheduleKeyDeletion(rq *request) (any, error) {
	ref, err := rq.required("KeyId")
	if err != nil {
		return nil, err
	}
	if _, err := rq.required("PendingWindowInDays"); err != nil {
		return nil, err
	}
	days, err := rq.intParam("PendingWindowInDays", 0, minPendingDays, maxPendingDays)
	if err != nil {
		return nil, err
	}
	k, err := rq.authorizedKey(ref, "kms:ScheduleKeyDeletion")
	if err != nil {
		return nil, err
	}
	_, err = rq.updateKey(k.ID, func(k *keyRecord) error {
		if k.State == StatePendingDeletion {
			return errState(StatePendingDeletion, k.ID, "its deletion is already scheduled")
		}
		k.State = StatePendingDeletion
		k.DeleteDate = rq.now.UTC().Truncate(time.Second).Add(time.Duration(days) * 24 * time.Hour)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &emptyResponse{RequestID: rq.requestID}, nil
}

func (h *Handler) cancelKeyDeletion(rq *request) (any, error) {
	k, err := rq.keyParam("kms:CancelKeyDeletion")
	if err != nil {
		return nil, err
	}
	_, err = rq.updateKey(k.ID, func(k *keyRecord) error {
		if state, _ := k.effectiveState(rq.now); state != StatePendingDeletion {
			return errState(state, k.ID, "no deletion is scheduled")
		}
		k.DeleteDate = time.Time{}
		k.State = StateEnabled
		if k.Origin == OriginExternal && (k.PrimaryVersion == "" || k.materialExpired(rq.now)) {
			k.State = StatePendingImport
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &emptyResponse{RequestID: rq.requestID}, nil
}

// ---- aliases ----

var aliasRE = regexp.MustCompile(`^alias/[A-Za-z0-9_/-]{1,255}$`)

func validAlias(name string) error {
	if !aliasRE.MatchString(name) {
		return errInvalidParameter("The AliasName " + quote(name) + ` is invalid; use "alias/" followed by 1 to 255 letters, digits, "_", "-" or "/".`)
	}
	if strings.HasPrefix(name, "alias/acs/") {
		return errInvalidParameter("The AliasName " + quote(name) + ` is reserved: "alias/acs/" names belong to Alibaba Cloud services.`)
	}
	return nil
}

// aliasTarget loads the key an alias is to point at; it must be named by
// id or key ARN, not by another alias.
func (rq *request) aliasTarget() (*keyRecord, error) {
	ref, err := rq.required("KeyId")
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(ref, "alias/") || strings.Contains(ref, ":alias/") {
		return nil, errInvalidParameter("The KeyId of an alias must be a key id or key ARN, not an alias.")
	}
	return rq.loadKey(ref)
}

// aliasName reads and checks the AliasName parameter.
func (rq *request) aliasName() (string, error) {
	name, err := rq.required("AliasName")
	if err != nil {
		return "", err
	}
	if err := validAlias(name); err != nil {
		return "", err
	}
	return name, nil
}

// putAlias is CreateAlias and UpdateAlias: it authorizes act on the alias
// and its target key, then, in one transaction, stores the record next
// returns for the alias's current record (nil when absent) and moves the
// key's alias index entry to the target.
func (h *Handler) putAlias(rq *request, act string, next func(name, keyID string, cur *aliasRecord) (*aliasRecord, error)) (any, error) {
	name, err := rq.aliasName()
	if err != nil {
		return nil, err
	}
	k, err := rq.aliasTarget()
	if err != nil {
		return nil, err
	}
	if err := rq.authorize(act, h.aliasARN(name)); err != nil {
		return nil, err
	}
	if err := rq.authorize(act, h.keyARN(k.ID)); err != nil {
		return nil, err
	}
	err = h.kv.Txn(func(tx *store.KVTx) error {
		cur, err := txGetKey(tx, k.ID)
		if err != nil {
			return err
		}
		if cur == nil {
			return errKeyNotFound(k.ID)
		}
		a, err := txGetAlias(tx, name)
		if err != nil {
			return err
		}
		old := ""
		if a != nil {
			old = a.KeyID
		}
		a, err = next(name, k.ID, a)
		if err != nil {
			return err
		}
		rec, err := encodeJSON(a)
		if err != nil {
			return err
		}
		if err := tx.Put(aliasKey(name), rec); err != nil {
			return err
		}
		if old != "" && old != k.ID {
			if err := tx.Delete(keyAliasKey(old, name)); err != nil {
				return err
			}
		}
		return tx.Put(keyAliasKey(k.ID, name), []byte{})
	})
	if err != nil {
		return nil, err
	}
	return &emptyResponse{RequestID: rq.requestID}, nil
}

func (h *Handler) createAlias(rq *request) (any, error) {
	return h.putAlias(rq, "kms:CreateAlias", func(name, keyID string, cur *aliasRecord) (*aliasRecord, error) {
		if cur != nil {
			return nil, &Error{Status: http.StatusConflict, Code: CodeAliasExists,
				Message: "The alias " + quote(name) + " already exists."}
		}
		return &aliasRecord{Name: name, KeyID: keyID, Created: rq.now.UTC(), Updated: rq.now.UTC()}, nil
	})
}

func (h *Handler) updateAlias(rq *request) (any, error) {
	return h.putAlias(rq, "kms:UpdateAlias", func(name, keyID string, cur *aliasRecord) (*aliasRecord, error) {
		if cur == nil {
			return nil, errAliasNotFound(name)
		}
		cur.KeyID, cur.Updated = keyID, rq.now.UTC()
		return cur, nil
	})
}

func (h *Handler) deleteAlias(rq *request) (any, error) {
	name, err := rq.aliasName()
	if err != nil {
		return nil, err
	}
	if err := rq.authorize("kms:DeleteAlias", h.aliasARN(name)); err != nil {
		return nil, err
	}
	err = h.kv.Txn(func(tx *store.KVTx) error {
		a, err := txGetAlias(tx, name)
		if err != nil {
			return err
		}
		if a == nil {
			return errAliasNotFound(name)
		}
		if err := tx.Delete(aliasKey(name)); err != nil {
			return err
		}
		return tx.Delete(keyAliasKey(a.KeyID, name))
	})
	if err != nil {
		return nil, err
	}
	return &emptyResponse{RequestID: rq.requestID}, nil
}

// aliasPage answers ListAliases and ListAliasesByKeyId with page
// number/size of all.
func (rq *request) aliasPage(number, size int, all []aliasEntry) *listAliasesResponse {
	hdr, lo, hi := rq.listPage(number, size, len(all))
	return &listAliasesResponse{listHeader: hdr, Aliases: aliasList{Alias: append([]aliasEntry{}, all[lo:hi]...)}}
}

func (h *Handler) listAliases(rq *request) (any, error) {
	number, size, err := rq.page()
	if err != nil {
		return nil, err
	}
	if err := rq.authorize("kms:ListAliases", h.aliasARN("alias/*")); err != nil {
		return nil, err
	}
	var all []aliasEntry
	err = h.scan(pfxAlias, func(_ string, v []byte) error {
		var a aliasRecord
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("pop: corrupt alias record: %w", err)
		}
		if k, err := h.getKey(a.KeyID); err != nil {
			return err
		} else if k == nil {
			return nil
		} else if _, deleted := k.effectiveState(rq.now); deleted {
			return nil
		}
		all = append(all, aliasEntry{AliasName: a.Name, AliasArn: h.aliasARN(a.Name), KeyID: a.KeyID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rq.aliasPage(number, size, all), nil
}

func (h *Handler) listAliasesByKeyID(rq *request) (any, error) {
	k, number, size, err := rq.keyPage("kms:ListAliasesByKeyId")
	if err != nil {
		return nil, err
	}
	prefix := pfxKeyAlias + k.ID + "/"
	var all []aliasEntry
	err = h.scan(prefix, func(key string, _ []byte) error {
		name := key[len(prefix):]
		all = append(all, aliasEntry{AliasName: name, AliasArn: h.aliasARN(name), KeyID: k.ID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rq.aliasPage(number, size, all), nil
}

// ---- cryptographic operations ----

// encryptKey prepares ref's primary version for encryption: resolve,
// authorize act, check the state, rotate if due, unseal.
func (rq *request) encryptKey(ref, act string) (*keyRecord, []byte, error) {
	k, err := rq.authorizedKey(ref, act)
	if err != nil {
		return nil, nil, err
	}
	if err := rq.usable(k); err != nil {
		return nil, nil, err
	}
	if k, err = rq.rotateIfDue(k); err != nil {
		return nil, nil, err
	}
	m, err := rq.h.material(k, k.PrimaryVersion)
	if err != nil {
		return nil, nil, err
	}
	return k, m, nil
}

func (h *Handler) encrypt(rq *request) (any, error) {
	ref, err := rq.required("KeyId")
	if err != nil {
		return nil, err
	}
	pt, err := rq.required("Plaintext")
	if err != nil {
		return nil, err
	}
	if len(pt) > maxPlaintextLen {
		return nil, errInvalidParameter(fmt.Sprintf("The Plaintext exceeds %d bytes.", maxPlaintextLen))
	}
	ctx, err := parseContext("EncryptionContext", rq.str("EncryptionContext"))
	if err != nil {
		return nil, err
	}
	k, m, err := rq.encryptKey(ref, "kms:Encrypt")
	if err != nil {
		return nil, err
	}
	defer clear(m)
	if err := rq.dryRun(); err != nil {
		return nil, err
	}
	blob, err := encryptBlob(h.rand, m, k.ID, k.PrimaryVersion, []byte(pt), ctx)
	if err != nil {
		return nil, err
	}
	return &encryptResponse{RequestID: rq.requestID, KeyID: k.ID, KeyVersionID: k.PrimaryVersion, CiphertextBlob: blob}, nil
}

// openBlob decrypts a CiphertextBlob parameter after authorizing act on
// its key and checking the key's state.
func (rq *request) openBlob(blobParam, ctxParam, act string) (*keyRecord, *parsedBlob, []byte, error) {
	s, err := rq.required(blobParam)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, err := parseContext(ctxParam, rq.str(ctxParam))
	if err != nil {
		return nil, nil, nil, err
	}
	b, err := parseBlob(s)
	if err != nil {
		return nil, nil, nil, errInvalidParameter("The " + blobParam + " is invalid.")
	}
	if !isUUID(b.keyID) {
		return nil, nil, nil, errInvalidParameter("The " + blobParam + " is invalid.")
	}
	k, err := rq.authorizedKey(b.keyID, act)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := rq.usable(k); err != nil {
		return nil, nil, nil, err
	}
	if k.version(b.versionID) == nil {
		return nil, nil, nil, errInvalidParameter("The " + blobParam + " is invalid: it names an unknown key version.")
	}
	m, err := rq.h.material(k, b.versionID)
	if err != nil {
		return nil, nil, nil, err
	}
	defer clear(m)
	pt, err := decryptBlob(m, b, ctx)
	if err != nil {
		return nil, nil, nil, errInvalidParameter("The " + blobParam + " is invalid or the " + ctxParam + " does not match the one used to encrypt it.")
	}
	return k, b, pt, nil
}

func (h *Handler) decrypt(rq *request) (any, error) {
	k, b, pt, err := rq.openBlob("CiphertextBlob", "EncryptionContext", "kms:Decrypt")
	if err != nil {
		return nil, err
	}
	if err := rq.dryRun(); err != nil {
		return nil, err
	}
	return &decryptResponse{RequestID: rq.requestID, KeyID: k.ID, KeyVersionID: b.versionID, Plaintext: string(pt)}, nil
}

func (h *Handler) dataKey(rq *request, withPlaintext bool) (any, error) {
	ref, err := rq.required("KeyId")
	if err != nil {
		return nil, err
	}
	n := 32
	switch spec := rq.str("KeySpec"); spec {
	case "", "AES_256":
	case "AES_128":
		n = 16
	default:
		return nil, errInvalidParameter("The KeySpec " + quote(spec) + " is invalid; use AES_256 or AES_128.")
	}
	nb, err := rq.intParam("NumberOfBytes", 0, 1, maxDataKeyBytes)
	if err != nil {
		return nil, err
	}
	if nb > 0 {
		n = int(nb)
	}
	ctx, err := parseContext("EncryptionContext", rq.str("EncryptionContext"))
	if err != nil {
		return nil, err
	}
	act := "kms:GenerateDataKey"
	if !withPlaintext {
		act = "kms:GenerateDataKeyWithoutPlaintext"
	}
	k, m, err := rq.encryptKey(ref, act)
	if err != nil {
		return nil, err
	}
	defer clear(m)
	if err := rq.dryRun(); err != nil {
		return nil, err
	}
	raw, err := randomBytes(h.rand, n)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	// The blob holds base64(raw): Decrypt of it returns exactly the
	// Plaintext field GenerateDataKey answers with.
	plain := base64.StdEncoding.EncodeToString(raw)
	blob, err := encryptBlob(h.rand, m, k.ID, k.PrimaryVersion, []byte(plain), ctx)
	if err != nil {
		return nil, err
	}
	resp := &dataKeyResponse{RequestID: rq.requestID, KeyID: k.ID, KeyVersionID: k.PrimaryVersion, CiphertextBlob: blob}
	if withPlaintext {
		resp.Plaintext = plain
	}
	return resp, nil
}

func (h *Handler) generateDataKey(rq *request) (any, error) { return h.dataKey(rq, true) }
func (h *Handler) generateDataKeyWithoutPlaintext(rq *request) (any, error) {
	return h.dataKey(rq, false)
}

func (h *Handler) reEncrypt(rq *request) (any, error) {
	if _, err := rq.required("CiphertextBlob"); err != nil {
		return nil, err
	}
	dst, err := rq.required("DestinationKeyId")
	if err != nil {
		return nil, err
	}
	dctx, err := parseContext("DestinationEncryptionContext", rq.str("DestinationEncryptionContext"))
	if err != nil {
		return nil, err
	}
	if alg := rq.str("SourceEncryptionAlgorithm"); alg != "" {
		return nil, errUnsupported("SourceEncryptionAlgorithm applies to asymmetric keys, which this server does not support.")
	}
	src, b, pt, err := rq.openBlob("CiphertextBlob", "SourceEncryptionContext", "kms:ReEncrypt")
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	if ref := rq.str("SourceKeyId"); ref != "" {
		id, err := h.resolveRef(ref)
		if err != nil {
			return nil, err
		}
		if id != src.ID {
			return nil, errInvalidParameter("The SourceKeyId does not match the key of the CiphertextBlob.")
		}
	}
	if v := rq.str("SourceKeyVersionId"); v != "" && v != b.versionID {
		return nil, errInvalidParameter("The SourceKeyVersionId does not match the version of the CiphertextBlob.")
	}
	k, m, err := rq.encryptKey(dst, "kms:ReEncrypt")
	if err != nil {
		return nil, err
	}
	defer clear(m)
	if err := rq.dryRun(); err != nil {
		return nil, err
	}
	blob, err := encryptBlob(h.rand, m, k.ID, k.PrimaryVersion, pt, dctx)
	if err != nil {
		return nil, err
	}
	return &encryptResponse{RequestID: rq.requestID, KeyID: k.ID, KeyVersionID: k.PrimaryVersion, CiphertextBlob: blob}, nil
}

// ---- versions ----

func (h *Handler) createKeyVersion(rq *request) (any, error) {
	k, err := rq.keyParam("kms:CreateKeyVersion")
	if err != nil {
		return nil, err
	}
	if k.Origin != OriginKMS {
		return nil, errUnsupported("Keys with Origin EXTERNAL cannot be rotated; import the same material instead.")
	}
	if err := rq.usable(k); err != nil {
		return nil, err
	}
	v, err := h.newVersion(k.ID, nil, rq.now)
	if err != nil {
		return nil, err
	}
	_, err = rq.updateKey(k.ID, func(k *keyRecord) error {
		if err := rq.usable(k); err != nil {
			return err
		}
		k.Versions = append(k.Versions, v)
		k.PrimaryVersion = v.ID
		k.LastRotation = rq.now.UTC()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &createKeyVersionResponse{RequestID: rq.requestID,
		KeyVersion: keyVersionEntry{KeyID: k.ID, KeyVersionID: v.ID, CreationDate: fmtTime(v.Created)}}, nil
}

func (h *Handler) listKeyVersions(rq *request) (any, error) {
	k, number, size, err := rq.keyPage("kms:ListKeyVersions")
	if err != nil {
		return nil, err
	}
	hdr, lo, hi := rq.listPage(number, size, len(k.Versions))
	out := make([]keyVersionEntry, 0, hi-lo)
	for _, v := range k.Versions[lo:hi] {
		out = append(out, keyVersionEntry{KeyID: k.ID, KeyVersionID: v.ID, CreationDate: fmtTime(v.Created)})
	}
	return &listKeyVersionsResponse{listHeader: hdr, KeyVersions: keyVersionList{KeyVersion: out}}, nil
}

// ---- bring your own key ----

// importTarget loads and authorizes the key of a BYOK action: it must have
// Origin EXTERNAL and not be pending deletion.
func (rq *request) importTarget(ref, act string) (*keyRecord, error) {
	k, err := rq.authorizedKey(ref, act)
	if err != nil {
		return nil, err
	}
	if k.Origin != OriginExternal {
		return nil, errUnsupported("The key " + k.ID + " was not created with Origin EXTERNAL; its material cannot be imported.")
	}
	if state, _ := k.effectiveState(rq.now); state == StatePendingDeletion {
		return nil, errState(state, k.ID, "key material cannot be imported")
	}
	return k, nil
}

// decodeImportState decodes the stored import state of key id; nil data
// is an empty state.
func decodeImportState(id string, data []byte) (importState, error) {
	var st importState
	if data == nil {
		return st, nil
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("pop: corrupt import state of %s: %w", id, err)
	}
	return st, nil
}

func (h *Handler) getParametersForImport(rq *request) (any, error) {
	ref, err := rq.required("KeyId")
	if err != nil {
		return nil, err
	}
	alg, err := rq.required("WrappingAlgorithm")
	if err != nil {
		return nil, err
	}
	switch alg {
	case WrapRSAPKCS1v15, WrapRSAOAEPSHA1, WrapRSAOAEPSHA256:
	default:
		return nil, errInvalidParameter("The WrappingAlgorithm " + quote(alg) + " is not supported; use RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1 or RSAES_PKCS1_V1_5.")
	}
	spec, err := rq.required("WrappingKeySpec")
	if err != nil {
		return nil, err
	}
	if spec != WrapKeySpecRSA {
		return nil, errInvalidParameter("The WrappingKeySpec " + quote(spec) + " is not supported; use RSA_2048.")
	}
	k, err := rq.importTarget(ref, "kms:GetParametersForImport")
	if err != nil {
		return nil, err
	}
	priv, err := rsa.GenerateKey(h.rand, 2048)
	if err != nil {
		return nil, fmt.Errorf("pop: generating wrapping key: %w", err)
	}
	der, err := marshalPrivate(priv)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("pop: encoding wrapping public key: %w", err)
	}
	tokenBytes, err := randomBytes(h.rand, 32)
	if err != nil {
		return nil, err
	}
	token := base64.RawURLEncoding.EncodeToString(tokenBytes)
	sealed, err := h.cfg.Sealer.Seal(der, importAAD(k.ID, token))
	if err != nil {
		return nil, fmt.Errorf("pop: sealing wrapping key: %w", err)
	}
	expire := rq.now.UTC().Truncate(time.Second).Add(importTokenTTL)
	err = h.kv.Update(importKey(k.ID), func(old []byte) ([]byte, error) {
		st, err := decodeImportState(k.ID, old)
		if err != nil {
			return nil, err
		}
		live := st.Tokens[:0]
		for _, t := range st.Tokens {
			if rq.now.Before(t.Expire) {
				live = append(live, t)
			}
		}
		live = append(live, importToken{ID: token, Algorithm: alg, SealedPriv: sealed, Expire: expire})
		if len(live) > maxImportTokens {
			live = live[len(live)-maxImportTokens:]
		}
		return encodeJSON(importState{Tokens: live})
	})
	if err != nil {
		return nil, err
	}
	return &importParamsResponse{RequestID: rq.requestID, KeyID: k.ID, ImportToken: token,
		PublicKey: base64.StdEncoding.EncodeToString(pub), TokenExpireTime: fmtTime(expire)}, nil
}

func (h *Handler) importKeyMaterial(rq *request) (any, error) {
	ref, err := rq.required("KeyId")
	if err != nil {
		return nil, err
	}
	encB64, err := rq.required("EncryptedKeyMaterial")
	if err != nil {
		return nil, err
	}
	token, err := rq.required("ImportToken")
	if err != nil {
		return nil, err
	}
	expireUnix, err := rq.intParam("KeyMaterialExpireUnix", 0, 0, 1<<40)
	if err != nil {
		return nil, err
	}
	var expire time.Time
	if expireUnix > 0 {
		expire = time.Unix(expireUnix, 0).UTC()
		if !rq.now.Before(expire) {
			return nil, errInvalidParameter("The KeyMaterialExpireUnix must be in the future (or 0 for material that never expires).")
		}
	}
	enc, err := base64.StdEncoding.DecodeString(encB64)
	if err != nil {
		return nil, errInvalidParameter("The EncryptedKeyMaterial is not valid base64.")
	}
	k, err := rq.importTarget(ref, "kms:ImportKeyMaterial")
	if err != nil {
		return nil, err
	}
	stData, err := h.kv.Get(importKey(k.ID))
	if err != nil && !errors.Is(err, store.ErrKVNotFound) {
		return nil, fmt.Errorf("pop: reading import state of %s: %w", k.ID, err)
	}
	st, err := decodeImportState(k.ID, stData)
	if err != nil {
		return nil, err
	}
	var tok *importToken
	for i := range st.Tokens {
		if equalBytes([]byte(st.Tokens[i].ID), []byte(token)) {
			tok = &st.Tokens[i]
		}
	}
	if tok == nil {
		return nil, errInvalidParameter("The ImportToken is not valid for this key.")
	}
	if !rq.now.Before(tok.Expire) {
		return nil, errInvalidParameter("The ImportToken has expired; call GetParametersForImport again.")
	}
	der, err := h.cfg.Sealer.Open(tok.SealedPriv, importAAD(k.ID, tok.ID))
	if err != nil {
		return nil, fmt.Errorf("pop: unsealing wrapping key of %s: %w", k.ID, err)
	}
	priv, err := parsePrivate(der)
	clear(der)
	if err != nil {
		return nil, err
	}
	material, err := unwrapMaterial(priv, tok.Algorithm, enc)
	if err != nil {
		return nil, errInvalidParameter("The EncryptedKeyMaterial cannot be decrypted with the wrapping key of this ImportToken (algorithm " + tok.Algorithm + ").")
	}
	defer clear(material)
	if len(material) != materialLen {
		return nil, errInvalidParameter(fmt.Sprintf("The key material must be %d bytes for an Aliyun_AES_256 key; got %d.", materialLen, len(material)))
	}
	// Re-import (after expiry, or to change the expiry) must bring back the
	// same material: ciphertexts made under it must keep decrypting.
	var v keyVersion
	if k.PrimaryVersion != "" {
		prev, err := h.material(k, k.PrimaryVersion)
		if err != nil {
			return nil, err
		}
		same := equalBytes(prev, material)
		clear(prev)
		if !same {
			return nil, errInvalidParameter("The imported key material differs from the material previously imported into this key.")
		}
	} else if v, err = h.newVersion(k.ID, material, rq.now); err != nil {
		return nil, err
	}
	usedToken := tok.ID
	err = h.kv.Txn(func(tx *store.KVTx) error {
		cur, err := txGetKey(tx, k.ID)
		if err != nil {
			return err
		}
		if cur == nil {
			return errKeyNotFound(k.ID)
		}
		if cur.State == StatePendingDeletion {
			return errState(StatePendingDeletion, k.ID, "key material cannot be imported")
		}
		if cur.PrimaryVersion == "" {
			if v.ID == "" {
				return errors.New("pop: key material vanished during import")
			}
			cur.Versions = []keyVersion{v}
			cur.PrimaryVersion = v.ID
		} else if cur.PrimaryVersion != k.PrimaryVersion {
			return &Error{Status: http.StatusConflict, Code: CodeConcurrentModification,
				Message: "The key material of " + k.ID + " was imported concurrently; retry."}
		}
		cur.MaterialExpire = expire
		if cur.State == StatePendingImport {
			cur.State = StateEnabled
		}
		if err := txPutKey(tx, cur); err != nil {
			return err
		}
		// The token is spent.
		stData, err := tx.Get(importKey(k.ID))
		if errors.Is(err, store.ErrKVNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		st, err := decodeImportState(k.ID, stData)
		if err != nil {
			return err
		}
		st.Tokens = slices.DeleteFunc(st.Tokens, func(t importToken) bool { return t.ID == usedToken })
		data, err := encodeJSON(st)
		if err != nil {
			return err
		}
		return tx.Put(importKey(k.ID), data)
	})
	if err != nil {
		return nil, err
	}
	return &emptyResponse{RequestID: rq.requestID}, nil
}
