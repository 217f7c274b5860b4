//go:build (!amd64 && !arm64) || purego

package crc64x

import "hash/crc64"

// archMin is the shortest input given to archUpdate.
const archMin = 16

// useArch reports whether archUpdate may be used. There is no assembly on
// this platform, so the table path does all the work.
var useArch = false

// archUpdate advances the raw (uninverted) CRC register crc over p with the
// table code; it exists so that the platform-independent code and tests
// compile everywhere.
func archUpdate(crc uint64, p []byte) uint64 { return ^crc64.Update(^crc, ecmaTable, p) }
