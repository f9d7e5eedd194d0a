package redis

import (
	"context"

	"github.com/chaoscheck/chaoscheck/cluster"
)

var _ cluster.Throttler = (*Servers)(nil)

// Throttle forwards to the runtime's bandwidth limits (cluster.Throttler),
// when the plan has them.
func (c *Servers) Throttle(ctx context.Context, node string, rate int64) error {
	return c.dep.Throttle(ctx, node, rate)
}

// Unthrottle removes a node's bandwidth limit.
func (c *Servers) Unthrottle(ctx context.Context, node string) error {
	return c.dep.Unthrottle(ctx, node)
}

// MeasureThroughput measures the throughput from one node to another.
func (c *Servers) MeasureThroughput(ctx context.Context, a, b string) (cluster.Throughput, error) {
	return c.dep.MeasureThroughput(ctx, a, b)
}
