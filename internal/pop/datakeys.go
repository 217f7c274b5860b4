package pop

// The Go-level KMS API the OSS server uses for SSE-KMS: no HTTP, no
// signature. The caller is trusted: it has already authenticated and
// authorized the OSS request, and OSS uses KMS on behalf of the bucket
// owner, which on this server is the account this Handler serves.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ossctl/ossctl/internal/auth"
	"github.com/ossctl/ossctl/internal/store"
)

// DefaultOSSKeyAlias is the alias of the account's default managed key
// for OSS server-side encryption (OSS's "default managed CMK"), created on
// first use.
const DefaultOSSKeyAlias = "alias/acs/oss"

// DataKey is a data key issued by GenerateDataKey.
type DataKey struct {
	KeyID          string // the CMK's key id (aliases and ARNs resolved)
	KeyVersionID   string // the CMK version that wrapped it
	Plaintext      []byte // the raw key; callers clear it after use
	CiphertextBlob string // the wrapped key, as the KMS API returns it
}

// internalRequest is a request made by the server itself, acting as the
// account's root.
func (h *Handler) internalRequest(action string) *request {
	return &request{
		h:         h,
		params:    nil,
		principal: &auth.Principal{Root: true, AccountID: h.cfg.AccountID},
		action:    action,
		now:       h.now(),
		requestID: newRequestID(h.rand),
	}
}

// encodeContext turns an encryption context into its canonical form.
func encodeContext(ctx map[string]string) ([]byte, error) {
	if len(ctx) == 0 {
		return nil, nil
	}
	js, err := json.Marshal(ctx)
	if err != nil {
		return nil, fmt.Errorf("pop: encoding encryption context: %w", err)
	}
	return parseContext("EncryptionContext", string(js))
}

// GenerateDataKey makes a fresh n-byte data key under the CMK ref (a key
// id, alias or ARN) and returns it with its wrapped form, bound to the
// encryption context ctx. Errors are *Error with KMS's codes: an unknown
// key is Forbidden.KeyNotFound (404), a disabled or pending-deletion key
// Rejected.Disabled / Rejected.PendingDeletion (409).
func (h *Handler) GenerateDataKey(ref string, n int, ctx map[string]string) (*DataKey, error) {
	if n < 1 || n > maxDataKeyBytes {
		return nil, errInvalidParameter(fmt.Sprintf("A data key must be 1 to %d bytes.", maxDataKeyBytes))
	}
	if ref == "" {
		return nil, errMissing("KeyId")
	}
	cctx, err := encodeContext(ctx)
	if err != nil {
		return nil, err
	}
	rq := h.internalRequest("GenerateDataKey")
	k, m, err := rq.encryptKey(ref, "kms:GenerateDataKey")
	if err != nil {
		return nil, err
	}
	defer clear(m)
	raw, err := randomBytes(h.rand, n)
	if err != nil {
		return nil, err
	}
	// As in the GenerateDataKey action, the blob holds base64(raw), so
	// the KMS Decrypt action of this blob answers the same Plaintext.
	plain := []byte(base64.StdEncoding.EncodeToString(raw))
	defer clear(plain)
	blob, err := encryptBlob(h.rand, m, k.ID, k.PrimaryVersion, plain, cctx)
	if err != nil {
		clear(raw)
		return nil, err
	}
	return &DataKey{KeyID: k.ID, KeyVersionID: k.PrimaryVersion, Plaintext: raw, CiphertextBlob: blob}, nil
}

// DecryptDataKey unwraps a CiphertextBlob made by GenerateDataKey with the
// same encryption context and returns the key and the CMK id. The CMK
// must still be usable (Enabled): a disabled key fails with
// Rejected.Disabled, a deleted one with Forbidden.KeyNotFound, a tampered
// blob or another context with InvalidParameter.
func (h *Handler) DecryptDataKey(blob string, ctx map[string]string) ([]byte, string, error) {
	cctx, err := encodeContext(ctx)
	if err != nil {
		return nil, "", err
	}
	b, err := parseBlob(blob)
	if err != nil || !isUUID(b.keyID) {
		return nil, "", errInvalidParameter("The CiphertextBlob is invalid.")
	}
	rq := h.internalRequest("Decrypt")
	k, err := rq.loadKey(b.keyID)
	if err != nil {
		return nil, "", err
	}
	if err := rq.usable(k); err != nil {
		return nil, "", err
	}
	if k.version(b.versionID) == nil {
		return nil, "", errInvalidParameter("The CiphertextBlob names an unknown key version.")
	}
	m, err := h.material(k, b.versionID)
	if err != nil {
		return nil, "", err
	}
	defer clear(m)
	pt, err := decryptBlob(m, b, cctx)
	if err != nil {
		return nil, "", errInvalidParameter("The CiphertextBlob is invalid or the EncryptionContext does not match.")
	}
	defer clear(pt)
	raw, err := base64.StdEncoding.Strict().DecodeString(string(pt))
	if err != nil {
		return nil, "", errInvalidParameter("The CiphertextBlob does not hold a data key.")
	}
	return raw, k.ID, nil
}

