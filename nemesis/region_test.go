package nemesis

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// regionedFake is a fake cluster split into regions.
type regionedFake struct {
	*fakeCluster
	regions map[string]string
}

func (r *regionedFake) Regions() map[string]string { return r.regions }

// The region partition cuts exactly one whole region off from every
// other node, both ways, and says which; a cluster of one region refuses
// it up front, and one without regions at apply time.
func TestRegionPartition(t *testing.T) {
	f := &regionedFake{fakeCluster: newFake(6), regions: map[string]string{"n1": "r1", "n2": "r1", "n3": "r2", "n4": "r2", "n5": "r3", "n6": "r3"}}
	faults, err := Parse([]string{"region"}, One)
	if err != nil {
		t.Fatal(err)
	}
	p := faults[0]
	if err := p.Check(cluster.PlanOf(f)); err != nil {
		t.Fatalf("check on 3 regions: %v", err)
	}
	seen := map[string]bool{}
	for seed := range uint64(20) {
		a, err := p.Apply(context.Background(), f, rand.New(rand.NewPCG(seed, 0)))
		if err != nil {
			t.Fatal(err)
		}
		cut := strings.Fields(a.Description)[1]
		seen[cut] = true
		for dst, srcs := range f.grudge {
			for _, src := range srcs {
				if (f.regions[dst] == cut) == (f.regions[src] == cut) {
					t.Fatalf("%s: %s hears nothing from %s, but both are on one side", a.Description, dst, src)
				}
			}
		}
		for _, n := range f.names {
			for _, m := range f.names {
				cutOff := (f.regions[n] == cut) != (f.regions[m] == cut)
				if cutOff != slices.Contains(f.grudge[n], m) {
					t.Fatalf("%s: %s drops %s: %v, want %v", a.Description, n, m, !cutOff, cutOff)
				}
			}
		}
	}
	if len(seen) != 3 {
		t.Errorf("20 draws cut regions %v, want each of r1, r2, r3", seen)
	}
	if err := p.Check(cluster.Plan{Nodes: 3, Supported: []cluster.Capability{cluster.CanPartition}, Regions: 1}); err == nil || !strings.Contains(err.Error(), "--regions 2") {
		t.Errorf("one region: %v, want a refusal naming --regions", err)
	}
	if _, err := p.Apply(context.Background(), newFake(3), rand.New(rand.NewPCG(1, 0))); err == nil {
		t.Error("a cluster without regions took the region partition")
	}
	// A plain partition never draws it.
	if slices.Contains((&Partition{}).shapes(6), Region) {
		t.Error("a plain partition draws the region shape")
	}
}
