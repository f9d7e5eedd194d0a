//go:build linux

package cassandra

import (
	"strings"
	"testing"
	"time"
)

// The datacenter settings: in order, round-robin clients, a replica on
// every node, and the contradictions refused.
func TestRegionConfig(t *testing.T) {
	c := Config{Nodes: 4, Regions: 2, RegionRTT: 80 * time.Millisecond}
	c.defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.ReplicationFactor != 4 || c.snitch() != "GossipingPropertyFileSnitch" {
		t.Errorf("rf %d snitch %s", c.ReplicationFactor, c.snitch())
	}
	if got := c.regionNodes([]string{"n1", "n2", "n3", "n4"}); len(got) != 2 || strings.Join(got[0], ",") != "n1,n2" || strings.Join(got[1], ",") != "n3,n4" {
		t.Errorf("regions %v", got)
	}
	if c.homeRegion(0) != 0 || c.homeRegion(1) != 1 || c.homeRegion(2) != 0 {
		t.Error("clients not dealt round-robin")
	}
	// The standing links between datacenters: half the RTT and half the
	// jitter each way, the loss on each direction.
	c.RegionJitter, c.RegionLoss = 10*time.Millisecond, 0.02
	links := c.regionLink().Shapes(c.regionNodes([]string{"n1", "n2", "n3", "n4"}))
	if len(links) != 2 {
		t.Fatalf("links %v, want r1->r2 and r2->r1", links)
	}
	for _, l := range links {
		if l.Delay != 40*time.Millisecond || l.Jitter != 5*time.Millisecond || l.Loss != 0.02 || len(l.From) != 2 || len(l.To) != 2 {
			t.Errorf("link %v: want 40ms ± 5ms, 2%% loss, between two nodes each side", l)
		}
	}
	for _, bad := range []Config{
		{Nodes: 4, Regions: 5},
		{Nodes: 4, Regions: 1, RegionRTT: time.Millisecond},
		{Nodes: 4, Regions: 2, ReplicationFactor: 2},
		{Nodes: 4, Regions: 2, ReadCL: "EACH_QUORUM"},
		{Nodes: 4, Regions: 1, RegionLoss: 0.1},
		{Nodes: 4, Regions: 2, RegionLoss: 1},
		{Nodes: 4, Regions: 2, RegionJitter: -time.Millisecond},
	} {
		bad.defaults()
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	ok := Config{Nodes: 4, Regions: 2, WriteCL: "EACH_QUORUM", ReadCL: "LOCAL_QUORUM"}
	ok.defaults()
	if err := ok.Validate(); err != nil {
		t.Errorf("EACH_QUORUM writes refused: %v", err)
	}
	one := Config{Nodes: 3}
	one.defaults()
	if one.Regions != 1 || one.snitch() != "SimpleSnitch" {
		t.Errorf("single region: %+v", one)
	}
}
