package bench

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"sync/atomic"
)

// DefaultPayloadSize is the size of the random block object bodies are cut from.
const DefaultPayloadSize = 8 << 20

// headerSize is the number of leading bytes that make every body unique.
const headerSize = 16

// Payload is a block of random bytes from crypto/rand. Object bodies are read from it starting at
// a random offset (wrapping around), behind a unique 16-byte header, so that every object is
// incompressible and distinct while producing it costs no CPU: the generator never competes with
// the server for the machine. A body longer than the block repeats it with that period.
type Payload struct {
	buf []byte
	seq atomic.Uint64
}

// NewPayload returns a payload of n random bytes (at least 64 KiB).
func NewPayload(n int) (*Payload, error) {
	n = max(n, 64<<10)
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		return nil, fmt.Errorf("generating random data: %w", err)
	}
	return &Payload{buf: buf}, nil
}

// Block returns the random block itself; callers must not modify it.
func (p *Payload) Block() []byte { return p.buf }

// Body returns a reader of size bytes, different from every other body of p.
func (p *Payload) Body(size int64, rng *mrand.Rand) *Body {
	b := &Body{p: p, size: size, start: rng.IntN(len(p.buf))}
	binary.LittleEndian.PutUint64(b.hdr[:8], rng.Uint64())
	binary.LittleEndian.PutUint64(b.hdr[8:], p.seq.Add(1))
	return b
}

// Body is one object's content. It reports its length through Len, which the SDK uses for
// Content-Length.
type Body struct {
	p     *Payload
	hdr   [headerSize]byte
	start int
	pos   int64
	size  int64
}

// Read implements io.Reader.
func (b *Body) Read(dst []byte) (int, error) {
	if b.pos >= b.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(dst) && b.pos < b.size {
		var chunk []byte
		if b.pos < headerSize {
			chunk = b.hdr[b.pos:]
		} else {
			off := int((int64(b.start) + b.pos) % int64(len(b.p.buf)))
			chunk = b.p.buf[off:]
		}
		if rest := b.size - b.pos; int64(len(chunk)) > rest {
			chunk = chunk[:rest]
		}
		c := copy(dst[n:], chunk)
		n += c
		b.pos += int64(c)
	}
	return n, nil
}

// Len returns the number of bytes not yet read.
func (b *Body) Len() int { return int(b.size - b.pos) }
