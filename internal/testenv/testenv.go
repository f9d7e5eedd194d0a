// Package testenv is what the integration tests of the real-database
// targets share: the rule for a machine that cannot run them (skip, but
// fail under CI, so a CI run never silently tests nothing) and state
// directories that are kept only when a test fails.
package testenv

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"
)

// Env is an environment probe, run once per test binary.
type Env struct {
	// Needs names what to install, for the message.
	Needs string
	// Probe reports what is missing, or nil.
	Probe func(ctx context.Context) error

	once sync.Once
	err  error
}

// Err runs the probe (once per test binary) and returns what is missing,
// or nil. Benchmarks use it to fail, never skip, on a machine that cannot
// run them.
func (e *Env) Err() error {
	e.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		e.err = e.Probe(ctx)
	})
	return e.err
}

// Require skips the test when the probe fails, or fails it when the
// environment variable CI is set.
func (e *Env) Require(t testing.TB) {
	t.Helper()
	if e.Err() == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("integration environment missing (%s): %v", e.Needs, e.err)
	}
	t.Skipf("integration environment missing (%s; set CI to make this a failure): %v", e.Needs, e.err)
}

// StateDir returns a new directory (mode 0755) for a deployment's data and logs,
// removed after a passing test and kept (and logged) after a failing one.
func StateDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "chaoscheck-"+prefix+"-")
	if err != nil {
		t.Fatal(err)
	}
	// Servers run as their own users: the docker runtime refuses a state
	// dir they cannot enter (the local runtime makes it 0755 itself).
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("state dir (logs) kept: %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return dir
}
