package crc64x

import (
	"fmt"
	"hash/crc64"
	"testing"
)

var benchSizes = []int{16, 32, 64, 256, 4 << 10, 1 << 20}

var sink uint64

func BenchmarkUpdate(b *testing.B) {
	for _, n := range benchSizes {
		data := randomBytes(uint64(n), n)
		b.Run(fmt.Sprintf("crc64x/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				sink = Update(sink, data)
			}
		})
		b.Run(fmt.Sprintf("generic/%d", n), func(b *testing.B) {
			defer func(saved bool) { useArch = saved }(useArch)
			useArch = false
			b.SetBytes(int64(n))
			for b.Loop() {
				sink = Update(sink, data)
			}
		})
		b.Run(fmt.Sprintf("stdlib/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				sink = crc64.Update(sink, table, data)
			}
		})
	}
}
