package bench

import (
	"context"
	"crypto/md5" //nolint:gosec // measuring the speed of the hash OSS uses for ETags and Content-MD5
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ossctl/ossctl/internal/crc64x"
)

// Defaults of BaselineConfig.
const (
	DefaultBaselineFileSize = 256 << 20
	DefaultSyncedWriteSize  = 4 << 10
	DefaultBaselineMinTime  = 500 * time.Millisecond
)

// maxSyncedWrites bounds the number of small files the synced-write measurement creates.
const maxSyncedWrites = 20000

// BaselineConfig configures MeasureBaseline.
type BaselineConfig struct {
	// Dir is where the temporary test directory is created: on the filesystem to measure.
	Dir string
	// FileSize is the size of the file written and read sequentially.
	FileSize int64
	// SyncedWriteSize is the size of each small durable write (create, write, fsync, rename,
	// fsync the directory: what a server does to store one small object).
	SyncedWriteSize int64
	// MinTime is how long the synced-write and hashing measurements run at least.
	MinTime time.Duration
	// Payload supplies the data written and hashed.
	Payload *Payload
}

// Baseline is this machine's own limits, to compare benchmark figures against.
type Baseline struct {
	// Dir is the directory measured in (a temporary directory inside it is used and removed).
	Dir string `json:"dir"`
	// FileSize is the size of the sequentially written and read file.
	FileSize int64 `json:"fileSize"`
	// DiskWriteMiBPerSec is sequential write throughput, including the final fsync.
	DiskWriteMiBPerSec float64 `json:"diskWriteMiBPerSec"`
	// DiskReadMiBPerSec is sequential read throughput of that file.
	DiskReadMiBPerSec float64 `json:"diskReadMiBPerSec"`
	// DiskReadCold is set when the file was dropped from the page cache before reading, so the
	// read came from the device; otherwise it may have come from memory.
	DiskReadCold bool `json:"diskReadCold"`
	// SyncedWritesPerSec is single-threaded durable small-file writes per second.
	SyncedWritesPerSec float64 `json:"syncedWritesPerSec"`
	// SyncedWriteSize is the size of each of those writes.
	SyncedWriteSize int64 `json:"syncedWriteSize"`
	// MD5MiBPerSec and CRC64MiBPerSec are single-core hashing speeds: CRC-64/ECMA as OSS uses it,
	// computed by internal/crc64x, the implementation ossctl's transfers and server use.
	MD5MiBPerSec   float64 `json:"md5MiBPerSec"`
	CRC64MiBPerSec float64 `json:"crc64MiBPerSec"`
}

// MeasureBaseline measures sequential disk write (with fsync) and read, durable small writes, and
// MD5 and CRC-64 hashing speed. It works in a temporary directory under cfg.Dir that it always
// removes.
func MeasureBaseline(ctx context.Context, cfg BaselineConfig) (b Baseline, err error) {
	if cfg.Payload == nil {
		return b, errors.New("baseline: no payload")
	}
	if cfg.Dir == "" {
		cfg.Dir = os.TempDir()
	}
	if cfg.FileSize <= 0 {
		cfg.FileSize = DefaultBaselineFileSize
	}
	if cfg.SyncedWriteSize <= 0 {
		cfg.SyncedWriteSize = DefaultSyncedWriteSize
	}
	if cfg.MinTime <= 0 {
		cfg.MinTime = DefaultBaselineMinTime
	}
	b = Baseline{Dir: cfg.Dir, FileSize: cfg.FileSize, SyncedWriteSize: cfg.SyncedWriteSize}
	dir, err := os.MkdirTemp(cfg.Dir, "ossctl-bench-baseline-")
	if err != nil {
		return b, fmt.Errorf("baseline: creating a temporary directory: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("baseline: removing %s: %w", dir, rerr)
		}
	}()

	path := filepath.Join(dir, "sequential")
	if b.DiskWriteMiBPerSec, err = measureWrite(ctx, path, cfg.FileSize, cfg.Payload.Block()); err != nil {
		return b, fmt.Errorf("baseline: sequential write in %s: %w", cfg.Dir, err)
	}
	if b.DiskReadMiBPerSec, b.DiskReadCold, err = measureRead(ctx, path); err != nil {
		return b, fmt.Errorf("baseline: sequential read in %s: %w", cfg.Dir, err)
	}
	if err := os.Remove(path); err != nil {
		return b, fmt.Errorf("baseline: %w", err)
	}
	if b.SyncedWritesPerSec, err = measureSyncedWrites(ctx, dir, cfg.SyncedWriteSize, cfg.MinTime, cfg.Payload.Block()); err != nil {
		return b, fmt.Errorf("baseline: durable small writes in %s: %w", cfg.Dir, err)
	}
	if b.MD5MiBPerSec, err = measureHash(ctx, md5.New(), cfg.Payload.Block(), cfg.MinTime); err != nil { //nolint:gosec // speed, not security
		return b, err
	}
	if b.CRC64MiBPerSec, err = measureHash(ctx, crc64x.New(), cfg.Payload.Block(), cfg.MinTime); err != nil {
		return b, err
	}
	return b, nil
}

func mibPerSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		d = time.Nanosecond
	}
	return float64(n) / MiB / d.Seconds()
}

// measureWrite writes size bytes sequentially in 1 MiB chunks and fsyncs the file.
func measureWrite(ctx context.Context, path string, size int64, block []byte) (float64, error) {
	chunk := min(1<<20, len(block))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600) //nolint:gosec // our own temporary directory
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }() // a second Close after the checked one is harmless
	start := time.Now()
	for written := int64(0); written < size; {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		off := int(written % int64(len(block)-chunk+1))
		n := min(int64(chunk), size-written)
		if _, err := f.Write(block[off : off+int(n)]); err != nil {
			return 0, err
		}
		written += n
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	elapsed := time.Since(start)
	if err := f.Close(); err != nil {
		return 0, err
	}
	return mibPerSec(size, elapsed), nil
}

// measureRead reads the file sequentially, after asking the OS to drop it from the page cache.
func measureRead(ctx context.Context, path string) (float64, bool, error) {
	f, err := os.Open(path) //nolint:gosec // our own temporary directory
	if err != nil {
		return 0, false, err
	}
	defer func() { _ = f.Close() }() // read-only
	cold := dropCache(f)
	buf := make([]byte, 1<<20)
	var total int64
	start := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return 0, false, err
		}
		n, err := f.Read(buf)
		total += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, false, err
		}
	}
	return mibPerSec(total, time.Since(start)), cold, nil
}

// measureSyncedWrites does what a server does to store a small object durably, one at a time:
// write a temporary file, fsync it, rename it into place and fsync the directory.
func measureSyncedWrites(ctx context.Context, dir string, size int64, minTime time.Duration, block []byte) (float64, error) {
	d, err := os.Open(dir) //nolint:gosec // our own temporary directory
	if err != nil {
		return 0, err
	}
	defer func() { _ = d.Close() }() // read-only
	size = min(size, int64(len(block)))
	start := time.Now()
	n := 0
	for ; n < maxSyncedWrites && (n < 3 || time.Since(start) < minTime); n++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		name := filepath.Join(dir, "small-"+strconv.Itoa(n))
		f, err := os.OpenFile(name+".tmp", os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600) //nolint:gosec // our own temporary directory
		if err != nil {
			return 0, err
		}
		off := (n * 4099) % (len(block) - int(size) + 1)
		_, err = f.Write(block[off : off+int(size)])
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(name+".tmp", name)
		}
		if err == nil {
			err = syncDir(d)
		}
		if err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// measureHash hashes block repeatedly for at least minTime and returns MiB/s.
func measureHash(ctx context.Context, h hash.Hash, block []byte, minTime time.Duration) (float64, error) {
	var total int64
	start := time.Now()
	for total == 0 || time.Since(start) < minTime {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		h.Write(block)
		total += int64(len(block))
	}
	_ = h.Sum(nil)
	return mibPerSec(total, time.Since(start)), nil
}

// Ratio compares one benchmark figure with the matching baseline figure.
type Ratio struct {
	// Op is the operation ("put", "get").
	Op string `json:"op"`
	// Metric is the unit of Value and BaselineValue: "MiB/s" or "ops/s".
	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
	// Baseline names the baseline figure: disk-write, disk-read, synced-writes, md5 or crc64.
	Baseline      string  `json:"baseline"`
	BaselineValue float64 `json:"baselineValue"`
	// Ratio is Value / BaselineValue.
	Ratio float64 `json:"ratio"`
}

// smallObject is the largest object size for which PUT ops/s is compared with durable small
// writes per second: for larger objects the data, not the fsync, sets the pace.
const smallObject = 1 << 20

// Ratios compares a report with a baseline: PUT throughput with sequential disk write and MD5
// speed, PUT ops/s of objects up to 1 MiB with durable small writes, GET throughput with sequential disk read and CRC-64
// speed. Operations that did not succeed at least once are left out.
func Ratios(rep *Report, b Baseline) []Ratio {
	var out []Ratio
	add := func(op OpResult, metric string, value float64, name string, base float64) {
		if op.Ops == 0 || base <= 0 {
			return
		}
		out = append(out, Ratio{Op: op.Op, Metric: metric, Value: value, Baseline: name,
			BaselineValue: base, Ratio: value / base})
	}
	for _, op := range rep.Ops {
		switch op.Op {
		case OpPut.String():
			add(op, "MiB/s", op.MiBPerSec, "disk-write", b.DiskWriteMiBPerSec)
			if op.Ops > 0 && op.Bytes/op.Ops <= smallObject {
				add(op, "ops/s", op.OpsPerSec, "synced-writes", b.SyncedWritesPerSec)
			}
			add(op, "MiB/s", op.MiBPerSec, "md5", b.MD5MiBPerSec)
		case OpGet.String():
			add(op, "MiB/s", op.MiBPerSec, "disk-read", b.DiskReadMiBPerSec)
			add(op, "MiB/s", op.MiBPerSec, "crc64", b.CRC64MiBPerSec)
		}
	}
	return out
}
