//go:build linux

package cassandra

// Integration tests against a real 3-node Cassandra 5.0 cluster. One
// cluster is deployed for the whole package (by the first test needing it;
// TestMain closes it) and every scenario
// is a full runner.Run against a shared view of it (Deployment.Shared),
// with the tables truncated between scenarios.
//
// They need root, java, mvn and Maven Central (or a warm cache), nft,
// libfaketime and a C compiler (for the clock preload). When something is
// missing they are skipped, or fail when the environment variable CI is
// set (internal/testenv's rule).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/internal/testenv"
	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/workloads"
)

var (
	deployOnce  sync.Once
	shared      *Deployment
	sharedErr   error // deploy failure: every test fails with it
	deployTaken time.Duration
	// stateDir is the shared cluster's state directory when the tests
	// created it (TestMain removes it after a passing run).
	stateDir string
	// clockPreloadErr is why the clock preload (clockshim) could not be
	// built: the cluster then runs without clock skew and the clock tests
	// fail with it.
	clockPreloadErr error
)

// env is what the integration tests need from the machine.
var env = &testenv.Env{
	Needs: "root, java, nft, ip, mvn or cached jars, libfaketime, a C compiler",
	Probe: func(ctx context.Context) error { return prerequisites(ctx) },
}

// TestMain closes the shared cluster, then removes its state directory
// when every test passed (unless CASSANDRA_TEST_STATE_DIR named it) and
// keeps it, saying where, when one failed: the node logs are in it.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		cctx, ccancel := context.WithTimeout(context.Background(), local.CleanupTimeout)
		if err := shared.Close(cctx); err != nil {
			fmt.Fprintln(os.Stderr, "close:", err)
			code = 1
		}
		ccancel()
	}
	if stateDir != "" {
		if code == 0 {
			if err := os.RemoveAll(stateDir); err != nil {
				fmt.Fprintln(os.Stderr, "remove state dir:", err)
				code = 1
			}
		} else {
			fmt.Fprintln(os.Stderr, "state dir (logs) kept:", stateDir)
		}
	}
	os.Exit(code)
}

// prerequisites returns what is missing, or nil.
func prerequisites(ctx context.Context) error {
	var miss []string
	if os.Geteuid() != 0 {
		miss = append(miss, "root")
	}
	for _, c := range [][2]string{{"java", "openjdk-17-jre-headless"}, {"nft", "nftables"}, {"ip", "iproute2"}, {"cc", "gcc"}} {
		if _, err := exec.LookPath(c[0]); err != nil {
			miss = append(miss, c[0]+" (Debian package "+c[1]+")")
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
	if err := local.ProbeRequired(ctx); err != nil {
		miss = append(miss, err.Error())
	}
	if err := local.Probe(ctx); errors.Is(err, local.ErrNoFaketime) {
		miss = append(miss, "libfaketime (Debian package faketime)")
	}
	if len(miss) > 0 {
		return errors.New(strings.Join(miss, ", "))
	}
	return nil
}

// need returns the shared deployment or ends the test. The clock preload
// is built first: if that fails (a C compiler is a prerequisite, so this
// is a real failure), the cluster is deployed without clock skew rather
// than under libfaketime (several times slower to start), and the clock
// tests fail with the preload's error (see needClock).
func need(t *testing.T) *Deployment {
	t.Helper()
	if testing.Short() {
		t.Skip("cassandra integration: -short: no real cluster")
	}
	env.Require(t)
	deployOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), DefaultStartTimeout+MavenTimeout)
		defer cancel()
		cfg := Config{Nodes: 3, StateDir: os.Getenv("CASSANDRA_TEST_STATE_DIR"), Runtime: local.Runtime{}}
		if cfg.StateDir == "" {
			dir, err := os.MkdirTemp("", "chaoscheck-cassandratest-")
			if err != nil {
				sharedErr = err
				return
			}
			cfg.StateDir, stateDir = dir, dir
		}
		root, err := cfg.cacheRoot()
		if err != nil {
			sharedErr = err
			return
		}
		if _, clockPreloadErr = BuildClockShim(ctx, cfg.Runtime, root); clockPreloadErr != nil {
			cfg.NoClockSkew = true
		}
		tg, err := New(cfg)
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

// releaseShared closes the shared deployment, for a test that deploys a
// local cluster of its own: the local runtime's Up removes every other
// local cluster of this process (HealAll), the shared one included, which
// would then fail to close at the end. A later need deploys it again.
func releaseShared(t *testing.T) {
	t.Helper()
	if shared == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), local.CleanupTimeout)
	defer cancel()
	if err := shared.Close(ctx); err != nil {
		t.Fatalf("close the shared deployment: %v", err)
	}
	shared, sharedErr, deployOnce = nil, nil, sync.Once{}
	if stateDir != "" {
		if err := os.RemoveAll(stateDir); err != nil {
			t.Fatalf("remove the shared state dir: %v", err)
		}
		stateDir = ""
	}
}

