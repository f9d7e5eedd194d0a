package suite

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/sim"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// noReset is a sim target whose deployments cannot reset (they hide the
// sim's Reset): the suite must redeploy for every cell, and say so.
type noReset struct{ targets.Target }

func (n noReset) Deploy(ctx context.Context) (targets.Deployment, error) {
	d, err := n.Target.Deploy(ctx)
	if err != nil {
		return nil, err
	}
	return struct{ targets.Deployment }{d}, nil
}

// simBuilder builds a short sim test; args "--cl=X" picks the level and
// "--hide-reset=true" wraps the target in noReset. It stands for the
// command line's builder.
func simBuilder(args []string) (Built, error) {
	cfg := sim.Config{ReadCL: sim.All, WriteCL: sim.All}
	hide := false
	for _, a := range args {
		switch a {
		case "--cl=ONE":
			cfg.ReadCL, cfg.WriteCL = sim.One, sim.One
		case "--hide-reset=true":
			hide = true
		}
	}
	t, err := sim.New(cfg)
	if err != nil {
		return Built{}, err
	}
	var target targets.Target = t
	if hide {
		target = noReset{t}
	}
	w, err := workloads.New("register", workloads.DefaultOptions())
	if err != nil {
		return Built{}, err
	}
	return Built{
		Config: runner.Config{
			Target: target, Workloads: []workloads.Workload{w}, Concurrency: 2, Rate: 200,
			TimeLimit: 300 * time.Millisecond, RecoveryTime: 50 * time.Millisecond, CheckTimeLimit: 10 * time.Second,
		},
		DeployKey: strings.Join(args, " "),
	}, nil
}

func TestRunSharesAndRedeploys(t *testing.T) {
	f, err := Parse("s.yaml", []byte(`suite: s
cases:
  - name: shared
    matrix:
      cl: [ALL]
      seed: ["1", "2"]
    expect: {ok-operations: "> 0"}
  - name: hidden
    hide-reset: "true"
    matrix:
      seed: ["1", "2"]
    expect: {ok-operations: "> 0"}
`))
	if err != nil {
		t.Fatal(err)
	}
	pl, err := NewPlan(f, func(a []string) (Built, error) {
		// The seed does not change the deployment.
		var kept []string
		for _, s := range a {
			if !strings.HasPrefix(s, "--seed=") {
				kept = append(kept, s)
			}
		}
		return simBuilder(kept)
	}, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	store := t.TempDir()
	res, err := Run(context.Background(), pl, Options{Store: store, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"deployed", "reused the cluster of shared-ALL-1", "deployed", "redeployed (sim cannot reset its data)"}
	for i, c := range res.Cells {
		if c.Deployment != want[i] {
			t.Errorf("%s: deployment %q, want %q", c.Name, c.Deployment, want[i])
		}
		if c.Status != StatusHeld {
			t.Errorf("%s: %s %v %v", c.Name, c.Status, c.Expectations, c.Errors)
		}
		if _, err := os.Stat(filepath.Join(res.Dir, c.Dir, "results.json")); err != nil {
			t.Errorf("%s: run directory: %v", c.Name, err)
		}
	}
	for _, s := range []string{"[1/4] shared-ALL-1 (3 left after it, ", "[4/4] hidden-2: held (verdict ", "suite s: 4 held, 0 not held, 0 not run"} {
		if !strings.Contains(progress.String(), s) {
			t.Errorf("progress lacks %q:\n%s", s, progress.String())
		}
	}
	page, err := os.ReadFile(filepath.Join(res.Dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "redeployed (sim cannot reset its data)") || !strings.Contains(string(page), "reused the cluster of shared-ALL-1") {
		t.Error("the summary does not say which cells reused a cluster")
	}
}

// A cancelled suite runs no further cell; those cells are not run, and
// no expectation holds for them.
func TestRunCancelledCellsAreNotRun(t *testing.T) {
	f, err := Parse("s.yaml", []byte("suite: s\ncases:\n  - name: a\n    matrix:\n      seed: [\"1\", \"2\"]\n    expect: valid\n"))
	if err != nil {
		t.Fatal(err)
	}
	pl, err := NewPlan(f, func([]string) (Built, error) { return simBuilder(nil) }, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, pl, Options{Store: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.NotRun != 2 || res.Held != 0 {
		t.Fatalf("cancelled suite: %d held, %d not run", res.Held, res.NotRun)
	}
	j, err := res.junit()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(j), `<error message="not run: the suite was interrupted"`) {
		t.Errorf("junit of a cell not run:\n%s", j)
	}
}
