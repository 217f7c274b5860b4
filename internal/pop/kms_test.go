package pop

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestCreateAndDescribeKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req := kms.CreateCreateKeyRequest()
	req.Description = "test key ✓"
	resp, err := e.client.CreateKey(req)
	if err != nil {
		t.Fatal(err)
	}
	m := resp.KeyMetadata
	if !uuidRE.MatchString(m.KeyId) || resp.RequestId == "" {
		t.Fatalf("KeyId %q RequestId %q", m.KeyId, resp.RequestId)
	}
	want := kms.KeyMetadata{
		KeyId: m.KeyId, Arn: "acs:kms:" + testRegion + ":" + testAccount + ":key/" + m.KeyId,
		KeyState: "Enabled", KeyUsage: "ENCRYPT/DECRYPT", KeySpec: "Aliyun_AES_256", Origin: "Aliyun_KMS",
		ProtectionLevel: "SOFTWARE", Description: "test key ✓", Creator: testAccount, CreationDate: m.CreationDate,
		PrimaryKeyVersion: m.PrimaryKeyVersion, AutomaticRotation: "Disabled", DeletionProtection: "Disabled",
		LastRotationDate: m.CreationDate,
	}
	if m != want {
		t.Fatalf("metadata\n got %+v\nwant %+v", m, want)
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", m.CreationDate); err != nil || !uuidRE.MatchString(m.PrimaryKeyVersion) {
		t.Fatalf("CreationDate %q PrimaryKeyVersion %q", m.CreationDate, m.PrimaryKeyVersion)
	}
	// DescribeKey by id, by ARN and by alias.
	alias := kms.CreateCreateAliasRequest()
	alias.AliasName, alias.KeyId = "alias/describe-me", m.KeyId
	must[*kms.CreateAliasResponse](t)(e.client.CreateAlias(alias))
	for _, ref := range []string{m.KeyId, m.Arn, "alias/describe-me", "acs:kms:" + testRegion + ":" + testAccount + ":alias/describe-me"} {
		d, err := e.describe(ref)
		if err != nil {
			t.Fatalf("DescribeKey(%s): %v", ref, err)
		}
		if d.KeyMetadata != m {
			t.Fatalf("DescribeKey(%s) = %+v", ref, d.KeyMetadata)
		}
	}
	// Unknown keys, foreign ARNs, unknown aliases.
	for ref, code := range map[string]string{
		"00000000-0000-4000-8000-000000000000": CodeKeyNotFound,
		"not-a-key":                            CodeKeyNotFound,
		"acs:kms:cn-beijing:" + testAccount + ":key/" + m.KeyId: CodeKeyNotFound,
		"acs:kms:" + testRegion + ":999:key/" + m.KeyId:         CodeKeyNotFound,
		"alias/nope": CodeAliasNotFound,
		"acs:kms:" + testRegion + ":" + testAccount + ":alias/nope":      CodeAliasNotFound,
		"acs:kms:" + testRegion + ":" + testAccount + ":secret/whatever": CodeKeyNotFound,
	} {
		_, err := e.describe(ref)
		wantErr(t, err, http.StatusNotFound, code)
	}
	_, err = e.describe("")
	wantErr(t, err, http.StatusBadRequest, CodeMissingParameter)
}

func TestCreateKeyParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bad := []func(*kms.CreateKeyRequest){
		func(r *kms.CreateKeyRequest) { r.KeySpec = "RSA_2048" },
		func(r *kms.CreateKeyRequest) { r.KeyUsage = "SIGN/VERIFY" },
		func(r *kms.CreateKeyRequest) { r.Origin = "HSM" },
		func(r *kms.CreateKeyRequest) { r.ProtectionLevel = "HSM" },
		func(r *kms.CreateKeyRequest) { r.Tags = "not json" },
		func(r *kms.CreateKeyRequest) { r.Policy = "{" },
		func(r *kms.CreateKeyRequest) { r.EnableAutomaticRotation = "maybe" },
		func(r *kms.CreateKeyRequest) { r.EnableAutomaticRotation = "true"; r.RotationInterval = "3d" },
		func(r *kms.CreateKeyRequest) { r.EnableAutomaticRotation = "true"; r.RotationInterval = "400d" },
		func(r *kms.CreateKeyRequest) { r.EnableAutomaticRotation = "true"; r.RotationInterval = "seven" },
		func(r *kms.CreateKeyRequest) { r.Description = strings.Repeat("d", maxDescriptionLen+1) },
	}
	for i, mutate := range bad {
		req := kms.CreateCreateKeyRequest()
		mutate(req)
		_, err := e.client.CreateKey(req)
		wantErr(t, err, http.StatusBadRequest, CodeInvalidParameter)
		_ = i
	}
	req := kms.CreateCreateKeyRequest()
	req.EnableAutomaticRotation = "true"
	_, err := e.client.CreateKey(req)
	wantErr(t, err, http.StatusBadRequest, CodeMissingParameter)
	req = kms.CreateCreateKeyRequest()
	req.DKMSInstanceId = "kst-123"
	_, err = e.client.CreateKey(req)
	wantErr(t, err, http.StatusBadRequest, CodeUnsupportedOperation)
	req = kms.CreateCreateKeyRequest()
	req.Origin, req.EnableAutomaticRotation, req.RotationInterval = "EXTERNAL", "true", "7d"
	_, err = e.client.CreateKey(req)
	wantErr(t, err, http.StatusBadRequest, CodeUnsupportedOperation)

	// Valid optional parameters are accepted.
	req = kms.CreateCreateKeyRequest()
	req.Tags = `[{"TagKey":"env","TagValue":"test"}]`
	req.Policy = `{"Version":"1","Statement":[]}`
	req.KeySpec, req.KeyUsage, req.ProtectionLevel = "Aliyun_AES_256", "ENCRYPT/DECRYPT", "SOFTWARE"
	must[*kms.CreateKeyResponse](t)(e.client.CreateKey(req))
}

func TestListKeysPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []string
	for i := 0; i < 23; i++ {
		ids = append(ids, e.createKey(nil))
	}
	slices.Sort(ids)
	var seen []string
	for page := 1; page <= 3; page++ {
		req := kms.CreateListKeysRequest()
		req.PageNumber = requests.NewInteger(page)
		resp, err := e.client.ListKeys(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.TotalCount != 23 || resp.PageNumber != page || resp.PageSize != 10 {
			t.Fatalf("page %d: total %d number %d size %d", page, resp.TotalCount, resp.PageNumber, resp.PageSize)
		}
		wantLen := 10
		if page == 3 {
			wantLen = 3
		}
		if len(resp.Keys.Key) != wantLen {
			t.Fatalf("page %d has %d keys", page, len(resp.Keys.Key))
		}
		for _, k := range resp.Keys.Key {
			if k.KeyArn != "acs:kms:"+testRegion+":"+testAccount+":key/"+k.KeyId {
				t.Fatalf("KeyArn %q", k.KeyArn)
			}
			seen = append(seen, k.KeyId)
		}
	}
	if fmt.Sprint(seen) != fmt.Sprint(ids) {
		t.Fatalf("paged keys differ:\n%v\n%v", seen, ids)
	}
	req := kms.CreateListKeysRequest()
	req.PageNumber, req.PageSize = requests.NewInteger(2), requests.NewInteger(100)
	resp := must[*kms.ListKeysResponse](t)(e.client.ListKeys(req))
	if len(resp.Keys.Key) != 0 || resp.TotalCount != 23 {
		t.Fatalf("page past the end: %d keys, total %d", len(resp.Keys.Key), resp.TotalCount)
	}
	for _, p := range [][2]string{{"0", "10"}, {"1", "0"}, {"1", "101"}, {"x", "10"}} {
		req := kms.CreateListKeysRequest()
		req.PageNumber, req.PageSize = requests.Integer(p[0]), requests.Integer(p[1])
		_, err := e.client.ListKeys(req)
		wantErr(t, err, http.StatusBadRequest, CodeInvalidParameter)
	}
	// Filters.
	disable := kms.CreateDisableKeyRequest()
	disable.KeyId = ids[0]
	must[*kms.DisableKeyResponse](t)(e.client.DisableKey(disable))
	req = kms.CreateListKeysRequest()
	req.Filters = `[{"Key":"KeyState","Values":["Disabled"]}]`
	resp = must[*kms.ListKeysResponse](t)(e.client.ListKeys(req))
	if resp.TotalCount != 1 || resp.Keys.Key[0].KeyId != ids[0] {
		t.Fatalf("filtered = %+v", resp)
	}
	req.Filters = `[{"Key":"Color","Values":["red"]}]`
	_, err := e.client.ListKeys(req)
	wantErr(t, err, http.StatusBadRequest, CodeInvalidParameter)
}

