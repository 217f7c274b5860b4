package pop

// KMS persistence in the store's key-value namespace "kms":
//
//	k/<keyId>                 → keyRecord (JSON; key material sealed)
//	a/alias/<name>            → aliasRecord (JSON)
//	ka/<keyId>/alias/<name>   → "" (index: the aliases of a key)
//	imp/<keyId>               → importState (JSON; wrapping keys sealed)
//
// Key ids and alias names never contain '/' in the id part and the alias
// index key is unambiguous because key ids are fixed-shape UUIDs.

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ossctl/ossctl/internal/store"
)

const kmsNamespace = "kms"

const (
	pfxKey      = "k/"
	pfxAlias    = "a/"
	pfxKeyAlias = "ka/"
	pfxImport   = "imp/"
)

// Key states.
const (
	StateEnabled         = "Enabled"
	StateDisabled        = "Disabled"
	StatePendingDeletion = "PendingDeletion"
	StatePendingImport   = "PendingImport"
)

// Key origins.
const (
	OriginKMS      = "Aliyun_KMS"
	OriginExternal = "EXTERNAL"
)

// keyRecord is a customer master key.
type keyRecord struct {
	ID              string `json:"id"`
	Description     string `json:"desc,omitempty"`
	KeySpec         string `json:"spec"`
	KeyUsage        string `json:"usage"`
	Origin          string `json:"origin"`
	ProtectionLevel string `json:"protection"`
	// State is the stored state; effectiveState adds what time changes
	// (deletion due, imported material expired).
	State      string    `json:"state"`
	Created    time.Time `json:"created"`
	Creator    string    `json:"creator"`
	DeleteDate time.Time `json:"deleteDate,omitzero"`

	PrimaryVersion string       `json:"primary,omitempty"`
	Versions       []keyVersion `json:"versions,omitempty"`

	AutoRotation     bool      `json:"autoRotation,omitempty"`
	RotationInterval int64     `json:"rotationSeconds,omitempty"`
	LastRotation     time.Time `json:"lastRotation,omitzero"`

	// MaterialExpire is when imported (EXTERNAL) material stops being
	// usable; zero = never.
	MaterialExpire time.Time `json:"materialExpire,omitzero"`

	Tags   string `json:"tags,omitempty"`
	Policy string `json:"policy,omitempty"`
}

// keyVersion is one generation of key material.
type keyVersion struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Sealed  []byte    `json:"sealed"` // material sealed by the master key
}

