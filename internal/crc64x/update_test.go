package crc64x

import (
	"bytes"
	"encoding"
	"hash"
	"hash/crc64"
	"math/rand/v2"
	"testing"
)

// implementations runs f once with the assembly enabled (where the CPU has
// it) and once on the table path alone.
func implementations(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	if useArch {
		t.Run("arch", f)
	} else {
		t.Log("no assembly implementation on this CPU/platform")
	}
	t.Run("generic", func(t *testing.T) {
		defer func(saved bool) { useArch = saved }(useArch)
		useArch = false
		f(t)
	})
}

func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestKnownValues(t *testing.T) {
	implementations(t, func(t *testing.T) {
		if got := Checksum([]byte("123456789")); got != 11051210869376104954 {
			t.Errorf("Checksum(123456789) = %d, want 11051210869376104954", got)
		}
		if got := Checksum(nil); got != 0 {
			t.Errorf("Checksum(nil) = %d, want 0", got)
		}
		if got := Update(12345, nil); got != 12345 {
			t.Errorf("Update(12345, nil) = %d, want 12345", got)
		}
		// 1 MiB of zeros and of 0xff: both halves of the fold see
		// degenerate data, which a wrong constant would not survive.
		for _, fill := range []byte{0, 0xff} {
			b := bytes.Repeat([]byte{fill}, 1<<20)
			if got, want := Checksum(b), crc64.Checksum(b, table); got != want {
				t.Errorf("1 MiB of %#x: %#x, want %#x", fill, got, want)
			}
		}
	})
}

// TestAllLengthsAndOffsets covers every length 0..10000 (step 1 up to
// 1100, which crosses every path boundary several times, then sparser) at
// every offset 0..15 from a 16-byte boundary, from random initial CRCs.
func TestAllLengthsAndOffsets(t *testing.T) {
	data := randomBytes(1, 10000+64)
	implementations(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(2, 3))
		for n := 0; n <= 10000; n++ {
			if n > 1100 && n%37 != 0 && n != 10000 {
				continue
			}
			for off := range 16 {
				if n > 300 && off != 0 && off != 1 && off != 15 && off != rng.IntN(16) {
					continue
				}
				p := data[off : off+n]
				crc := rng.Uint64()
				if got, want := Update(crc, p), crc64.Update(crc, table, p); got != want {
					t.Fatalf("len %d offset %d crc %#x: Update = %#x, want %#x", n, off, crc, got, want)
				}
			}
		}
	})
}

func TestRandomSplits(t *testing.T) {
	data := randomBytes(4, 100000)
	want := crc64.Checksum(data, table)
	implementations(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for round := range 200 {
			h := New()
			crc := uint64(0)
			for p := data; len(p) > 0; {
				var n int
				switch rng.IntN(4) {
				case 0:
					n = rng.IntN(16)
				case 1:
					n = rng.IntN(300)
				default:
					n = rng.IntN(20000)
				}
				n = min(n, len(p))
				crc = Update(crc, p[:n])
				if _, err := h.Write(p[:n]); err != nil {
					t.Fatal(err)
				}
				p = p[n:]
			}
			if crc != want || h.Sum64() != want {
				t.Fatalf("round %d: Update chain %#x, hash %#x, want %#x", round, crc, h.Sum64(), want)
			}
		}
	})
}

func TestLargeBuffers(t *testing.T) {
	sizes := []int{3<<20 + 5, 8<<20 + 16*7 + 3}
	if testing.Short() {
		sizes = sizes[:1]
	}
	implementations(t, func(t *testing.T) {
		for i, n := range sizes {
			data := randomBytes(uint64(10+i), n)
			if got, want := Checksum(data), crc64.Checksum(data, table); got != want {
				t.Errorf("%d bytes: %#x, want %#x", n, got, want)
			}
		}
	})
}

