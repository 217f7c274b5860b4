// Package crc64x computes the CRC-64/ECMA checksum OSS reports as
// x-oss-hash-crc64ecma (Go's hash/crc64 with crc64.ECMA: the CRC-64/XZ
// parameters) several times faster than hash/crc64, by carry-less
// multiplication folding (PCLMULQDQ on amd64, PMULL on arm64; the table code
// of hash/crc64 elsewhere, for short inputs, and with the purego build tag),
// and combines the checksums of adjacent byte sequences without re-reading
// the data, as needed for multipart and appendable objects whose CRC must
// describe the whole object.
package crc64x

import "hash/crc64"

// poly is the reflected ECMA-182 polynomial used by hash/crc64.
const poly = crc64.ECMA

// one is the polynomial "1" (x^0) in the reflected bit order.
const one = uint64(1) << 63

// x2n[k] holds x^(2^k) mod poly. 67 entries cover every length below 2^63
// bytes (lengths are counted in bits, so the exponent starts at 2^3).
var x2n = func() [67]uint64 {
	var t [67]uint64
	p := one >> 1 // x^1
	for k := range t {
		t[k] = p
		p = mulMod(p, p)
	}
	return t
}()

// mulMod returns a*b mod poly for polynomials in reflected representation.
func mulMod(a, b uint64) uint64 {
	var prod uint64
	for m := one; m != 0; m >>= 1 {
		if a&m != 0 {
			prod ^= b
		}
		if b&1 != 0 {
			b = b>>1 ^ poly
		} else {
			b >>= 1
		}
	}
	return prod
}

// xPow8n returns x^(8n) mod poly: the operator that shifts a CRC register
// over n zero bytes.
func xPow8n(n uint64) uint64 {
	p := one
	for k := 3; n != 0; k++ {
		if n&1 != 0 {
			p = mulMod(x2n[k], p)
		}
		n >>= 1
	}
	return p
}

// Combine returns the CRC-64/ECMA of A||B given crcA = CRC(A), crcB = CRC(B)
// and lenB = len(B).
func Combine(crcA, crcB uint64, lenB int64) uint64 {
	if lenB <= 0 {
		return crcA ^ crcB
	}
	return mulMod(xPow8n(uint64(lenB)), crcA) ^ crcB
}

// Part is the CRC and length of one piece of a concatenation.
type Part struct {
	CRC  uint64
	Size int64
}

// CombineAll returns the CRC-64/ECMA of the concatenation of parts.
func CombineAll(parts []Part) uint64 {
	var crc uint64
	for _, p := range parts {
		crc = Combine(crc, p.CRC, p.Size)
	}
	return crc
}
