package sim

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

func deployRegions(t *testing.T, cfg Config) (*Deployment, *Cluster) {
	t.Helper()
	tg, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := tg.Deploy(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	dep := d.(*Deployment)
	return dep, dep.cluster
}

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// The topology: nodes in order, clients round-robin to their region's
// coordinators, and the standing delay between regions measured.
func TestRegionTopology(t *testing.T) {
	d, c := deployRegions(t, Config{Nodes: 6, Regions: 2, RegionRTT: 40 * time.Millisecond, NetworkLatency: -1})
	top := c.Topology()
	if len(top) != 2 || !slices.Equal(top[0].Nodes, []string{"n1", "n2", "n3"}) || !slices.Equal(top[1].Nodes, []string{"n4", "n5", "n6"}) {
		t.Fatalf("topology %+v", top)
	}
	if r := d.Regions(); r["n3"] != "r1" || r["n4"] != "r2" {
		t.Errorf("Regions() = %v", r)
	}
	for p := range 8 {
		cl := newClient(c, p)
		n, err := cl.coordinatorFor()
		if err != nil {
			t.Fatal(err)
		}
		if want := RegionName(p % 2); c.cfg.regionOf(n.index) != p%2 {
			t.Errorf("process %d coordinated by %s, want a node of %s", p, n.name, want)
		}
	}
	ctx := t.Context()
	across, err := c.MeasureRTT(ctx, "n1", "n4")
	if err != nil {
		t.Fatal(err)
	}
	within, err := c.MeasureRTT(ctx, "n1", "n2")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("n1->n4 %v, n1->n2 %v", across, within)
	if across.Min < 40*time.Millisecond || within.Min >= 40*time.Millisecond {
		t.Errorf("RTT across regions %v, within %v: want at least 40ms across and less within", across, within)
	}
}

// A standing jitter and loss between regions take effect like the RTT:
// probes across regions come back between RTT and RTT + jitter, and about
// half of them at all (30% lost each way: 49% of round trips survive);
// probes within a region are untouched. The facts record them.
func TestRegionJitterAndLoss(t *testing.T) {
	d, c := deployRegions(t, Config{Nodes: 4, Regions: 2, RegionRTT: 40 * time.Millisecond, RegionJitter: 20 * time.Millisecond, RegionLoss: 0.3, NetworkLatency: -1})
	ctx := t.Context()
	var sent, received int
	lo, hi := time.Hour, time.Duration(0)
	for range 3 {
		r, err := c.MeasureRTT(ctx, "n1", "n3")
		if err != nil {
			t.Fatal(err)
		}
		sent, received = sent+r.Sent, received+r.Received
		if r.Received > 0 {
			lo, hi = min(lo, r.Min), max(hi, r.Max)
		}
	}
	t.Logf("n1->n3: %d of %d answered, rtt %v to %v", received, sent, lo, hi)
	if share := float64(received) / float64(sent); share < 0.2 || share > 0.8 {
		t.Errorf("across regions %d of %d probes answered: want about half (30%% lost each way)", received, sent)
	}
	if lo < 40*time.Millisecond || hi > 65*time.Millisecond || hi-lo < 2*time.Millisecond {
		t.Errorf("across regions rtt %v to %v: want within 40ms and 60ms (+ scheduling), spread by the jitter", lo, hi)
	}
	within, err := c.MeasureRTT(ctx, "n1", "n2")
	if err != nil {
		t.Fatal(err)
	}
	if within.Received != within.Sent || within.Max >= 20*time.Millisecond {
		t.Errorf("within a region: %v, want every probe back, fast", within)
	}
	top := d.Facts().Topology
	if top == nil || top.RegionJitterNS != 20e6 || top.RegionLossPct != 30 {
		t.Errorf("facts topology %+v: want jitter 20ms and 30%% loss", top)
	}
}

// QUORUM across two regions costs at least one inter-region round trip
// at p50, for reads and writes; LOCAL_QUORUM and LOCAL_ONE do not;
// EACH_QUORUM writes do.
func TestRegionLatencyByConsistency(t *testing.T) {
	const rtt = 60 * time.Millisecond
	for _, tc := range []struct {
		read, write ConsistencyLevel
		slowRead    bool
		slowWrite   bool
	}{
		{Quorum, Quorum, true, true},
		{LocalQuorum, LocalQuorum, false, false},
		{LocalOne, LocalOne, false, false},
		{LocalQuorum, EachQuorum, false, true},
	} {
		t.Run(tc.read.String()+"-"+tc.write.String(), func(t *testing.T) {
			_, c := deployRegions(t, Config{Nodes: 6, Regions: 2, RegionRTT: rtt, ReadCL: tc.read, WriteCL: tc.write, Coordinator: Random, Seed: 1})
			var reads, writes []time.Duration
			ctx := t.Context()
			for p := range 20 {
				cl := newClient(c, p)
				start := time.Now()
				if err := cl.Write(ctx, "k", int64(p)); err != nil {
					t.Fatal(err)
				}
				writes = append(writes, time.Since(start))
				start = time.Now()
				if _, _, err := cl.Read(ctx, "k"); err != nil {
					t.Fatal(err)
				}
				reads = append(reads, time.Since(start))
			}
			r, w := median(reads), median(writes)
			t.Logf("p50 read %v, write %v (region RTT %v)", r, w, rtt)
			if (r >= rtt) != tc.slowRead || (w >= rtt) != tc.slowWrite {
				t.Errorf("p50 read %v (want >= RTT: %v), write %v (want >= RTT: %v)", r, tc.slowRead, w, tc.slowWrite)
			}
		})
	}
}

// With one region cut off, LOCAL_QUORUM keeps answering in the other,
// and QUORUM (a majority of the 6 replicas) fails there.
func TestRegionCutOff(t *testing.T) {
	for _, tc := range []struct {
		cl      ConsistencyLevel
		answers bool
	}{{LocalQuorum, true}, {Quorum, false}} {
		t.Run(tc.cl.String(), func(t *testing.T) {
			_, c := deployRegions(t, Config{Nodes: 6, Regions: 2, RegionRTT: 20 * time.Millisecond, ReadCL: tc.cl, WriteCL: tc.cl, RequestTimeout: 200 * time.Millisecond})
			ctx := t.Context()
			top := c.Topology()
			if err := c.Partition(ctx, cluster.Bidirectional(top[0].Nodes, top[1].Nodes)); err != nil {
				t.Fatal(err)
			}
			cl := newClient(c, 0) // region r1
			werr := cl.Write(ctx, "k", 1)
			_, _, rerr := cl.Read(ctx, "k")
			if tc.answers && (werr != nil || rerr != nil) {
				t.Errorf("%v with r2 cut off: write %v, read %v; want both answered", tc.cl, werr, rerr)
			}
			if !tc.answers && (!errors.Is(werr, ErrUnavailable) || !errors.Is(rerr, ErrUnavailable)) {
				t.Errorf("%v with r2 cut off: write %v, read %v; want both unavailable", tc.cl, werr, rerr)
			}
		})
	}
}

// lostAdds runs rounds of set adds to one key from a client in r1 and
// one in r2 (concurrently or one after the other), waits for replication
// to settle, and counts the acknowledged adds missing from the final
// read of every node.
func lostAdds(t *testing.T, skew time.Duration, concurrent bool) (acked, lost int) {
	t.Helper()
	_, c := deployRegions(t, Config{Nodes: 4, Regions: 2, RegionRTT: 40 * time.Millisecond, ReadCL: LocalQuorum, WriteCL: LocalQuorum,
		SetMode: SetLWW, ReplicationLag: 20 * time.Millisecond, Seed: 7})
	ctx := t.Context()
	if skew != 0 {
		for _, n := range c.Topology()[1].Nodes {
			if err := c.SetClockOffset(ctx, n, skew); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, b := newClient(c, 0), newClient(c, 1) // r1, r2
	var ok []int64
	var mu sync.Mutex
	add := func(cl *Client, e int64) {
		if err := cl.Add(ctx, "s", e); err == nil {
			mu.Lock()
			ok = append(ok, e)
			mu.Unlock()
		}
	}
	settle := func() {
		// Replication across regions takes lag + RTT/2: wait until every
		// node holds the same set, bounded.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			var first []int64
			same := true
			for i, n := range c.nodes {
				n.mu.Lock()
				rec := n.data["s"].clone()
				n.mu.Unlock()
				if i == 0 {
					first = rec.lset.elems
				} else if !slices.Equal(first, rec.lset.elems) {
					same = false
				}
			}
			if same {
				return
			}
			time.Sleep(5 * time.Millisecond) // poll, bounded by deadline
		}
		t.Fatal("replicas never converged")
	}
	for i := range 20 {
		e1, e2 := int64(2*i+1), int64(2*i+2)
		if concurrent {
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); add(a, e1) }()
			go func() { defer wg.Done(); add(b, e2) }()
			wg.Wait()
		} else {
			add(a, e1)
			settle()
			add(b, e2)
		}
		settle()
	}
	final, err := a.ReadSet(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ok {
		if !slices.Contains(final, e) {
			lost++
		}
	}
	return len(ok), lost
}

// Active-active last-write-wins (Global Tables style: LOCAL_QUORUM in each
// region, asynchronous replication between them) loses acknowledged
// writes when two regions write one key concurrently, with no clock
// fault; writes one after the other lose nothing; a region whose clock
// is behind loses even those, and more of the concurrent ones.
func TestActiveActiveLWWLosesAcknowledgedWrites(t *testing.T) {
	acked, seqLost := lostAdds(t, 0, false)
	t.Logf("sequential, no skew: %d of %d acknowledged adds lost", seqLost, acked)
	if seqLost != 0 {
		t.Errorf("sequential adds with synchronised clocks lost %d (want 0)", seqLost)
	}
	acked, concLost := lostAdds(t, 0, true)
	t.Logf("concurrent, no skew: %d of %d acknowledged adds lost", concLost, acked)
	if concLost == 0 {
		t.Error("concurrent adds in two regions lost nothing: want last-write-wins to drop some")
	}
	acked, seqSkew := lostAdds(t, -time.Second, false)
	t.Logf("sequential, r2 1s behind: %d of %d acknowledged adds lost", seqSkew, acked)
	if seqSkew <= seqLost {
		t.Errorf("clock skew lost %d sequential adds, no more than without (%d)", seqSkew, seqLost)
	}
	acked, concSkew := lostAdds(t, -time.Second, true)
	t.Logf("concurrent, r2 1s behind: %d of %d acknowledged adds lost", concSkew, acked)
	if concSkew < concLost {
		t.Errorf("concurrent adds lost %d with skew, fewer than without (%d)", concSkew, concLost)
	}
}
