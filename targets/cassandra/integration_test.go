//go:build linux

package cassandra

// Integration tests against a real 3-node Cassandra 5.0 cluster. One
// cluster is deployed for the whole package (by the first test needing it;
// TestMain closes it) and every scenario
// is a full runner.Run against a shared view of it (Deployment.Shared),
// with the tables truncated between scenarios.
//
// They need root, java, mvn and Maven Central (or a warm cache), nft and
// libfaketime. When something is missing they are skipped, or fail when
// the environment variable CI is set.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/workloads"
)

var (
	deployOnce  sync.Once
	shared      *Deployment
	sharedErr   error  // deploy failure: every test fails with it
	skipReason  string // missing prerequisite outside CI
	deployTaken time.Duration
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if missing := prerequisites(); missing != "" {
		if os.Getenv("CI") != "" {
			fmt.Fprintf(os.Stderr, "cassandra integration tests cannot run (CI is set): %s\n", missing)
			return 1
		}
		skipReason = missing
		return m.Run()
	}
	if isShort() {
		skipReason = "-short: no real cluster"
		return m.Run()
	}
	code := m.Run()
	if shared != nil {
		cctx, ccancel := context.WithTimeout(context.Background(), local.CleanupTimeout)
		defer ccancel()
		if err := shared.Close(cctx); err != nil {
			fmt.Fprintln(os.Stderr, "close:", err)
			code = 1
		}
	}
	return code
}

// isShort reads -test.short before flag parsing by m.Run.
func isShort() bool {
	for _, a := range os.Args[1:] {
		if a == "-test.short" || a == "-test.short=true" || a == "-short" {
			return true
		}
	}
	return false
}

// prerequisites returns what is missing, or "".
func prerequisites() string {
	var miss []string
	if os.Geteuid() != 0 {
		miss = append(miss, "root")
	}
	for _, c := range []string{"java", "nft", "ip"} {
		if _, err := exec.LookPath(c); err != nil {
			miss = append(miss, c)
		}
	}
	cfg := Config{}
	cfg.defaults()
	root, err := cfg.cacheRoot()
	cached := err == nil
	if cached {
		_, err := os.Stat(root + "/cassandra-" + cfg.Version + "/" + markerFile)
		cached = err == nil
	}
	if _, err := exec.LookPath("mvn"); err != nil && !cached {
		miss = append(miss, "mvn (and no cached jars)")
	}
	if err := local.ProbeRequired(context.Background()); err != nil {
		miss = append(miss, err.Error())
	}
	if err := local.Probe(context.Background()); errors.Is(err, local.ErrNoFaketime) {
		miss = append(miss, "libfaketime (Debian package faketime)")
	}
	return strings.Join(miss, ", ")
}

// need returns the shared deployment or ends the test.
func need(t *testing.T) *Deployment {
	t.Helper()
	if skipReason != "" {
		t.Skip("cassandra integration: " + skipReason)
	}
	deployOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), DefaultStartTimeout+MavenTimeout)
		defer cancel()
		tg, err := New(Config{Nodes: 3, StateDir: os.Getenv("CASSANDRA_TEST_STATE_DIR")})
		if err != nil {
			sharedErr = err
			return
		}
		start := time.Now()
		shared, sharedErr = tg.DeployCassandra(ctx)
		deployTaken = time.Since(start)
	})
	if sharedErr != nil {
		t.Fatalf("deploy failed after %v: %v", deployTaken.Round(time.Millisecond), sharedErr)
	}
	return shared
}

type scenario struct {
	name        string
	opts        ClientOptions
	workloads   []string
	wopts       workloads.Options
	faults      []nemesis.Fault
	interval    time.Duration
	concurrency int
	rate        float64
	timeLimit   time.Duration
	seed        int64
}

