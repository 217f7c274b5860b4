//go:build amd64 && !purego

#include "textflag.h"

// CRC-64/ECMA by carry-less multiplication folding (Intel, "Fast CRC
// Computation for Generic Polynomials Using PCLMULQDQ Instruction", 2009),
// for the reflected polynomial. The derivation of every constant and a
// bit-exact model of this code are in model_test.go.
//
// A 16-byte block loaded little-endian holds bit k <-> x^(127-k): its low
// qword H is the high-degree half. Folding a block forward by d bits
// replaces it with H*(x^(d+63) mod P) xor L*(x^(d-1) mod P); the exponents
// are one lower than the true shift because the carry-less product of two
// reflected values comes out multiplied by x.

// FOLD folds accumulator A by the constant pair in K into A, using T as
// scratch: A = clmul(A.lo, K.lo) xor clmul(A.hi, K.hi).
#define FOLD(K, A, T) \
	MOVOA     A, T      \
	PCLMULQDQ $0x00, K, A \
	PCLMULQDQ $0x11, K, T \
	PXOR      T, A

// func updateCLMUL(crc uint64, p []byte, k *[18]uint64) uint64
//
// crc is the raw (uninverted) register; len(p) is a non-zero multiple of 16.
TEXT ·updateCLMUL(SB), NOSPLIT, $0-48
	MOVQ crc+0(FP), AX
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), CX
	MOVQ k+32(FP), DX
	MOVQ AX, X11 // {crc, 0}: the register is xored into the first 8 bytes

	CMPQ CX, $128
	JB   single

	// Eight accumulators, 128 bytes per iteration.
	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3
	MOVOU 64(SI), X4
	MOVOU 80(SI), X5
	MOVOU 96(SI), X6
	MOVOU 112(SI), X7
	PXOR  X11, X0
	ADDQ  $128, SI
	SUBQ  $128, CX
	MOVOU 0(DX), X8 // fold by 1024 bits
	CMPQ  CX, $128
	JB    reduce8

loop8:
	FOLD(X8, X0, X9)
	MOVOU 0(SI), X10
	PXOR  X10, X0
	FOLD(X8, X1, X9)
	MOVOU 16(SI), X10
	PXOR  X10, X1
	FOLD(X8, X2, X9)
	MOVOU 32(SI), X10
	PXOR  X10, X2
	FOLD(X8, X3, X9)
	MOVOU 48(SI), X10
	PXOR  X10, X3
	FOLD(X8, X4, X9)
	MOVOU 64(SI), X10
	PXOR  X10, X4
	FOLD(X8, X5, X9)
	MOVOU 80(SI), X10
	PXOR  X10, X5
	FOLD(X8, X6, X9)
	MOVOU 96(SI), X10
	PXOR  X10, X6
	FOLD(X8, X7, X9)
	MOVOU 112(SI), X10
	PXOR  X10, X7
	ADDQ $128, SI
	SUBQ $128, CX
	CMPQ CX, $128
	JAE  loop8

reduce8:
	// Fold X0..X6 onto X7, by 896, 768, ..., 128 bits.
	MOVOU 16(DX), X8
	FOLD(X8, X0, X9)
	PXOR  X0, X7
	MOVOU 32(DX), X8
	FOLD(X8, X1, X9)
	PXOR  X1, X7
	MOVOU 48(DX), X8
	FOLD(X8, X2, X9)
	PXOR  X2, X7
	MOVOU 64(DX), X8
	FOLD(X8, X3, X9)
	PXOR  X3, X7
	MOVOU 80(DX), X8
	FOLD(X8, X4, X9)
	PXOR  X4, X7
	MOVOU 96(DX), X8
	FOLD(X8, X5, X9)
	PXOR  X5, X7
	MOVOU 112(DX), X8
	FOLD(X8, X6, X9)
	PXOR  X6, X7
	MOVOA X7, X0
	JMP   fold16

single:
	MOVOU 0(SI), X0
	PXOR  X11, X0
	ADDQ  $16, SI
	SUBQ  $16, CX

fold16:
	MOVOU 112(DX), X8 // fold by 128 bits; its high qword is x^127 mod P
	CMPQ  CX, $16
	JB    final

loop16:
	FOLD(X8, X0, X9)
	MOVOU 0(SI), X10
	PXOR  X10, X0
	ADDQ  $16, SI
	SUBQ  $16, CX
	CMPQ  CX, $16
	JAE   loop16

final:
	// The CRC is X0*x^64 mod P = H*x^128 + L*x^64 mod P. Fold H by x^127
	// (times the implicit x) and move L to the high-degree half:
	// T = {T1, T0} with T1 the x^127..x^64 half.
	MOVOA     X0, X1
	PCLMULQDQ $0x10, X8, X0
	PSRLDQ    $8, X1
	PXOR      X1, X0

	// Barrett: q = T1 xor hi64(T1*mu), CRC = T0 xor lo64(q*P). The
	// product's bit m holds x^(126-m): its high 64 coefficients are the low
	// qword shifted up one bit, its low 64 are bits 63..126.
	MOVOU     128(DX), X2 // {mu, P}
	MOVOA     X0, X1
	PCLMULQDQ $0x00, X2, X1
	PSLLQ     $1, X1
	PXOR      X0, X1 // X1.lo = q
	PCLMULQDQ $0x10, X2, X1
	MOVQ      X1, AX
	PEXTRQ    $1, X1, BX
	SHLQ      $1, AX, BX // BX = bits 63..126
	PEXTRQ    $1, X0, AX // T0
	XORQ      BX, AX
	MOVQ      AX, ret+40(FP)
	RET
