//go:build arm64 && !purego

#include "textflag.h"

// CRC-64/ECMA by carry-less multiplication folding with PMULL; the same
// algorithm and constants as crc64x_amd64.s (see model_test.go for the
// derivation). A 16-byte block loaded by VLD1 holds its high-degree half in
// lane D[0] and its low-degree half in D[1].

// FOLD folds accumulator A by the constant pair K, xoring in block D:
// A = pmull(A.D[0], K.D[0]) xor pmull2(A.D[1], K.D[1]) xor D.
#define FOLD(K, A, D, T1, T2) \
	VPMULL  K.D1, A.D1, T1.Q1 \
	VPMULL2 K.D2, A.D2, T2.Q1 \
	VEOR    T1.B16, T2.B16, A.B16 \
	VEOR    D.B16, A.B16, A.B16

// func updatePMULL(crc uint64, p []byte, k *[18]uint64) uint64
//
// crc is the raw (uninverted) register; len(p) is a non-zero multiple of 16.
TEXT ·updatePMULL(SB), NOSPLIT, $0-48
	MOVD crc+0(FP), R0
	MOVD p_base+8(FP), R1
	MOVD p_len+16(FP), R3
	MOVD k+32(FP), R2

	// V24..V31: fold-by-1024, 896, ..., 128 constant pairs.
	VLD1 (R2), [V24.D2, V25.D2, V26.D2, V27.D2]
	ADD  $64, R2, R4
	VLD1 (R4), [V28.D2, V29.D2, V30.D2, V31.D2]

	// V16 = {crc, 0}: the register is xored into the first 8 bytes.
	VEOR V16.B16, V16.B16, V16.B16
	VMOV R0, V16.D[0]

	CMP $128, R3
	BLO single

	// Eight accumulators, 128 bytes per iteration.
	VLD1.P 64(R1), [V0.B16, V1.B16, V2.B16, V3.B16]
	VLD1.P 64(R1), [V4.B16, V5.B16, V6.B16, V7.B16]
	VEOR   V16.B16, V0.B16, V0.B16
	SUB    $128, R3
	CMP    $128, R3
	BLO    reduce8

loop8:
	VLD1.P 64(R1), [V8.B16, V9.B16, V10.B16, V11.B16]
	VLD1.P 64(R1), [V12.B16, V13.B16, V14.B16, V15.B16]
	FOLD(V24, V0, V8, V16, V17)
	FOLD(V24, V1, V9, V18, V19)
	FOLD(V24, V2, V10, V20, V21)
	FOLD(V24, V3, V11, V22, V23)
	FOLD(V24, V4, V12, V16, V17)
	FOLD(V24, V5, V13, V18, V19)
	FOLD(V24, V6, V14, V20, V21)
	FOLD(V24, V7, V15, V22, V23)
	SUB $128, R3
	CMP $128, R3
	BHS loop8

reduce8:
	// Fold V0..V6 onto V7, by 896, 768, ..., 128 bits.
	FOLD(V25, V0, V7, V16, V17)
	VMOV V0.B16, V7.B16
	FOLD(V26, V1, V7, V18, V19)
	VMOV V1.B16, V7.B16
	FOLD(V27, V2, V7, V20, V21)
	VMOV V2.B16, V7.B16
	FOLD(V28, V3, V7, V22, V23)
	VMOV V3.B16, V7.B16
	FOLD(V29, V4, V7, V16, V17)
	VMOV V4.B16, V7.B16
	FOLD(V30, V5, V7, V18, V19)
	VMOV V5.B16, V7.B16
	FOLD(V31, V6, V7, V20, V21)
	VMOV V6.B16, V7.B16
	VMOV V7.B16, V0.B16
	B    fold16

single:
	VLD1.P 16(R1), [V0.B16]
	VEOR   V16.B16, V0.B16, V0.B16
	SUB    $16, R3

fold16:
	CMP $16, R3
	BLO final

loop16:
	VLD1.P 16(R1), [V8.B16]
	FOLD(V31, V0, V8, V16, V17)
	SUB    $16, R3
	CMP    $16, R3
	BHS    loop16

final:
	// The CRC is A*x^64 mod P = H*x^128 + L*x^64 mod P: fold H by x^127
	// (times the implicit x), then T1 = lo ^ L is the x^127..x^64 half and
	// T0 = hi the x^63..x^0 half.
	FMOVD  120(R2), F20 // x^127 mod P
	VPMULL V20.D1, V0.D1, V21.Q1
	VMOV   V21.D[0], R4
	VMOV   V21.D[1], R5 // T0
	VMOV   V0.D[1], R6
	EOR    R6, R4, R4   // T1

	// Barrett: q = T1 xor hi64(T1*mu), CRC = T0 xor lo64(q*P). The
	// product's bit m holds x^(126-m): its high 64 coefficients are the low
	// doubleword shifted up one bit, its low 64 are bits 63..126.
	FMOVD  128(R2), F20 // mu
	VMOV   R4, V22.D[0]
	VPMULL V20.D1, V22.D1, V23.Q1
	VMOV   V23.D[0], R7
	EOR    R7<<1, R4, R7 // q
	FMOVD  136(R2), F20  // P
	VMOV   R7, V22.D[0]
	VPMULL V20.D1, V22.D1, V23.Q1
	VMOV   V23.D[0], R8
	VMOV   V23.D[1], R9
	LSR    $63, R8, R8
	ORR    R9<<1, R8, R8
	EOR    R8, R5, R0
	MOVD   R0, ret+40(FP)
	RET