func TestKeyStateMachine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createKey(nil)
	alias := kms.CreateCreateAliasRequest()
	alias.AliasName, alias.KeyId = "alias/doomed", id
	must[*kms.CreateAliasResponse](t)(e.client.CreateAlias(alias))
	ok := must[*kms.EncryptResponse](t)(e.encrypt(id, "hello", ""))

	state := func() string {
		t.Helper()
		return must[*kms.DescribeKeyResponse](t)(e.describe(id)).KeyMetadata.KeyState
	}
	enable := func() error {
		r := kms.CreateEnableKeyRequest()
		r.KeyId = id
		_, err := e.client.EnableKey(r)
		return err
	}
	disable := func() error {
		r := kms.CreateDisableKeyRequest()
		r.KeyId = id
		_, err := e.client.DisableKey(r)
		return err
	}
	schedule := func(days string) error {
		r := kms.CreateScheduleKeyDeletionRequest()
		r.KeyId, r.PendingWindowInDays = id, requests.Integer(days)
		_, err := e.client.ScheduleKeyDeletion(r)
		return err
	}
	cancel := func() error {
		r := kms.CreateCancelKeyDeletionRequest()
		r.KeyId = id
		_, err := e.client.CancelKeyDeletion(r)
		return err
	}
	cryptoFails := func(code string) {
		t.Helper()
		_, err := e.encrypt(id, "x", "")
		wantErr(t, err, http.StatusConflict, code)
		_, err = e.decrypt(ok.CiphertextBlob, "")
		wantErr(t, err, http.StatusConflict, code)
		g := kms.CreateGenerateDataKeyRequest()
		g.KeyId = id
		_, err = e.client.GenerateDataKey(g)
		wantErr(t, err, http.StatusConflict, code)
	}

	// Enabled → Disabled → Enabled (both idempotent).
	if err := disable(); err != nil {
		t.Fatal(err)
	}
	if err := disable(); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != StateDisabled {
		t.Fatalf("state %s", s)
	}
	cryptoFails(CodeRejectedDisabled)
	if err := enable(); err != nil {
		t.Fatal(err)
	}
	if err := enable(); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != StateEnabled {
		t.Fatalf("state %s", s)
	}
	if _, err := e.decrypt(ok.CiphertextBlob, ""); err != nil {
		t.Fatal(err)
	}

	// Scheduling: the window is 7–366 days.
	for _, d := range []string{"6", "367", "0", "seven"} {
		wantErr(t, schedule(d), http.StatusBadRequest, CodeInvalidParameter)
	}
	r := kms.CreateScheduleKeyDeletionRequest()
	r.KeyId = id
	_, err := e.client.ScheduleKeyDeletion(r)
	wantErr(t, err, http.StatusBadRequest, CodeMissingParameter)
	wantErr(t, cancel(), http.StatusConflict, CodeRejectedEnabled)

	if err := schedule("7"); err != nil {
		t.Fatal(err)
	}
	d := must[*kms.DescribeKeyResponse](t)(e.describe(id)).KeyMetadata
	del, err := time.Parse("2006-01-02T15:04:05Z", d.DeleteDate)
	if err != nil || d.KeyState != StatePendingDeletion {
		t.Fatalf("after schedule: %+v", d)
	}
	if got := del.Sub(e.clock.Now()); got < 7*24*time.Hour-time.Minute || got > 7*24*time.Hour {
		t.Fatalf("DeleteDate %s is %s away", d.DeleteDate, got)
	}
	cryptoFails(CodeRejectedPendingDelete)
	wantErr(t, enable(), http.StatusConflict, CodeStateModifiedFailed)
	wantErr(t, disable(), http.StatusConflict, CodeStateModifiedFailed)
	wantErr(t, schedule("10"), http.StatusConflict, CodeRejectedPendingDelete)

	// Cancel → Enabled (Alibaba semantics), usable again.
	if err := cancel(); err != nil {
		t.Fatal(err)
	}
	if d := must[*kms.DescribeKeyResponse](t)(e.describe(id)).KeyMetadata; d.KeyState != StateEnabled || d.DeleteDate != "" {
		t.Fatalf("after cancel: %+v", d)
	}
	if _, err := e.decrypt(ok.CiphertextBlob, ""); err != nil {
		t.Fatal(err)
	}

	// A disabled key can be scheduled too; once the date passes it is gone.
	if err := disable(); err != nil {
		t.Fatal(err)
	}
	if err := schedule("7"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(7*24*time.Hour - time.Hour)
	if s := state(); s != StatePendingDeletion {
		t.Fatalf("an hour before deletion: %s", s)
	}
	e.clock.Advance(2 * time.Hour)
	_, err = e.describe(id)
	wantErr(t, err, http.StatusNotFound, CodeKeyNotFound)
	_, err = e.decrypt(ok.CiphertextBlob, "")
	wantErr(t, err, http.StatusNotFound, CodeKeyNotFound)
	wantErr(t, cancel(), http.StatusNotFound, CodeKeyNotFound)
	_, err = e.describe("alias/doomed")
	wantErr(t, err, http.StatusNotFound, CodeAliasNotFound)
	list := must[*kms.ListKeysResponse](t)(e.client.ListKeys(kms.CreateListKeysRequest()))
	if list.TotalCount != 0 {
		t.Fatalf("deleted key still listed: %+v", list.Keys)
	}
	// Its records are gone from the store, not just hidden.
	if pairs, _, err := e.st.KV(kmsNamespace).List("", "", 100); err != nil || len(pairs) != 0 {
		t.Fatalf("records left: %v %v", pairs, err)
	}
}

