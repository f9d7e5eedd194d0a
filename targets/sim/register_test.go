package sim

import (
	"context"
	"slices"
	"testing"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// The plan the sim declares before deploying is the cluster it deploys.
func TestPlanMatchesDeployedCluster(t *testing.T) {
	for _, n := range []int{1, 3, 5} {
		tg, err := New(Config{Nodes: n, R: 1, W: 1})
		if err != nil {
			t.Fatal(err)
		}
		dep, err := tg.Deploy(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		plan, got := tg.Plan(), cluster.PlanOf(dep.Cluster())
		slices.Sort(plan.Supported)
		slices.Sort(got.Supported)
		if plan.Nodes != got.Nodes || !slices.Equal(plan.Supported, got.Supported) {
			t.Errorf("%d nodes: planned %d nodes %v, deployed %d nodes %v", n, plan.Nodes, plan.Supported, got.Nodes, got.Supported)
		}
		if err := plan.Supports(cluster.CanFailover); err == nil || plan.Unsupported[cluster.CanFailover] == "" {
			t.Errorf("failover: %v", err)
		}
		_ = dep.Close(context.Background())
	}
}
