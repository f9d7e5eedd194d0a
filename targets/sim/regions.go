package sim

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// # Regions
//
// With Config.Regions = K > 1 the nodes are split into K regions in
// order (6 nodes, 2 regions: n1-n3 are r1, n4-n6 r2), every key still
// on every node (the replication factor of a region is its node count),
// and messages between regions take RegionRTT/2 more each way (a
// standing shaping layer, "regions", of the sim's cluster.Shaper).
// Clients are dealt to the regions round-robin (process mod K) and send
// their requests to coordinators of their own region.
//
// The consistency levels then count replicas per region, the way
// Cassandra's do with NetworkTopologyStrategy: LOCAL_ONE and
// LOCAL_QUORUM need one replica, or a quorum, of the coordinator's
// region; EACH_QUORUM a quorum of every region; ONE, QUORUM and ALL
// count replicas anywhere. A write is sent at once to the replicas the
// level needs (the coordinator's region first) and ReplicationLag
// later (plus the region delay) to the others: with a LOCAL level,
// every region accepts writes on its own and replicates them to the
// others asynchronously, resolving conflicts by last write wins. That
// is active-active multi-region replication in the style of DynamoDB
// Global Tables, and it loses acknowledged writes: two regions that
// write one key concurrently each win locally, and the write with the
// later timestamp silently replaces the other everywhere (with
// --set-mode lww, an acknowledged add vanishes); a region whose clock
// is behind loses even writes that were not concurrent.

// RegionsLayer is the sim's standing shaping layer between regions.
const RegionsLayer = "regions"

// regionOf is the 0-based region of the node at ring position i.
func (c Config) regionOf(i int) int {
	k := max(c.Regions, 1)
	return i * k / c.Nodes
}

// RegionName is the name of 0-based region r: r1, r2...
func RegionName(r int) string { return fmt.Sprintf("r%d", r+1) }

// regionNodes lists each region's nodes, in order.
func (c *Cluster) regionNodes() [][]*node {
	out := make([][]*node, max(c.cfg.Regions, 1))
	for _, n := range c.nodes {
		r := c.cfg.regionOf(n.index)
		out[r] = append(out[r], n)
	}
	return out
}

// Topology returns the region of every node, in region order (one
// region, "r1", holding every node, without regions).
func (c *Cluster) Topology() []Region {
	var out []Region
	for r, ns := range c.regionNodes() {
		reg := Region{Name: RegionName(r)}
		for _, n := range ns {
			reg.Nodes = append(reg.Nodes, n.name)
		}
		out = append(out, reg)
	}
	return out
}

// Region is one region of the topology.
type Region struct {
	Name  string
	Nodes []string
}

// need is what a consistency level asks of a coordinator: at least total
// replicas, and at least perRegion[r] of region r.
type need struct {
	total     int
	perRegion []int
}

// needFor is what level cl (count n when positive, instead of cl) needs of
// a coordinator in region home.
func (c *Cluster) needFor(cl ConsistencyLevel, n int, home int) need {
	k := max(c.cfg.Regions, 1)
	nd := need{perRegion: make([]int, k)}
	rf := make([]int, k)
	for _, ns := range c.regionNodes() {
		for _, x := range ns {
			rf[c.cfg.regionOf(x.index)]++
		}
	}
	if n > 0 {
		nd.total = n
		return nd
	}
	switch cl {
	case LocalOne:
		nd.perRegion[home] = 1
	case LocalQuorum:
		nd.perRegion[home] = rf[home]/2 + 1
	case EachQuorum:
		for r := range k {
			nd.perRegion[r] = rf[r]/2 + 1
		}
	default:
		nd.total = cl.Replicas(c.cfg.Nodes)
	}
	return nd
}

// satisfied reports whether the replicas in got meet nd.
func (c *Cluster) satisfied(nd need, got []*node) bool {
	if len(got) < nd.total {
		return false
	}
	per := make([]int, len(nd.perRegion))
	for _, n := range got {
		per[c.cfg.regionOf(n.index)]++
	}
	for r, v := range nd.perRegion {
		if per[r] < v {
			return false
		}
	}
	return true
}