// needClock returns the shared deployment, failing the test unless every
// node's JVM runs with the clock preload: a preload that does not build
// or does not load is the failure the clock tests exist to catch.
func needClock(t *testing.T) *Deployment {
	t.Helper()
	d := need(t)
	if clockPreloadErr != nil {
		t.Fatalf("clock preload (targets/cassandra/clockshim) failed: %v", clockPreloadErr)
	}
	if d.clock != clockShim {
		t.Fatalf("nodes run without the clock preload (mode %d): %v", d.clock, d.shimErr)
	}
	if err := d.CassandraCluster().clockErr; err != nil {
		t.Fatalf("clock preload not loaded in the JVMs: %v", err)
	}
	return d
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
	// The JVMs' temporary files (lz4-java's native library) are in the
	// nodes' data directories, which go with the state directory; in the
	// system temp directory every run left two files behind.
	if stateDir != "" {
		for _, n := range d.Cluster().Nodes() {
			libs, _ := filepath.Glob(filepath.Join(filesOf(stateDir, n).dir, "liblz4-java-*"))
			if len(libs) == 0 {
				t.Errorf("%s: no lz4-java library in its data directory: the JVM's java.io.tmpdir is elsewhere", n)
			}
		}
	}
}

// TestClockSkewReachesJVM checks that the clock preload moves the JVM's
// clock: now() on a node skewed by +3s is 3 s ahead of the controller.
// The offset is small on purpose: Cassandra's server timestamps and
// now() never go back, so the node keeps stamping at its high-water mark
// for as long as the skew was (an hour of poisoned timestamps for +1h).
func TestClockSkewReachesJVM(t *testing.T) {
	assertClockSkewReachesJVM(t, needClock(t))
}

// assertClockSkewReachesJVM fails t unless a +3s offset on d's first
// node shows in its now() within 10 s (and resets it).
func assertClockSkewReachesJVM(t *testing.T, d *Deployment) {
	t.Helper()
	ctx := context.Background()
	node := d.Hosts().Nodes()[0]
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
	// 30 s: after a kill, opening a client can take a while on docker (a
	// killed container's address does not answer until the node is back).
	deadline := time.Now().Add(30 * time.Second)
	var last time.Duration
	var lastErr error
	for time.Now().Before(deadline) {
		off, err := serverNow()
		if err == nil && off > 2500*time.Millisecond && off < 3500*time.Millisecond {
			t.Logf("%s skewed +3s: its now() is %v ahead of the controller", node, off.Round(time.Millisecond))
			return
		}
		last, lastErr = off, err
		if !sleepCtx(ctx, 200*time.Millisecond) {
			break
		}
	}
	t.Fatalf("%s: clock offset +3s never showed in now() (last difference %v, last error %v)", node, last, lastErr)
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
	if s.Verdict != checkers.Invalid || s.AnomalyCounts["read-your-writes"] == 0 {
		t.Errorf("CL ONE + partitions: session verdict %s %v, want invalid with read-your-writes violations", s.Verdict, s.AnomalyCounts)
	}
}

// LWT only: CAS, reads at SERIAL and writes through Paxos too
// (ClientOptions.LWTWrites), under partitions. Paxos makes every
// operation on a key linearizable whatever the partition (an op that
// cannot reach a quorum fails or times out; it never returns a wrong
// answer), so the checker must say valid, having checked reads, writes
// and successful CASes. An invalid verdict is a finding about Cassandra
// (or about the client's error mapping: an op recorded fail that did
// apply), to be reported, not accepted.
func TestLWTOnlyRegisterUnderPartitionsIsLinearizable(t *testing.T) {
	d := need(t)
	out := runScenario(t, d, scenario{
		name: "lwt-only-partition", opts: ClientOptions{ReadCL: "SERIAL", WriteCL: "QUORUM", SerialCL: "SERIAL", LWTWrites: true},
		workloads: []string{"register"}, wopts: workloads.Options{Keys: 3, CAS: true},
		faults: []nemesis.Fault{&nemesis.Partition{}}, interval: 4 * time.Second,
		concurrency: 6, rate: 100, timeLimit: 20 * time.Second, seed: 2,
	})
	assertLinearizableRegister(t, out, "LWT-only (Paxos writes, CAS, SERIAL reads)")
}