// DefaultKey returns the id of the account's default managed key for OSS
// (alias DefaultOSSKeyAlias), creating key and alias on first use. Two
// concurrent first uses agree on one key.
func (h *Handler) DefaultKey() (string, error) {
	if a, err := h.getAlias(DefaultOSSKeyAlias); err != nil {
		return "", err
	} else if a != nil {
		return a.KeyID, nil
	}
	now := h.now().UTC().Truncate(time.Second)
	id, err := newUUID(h.rand)
	if err != nil {
		return "", err
	}
	v, err := h.newVersion(id, nil, now)
	if err != nil {
		return "", err
	}
	k := &keyRecord{
		ID:              id,
		Description:     "Default key that protects OSS server-side encryption (SSE-KMS) when no CMK is specified",
		KeySpec:         keySpecAES256,
		KeyUsage:        keyUsageEncrypt,
		Origin:          OriginKMS,
		ProtectionLevel: protectionSoftware,
		State:           StateEnabled,
		Created:         now,
		Creator:         "oss",
		PrimaryVersion:  v.ID,
		Versions:        []keyVersion{v},
	}
	var out string
	err = h.kv.Txn(func(tx *store.KVTx) error {
		out = ""
		a, err := txGetAlias(tx, DefaultOSSKeyAlias)
		if err != nil {
			return err
		}
		if a != nil { // created concurrently
			out = a.KeyID
			return nil
		}
		if err := txPutKey(tx, k); err != nil {
			return err
		}
		rec, err := encodeJSON(aliasRecord{Name: DefaultOSSKeyAlias, KeyID: id, Created: now, Updated: now})
		if err != nil {
			return err
		}
		if err := tx.Put(aliasKey(DefaultOSSKeyAlias), rec); err != nil {
			return err
		}
		if err := tx.Put(keyAliasKey(id, DefaultOSSKeyAlias), []byte{}); err != nil {
			return err
		}
		out = id
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("pop: creating the default OSS key: %w", err)
	}
	return out, nil
}

// RewrapMaterial re-seals every key version's material and every pending
// import wrapping key under the Sealer's current primary master key (after
// a master key rotation). It returns the number of sealed secrets moved.
// Ciphertexts made with the keys do not change.
func (h *Handler) RewrapMaterial() (int, error) {
	moved := 0
	err := h.scan(pfxKey, func(key string, _ []byte) error {
		id := key[len(pfxKey):]
		n := 0
		err := h.kv.Txn(func(tx *store.KVTx) error {
			n = 0
			k, err := txGetKey(tx, id)
			if err != nil || k == nil {
				return err
			}
			for i := range k.Versions {
				v := &k.Versions[i]
				if v.Sealed, err = h.reseal(v.Sealed, materialAAD(k.ID, v.ID)); err != nil {
					return fmt.Errorf("pop: re-wrapping key %s version %s: %w", k.ID, v.ID, err)
				}
				n++
			}
			if err := txPutKey(tx, k); err != nil {
				return err
			}
			data, err := tx.Get(importKey(id))
			if errors.Is(err, store.ErrKVNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			var st importState
			if err := json.Unmarshal(data, &st); err != nil {
				return fmt.Errorf("pop: corrupt import state of key %s: %w", id, err)
			}
			for i := range st.Tokens {
				t := &st.Tokens[i]
				if t.SealedPriv, err = h.reseal(t.SealedPriv, importAAD(id, t.ID)); err != nil {
					return fmt.Errorf("pop: re-wrapping an import token of key %s: %w", id, err)
				}
				n++
			}
			enc, err := encodeJSON(st)
			if err != nil {
				return err
			}
			return tx.Put(importKey(id), enc)
		})
		moved += n
		return err
	})
	return moved, err
}

func (h *Handler) reseal(blob, aad []byte) ([]byte, error) {
	pt, err := h.cfg.Sealer.Open(blob, aad)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return h.cfg.Sealer.Seal(pt, aad)
}
