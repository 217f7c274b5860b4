package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/ossctl/ossctl/internal/cmdutil"
)

// Defaults and limits of single-object transfers.
const (
	// DefaultThreshold is the size at or above which files and objects go part by part.
	DefaultThreshold = 100 << 20
	// DefaultPartSize is the part size when none is configured (raised to fit MaxParts).
	DefaultPartSize = 8 << 20
	// DefaultParallel is the number of parts in flight per object.
	DefaultParallel = 4
	// MinPartSize is OSS's smallest part (except the last).
	MinPartSize = 100 << 10
	// MaxPartSize is OSS's largest part.
	MaxPartSize = 5 << 30
	// MaxParts is OSS's largest part number.
	MaxParts = 10000
	// MaxSingleCopy is the largest object copied with one CopyObject request; larger ones are
	// copied part by part.
	MaxSingleCopy = 1 << 30
	// smallFile is the largest file that a single PUT reads into memory before sending; larger
	// single PUTs stream from the file after a checksum pass.
	smallFile = 4 << 20
	// copyBufSize is the size of the buffers that move downloaded bytes into files.
	copyBufSize = 256 << 10
)

// HeaderCRC64 is the response header carrying an object's CRC-64/ECMA.
const HeaderCRC64 = "X-Oss-Hash-Crc64ecma"

// Config tunes single-object transfers. One Config is shared by every worker of a batch: its
// rate limiters and buffer pool are what make the limits global.
type Config struct {
	// Client is the SDK client; every request goes through it.
	Client *oss.Client
	// Threshold is the size at or above which transfers go part by part (0: DefaultThreshold).
	Threshold int64
	// PartSize is the multipart part size (0: automatic, DefaultPartSize raised as needed);
	// it always grows as needed to stay within MaxParts.
	PartSize int64
	// Parallel is the number of parts in flight per object (0: DefaultParallel).
	Parallel int
	// CheckpointDir holds resumable-transfer checkpoints; "" disables resuming.
	CheckpointDir string
	// UploadLimit and DownloadLimit cap the bytes per second sent and received by all
	// workers together (nil: unlimited).
	UploadLimit, DownloadLimit *Limiter
	// Retry is the retry policy for retryable failures (zero value: DefaultRetry).
	Retry Retry
	// Encryption is the client-side encryption of uploads and the decryption of downloads
	// (nil: bytes are transferred as stored).
	Encryption *Encryption
	// Warn receives notices that do not fail a transfer, e.g. a corrupt checkpoint that was
	// discarded. nil drops them.
	Warn func(msg string)

	pool bufferPool
}

func (c *Config) threshold() int64 {
	if c.Threshold > 0 {
		return c.Threshold
	}
	return DefaultThreshold
}

func (c *Config) parallel() int {
	if c.Parallel > 0 {
		return c.Parallel
	}
	return DefaultParallel
}

func (c *Config) warn(format string, args ...any) {
	if c.Warn != nil {
		c.Warn(fmt.Sprintf(format, args...))
	}
}

// PartSizeFor returns the part size used for an object of the given size: the configured size
// (or DefaultPartSize), at least MinPartSize, raised so that the object fits in MaxParts parts.
func (c *Config) PartSizeFor(size int64) int64 {
	ps := c.PartSize
	if ps <= 0 {
		ps = DefaultPartSize
	}
	ps = max(ps, MinPartSize)
	if need := (size + MaxParts - 1) / MaxParts; need > ps {
		// Round up to a whole MiB: tidy numbers, and still ≤ MaxParts parts.
		ps = (need + 1<<20 - 1) &^ (1<<20 - 1)
	}
	return min(ps, MaxPartSize)
}

// Multipart reports whether an object of the given size is transferred part by part.
func (c *Config) Multipart(size int64) bool { return size >= c.threshold() }

// bucket returns the SDK handle of a bucket.
func (c *Config) bucket(name string) (*oss.Bucket, error) {
	b, err := c.Client.Bucket(name)
	if err != nil {
		return nil, fmt.Errorf("bucket %q: %w", name, err)
	}
	return b, nil
}

// sdkCRC reports whether the SDK computes and verifies CRC-64 values itself (the default): a
// part's CRC header is then already checked against the bytes that were sent.
func (c *Config) sdkCRC() bool {
	return c.Client != nil && c.Client.Config != nil && c.Client.Config.IsEnableCRC
}

// ---- retries ----

