//go:build linux

package redis

// Integration tests: real redis-server processes in network namespaces,
// driven by the real runner. They need root, redis-server, redis-cli,
// iproute2 and nftables; without them they are skipped, or fail when the
// CI environment variable is set.

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/internal/testenv"
	"github.com/chaoscheck/chaoscheck/internal/testenv/dockerenv"
	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// env is the machine this package's integration tests need.
var env = &testenv.Env{
	Needs: "root, redis-server, redis-tools, iproute2, nftables",
	Probe: func(ctx context.Context) error {
		tg, err := New(Config{Runtime: local.Runtime{}})
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
	cfg.StateDir = testenv.StateDir(t, "redistest")
	if cfg.Runtime == nil {
		cfg.Runtime = local.Runtime{}
	}
	return cfg
}

// timedTarget records how long Deploy took and, in Cluster mode, which
// node masters the hot key.
type timedTarget struct {
	*Target
	deploy  time.Duration
	dep     *Deployment
	hotNode string
	hotErr  error
}

func (tt *timedTarget) Deploy(ctx context.Context) (targets.Deployment, error) {
	start := time.Now()
	d, err := tt.Target.Deploy(ctx)
	tt.deploy = time.Since(start)
	if err == nil {
		tt.dep = d.(*Deployment)
		tt.hotNode, tt.hotErr = tt.dep.MasterOfKey(ctx, workloads.HotKeyName())
	}
	return d, err
}

type scenario struct {
	cfg         Config
	workload    string
	opts        workloads.Options
	faults      []nemesis.Fault
	interval    time.Duration
	concurrency int
	rate        float64
	timeLimit   time.Duration
	seed        int64
}

// run runs a scenario with the real runner.
func run(t *testing.T, s scenario) (*runner.Outcome, *timedTarget) {
	t.Helper()
	s.cfg.Seed = s.seed
	tg, err := New(newConfig(t, s.cfg))
	if err != nil {
		t.Fatal(err)
	}
	tt := &timedTarget{Target: tg}
	if s.opts.Keys == 0 {
		s.opts = workloads.DefaultOptions()
	}
	w, err := workloads.New(s.workload, s.opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := runner.Run(ctx, runner.Config{
		Name: "redis", StoreRoot: t.TempDir(), Target: tt, Workloads: []workloads.Workload{w},
		Faults: s.faults, NemesisInterval: s.interval,
		Concurrency: s.concurrency, Rate: s.rate, TimeLimit: s.timeLimit,
		RecoveryTime: time.Second, CheckTimeLimit: 30 * time.Second, Seed: s.seed,
		DeployTimeout: time.Minute,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	st := out.Results.Stats
	if tt.dep != nil {
		t.Logf("deploy phases: %s", strings.Join(tt.dep.Phases(), ", "))
	}
	t.Logf("deploy %v, whole scenario %v (ops: %d ok, %d fail, %d info; %d nemesis events)",
		tt.deploy.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), st.OK, st.Fail, st.Info, st.NemesisEvents)
	for _, c := range out.Results.Checks {
		t.Logf("  %s/%s: %s %v", c.Workload, c.Checker, c.Verdict, c.AnomalyCounts)
	}
	return out, tt
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

func loadHistory(t *testing.T, out *runner.Outcome) *history.History {
	t.Helper()
	h, _, err := history.Load(out.Dir+"/"+rundir.HistoryFile, history.FormatJSONL)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// hotKeyRun runs the hotkey workload on a 3-master cluster and checks the
// set verdict; it returns the load measure.
func hotKeyRun(t *testing.T, salt int, rt cluster.Runtime) (*runner.Outcome, *timedTarget) {
	t.Helper()
	opts := workloads.DefaultOptions()
	opts.HotFraction = 0.9
	opts.Salt = salt
	out, tt := run(t, scenario{
		cfg: Config{Mode: Cluster, Runtime: rt}, workload: "hotkey", opts: opts,
		concurrency: 6, rate: 800, timeLimit: 5 * time.Second, seed: 1,
	})
	if c := check(t, out, "hotkey", "set"); c.Verdict != checkers.Valid {
		t.Errorf("set checker: %s %v %s", c.Verdict, c.AnomalyCounts, c.Reason)
	}
	l := out.Results.Measurements.Load
	if l == nil {
		t.Fatal("no load measurement (no operation named its node)")
	}
	t.Logf("salt %d: client-side load %+v, imbalance %.3f, hottest %s; server-side %v", salt, l.Nodes, l.Imbalance, l.Hottest, l.ServerSide)
	return out, tt
}

// TestClusterHotKey: 90% of operations on one key put most of the load on
// the master of its slot, and the servers' own counts agree.
func TestClusterHotKey(t *testing.T) {
	requireEnv(t)
	testHotKey(t, nil)
}

// TestDockerClusterHotKey is TestClusterHotKey on the docker runtime.
func TestDockerClusterHotKey(t *testing.T) {
	testHotKey(t, dockerenv.Docker(t, "redis", Registration().NodeNeeds))
}

func testHotKey(t *testing.T, rt cluster.Runtime) {
	out, tt := hotKeyRun(t, 0, rt)
	l := out.Results.Measurements.Load
	if tt.hotErr != nil {
		t.Fatalf("master of the hot key: %v", tt.hotErr)
	}
	if l.Imbalance <= 1.8 {
		t.Errorf("imbalance %.3f with a hot key, want > 1.8", l.Imbalance)
	}
	if l.Hottest != tt.hotNode {
		t.Errorf("hottest node %s, but the hot key's slot is mastered by %s", l.Hottest, tt.hotNode)
	}
	if len(l.Nodes) != Masters {
		t.Errorf("load on %d nodes, want all %d masters: %+v", len(l.Nodes), Masters, l.Nodes)
	}
	if len(l.ServerSide) != Masters {
		t.Fatalf("server-side counts %v, want one per master", l.ServerSide)
	}
	for _, nl := range l.Nodes {
		srv := l.ServerSide[nl.Node]
		if diff := math.Abs(float64(srv-int64(nl.Ops))) / float64(nl.Ops); diff > 0.10 {
			t.Errorf("%s: %d client-side ops, %d server-side commands: %.1f%% apart, want <= 10%%", nl.Node, nl.Ops, srv, 100*diff)
		} else {
			t.Logf("%s: %d client-side ops, %d server-side commands (%.1f%% apart)", nl.Node, nl.Ops, srv, 100*diff)
		}
	}
}

// TestClusterHotKeySalted: salting the hot key over 10 keys spreads the
// load over the masters.
func TestClusterHotKeySalted(t *testing.T) {
	requireEnv(t)
	testHotKeySalted(t, nil)
}

// TestDockerClusterHotKeySalted is TestClusterHotKeySalted on the docker
// runtime.
func TestDockerClusterHotKeySalted(t *testing.T) {
	testHotKeySalted(t, dockerenv.Docker(t, "redis", Registration().NodeNeeds))
}

func testHotKeySalted(t *testing.T, rt cluster.Runtime) {
	out, _ := hotKeyRun(t, 10, rt)
	l := out.Results.Measurements.Load
	if l.Imbalance >= 1.3 {
		t.Errorf("imbalance %.3f with the hot key salted over 10 keys, want < 1.3", l.Imbalance)
	}
	// Server-side: each union read is 10 SMEMBERS spread over the
	// masters, so log rather than compare.
	var max, total int64
	for _, n := range l.ServerSide {
		max = maxInt(max, n)
		total += n
	}
	if total > 0 {
		t.Logf("server-side imbalance %.3f", float64(max)/(float64(total)/float64(len(l.ServerSide))))
	}
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// ackedLost counts ok adds whose element is missing from the last ok read
// of its key: the losses no read revealed (the set checker's "lost" also
// counts elements of info adds that a read had returned).
func ackedLost(h *history.History) (acked, lost int) {
	pairs, _ := h.Pairs()
	final := map[string]map[int64]bool{}
	finalAt := map[string]int{}
	for _, p := range pairs {
		inv := &h.Ops[p.Invoke]
		if inv.F != "read" || h.Outcome(p) != history.OK || p.Invoke < finalAt[inv.Key] {
			continue
		}
		es, _ := h.Ops[p.Complete].Value.AsInts()
		set := map[int64]bool{}
		for _, e := range es {
			set[e] = true
		}
		final[inv.Key], finalAt[inv.Key] = set, p.Invoke
	}
	for _, p := range pairs {
		inv := &h.Ops[p.Invoke]
		if inv.F != "add" || h.Outcome(p) != history.OK {
			continue
		}
		acked++
		e, _ := inv.Value.AsInt()
		if !final[inv.Key][e] {
			lost++
		}
	}
	return acked, lost
}

// failoverRun runs the set workload on a primary and 2 replicas with a
// failover that first isolates the primary for 2 s.
func failoverRun(t *testing.T, wait int, rt cluster.Runtime) (rundir.Check, *history.History, int, int) {
	t.Helper()
	out, _ := run(t, scenario{
		cfg: Config{Mode: Replication, Nodes: 3, Wait: wait, Runtime: rt}, workload: "set",
		faults:   []nemesis.Fault{&nemesis.Failover{Isolate: 2 * time.Second}},
		interval: 3 * time.Second, concurrency: 5, rate: 500, timeLimit: 8 * time.Second, seed: 1,
	})
	h := loadHistory(t, out)
	applied := false
	for _, op := range h.Ops {
		if op.Process != history.Nemesis || op.Type == history.Invoke {
			continue
		}
		s, _ := op.Value.AsString()
		t.Logf("  nemesis %s: %s %s", op.F, s, op.Error)
		if strings.HasPrefix(op.F, "start-failover") && op.Error == "" {
			applied = true
		}
	}
	if !applied {
		t.Fatal("no failover was applied")
	}
	c := check(t, out, "set", "set")
	acked, lost := ackedLost(h)
	t.Logf("wait %d: checker lost %d (%s), acknowledged adds %d, acknowledged adds missing from the final read %d",
		wait, c.AnomalyCounts["lost"], c.Verdict, acked, lost)
	return c, h, acked, lost
}

// TestReplicationFailoverLosesWrites: asynchronous replication, primary
// isolated for 2 s, killed, most advanced replica promoted: writes the
// primary acknowledged during the isolation are lost.
func TestReplicationFailoverLosesWrites(t *testing.T) {
	requireEnv(t)
	c, _, _, lost := failoverRun(t, 0, nil)
	if c.AnomalyCounts["lost"] == 0 || lost == 0 {
		t.Errorf("async failover lost no acknowledged add: %s %v %s", c.Verdict, c.AnomalyCounts, c.Reason)
	}
}

// TestReplicationWaitFailover: the same failover with WAIT 1 after every
// write. What can be proven: an add recorded ok was received by at least
// one replica (WAIT counted it) before the primary was killed; Promote
// picks the replica with the largest offset of the same replication
// stream, which therefore holds it. So no acknowledged add is missing
// from the final read. Adds WAIT could not confirm are recorded info; the
// primary applied them and served them to reads, so the set checker can
// still report "lost" elements: those that a read returned (which made
// them known) and the failover then discarded. Those are asserted to be
// info adds only.
func TestReplicationWaitFailover(t *testing.T) {
	requireEnv(t)
	c, h, acked, lost := failoverRun(t, 1, nil)
	if acked == 0 {
		t.Fatal("no add was acknowledged")
	}
	if lost != 0 {
		t.Errorf("WAIT 1: %d acknowledged adds missing from the final read", lost)
	}
	short := 0
	for _, op := range h.Ops {
		if op.IsClient() && op.Type == history.Info && strings.Contains(op.Error, ErrWaitShort.Error()) {
			short++
		}
	}
	t.Logf("WAIT 1: %d adds recorded info because WAIT timed out; checker lost %d (read-revealed info adds)", short, c.AnomalyCounts["lost"])
	if short == 0 {
		t.Error("no write was recorded info for a short WAIT while the primary was isolated")
	}
}

// TestDirect drives a Replication-mode deployment by hand: clock faults
// are refused, WAIT and READONLY map as documented, and a kill + promote
// + rejoin keeps acknowledged data.
func TestDirect(t *testing.T) {
	requireEnv(t)
	tg, err := New(newConfig(t, Config{Mode: Replication, Nodes: 3, Wait: 2, WaitTimeout: 200 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	dep, err := tg.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := dep.(*Deployment)
	t.Logf("deploy %v (%s)", time.Since(start).Round(time.Millisecond), strings.Join(d.Phases(), ", "))
	defer func() {
		if err := dep.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	for _, s := range dep.Describe() {
		t.Logf("  %s: %s", s.Name, s.Value)
	}

	// Clock faults are refused up front.
	_, err = nemesis.New(dep.Cluster(), []nemesis.Fault{&nemesis.Clock{}}, time.Second, rand.New(rand.NewPCG(1, 1)), nil)
	if !errors.Is(err, cluster.ErrUnsupported) {
		t.Errorf("clock fault: %v, want cluster.ErrUnsupported", err)
	}

	cw, err := d.NewClient(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := cw.(*Client)
	defer c.Close()
	op := func(f func(ctx context.Context) error) error {
		octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
		defer ocancel()
		return f(octx)
	}
	if err := op(func(ctx context.Context) error { return c.Add(ctx, "set:0", 1) }); err != nil || c.LastNode() != "n1" {
		t.Fatalf("add: %v on %s", err, c.LastNode())
	}
	if err := op(func(ctx context.Context) error { return c.Write(ctx, "register:0", 5) }); err != nil {
		t.Fatalf("write: %v", err)
	}
	var swapped bool
	if err := op(func(ctx context.Context) (err error) { swapped, err = c.CAS(ctx, "register:0", 5, 6); return }); err != nil || !swapped {
		t.Fatalf("cas 5->6: %v %v", swapped, err)
	}
	if err := op(func(ctx context.Context) (err error) { swapped, err = c.CAS(ctx, "register:0", 5, 7); return }); err != nil || swapped {
		t.Fatalf("cas 5->7 must not swap: %v %v", swapped, err)
	}

	// A replica killed: WAIT 2 cannot be met, the write is applied but
	// recorded info.
	if err := d.Replicated().Kill(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	err = op(func(ctx context.Context) error { return c.Add(ctx, "set:0", 2) })
	if !errors.Is(err, ErrWaitShort) || workloads.IsDefinite(err) {
		t.Errorf("add with a replica down and WAIT 2: %v, want a non-Definite ErrWaitShort", err)
	}
	var es []int64
	if err := op(func(ctx context.Context) (err error) { es, err = c.ReadSet(ctx, "set:0"); return }); err != nil || len(es) != 2 {
		t.Errorf("read after short WAIT: %v %v, want both elements (applied on the primary)", es, err)
	}
	if err := d.Replicated().Restart(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	if err := d.srv.waitReplicating(ctx, "n3", "n1", LinkTimeout); err != nil {
		t.Fatal(err)
	}

	// A write sent to a replica is a Definite READONLY.
	werr := d.srv.admin(ctx, "n2", func(ctx context.Context, nc *goredis.Client) error {
		return nc.SAdd(ctx, "set:0", 9).Err()
	})
	if werr = Classify(werr); !workloads.IsDefinite(werr) || !strings.Contains(werr.Error(), "READONLY") {
		t.Errorf("write on a replica: %v, want a Definite READONLY", werr)
	}

	// Failover by hand: kill n1, promote, the client follows, rejoin.
	r := d.Replicated()
	start = time.Now()
	if err := r.Kill(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	promoted, err := r.Promote(ctx, []string{"n1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kill + promote %s: %v", promoted, time.Since(start).Round(time.Millisecond))
	if promoted == "n1" || r.Primary() != promoted || !r.Fenced("n1") {
		t.Fatalf("promoted %s, primary %s, n1 fenced %v", promoted, r.Primary(), r.Fenced("n1"))
	}
	if err := op(func(ctx context.Context) (err error) { es, err = c.ReadSet(ctx, "set:0"); return }); err != nil || len(es) != 2 || c.LastNode() != promoted {
		t.Errorf("read after failover: %v %v on %s", es, err, c.LastNode())
	}
	start = time.Now()
	if err := r.Restart(ctx, "n1"); err != nil { // fenced: rejoins
		t.Fatal(err)
	}
	t.Logf("rejoin n1: %v", time.Since(start).Round(time.Millisecond))
	if r.Fenced("n1") {
		t.Error("n1 still fenced after rejoin")
	}
	// With both replicas following the new primary, WAIT 2 is met again.
	if err := op(func(ctx context.Context) error { return c.Add(ctx, "set:0", 3) }); err != nil {
		t.Errorf("add after rejoin with WAIT 2: %v", err)
	}
	ops, err := d.NodeOps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("server-side ops since deploy: %v", ops)
}

// TestDockerReplicationFailoverLosesWrites is
// TestReplicationFailoverLosesWrites on the docker runtime: the failover
// rewrites redis.conf on stopped containers (CopyIn) and wipes the old
// primary's data through the runtime.
func TestDockerReplicationFailoverLosesWrites(t *testing.T) {
	c, _, _, lost := failoverRun(t, 0, dockerenv.Docker(t, "redis", Registration().NodeNeeds))
	if c.AnomalyCounts["lost"] == 0 || lost == 0 {
		t.Errorf("async failover lost no acknowledged add: %s %v %s", c.Verdict, c.AnomalyCounts, c.Reason)
	}
}