func TestHashInterface(t *testing.T) {
	data := randomBytes(7, 5000)
	std := crc64.New(table)
	std.Write(data[:1234])
	h := New()
	h.Write(data[:1234])
	if h.Size() != std.Size() || h.BlockSize() != std.BlockSize() {
		t.Fatalf("Size/BlockSize = %d/%d, want %d/%d", h.Size(), h.BlockSize(), std.Size(), std.BlockSize())
	}
	if got, want := h.Sum([]byte("x")), std.Sum([]byte("x")); !bytes.Equal(got, want) {
		t.Fatalf("Sum = %x, want %x", got, want)
	}

	// Marshaled states are interchangeable with hash/crc64's.
	ours, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := std.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, theirs) {
		t.Fatalf("MarshalBinary = %x, hash/crc64 gives %x", ours, theirs)
	}
	appended, err := h.(encoding.BinaryAppender).AppendBinary([]byte("pre"))
	if err != nil || !bytes.Equal(appended, append([]byte("pre"), ours...)) {
		t.Fatalf("AppendBinary = %x, %v", appended, err)
	}
	resumed := New()
	if err := resumed.(encoding.BinaryUnmarshaler).UnmarshalBinary(theirs); err != nil {
		t.Fatal(err)
	}
	resumed.Write(data[1234:])
	if err := std.(encoding.BinaryUnmarshaler).UnmarshalBinary(ours); err != nil {
		t.Fatal(err)
	}
	std.Write(data[1234:])
	want := crc64.Checksum(data, table)
	if resumed.Sum64() != want || std.Sum64() != want {
		t.Fatalf("resumed: ours %#x, hash/crc64 %#x, want %#x", resumed.Sum64(), std.Sum64(), want)
	}

	// Bad states are rejected and leave the hash unchanged.
	iso, _ := crc64.New(crc64.MakeTable(crc64.ISO)).(encoding.BinaryMarshaler).MarshalBinary()
	for _, bad := range [][]byte{nil, ours[:len(ours)-1], append(ours[:len(ours):len(ours)], 0), iso, append([]byte("xyz\x02"), ours[4:]...)} {
		if err := resumed.(encoding.BinaryUnmarshaler).UnmarshalBinary(bad); err == nil {
			t.Errorf("UnmarshalBinary(%x) succeeded", bad)
		}
	}
	if resumed.Sum64() != want {
		t.Fatalf("a rejected state changed the hash to %#x", resumed.Sum64())
	}

	// Clone is independent; Reset starts over.
	c, err := resumed.(hash.Cloner).Clone()
	if err != nil {
		t.Fatal(err)
	}
	clone := c.(hash.Hash64)
	clone.Write([]byte("more"))
	if resumed.Sum64() != want || clone.Sum64() != Update(want, []byte("more")) {
		t.Fatalf("Clone not independent: original %#x, clone %#x", resumed.Sum64(), clone.Sum64())
	}
	resumed.Reset()
	if resumed.Sum64() != 0 {
		t.Fatalf("Reset left %#x", resumed.Sum64())
	}
}

func TestCombineWithUpdate(t *testing.T) {
	a, b := randomBytes(8, 777), randomBytes(9, 4097)
	if got, want := Combine(Checksum(a), Checksum(b), int64(len(b))), Checksum(append(a, b...)); got != want {
		t.Fatalf("Combine = %#x, want %#x", got, want)
	}
}

func TestUpdateDoesNotAllocate(t *testing.T) {
	data := randomBytes(11, 4096)
	if n := testing.AllocsPerRun(100, func() { Checksum(data) }); n != 0 {
		t.Fatalf("Checksum allocates %v times", n)
	}
}

func FuzzUpdate(f *testing.F) {
	f.Add(uint64(0), []byte("123456789"), 3)
	f.Add(^uint64(0), randomBytes(12, 200), 100)
	f.Add(uint64(42), randomBytes(13, 1000), 513)
	f.Fuzz(func(t *testing.T, crc uint64, p []byte, cut int) {
		want := crc64.Update(crc, table, p)
		if got := Update(crc, p); got != want {
			t.Fatalf("Update(%#x, %d bytes) = %#x, want %#x", crc, len(p), got, want)
		}
		if len(p) > 0 {
			cut = int(uint(cut) % uint(len(p)+1))
			if got := Update(Update(crc, p[:cut]), p[cut:]); got != want {
				t.Fatalf("split at %d of %d: %#x, want %#x", cut, len(p), got, want)
			}
		}
	})
}