// Retry is a retry policy with exponential backoff and jitter. Only retryable failures
// (Retryable) are retried.
type Retry struct {
	// Attempts is the total number of tries (0: 4; 1: no retries).
	Attempts int
	// Base is the first backoff (0: 250ms); it doubles up to Max (0: 8s).
	Base, Max time.Duration
}

func (r Retry) attempts() int {
	if r.Attempts > 0 {
		return r.Attempts
	}
	return 4
}

func (r Retry) backoff(attempt int) time.Duration {
	base, maxD := r.Base, r.Max
	if base <= 0 {
		base = 250 * time.Millisecond
	}
	if maxD <= 0 {
		maxD = 8 * time.Second
	}
	d := base << min(attempt, 20)
	if d > maxD || d <= 0 {
		d = maxD
	}
	// Full jitter on the upper half: [d/2, d).
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1)) //nolint:gosec // G404: retry jitter needs no unpredictability
}

// do runs op until it succeeds, fails with a non-retryable error, runs out of attempts, or ctx
// is done. op gets the attempt number (0-based) so it can rebuild its request body.
func (r Retry) do(ctx context.Context, op func(attempt int) error) error {
	n := r.attempts()
	var err error
	for i := 0; i < n; i++ {
		if cerr := ctx.Err(); cerr != nil {
			if err == nil {
				err = cerr
			}
			return err
		}
		err = op(i)
		if err == nil || !Retryable(err) || i == n-1 || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(r.backoff(i))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		// Only the cancellation is wrapped: it, not the failure it cut short, classifies the error.
		return fmt.Errorf("%w (after: %s)", ctx.Err(), err.Error())
	}
	return err
}

// Retryable reports whether a failed request may succeed when sent again: server errors (5xx),
// timeouts, refused or reset connections and truncated responses. Client errors (4xx),
// integrity failures and cancellation are never retried.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var (
		se    oss.ServiceError
		unexp oss.UnexpectedStatusCodeError
		crc   oss.CRCCheckError
		ie    *cmdutil.IntegrityError
		ne    net.Error
	)
	switch {
	case errors.As(err, &crc), errors.As(err, &ie):
		return false
	case errors.As(err, &se):
		return se.StatusCode >= 500
	case errors.As(err, &unexp):
		return unexp.Got() >= 500
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &ne):
		return true
	}
	return false
}

// statusOf returns the HTTP status of an OSS service error, or 0.
func statusOf(err error) int {
	var se oss.ServiceError
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return 0
}

func codeOf(err error) string {
	var se oss.ServiceError
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

// keepForResume reports whether a failed multipart transfer should keep its checkpoint (and
// upload or temporary file) for the next run: it was interrupted, or the network failed.
func keepForResume(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, context.Canceled) || Retryable(err)
}

// ---- buffers ----

// bufferPool recycles byte slices by power-of-two size class so that memory stays bounded by
// the buffers in use, whatever the number or size of the files.
type bufferPool struct {
	mu    sync.Mutex
	pools map[int]*sync.Pool
}

func sizeClass(n int) int {
	c := 64 << 10
	for c < n {
		c <<= 1
	}
	return c
}

func (p *bufferPool) get(n int) []byte {
	c := sizeClass(n)
	p.mu.Lock()
	if p.pools == nil {
		p.pools = map[int]*sync.Pool{}
	}
	sp := p.pools[c]
	if sp == nil {
		sp = &sync.Pool{New: func() any { b := make([]byte, c); return &b }}
		p.pools[c] = sp
	}
	p.mu.Unlock()
	return (*sp.Get().(*[]byte))[:n]
}

func (p *bufferPool) put(b []byte) {
	c := cap(b)
	if c < 64<<10 || c&(c-1) != 0 {
		return
	}
	p.mu.Lock()
	sp := p.pools[c]
	p.mu.Unlock()
	if sp != nil {
		b = b[:c]
		sp.Put(&b)
	}
}

// ---- small helpers ----

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func removeQuietly(paths ...string) {
	for _, p := range paths {
		if p != "" {
			_ = os.Remove(p)
		}
	}
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func formatCRC(v uint64) string { return strconv.FormatUint(v, 10) }

func parseCRC(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

func ossURL(bucket, key string) string { return "oss://" + bucket + "/" + key }

// integrityErrorf reports a checksum mismatch found by the engine (exit code 6).
func integrityErrorf(format string, args ...any) error {
	return &cmdutil.IntegrityError{Err: fmt.Errorf(format, args...)}
}

func contentLength(h http.Header) (int64, error) {
	n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad Content-Length %q in the object's metadata", h.Get("Content-Length"))
	}
	return n, nil
}
