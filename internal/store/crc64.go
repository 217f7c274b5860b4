package store

// CRC-64/ECMA combination: given crc(A), crc(B) and len(B), compute
// crc(A‖B) without the data. Appending len(B) zero bytes to A is a linear
// map on the CRC register, applied here as a 64×64 matrix over GF(2) that is
// squared repeatedly (one squaring per bit of len(B)), the same method as
// zlib's crc32_combine. The init/xorout conditioning of CRC-64/XZ cancels
// out, so the result is crc(A) advanced by len(B) zero bytes, xor crc(B).

// crc64ECMAReversed is the ECMA-182 polynomial in reflected bit order.
const crc64ECMAReversed = 0xC96C5795D7870F42

// gf2Times multiplies the matrix mat by the vector vec.
func gf2Times(mat *[64]uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

// gf2Square sets square = mat × mat.
func gf2Square(square, mat *[64]uint64) {
	for n := range mat {
		square[n] = gf2Times(mat, mat[n])
	}
}

// CRC64Combine returns the CRC-64/ECMA of the concatenation A‖B given
// crc1 = CRC(A), crc2 = CRC(B) and len2 = len(B).
func CRC64Combine(crc1, crc2 uint64, len2 int64) uint64 {
	if len2 <= 0 {
		return crc1
	}
	var even, odd [64]uint64
	// odd = operator for one zero bit.
	odd[0] = crc64ECMAReversed
	row := uint64(1)
	for n := 1; n < 64; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	// Each pass squares the operator (8, 16, 32, ... zero bits, i.e. 1, 2,
	// 4, ... zero bytes) and applies it when that bit of len2 is set.
	for {
		gf2Square(&even, &odd)
		if len2&1 != 0 {
			crc1 = gf2Times(&even, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
		gf2Square(&odd, &even)
		if len2&1 != 0 {
			crc1 = gf2Times(&odd, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}
