package crc64x

// This file derives the carry-less multiplication constants from first
// principles and runs a bit-exact software model of the folding algorithm
// used by the assembly, so that both the constants and the algebra are
// checked independently of any CPU feature.
//
// Conventions. A 128-bit block loaded little-endian into a register holds
// bit k <-> x^(127-k) (the first message bit is the highest-degree one, as
// in every reflected CRC). A reflected 64-bit value holds bit j <-> x^(63-j).
// The carry-less product of two reflected 64-bit values has bit m <->
// x^(126-m), i.e. read as a 128-bit block it is the true product times x,
// which is why the fold constants use exponents one lower than the
// distance folded.

import (
	"flag"
	"fmt"
	"hash/crc64"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
)

var printConsts = flag.Bool("print-consts", false, "print the generated fold constants as Go source")

// polyNormal is the ECMA-182 polynomial without its x^64 term, in normal
// (non-reflected) bit order: bit i <-> x^i.
const polyNormal uint64 = 0x42F0E1EBA9EA3693

// xPowModNormal returns x^k mod P in normal bit order, by shifting one bit
// at a time (slow and obviously correct).
func xPowModNormal(k int) uint64 {
	r := uint64(1)
	for range k {
		carry := r >> 63
		r <<= 1
		if carry != 0 {
			r ^= polyNormal
		}
	}
	return r
}

// xPowModReflected returns x^k mod P in reflected bit order, using the
// package's mulMod on repeated squaring (an independent route to the same
// value as xPowModNormal).
func xPowModReflected(k int) uint64 {
	result, base := one, one>>1 // x^0, x^1
	for ; k > 0; k >>= 1 {
		if k&1 != 0 {
			result = mulMod(result, base)
		}
		base = mulMod(base, base)
	}
	return result
}

// barrettMu returns floor(x^128 / P) without its x^64 term, in normal bit
// order, by schoolbook long division.
func barrettMu() uint64 {
	// Remainder as a 129-bit value: rem[2] holds x^128, rem[1] x^64..x^127,
	// rem[0] x^0..x^63.
	var rem [3]uint64
	rem[2] = 1
	var q uint64 // quotient bits x^0..x^63 (x^64 is implied)
	for d := 128; d >= 64; d-- {
		word, bit := d/64, uint(d%64)
		if rem[word]>>bit&1 == 0 {
			continue
		}
		shift := d - 64 // subtract P * x^shift
		if shift < 64 {
			q |= 1 << uint(shift)
		}
		// P = x^64 + polyNormal; x^64 * x^shift clears bit d.
		rem[word] &^= 1 << bit
		lo := polyNormal << uint(shift)
		var hi uint64
		if shift > 0 {
			hi = polyNormal >> uint(64-shift)
		}
		rem[0] ^= lo
		rem[1] ^= hi
	}
	if rem[2] != 0 || rem[1] != 0 {
		panic("barrettMu: division left a remainder of degree >= 64")
	}
	return q
}

// genConsts computes the constant table used by the assembly.
func genConsts() [18]uint64 {
	var c [18]uint64
	r := bits.Reverse64
	// Fold by d bits (d = 1024, 896, ..., 128): the low qword of a block
	// (x^127..x^64) is multiplied by x^(d+63) mod P, the high qword
	// (x^63..x^0) by x^(d-1) mod P. The last pair (d = 128) also serves the
	// final step, whose x^127 mod P is the same value as its high qword.
	for i := range 8 {
		d := 1024 - 128*i
		c[2*i] = r(xPowModNormal(d + 63))
		c[2*i+1] = r(xPowModNormal(d - 1))
	}
	// Barrett reduction: mu = floor(x^128/P) and P, both without x^64.
	c[16] = r(barrettMu())
	c[17] = r(polyNormal)
	return c
}

func TestPolyAgreesWithStdlib(t *testing.T) {
	if bits.Reverse64(polyNormal) != poly {
		t.Fatalf("reflected polynomial %#x != crc64.ECMA %#x", bits.Reverse64(polyNormal), uint64(poly))
	}
}

func TestPowersAgree(t *testing.T) {
	for _, k := range []int{0, 1, 63, 64, 65, 127, 128, 191, 1087, 4097} {
		if a, b := bits.Reverse64(xPowModNormal(k)), xPowModReflected(k); a != b {
			t.Errorf("x^%d mod P: shift method %#x, squaring method %#x", k, a, b)
		}
	}
}

