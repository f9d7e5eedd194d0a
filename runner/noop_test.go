package runner

import (
	"context"
	"sync"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// noopTarget is an in-memory atomic register store with no replication: the
// harness's ceiling, and a correct database (every history it produces is
// linearizable).
type noopTarget struct{}

func (noopTarget) Name() string { return "noop" }

func (noopTarget) Deploy(context.Context) (targets.Deployment, error) {
	return &noopDeployment{data: map[string]int64{}}, nil
}

type noopDeployment struct {
	mu   sync.Mutex
	data map[string]int64
}

func (d *noopDeployment) Cluster() cluster.Cluster { return noopCluster{} }
func (d *noopDeployment) NewClient(context.Context, int) (workloads.Client, error) {
	return &noopClient{d: d}, nil
}
func (d *noopDeployment) Describe() []targets.Setting {
	return []targets.Setting{{Name: "nodes", Value: "1"}}
}
func (d *noopDeployment) Close(context.Context) error { return nil }

// Facts: one node holding everything (targets.FactReporter).
func (d *noopDeployment) Facts() targets.Facts {
	return targets.Facts{Nodes: 1, ReplicationFactor: 1, Replication: rundir.Synchronous}
}

type noopCluster struct{}

func (noopCluster) Nodes() []string { return []string{"n1"} }

type noopClient struct{ d *noopDeployment }

func (c *noopClient) Close() error { return nil }
func (c *noopClient) Read(_ context.Context, k string) (int64, bool, error) {
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	v, ok := c.d.data[k]
	return v, ok, nil
}
func (c *noopClient) Write(_ context.Context, k string, v int64) error {
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	c.d.data[k] = v
	return nil
}
func (c *noopClient) CAS(_ context.Context, k string, old, new int64) (bool, error) {
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	if v, ok := c.d.data[k]; ok && v == old {
		c.d.data[k] = new
		return true, nil
	}
	return false, nil
}
