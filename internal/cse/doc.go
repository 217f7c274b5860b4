// Package cse is the client-side encryption glue between the CLI and the crypto/ library: it
// turns encryption specs (`kms:<key-id|alias>`, `key:<name>`, or the profile's `encrypt`
// setting) into crypto master keys, finds the master key of an encrypted object from its
// metadata (KMS blobs name their key; keyring keys are selected by matdesc), and offers the
// upload, download and re-wrap helpers that the transfer engine and `ossctl cse` call.
//
// Errors that mean the data cannot be trusted or decrypted (a tampered object, a wrong or
// missing master key, an envelope naming an unknown cipher, a wrong keyring passphrase) are
// returned as *cmdutil.IntegrityError, so that ossctl exits 6 for them.
package cse
