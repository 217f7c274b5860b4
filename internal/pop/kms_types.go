package pop

// Response bodies of the KMS actions. JSON and XML names are the official
// SDK's (services/kms/*.go) and are case-sensitive.

type keyMetadata struct {
	KeyID                         string `json:"KeyId" xml:"KeyId"`
	Arn                           string `json:"Arn" xml:"Arn"`
	KeyState                      string `json:"KeyState" xml:"KeyState"`
	KeyUsage                      string `json:"KeyUsage" xml:"KeyUsage"`
	KeySpec                       string `json:"KeySpec" xml:"KeySpec"`
	Origin                        string `json:"Origin" xml:"Origin"`
	ProtectionLevel               string `json:"ProtectionLevel" xml:"ProtectionLevel"`
	Description                   string `json:"Description" xml:"Description"`
	Creator                       string `json:"Creator" xml:"Creator"`
	CreationDate                  string `json:"CreationDate" xml:"CreationDate"`
	DeleteDate                    string `json:"DeleteDate,omitempty" xml:"DeleteDate,omitempty"`
	PrimaryKeyVersion             string `json:"PrimaryKeyVersion" xml:"PrimaryKeyVersion"`
	AutomaticRotation             string `json:"AutomaticRotation" xml:"AutomaticRotation"`
	RotationInterval              string `json:"RotationInterval,omitempty" xml:"RotationInterval,omitempty"`
	LastRotationDate              string `json:"LastRotationDate,omitempty" xml:"LastRotationDate,omitempty"`
	NextRotationDate              string `json:"NextRotationDate,omitempty" xml:"NextRotationDate,omitempty"`
	MaterialExpireTime            string `json:"MaterialExpireTime,omitempty" xml:"MaterialExpireTime,omitempty"`
	DeletionProtection            string `json:"DeletionProtection" xml:"DeletionProtection"`
	DeletionProtectionDescription string `json:"DeletionProtectionDescription" xml:"DeletionProtectionDescription"`
	DKMSInstanceID                string `json:"DKMSInstanceId" xml:"DKMSInstanceId"`
}

type keyMetadataResponse struct {
	RequestID   string      `json:"RequestId" xml:"RequestId"`
	KeyMetadata keyMetadata `json:"KeyMetadata" xml:"KeyMetadata"`
}

type emptyResponse struct {
	RequestID string `json:"RequestId" xml:"RequestId"`
}

// listHeader opens every paged list response; encoding/json and
// encoding/xml both flatten it into the enclosing body.
type listHeader struct {
	RequestID  string `json:"RequestId" xml:"RequestId"`
	PageNumber int    `json:"PageNumber" xml:"PageNumber"`
	PageSize   int    `json:"PageSize" xml:"PageSize"`
	TotalCount int    `json:"TotalCount" xml:"TotalCount"`
}

type keyEntry struct {
	KeyID  string `json:"KeyId" xml:"KeyId"`
	KeyArn string `json:"KeyArn" xml:"KeyArn"`
}

type keyList struct {
	Key []keyEntry `json:"Key" xml:"Key"`
}

type listKeysResponse struct {
	listHeader
	Keys keyList `json:"Keys" xml:"Keys"`
}

type aliasEntry struct {
	AliasName string `json:"AliasName" xml:"AliasName"`
	AliasArn  string `json:"AliasArn" xml:"AliasArn"`
	KeyID     string `json:"KeyId" xml:"KeyId"`
}

type aliasList struct {
	Alias []aliasEntry `json:"Alias" xml:"Alias"`
}

type listAliasesResponse struct {
	listHeader
	Aliases aliasList `json:"Aliases" xml:"Aliases"`
}

type encryptResponse struct {
	RequestID      string `json:"RequestId" xml:"RequestId"`
	KeyID          string `json:"KeyId" xml:"KeyId"`
	KeyVersionID   string `json:"KeyVersionId" xml:"KeyVersionId"`
	CiphertextBlob string `json:"CiphertextBlob" xml:"CiphertextBlob"`
}

type decryptResponse struct {
	RequestID    string `json:"RequestId" xml:"RequestId"`
	KeyID        string `json:"KeyId" xml:"KeyId"`
	KeyVersionID string `json:"KeyVersionId" xml:"KeyVersionId"`
	Plaintext    string `json:"Plaintext" xml:"Plaintext"`
}

type dataKeyResponse struct {
	RequestID      string `json:"RequestId" xml:"RequestId"`
	KeyID          string `json:"KeyId" xml:"KeyId"`
	KeyVersionID   string `json:"KeyVersionId" xml:"KeyVersionId"`
	CiphertextBlob string `json:"CiphertextBlob" xml:"CiphertextBlob"`
	Plaintext      string `json:"Plaintext,omitempty" xml:"Plaintext,omitempty"`
}

type keyVersionEntry struct {
	KeyID        string `json:"KeyId" xml:"KeyId"`
	KeyVersionID string `json:"KeyVersionId" xml:"KeyVersionId"`
	CreationDate string `json:"CreationDate" xml:"CreationDate"`
}

type createKeyVersionResponse struct {
	RequestID  string          `json:"RequestId" xml:"RequestId"`
	KeyVersion keyVersionEntry `json:"KeyVersion" xml:"KeyVersion"`
}

type keyVersionList struct {
	KeyVersion []keyVersionEntry `json:"KeyVersion" xml:"KeyVersion"`
}

type listKeyVersionsResponse struct {
	listHeader
	KeyVersions keyVersionList `json:"KeyVersions" xml:"KeyVersions"`
}

type importParamsResponse struct {
	RequestID       string `json:"RequestId" xml:"RequestId"`
	KeyID           string `json:"KeyId" xml:"KeyId"`
	ImportToken     string `json:"ImportToken" xml:"ImportToken"`
	PublicKey       string `json:"PublicKey" xml:"PublicKey"`
	TokenExpireTime string `json:"TokenExpireTime" xml:"TokenExpireTime"`
}