// LWT with plain writes: CAS at SERIAL and reads at SERIAL, but writes
// are plain QUORUM writes (client timestamps), under partitions.
// Cassandra's serial guarantee covers operations that all go through
// Paxos. A plain write does not: it is neither ordered against a CAS's
// read of the current value nor against its commit, and the two are
// stamped by different clocks (the client's for the plain write, the
// Paxos ballot's for the commit), so last-write-wins can let a CAS's value
// win over a plain write acknowledged after the CAS read the old value.
// Seen (witnesses logged by this test): cas 162->165 invoked at 9.729 s and
// ok at 9.959 s, plain writes of 166 and 167 both ok in between, then a
// read invoked after 166 was acknowledged returned 165; and cas 42->52
// ok at 2.714 s, then the same process wrote 61 (ok at 2.784 s) and read
// 52. Which timestamps decided this is our inference; the histories only
// show that acknowledged plain writes were lost to a CAS.
//
// That needs a plain write of the same key to meet a CAS in flight: a
// race, not a certainty. With 3 keys at 100 ops/s it was invalid in 5 of
// 7 runs of 20 s (README: 4 of 5), then in none of 4 in one CI run on a
// quiet machine; every operation now goes to one key at 150 ops/s, so
// writes and CASes of that key overlap about 4.5 times as often (the
// first run tried was invalid). So the test asserts a rate, not a single
// verdict: at least one of up to mixedLWTRuns runs must be invalid (all
// four valid, at the measured rate, has odds of under 1 %); every run
// must be decided, apply partitions, and have ok reads, writes and
// swapping CASes. The invalid run's witnesses are logged with the
// operations that wrote the values the reads returned.
func TestLWTWithPlainWritesIsNotLinearizableInOneOfFourRuns(t *testing.T) {
	const mixedLWTRuns = 4
	d := need(t)
	for i := range mixedLWTRuns {
		out := runScenario(t, d, scenario{
			name: fmt.Sprintf("lwt-plain-writes-%d", i), opts: ClientOptions{ReadCL: "SERIAL", WriteCL: "QUORUM", SerialCL: "SERIAL", ClientTimestamps: true},
			workloads: []string{"register"}, wopts: workloads.Options{Keys: 1, CAS: true},
			faults: []nemesis.Fault{&nemesis.Partition{}}, interval: 4 * time.Second,
			concurrency: 6, rate: 150, timeLimit: 20 * time.Second, seed: 12 + 10*int64(i),
		})
		what := fmt.Sprintf("LWT with plain QUORUM writes, run %d of at most %d", i+1, mixedLWTRuns)
		requireExercised(t, out, what)
		c := check(t, out, "register", "linearizable")
		switch c.Verdict {
		case checkers.Unknown:
			t.Fatalf("%s: linearizability undecided: %s", what, c.Reason)
		case checkers.Invalid:
			t.Logf("%s: non-linearizable %v", what, c.AnomalyCounts)
			logWriters(t, loadHistory(t, out), c.Anomalies[:min(2, len(c.Anomalies))])
			return
		}
		t.Logf("%s: valid", what)
	}
	t.Fatalf("LWT with plain QUORUM writes under partitions: linearizable in all %d runs (measured before: non-linearizable in 5 of 7)", mixedLWTRuns)
}

// logWriters logs each anomaly's witnesses and, for every ok read among
// them, the operations that wrote the value it returned.
func logWriters(t *testing.T, h *history.History, as []checkers.Anomaly) {
	t.Helper()
	pairs, _ := h.Pairs()
	for _, a := range as {
		t.Logf("  %s %s: %s", a.Kind, a.Key, a.Message)
		for _, o := range a.Ops {
			if o < 0 || o >= len(h.Ops) {
				continue
			}
			op := h.Ops[o]
			t.Logf("    witness %s on %s at %v", op, op.Node, time.Duration(op.Time).Round(time.Millisecond))
			v, isInt := op.Value.AsInt()
			if op.F != "read" || op.Type != history.OK || !isInt {
				continue
			}
			for _, p := range pairs {
				inv := &h.Ops[p.Invoke]
				if inv.Key != op.Key {
					continue
				}
				wrote := false
				if w, ok := inv.Value.AsInt(); ok && inv.F == "write" && w == v {
					wrote = true
				}
				if ws, ok := inv.Value.AsInts(); ok && inv.F == "cas" && len(ws) == 2 && ws[1] == v {
					wrote = true
				}
				if !wrote {
					continue
				}
				end := "never completed"
				if c := h.Completion(p); c != nil {
					end = fmt.Sprintf("%s on %s at %v %s", c.Type, c.Node, time.Duration(c.Time).Round(time.Millisecond), c.Error)
				}
				t.Logf("      value %d written by %s invoked at %v, %s", v, inv, time.Duration(inv.Time).Round(time.Millisecond), end)
			}
		}
	}
}

