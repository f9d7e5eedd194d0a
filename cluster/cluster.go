// Package cluster is where nodes live and how faults reach them. It has
// two seams.
//
// # The runtime seam
//
// A Runtime is what a target deploys onto: Runtime.Up returns the Hosts
// of one cluster, on which the target starts its servers from NodeSpecs
// (what to run, arguments, environment, files, data directory, ports,
// user), reads node addresses and logs, runs helper commands (Exec),
// copies files in and out, and which the nemesis kills, stops, pauses
// and restarts. Runtimes: cluster/local (network namespaces on this
// machine) and cluster/docker (containers through the Docker Engine
// API); later ssh (remote hosts). Targets never import a runtime package: the wiring
// layer (cmd/chaoscheck) picks one from a RuntimeRegistry (the table is
// cluster/runtimes) and hands it to the target's constructor.
//
// Invariants every runtime keeps:
//   - Journaling is the runtime's job, not the target's: every resource
//     a runtime creates (process, cgroup, namespace, rule, container,
//     network, volume, state directory, helper command) is journaled or
//     labelled before it exists, so that the next Up, and `chaoscheck
//     heal`, remove what a crashed controller left. Targets create
//     nothing outside the state directory (a cache of downloaded or
//     compiled software aside) and run every helper through Hosts.Exec
//     or Runtime.RunCommand.
//   - Hosts.Close removes everything the cluster made (and the state
//     directory unless it is kept), completes after a cancellation,
//     bounded by the runtime's cleanup timeout, and is idempotent.
//   - Capabilities are declared up front: Runtime.Plan says, before
//     anything exists, which faults a cluster will take (each missing
//     one with why); targets refine it (Plan.Without, Plan.With) and the
//     runner refuses a nemesis the plan cannot serve before deploying.
//     The Hosts that Up returns implement every capability of the plan.
//   - The nodes see the state directory at the same path as the
//     controller (local: one filesystem; docker: a bind mount), but
//     targets place node files only through the runtime: NodeSpec.Files
//     and DataDir before the first start, WriteFile (CopyIn) after it,
//     Hosts.Exec for the rest (initdb, removing data), so that the nodes
//     of a remote runtime get them too. Read-only artefacts prepared
//     once on the controller (Cassandra's jars, its clock shim) reach the
//     nodes as NodeSpec.SharedDirs (local: nothing to do; docker: a
//     read-only bind mount). Logs (NodeSpec.LogFile) are controller-side
//     files the runtime keeps up to date.
//
// # The fault seam
//
// The core interface is tiny: a Cluster has named nodes. Everything a
// nemesis can do to them is an optional capability (Killer, Pauser,
// Partitioner, ClockSkewer, Failoverer), discovered by type assertion,
// so a runtime implements exactly what it can really do and a fault it
// cannot apply is reported as unsupported instead of silently doing
// nothing. Failover is the target's, on top of the runtime's faults.
//
// Runtimes of the fault seam alone: the in-process simulated network of
// targets/sim.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Controller is the name of the test controller (where clients run) in a
// Grudge, for runtimes that can cut clients off from nodes.
const Controller = "controller"

// Cluster is a set of named nodes.
type Cluster interface {
	// Nodes returns the node names, in a stable order.
	Nodes() []string
}

// Killer can crash a node's processes and start them again.
type Killer interface {
	// Kill stops the node's processes abruptly (SIGKILL semantics).
	Kill(ctx context.Context, node string) error
	// Restart starts a killed node again with its data.
	Restart(ctx context.Context, node string) error
}

// Pauser can freeze a node's processes and thaw them.
type Pauser interface {
	Pause(ctx context.Context, node string) error
	Resume(ctx context.Context, node string) error
}

// Partitioner can drop traffic between nodes.
type Partitioner interface {
	// Partition replaces the current partition with g, atomically.
	Partition(ctx context.Context, g Grudge) error
	// HealNetwork removes every partition.
	HealNetwork(ctx context.Context) error
}

// ClockSkewer can offset a node's wall clock.
type ClockSkewer interface {
	// SetClockOffset sets the node's clock to real time plus offset.
	SetClockOffset(ctx context.Context, node string, offset time.Duration) error
}

// ErrUnsupported is wrapped by errors for faults a runtime cannot apply.
var ErrUnsupported = errors.New("unsupported by this cluster runtime")

// Grudge says which traffic is dropped: Grudge[dst] holds the sources whose
// messages dst never receives. It is Jepsen's representation; one-way
// partitions are grudges that are not symmetric. Controller may appear as
// a source or destination on runtimes that support cutting clients off.
type Grudge map[string][]string

// Drops reports whether a message from src to dst is dropped.
func (g Grudge) Drops(src, dst string) bool {
	for _, s := range g[dst] {
		if s == src {
			return true
		}
	}
	return false
}

// Bidirectional builds the grudge that separates the given components
// completely: every node drops messages from every node of another
// component.
func Bidirectional(components ...[]string) Grudge {
	g := make(Grudge)
	for i, ci := range components {
		for j, cj := range components {
			if i == j {
				continue
			}
			for _, dst := range ci {
				g[dst] = append(g[dst], cj...)
			}
		}
	}
	return g
}

// String renders g deterministically, e.g. "n1 x n2,n3".
func (g Grudge) String() string {
	dsts := make([]string, 0, len(g))
	for d := range g {
		dsts = append(dsts, d)
	}
	sort.Strings(dsts)
	parts := make([]string, 0, len(dsts))
	for _, d := range dsts {
		srcs := append([]string(nil), g[d]...)
		sort.Strings(srcs)
		parts = append(parts, fmt.Sprintf("%s<-x-%s", d, strings.Join(srcs, ",")))
	}
	return strings.Join(parts, " ")
}

