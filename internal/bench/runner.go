package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"golang.org/x/sync/errgroup"
)

// MaxObjectSize is the largest object a single PUT may write (the OSS limit).
const MaxObjectSize = 5 << 30

// poolCap bounds the number of keys a mixed run remembers: once reached, PUTs overwrite existing
// objects instead of creating new ones, so memory stays bounded however long the run.
const poolCap = 1 << 17

// Config describes one benchmark run.
type Config struct {
	// Client makes every request; bind it to the run's context with oss.WithContext (done here).
	Client *oss.Client
	// Bucket must exist. Every key written starts with Prefix.
	Bucket string
	Prefix string
	// Size is the size of every object written.
	Size int64
	// Concurrency is the number of workers, each with one request in flight.
	Concurrency int
	// Duration is the length of the measured phase when Objects is 0. Requests in flight at the
	// deadline are completed and counted.
	Duration time.Duration
	// Objects, when positive, ends the measured phase after that many operations instead.
	Objects int64
	// Mix chooses the operation of each request. Put only: {Put: 1}; get only: {Get: 1}.
	Mix Mix
	// Prefill is the number of objects uploaded before the measured phase, for GET, HEAD and
	// DELETE to work on. It must be positive when the mix has any of them.
	Prefill int
	// Payload supplies the object bodies.
	Payload *Payload
}

// Validate checks a configuration.
func (c *Config) Validate() error {
	switch {
	case c.Client == nil || c.Payload == nil:
		return errors.New("bench: no client or payload")
	case c.Bucket == "":
		return errors.New("bench: no bucket")
	case c.Size < 0 || c.Size > MaxObjectSize:
		return fmt.Errorf("bench: object size %d out of range", c.Size)
	case c.Concurrency < 1:
		return errors.New("bench: concurrency must be positive")
	case c.Objects <= 0 && c.Duration <= 0:
		return errors.New("bench: neither a duration nor a number of operations")
	case c.Mix.Total() <= 0:
		return errors.New("bench: empty operation mix")
	case c.Prefill < 1 && c.Mix.Get+c.Mix.Head+c.Mix.Delete > 0:
		return errors.New("bench: GET, HEAD and DELETE need prefilled objects")
	}
	return nil
}

// Runner runs one benchmark. Prefill, then Run, each at most once; Progress may be called
// concurrently with both.
type Runner struct {
	cfg    Config
	bucket *oss.Bucket
	pool   *keyPool
	// trackKeys is set when some operation reads or deletes existing objects.
	trackKeys bool

	stats     [numOps]opStats
	seq       atomic.Uint64
	issued    atomic.Int64
	prefilled atomic.Int64
	startNano atomic.Int64
	endNano   atomic.Int64
}

type opStats struct {
	ops, errors, bytes atomic.Int64
	hist               Histogram
	mu                 sync.Mutex
	first              error
}

// NewRunner validates cfg and returns a runner.
func NewRunner(cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b, err := cfg.Client.Bucket(cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("bench: bucket %s: %w", cfg.Bucket, err)
	}
	return &Runner{
		cfg:       cfg,
		bucket:    b,
		pool:      newKeyPool(),
		trackKeys: cfg.Mix.Get+cfg.Mix.Head+cfg.Mix.Delete > 0,
	}, nil
}

func newRand() *mrand.Rand {
	return mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64())) //nolint:gosec // picks keys and operations, not secrets
}

// newKey returns a key never used before in this run.
func (r *Runner) newKey() string {
	return r.cfg.Prefix + "obj-" + strconv.FormatUint(r.seq.Add(1), 10)
}

// Prefill uploads cfg.Prefill objects with cfg.Concurrency workers. The first failure stops it.
func (r *Runner) Prefill(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.cfg.Concurrency)
	for range r.cfg.Prefill {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			key := r.newKey()
			if err := r.bucket.PutObject(key, r.cfg.Payload.Body(r.cfg.Size, newRand()), oss.WithContext(gctx)); err != nil {
				return fmt.Errorf("uploading %s: %w", key, err)
			}
			r.pool.Add(key)
			r.prefilled.Add(1)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("prefilling %d objects: %w", r.cfg.Prefill, err)
	}
	return ctx.Err()
}

