//go:build linux

package cassandra

import (
	"fmt"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// nodesOnly is Hosts that only name their nodes (Facts reads no more).
type nodesOnly struct {
	cluster.Hosts
	names []string
}

func (n nodesOnly) Nodes() []string { return n.names }

// The typed facts of a deployment across datacenters hold its topology:
// the datacenters in order with their nodes, all replicas, the RTT and
// who adds it; one datacenter has none.
func TestFactsTopology(t *testing.T) {
	c := Config{Nodes: 4, Regions: 2, RegionRTT: 80 * time.Millisecond}
	c.defaults()
	d := &Deployment{cfg: c, lc: nodesOnly{names: []string{"n1", "n2", "n3", "n4"}}}
	tp := d.Facts().Topology
	if tp == nil {
		t.Fatal("no topology")
	}
	if got := fmt.Sprint(tp.Regions); got != "[{r1 [n1 n2] 2} {r2 [n3 n4] 2}]" {
		t.Errorf("regions %s", got)
	}
	if tp.RegionRTTNS != int64(80*time.Millisecond) || tp.RegionDelayBy == "" || tp.Clients == "" || tp.ActiveActive {
		t.Errorf("topology %+v", tp)
	}
	if r := tp.RegionOf(); r["n2"] != "r1" || r["n3"] != "r2" || fmt.Sprint(r) != fmt.Sprint(d.Regions()) {
		t.Errorf("RegionOf %v, Regions %v", r, d.Regions())
	}
	one := Config{Nodes: 3}
	one.defaults()
	if tp := (&Deployment{cfg: one, lc: nodesOnly{names: []string{"n1", "n2", "n3"}}}).Facts().Topology; tp != nil {
		t.Errorf("one datacenter: %+v", tp)
	}
}
