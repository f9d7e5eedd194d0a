package cluster

import (
	"fmt"
	"slices"
)

// Capability is one kind of fault a cluster can take. It is the typed
// fact behind each optional interface, so that a target can declare, from
// its configuration and before anything is deployed, what its cluster
// will be able to do (see Plan).
type Capability string

// The capabilities, one per optional interface.
const (
	CanPartition Capability = "partition" // Partitioner
	CanKill      Capability = "kill"      // Killer (and restart)
	CanPause     Capability = "pause"     // Pauser
	CanSkewClock Capability = "clock"     // ClockSkewer
	CanFailover  Capability = "failover"  // Failoverer
	CanShape     Capability = "shape"     // Shaper (delay and loss)
	CanThrottle  Capability = "throttle"  // Throttler (bandwidth)
)

// AllCapabilities lists every capability, in a stable order.
var AllCapabilities = []Capability{CanPartition, CanKill, CanPause, CanSkewClock, CanFailover, CanShape, CanThrottle}

// Capabilities lists the capabilities c implements, by type assertion, in
// the order of AllCapabilities.
func Capabilities(c Cluster) []Capability {
	var out []Capability
	if _, ok := c.(Partitioner); ok {
		out = append(out, CanPartition)
	}
	if _, ok := c.(Killer); ok {
		out = append(out, CanKill)
	}
	if _, ok := c.(Pauser); ok {
		out = append(out, CanPause)
	}
	if _, ok := c.(ClockSkewer); ok {
		out = append(out, CanSkewClock)
	}
	if _, ok := c.(Failoverer); ok {
		out = append(out, CanFailover)
	}
	if _, ok := c.(Shaper); ok {
		out = append(out, CanShape)
	}
	if _, ok := c.(Throttler); ok {
		out = append(out, CanThrottle)
	}
	return out
}

// Plan is a cluster as it will be, or is: its node count and the
// capabilities it has. Targets declare their plan from their
// configuration (targets.Planner), so that faults the cluster cannot take
// are refused before anything is deployed; PlanOf gives the plan of a
// deployed cluster, so that the same checks run again on what was really
// deployed.
//
// Invariant: a capability is either in Supported or has a reason in
// Unsupported (see Supports); the deployed cluster implements every
// capability of Supported.
type Plan struct {
	// Nodes is the number of nodes.
	Nodes int
	// Regions is the number of regions the nodes are split into (0 or 1:
	// one), for faults that cut a region off.
	Regions int
	// Supported are the capabilities the cluster has.
	Supported []Capability
	// Unsupported says, for a capability the cluster lacks, why, and what
	// would work instead (e.g. "Redis Cluster has no single primary; use
	// --redis-mode replication").
	Unsupported map[Capability]string
}

// PlanOf is the plan of a deployed cluster: its nodes and the interfaces
// it implements, narrowed to what it declares when it is a Declarer (an
// interface it implements by forwarding to a runtime that lacks the
// capability does not count).
func PlanOf(c Cluster) Plan {
	if d, ok := c.(Declarer); ok {
		return planOf(c, d.Plan())
	}
	return Plan{Nodes: len(c.Nodes()), Supported: Capabilities(c), Regions: regionCount(c)}
}

// regionCount is the number of regions of a Regioned cluster (0 if not).
func regionCount(c Cluster) int {
	r, ok := c.(Regioned)
	if !ok {
		return 0
	}
	seen := map[string]bool{}
	for _, reg := range r.Regions() {
		seen[reg] = true
	}
	return len(seen)
}

// Supports returns nil when the plan has capability c, else an
// *UnsupportedError (which wraps ErrUnsupported) with the plan's reason.
func (p Plan) Supports(c Capability) error {
	if slices.Contains(p.Supported, c) {
		return nil
	}
	return &UnsupportedError{Capability: c, Why: p.Unsupported[c]}
}

// With returns a copy of p that has the capabilities cs.
func (p Plan) With(cs ...Capability) Plan {
	q := p.clone()
	for _, c := range cs {
		delete(q.Unsupported, c)
		if !slices.Contains(q.Supported, c) {
			q.Supported = append(q.Supported, c)
		}
	}
	return q
}

// Without returns a copy of p that lacks capability c, for the reason why
// (which should say what would work instead).
func (p Plan) Without(c Capability, why string) Plan {
	q := p.clone()
	q.Supported = slices.DeleteFunc(q.Supported, func(x Capability) bool { return x == c })
	q.Unsupported[c] = why
	return q
}

func (p Plan) clone() Plan {
	q := Plan{Nodes: p.Nodes, Regions: p.Regions, Supported: slices.Clone(p.Supported), Unsupported: make(map[Capability]string, len(p.Unsupported)+1)}
	for k, v := range p.Unsupported {
		q.Unsupported[k] = v
	}
	return q
}

// UnsupportedError is a capability a cluster lacks.
type UnsupportedError struct {
	Capability Capability
	// Why says why, and what would work instead ("" when unknown).
	Why string
}

func (e *UnsupportedError) Error() string {
	if e.Why == "" {
		return fmt.Sprintf("%s faults: %v", e.Capability, ErrUnsupported)
	}
	return fmt.Sprintf("%s faults unsupported: %s", e.Capability, e.Why)
}

// Unwrap returns ErrUnsupported.
func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }
