package crypto

import "strconv"

// RangePlan says how to serve a plaintext byte range [Start, End] of an
// encrypted object: fetch the ciphertext bytes [FetchStart, FetchEnd] (for
// example with HTTPRange as the Range header), hand the body to
// Content.DecryptRange, which drops the first Discard decrypted bytes and
// returns exactly the requested plaintext.
//
// For the SDK format FetchStart is 16·⌊Start/16⌋ and FetchEnd is End; for the
// authenticated chunked mode the fetch covers the whole chunks that hold the
// range, so every byte returned has been authenticated.
type RangePlan struct {
	// Start and End are the plaintext range, inclusive. End is clamped to
	// the last byte of the object, or -1 ("to the end") when the object size
	// is unknown (SDK format only).
	Start, End int64
	// FetchStart and FetchEnd are the ciphertext range to request,
	// inclusive; FetchEnd is -1 for "to the end".
	FetchStart, FetchEnd int64
	// Discard is how many leading decrypted bytes are not part of the range.
	Discard int64

	objectSize int64 // ciphertext size of the whole object, -1 if unknown
}

// Length returns the number of plaintext bytes in the range, or -1 when the
// range is open-ended.
func (p RangePlan) Length() int64 {
	if p.End < 0 {
		return -1
	}
	return p.End - p.Start + 1
}

// HTTPRange returns the Range header value for the ciphertext fetch, such as
// "bytes=16-99" or "bytes=32-".
func (p RangePlan) HTTPRange() string {
	s := "bytes=" + strconv.FormatInt(p.FetchStart, 10) + "-"
	if p.FetchEnd >= 0 {
		s += strconv.FormatInt(p.FetchEnd, 10)
	}
	return s
}
