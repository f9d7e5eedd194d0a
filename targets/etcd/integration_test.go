//go:build linux

package etcd

// Integration tests: real etcd members in network namespaces. They need
// root, etcd-server, iproute2 and nftables; without them they are
// skipped, or fail when the CI environment variable is set.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/internal/testenv"
	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// env is the machine this package's integration tests need.
var env = &testenv.Env{
	Needs: "root, etcd-server, iproute2, nftables",
	Probe: func(ctx context.Context) error {
		tg, err := New(Config{})
		if err == nil {
			err = tg.Probe(ctx)
		}
		return err
	},
}

// requireEnv skips (or, under CI, fails) the test when the machine cannot
// run the cluster.
func requireEnv(t *testing.T) {
	t.Helper()
	env.Require(t)
}

// newConfig returns cfg with a state dir that is removed after a passing
// test and kept (and logged) after a failing one.
func newConfig(t *testing.T, cfg Config) Config {
	t.Helper()
	cfg.StateDir = testenv.StateDir(t, "etcdtest")
	return cfg
}

// poll calls f every 100ms until it succeeds or timeout passes, and
// returns its last error.
func poll(ctx context.Context, timeout time.Duration, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		octx, ocancel := context.WithTimeout(ctx, time.Second)
		err := f(octx)
		ocancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %v: %w", timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestDeployClientsFaults deploys a cluster directly and drives it: the
// description, reads/writes/CAS, a sticky client whose member is killed
// (its writes fail definitely: they never leave the client), restart, and
// the refusal of clock faults on the real deployment.
func TestDeployClientsFaults(t *testing.T) {
	requireEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg, err := New(newConfig(t, Config{Sticky: true}))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	dep, err := tg.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := dep.(*Deployment)
	t.Logf("deploy %v (members started and healthy in %v)", time.Since(start).Round(time.Millisecond), d.StartupTime().Round(time.Millisecond))
	defer func() {
		cstart := time.Now()
		if err := dep.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
		t.Logf("close %v", time.Since(cstart).Round(time.Millisecond))
	}()
	desc := map[string]string{}
	for _, s := range dep.Describe() {
		desc[s.Name] = s.Value
	}
	t.Logf("describe: %v", desc)
	if desc["pre-vote"] != "true" || desc["read"] != "linearizable" || desc["nodes"] != "3" ||
		desc["etcd version"] == "unknown" || desc["clock faults"] == "" {
		t.Errorf("describe: %v", desc)
	}

	// The nemesis refuses clock faults on the real deployment.
	if _, err := nemesis.New(dep.Cluster(), []nemesis.Fault{&nemesis.Clock{}}, time.Second, rand.New(rand.NewPCG(1, 1)), nil); !errors.Is(err, cluster.ErrUnsupported) {
		t.Errorf("clock nemesis on etcd: %v, want ErrUnsupported", err)
	}
	if _, err := nemesis.New(dep.Cluster(), []nemesis.Fault{&nemesis.Partition{}, &nemesis.Kill{}, &nemesis.Pause{}}, time.Second, rand.New(rand.NewPCG(1, 1)), nil); err != nil {
		t.Errorf("partition/kill/pause nemesis on etcd: %v", err)
	}

	// Process 1 is sticky to n2.
	wc, err := dep.NewClient(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	c := wc.(*RegisterClient)
	if c.LastNode() != "n2" {
		t.Errorf("process 1: LastNode %q, want n2", c.LastNode())
	}
	if _, found, err := c.Read(ctx, "r"); err != nil || found {
		t.Fatalf("read of a fresh key: found=%v err=%v", found, err)
	}
	if err := c.Write(ctx, "r", 1); err != nil {
		t.Fatal(err)
	}
	if swapped, err := c.CAS(ctx, "r", 2, 3); err != nil || swapped {
		t.Errorf("cas 2->3 on 1: swapped=%v err=%v", swapped, err)
	}
	if swapped, err := c.CAS(ctx, "r", 1, 3); err != nil || !swapped {
		t.Errorf("cas 1->3 on 1: swapped=%v err=%v", swapped, err)
	}
	if swapped, err := c.CAS(ctx, "missing", 0, 3); err != nil || swapped {
		t.Errorf("cas on a missing key: swapped=%v err=%v", swapped, err)
	}
	if v, found, err := c.Read(ctx, "r"); err != nil || !found || v != 3 {
		t.Errorf("read: %d %v %v, want 3", v, found, err)
	}

	// Kill n2: the sticky client's write cannot be sent: definite.
	kstart := time.Now()
	if err := dep.Cluster().(cluster.Killer).Kill(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	t.Logf("kill n2 %v", time.Since(kstart).Round(time.Millisecond))
	wctx, wcancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	err = c.Write(wctx, "r", 4)
	wcancel()
	if err == nil || !workloads.IsDefinite(err) {
		t.Errorf("write through killed n2: %v, want a definite error", err)
	}
	t.Logf("write through killed n2: %v", err)
	// Another member still serves.
	other, err := dep.NewClient(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := poll(ctx, 10*time.Second, func(ctx context.Context) error {
		return other.(*RegisterClient).Write(ctx, "r", 5)
	}); err != nil {
		t.Errorf("write through n1 with n2 down: %v", err)
	}
	rstart := time.Now()
	if err := dep.Cluster().(cluster.Killer).Restart(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, 15*time.Second, func(ctx context.Context) error {
		v, _, err := c.Read(ctx, "r")
		if err == nil && v != 5 {
			err = fmt.Errorf("read %d, want 5", v)
		}
		return err
	}); err != nil {
		t.Errorf("linearizable read on restarted n2: %v", err)
	}
	t.Logf("n2 restarted and serving in %v", time.Since(rstart).Round(time.Millisecond))
}

// timedTarget records how long Deploy took.
type timedTarget struct {
	*Target
	deploy time.Duration
}

func (tt *timedTarget) Deploy(ctx context.Context) (targets.Deployment, error) {
	start := time.Now()
	d, err := tt.Target.Deploy(ctx)
	tt.deploy = time.Since(start)
	return d, err
}

type scenario struct {
	cfg         Config
	workloads   []string
	faults      []nemesis.Fault
	interval    time.Duration
	concurrency int
	rate        float64
	timeLimit   time.Duration
	seed        int64
}

// run runs a scenario with the real runner and returns its outcome.
func run(t *testing.T, s scenario) *runner.Outcome {
	t.Helper()
	s.cfg.Seed = s.seed
	tg, err := New(newConfig(t, s.cfg))
	if err != nil {
		t.Fatal(err)
	}
	tt := &timedTarget{Target: tg}
	var ws []workloads.Workload
	for _, n := range s.workloads {
		w, err := workloads.New(n, workloads.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := runner.Run(ctx, runner.Config{
		Name: "etcd", StoreRoot: t.TempDir(), Target: tt, Workloads: ws,
		Faults: s.faults, NemesisInterval: s.interval,
		Concurrency: s.concurrency, Rate: s.rate, TimeLimit: s.timeLimit,
		RecoveryTime: time.Second, CheckTimeLimit: 30 * time.Second, Seed: s.seed,
		DeployTimeout: time.Minute,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	st := out.Results.Stats
	t.Logf("seed %d (sticky %v): deploy %v, whole scenario %v (ops: %d ok, %d fail, %d info; %d nemesis events)",
		s.seed, s.cfg.Sticky, tt.deploy.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), st.OK, st.Fail, st.Info, st.NemesisEvents)
	for _, c := range out.Results.Checks {
		t.Logf("  %s/%s: %s %v %s", c.Workload, c.Checker, c.Verdict, c.AnomalyCounts, c.Reason)
	}
	if len(out.Results.Errors) > 0 {
		t.Errorf("run errors: %v", out.Results.Errors)
	}
	logErrors(t, out)
	return out
}

// logErrors logs how many client ops ended fail or info with each error
// (cut at 110 characters), so the error mapping can be reviewed.
func logErrors(t *testing.T, out *runner.Outcome) {
	t.Helper()
	h, _, err := history.Load(out.Dir+"/"+rundir.HistoryFile, history.FormatJSONL)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, op := range h.Ops {
		if !op.IsClient() || (op.Type != history.Fail && op.Type != history.Info) {
			continue
		}
		e := op.Error
		if _, rest, ok := strings.Cut(e, "rpc error: "); ok {
			e = rest // group by cause, not by key or values
		}
		if len(e) > 110 {
			e = e[:110]
		}
		counts[fmt.Sprintf("%s %s: %s", op.Type, op.F, e)]++
	}
	for k, n := range counts {
		t.Logf("  %4d x %s", n, k)
	}
}

// check returns the named check of a workload.
func check(t *testing.T, out *runner.Outcome, workload, checker string) rundir.Check {
	t.Helper()
	for _, c := range out.Results.Checks {
		if c.Workload == workload && c.Checker == checker {
			return c
		}
	}
	t.Fatalf("no %s/%s check in %+v", workload, checker, out.Results.Checks)
	return rundir.Check{}
}

// nemesisEvents returns the nemesis completions, for the test log, and
// how many faults were applied without error.
func nemesisEvents(t *testing.T, out *runner.Outcome) ([]string, int) {
	t.Helper()
	h, _, err := history.Load(out.Dir+"/"+rundir.HistoryFile, history.FormatJSONL)
	if err != nil {
		t.Fatal(err)
	}
	var evs []string
	applied := 0
	for _, op := range h.Ops {
		if op.Process != history.Nemesis || op.Type == history.Invoke {
			continue
		}
		s, _ := op.Value.AsString()
		evs = append(evs, fmt.Sprintf("%s: %s %s", op.F, s, op.Error))
		if len(op.F) > 6 && op.F[:6] == "start-" && op.Error == "" {
			applied++
		}
	}
	return evs, applied
}

// TestLinearizableRegisterUnderFaults is the positive control: with
// linearizable reads, etcd's registers (with CAS) stay linearizable under
// partitions of every shape and member kills, so the checker must say
// valid. An invalid verdict here would point first at our error mapping
// (an op recorded fail that did apply), then at the checker, and only then
// at etcd.
func TestLinearizableRegisterUnderFaults(t *testing.T) {
	requireEnv(t)
	for _, sc := range []struct {
		seed   int64
		sticky bool
	}{{1, false}, {2, false}, {3, false}, {4, true}} {
		seed := sc.seed
		// The sticky run drives the definite-error paths: clients bound
		// to an isolated member get "no leader", clients bound to a killed
		// one never find a connection.
		out := run(t, scenario{
			cfg:       Config{Read: Linearizable, Sticky: sc.sticky},
			workloads: []string{"register"},
			faults:    []nemesis.Fault{&nemesis.Partition{}, &nemesis.Kill{Targets: nemesis.One}},
			interval:  time.Second, concurrency: 6, rate: 150, timeLimit: 8 * time.Second, seed: seed,
		})
		evs, applied := nemesisEvents(t, out)
		t.Logf("seed %d nemesis: %v", seed, evs)
		if applied < 2 {
			t.Errorf("seed %d: only %d faults applied", seed, applied)
		}
		if c := check(t, out, "register", "linearizable"); c.Verdict != checkers.Valid {
			t.Errorf("seed %d: linearizable reads: register verdict %s %v %s, want valid (run dir %s)", seed, c.Verdict, c.AnomalyCounts, c.Reason, out.Dir)
			for _, a := range c.Anomalies[:min(3, len(c.Anomalies))] {
				t.Logf("  %s: %s %v", a.Kind, a.Message, a.Ops)
			}
		}
		if out.Results.Stats.OK < 200 {
			t.Errorf("seed %d: only %d ok ops", seed, out.Results.Stats.OK)
		}
	}
}

// TestSerializableStaleReads: serializable reads from sticky clients are
// answered by the local member, so a member cut off from the others keeps
// serving its old state: the register is not linearizable and/or sessions
// see anomalies.
func TestSerializableStaleReads(t *testing.T) {
	requireEnv(t)
	seed := int64(7)
	if s := os.Getenv("ETCD_TEST_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("ETCD_TEST_SEED: %v", err)
		}
		seed = v
	}
	out := run(t, scenario{
		cfg:       Config{Read: Serializable, Sticky: true},
		workloads: []string{"register", "ryw"},
		faults:    []nemesis.Fault{&nemesis.Partition{Shapes: []nemesis.Shape{nemesis.OneNode}}},
		interval:  2500 * time.Millisecond, concurrency: 15, rate: 300, timeLimit: 10 * time.Second, seed: seed,
	})
	evs, applied := nemesisEvents(t, out)
	t.Logf("nemesis: %v", evs)
	if applied == 0 {
		t.Fatal("no partition applied")
	}
	lin := check(t, out, "register", "linearizable")
	sess := check(t, out, "ryw", "session")
	rywLin := check(t, out, "ryw", "linearizable")
	anomalies := 0
	for _, n := range sess.AnomalyCounts {
		anomalies += n
	}
	if lin.Verdict != checkers.Invalid && rywLin.Verdict != checkers.Invalid && anomalies == 0 {
		t.Fatalf("serializable sticky reads under a one-node partition: no stale read found (register %s, ryw linearizable %s, session %s %v)",
			lin.Verdict, rywLin.Verdict, sess.Verdict, sess.AnomalyCounts)
	}
	// The witnesses must include an ok read served by an isolated member:
	// the anomaly is the stale local read, not something else.
	isolated := map[string]bool{}
	for _, e := range evs {
		if _, rest, ok := strings.Cut(e, "one-node "); ok {
			if n, _, ok := strings.Cut(rest, " |"); ok {
				isolated[n] = true
			}
		}
	}
	h, _, err := history.Load(out.Dir+"/"+rundir.HistoryFile, history.FormatJSONL)
	if err != nil {
		t.Fatal(err)
	}
	staleRead := false
	for _, c := range []rundir.Check{lin, rywLin, sess} {
		for i, a := range c.Anomalies {
			var ws []string
			for _, o := range a.Ops {
				if o < 0 || o >= len(h.Ops) {
					continue
				}
				op := h.Ops[o]
				ws = append(ws, fmt.Sprintf("#%d %s %s %s on %s", o, op.Type, op.F, op.Value, op.Node))
				if op.Type == history.OK && op.F == "read" && isolated[op.Node] {
					staleRead = true
				}
			}
			if i < 2 {
				t.Logf("  %s/%s %s %s: %s; witnesses %v", c.Workload, c.Checker, a.Kind, a.Key, a.Message, ws)
			}
		}
	}
	if !staleRead {
		t.Errorf("no anomaly is witnessed by an ok read on an isolated member (%v)", isolated)
	}
}
