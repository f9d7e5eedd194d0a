package runner

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/targets/sim"
)

// TestDrive runs the clients against a deployment the test made and
// checks that the history file holds exactly what Drive reports: every
// invocation and its completion, with the counts of each outcome.
func TestDrive(t *testing.T) {
	target, err := sim.New(sim.Config{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dep, err := target.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := dep.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	cfg := Config{Workloads: mustWorkloads(t, "register"), Concurrency: 5, TimeLimit: 300 * time.Millisecond, Seed: 3}
	st, err := Drive(ctx, cfg, dep, path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Invoked == 0 || st.OK+st.Fail+st.Info != st.Invoked || st.Recorded != int(2*st.Invoked) {
		t.Fatalf("stats %+v: want every invocation completed and recorded", st)
	}
	h, _, err := history.Load(path, history.FormatJSONL)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Ops) != st.Recorded || h.ClientOps() != int(st.Invoked) {
		t.Fatalf("file has %d ops (%d client ops), Drive reported %+v", len(h.Ops), h.ClientOps(), st)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := Drive(ctx, cfg, dep, path); err == nil {
		t.Error("Drive overwrote an existing history file")
	}
	if _, err := Drive(ctx, Config{Concurrency: 1, TimeLimit: time.Second}, dep, path+".2"); err == nil {
		t.Error("Drive accepted no workload")
	}
}
