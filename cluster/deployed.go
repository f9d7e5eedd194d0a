package cluster

import (
	"context"
	"slices"
	"time"
)

// Declarer is implemented by clusters that say which of the fault
// interfaces they implement really work (a target's cluster forwarding to
// a runtime that may lack partitions or clock offsets, see Deployed).
// PlanOf reads it.
type Declarer interface {
	// Plan is the cluster's plan: what Runtime.Plan and the target
	// declared before deploying.
	Plan() Plan
}

// Deployed is a target's cluster on a runtime's Hosts: the Hosts' methods,
// the optional faults of the runtime forwarded (Partitioner, ClockSkewer,
// Shaper;
// a call the runtime cannot serve returns an *UnsupportedError), and the
// plan the target declared (Declarer), so that PlanOf of the deployed
// cluster is the plan checked before deploying. Targets embed it in
// their own cluster type, add what they provide (Failoverer) and
// override what they refine (e.g. a Restart that rejoins a fenced
// primary, a SetClockOffset refused for a Go binary).
type Deployed struct {
	Hosts
	plan Plan
}

var (
	_ Partitioner = Deployed{}
	_ ClockSkewer = Deployed{}
	_ Shaper      = Deployed{}
	_ Throttler   = Deployed{}
	_ Declarer    = Deployed{}
)

// NewDeployed wraps h with the target's plan p.
func NewDeployed(h Hosts, p Plan) Deployed { return Deployed{Hosts: h, plan: p} }

// Plan returns the declared plan, without the forwarded capabilities
// that the runtime's Hosts do not implement.
func (d Deployed) Plan() Plan {
	p := d.plan
	if _, ok := d.Hosts.(Partitioner); !ok && p.Supports(CanPartition) == nil {
		p = p.Without(CanPartition, "the runtime's cluster does not implement it")
	}
	if _, ok := d.Hosts.(ClockSkewer); !ok && p.Supports(CanSkewClock) == nil {
		p = p.Without(CanSkewClock, "the runtime's cluster does not implement it")
	}
	if _, ok := d.Hosts.(Shaper); !ok && p.Supports(CanShape) == nil {
		p = p.Without(CanShape, "the runtime's cluster does not implement it")
	}
	if _, ok := d.Hosts.(Throttler); !ok && p.Supports(CanThrottle) == nil {
		p = p.Without(CanThrottle, "the runtime's cluster does not implement it")
	}
	return p
}

// Throttle forwards to the runtime's Throttler.
func (d Deployed) Throttle(ctx context.Context, node string, rate int64) error {
	if err := d.Plan().Supports(CanThrottle); err != nil {
		return err
	}
	return d.Hosts.(Throttler).Throttle(ctx, node, rate)
}

// Unthrottle forwards to the runtime's Throttler; without one there is
// nothing to remove.
func (d Deployed) Unthrottle(ctx context.Context, node string) error {
	if t, ok := d.Hosts.(Throttler); ok {
		return t.Unthrottle(ctx, node)
	}
	return nil
}

// MeasureThroughput forwards to the runtime's Throttler.
func (d Deployed) MeasureThroughput(ctx context.Context, a, b string) (Throughput, error) {
	if err := d.Plan().Supports(CanThrottle); err != nil {
		return Throughput{}, err
	}
	return d.Hosts.(Throttler).MeasureThroughput(ctx, a, b)
}

// Shape forwards to the runtime's Shaper.
func (d Deployed) Shape(ctx context.Context, layer string, links []LinkShape) error {
	if err := d.Plan().Supports(CanShape); err != nil {
		return err
	}
	return d.Hosts.(Shaper).Shape(ctx, layer, links)
}

// Unshape forwards to the runtime's Shaper; without one there is nothing
// to remove.
func (d Deployed) Unshape(ctx context.Context, layer string) error {
	if s, ok := d.Hosts.(Shaper); ok {
		return s.Unshape(ctx, layer)
	}
	return nil
}

// MeasureRTT forwards to the runtime's Shaper.
func (d Deployed) MeasureRTT(ctx context.Context, a, b string) (RTT, error) {
	if err := d.Plan().Supports(CanShape); err != nil {
		return RTT{}, err
	}
	return d.Hosts.(Shaper).MeasureRTT(ctx, a, b)
}

// Partition forwards to the runtime's Partitioner.
func (d Deployed) Partition(ctx context.Context, g Grudge) error {
	if err := d.Plan().Supports(CanPartition); err != nil {
		return err
	}
	return d.Hosts.(Partitioner).Partition(ctx, g)
}

// HealNetwork forwards to the runtime's Partitioner; without one there
// is nothing to heal.
func (d Deployed) HealNetwork(ctx context.Context) error {
	if p, ok := d.Hosts.(Partitioner); ok {
		return p.HealNetwork(ctx)
	}
	return nil
}

// SetClockOffset forwards to the runtime's ClockSkewer.
func (d Deployed) SetClockOffset(ctx context.Context, node string, offset time.Duration) error {
	if err := d.Plan().Supports(CanSkewClock); err != nil {
		return err
	}
	return d.Hosts.(ClockSkewer).SetClockOffset(ctx, node, offset)
}

// planOf narrows a declared plan to what c implements.
func planOf(c Cluster, p Plan) Plan {
	have := Capabilities(c)
	for _, s := range slices.Clone(p.Supported) {
		if !slices.Contains(have, s) {
			p = p.Without(s, "the deployed cluster does not implement it")
		}
	}
	p.Nodes = len(c.Nodes())
	return p
}