// describe renders nd for an error, e.g. "W=2" or "2 of r1".
func (nd need) describe(field string) string {
	var parts []string
	if nd.total > 0 {
		parts = append(parts, fmt.Sprintf("%s=%d", field, nd.total))
	}
	for r, v := range nd.perRegion {
		if v > 0 {
			parts = append(parts, fmt.Sprintf("%d of %s", v, RegionName(r)))
		}
	}
	return strings.Join(parts, " and ")
}

// pick chooses, from up (ring order from the coordinator, which comes
// first), a smallest prefix-by-preference set that meets nd: the
// coordinator, then the replicas each region requirement needs (the
// coordinator's region first), then more in ring order up to total.
// ok is false when up cannot meet nd.
func (c *Cluster) pick(nd need, up []*node) (chosen []*node, ok bool) {
	in := map[*node]bool{up[0]: true}
	chosen = []*node{up[0]}
	per := make([]int, len(nd.perRegion))
	per[c.cfg.regionOf(up[0].index)]++
	for _, n := range up[1:] {
		r := c.cfg.regionOf(n.index)
		if per[r] < nd.perRegion[r] {
			per[r]++
			in[n] = true
			chosen = append(chosen, n)
		}
	}
	for _, n := range up[1:] {
		if len(chosen) >= nd.total {
			break
		}
		if !in[n] {
			in[n] = true
			chosen = append(chosen, n)
		}
	}
	return chosen, c.satisfied(nd, chosen)
}

// linkShape is the shaping of one direction of one pair (all layers).
type linkShape struct {
	delay, jitter time.Duration
	loss          float64
}

var _ cluster.Shaper = (*Cluster)(nil)

// Shape replaces layer's links (cluster.Shaper): a message from one node
// (or the controller) to another takes the delays of every layer more,
// and is dropped with the combined loss. It takes effect for messages
// sent from then on.
func (c *Cluster) Shape(ctx context.Context, layer string, links []cluster.LinkShape) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, l := range links {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("sim: shape: %w", err)
		}
		for _, n := range append(slices.Clone(l.From), l.To...) {
			if n != cluster.Controller && c.byName[n] == nil {
				return fmt.Errorf("sim: shape: unknown node %q (nodes are %v)", n, c.names)
			}
		}
	}
	c.net.setLayer(layer, slices.Clone(links), c.names)
	return nil
}

// Unshape removes layer.
func (c *Cluster) Unshape(ctx context.Context, layer string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.net.setLayer(layer, nil, c.names)
	return nil
}

// MeasureRTT sends 10 pings from a to b over the simulated network, and
// times the answers that come back within 2s: the shaping and the
// network latency are in it; a down, paused or cut-off node does not
// answer.
func (c *Cluster) MeasureRTT(ctx context.Context, a, b string) (cluster.RTT, error) {
	const probes = 10
	r := cluster.RTT{Sent: probes}
	src := sender{}
	if a != cluster.Controller {
		n, err := c.node(ctx, a)
		if err != nil {
			return r, err
		}
		n.mu.Lock()
		src = sender{n, n.life}
		n.mu.Unlock()
	}
	if b != cluster.Controller && c.byName[b] == nil {
		return r, fmt.Errorf("sim: rtt: unknown node %q", b)
	}
	got := make(chan time.Duration, probes)
	for range probes {
		start := time.Now()
		c.send(src, b, 0, func(life uint64) {
			back := sender{}
			if b != cluster.Controller {
				back = sender{c.byName[b], life}
			}
			c.send(back, src.name(), 0, func(uint64) { got <- time.Since(start) })
		})
	}
	var rtts []time.Duration
	timeout := time.NewTimer(2 * time.Second)
	defer timeout.Stop()
	for len(rtts) < probes {
		select {
		case d := <-got:
			rtts = append(rtts, d)
		case <-timeout.C:
			goto done
		case <-ctx.Done():
			return r, ctx.Err()
		case <-c.net.done:
			return r, ErrClosed
		}
	}
done:
	r.Received = len(rtts)
	if len(rtts) > 0 {
		sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
		r.Min, r.Median, r.Max = rtts[0], rtts[len(rtts)/2], rtts[len(rtts)-1]
	}
	return r, nil
}

// regionLinks are the standing links between regions (l on every
// ordered pair of regions).
func (c *Cluster) regionLinks(l cluster.RegionLink) []cluster.LinkShape {
	var regs [][]string
	for _, r := range c.Topology() {
		regs = append(regs, r.Nodes)
	}
	return l.Shapes(regs)
}
