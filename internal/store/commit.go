package store

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Group commit.
//
// Every metadata write is an op: a function run inside a read-write bbolt
// transaction. A single committer goroutine takes everything queued at the
// moment it wakes up, runs all of it in one transaction (one commit, so one
// round of fsyncs for the whole batch) and then answers every writer. A lone
// writer is committed immediately: nothing waits for a batch to fill.
//
// Failure isolation: bbolt has no savepoints, so an op must report whether it
// touched the transaction before failing. Ops validate first and mutate
// last; a failure during validation is returned wrapped by clean() and leaves
// the transaction untouched, so the batch goes on. Any other failure (a
// bbolt write error, a panic) may have left partial changes: the transaction
// is rolled back and the batch rerun without that op. Ops may therefore run
// more than once and must be deterministic functions of the transaction
// (callbacks included), resetting any results they capture at the start.

// maxBatch bounds the ops in one transaction.
const maxBatch = 512

// queueLen is the committer's queue capacity.
const queueLen = 1024

type op struct {
	fn   func(tx *bolt.Tx) error
	err  error      // result of the last run of fn
	done chan error // receives the final result
}

// cleanError marks an op failure that left the transaction unmodified.
type cleanError struct{ err error }

func (e cleanError) Error() string { return e.err.Error() }
func (e cleanError) Unwrap() error { return e.err }

// clean marks err as a failure before any modification of the transaction.
func clean(err error) error {
	if err == nil {
		return nil
	}
	return cleanError{err}
}

// isClean reports whether err is a clean op failure (nil counts as clean).
func isClean(err error) bool {
	if err == nil {
		return true
	}
	_, ok := err.(cleanError) //nolint:errorlint // only the outermost wrapper counts
	return ok
}

// unclean strips the clean marker, giving the error the op returned.
func unclean(err error) error {
	if ce, ok := err.(cleanError); ok { //nolint:errorlint // only the outermost wrapper counts
		return ce.err
	}
	return err
}

// errRetryBatch aborts a transaction so the batch can be rerun.
var errRetryBatch = errors.New("store: retry batch")

// update queues fn for the next group commit and waits for its result.
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	o := &op{fn: fn, done: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	s.queue <- o
	s.mu.RUnlock()
	return <-o.done
}

// committer is the single goroutine that commits queued ops.
func (s *Store) committer() {
	defer close(s.committerDone)
	batch := make([]*op, 0, maxBatch)
	for {
		first, ok := <-s.queue
		if !ok {
			return
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxBatch {
			select {
			case o, ok := <-s.queue:
				if !ok {
					break drain
				}
				batch = append(batch, o)
			default:
				break drain
			}
		}
		s.commitBatch(batch)
		clear(batch)
	}
}

// runOp calls o.fn, turning a panic into a (dirty) error.
func runOp(o *op, tx *bolt.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: panic in metadata transaction: %v", r)
		}
	}()
	return o.fn(tx)
}

func (s *Store) commitBatch(batch []*op) {
	pending := batch
	for len(pending) > 0 {
		dirty := -1
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i, o := range pending {
				o.err = runOp(o, tx)
				if !isClean(o.err) {
					dirty = i
					return errRetryBatch
				}
			}
			return nil
		})
		if dirty >= 0 {
			bad := pending[dirty]
			bad.done <- bad.err
			rest := make([]*op, 0, len(pending)-1)
			rest = append(rest, pending[:dirty]...)
			pending = append(rest, pending[dirty+1:]...)
			continue
		}
		if err == nil {
			s.commits.Add(1)
			s.batched.Add(uint64(len(pending)))
		}
		for _, o := range pending {
			switch {
			case o.err != nil:
				o.done <- unclean(o.err) // its changes were nothing; the batch's fate is irrelevant
			case err != nil:
				o.done <- fmt.Errorf("store: committing metadata: %w", err)
			default:
				o.done <- nil
			}
		}
		return
	}
}

// Stats are the store's counters, for monitoring and benchmarks.
type Stats struct {
	// Commits is the number of metadata transactions committed.
	Commits uint64
	// Ops is the number of writes those transactions carried; Ops/Commits
	// is the average group-commit batch size.
	Ops uint64
}

// Stats returns the current counters.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Ops: s.batched.Load()}
}
