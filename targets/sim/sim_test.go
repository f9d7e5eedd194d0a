package sim

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// never is a replication lag no test outlives: the write reaches only the
// replicas the coordinator waits for.
const never = time.Hour

// testCtx bounds every wait of a test.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// deploy starts a cluster of cfg and closes it when the test ends.
func deploy(t *testing.T, cfg Config) (*Deployment, *Cluster) {
	t.Helper()
	tgt, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	dep, err := tgt.Deploy(testCtx(t))
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	d := dep.(*Deployment)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d, d.Cluster().(*Cluster)
}

// client opens a client; with Sticky coordinators process p is served by
// node n(p mod N + 1).
func client(t *testing.T, d *Deployment, process int) *Client {
	t.Helper()
	c, err := d.NewClient(testCtx(t), process)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*Client)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		<-tick.C
	}
}

func mustWrite(t *testing.T, c *Client, key string, v int64) {
	t.Helper()
	if err := c.Write(testCtx(t), key, v); err != nil {
		t.Fatalf("write %d through %s: %v", v, c.LastNode(), err)
	}
}

// readIs reads key through c and checks the answer; want < 0 means "never
// written".
func readIs(t *testing.T, c *Client, key string, want int64) {
	t.Helper()
	v, found, err := c.Read(testCtx(t), key)
	if err != nil {
		t.Fatalf("read through %s: %v", c.LastNode(), err)
	}
	switch {
	case want < 0 && found:
		t.Fatalf("read through %s = %d, want never written", c.LastNode(), v)
	case want >= 0 && (!found || v != want):
		t.Fatalf("read through %s = %d (found %v), want %d", c.LastNode(), v, found, want)
	}
}

// peek returns a node's record for key, bypassing the network.
func peek(t *testing.T, c *Cluster, name, key string) *record {
	t.Helper()
	n := c.byName[name]
	life, _ := n.currentLife()
	rec, ok := n.snapshot(life, key)
	if !ok {
		t.Fatalf("%s is down", name)
	}
	return rec
}

func TestAllAllWriteThenRead(t *testing.T) {
	d, _ := deploy(t, Config{ReadCL: All, WriteCL: All})
	mustWrite(t, client(t, d, 0), "k", 42)
	for p := range 3 {
		readIs(t, client(t, d, p), "k", 42)
	}
}

// Asynchronous replication: a write acknowledged at ONE is on one node
// until the replication lag has passed.
func TestOneOneAsyncReplication(t *testing.T) {
	d, _ := deploy(t, Config{ReadCL: One, WriteCL: One, ReplicationLag: 20 * time.Millisecond})
	w, r := client(t, d, 0), client(t, d, 2)
	mustWrite(t, w, "k", 1)
	readIs(t, w, "k", 1)
	eventually(t, "n3 has the write", func() bool {
		v, found, err := r.Read(testCtx(t), "k")
		return err == nil && found && v == 1
	})
}

// W + R <= N under a partition: the reader's coordinator never gets the
// write, and ONE keeps answering, with stale data.
func TestOneOneStaleReadUnderPartition(t *testing.T) {
	d, c := deploy(t, Config{ReadCL: One, WriteCL: One, ReplicationLag: never})
	ctx := testCtx(t)
	w, r := client(t, d, 0), client(t, d, 2) // n1, n3
	mustWrite(t, w, "k", 1)
	if err := c.Partition(ctx, cluster.Bidirectional([]string{"n1"}, []string{"n2", "n3"})); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w, "k", 2) // acknowledged by n1 alone
	readIs(t, w, "k", 2)
	readIs(t, r, "k", -1) // stale: n3 has never seen a write
}