// allFailedError stops a run in which every request failed.
type allFailedError struct{ err error }

func (e *allFailedError) Error() string {
	return "every request failed, stopping: " + e.err.Error()
}

func (e *allFailedError) Unwrap() error { return e.err }

// Run runs the measured phase and returns its report. It stops at the deadline or after
// cfg.Objects operations, or early when ctx is canceled (the report then says Interrupted and
// covers what was measured; requests cut off by the cancellation count neither as done nor as
// failed). When the first requests all fail, Run gives up and returns the first error with the
// report.
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	runCtx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	start := time.Now()
	r.startNano.Store(start.UnixNano())
	deadline := start.Add(r.cfg.Duration)
	var wg sync.WaitGroup
	for range r.cfg.Concurrency {
		wg.Go(func() { r.worker(runCtx, deadline, abort) })
	}
	wg.Wait()
	end := time.Now()
	r.endNano.Store(end.UnixNano())
	rep := r.report(end.Sub(start))
	rep.Interrupted = ctx.Err() != nil
	var af *allFailedError
	if cause := context.Cause(runCtx); !rep.Interrupted && errors.As(cause, &af) {
		return rep, af
	}
	return rep, nil
}

// abortThreshold is the number of failures without a single success after which a run stops.
func (r *Runner) abortThreshold() int64 { return int64(max(16, 2*r.cfg.Concurrency)) }

func (r *Runner) worker(ctx context.Context, deadline time.Time, abort context.CancelCauseFunc) {
	rng := newRand()
	for ctx.Err() == nil {
		if r.cfg.Objects > 0 {
			if r.issued.Add(1) > r.cfg.Objects {
				return
			}
		} else if !time.Now().Before(deadline) {
			return
		}
		r.one(ctx, r.pick(rng), rng, abort)
	}
}

// pick chooses an operation according to the mix.
func (r *Runner) pick(rng *mrand.Rand) Op {
	n := rng.IntN(r.cfg.Mix.Total())
	for _, op := range Ops {
		w := r.cfg.Mix.weight(op)
		if n < w {
			return op
		}
		n -= w
	}
	return OpPut
}

// one runs and records one operation.
func (r *Runner) one(ctx context.Context, op Op, rng *mrand.Rand, abort context.CancelCauseFunc) {
	start := time.Now()
	var (
		n   int64
		err error
	)
	switch op {
	case OpGet:
		op, n, err = r.get(ctx, rng)
	case OpHead:
		op, n, err = r.head(ctx, rng)
	case OpDelete:
		op, n, err = r.delete(ctx, rng)
	default:
		op, n, err = r.put(ctx, rng)
	}
	lat := time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return // cut off by Ctrl-C or by an abort: not this request's failure
		}
		r.fail(op, err, abort)
		return
	}
	st := &r.stats[op]
	st.hist.Record(lat)
	st.bytes.Add(n)
	st.ops.Add(1)
}

func (r *Runner) fail(op Op, err error, abort context.CancelCauseFunc) {
	st := &r.stats[op]
	st.mu.Lock()
	if st.first == nil {
		st.first = err
	}
	st.mu.Unlock()
	st.errors.Add(1)
	var ok, failed int64
	for i := range r.stats {
		ok += r.stats[i].ops.Load()
		failed += r.stats[i].errors.Load()
	}
	if ok == 0 && failed >= r.abortThreshold() {
		abort(&allFailedError{err: err})
	}
}

// put writes a new object or, once the key pool is full, overwrites an existing one.
func (r *Runner) put(ctx context.Context, rng *mrand.Rand) (Op, int64, error) {
	key, leased := "", false
	if r.trackKeys && r.pool.Len() >= poolCap {
		key, leased = r.pool.Lease(rng)
	}
	if leased {
		defer r.pool.Release(key)
	} else {
		key = r.newKey()
	}
	if err := r.bucket.PutObject(key, r.cfg.Payload.Body(r.cfg.Size, rng), oss.WithContext(ctx)); err != nil {
		return OpPut, 0, fmt.Errorf("uploading %s: %w", key, err)
	}
	if r.trackKeys && !leased {
		r.pool.Add(key)
	}
	return OpPut, r.cfg.Size, nil
}

