//go:build arm64 && !purego

package crc64x

import "golang.org/x/sys/cpu"

// archMin is the shortest input given to the assembly; below it the table
// code is as fast.
const archMin = 16

// useArch reports whether archUpdate may be used. Tests clear it to
// exercise the table path.
var useArch = cpu.ARM64.HasPMULL

// archUpdate advances the raw (uninverted) CRC register crc over p, whose
// length must be a non-zero multiple of 16, by PMULL folding.
func archUpdate(crc uint64, p []byte) uint64 { return updatePMULL(crc, p, &foldConsts) }

// updatePMULL is implemented in crc64x_arm64.s.
//
//go:noescape
func updatePMULL(crc uint64, p []byte, k *[18]uint64) uint64
