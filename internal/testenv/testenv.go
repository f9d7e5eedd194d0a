// Package testenv is what the integration tests of the real-database
// targets share: the rule for a machine that cannot run them (skip, but
// fail under CI, so a CI run never silently tests nothing) and state
// directories that are kept only when a test fails.
package testenv

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
// removed after a passing test. After a failing one only its logs (*.log)
// are kept, and named: the data directories (hundreds of MB per cluster)
// would otherwise pile up in /tmp with every failed CI run.
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
			if err := keepLogsOnly(dir); err != nil {
				t.Logf("state dir %s: pruning all but its logs: %v", dir, err)
			}
			t.Logf("state dir (logs) kept: %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return dir
}

// keepLogsOnly removes everything under dir but the *.log files and the
// directories that hold them.
func keepLogsOnly(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			dirs = append(dirs, p)
		case !strings.HasSuffix(d.Name(), ".log"):
			return os.Remove(p)
		}
		return nil
	})
	// Deepest first: a directory left with no log goes too.
	for i := len(dirs) - 1; i > 0; i-- {
		_ = os.Remove(dirs[i]) // fails, and stays, when it still holds a log
	}
	return err
}
