package runner

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// No operation is invoked at or past the time limit (op times count from
// the start of the test clock), and operations in flight at the limit are
// bounded by stopGrace, not by the op timeout.
func TestNoInvocationPastTimeLimit(t *testing.T) {
	cfg := Config{
		Name: "limit", StoreRoot: t.TempDir(), Target: noopTarget{},
		Workloads:   mustWorkloads(t, "register", "ryw"),
		Concurrency: 16, TimeLimit: 300 * time.Millisecond, Seed: 5,
		OpTimeout: time.Minute,
	}
	out, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out.Dir, rundir.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, _, err := history.ReadJSONL(f)
	if err != nil {
		t.Fatal(err)
	}
	late := 0
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.IsClient() && op.Type == history.Invoke && op.Time >= cfg.TimeLimit.Nanoseconds() {
			late++
		}
	}
	if late > 0 {
		t.Fatalf("%d invocations at or past the time limit of %v", late, cfg.TimeLimit)
	}
}
