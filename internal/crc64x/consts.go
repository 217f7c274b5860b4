package crc64x

// foldConsts holds, as reflected 64-bit polynomials, the constants of the
// carry-less multiplication (PCLMULQDQ/PMULL) implementation, in the order
// the assembly loads them as 128-bit pairs:
//
//	pair i (i = 0..7): x^(d+63) mod P, x^(d-1) mod P   for d = 1024-128*i bits
//	pair 8:            floor(x^128/P) - x^64, P - x^64 (Barrett reduction)
//
// They are produced and checked by TestGeneratedConstants in model_test.go
// (go test -run TestGeneratedConstants -print-consts -v prints them).
var foldConsts = [18]uint64{
	0x8757d71d4fcc1000, 0xd7d86b2af73de740, // fold 1024
	0x9e735cb59b4724da, 0x947874de595052cb, // fold 896
	0x2fe3fd2920ce82ec, 0xe4ce2cd55fea0037, // fold 768
	0x2e30203212cac325, 0x0e31d519421a63a5, // fold 640
	0x6ae3efbb9dd441f3, 0x081f6054a7842df4, // fold 512
	0xb5ea1af9c013aca4, 0x69a35d91c3730254, // fold 384
	0x60095b008a9efa44, 0x3be653a30fe1af51, // fold 256
	0xe05dd497ca393ae4, 0xdabe95afc7875f40, // fold 128
	0x4e1f23360b94b1ea, 0xc96c5795d7870f42, // Barrett mu, P
}
