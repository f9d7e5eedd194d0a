//go:build linux

package etcd

import (
	"context"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// Cluster is the deployment's cluster as the nemesis sees it: the
// runtime's kill/restart, pause/resume and partitions, and nothing else.
// It deliberately does not implement cluster.ClockSkewer (the local
// runtime's libfaketime skew cannot reach etcd, a Go program reading the
// vDSO), so nemesis.New refuses clock faults with cluster.ErrUnsupported
// instead of running a test whose clock faults silently do nothing. Its
// plan (cluster.Declarer) is the target's, narrowed to what the runtime
// implements.
type Cluster struct {
	lc  cluster.Hosts
	dep cluster.Deployed // lc with the target's plan: partitions, Plan
}

var (
	_ cluster.Cluster     = (*Cluster)(nil)
	_ cluster.Killer      = (*Cluster)(nil)
	_ cluster.Pauser      = (*Cluster)(nil)
	_ cluster.Partitioner = (*Cluster)(nil)
	_ cluster.Declarer    = (*Cluster)(nil)
)

func newCluster(lc cluster.Hosts, plan cluster.Plan) *Cluster {
	return &Cluster{lc: lc, dep: cluster.NewDeployed(lc, plan)}
}

// Plan is the target's plan, without what the runtime lacks.
func (c *Cluster) Plan() cluster.Plan { return c.dep.Plan() }

// Nodes returns the node names n1..nN.
func (c *Cluster) Nodes() []string { return c.lc.Nodes() }

// Kill SIGKILLs the node's etcd and waits until it is reaped.
func (c *Cluster) Kill(ctx context.Context, node string) error { return c.lc.Kill(ctx, node) }

// Restart starts the node's etcd again on its data directory.
func (c *Cluster) Restart(ctx context.Context, node string) error { return c.lc.Restart(ctx, node) }

// Pause freezes the node's etcd (cgroup freezer).
func (c *Cluster) Pause(ctx context.Context, node string) error { return c.lc.Pause(ctx, node) }

// Resume thaws the node's etcd.
func (c *Cluster) Resume(ctx context.Context, node string) error { return c.lc.Resume(ctx, node) }

// Partition replaces the current partition with g.
func (c *Cluster) Partition(ctx context.Context, g cluster.Grudge) error {
	return c.dep.Partition(ctx, g)
}

// HealNetwork removes every partition.
func (c *Cluster) HealNetwork(ctx context.Context) error { return c.dep.HealNetwork(ctx) }
