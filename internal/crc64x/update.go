package crc64x

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc64"
	"sync"
)

// Size is the size of a CRC-64 checksum in bytes.
const Size = crc64.Size

// ecmaTable is hash/crc64's table for the ECMA polynomial; the table path
// (short inputs, tails, and CPUs without carry-less multiplication) uses it.
var ecmaTable = crc64.MakeTable(crc64.ECMA)

// archChunk bounds the bytes handed to one assembly call, so that a huge
// buffer does not hold off goroutine preemption for long (assembly is not
// preemptible); at tens of GB/s a chunk takes a few microseconds.
const archChunk = 256 << 10

// Update returns the result of adding the bytes in p to crc. It computes
// exactly what crc64.Update(crc, crc64.MakeTable(crc64.ECMA), p) does.
func Update(crc uint64, p []byte) uint64 {
	if useArch && len(p) >= archMin {
		crc = ^crc
		for len(p) >= archMin {
			n := min(len(p), archChunk) &^ 15
			crc = archUpdate(crc, p[:n])
			p = p[n:]
		}
		crc = ^crc
	}
	if len(p) == 0 {
		return crc
	}
	return crc64.Update(crc, ecmaTable, p)
}

// Checksum returns the CRC-64/ECMA of p (the x-oss-hash-crc64ecma value).
func Checksum(p []byte) uint64 { return Update(0, p) }

// digest is a running CRC-64/ECMA.
type digest struct{ crc uint64 }

// New returns a hash.Hash64 computing the CRC-64/ECMA, a drop-in for
// crc64.New(crc64.MakeTable(crc64.ECMA)). It also implements
// encoding.BinaryMarshaler, encoding.BinaryAppender,
// encoding.BinaryUnmarshaler and hash.Cloner, with the same encoding as
// hash/crc64, so states can be exchanged with the standard library's hasher.
func New() hash.Hash64 { return &digest{} }

func (d *digest) Size() int      { return Size }
func (d *digest) BlockSize() int { return 1 }
func (d *digest) Reset()         { d.crc = 0 }
func (d *digest) Sum64() uint64  { return d.crc }

func (d *digest) Write(p []byte) (int, error) {
	d.crc = Update(d.crc, p)
	return len(p), nil
}

func (d *digest) Sum(in []byte) []byte { return binary.BigEndian.AppendUint64(in, d.crc) }

// stateHeader returns the prefix of hash/crc64's marshaled state for the
// ECMA table: its magic string and a checksum of the table. It is taken from
// the standard library's own hasher so the two encodings stay identical.
var stateHeader = sync.OnceValues(func() ([]byte, error) {
	m, ok := crc64.New(ecmaTable).(interface{ MarshalBinary() ([]byte, error) })
	if !ok {
		return nil, errors.New("crc64x: hash/crc64 digest does not implement MarshalBinary")
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("crc64x: marshaling hash/crc64 state: %w", err)
	}
	if len(b) < Size {
		return nil, fmt.Errorf("crc64x: hash/crc64 state is %d bytes, want more than %d", len(b), Size)
	}
	return b[:len(b)-Size], nil
})

// AppendBinary appends the hash state to b.
func (d *digest) AppendBinary(b []byte) ([]byte, error) {
	hdr, err := stateHeader()
	if err != nil {
		return nil, err
	}
	b = append(b, hdr...)
	return binary.BigEndian.AppendUint64(b, d.crc), nil
}

// MarshalBinary returns the hash state.
func (d *digest) MarshalBinary() ([]byte, error) { return d.AppendBinary(nil) }

// UnmarshalBinary restores a state made by MarshalBinary or by hash/crc64's
// ECMA hasher.
func (d *digest) UnmarshalBinary(b []byte) error {
	hdr, err := stateHeader()
	if err != nil {
		return err
	}
	if len(b) != len(hdr)+Size {
		return fmt.Errorf("crc64x: invalid hash state size %d, want %d", len(b), len(hdr)+Size)
	}
	if string(b[:len(hdr)]) != string(hdr) {
		return errors.New("crc64x: invalid hash state identifier or table")
	}
	d.crc = binary.BigEndian.Uint64(b[len(hdr):])
	return nil
}

// Clone returns an independent copy of the hash state.
func (d *digest) Clone() (hash.Cloner, error) {
	c := *d
	return &c, nil
}
