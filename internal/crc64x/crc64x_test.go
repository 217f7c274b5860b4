package crc64x

import (
	"hash/crc64"
	"math/rand/v2"
	"testing"
)

var table = crc64.MakeTable(crc64.ECMA)

func TestCheckValue(t *testing.T) {
	a, b := []byte("1234"), []byte("56789")
	got := Combine(crc64.Checksum(a, table), crc64.Checksum(b, table), int64(len(b)))
	if want := uint64(11051210869376104954); got != want {
		t.Fatalf("Combine = %d, want %d", got, want)
	}
}

func TestCombineMatchesHash(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 70000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	whole := crc64.Checksum(data, table)
	for _, cut := range []int{0, 1, 7, 8, 9, 255, 4096, 65535, 69999, 70000} {
		a, b := data[:cut], data[cut:]
		got := Combine(crc64.Checksum(a, table), crc64.Checksum(b, table), int64(len(b)))
		if got != whole {
			t.Errorf("cut %d: Combine = %d, want %d", cut, got, whole)
		}
	}
}

func TestCombineAll(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 10000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	var parts []Part
	for off := 0; off < len(data); {
		n := min(1+rng.IntN(1500), len(data)-off)
		parts = append(parts, Part{CRC: crc64.Checksum(data[off:off+n], table), Size: int64(n)})
		off += n
	}
	parts = append(parts, Part{CRC: 0, Size: 0}) // an empty part changes nothing
	if got, want := CombineAll(parts), crc64.Checksum(data, table); got != want {
		t.Fatalf("CombineAll = %d, want %d", got, want)
	}
	if got := CombineAll(nil); got != 0 {
		t.Fatalf("CombineAll(nil) = %d, want 0", got)
	}
}

func TestLargeLength(t *testing.T) {
	// The CRC of 5 GiB of zero bytes, combined MiB by MiB, must equal the
	// one built by doubling to 4 GiB and 1 GiB and combining those.
	zMiB := crc64.Checksum(make([]byte, 1<<20), table)
	linear := uint64(0)
	for range 5 << 10 {
		linear = Combine(linear, zMiB, 1<<20)
	}
	double := func(target int64) uint64 {
		crc, size := zMiB, int64(1<<20)
		for size < target {
			crc = Combine(crc, crc, size)
			size *= 2
		}
		return crc
	}
	if got := Combine(double(4<<30), double(1<<30), 1<<30); got != linear {
		t.Fatalf("5 GiB of zeros: doubling %d != linear %d", got, linear)
	}
	if Combine(crc64.Checksum([]byte{0}, table), linear, 5<<30) == linear {
		t.Fatal("prefixing a byte did not change the CRC")
	}
}