func TestPurgeDeleted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	keep := e.createKey(nil)
	gone := e.createKey(nil)
	r := kms.CreateScheduleKeyDeletionRequest()
	r.KeyId, r.PendingWindowInDays = gone, "7"
	must[*kms.ScheduleKeyDeletionResponse](t)(e.client.ScheduleKeyDeletion(r))
	if n, err := e.h.PurgeDeleted(); err != nil || n != 0 {
		t.Fatalf("early purge = %d, %v", n, err)
	}
	e.clock.Advance(8 * 24 * time.Hour)
	if n, err := e.h.PurgeDeleted(); err != nil || n != 1 {
		t.Fatalf("purge = %d, %v", n, err)
	}
	if k, _ := e.h.getKey(gone); k != nil {
		t.Fatal("purged key still stored")
	}
	if _, err := e.describe(keep); err != nil {
		t.Fatal(err)
	}
}

func TestAliases(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k1, k2 := e.createKey(nil), e.createKey(nil)
	create := func(name, key string) error {
		r := kms.CreateCreateAliasRequest()
		r.AliasName, r.KeyId = name, key
		_, err := e.client.CreateAlias(r)
		return err
	}
	for _, name := range []string{"a/b", "alias/", "alias/acs/reserved", "alias/sp ace", "alias/" + strings.Repeat("x", 256), "alias/ü"} {
		wantErr(t, create(name, k1), http.StatusBadRequest, CodeInvalidParameter)
	}
	wantErr(t, create("", k1), http.StatusBadRequest, CodeMissingParameter)
	wantErr(t, create("alias/x", ""), http.StatusBadRequest, CodeMissingParameter)
	wantErr(t, create("alias/x", "00000000-0000-4000-8000-000000000000"), http.StatusNotFound, CodeKeyNotFound)

	for _, n := range []string{"alias/app/one", "alias/app/two", "alias/" + strings.Repeat("z", 255)} {
		if err := create(n, k1); err != nil {
			t.Fatalf("CreateAlias %s: %v", n, err)
		}
	}
	wantErr(t, create("alias/app/one", k2), http.StatusConflict, CodeAliasExists)
	wantErr(t, create("alias/chain", "alias/app/one"), http.StatusBadRequest, CodeInvalidParameter)

	// Encrypt through an alias answers with the resolved key id.
	enc := must[*kms.EncryptResponse](t)(e.encrypt("alias/app/one", "via alias", ""))
	if enc.KeyId != k1 {
		t.Fatalf("Encrypt via alias: KeyId %s", enc.KeyId)
	}

	// UpdateAlias moves it to k2.
	up := kms.CreateUpdateAliasRequest()
	up.AliasName, up.KeyId = "alias/app/one", k2
	must[*kms.UpdateAliasResponse](t)(e.client.UpdateAlias(up))
	if enc := must[*kms.EncryptResponse](t)(e.encrypt("alias/app/one", "x", "")); enc.KeyId != k2 {
		t.Fatalf("after UpdateAlias: KeyId %s", enc.KeyId)
	}
	up.AliasName = "alias/missing"
	_, err := e.client.UpdateAlias(up)
	wantErr(t, err, http.StatusNotFound, CodeAliasNotFound)

	// Listing.
	la := kms.CreateListAliasesRequest()
	la.PageSize = "2"
	resp := must[*kms.ListAliasesResponse](t)(e.client.ListAliases(la))
	if resp.TotalCount != 3 || len(resp.Aliases.Alias) != 2 || resp.Aliases.Alias[0].AliasName != "alias/app/one" ||
		resp.Aliases.Alias[0].KeyId != k2 || resp.Aliases.Alias[0].AliasArn != "acs:kms:"+testRegion+":"+testAccount+":alias/app/one" {
		t.Fatalf("ListAliases = %+v", resp)
	}
	byKey := func(key string) []string {
		t.Helper()
		r := kms.CreateListAliasesByKeyIdRequest()
		r.KeyId = key
		resp := must[*kms.ListAliasesByKeyIdResponse](t)(e.client.ListAliasesByKeyId(r))
		var names []string
		for _, a := range resp.Aliases.Alias {
			if a.KeyId != resp.Aliases.Alias[0].KeyId {
				t.Fatalf("mixed keys: %+v", resp)
			}
			names = append(names, a.AliasName)
		}
		if resp.TotalCount != len(names) {
			t.Fatalf("TotalCount %d for %d aliases", resp.TotalCount, len(names))
		}
		return names
	}
	if got := byKey(k1); fmt.Sprint(got) != fmt.Sprint([]string{"alias/app/two", "alias/" + strings.Repeat("z", 255)}) {
		t.Fatalf("aliases of k1: %v", got)
	}
	if got := byKey(k2); fmt.Sprint(got) != "[alias/app/one]" {
		t.Fatalf("aliases of k2: %v", got)
	}

	// Delete.
	del := kms.CreateDeleteAliasRequest()
	del.AliasName = "alias/app/one"
	must[*kms.DeleteAliasResponse](t)(e.client.DeleteAlias(del))
	_, err = e.client.DeleteAlias(del)
	wantErr(t, err, http.StatusNotFound, CodeAliasNotFound)
	_, err = e.encrypt("alias/app/one", "x", "")
	wantErr(t, err, http.StatusNotFound, CodeAliasNotFound)
	if got := byKey(k2); len(got) != 0 {
		t.Fatalf("aliases of k2 after delete: %v", got)
	}
	// The name is free again.
	if err := create("alias/app/one", k1); err != nil {
		t.Fatal(err)
	}
}

