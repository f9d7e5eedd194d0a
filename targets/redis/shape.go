package redis

import (
	"context"

	"github.com/chaoscheck/chaoscheck/cluster"
)

var _ cluster.Shaper = (*Servers)(nil)

// Shape forwards to the runtime's delay and loss (cluster.Shaper), when
// the plan has it.
func (c *Servers) Shape(ctx context.Context, layer string, links []cluster.LinkShape) error {
	return c.dep.Shape(ctx, layer, links)
}

// Unshape removes a shaping layer.
func (c *Servers) Unshape(ctx context.Context, layer string) error { return c.dep.Unshape(ctx, layer) }

// MeasureRTT measures the round trip between two nodes.
func (c *Servers) MeasureRTT(ctx context.Context, a, b string) (cluster.RTT, error) {
	return c.dep.MeasureRTT(ctx, a, b)
}
