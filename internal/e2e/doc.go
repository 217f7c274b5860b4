// Package e2e holds process-level tests and benchmarks of ossctl's transfer commands. They
// build the real ossctl binary, start a real `ossctl serve` on a loopback port, and drive
// `ossctl cp`, `cat` and `bench` as separate processes: resuming after SIGKILL, exit codes
// of partial batches and interruptions, and streams can only be shown that way.
//
// The tests run in CI (small sizes, seconds each). The benchmarks print the figures of the
// transfers issue as ratios measured in one run; see bench_test.go for how to run them.
//
// This package has no non-test code; doc.go exists so that the directory is a package.
package e2e
