package runner

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/workloads"
)

func mustWorkloads(t testing.TB, names ...string) []workloads.Workload {
	t.Helper()
	var out []workloads.Workload
	for _, n := range names {
		w, err := workloads.New(n, workloads.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, w)
	}
	return out
}

// A correct database must be judged valid: the harness itself introduces
// no false anomaly (unique values, one op in flight, times from one clock).
func TestCorrectTargetIsValid(t *testing.T) {
	root := t.TempDir()
	out, err := Run(context.Background(), Config{
		Name: "noop", StoreRoot: root, Target: noopTarget{},
		Workloads:   mustWorkloads(t, "register", "ryw"),
		Concurrency: 6, Rate: 2000, TimeLimit: 500 * time.Millisecond, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Results.Verdict != checkers.Valid {
		t.Fatalf("verdict %s: %+v", out.Results.Verdict, out.Results.Checks)
	}
	if out.Results.Stats.OK < 100 {
		t.Fatalf("only %d ok ops", out.Results.Stats.OK)
	}
	// The run directory has every file and the latest links resolve.
	for _, f := range []string{rundir.TestFile, rundir.HistoryFile, rundir.ResultsFile} {
		if _, err := os.Stat(filepath.Join(out.Dir, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "latest", rundir.ResultsFile)); err != nil {
		t.Errorf("store/latest: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "noop", "latest", rundir.HistoryFile)); err != nil {
		t.Errorf("store/noop/latest: %v", err)
	}
	// The streamed history reads back whole and agrees with the stats.
	f, err := os.Open(filepath.Join(out.Dir, rundir.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, info, err := history.ReadJSONL(f)
	if err != nil || info.Truncated {
		t.Fatalf("read back: %v %+v", err, info)
	}
	if got, err := Stats(h); err != nil || got.OK != out.Results.Stats.OK || got.Invocations != out.Results.Stats.Invocations {
		t.Fatalf("history on disk %+v, results %+v", got, out.Results.Stats)
	}
	var ti rundir.TestInfo
	if err := rundir.ReadJSON(filepath.Join(out.Dir, rundir.TestFile), &ti); err != nil || ti.Seed != 1 || len(ti.TargetSettings) == 0 {
		t.Fatalf("test.json: %v %+v", err, ti)
	}
	if ti.Facts == nil || ti.Facts.Nodes != 1 || ti.Facts.Replication != rundir.Synchronous {
		t.Errorf("test.json facts %+v, want the deployment's", ti.Facts)
	}
}

func TestRateLimit(t *testing.T) {
	out, err := Run(context.Background(), Config{
		Name: "rate", StoreRoot: t.TempDir(), Target: noopTarget{},
		Workloads:   mustWorkloads(t, "register"),
		Concurrency: 4, Rate: 200, TimeLimit: time.Second, Seed: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	// 200/s for 1s: the limiter allows at most one burst slot beyond.
	if n := out.Results.Stats.Invocations; n > 210 || n < 100 {
		t.Fatalf("%d invocations at --rate 200 for 1s", n)
	}
}

func TestBadConfig(t *testing.T) {
	base := Config{Name: "x", StoreRoot: t.TempDir(), Target: noopTarget{}, Workloads: mustWorkloads(t, "register"), Concurrency: 1, TimeLimit: time.Second}
	for name, mod := range map[string]func(*Config){
		"no workload":    func(c *Config) { c.Workloads = nil },
		"no time":        func(c *Config) { c.TimeLimit = 0 },
		"concurrency":    func(c *Config) { c.Concurrency = 0 },
		"bad name":       func(c *Config) { c.Name = "../evil" },
		"twice":          func(c *Config) { c.Workloads = mustWorkloads(t, "register", "register"); c.Concurrency = 2 },
		"negative rate":  func(c *Config) { c.Rate = -1 },
		"nemesis period": func(c *Config) { c.Faults = []nemesis.Fault{&nemesis.Partition{}}; c.NemesisInterval = 0 },
	} {
		c := base
		mod(&c)
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// BenchmarkHarness measures the harness's own ceiling: unlimited rate
// against the no-op target, history streamed to disk. Reports recorded
// operations per second and allocations per recorded op (an op = invoke +
// completion).
func BenchmarkHarness(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var before, after runtimeMem
		before.read()
		out, err := Run(context.Background(), Config{
			Name: "bench", StoreRoot: b.TempDir(), Target: noopTarget{},
			Workloads:   mustWorkloads(b, "register"),
			Concurrency: 8, TimeLimit: 2 * time.Second, Seed: int64(i), CheckTimeLimit: time.Nanosecond,
		})
		after.read()
		if err != nil {
			b.Fatal(err)
		}
		ops := float64(out.Results.Stats.Invocations)
		b.ReportMetric(ops/2, "ops/s")
		b.ReportMetric(float64(after.mallocs-before.mallocs)/ops, "allocs/op-recorded")
	}
}
