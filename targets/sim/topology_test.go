package sim

import (
	"fmt"
	"testing"
	"time"
)

// TestFactsTopology: with regions, the typed facts hold the topology
// (regions in order with their nodes and replicas, the RTT, and whether
// writes are active-active); with one region, none.
func TestFactsTopology(t *testing.T) {
	d, _ := deployRegions(t, Config{Nodes: 6, Regions: 2, RegionRTT: 80 * time.Millisecond, ReadCL: LocalQuorum, WriteCL: LocalQuorum})
	tp := d.Facts().Topology
	if tp == nil {
		t.Fatal("no topology in the facts of a 2-region cluster")
	}
	if got := fmt.Sprint(tp.Regions); got != "[{r1 [n1 n2 n3] 3} {r2 [n4 n5 n6] 3}]" {
		t.Errorf("regions %s", got)
	}
	if tp.RegionRTTNS != int64(80*time.Millisecond) || !tp.ActiveActive || tp.Clients == "" {
		t.Errorf("topology %+v: want 80ms, active-active, clients dealt", tp)
	}
	q, _ := deployRegions(t, Config{Nodes: 4, Regions: 2, RegionRTT: 10 * time.Millisecond, ReadCL: Quorum, WriteCL: Quorum})
	if tp := q.Facts().Topology; tp == nil || tp.ActiveActive || len(tp.Regions) != 2 {
		t.Errorf("QUORUM topology %+v: want 2 regions, not active-active", tp)
	}
	one, _ := deployRegions(t, Config{Nodes: 3})
	if tp := one.Facts().Topology; tp != nil {
		t.Errorf("one region: topology %+v, want none", tp)
	}
}
