package transfer

import (
	"context"
	"hash"
	"io"

	"golang.org/x/time/rate"
)

// Limiter caps a byte rate shared by every reader that uses it (all workers of a batch).
type Limiter struct {
	l     *rate.Limiter
	burst int
}

// NewLimiter returns a limiter of bytesPerSecond, or nil (no limit) when it is not positive.
func NewLimiter(bytesPerSecond int64) *Limiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	// A tenth of a second's worth, so the rate is smooth, within sane chunk sizes.
	burst := int(min(max(bytesPerSecond/10, 16<<10), 4<<20))
	return &Limiter{l: rate.NewLimiter(rate.Limit(bytesPerSecond), burst), burst: burst}
}

// Rate returns the limit in bytes per second (0 for a nil Limiter: unlimited).
func (l *Limiter) Rate() int64 {
	if l == nil {
		return 0
	}
	return int64(l.l.Limit())
}

// wait blocks until n bytes may pass (n ≤ burst) or ctx is done.
func (l *Limiter) wait(ctx context.Context, n int) error {
	if l == nil || n <= 0 {
		return nil
	}
	return l.l.WaitN(ctx, n)
}

// meter wraps a request or response body: it stops at cancellation, honors a shared rate
// limit, hashes what passes (when hash is set) and reports progress.
type meter struct {
	ctx  context.Context
	r    io.Reader
	lim  *Limiter
	hash hash.Hash64
	prog *FileListener
	n    int64
}

func (m *meter) Read(p []byte) (int, error) {
	if err := m.ctx.Err(); err != nil {
		return 0, err
	}
	if m.lim != nil && len(p) > m.lim.burst {
		p = p[:m.lim.burst]
	}
	n, err := m.r.Read(p)
	if n > 0 {
		m.n += int64(n)
		if m.hash != nil {
			_, _ = m.hash.Write(p[:n]) // a hash.Hash never returns an error
		}
		if m.prog != nil {
			m.prog.Add(int64(n))
		}
		if werr := m.lim.wait(m.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}
