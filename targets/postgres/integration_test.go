//go:build linux

package postgres

// Integration tests: real PostgreSQL servers in network namespaces. They
// need root, postgresql-15, iproute2, nftables and faketime; without them
// they are skipped, or fail when the CI environment variable is set.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
	Needs: "root, postgresql-15, iproute2, nftables, faketime",
	Probe: func(ctx context.Context) error {
		tg, err := New(Config{Runtime: local.Runtime{}})
		if err == nil {
			err = tg.Probe(ctx)
		}
		if lerr := local.Probe(ctx); lerr != nil && errors.Is(lerr, local.ErrNoFaketime) {
			err = errors.Join(err, lerr)
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
	cfg.StateDir = testenv.StateDir(t, "pgtest")
	if cfg.Runtime == nil {
		cfg.Runtime = local.Runtime{}
	}
	return cfg
}

// timedTarget records how long Deploy took.
type timedTarget struct {
	*Target
	deploy time.Duration
	dep    *Deployment
}

func (tt *timedTarget) Deploy(ctx context.Context) (targets.Deployment, error) {
	start := time.Now()
	d, err := tt.Target.Deploy(ctx)
	tt.deploy = time.Since(start)
	if err == nil {
		tt.dep = d.(*Deployment)
	}
	return d, err
}

type scenario struct {
	cfg         Config
	workloads   []string
	opts        workloads.Options
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
	if v := os.Getenv("PGTEST_SEED"); v != "" {
		if _, err := fmt.Sscan(v, &s.seed); err != nil {
			t.Fatalf("PGTEST_SEED=%q: %v", v, err)
		}
	}
	s.cfg.Seed = s.seed
	tg, err := New(newConfig(t, s.cfg))
	if err != nil {
		t.Fatal(err)
	}
	tt := &timedTarget{Target: tg}
	if s.opts.Keys == 0 {
		s.opts = workloads.DefaultOptions()
	}
	var ws []workloads.Workload
	for _, n := range s.workloads {
		w, err := workloads.New(n, s.opts)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := runner.Run(ctx, runner.Config{
		Name: "pg", StoreRoot: t.TempDir(), Target: tt, Workloads: ws,
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
	return out
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

// nemesisLog returns the nemesis completions, for the test log, and
// whether a failover was applied without error.
func nemesisLog(h *history.History) ([]string, bool) {
	var out []string
	applied := false
	for _, op := range h.Ops {
		if op.Process != history.Nemesis || op.Type == history.Invoke {
			continue
		}
		s, _ := op.Value.AsString()
		out = append(out, fmt.Sprintf("%s: %s %s", op.F, s, op.Error))
		if strings.HasPrefix(op.F, "start-failover") && op.Error == "" {
			applied = true
		}
	}
	return out, applied
}

// TestDeployFailoverRejoin drives the failover machinery directly: a
// client writes, the primary is killed, the most advanced replica is
// promoted, the same client's next write lands on it, and the old primary
// rejoins as a streaming replica holding the data.
func TestDeployFailoverRejoin(t *testing.T) {
	requireEnv(t)
	tg, err := New(newConfig(t, Config{Replication: Sync, ReadFrom: Replica}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	dep, err := tg.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("deploy %v (%s)", time.Since(start).Round(time.Millisecond), strings.Join(dep.(*Deployment).Phases(), ", "))
	defer func() {
		if err := dep.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	for _, s := range dep.Describe() {
		t.Logf("  %s: %s", s.Name, s.Value)
	}
	d := dep.(*Deployment)
	pc := d.PG()
	cw, err := d.NewClient(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := cw.(*Client)
	defer c.Close()
	opCtx := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 2*time.Second) }
	octx, ocancel := opCtx()
	err = c.Write(octx, "register:1", 1)
	ocancel()
	if err != nil || c.LastNode() != "n1" {
		t.Fatalf("write: %v on %s", err, c.LastNode())
	}
	octx, ocancel = opCtx()
	swapped, err := c.CAS(octx, "register:1", 1, 2)
	ocancel()
	if err != nil || !swapped {
		t.Fatalf("cas 1->2: %v %v", swapped, err)
	}
	octx, ocancel = opCtx()
	swapped, err = c.CAS(octx, "register:1", 1, 3)
	ocancel()
	if err != nil || swapped {
		t.Fatalf("cas 1->3 must not swap: %v %v", swapped, err)
	}
	// Writing to a standby is a definite failure (25006).
	sb, err := d.srv.connect(ctx, "n2")
	if err != nil {
		t.Fatal(err)
	}
	_, werr := sb.Exec(ctx, "INSERT INTO kv VALUES ('x', 1)")
	_ = sb.Close(ctx)
	if werr = Classify(werr); !workloads.IsDefinite(werr) || !strings.Contains(werr.Error(), "25006") {
		t.Errorf("write on a standby: %v, want a definite 25006", werr)
	}

	pidsBefore := map[string]int{"n2": pc.serverPid("n2"), "n3": pc.serverPid("n3")}
	start = time.Now()
	if err := pc.Kill(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	promoted, err := pc.Promote(ctx, []string{"n1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kill + promote %s: %v", promoted, time.Since(start).Round(time.Millisecond))
	if promoted == "n1" || pc.Primary() != promoted || !pc.Fenced("n1") {
		t.Fatalf("promoted %s, primary %s, n1 fenced %v", promoted, pc.Primary(), pc.Fenced("n1"))
	}
	// The other standby was re-pointed by reload (same server run, not
	// re-cloned) and streams from the new primary.
	other := "n2"
	if promoted == "n2" {
		other = "n3"
	}
	if pc.Fenced(other) || pc.serverPid(other) != pidsBefore[other] {
		t.Errorf("standby %s: fenced %v, pid %d -> %d: re-cloned instead of re-pointed", other, pc.Fenced(other), pidsBefore[other], pc.serverPid(other))
	}
	if err := d.srv.waitStreaming(ctx, promoted, []string{other}); err != nil {
		t.Fatal(err)
	}
	// The client follows the new primary on its next request; with sync
	// replication the remaining standby acknowledges the commit.
	octx, ocancel = opCtx()
	err = c.Add(octx, "set:0", 7)
	ocancel()
	if err != nil || c.LastNode() != promoted {
		t.Fatalf("add after failover: %v on %s, want ok on %s", err, c.LastNode(), promoted)
	}
	octx, ocancel = opCtx()
	err = c.Add(octx, "set:0", 7) // already present: still ok
	ocancel()
	if err != nil {
		t.Fatalf("re-add: %v", err)
	}

	start = time.Now()
	if err := pc.Restart(ctx, "n1"); err != nil { // fenced: rejoins
		t.Fatal(err)
	}
	t.Logf("rejoin n1: %v", time.Since(start).Round(time.Millisecond))
	if pc.Fenced("n1") || !pc.Live("n1") {
		t.Fatalf("n1 after rejoin: fenced %v live %v", pc.Fenced("n1"), pc.Live("n1"))
	}
	var others []string
	for _, n := range pc.Nodes() {
		if n != promoted {
			others = append(others, n)
		}
	}
	if err := d.srv.waitStreaming(ctx, promoted, others); err != nil {
		t.Fatal(err)
	}
	// The rejoined node has the data written before and after failover
	// (poll: it is a replica).
	deadline := time.Now().Add(10 * time.Second)
	for {
		var v int64
		var n int
		err := d.srv.admin(ctx, "n1", func(ctx context.Context, conn *pgx.Conn) error {
			if err := conn.QueryRow(ctx, "SELECT value FROM kv WHERE key = 'register:1'").Scan(&v); err != nil {
				return err
			}
			return conn.QueryRow(ctx, "SELECT count(*) FROM sets WHERE key = 'set:0' AND elem = 7").Scan(&n)
		})
		if err == nil && v == 2 && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rejoined n1: register %d, set count %d, err %v", v, n, err)
		}
		if !sleep(ctx, 50*time.Millisecond) {
			t.Fatal(ctx.Err())
		}
	}
	// Reads from replicas never go to the primary while one is live.
	for i := 0; i < 20; i++ {
		octx, ocancel = opCtx()
		_, _, err := c.Read(octx, "register:1")
		ocancel()
		if err != nil || c.LastNode() == promoted {
			t.Fatalf("replica read: %v on %s (primary %s)", err, c.LastNode(), promoted)
		}
	}
}

// TestAsyncFailoverLosesWrites: asynchronous replication, the primary
// isolated from its replicas (not from clients) for 2 s, killed, and a
// replica promoted: writes acknowledged during the isolation are lost.
func TestAsyncFailoverLosesWrites(t *testing.T) {
	requireEnv(t)
	testAsyncFailover(t, nil)
}

// TestDockerAsyncFailoverLosesWrites is TestAsyncFailoverLosesWrites on
// the docker runtime (initdb, pg_basebackup and pg_rewind run in helper
// containers of the stopped nodes).
func TestDockerAsyncFailoverLosesWrites(t *testing.T) {
	testAsyncFailover(t, dockerenv.Docker(t, "postgres", Registration().NodeNeeds))
}

func testAsyncFailover(t *testing.T, rt cluster.Runtime) {
	out := run(t, scenario{
		cfg:       Config{Replication: Async, Runtime: rt},
		workloads: []string{"set"}, faults: []nemesis.Fault{&nemesis.Failover{Isolate: 2 * time.Second}},
		interval: 4 * time.Second, concurrency: 5, rate: 500, timeLimit: 10 * time.Second, seed: 1,
	})
	events, applied := nemesisLog(loadHistory(t, out))
	for _, e := range events {
		t.Logf("  nemesis %s", e)
	}
	if !applied {
		t.Fatal("no failover was applied")
	}
	c := check(t, out, "set", "set")
	if c.AnomalyCounts["lost"] == 0 {
		t.Errorf("async failover: no acknowledged add lost: %s %v %s", c.Verdict, c.AnomalyCounts, c.Reason)
	}
}

// TestSyncFailoverKeepsAcknowledgedWrites: the same scenario with
// synchronous replication (ANY 1 of the other nodes) loses no
// acknowledged write.
func TestSyncFailoverKeepsAcknowledgedWrites(t *testing.T) {
	requireEnv(t)
	testSyncFailover(t, nil)
}

// TestDockerSyncFailoverKeepsAcknowledgedWrites is
// TestSyncFailoverKeepsAcknowledgedWrites on the docker runtime.
func TestDockerSyncFailoverKeepsAcknowledgedWrites(t *testing.T) {
	testSyncFailover(t, dockerenv.Docker(t, "postgres", Registration().NodeNeeds))
}

func testSyncFailover(t *testing.T, rt cluster.Runtime) {
	out := run(t, scenario{
		cfg:       Config{Replication: Sync, Runtime: rt},
		workloads: []string{"set"}, faults: []nemesis.Fault{&nemesis.Failover{Isolate: 2 * time.Second}},
		interval: 4 * time.Second, concurrency: 5, rate: 500, timeLimit: 10 * time.Second, seed: 1,
	})
	h := loadHistory(t, out)
	events, applied := nemesisLog(h)
	for _, e := range events {
		t.Logf("  nemesis %s", e)
	}
	if !applied {
		t.Fatal("no failover was applied")
	}
	c := check(t, out, "set", "set")
	// Synchronous replication keeps every acknowledged add. An add whose
	// client timed out (info) is another matter: the client's cancel
	// ends the primary's wait for the standby ("canceling wait for
	// synchronous replication ... already committed locally"), the row
	// becomes visible on the isolated primary, a read may see it, and the
	// failover loses it. The set checker rightly calls that element lost;
	// what sync replication promises is that no lost element was
	// acknowledged.
	byIndex := map[int]history.Op{}
	for _, op := range h.Ops {
		byIndex[op.Index] = op
	}
	var ackedLost, infoLost int
	for _, a := range c.Anomalies {
		if a.Kind != "lost" {
			continue
		}
		acked := false
		for _, i := range a.Ops {
			if op, ok := byIndex[i]; ok && op.F == "add" && op.Type == history.OK {
				acked = true
			}
		}
		if acked {
			ackedLost++
			t.Errorf("sync failover lost an acknowledged add: %s: %s %v", a.Key, a.Message, a.Ops)
		} else {
			infoLost++
			t.Logf("  lost, but its add had an unknown outcome (a cancelled sync wait): %s: %s", a.Key, a.Message)
		}
	}
	if n := c.AnomalyCounts["lost"]; n > ackedLost+infoLost {
		t.Errorf("sync failover: %d lost elements, %d of them listed: cannot tell whether any was acknowledged", n, ackedLost+infoLost)
	}
	for kind, n := range c.AnomalyCounts {
		if kind != "lost" && n > 0 {
			t.Errorf("sync failover: %d %s anomalies: %s %v %s", n, kind, c.Verdict, c.AnomalyCounts, c.Reason)
		}
	}
	if c.Verdict == checkers.Unknown {
		t.Errorf("sync failover: verdict unknown: %s", c.Reason)
	}
	t.Logf("sync failover: %s, %d lost elements whose adds had an unknown outcome, %d acknowledged lost", c.Verdict, infoLost, ackedLost)
}

// TestIsolationLostUpdates: read-modify-write transactions without FOR
// UPDATE lose updates at read committed (the counter reads out of bounds
// and two committed updates read the same value); repeatable read and
// serializable abort one of them with a serialization failure (recorded
// fail) instead.
func TestIsolationLostUpdates(t *testing.T) {
	requireEnv(t)
	for _, iso := range []Isolation{ReadCommitted, RepeatableRead, Serializable} {
		t.Run(iso.String(), func(t *testing.T) {
			out := run(t, scenario{
				cfg:       Config{Isolation: iso},
				workloads: []string{"counter", "lost-update"}, opts: workloads.Options{Keys: 2},
				concurrency: 8, rate: 800, timeLimit: 4 * time.Second, seed: 2,
			})
			counter := check(t, out, "counter", "counter")
			lost := check(t, out, "lost-update", "lost-update")
			if iso == ReadCommitted {
				if counter.AnomalyCounts["counter-out-of-bounds"] == 0 {
					t.Errorf("read committed: no counter read out of bounds: %s %v", counter.Verdict, counter.AnomalyCounts)
				}
				if lost.AnomalyCounts["lost-update"] == 0 {
					t.Errorf("read committed: no lost update: %s %v", lost.Verdict, lost.AnomalyCounts)
				}
				return
			}
			if counter.Verdict != checkers.Valid || lost.Verdict != checkers.Valid {
				t.Errorf("%s: counter %s %v, lost-update %s %v", iso, counter.Verdict, counter.AnomalyCounts, lost.Verdict, lost.AnomalyCounts)
			}
			serialization := 0
			for _, op := range loadHistory(t, out).Ops {
				if op.Type == history.Fail && strings.Contains(op.Error, "40001") {
					serialization++
				}
			}
			if serialization == 0 {
				t.Errorf("%s: no serialization failure recorded fail", iso)
			}
			t.Logf("%s: %d serialization failures recorded fail", iso, serialization)
		})
	}
}

// TestReadFromReplicaIsNotReadYourWrites: writes go to the primary, reads
// to an asynchronous replica: a client does not always read its own
// writes.
func TestReadFromReplicaIsNotReadYourWrites(t *testing.T) {
	requireEnv(t)
	out := run(t, scenario{
		cfg:       Config{ReadFrom: Replica},
		workloads: []string{"ryw"}, concurrency: 5, rate: 1000, timeLimit: 4 * time.Second, seed: 3,
	})
	s := check(t, out, "ryw", "session")
	if s.AnomalyCounts["read-your-writes"] == 0 {
		t.Fatalf("read from replica: no read-your-writes violation: %s %v", s.Verdict, s.AnomalyCounts)
	}
	var maxStale int64
	for _, a := range s.Anomalies {
		if a.Kind == "read-your-writes" {
			maxStale = max(maxStale, a.StalenessNS)
		}
	}
	if maxStale <= 0 {
		t.Errorf("read-your-writes anomalies without staleness: %+v", s.Anomalies[0])
	}
	t.Logf("max staleness %v", time.Duration(maxStale))
}
