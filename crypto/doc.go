// Package crypto implements client-side envelope encryption for OSS objects,
// byte-compatible with the official Alibaba Cloud OSS SDKs, plus an opt-in
// authenticated mode of ossctl's own.
//
// # The SDK format (default)
//
// Every object gets a fresh 32-byte data key (CEK; re-drawn while its first
// byte is zero, as the Java SDK does) and a 16-byte IV whose bytes 8..11 are
// zero. The content is AES-256-CTR with a 128-bit big-endian counter
// starting at the IV; plaintext offset o (a multiple of 16) starts at
// counter IV + o/16, so ranged reads and multipart parts need no state. The
// CEK and the IV are wrapped separately by a master key (RSA PKCS#1 v1.5,
// RSAMasterKey; or KMS Encrypt, package crypto/kms) and stored as user
// metadata:
//
//	x-oss-meta-client-side-encryption-key       base64(wrapped CEK)
//	x-oss-meta-client-side-encryption-start     base64(wrapped IV)
//	x-oss-meta-client-side-encryption-cek-alg   AES/CTR/NoPadding
//	x-oss-meta-client-side-encryption-wrap-alg  KMS/ALICLOUD | RSA/NONE/PKCS1Padding
//	x-oss-meta-client-side-encryption-matdesc   {"desc":"..."} (optional)
//	...-unencrypted-content-length, ...-unencrypted-content-md5,
//	...-data-size, ...-part-size                 (optional)
//
// The format is not authenticated: flipped ciphertext bits flip plaintext
// bits, and truncation, part reordering or a swapped envelope go unnoticed
// (this package only checks lengths and, on full reads, the optional
// plaintext MD5). Readers fail closed on any content algorithm other than
// AES/CTR/NoPadding.
//
// # The authenticated mode (opt-in)
//
// Options.Mode = CEKAlgAESGCMChunkedV1 selects "ossctl/AES-256-GCM-chunked-v1":
// 64 KiB chunks sealed with AES-256-GCM under keys derived by HKDF from the
// CEK and a per-object salt, a STREAM-style last-chunk flag, a key
// commitment, and the parameters bound as associated data (see gcm.go for
// the exact construction). Its metadata lives under
// x-oss-meta-ossctl-cse-*, never in the client-side-encryption-*
// namespace that OSS validates. Official SDKs see no
// client-side-encryption-key on such objects and return the stored
// ciphertext as is; ossctl's parser rejects unknown ossctl modes with
// ErrUnsupportedAlgorithm. Ranged reads fetch only the chunks the range
// needs, and multipart parts are whole chunks, so both stay cheap and
// parallel. Tampering is reported as ErrIntegrity before any plaintext of
// the failing chunk is released; earlier chunks of a stream have already
// been returned by then, so callers write to a temporary file and discard
// it on error.
//
// # Usage
//
// Encrypting: NewContent(masterKey, opts) → Content; upload
// Content.EncryptReader(body, 0) with Envelope().Metadata() as user
// metadata, or call SetMultipart and upload Content.EncryptPart(part, n)
// for each part (in any order, in parallel). Decrypting: ParseEnvelope(HEAD
// headers) → OpenContent(envelope, resolver) → PlanRange + DecryptRange, or
// DecryptReader for the whole object. Re-keying: Content.Rewrap.
//
// Master keys: RSAMasterKey here, crypto/kms for Alibaba Cloud KMS (and
// ossctl serve), and crypto/keyring for local RSA keys kept in a
// passphrase-sealed file. MasterKeyResolver picks a key by material
// description the way the official SDKs do.
//
// This package imports nothing from ossctl's CLI or server; it uses only the
// standard library.
package crypto