// aliasRecord maps an alias to its key.
type aliasRecord struct {
	Name    string    `json:"name"`
	KeyID   string    `json:"keyId"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// importState holds the outstanding import tokens of an EXTERNAL key.
type importState struct {
	Tokens []importToken `json:"tokens"`
}

// importToken is one GetParametersForImport answer.
type importToken struct {
	ID         string    `json:"id"` // the ImportToken string
	Algorithm  string    `json:"alg"`
	SealedPriv []byte    `json:"priv"` // PKCS#8 RSA private key, sealed
	Expire     time.Time `json:"expire"`
}

// maxImportTokens bounds outstanding tokens per key.
const maxImportTokens = 5

func keyKey(id string) string             { return pfxKey + id }
func aliasKey(name string) string         { return pfxAlias + name }
func keyAliasKey(id, alias string) string { return pfxKeyAlias + id + "/" + alias }
func importKey(id string) string          { return pfxImport + id }

// effectiveState returns the state at now and whether the key is gone
// (its deletion date has passed).
func (k *keyRecord) effectiveState(now time.Time) (state string, deleted bool) {
	switch {
	case k.State == StatePendingDeletion:
		return StatePendingDeletion, !now.Before(k.DeleteDate)
	case k.Origin == OriginExternal && (k.State == StateEnabled || k.State == StateDisabled) && k.materialExpired(now):
		return StatePendingImport, false
	}
	return k.State, false
}

func (k *keyRecord) materialExpired(now time.Time) bool {
	return !k.MaterialExpire.IsZero() && !now.Before(k.MaterialExpire)
}

// version returns the version with id, or nil.
func (k *keyRecord) version(id string) *keyVersion {
	for i := range k.Versions {
		if k.Versions[i].ID == id {
			return &k.Versions[i]
		}
	}
	return nil
}

// nextRotation is when automatic rotation is next due (zero if off).
func (k *keyRecord) nextRotation() time.Time {
	if !k.AutoRotation || k.RotationInterval <= 0 {
		return time.Time{}
	}
	base := k.LastRotation
	if base.IsZero() {
		base = k.Created
	}
	return base.Add(time.Duration(k.RotationInterval) * time.Second)
}

func decodeKey(data []byte) (*keyRecord, error) {
	var k keyRecord
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("pop: corrupt key record: %w", err)
	}
	return &k, nil
}

func encodeJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("pop: encoding record: %w", err)
	}
	return b, nil
}

// kvReader is the read side shared by the KV store and a transaction.
type kvReader interface {
	Get(key string) ([]byte, error)
}

// readRecord reads key from r; found is false when it is absent. what
// names the record in errors.
func readRecord(r kvReader, key, what string) (data []byte, found bool, err error) {
	data, err = r.Get(key)
	if errors.Is(err, store.ErrKVNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("pop: reading %s: %w", what, err)
	}
	return data, true, nil
}

// readKey reads a key record from r; (nil, nil) when absent.
func readKey(r kvReader, id string) (*keyRecord, error) {
	data, found, err := readRecord(r, keyKey(id), "key "+id)
	if !found || err != nil {
		return nil, err
	}
	return decodeKey(data)
}

// getKey reads a key record; (nil, nil) when absent.
func (h *Handler) getKey(id string) (*keyRecord, error) { return readKey(h.kv, id) }

// txGetKey reads a key record inside a transaction; (nil, nil) when absent.
func txGetKey(tx *store.KVTx, id string) (*keyRecord, error) { return readKey(tx, id) }

func txPutKey(tx *store.KVTx, k *keyRecord) error {
	data, err := encodeJSON(k)
	if err != nil {
		return err
	}
	return tx.Put(keyKey(k.ID), data)
}

// readAlias reads an alias record from r; (nil, nil) when absent.
func readAlias(r kvReader, name string) (*aliasRecord, error) {
	data, found, err := readRecord(r, aliasKey(name), "alias "+name)
	if !found || err != nil {
		return nil, err
	}
	var a aliasRecord
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("pop: corrupt alias record %s: %w", name, err)
	}
	return &a, nil
}

// getAlias reads an alias record; (nil, nil) when absent.
func (h *Handler) getAlias(name string) (*aliasRecord, error) { return readAlias(h.kv, name) }

func txGetAlias(tx *store.KVTx, name string) (*aliasRecord, error) { return readAlias(tx, name) }

// scan calls fn for every record under prefix, in key order.
func (h *Handler) scan(prefix string, fn func(key string, value []byte) error) error {
	marker := ""
	for {
		page, more, err := h.kv.List(prefix, marker, 1000)
		if err != nil {
			return fmt.Errorf("pop: listing %s: %w", prefix, err)
		}
		for _, p := range page {
			if err := fn(p.Key, p.Value); err != nil {
				return err
			}
		}
		if !more || len(page) == 0 {
			return nil
		}
		marker = page[len(page)-1].Key
	}
}

// txPurgeKey deletes a key whose deletion date has passed, with its alias
// records and import state, if it is still due at now. It reports whether
// the key is gone.
func txPurgeKey(tx *store.KVTx, id string, now time.Time) (bool, error) {
	k, err := txGetKey(tx, id)
	if err != nil {
		return false, err
	}
	if k == nil {
		return true, nil
	}
	if _, deleted := k.effectiveState(now); !deleted {
		return false, nil
	}
	for {
		links, _, err := tx.List(pfxKeyAlias+id+"/", "", 1000)
		if err != nil {
			return false, fmt.Errorf("pop: listing aliases of %s: %w", id, err)
		}
		if len(links) == 0 {
			break
		}
		for _, l := range links {
			alias := l.Key[len(pfxKeyAlias+id+"/"):]
			a, err := txGetAlias(tx, alias)
			if err != nil {
				return false, err
			}
			if a != nil && a.KeyID == id {
				if err := tx.Delete(aliasKey(alias)); err != nil {
					return false, err
				}
			}
			if err := tx.Delete(l.Key); err != nil {
				return false, err
			}
		}
	}
	if err := tx.Delete(importKey(id)); err != nil {
		return false, err
	}
	if err := tx.Delete(keyKey(id)); err != nil {
		return false, err
	}
	return true, nil
}

// PurgeDeleted removes every key whose deletion date has passed, with its
// aliases, and returns how many it removed. Lookups already treat such keys
// as gone; this reclaims their records (run it from a periodic task).
func (h *Handler) PurgeDeleted() (int, error) {
	now := h.now()
	var due []string
	err := h.scan(pfxKey, func(_ string, v []byte) error {
		k, err := decodeKey(v)
		if err != nil {
			h.log.Warn("pop: skipping corrupt key record", "err", err)
			return nil
		}
		if _, deleted := k.effectiveState(now); deleted {
			due = append(due, k.ID)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range due {
		var gone bool
		if err := h.kv.Txn(func(tx *store.KVTx) error {
			var err error
			gone, err = txPurgeKey(tx, id, now)
			return err
		}); err != nil {
			return n, fmt.Errorf("pop: purging key %s: %w", id, err)
		}
		if gone {
			n++
		}
	}
	return n, nil
}