// assertLinearizableRegister fails the test unless the register check is
// valid and the run exercised what the verdict is about.
func assertLinearizableRegister(t *testing.T, out *runner.Outcome, what string) {
	t.Helper()
	requireExercised(t, out, what)
	c := check(t, out, "register", "linearizable")
	if c.Verdict != checkers.Valid {
		t.Errorf("Cassandra %s under partitions: register verdict %s %v %s, want valid", what, c.Verdict, c.AnomalyCounts, c.Reason)
		logWriters(t, loadHistory(t, out), c.Anomalies[:min(3, len(c.Anomalies))])
	}
}

// requireExercised fails the test unless a partition was applied and
// reads, writes and swapping CASes each succeeded: a verdict on a run
// without them would not be about the lesson.
func requireExercised(t *testing.T, out *runner.Outcome, what string) {
	t.Helper()
	h := loadHistory(t, out)
	ok := map[string]int{}
	partitions := 0
	for _, op := range h.Ops {
		switch {
		case !op.IsClient():
			if op.F == "start-partition" && op.Type != history.Invoke && op.Error == "" {
				partitions++
			}
		case op.Type == history.OK && op.F == "cas":
			if l, _ := op.Value.AsList(); len(l) == 2 {
				ok["cas swapped"]++
			}
		case op.Type == history.OK:
			ok[op.F]++
		}
	}
	t.Logf("%s: %d partitions, ok %v, outcomes during faults %v", what, partitions, ok,
		faultWindowOutcomes(h, func(*history.Op) bool { return true }))
	if partitions == 0 {
		t.Errorf("%s: no partition applied", what)
	}
	for _, f := range []string{"read", "write", "cas swapped"} {
		if ok[f] == 0 {
			t.Errorf("%s: no ok %s: nothing to check it by (ok %v)", what, f, ok)
		}
	}
}

// Server-side timestamps and one node's clock skewed: last-write-wins
// drops writes coordinated by a node whose clock is behind (or makes
// later writes lose to one stamped in the future).
func TestClockSkewLosesWritesUnderLWW(t *testing.T) {
	d := needClock(t)
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

// QUORUM with one node of three killed: reads still see writes (every
// read quorum overlaps the last write's quorum, and blocking read repair
// keeps quorum reads from going back), so the session checker and the
// per-key linearizability check of ryw must say valid; and operations
// keep succeeding during the kill.
func TestQuorumSurvivesOneKilled(t *testing.T) {
	d := need(t)
	out := runScenario(t, d, scenario{
		name: "quorum-kill-one", opts: ClientOptions{ReadCL: "QUORUM", WriteCL: "QUORUM", ClientTimestamps: true},
		workloads: []string{"ryw"}, faults: []nemesis.Fault{&nemesis.Kill{Targets: nemesis.One}},
		interval: 10 * time.Second, concurrency: 6, rate: 150, timeLimit: 25 * time.Second, seed: 5,
	})
	for _, name := range []string{"session", "linearizable"} {
		if c := check(t, out, "ryw", name); c.Verdict != checkers.Valid {
			t.Errorf("QUORUM, one node killed: ryw/%s verdict %s %v %s, want valid", name, c.Verdict, c.AnomalyCounts, c.Reason)
		}
	}
	during := faultWindowOutcomes(loadHistory(t, out), func(*history.Op) bool { return true })
	t.Logf("QUORUM, one killed: outcomes during the kill %v", during)
	if during[history.OK] == 0 {
		t.Errorf("QUORUM, one node killed: no operation succeeded during the kill: %v", during)
	}
}

// QUORUM with two of three nodes killed: QUORUM operations fail as
// unavailable during the kill (recorded fail: nothing was written). The
// survivor says unavailable only once its failure detector has convicted
// both peers (about 12 s on a quiet machine, see FINDINGS.md; until then
// requests time out), so the kill lasts 30 s: with the 15 s kill this
// test had (interval 25 s, time limit 40 s), no failure said unavailable
// in one run on a loaded machine.
func TestQuorumUnavailableWithTwoKilled(t *testing.T) {
	d := need(t)
	out := runScenario(t, d, scenario{
		name: "quorum-kill-two", opts: ClientOptions{ReadCL: "QUORUM", WriteCL: "QUORUM", ClientTimestamps: true},
		workloads: []string{"register"}, wopts: workloads.Options{Keys: 5},
		faults:   []nemesis.Fault{&nemesis.Kill{Targets: "2"}},
		interval: 30 * time.Second, concurrency: 6, rate: 100, timeLimit: 60 * time.Second, seed: 3,
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