// W + R > N: every read quorum overlaps every write quorum.
func TestQuorumReadsLatestWrite(t *testing.T) {
	d, c := deploy(t, Config{ReplicationLag: never}) // QUORUM/QUORUM
	ctx := testCtx(t)
	c1, c2, c3 := client(t, d, 0), client(t, d, 1), client(t, d, 2)

	// n3 partitioned away: the write lands on n1 and n2 only.
	if err := c.Partition(ctx, cluster.Bidirectional([]string{"n1", "n2"}, []string{"n3"})); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, c1, "k", 7)
	readIs(t, c2, "k", 7)
	_, _, err := c3.Read(ctx, "k")
	if !errors.Is(err, ErrUnavailable) || !workloads.IsDefinite(err) {
		t.Fatalf("QUORUM read on the minority side: err = %v, want a Definite ErrUnavailable", err)
	}
	if err := c3.Write(ctx, "k", 8); !errors.Is(err, ErrUnavailable) || !workloads.IsDefinite(err) {
		t.Fatalf("QUORUM write on the minority side: err = %v, want a Definite ErrUnavailable", err)
	}

	// Now n2 is away: n3, which never got the write, reads it through n1.
	if err := c.Partition(ctx, cluster.Bidirectional([]string{"n1", "n3"}, []string{"n2"})); err != nil {
		t.Fatal(err)
	}
	if rec := peek(t, c, "n3", "k"); rec.reg.ok {
		t.Fatalf("n3 holds %d; the test needs it never to have had the write", rec.reg.value)
	}
	readIs(t, c3, "k", 7)
}

func TestQuorumUnavailableWhenMajorityKilled(t *testing.T) {
	for _, tc := range []struct {
		cl        ConsistencyLevel
		available bool
	}{{Quorum, false}, {One, true}} {
		t.Run(tc.cl.String(), func(t *testing.T) {
			d, c := deploy(t, Config{ReadCL: tc.cl, WriteCL: tc.cl})
			ctx := testCtx(t)
			for _, n := range []string{"n2", "n3"} {
				if err := c.Kill(ctx, n); err != nil {
					t.Fatal(err)
				}
			}
			cl := client(t, d, 0) // n1, alive
			werr := cl.Write(ctx, "k", 1)
			_, _, rerr := cl.Read(ctx, "k")
			for _, err := range []error{werr, rerr} {
				if tc.available && err != nil {
					t.Fatalf("ONE with one live node: %v", err)
				}
				if !tc.available && (!errors.Is(err, ErrUnavailable) || !workloads.IsDefinite(err)) {
					t.Fatalf("QUORUM with one live node: err = %v, want a Definite ErrUnavailable", err)
				}
			}
			if tc.available {
				readIs(t, cl, "k", 1)
			}
			// A client whose coordinator is dead cannot even connect.
			dead := client(t, d, 1)
			err := dead.Write(ctx, "k", 2)
			if !errors.Is(err, ErrConnectionRefused) || !workloads.IsDefinite(err) || dead.LastNode() != "n2" {
				t.Fatalf("write through dead n2: err = %v (node %s), want a Definite ErrConnectionRefused", err, dead.LastNode())
			}
		})
	}
}

// Last write wins by the coordinator's clock: a write through a node whose
// clock is behind is acknowledged, and lost.
func TestClockSkewLosesAcknowledgedWrite(t *testing.T) {
	d, c := deploy(t, Config{}) // QUORUM/QUORUM: W + R > N does not help
	ctx := testCtx(t)
	a, b := client(t, d, 0), client(t, d, 1) // n1, n2
	if err := c.SetClockOffset(ctx, "n1", -10*time.Second); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, b, "k", 1)
	mustWrite(t, a, "k", 2) // later, acknowledged...
	for p := range 3 {
		readIs(t, client(t, d, p), "k", 1) // ...and lost
	}

	// Sets and counters do not depend on clocks.
	if err := a.Add(ctx, "s", 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(ctx, "s", 2); err != nil {
		t.Fatal(err)
	}
	if got, err := b.ReadSet(ctx, "s"); err != nil || !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("ReadSet = %v, %v; want [1 2]", got, err)
	}
	for _, cl := range []*Client{a, b, a} {
		if err := cl.Increment(ctx, "c", 5); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := client(t, d, 2).ReadCounter(ctx, "c"); err != nil || got != 15 {
		t.Fatalf("ReadCounter = %d, %v; want 15", got, err)
	}
}

