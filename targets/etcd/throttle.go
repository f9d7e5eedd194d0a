package etcd

import (
	"context"

	"github.com/chaoscheck/chaoscheck/cluster"
)

var _ cluster.Throttler = (*Cluster)(nil)

// Throttle forwards to the runtime's bandwidth limits (cluster.Throttler),
// when the plan has them.
func (c *Cluster) Throttle(ctx context.Context, node string, rate int64) error {
	return c.dep.Throttle(ctx, node, rate)
}

// Unthrottle removes a node's bandwidth limit.
func (c *Cluster) Unthrottle(ctx context.Context, node string) error {
	return c.dep.Unthrottle(ctx, node)
}

// MeasureThroughput measures the throughput from one node to another.
func (c *Cluster) MeasureThroughput(ctx context.Context, a, b string) (cluster.Throughput, error) {
	return c.dep.MeasureThroughput(ctx, a, b)
}