// runScenario truncates the tables (every node must be up) and runs one
// test through the real runner against the shared cluster.
func runScenario(t *testing.T, d *Deployment, s scenario) *runner.Outcome {
	t.Helper()
	ctx := context.Background()
	rctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	wstart := time.Now()
	if err := d.WaitReady(rctx, 4*time.Minute); err != nil {
		cancel()
		t.Fatalf("%s: cluster not ready before the scenario: %v", s.name, err)
	}
	cancel()
	if w := time.Since(wstart); w > 2*time.Second {
		t.Logf("%s: waited %v for every node to be up and see the others (restarts of earlier kills)", s.name, w.Round(time.Millisecond))
	}
	if err := d.Truncate(ctx); err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	// A namespace per scenario: TRUNCATE does not stop hints from an
	// earlier scenario's faults resurrecting its rows (seen once: a
	// control run read a value written two scenarios before).
	s.opts.KeyPrefix = s.name + "/"
	target, err := d.Shared(s.opts)
	if err != nil {
		t.Fatal(err)
	}
	if s.wopts.Keys == 0 {
		s.wopts = workloads.DefaultOptions()
	}
	var ws []workloads.Workload
	for _, n := range s.workloads {
		w, err := workloads.New(n, s.wopts)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	start := time.Now()
	out, err := runner.Run(ctx, runner.Config{
		Name: s.name, StoreRoot: t.TempDir(), Target: target, Workloads: ws,
		Faults: s.faults, NemesisInterval: s.interval,
		Concurrency: s.concurrency, Rate: s.rate, TimeLimit: s.timeLimit,
		OpTimeout: 3 * time.Second, RecoveryTime: 2 * time.Second,
		DeployTimeout: 10 * time.Second, CheckTimeLimit: 30 * time.Second, Seed: s.seed,
	})
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	st := out.Results.Stats
	t.Logf("%s: %v (ok %d, fail %d, info %d), verdict %s", s.name, time.Since(start).Round(time.Millisecond),
		st.OK, st.Fail, st.Info, out.Results.Verdict)
	for _, c := range out.Results.Checks {
		t.Logf("  %s/%s: %s %v %s", c.Workload, c.Checker, c.Verdict, c.AnomalyCounts, c.Reason)
		for _, a := range c.Anomalies[:min(2, len(c.Anomalies))] {
			msg := a.Message
			if len(msg) > 1200 {
				msg = msg[:1200] + "..."
			}
			t.Logf("    %s: %s", a.Kind, msg)
		}
	}
	return out
}

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

// faultWindowOutcomes counts completions of client ops (selected by f)
// invoked and completed while a fault was active.
func faultWindowOutcomes(h *history.History, f func(op *history.Op) bool) map[history.Type]int {
	pairs, _ := h.Pairs()
	var windows [][2]int64
	var open int64 = -1
	for _, op := range h.Ops {
		if op.IsClient() || op.Type == history.Invoke {
			continue
		}
		if strings.HasPrefix(op.F, "start-") && op.Error == "" {
			open = op.Time
		} else if strings.HasPrefix(op.F, "stop-") && open >= 0 {
			windows = append(windows, [2]int64{open, op.Time})
			open = -1
		}
	}
	counts := map[history.Type]int{}
	for _, p := range pairs {
		inv := &h.Ops[p.Invoke]
		if !f(inv) {
			continue
		}
		end := int64(1 << 62)
		if c := h.Completion(p); c != nil {
			end = c.Time
		}
		for _, w := range windows {
			if inv.Time >= w[0] && end <= w[1] {
				counts[h.Outcome(p)]++
			}
		}
	}
	return counts
}

// The tests below run in file order, which is the order that keeps the
// package short: scenarios without restarts first, the kills last.

func TestDeploy(t *testing.T) {
	d := need(t)
	tm := d.Timings()
	t.Logf("deploy %v: server %v, network %v, JVMs to CQL ports %v, schema+ring %v; version %s",
		deployTaken.Round(time.Millisecond), tm.Server.Round(time.Millisecond), tm.Network.Round(time.Millisecond),
		tm.Nodes.Round(time.Millisecond), tm.Ring.Round(time.Millisecond), d.Version())
	if !strings.HasPrefix(d.Version(), "5.0.") {
		t.Errorf("version %q, want 5.0.x", d.Version())
	}
	for _, s := range d.Describe() {
		t.Logf("  %s: %s", s.Name, s.Value)
	}
}

// TestClockSkewReachesJVM checks that the clock preload moves the JVM's
// clock: now() on a node skewed by +3s is 3 s ahead of the controller.
// The offset is small on purpose: Cassandra's server timestamps and
// now() never go back, so the node keeps stamping at its high-water mark
// for as long as the skew was (an hour of poisoned timestamps for +1h).
func TestClockSkewReachesJVM(t *testing.T) {
	d := need(t)
	ctx := context.Background()
	node := d.Local().Nodes()[0]
	serverNow := func() (time.Duration, error) {
		c, err := d.NewClientWith(ctx, 0, ClientOptions{ReadCL: "ONE", WriteCL: "ONE", Sticky: true})
		if err != nil {
			return 0, err
		}
		defer c.Close()
		var ms int64
		if err := c.s.Query("SELECT toUnixTimestamp(now()) FROM system.local").WithContext(ctx).Scan(&ms); err != nil {
			return 0, err
		}
		return time.Duration(ms-time.Now().UnixMilli()) * time.Millisecond, nil
	}
	if err := d.CassandraCluster().SetClockOffset(ctx, node, 3*time.Second); err != nil {
		t.Fatalf("set clock offset: %v", err)
	}
	defer func() {
		if err := d.CassandraCluster().SetClockOffset(ctx, node, 0); err != nil {
			t.Errorf("reset clock: %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	var last time.Duration
	for time.Now().Before(deadline) {
		off, err := serverNow()
		if err == nil && off > 2500*time.Millisecond && off < 3500*time.Millisecond {
			t.Logf("%s skewed +3s: its now() is %v ahead of the controller", node, off.Round(time.Millisecond))
			return
		}
		last = off
		if !sleepCtx(ctx, 200*time.Millisecond) {
			break
		}
	}
	t.Fatalf("%s: clock offset +3s never showed in now() (last difference %v)", node, last)
}

// CL ONE with a random coordinator under partitions: a client does not
// read its own writes.
func TestONEPartitionBreaksReadYourWrites(t *testing.T) {
	d := need(t)
	out := runScenario(t, d, scenario{
		name: "one-partition", opts: ClientOptions{ReadCL: "ONE", WriteCL: "ONE", ClientTimestamps: true},
		workloads: []string{"ryw"}, faults: []nemesis.Fault{&nemesis.Partition{}}, interval: 4 * time.Second,
		concurrency: 6, rate: 200, timeLimit: 20 * time.Second, seed: 1,
	})
	s := check(t, out, "ryw", "session")
	t.Logf("CL ONE + partitions: %d read-your-writes violations, anomalies %v", s.AnomalyCounts["read-your-writes"], s.AnomalyCounts)
	if s.Verdict != checkers.Invalid {
		t.Errorf("CL ONE + partitions: session verdict %s, want invalid", s.Verdict)
	}
}

// LWT: a cas-register (CAS at SERIAL, reads at SERIAL, plain writes at
// QUORUM) under partitions. Only a decided verdict is asserted; what
// Cassandra does is logged.
func TestLWTRegisterUnderPartitions(t *testing.T) {
	d := need(t)
	out := runScenario(t, d, scenario{
		name: "lwt-partition", opts: ClientOptions{ReadCL: "SERIAL", WriteCL: "QUORUM", SerialCL: "SERIAL", ClientTimestamps: true},
		workloads: []string{"register"}, wopts: workloads.Options{Keys: 3, CAS: true},
		faults: []nemesis.Fault{&nemesis.Partition{}}, interval: 4 * time.Second,
		concurrency: 6, rate: 100, timeLimit: 20 * time.Second, seed: 2,
	})
	c := check(t, out, "register", "linearizable")
	t.Logf("Cassandra 5.0 LWT cas-register under partitions: %s %v %s", c.Verdict, c.AnomalyCounts, c.Reason)
	if c.Verdict == checkers.Unknown {
		t.Errorf("linearizability undecided: %s", c.Reason)
	}
}

// LWT only: CAS, reads at SERIAL and writes through Paxos too, under
// partitions. Only a decided verdict is asserted; the result is logged.
func TestLWTOnlyRegisterUnderPartitions(t *testing.T) {
	d := need(t)
	out := runScenario(t, d, scenario{
		name: "lwt-only-partition", opts: ClientOptions{ReadCL: "SERIAL", WriteCL: "QUORUM", SerialCL: "SERIAL", LWTWrites: true},
		workloads: []string{"register"}, wopts: workloads.Options{Keys: 3, CAS: true},
		faults: []nemesis.Fault{&nemesis.Partition{}}, interval: 4 * time.Second,
		concurrency: 6, rate: 100, timeLimit: 20 * time.Second, seed: 2,
	})
	c := check(t, out, "register", "linearizable")
	t.Logf("Cassandra 5.0 LWT-only cas-register under partitions: %s %v %s", c.Verdict, c.AnomalyCounts, c.Reason)
	if c.Verdict == checkers.Unknown {
		t.Errorf("linearizability undecided: %s", c.Reason)
	}
}

// Server-side timestamps and one node's clock skewed: last-write-wins
// drops writes coordinated by a node whose clock is behind (or makes
// later writes lose to one stamped in the future).
func TestClockSkewLosesWritesUnderLWW(t *testing.T) {
	d := need(t)
	if d.CassandraCluster().clockErr != nil {
		t.Skipf("clock skew unsupported: %v", d.CassandraCluster().clockErr)
	}
	control := runScenario(t, d, scenario{
		name: "clock-lww-control", opts: ClientOptions{ReadCL: "QUORUM", WriteCL: "QUORUM", ClientTimestamps: false},
		workloads: []string{"register"}, wopts: workloads.Options{Keys: 2},
		concurrency: 4, rate: 100, timeLimit: 10 * time.Second, seed: 4,
	})
	if c := check(t, control, "register", "linearizable"); c.Verdict != checkers.Valid {
		t.Errorf("server timestamps, no skew, no faults: register verdict %s %v, want valid", c.Verdict, c.AnomalyCounts)
	}
	out := runScenario(t, d, scenario{
		name: "clock-lww", opts: ClientOptions{ReadCL: "QUORUM", WriteCL: "QUORUM", ClientTimestamps: false},
		workloads: []string{"register"}, wopts: workloads.Options{Keys: 2},
		faults:   []nemesis.Fault{&nemesis.Clock{Targets: nemesis.One, MaxOffset: 8 * time.Second}},
		interval: 4 * time.Second, concurrency: 4, rate: 100, timeLimit: 20 * time.Second, seed: 4,
	})
	c := check(t, out, "register", "linearizable")
	t.Logf("server timestamps + clock skew: linearizable %s %v", c.Verdict, c.AnomalyCounts)
	if c.Verdict != checkers.Invalid {
		t.Errorf("server timestamps + skewed clock: register verdict %s, want invalid (lost writes)", c.Verdict)
	}
}

// QUORUM with one node of three killed: reads still see writes, and
// operations keep succeeding during the kill.
func TestQuorumSurvivesOneKilled(t *testing.T) {
	d := need(t)
	out := runScenario(t, d, scenario{
		name: "quorum-kill-one", opts: ClientOptions{ReadCL: "QUORUM", WriteCL: "QUORUM", ClientTimestamps: true},
		workloads: []string{"ryw"}, faults: []nemesis.Fault{&nemesis.Kill{Targets: nemesis.One}},
		interval: 10 * time.Second, concurrency: 6, rate: 150, timeLimit: 25 * time.Second, seed: 5,
	})
	s := check(t, out, "ryw", "session")
	if n := s.AnomalyCounts["read-your-writes"]; n != 0 {
		t.Errorf("QUORUM, one node killed: %d read-your-writes violations", n)
	}
	if s.Verdict == checkers.Unknown {
		t.Errorf("session checker undecided: %s", s.Reason)
	}
	during := faultWindowOutcomes(loadHistory(t, out), func(*history.Op) bool { return true })
	t.Logf("QUORUM, one killed: outcomes during the kill %v", during)
	if during[history.OK] == 0 {
		t.Errorf("QUORUM, one node killed: no operation succeeded during the kill: %v", during)
	}
}

// QUORUM with two of three nodes killed: QUORUM operations fail as
// unavailable during the kill (recorded fail: nothing was written).
func TestQuorumUnavailableWithTwoKilled(t *testing.T) {
	d := need(t)
	out := runScenario(t, d, scenario{
		name: "quorum-kill-two", opts: ClientOptions{ReadCL: "QUORUM", WriteCL: "QUORUM", ClientTimestamps: true},
		workloads: []string{"register"}, wopts: workloads.Options{Keys: 5},
		faults:   []nemesis.Fault{&nemesis.Kill{Targets: "2"}},
		interval: 25 * time.Second, concurrency: 6, rate: 100, timeLimit: 40 * time.Second, seed: 3,
	})
	h := loadHistory(t, out)
	during := faultWindowOutcomes(h, func(*history.Op) bool { return true })
	unavailable := 0
	for _, op := range h.Ops {
		if op.Type == history.Fail && strings.Contains(op.Error, "unavailable") {
			unavailable++
		}
	}
	t.Logf("QUORUM, two killed: outcomes during the kill %v, %d failures say unavailable", during, unavailable)
	logged := map[string]bool{}
	for _, op := range h.Ops {
		if op.IsClient() && op.Type != history.Invoke && op.Type != history.OK && len(logged) < 4 {
			k := fmt.Sprint(op.F, " ", op.Type)
			if !logged[k] {
				logged[k] = true
				t.Logf("  e.g. %s %s: %s", op.F, op.Type, op.Error)
			}
		}
	}
	if during[history.Fail] == 0 {
		t.Errorf("QUORUM with 2 of 3 down: no failure during the kill: %v", during)
	}
	if during[history.OK] != 0 {
		t.Errorf("QUORUM with 2 of 3 down: %d operations succeeded during the kill", during[history.OK])
	}
	if unavailable == 0 {
		t.Error("QUORUM with 2 of 3 down: no failure says unavailable")
	}
}

// CL ONE with two of three nodes killed: clients sticky to the surviving
// node still read (and write).
func TestONEReadsWithTwoKilled(t *testing.T) {
	d := need(t)
	out := runScenario(t, d, scenario{
		name: "one-kill-two", opts: ClientOptions{ReadCL: "ONE", WriteCL: "ONE", Sticky: true, ClientTimestamps: true},
		workloads: []string{"register"}, wopts: workloads.Options{Keys: 5},
		faults:   []nemesis.Fault{&nemesis.Kill{Targets: "2"}},
		interval: 15 * time.Second, concurrency: 6, rate: 100, timeLimit: 25 * time.Second, seed: 3,
	})
	reads := faultWindowOutcomes(loadHistory(t, out), func(op *history.Op) bool { return op.F == "read" })
	t.Logf("CL ONE, two killed: reads during the kill %v", reads)
	if reads[history.OK] == 0 {
		t.Errorf("CL ONE with 2 of 3 down: no read succeeded during the kill: %v", reads)
	}
}