func TestEncryptDecrypt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createKey(nil)
	plaintexts := []string{
		"hello",
		"SGVsbG8gV29ybGQ=",
		"spaces, + plus, / slash, = equals, & amp, * star, ~ tilde, % pct",
		"中文 emoji 🎉 and \"quotes\" <xml>",
		strings.Repeat("A", maxPlaintextLen),
	}
	for _, pt := range plaintexts {
		enc, err := e.encrypt(id, pt, "")
		if err != nil {
			t.Fatalf("Encrypt(%.20q): %v", pt, err)
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(enc.CiphertextBlob)
		if err != nil || base64.StdEncoding.EncodeToString(raw) != enc.CiphertextBlob || !strings.HasPrefix(string(raw), "AKB1") {
			t.Fatalf("blob is not canonical base64 of an AKB1 record: %v", err)
		}
		if enc.KeyId != id || enc.KeyVersionId == "" {
			t.Fatalf("Encrypt answer %+v", enc)
		}
		dec, err := e.decrypt(enc.CiphertextBlob, "")
		if err != nil {
			t.Fatal(err)
		}
		if dec.Plaintext != pt || dec.KeyId != id || dec.KeyVersionId != enc.KeyVersionId {
			t.Fatalf("Decrypt = %+v", dec)
		}
	}
	_, err := e.encrypt(id, strings.Repeat("A", maxPlaintextLen+1), "")
	wantErr(t, err, http.StatusBadRequest, CodeInvalidParameter)
	_, err = e.encrypt(id, "", "")
	wantErr(t, err, http.StatusBadRequest, CodeMissingParameter)
	_, err = e.encrypt("", "x", "")
	wantErr(t, err, http.StatusBadRequest, CodeMissingParameter)
	_, err = e.decrypt("", "")
	wantErr(t, err, http.StatusBadRequest, CodeMissingParameter)

	// Two encryptions of one plaintext differ (random nonce).
	a := must[*kms.EncryptResponse](t)(e.encrypt(id, "same", ""))
	b := must[*kms.EncryptResponse](t)(e.encrypt(id, "same", ""))
	if a.CiphertextBlob == b.CiphertextBlob {
		t.Fatal("deterministic ciphertext")
	}

	// Corrupt and foreign blobs.
	raw, _ := base64.StdEncoding.DecodeString(a.CiphertextBlob)
	flip := func(i int) string {
		c := slices.Clone(raw)
		c[i] ^= 1
		return base64.StdEncoding.EncodeToString(c)
	}
	for name, blob := range map[string]string{
		"not base64":    "!!!",
		"unpadded":      strings.TrimRight(a.CiphertextBlob, "="),
		"truncated":     base64.StdEncoding.EncodeToString(raw[:len(raw)-1]),
		"header only":   base64.StdEncoding.EncodeToString(raw[:42]),
		"magic":         flip(0),
		"version id":    flip(4 + 1 + 36 + 1 + 3),
		"nonce":         flip(len(raw) - 30),
		"ciphertext":    flip(len(raw) - 17),
		"tag":           flip(len(raw) - 1),
		"empty decoded": "",
		"garbage":       base64.StdEncoding.EncodeToString([]byte("AKB1 garbage garbage garbage garbage garbage")),
	} {
		if blob == "" {
			continue
		}
		_, err := e.decrypt(blob, "")
		wantErr(t, err, http.StatusBadRequest, CodeInvalidParameter)
		_ = name
	}
	// A well-formed blob naming a key this server does not have.
	foreign := slices.Clone(raw)
	copy(foreign[5:5+36], "00000000-0000-4000-8000-000000000000")
	_, err = e.decrypt(base64.StdEncoding.EncodeToString(foreign), "")
	wantErr(t, err, http.StatusNotFound, CodeKeyNotFound)
}

func TestEncryptionContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createKey(nil)
	ctx := `{"bucket":"bkt1","object":"a/b c+d"}`
	enc := must[*kms.EncryptResponse](t)(e.encrypt(id, "secret", ctx))
	// Same map in another order and spacing matches.
	for _, c := range []string{ctx, `{ "object" : "a/b c+d", "bucket":"bkt1" }`} {
		if dec, err := e.decrypt(enc.CiphertextBlob, c); err != nil || dec.Plaintext != "secret" {
			t.Fatalf("Decrypt with %s: %v", c, err)
		}
	}
	for _, c := range []string{"", "{}", `{"bucket":"bkt1"}`, `{"bucket":"bkt2","object":"a/b c+d"}`,
		`{"bucket":"bkt1","object":"a/b c+d","extra":"x"}`} {
		_, err := e.decrypt(enc.CiphertextBlob, c)
		wantErr(t, err, http.StatusBadRequest, CodeInvalidParameter)
	}
	// Malformed contexts.
	for _, c := range []string{"not json", `["a"]`, `{"n":1}`, `{"a":"b"} {}`, `{"a":null}`, "{" + strings.Repeat(" ", maxContextLen) + "}"} {
		_, err := e.encrypt(id, "x", c)
		wantErr(t, err, http.StatusBadRequest, CodeInvalidParameter)
	}
	// An empty object is the same as no context.
	enc2 := must[*kms.EncryptResponse](t)(e.encrypt(id, "x", "{}"))
	if _, err := e.decrypt(enc2.CiphertextBlob, ""); err != nil {
		t.Fatal(err)
	}
}

func TestGenerateDataKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createKey(nil)
	cases := []struct {
		spec, n string
		want    int
	}{
		{"", "", 32}, {"AES_256", "", 32}, {"AES_128", "", 16}, {"AES_128", "7", 7}, {"", "1024", 1024}, {"", "1", 1},
	}
	for _, c := range cases {
		req := kms.CreateGenerateDataKeyRequest()
		req.KeyId, req.KeySpec, req.NumberOfBytes = id, c.spec, requests.Integer(c.n)
		req.EncryptionContext = `{"purpose":"test"}`
		resp, err := e.client.GenerateDataKey(req)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		raw, err := base64.StdEncoding.DecodeString(resp.Plaintext)
		if err != nil || len(raw) != c.want {
			t.Fatalf("%+v: data key of %d bytes (%v)", c, len(raw), err)
		}
		dec := must[*kms.DecryptResponse](t)(e.decrypt(resp.CiphertextBlob, `{"purpose":"test"}`))
		if dec.Plaintext != resp.Plaintext || resp.KeyId != id || resp.KeyVersionId == "" {
			t.Fatalf("%+v: Decrypt of the data key blob = %q, want %q", c, dec.Plaintext, resp.Plaintext)
		}
	}
	for _, c := range []struct{ spec, n string }{{"AES_512", ""}, {"", "0"}, {"", "1025"}, {"", "-1"}} {
		req := kms.CreateGenerateDataKeyRequest()
		req.KeyId, req.KeySpec, req.NumberOfBytes = id, c.spec, requests.Integer(c.n)
		_, err := e.client.GenerateDataKey(req)
		wantErr(t, err, http.StatusBadRequest, CodeInvalidParameter)
	}
	wp := kms.CreateGenerateDataKeyWithoutPlaintextRequest()
	wp.KeyId = id
	resp, err := e.client.GenerateDataKeyWithoutPlaintext(wp)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(resp.GetHttpContentString(), "Plaintext") {
		t.Fatalf("WithoutPlaintext answered a Plaintext: %s", resp.GetHttpContentString())
	}
	dec := must[*kms.DecryptResponse](t)(e.decrypt(resp.CiphertextBlob, ""))
	if raw, err := base64.StdEncoding.DecodeString(dec.Plaintext); err != nil || len(raw) != 32 {
		t.Fatalf("data key from WithoutPlaintext: %d bytes, %v", len(raw), err)
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createKey(nil)
	v1 := must[*kms.DescribeKeyResponse](t)(e.describe(id)).KeyMetadata.PrimaryKeyVersion
	old := must[*kms.EncryptResponse](t)(e.encrypt(id, "before rotation", ""))
	if old.KeyVersionId != v1 {
		t.Fatalf("Encrypt used %s, primary is %s", old.KeyVersionId, v1)
	}
	var versions = []string{v1}
	for i := 0; i < 2; i++ {
		req := kms.CreateCreateKeyVersionRequest()
		req.KeyId = id
		resp := must[*kms.CreateKeyVersionResponse](t)(e.client.CreateKeyVersion(req))
		if resp.KeyVersion.KeyId != id || !uuidRE.MatchString(resp.KeyVersion.KeyVersionId) || resp.KeyVersion.CreationDate == "" {
			t.Fatalf("CreateKeyVersion = %+v", resp.KeyVersion)
		}
		versions = append(versions, resp.KeyVersion.KeyVersionId)
	}
	md := must[*kms.DescribeKeyResponse](t)(e.describe(id)).KeyMetadata
	if md.PrimaryKeyVersion != versions[2] || md.LastRotationDate == "" {
		t.Fatalf("after rotation: %+v", md)
	}
	enc := must[*kms.EncryptResponse](t)(e.encrypt(id, "after rotation", ""))
	if enc.KeyVersionId != versions[2] {
		t.Fatalf("new Encrypt used version %s", enc.KeyVersionId)
	}
	if dec := must[*kms.DecryptResponse](t)(e.decrypt(old.CiphertextBlob, "")); dec.Plaintext != "before rotation" || dec.KeyVersionId != v1 {
		t.Fatalf("old blob after rotation: %+v", dec)
	}
	// ListKeyVersions pages in creation order.
	lv := kms.CreateListKeyVersionsRequest()
	lv.KeyId, lv.PageSize = id, "2"
	page1 := must[*kms.ListKeyVersionsResponse](t)(e.client.ListKeyVersions(lv))
	lv.PageNumber = "2"
	page2 := must[*kms.ListKeyVersionsResponse](t)(e.client.ListKeyVersions(lv))
	var got []string
	for _, v := range append(page1.KeyVersions.KeyVersion, page2.KeyVersions.KeyVersion...) {
		got = append(got, v.KeyVersionId)
	}
	if page1.TotalCount != 3 || fmt.Sprint(got) != fmt.Sprint(versions) {
		t.Fatalf("ListKeyVersions total %d: %v, want %v", page1.TotalCount, got, versions)
	}
	// A disabled key cannot be rotated.
	dis := kms.CreateDisableKeyRequest()
	dis.KeyId = id
	must[*kms.DisableKeyResponse](t)(e.client.DisableKey(dis))
	req := kms.CreateCreateKeyVersionRequest()
	req.KeyId = id
	_, err := e.client.CreateKeyVersion(req)
	wantErr(t, err, http.StatusConflict, CodeRejectedDisabled)
}

func TestAutomaticRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createKey(func(r *kms.CreateKeyRequest) {
		r.EnableAutomaticRotation, r.RotationInterval = "true", "7d"
	})
	md := must[*kms.DescribeKeyResponse](t)(e.describe(id)).KeyMetadata
	created, _ := time.Parse("2006-01-02T15:04:05Z", md.CreationDate)
	next, err := time.Parse("2006-01-02T15:04:05Z", md.NextRotationDate)
	if md.AutomaticRotation != "Enabled" || md.RotationInterval != "604800s" || err != nil || next.Sub(created) != 7*24*time.Hour {
		t.Fatalf("metadata %+v", md)
	}
	first := must[*kms.EncryptResponse](t)(e.encrypt(id, "x", ""))
	e.clock.Advance(6 * 24 * time.Hour)
	if v := must[*kms.EncryptResponse](t)(e.encrypt(id, "x", "")).KeyVersionId; v != first.KeyVersionId {
		t.Fatal("rotated too early")
	}
	e.clock.Advance(2 * 24 * time.Hour)
	second := must[*kms.EncryptResponse](t)(e.encrypt(id, "x", ""))
	if second.KeyVersionId == first.KeyVersionId {
		t.Fatal("not rotated after the interval")
	}
	if v := must[*kms.EncryptResponse](t)(e.encrypt(id, "x", "")).KeyVersionId; v != second.KeyVersionId {
		t.Fatal("rotated twice within one interval")
	}
	if _, err := e.decrypt(first.CiphertextBlob, ""); err != nil {
		t.Fatal(err)
	}
}

func TestReEncrypt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	src, dst := e.createKey(nil), e.createKey(nil)
	enc := must[*kms.EncryptResponse](t)(e.encrypt(src, "move me", `{"a":"1"}`))
	mk := func(mutate func(*kms.ReEncryptRequest)) *kms.ReEncryptRequest {
		req := kms.CreateReEncryptRequest()
		req.CiphertextBlob, req.DestinationKeyId = enc.CiphertextBlob, dst
		req.SourceEncryptionContext, req.DestinationEncryptionContext = `{"a":"1"}`, `{"b":"2"}`
		req.SourceKeyId, req.SourceKeyVersionId = src, enc.KeyVersionId
		if mutate != nil {
			mutate(req)
		}
		return req
	}
	resp, err := e.client.ReEncrypt(mk(nil))
	if err != nil {
		t.Fatal(err)
	}
	if resp.KeyId != dst {
		t.Fatalf("ReEncrypt KeyId %s", resp.KeyId)
	}
	dec := must[*kms.DecryptResponse](t)(e.decrypt(resp.CiphertextBlob, `{"b":"2"}`))
	if dec.Plaintext != "move me" || dec.KeyId != dst {
		t.Fatalf("Decrypt of re-encrypted = %+v", dec)
	}
	for _, c := range []struct {
		mutate func(*kms.ReEncryptRequest)
		status int
		code   string
	}{
		{func(r *kms.ReEncryptRequest) { r.SourceEncryptionContext = `{"a":"2"}` }, 400, CodeInvalidParameter},
		{func(r *kms.ReEncryptRequest) { r.SourceKeyId = dst }, 400, CodeInvalidParameter},
		{func(r *kms.ReEncryptRequest) { r.SourceKeyVersionId = "00000000-0000-4000-8000-000000000000" }, 400, CodeInvalidParameter},
		{func(r *kms.ReEncryptRequest) { r.SourceEncryptionAlgorithm = "RSAES_OAEP_SHA_256" }, 400, CodeUnsupportedOperation},
		{func(r *kms.ReEncryptRequest) { r.DestinationKeyId = "" }, 400, CodeMissingParameter},
		{func(r *kms.ReEncryptRequest) { r.CiphertextBlob = "" }, 400, CodeMissingParameter},
		{func(r *kms.ReEncryptRequest) { r.DestinationKeyId = "alias/none" }, 404, CodeAliasNotFound},
	} {
		_, err := e.client.ReEncrypt(mk(c.mutate))
		wantErr(t, err, c.status, c.code)
	}
	dis := kms.CreateDisableKeyRequest()
	dis.KeyId = dst
	must[*kms.DisableKeyResponse](t)(e.client.DisableKey(dis))
	_, err = e.client.ReEncrypt(mk(nil))
	wantErr(t, err, http.StatusConflict, CodeRejectedDisabled)
}
