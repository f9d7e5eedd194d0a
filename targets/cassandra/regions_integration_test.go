//go:build linux

package cassandra

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/local"
)

// regionRTT is the standing round trip between the two datacenters of
// TestCassandraRegions.
const regionRTT = 80 * time.Millisecond

func p50(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// Real Cassandra across two datacenters of 2 nodes each (heap 512m a
// node, no clock preload), 80 ms apart: QUORUM reads and writes cost at
// least one inter-region round trip at p50 and LOCAL_QUORUM ones do not;
// with r2 cut off from r1, LOCAL_QUORUM keeps answering in r1 and QUORUM
// fails there. It deploys its own cluster (not the shared 3-node one).
func TestCassandraRegions(t *testing.T) {
	if testing.Short() {
		t.Skip("cassandra integration: -short: no real cluster")
	}
	releaseShared(t)
	env.Require(t)
	if err := local.ProbeShaper(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "chaoscheck-cassandra-regions-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	tg, err := New(Config{Nodes: 4, Regions: 2, RegionRTT: regionRTT, Heap: "512m", NoClockSkew: true,
		StateDir: dir, Runtime: local.Runtime{}})
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, DefaultStartTimeout+MavenTimeout)
	defer cancel()
	start := time.Now()
	d, err := tg.DeployCassandra(dctx)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	defer func() {
		if err := d.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	t.Logf("deployed 2+2 nodes in %v (%+v)", time.Since(start).Round(time.Millisecond), d.Timings())
	regs := d.cfg.regionNodes(d.lc.Nodes())
	if fmt.Sprint(regs) != "[[n1 n2] [n3 n4]]" {
		t.Fatalf("datacenters %v", regs)
	}
	if r := d.Regions(); r["n2"] != "r1" || r["n3"] != "r2" {
		t.Errorf("Regions() = %v", r)
	}
	rtt, err := d.cl.MeasureRTT(ctx, "n1", "n3")
	if err != nil {
		t.Fatal(err)
	}
	within, err := d.cl.MeasureRTT(ctx, "n1", "n2")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rtt n1->n3 (across) %v; n1->n2 (within) %v", rtt, within)
	if rtt.Min < regionRTT {
		t.Fatalf("RTT across datacenters %v, want at least %v", rtt, regionRTT)
	}
	// The nodes see two datacenters.
	s, err := d.adminSession(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	var dcs []string
	it := s.Query("SELECT data_center FROM system.peers_v2").WithContext(ctx).Iter()
	var dc string
	for it.Scan(&dc) {
		dcs = append(dcs, dc)
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	var localDC string
	if err := s.Query("SELECT data_center FROM system.local").WithContext(ctx).Scan(&localDC); err != nil {
		t.Fatal(err)
	}
	s.Close()
	sort.Strings(dcs)
	t.Logf("n1 is in %s, its peers in %v", localDC, dcs)
	if localDC != "r1" || fmt.Sprint(dcs) != "[r1 r2 r2]" {
		t.Errorf("n1 in %q, peers in %v: want r1 and [r1 r2 r2]", localDC, dcs)
	}

	latency := func(t *testing.T, cl string, process int) (reads, writes time.Duration) {
		c, err := d.NewClientWith(ctx, process, ClientOptions{ReadCL: cl, WriteCL: cl, KeyPrefix: fmt.Sprintf("%s-%d-", cl, process)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var rs, ws []time.Duration
		// A request that times out (seen in CI: a QUORUM write with 0
		// of 3 acks on a loaded machine) is left out of the latency;
		// two thirds of the 30 must succeed.
		var failed []string
		fail := func(what string, err error) {
			failed = append(failed, fmt.Sprintf("%s through %s: %v", what, c.LastNode(), err))
			if len(failed) > 10 {
				t.Fatalf("%s: %d of 30 requests failed: %v", cl, len(failed), failed)
			}
		}
		for i := range 30 {
			key := fmt.Sprintf("k%d", i%3)
			octx, cancel := context.WithTimeout(ctx, 5*time.Second)
			t0 := time.Now()
			err := c.Write(octx, key, int64(i))
			if err != nil {
				cancel()
				fail(cl+" write", err)
				continue
			}
			ws = append(ws, time.Since(t0))
			t0 = time.Now()
			_, _, err = c.Read(octx, key)
			cancel()
			if err != nil {
				fail(cl+" read", err)
				continue
			}
			rs = append(rs, time.Since(t0))
			if node := c.LastNode(); d.Regions()[node] != dcName(d.cfg.homeRegion(process)) {
				t.Fatalf("process %d (region %s) was served by %s", process, dcName(d.cfg.homeRegion(process)), node)
			}
		}
		if len(failed) > 0 {
			t.Logf("%s, process %d: %d of 30 requests failed (left out of the latency): %v", cl, process, len(failed), failed)
		}
		return p50(rs), p50(ws)
	}
	for _, process := range []int{0, 1} {
		qr, qw := latency(t, "QUORUM", process)
		lr, lw := latency(t, "LOCAL_QUORUM", process)
		t.Logf("client in %s: QUORUM p50 read %v write %v; LOCAL_QUORUM p50 read %v write %v (region RTT %v)",
			dcName(d.cfg.homeRegion(process)), qr, qw, lr, lw, regionRTT)
		if qr < regionRTT || qw < regionRTT {
			t.Errorf("QUORUM p50 read %v, write %v: want at least the region RTT %v", qr, qw, regionRTT)
		}
		if lr >= regionRTT || lw >= regionRTT {
			t.Errorf("LOCAL_QUORUM p50 read %v, write %v: want under the region RTT %v", lr, lw, regionRTT)
		}
	}

	// Read-your-writes across datacenters (regions_staleness_test.go).
	testCrossRegionStaleness(t, ctx, d)

	// r2 cut off from r1 (the controller still reaches every node).
	if err := d.cl.Partition(ctx, cluster.Bidirectional(regs[0], regs[1])); err != nil {
		t.Fatal(err)
	}
	outcome := func(cl string) (ok int, errs []string) {
		c, err := d.NewClientWith(ctx, 0, ClientOptions{ReadCL: cl, WriteCL: cl, KeyPrefix: "cut-" + cl + "-"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := range 6 {
			octx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := c.Write(octx, fmt.Sprintf("k%d", i), int64(i))
			if err == nil {
				_, _, err = c.Read(octx, fmt.Sprintf("k%d", i))
			}
			cancel()
			if err == nil {
				ok++
			} else {
				errs = append(errs, err.Error())
			}
		}
		return ok, errs
	}
	lok, lerrs := outcome("LOCAL_QUORUM")
	qok, qerrs := outcome("QUORUM")
	t.Logf("r2 cut off, client in r1: LOCAL_QUORUM %d/6 ok %v; QUORUM %d/6 ok, errors %v", lok, lerrs, qok, qerrs)
	if lok != 6 {
		t.Errorf("LOCAL_QUORUM in r1 with r2 cut off: %d of 6 answered (%v), want all", lok, lerrs)
	}
	if qok != 0 {
		t.Errorf("QUORUM in r1 with r2 cut off: %d of 6 answered, want none", qok)
	}
	if err := d.cl.HealNetwork(ctx); err != nil {
		t.Fatal(err)
	}
}
