package bench

import (
	"time"
)

// MiB is 2^20 bytes, the unit of throughput figures.
const MiB = 1 << 20

// Latency summarises a latency distribution, in milliseconds.
type Latency struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func summarize(h *Histogram) Latency {
	return Latency{
		Min: ms(h.Min()), Mean: ms(h.Mean()),
		P50: ms(h.Quantile(0.50)), P90: ms(h.Quantile(0.90)), P99: ms(h.Quantile(0.99)),
		Max: ms(h.Max()),
	}
}

// OpResult is what one operation (or all of them, as "total") achieved in the measured phase.
// Failed requests count in Errors only: Ops, Bytes and the latencies cover successful ones.
type OpResult struct {
	Op          string  `json:"op"`
	Ops         int64   `json:"ops"`
	Errors      int64   `json:"errors"`
	Bytes       int64   `json:"bytes"`
	OpsPerSec   float64 `json:"opsPerSec"`
	BytesPerSec float64 `json:"bytesPerSec"`
	MiBPerSec   float64 `json:"mibPerSec"`
	Latency     Latency `json:"latencyMs"`
	// FirstError is the message of the first failure, if any.
	FirstError string `json:"firstError,omitempty"`

	firstErr error
}

// Err returns the first failure of this operation, or nil.
func (o OpResult) Err() error { return o.firstErr }

// Report is the outcome of a measured phase.
type Report struct {
	// Elapsed is the length of the measured phase, from its start until the last request ended.
	Elapsed time.Duration
	// Interrupted is set when the run was canceled before its end.
	Interrupted bool
	// Ops has one entry per operation in the mix, plus any other that ran, in report order.
	Ops []OpResult
	// Total adds all operations up; its latencies are those of every request.
	Total OpResult
}

// FirstError returns the first failure of the first operation that failed, or nil.
func (r *Report) FirstError() error {
	for _, o := range r.Ops {
		if o.firstErr != nil {
			return o.firstErr
		}
	}
	return nil
}

func rate(n int64, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return float64(n) / elapsed.Seconds()
}

func result(name string, ops, errs, bytes int64, h *Histogram, elapsed time.Duration) OpResult {
	bps := rate(bytes, elapsed)
	return OpResult{
		Op: name, Ops: ops, Errors: errs, Bytes: bytes,
		OpsPerSec: rate(ops, elapsed), BytesPerSec: bps, MiBPerSec: bps / MiB,
		Latency: summarize(h),
	}
}

// report builds the report once the workers have stopped.
func (r *Runner) report(elapsed time.Duration) *Report {
	rep := &Report{Elapsed: elapsed}
	var total Histogram
	var ops, errs, bytes int64
	for _, op := range Ops {
		st := &r.stats[op]
		o, e, b := st.ops.Load(), st.errors.Load(), st.bytes.Load()
		if r.cfg.Mix.weight(op) == 0 && o == 0 && e == 0 {
			continue
		}
		res := result(op.String(), o, e, b, &st.hist, elapsed)
		st.mu.Lock()
		res.firstErr = st.first
		st.mu.Unlock()
		if res.firstErr != nil {
			res.FirstError = res.firstErr.Error()
		}
		rep.Ops = append(rep.Ops, res)
		total.Merge(&st.hist)
		ops, errs, bytes = ops+o, errs+e, bytes+b
	}
	rep.Total = result("total", ops, errs, bytes, &total, elapsed)
	if err := rep.FirstError(); err != nil {
		rep.Total.firstErr = err
		rep.Total.FirstError = err.Error()
	}
	return rep
}