func TestBarrettMu(t *testing.T) {
	// mu*P must equal x^128 up to a remainder of degree < 64: check by
	// multiplying back with the software carry-less multiplier.
	mu := barrettMu() // normal order, x^64 implied
	// (x^64 + mu) * (x^64 + p) = x^128 + x^64*(mu ^ p) + mu*p
	lo, hi := clmulNormal(mu, polyNormal)
	hi ^= mu ^ polyNormal
	// The x^128 term cancels the dividend; what is left must be the remainder
	// x^128 mod P, of degree < 64, so hi must be 0 and lo = x^128 mod P.
	if hi != 0 {
		t.Fatalf("mu*P high part %#x, want 0", hi)
	}
	if want := xPowModNormal(128); lo != want {
		t.Fatalf("x^128 - mu*P = %#x, want x^128 mod P = %#x", lo, want)
	}
}

func TestGeneratedConstants(t *testing.T) {
	got := genConsts()
	if *printConsts {
		var b strings.Builder
		for i := 0; i < len(got); i += 2 {
			fmt.Fprintf(&b, "\t%#016x, %#016x,\n", got[i], got[i+1])
		}
		t.Logf("constants:\n%s", b.String())
	}
	if foldConsts != got {
		t.Fatalf("foldConsts in the source differ from the generated ones:\nhave %#x\nwant %#x", foldConsts, got)
	}
}

// clmulNormal multiplies two polynomials given in normal bit order.
func clmulNormal(a, b uint64) (lo, hi uint64) {
	for i := range 64 {
		if b>>i&1 != 0 {
			lo ^= a << i
			if i > 0 {
				hi ^= a >> (64 - i)
			}
		}
	}
	return lo, hi
}

// clmul models PCLMULQDQ: the plain carry-less product of the bit patterns.
func clmul(a, b uint64) (lo, hi uint64) { return clmulNormal(a, b) }

// xmm models a 128-bit register.
type xmm struct{ lo, hi uint64 }

func load(p []byte) xmm {
	le := func(b []byte) uint64 {
		var v uint64
		for i := 7; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		return v
	}
	return xmm{le(p), le(p[8:])}
}

func (a xmm) xor(b xmm) xmm { return xmm{a.lo ^ b.lo, a.hi ^ b.hi} }

// fold multiplies a forward by the constant pair k (low qword by k[0], high
// qword by k[1]) as the two PCLMULQDQ of the assembly do.
func fold(a xmm, k0, k1 uint64) xmm {
	l0, h0 := clmul(a.lo, k0)
	l1, h1 := clmul(a.hi, k1)
	return xmm{l0 ^ l1, h0 ^ h1}
}

// modelUpdate mirrors the assembly step by step: crc is the raw
// (uninverted) register and len(p) is a non-zero multiple of 16.
func modelUpdate(c *[18]uint64, crc uint64, p []byte) uint64 {
	var acc xmm
	if len(p) >= 128 {
		var x [8]xmm
		for i := range x {
			x[i] = load(p[16*i:])
		}
		x[0].lo ^= crc
		p = p[128:]
		for len(p) >= 128 {
			for i := range x {
				x[i] = fold(x[i], c[0], c[1]).xor(load(p[16*i:]))
			}
			p = p[128:]
		}
		acc = x[7]
		for i := range 7 {
			acc = acc.xor(fold(x[i], c[2+2*i], c[3+2*i]))
		}
	} else {
		acc = load(p)
		acc.lo ^= crc
		p = p[16:]
	}
	for len(p) >= 16 {
		acc = fold(acc, c[14], c[15]).xor(load(p))
		p = p[16:]
	}
	// acc*x^64 = H*x^128 + L*x^64: fold H, move L up to the high half.
	l, h := clmul(acc.lo, c[15])
	t := xmm{l ^ acc.hi, h} // t.lo = T1 (x^127..x^64), t.hi = T0
	// Barrett: q = T1 + hi64(T1*mu'), R = T0 + lo64(q*P').
	// The product's bit m holds x^(126-m), so its x^127..x^64 part is the
	// low qword shifted up by one bit.
	ql, _ := clmul(t.lo, c[16])
	q := t.lo ^ ql<<1
	rl, rh := clmul(q, c[17])
	return t.hi ^ (rh<<1 | rl>>63)
}

func TestModelMatchesStdlib(t *testing.T) {
	c := genConsts()
	rng := rand.New(rand.NewPCG(7, 8))
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	for n := 16; n <= len(buf); n += 16 {
		if n > 512 && n%272 != 0 && n != len(buf) {
			continue // keep the (slow, bit-serial) model test quick
		}
		s := rng.Uint64() // raw register: Update(crc) = ^raw(^crc)
		want := ^crc64.Update(^s, table, buf[:n])
		if got := modelUpdate(&c, s, buf[:n]); got != want {
			t.Fatalf("len %d: model %#x, stdlib %#x", n, got, want)
		}
	}
}
