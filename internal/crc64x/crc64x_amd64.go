//go:build amd64 && !purego

package crc64x

import "golang.org/x/sys/cpu"

// archMin is the shortest input given to the assembly; below it the table
// code is as fast.
const archMin = 16

// useArch reports whether archUpdate may be used. Tests clear it to
// exercise the table path.
var useArch = cpu.X86.HasPCLMULQDQ && cpu.X86.HasSSE41

// archUpdate advances the raw (uninverted) CRC register crc over p, whose
// length must be a non-zero multiple of 16, by PCLMULQDQ folding.
func archUpdate(crc uint64, p []byte) uint64 { return updateCLMUL(crc, p, &foldConsts) }

// updateCLMUL is implemented in crc64x_amd64.s.
//
//go:noescape
func updateCLMUL(crc uint64, p []byte, k *[18]uint64) uint64