// A paused replica looks alive: the coordinator waits for it and times
// out, and the outcome is unknown. After resuming, the write lands.
func TestPausedReplicaTimesOut(t *testing.T) {
	d, c := deploy(t, Config{ReadCL: All, WriteCL: All, RequestTimeout: 50 * time.Millisecond})
	ctx := testCtx(t)
	if err := c.Pause(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	cl := client(t, d, 0)
	err := cl.Write(ctx, "k", 9)
	if !errors.Is(err, ErrTimeout) || workloads.IsDefinite(err) {
		t.Fatalf("write with n3 paused: err = %v, want a non-Definite ErrTimeout", err)
	}
	if err := c.Resume(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the timed-out write is visible on every replica", func() bool {
		v, found, err := cl.Read(ctx, "k")
		return err == nil && found && v == 9
	})
}

// A paused coordinator never answers: the client times out, and the
// request runs when the node resumes.
func TestPausedCoordinatorTimesOut(t *testing.T) {
	d, c := deploy(t, Config{RequestTimeout: 30 * time.Millisecond})
	ctx := testCtx(t)
	if err := c.Pause(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	err := client(t, d, 0).Write(ctx, "k", 3)
	if !errors.Is(err, ErrTimeout) || workloads.IsDefinite(err) {
		t.Fatalf("write through paused n1: err = %v, want a non-Definite ErrTimeout", err)
	}
	if err := c.Resume(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	other := client(t, d, 1)
	eventually(t, "the held write is applied", func() bool {
		v, found, err := other.Read(ctx, "k")
		return err == nil && found && v == 3
	})
}

// The client's own deadline bounds its wait; a request not sent yet fails
// definitely.
func TestClientContext(t *testing.T) {
	d, c := deploy(t, Config{RequestTimeout: time.Hour})
	if err := c.Pause(testCtx(t), "n1"); err != nil {
		t.Fatal(err)
	}
	cl := client(t, d, 0)
	ctx, cancel := context.WithTimeout(testCtx(t), 20*time.Millisecond)
	defer cancel()
	err := cl.Write(ctx, "k", 1)
	if !errors.Is(err, context.DeadlineExceeded) || workloads.IsDefinite(err) {
		t.Fatalf("err = %v, want a non-Definite deadline error", err)
	}
	err = cl.Write(ctx, "k", 1)
	if !errors.Is(err, context.DeadlineExceeded) || !workloads.IsDefinite(err) {
		t.Fatalf("err = %v, want a Definite deadline error", err)
	}
}

// Cutting the controller off from a node drops requests silently.
func TestControllerPartition(t *testing.T) {
	d, c := deploy(t, Config{RequestTimeout: 20 * time.Millisecond})
	ctx := testCtx(t)
	if err := c.Partition(ctx, cluster.Grudge{"n1": {cluster.Controller}}); err != nil {
		t.Fatal(err)
	}
	if err := client(t, d, 0).Write(ctx, "k", 1); !errors.Is(err, ErrTimeout) || workloads.IsDefinite(err) {
		t.Fatalf("err = %v, want a non-Definite ErrTimeout", err)
	}
	mustWrite(t, client(t, d, 1), "k", 2)
	if err := c.Partition(ctx, cluster.Grudge{"n9": {"n1"}}); err == nil {
		t.Fatal("partition naming n9 accepted")
	}
}

func TestKillLosesUnflushedWrites(t *testing.T) {
	for _, lose := range []bool{true, false} {
		name := map[bool]string{true: "lose", false: "keep"}[lose]
		t.Run(name, func(t *testing.T) {
			d, c := deploy(t, Config{
				ReadCL: One, WriteCL: All,
				LoseUnflushedOnKill: lose, FlushInterval: time.Hour,
			})
			ctx := testCtx(t)
			mustWrite(t, client(t, d, 0), "k", 5) // acknowledged by all three
			if err := c.Kill(ctx, "n2"); err != nil {
				t.Fatal(err)
			}
			if err := c.Restart(ctx, "n2"); err != nil {
				t.Fatal(err)
			}
			want := int64(5)
			if lose {
				want = -1
			}
			readIs(t, client(t, d, 1), "k", want) // n2
			readIs(t, client(t, d, 0), "k", 5)    // n1
		})
	}
}

func TestFlushInterval(t *testing.T) {
	cfg := Config{LoseUnflushedOnKill: true, FlushInterval: 100 * time.Millisecond}.withDefaults()
	start := time.Now()
	n := newNode("n1", 0, cfg, start)
	write := func(at time.Duration, v int64) {
		n.mu.Lock()
		defer n.mu.Unlock()
		d := &record{reg: cell{ts: int64(at), value: v, ok: true}}
		n.data["k"] = d.clone()
		n.unflushed = append(n.unflushed, unflushedWrite{at: start.Add(at), key: "k", delta: d})
	}
	write(50*time.Millisecond, 1)  // flushed at 100ms
	write(150*time.Millisecond, 2) // flushed at 200ms
	n.kill(start.Add(190 * time.Millisecond))
	life, _ := n.currentLife()
	if _, ok := n.snapshot(life, "k"); ok {
		t.Fatal("snapshot of a killed node succeeded")
	}
	n.restart(start)
	rec, _ := n.snapshot(life, "k")
	if !rec.reg.ok || rec.reg.value != 1 {
		t.Fatalf("after a kill at 190ms: %+v, want 1 (flushed at 100ms)", rec.reg)
	}
}

// Read-modify-write without isolation: two coordinators read the same
// value and one increment is lost.
func TestReadModifyWriteLosesUpdates(t *testing.T) {
	d, _ := deploy(t, Config{ReadCL: One, WriteCL: One, ReplicationLag: never})
	ctx := testCtx(t)
	inc := func(old int64, _ bool) int64 { return old + 1 }
	for _, p := range []int{0, 1} {
		read, found, written, err := client(t, d, p).ReadModifyWrite(ctx, "k", inc)
		if err != nil || found || read != 0 || written != 1 {
			t.Fatalf("rmw = %d %v %d %v, want 0 false 1 nil", read, found, written, err)
		}
	}
	// Both incremented 0 to 1: two acknowledged increments, one effect.
	readIs(t, client(t, d, 0), "k", 1)
}

func TestCAS(t *testing.T) {
	d, _ := deploy(t, Config{ReadCL: All, WriteCL: All})
	ctx := testCtx(t)
	cl := client(t, d, 0)
	cas := func(old, new int64, want bool) {
		t.Helper()
		if ok, err := cl.CAS(ctx, "k", old, new); err != nil || ok != want {
			t.Fatalf("CAS(%d, %d) = %v, %v; want %v", old, new, ok, err, want)
		}
	}
	cas(0, 1, false) // never written: no value to compare
	mustWrite(t, cl, "k", 1)
	cas(1, 2, true)
	cas(1, 3, false)
	readIs(t, client(t, d, 2), "k", 2)
}

// The same CAS, through a coordinator whose clock is behind, reports a
// swap that never happened.
func TestCASUnderClockSkew(t *testing.T) {
	d, c := deploy(t, Config{ReadCL: All, WriteCL: All})
	ctx := testCtx(t)
	mustWrite(t, client(t, d, 1), "k", 1)
	if err := c.SetClockOffset(ctx, "n1", -time.Minute); err != nil {
		t.Fatal(err)
	}
	if ok, err := client(t, d, 0).CAS(ctx, "k", 1, 2); err != nil || !ok {
		t.Fatalf("CAS = %v, %v; want true", ok, err)
	}
	readIs(t, client(t, d, 2), "k", 1)
}

func TestCASReadStepFailureIsDefinite(t *testing.T) {
	d, c := deploy(t, Config{ReadCL: All, WriteCL: One})
	ctx := testCtx(t)
	if err := c.Kill(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	_, err := client(t, d, 0).CAS(ctx, "k", 0, 1)
	if !errors.Is(err, ErrUnavailable) || !workloads.IsDefinite(err) {
		t.Fatalf("err = %v, want a Definite ErrUnavailable", err)
	}
}

func TestHintedHandoff(t *testing.T) {
	d, c := deploy(t, Config{ReadCL: One, WriteCL: One, HintedHandoff: true, ReplicationLag: time.Millisecond})
	ctx := testCtx(t)
	if err := c.Kill(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, client(t, d, 0), "k", 4)
	n1 := c.byName["n1"]
	eventually(t, "n1 keeps a hint for n3", func() bool {
		n1.mu.Lock()
		defer n1.mu.Unlock()
		return len(n1.hints) == 1 && n1.hints[0].target == "n3"
	})
	if err := c.Restart(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	r := client(t, d, 2)
	eventually(t, "the hint reaches n3", func() bool {
		v, found, err := r.Read(ctx, "k")
		return err == nil && found && v == 4
	})
}

func TestReadRepair(t *testing.T) {
	for _, repair := range []bool{true, false} {
		t.Run(map[bool]string{true: "on", false: "off"}[repair], func(t *testing.T) {
			d, c := deploy(t, Config{ReadCL: All, WriteCL: One, ReadRepair: repair, ReplicationLag: never})
			mustWrite(t, client(t, d, 0), "k", 6) // on n1 only
			readIs(t, client(t, d, 1), "k", 6)
			if !repair {
				if peek(t, c, "n3", "k").reg.ok {
					t.Fatal("n3 has the write without read repair")
				}
				return
			}
			eventually(t, "read repair reaches n2 and n3", func() bool {
				return peek(t, c, "n2", "k").reg.value == 6 && peek(t, c, "n3", "k").reg.value == 6
			})
		})
	}
}

func TestRandomCoordinator(t *testing.T) {
	d, c := deploy(t, Config{Coordinator: Random, Seed: 7})
	ctx := testCtx(t)
	if err := c.Kill(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	cl := client(t, d, 0)
	used := map[string]int{}
	for i := range 30 {
		err := cl.Write(ctx, "k", int64(i))
		node := cl.LastNode()
		used[node]++
		if refused := node == "n2"; refused != errors.Is(err, ErrConnectionRefused) ||
			refused != workloads.IsDefinite(err) || (!refused && err != nil) {
			t.Fatalf("write through %s: %v", node, err)
		}
	}
	if len(used) != 3 {
		t.Fatalf("coordinators used: %v, want all three", used)
	}
}

func TestFaultArguments(t *testing.T) {
	d, c := deploy(t, Config{})
	ctx := testCtx(t)
	if err := c.Kill(ctx, "n4"); err == nil {
		t.Error("Kill(n4) accepted")
	}
	if err := c.Kill(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Pause(ctx, "n1"); err == nil {
		t.Error("Pause of a killed node accepted")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.HealNetwork(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("HealNetwork(cancelled) = %v", err)
	}
	if got := c.Nodes(); !slices.Equal(got, []string{"n1", "n2", "n3"}) {
		t.Errorf("Nodes() = %v", got)
	}
	cl := client(t, d, 1)
	_ = cl.Close()
	if err := cl.Write(ctx, "k", 1); !errors.Is(err, ErrClosed) || !workloads.IsDefinite(err) {
		t.Errorf("write after Close: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	settings := func(cfg Config) map[string]string {
		d, _ := deploy(t, cfg)
		m := map[string]string{}
		for _, s := range d.Describe() {
			m[s.Name] = s.Value
		}
		return m
	}
	q := settings(Config{})
	if !strings.HasPrefix(q["W + R > N"], "true") || q["read consistency"] != "QUORUM (R=2)" || q["nodes"] != "3 (n1 n2 n3)" {
		t.Errorf("QUORUM settings: %v", q)
	}
	one := settings(Config{ReadCL: One, W: 2, Nodes: 5})
	if !strings.HasPrefix(one["W + R > N"], "false") || one["write consistency"] != "W=2" {
		t.Errorf("ONE settings: %v", one)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		tgt, err := New(Config{HintedHandoff: true, ReadRepair: true, ReplicationLag: never, RequestTimeout: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		dep, err := tgt.Deploy(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		c := dep.Cluster().(*Cluster)
		ctx := testCtx(t)
		for p := range 6 {
			cl, _ := dep.NewClient(ctx, p)
			_ = cl.(*Client).Write(ctx, "k", int64(p))
			_, _ = cl.(*Client).ReadSet(ctx, "s")
		}
		// Leave work behind: lagged replication timers, and a paused node
		// holding messages.
		_ = c.Pause(ctx, "n2")
		cl, _ := dep.NewClient(ctx, 0)
		_ = cl.(*Client).Write(ctx, "k", 1)
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := dep.Close(closeCtx); err != nil {
			t.Fatal(err)
		}
		if err := cl.(*Client).Write(ctx, "k", 2); !errors.Is(err, ErrClosed) || !workloads.IsDefinite(err) {
			t.Fatalf("write after Close: err = %v, want a Definite ErrClosed", err)
		}
	}()
	eventually(t, "the deployment's goroutines are gone", func() bool {
		return runtime.NumGoroutine() <= before
	})
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string // substring of the error; "" for valid
	}{
		{Config{}, ""},
		{Config{Nodes: 1, ReadCL: One, WriteCL: All}, ""},
		{Config{Nodes: 1, ReadCL: Two}, "R=2"},
		{Config{W: 4}, "W=4"},
		{Config{R: 2, ReadCL: Quorum}, ""},
		{Config{R: 1, ReadCL: Quorum}, "contradicts"},
		{Config{Nodes: -1}, "Nodes"},
		{Config{W: -1}, "negative"},
		{Config{ReadCL: 9}, "unknown read consistency"},
		{Config{RequestTimeout: -time.Second}, "RequestTimeout"},
		{Config{Coordinator: 5}, "coordinator mode"},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
		if _, nerr := New(tc.cfg); (nerr == nil) != (err == nil) {
			t.Errorf("New(%+v) = %v, Validate = %v", tc.cfg, nerr, err)
		}
	}
	for s, want := range map[string]ConsistencyLevel{"one": One, "TWO": Two, " Quorum ": Quorum, "all": All,
		"local_quorum": LocalQuorum, "LOCAL_ONE": LocalOne, "EACH_QUORUM": EachQuorum} {
		if got, err := ParseConsistency(s); err != nil || got != want {
			t.Errorf("ParseConsistency(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseConsistency("LOCAL_SERIAL"); err == nil {
		t.Error("ParseConsistency(LOCAL_SERIAL) accepted")
	}
	if m, err := ParseCoordinatorMode("Random"); err != nil || m != Random {
		t.Errorf("ParseCoordinatorMode(Random) = %v, %v", m, err)
	}
	def := DefaultConfig()
	if def.Nodes != 3 || def.ReadReplicas() != 2 || def.WriteReplicas() != 2 || def.ReplicationLag != DefaultReplicationLag {
		t.Errorf("DefaultConfig() = %+v", def)
	}
	if lag := (Config{ReplicationLag: -1}).withDefaults().ReplicationLag; lag != 0 {
		t.Errorf("negative ReplicationLag became %v, want 0", lag)
	}
}

func TestRecordMerge(t *testing.T) {
	a := &record{reg: cell{ts: 10, value: 1, ok: true}, set: map[int64]struct{}{1: {}}, shards: map[string]shard{"n1": {2, 5}}}
	b := &record{reg: cell{ts: 10, value: 2, ok: true}, set: map[int64]struct{}{2: {}}, shards: map[string]shard{"n1": {1, 3}, "n2": {1, 4}}}
	ab, ba := a.clone(), b.clone()
	ab.merge(b)
	ba.merge(a)
	if !ab.covers(ba) || !ba.covers(ab) {
		t.Fatalf("merge is not commutative: %+v vs %+v", ab, ba)
	}
	if ab.reg.value != 2 || !slices.Equal(ab.elements(), []int64{1, 2}) || ab.counter() != 9 {
		t.Fatalf("merged %+v: want value 2 (tie broken by value), set [1 2], counter 9", ab)
	}
	if ab.merge(b) {
		t.Fatal("merge is not idempotent")
	}
	if a.covers(b) || a.reg.value != 1 {
		t.Fatal("merge mutated its source")
	}
}