// Failoverer is implemented by primary/replica deployments (PostgreSQL
// streaming replication, Redis replicaof): it knows which node is the
// primary and can promote another. Clients of such a target follow the
// primary it names.
type Failoverer interface {
	// Primary names the current primary.
	Primary() string
	// Promote makes the most advanced reachable replica the primary
	// (excluding the nodes in exclude, e.g. the old primary being killed)
	// and points clients at it. It returns the new primary.
	Promote(ctx context.Context, exclude []string) (string, error)
	// Rejoin brings a former primary back as a replica of the current
	// primary (rewinding it if it has diverged).
	Rejoin(ctx context.Context, node string) error
}

// LinkShape delays and drops the traffic of one direction: packets from
// a node of From to a node of To. Its figures are one-way: a delay D on
// both directions of a link adds 2D to its round-trip time.
type LinkShape struct {
	// From and To are node names (Controller too, where the runtime can
	// shape the controller's leg). Empty: every node (not the
	// controller).
	From, To []string
	// Delay is added to every packet; Jitter adds a further uniformly
	// random 0..Jitter. A runtime keeps the packets of one direction of
	// one pair in order (the jitter never reorders them).
	Delay, Jitter time.Duration
	// Loss is the probability, 0 to 1, that a packet is dropped.
	Loss float64
}

// String renders s, e.g. "n1,n2->n3 delay 40ms±5ms loss 2%".
func (s LinkShape) String() string {
	side := func(ns []string) string {
		if len(ns) == 0 {
			return "*"
		}
		return strings.Join(ns, ",")
	}
	out := side(s.From) + "->" + side(s.To)
	if s.Delay > 0 || s.Jitter > 0 {
		out += " delay " + s.Delay.String()
		if s.Jitter > 0 {
			out += "±" + s.Jitter.String()
		}
	}
	if s.Loss > 0 {
		out += fmt.Sprintf(" loss %g%%", s.Loss*100)
	}
	return out
}

// Validate checks the figures: no negative delay or jitter, loss within
// 0 to 1.
func (s LinkShape) Validate() error {
	if s.Delay < 0 || s.Jitter < 0 {
		return fmt.Errorf("link %v: negative delay or jitter", s)
	}
	if s.Loss < 0 || s.Loss > 1 {
		return fmt.Errorf("link %v: loss %g outside 0..1", s, s.Loss)
	}
	return nil
}

// RTT is a measured round-trip time: Sent probes, Received answers, and
// the spread of the answered ones.
type RTT struct {
	Sent, Received   int
	Min, Median, Max time.Duration
}

// String renders r, e.g. "rtt 80.4ms (min 80.1ms max 81.0ms, 5/5)".
func (r RTT) String() string {
	if r.Received == 0 {
		return fmt.Sprintf("rtt: no answer (0/%d)", r.Sent)
	}
	return fmt.Sprintf("rtt %v (min %v max %v, %d/%d)", r.Median.Round(10*time.Microsecond),
		r.Min.Round(10*time.Microsecond), r.Max.Round(10*time.Microsecond), r.Received, r.Sent)
}

// RegionLink is the standing condition of the links between regions: the
// round trip (half of it added each way), its jitter (half each way) and
// the probability that a packet is lost, on each direction of each link.
type RegionLink struct {
	RTT, Jitter time.Duration
	Loss        float64
}

// IsZero reports whether l shapes nothing.
func (l RegionLink) IsZero() bool { return l.RTT <= 0 && l.Jitter <= 0 && l.Loss <= 0 }

// Shapes returns the links between every ordered pair of regions, each
// region given by its nodes.
func (l RegionLink) Shapes(regions [][]string) []LinkShape {
	var out []LinkShape
	for i := range regions {
		for j := range regions {
			if i != j {
				out = append(out, LinkShape{From: regions[i], To: regions[j], Delay: l.RTT / 2, Jitter: l.Jitter / 2, Loss: l.Loss})
			}
		}
	}
	return out
}

// String renders l for people, e.g. "80ms ± 10ms, 1% of packets lost
// each way".
func (l RegionLink) String() string {
	out := l.RTT.String()
	if l.Jitter > 0 {
		out += " ± " + l.Jitter.String()
	}
	if l.Loss > 0 {
		out += fmt.Sprintf(", %.3g%% of packets lost each way", 100*l.Loss)
	}
	return out
}

// Regioned is implemented by clusters whose nodes are split into regions
// (datacenters): Regions maps every node to its region's name, nil with
// one region. The region partition cuts one region off with it.
type Regioned interface {
	Regions() map[string]string
}

// Shaper can delay and drop traffic between nodes (a link fault short
// of a partition: the network is slow or lossy, not cut).
//
// Shaping is held in named layers that add up: the standing delay
// between regions is one layer, a nemesis delay fault another, and
// healing the fault leaves the regions' delay in place. For a pair of
// nodes, the delays (and jitters) of every layer add, and the losses
// combine as independent drops.
type Shaper interface {
	// Shape replaces the links of layer with links, atomically for the
	// traffic: no packet sees half of the change.
	Shape(ctx context.Context, layer string, links []LinkShape) error
	// Unshape removes layer (nothing when it is not there).
	Unshape(ctx context.Context, layer string) error
	// MeasureRTT sends probes from node a to node b and measures their
	// round trips (ICMP echo on the local runtime), so that a fault can
	// show it took effect.
	MeasureRTT(ctx context.Context, a, b string) (RTT, error)
}
