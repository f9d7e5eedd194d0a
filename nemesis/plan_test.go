package nemesis

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// Faults check themselves against a plan: the capabilities they need,
// with the plan's reason, and enough nodes.
func TestCheckPlan(t *testing.T) {
	full := cluster.Plan{Nodes: 3}.With(cluster.AllCapabilities...)
	noClock := full.Without(cluster.CanSkewClock, "no preload reaches it; use --target sim")
	for _, c := range []struct {
		fault Fault
		plan  cluster.Plan
		want  string // "" = accepted
	}{
		{&Partition{}, full, ""},
		{&Partition{}, cluster.Plan{Nodes: 2}.With(cluster.CanPartition), ""},
		{&Partition{}, cluster.Plan{Nodes: 1}.With(cluster.CanPartition), "at least 2 nodes"},
		{&Partition{Shapes: []Shape{Bridge}}, cluster.Plan{Nodes: 2}.With(cluster.CanPartition), "bridge needs at least 3"},
		{&Partition{}, cluster.Plan{Nodes: 3}, "partition faults"},
		{&Kill{Targets: "3"}, full, ""},
		{&Kill{Targets: "4"}, full, `"4" needs 4 nodes, the cluster has 3`},
		{&Pause{Targets: Majority}, cluster.Plan{Nodes: 5}.With(cluster.CanPause), ""},
		{&Clock{Targets: One}, noClock, "no preload reaches it; use --target sim"},
		{&Failover{Isolate: time.Second}, full, ""},
		{&Failover{}, full.Without(cluster.CanFailover, "use --redis-mode replication"), "use --redis-mode replication"},
		{&Failover{}, cluster.Plan{Nodes: 3}.With(cluster.CanKill), "no primary to fail over"},
		{&Failover{Isolate: time.Second}, cluster.Plan{Nodes: 3}.With(cluster.CanKill, cluster.CanFailover), "isolates the primary"},
		{&Failover{}, cluster.Plan{Nodes: 1}.With(cluster.CanKill, cluster.CanFailover), "at least 2 nodes"},
	} {
		err := CheckPlan([]Fault{c.fault}, c.plan)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s on %+v: %v", c.fault.Name(), c.plan, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s on %+v: %v, want an error with %q", c.fault.Name(), c.plan, err, c.want)
		}
		if err != nil && c.plan.Supports(cluster.CanSkewClock) != nil && c.fault.Name() == "clock" && !errors.Is(err, cluster.ErrUnsupported) {
			t.Errorf("clock refusal does not wrap ErrUnsupported: %v", err)
		}
	}
}

// On two nodes the default partition applies only shapes two nodes
// allow, instead of failing whenever it draws bridge or majorities-ring.
func TestPartitionOnTwoNodesDrawsPossibleShapes(t *testing.T) {
	c := newFake(2)
	p := &Partition{}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		a, err := p.Apply(context.Background(), c, rng)
		if err != nil {
			t.Fatalf("partition on 2 nodes: %v", err)
		}
		if err := a.Heal(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// "none" with faults is a contradiction.
func TestParseNoneWithFaults(t *testing.T) {
	if _, err := Parse([]string{"none", "partition"}, One); err == nil {
		t.Error("none,partition accepted")
	}
	if fs, err := Parse([]string{"none"}, One); err != nil || len(fs) != 0 {
		t.Errorf("none: %v %v", fs, err)
	}
}

// Every kind of the table parses, and says truly whether it uses the node
// selection.
func TestKinds(t *testing.T) {
	for _, k := range Kinds() {
		fs, err := Parse([]string{k.Name}, "2")
		if err != nil || len(fs) != 1 {
			t.Fatalf("%s: %v %v", k.Name, fs, err)
		}
		ns, ok := fs[0].(NodeSelector)
		if ok != k.Nodes || ok && ns.Selection() != "2" {
			t.Errorf("%s: NodeSelector %v, table says %v", k.Name, ok, k.Nodes)
		}
	}
	if n := KindNames(); n[0] != "none" || len(n) != len(Kinds())+1 {
		t.Errorf("KindNames: %v", n)
	}
}