// get downloads a whole existing object and checks its size and, when the client has CRC
// checking on (the SDK default), its CRC-64.
func (r *Runner) get(ctx context.Context, rng *mrand.Rand) (Op, int64, error) {
	key, ok := r.pool.Lease(rng)
	if !ok {
		return r.put(ctx, rng)
	}
	defer r.pool.Release(key)
	res, err := r.bucket.DoGetObject(&oss.GetObjectRequest{ObjectKey: key}, []oss.Option{oss.WithContext(ctx)})
	if err != nil {
		return OpGet, 0, fmt.Errorf("downloading %s: %w", key, err)
	}
	n, err := io.Copy(io.Discard, res.Response.Body)
	if cerr := res.Response.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return OpGet, n, fmt.Errorf("downloading %s: %w", key, err)
	}
	if n != r.cfg.Size {
		return OpGet, n, fmt.Errorf("downloading %s: got %d bytes, want %d", key, n, r.cfg.Size)
	}
	if res.ClientCRC != nil {
		res.Response.ClientCRC = res.ClientCRC.Sum64()
		if err := oss.CheckCRC(res.Response, "GetObject"); err != nil {
			return OpGet, n, fmt.Errorf("downloading %s: %w", key, err)
		}
	}
	return OpGet, n, nil
}

// head reads an existing object's metadata and checks its size.
func (r *Runner) head(ctx context.Context, rng *mrand.Rand) (Op, int64, error) {
	key, ok := r.pool.Lease(rng)
	if !ok {
		return r.put(ctx, rng)
	}
	defer r.pool.Release(key)
	h, err := r.bucket.GetObjectDetailedMeta(key, oss.WithContext(ctx))
	if err != nil {
		return OpHead, 0, fmt.Errorf("reading metadata of %s: %w", key, err)
	}
	if got := h.Get(oss.HTTPHeaderContentLength); got != strconv.FormatInt(r.cfg.Size, 10) {
		return OpHead, 0, fmt.Errorf("reading metadata of %s: Content-Length %q, want %d", key, got, r.cfg.Size)
	}
	return OpHead, 0, nil
}

// delete removes an object nobody is reading. When too few objects are left (no more than one
// per worker), it writes one instead, so that readers always find objects.
func (r *Runner) delete(ctx context.Context, rng *mrand.Rand) (Op, int64, error) {
	key, ok := r.pool.TakeIdle(rng, r.cfg.Concurrency)
	if !ok {
		return r.put(ctx, rng)
	}
	if err := r.bucket.DeleteObject(key, oss.WithContext(ctx)); err != nil {
		return OpDelete, 0, fmt.Errorf("deleting %s: %w", key, err)
	}
	return OpDelete, 0, nil
}

// Progress is a snapshot of a run in progress.
type Progress struct {
	// Prefilled is the number of objects uploaded by Prefill so far.
	Prefilled int64
	// Ops, Errors and Bytes count the measured phase so far.
	Ops, Errors, Bytes int64
	// Elapsed is the time since the measured phase started (0 before).
	Elapsed time.Duration
}

// Progress returns a snapshot; it is safe to call at any time.
func (r *Runner) Progress() Progress {
	p := Progress{Prefilled: r.prefilled.Load()}
	for i := range r.stats {
		p.Ops += r.stats[i].ops.Load()
		p.Errors += r.stats[i].errors.Load()
		p.Bytes += r.stats[i].bytes.Load()
	}
	if s := r.startNano.Load(); s != 0 {
		end := r.endNano.Load()
		if end == 0 {
			end = time.Now().UnixNano()
		}
		p.Elapsed = time.Duration(end - s)
	}
	return p
}
