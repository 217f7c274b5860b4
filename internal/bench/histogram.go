// Package bench is the engine behind `ossctl bench`: a load generator that drives any OSS
// endpoint through the official SDK with PUT, GET, HEAD and DELETE requests from many workers,
// records per-operation counts, bytes and latency percentiles in bounded memory, cleans up what it
// wrote, and measures the local machine's limits (disk, fsync, hashing) to compare against.
package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram records durations in log-linear buckets, in the manner of an HDR histogram: values
// below 128 ns are exact, and every power-of-two range above is split into 64 equal buckets, so a
// reported quantile is within 1/128 (0.8%) of the recorded value. Memory is fixed (about 30 KiB)
// whatever the number of samples. All methods are safe for concurrent use; Record is lock-free.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64 // nanoseconds; wraps only after 584 years of recorded latency
	min    atomic.Uint64 // nanoseconds + 1, 0 = unset
	max    atomic.Uint64
}

const (
	subBits     = 7
	subCount    = 1 << subBits // exact values below this
	halfSub     = subCount / 2
	histBuckets = (64-subBits)*halfSub + subCount
)

// bucketOf returns the bucket index of v nanoseconds.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits           // ≥ 1
	return shift*halfSub + int(v>>uint(shift)) //nolint:gosec // v>>shift < 128
}

// bucketRange returns the smallest value of bucket i and its width.
func bucketRange(i int) (lo, width uint64) {
	if i < subCount {
		return uint64(i), 1 //nolint:gosec // 0 ≤ i < 128
	}
	shift := (i - halfSub) / halfSub
	sub := uint64(i - shift*halfSub) //nolint:gosec // in [64, 128)
	return sub << uint(shift), 1 << uint(shift)
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		cur := h.min.Load()
		if cur != 0 && cur-1 <= v {
			break
		}
		if h.min.CompareAndSwap(cur, v+1) {
			break
		}
	}
	for {
		cur := h.max.Load()
		if cur >= v || h.max.CompareAndSwap(cur, v) {
			break
		}
	}
}

// Merge adds every sample of o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	h.sum.Add(o.sum.Load())
	if m := o.min.Load(); m != 0 {
		for {
			cur := h.min.Load()
			if cur != 0 && cur <= m {
				break
			}
			if h.min.CompareAndSwap(cur, m) {
				break
			}
		}
	}
	if m := o.max.Load(); m != 0 {
		for {
			cur := h.max.Load()
			if cur >= m || h.max.CompareAndSwap(cur, m) {
				break
			}
		}
	}
}

// Count returns the number of recorded samples.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Min returns the smallest recorded duration (0 without samples).
func (h *Histogram) Min() time.Duration {
	if m := h.min.Load(); m != 0 {
		return time.Duration(m - 1) //nolint:gosec // recorded from a non-negative Duration
	}
	return 0
}

// Max returns the largest recorded duration.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) } //nolint:gosec // recorded from a Duration

// Mean returns the average recorded duration (0 without samples).
func (h *Histogram) Mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n) //nolint:gosec // a mean of Durations fits
}

// Quantile returns the duration below which a fraction q (0..1) of the samples lie: the middle of
// the bucket holding the sample of rank ceil(q·n), clamped to the recorded minimum and maximum. It
// returns 0 without samples; q ≤ 0 gives the minimum and q ≥ 1 the maximum. Call it when
// recording has stopped.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	if q <= 0 {
		return h.Min()
	}
	if q >= 1 {
		return h.Max()
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			lo, w := bucketRange(i)
			v := time.Duration(lo + (w-1)/2) //nolint:gosec // clamped to [Min, Max] below
			return min(max(v, h.Min()), h.Max())
		}
	}
	return h.Max()
}
