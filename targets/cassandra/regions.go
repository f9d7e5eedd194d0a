//go:build linux

package cassandra

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/targets"
)

// # Datacenters
//
// With Config.Regions = K > 1 the nodes are split into K datacenters in
// order (4 nodes, 2 regions: n1 n2 are r1, n3 n4 r2; the datacenter of
// a node is named after its region), each node tells its datacenter
// through GossipingPropertyFileSnitch (its cassandra-rackdc.properties),
// and the keyspace replicates with NetworkTopologyStrategy, a replica on
// every node: the replication factor of a datacenter is its node count.
// Between the datacenters the runtime adds RegionRTT/2 each way (a
// standing shaping layer, cluster.Shaper, in place before the JVMs
// start). Clients are dealt to the regions round-robin (process mod K):
// each one contacts, and through a host filter talks only to, the nodes
// of its own datacenter (gocql's DC-aware policy, token-aware), so that
// only the consistency level decides whether a request waits for the
// other region: QUORUM is a majority of all replicas, LOCAL_QUORUM of
// the client's datacenter, EACH_QUORUM (writes) of every datacenter.

// RegionsLayer is the shaping layer of the standing delay between
// datacenters.
const RegionsLayer = "regions"

// regionOf is the 0-based region of the node at position i (0-based).
func (c *Config) regionOf(i int) int { return i * max(c.Regions, 1) / c.Nodes }

// dcName is the datacenter name of 0-based region r: r1, r2...
func dcName(r int) string { return fmt.Sprintf("r%d", r+1) }

// regionNodes lists the nodes of each region, in order.
func (c *Config) regionNodes(nodes []string) [][]string {
	out := make([][]string, max(c.Regions, 1))
	for i, n := range nodes {
		r := c.regionOf(i)
		out[r] = append(out[r], n)
	}
	return out
}

// keyspaceStatement creates the keyspace: SimpleStrategy with the
// replication factor, or, with regions, NetworkTopologyStrategy with a
// replica on every node of every datacenter.
func (d *Deployment) keyspaceStatement() string {
	if d.cfg.Regions < 2 {
		return fmt.Sprintf(schema[0], d.cfg.ReplicationFactor)
	}
	var parts []string
	for r, ns := range d.cfg.regionNodes(d.lc.Nodes()) {
		parts = append(parts, fmt.Sprintf("'%s': %d", dcName(r), len(ns)))
	}
	return "CREATE KEYSPACE IF NOT EXISTS " + Keyspace + " WITH replication = {'class': 'NetworkTopologyStrategy', " + strings.Join(parts, ", ") + "}"
}

// snitch is the endpoint_snitch of the nodes.
func (c *Config) snitch() string {
	if c.Regions > 1 {
		return "GossipingPropertyFileSnitch"
	}
	return "SimpleSnitch"
}

// rackDC is the node's cassandra-rackdc.properties (read by
// GossipingPropertyFileSnitch) for datacenter dc.
func rackDC(dc string) string { return "dc=" + dc + "\nrack=rack1\n" }

// shapeRegions puts the standing delay between the datacenters in place.
func (d *Deployment) shapeRegions(ctx context.Context) error {
	if d.cfg.Regions < 2 || d.cfg.regionLink().IsZero() {
		return nil
	}
	links := d.cfg.regionLink().Shapes(d.cfg.regionNodes(d.lc.Nodes()))
	if err := d.cl.Shape(ctx, RegionsLayer, links); err != nil {
		return fmt.Errorf("cassandra: region delay: %w", err)
	}
	return nil
}

// regionLink is the standing condition between the datacenters.
func (c *Config) regionLink() cluster.RegionLink {
	return cluster.RegionLink{RTT: c.RegionRTT, Jitter: c.RegionJitter, Loss: c.RegionLoss}
}

// homeRegion is the region of a client process (round-robin).
func (c *Config) homeRegion(process int) int {
	k := max(c.Regions, 1)
	return (process%k + k) % k
}

var _ targets.Regioner = (*Deployment)(nil)

// Regions maps each node to its datacenter (targets.Regioner); nil with
// one datacenter.
func (d *Deployment) Regions() map[string]string {
	if d.cfg.Regions < 2 {
		return nil
	}
	out := map[string]string{}
	for r, ns := range d.cfg.regionNodes(d.lc.Nodes()) {
		for _, n := range ns {
			out[n] = dcName(r)
		}
	}
	return out
}

var _ cluster.Regioned = (*Cluster)(nil)

// Regions of the cluster are its deployment's datacenters
// (cluster.Regioned).
func (c *Cluster) Regions() map[string]string { return c.d.Regions() }

// Regions of a view are its deployment's.
func (v *view) Regions() map[string]string { return v.d.Regions() }

// regionSettings describe the datacenters.
func (d *Deployment) regionSettings() []targets.Setting {
	if d.cfg.Regions < 2 {
		return nil
	}
	var parts, rf []string
	for r, ns := range d.cfg.regionNodes(d.lc.Nodes()) {
		parts = append(parts, dcName(r)+": "+strings.Join(ns, " "))
		rf = append(rf, fmt.Sprintf("%s=%d", dcName(r), len(ns)))
	}
	rtt := "none"
	if !d.cfg.regionLink().IsZero() {
		rtt = d.cfg.regionLink().String() + " between the datacenters (half each way, by the runtime's shaper)"
	}
	return []targets.Setting{
		{Name: "datacenters", Value: fmt.Sprintf("%d (%s)", d.cfg.Regions, strings.Join(parts, "; "))},
		{Name: "replication", Value: "NetworkTopologyStrategy " + strings.Join(rf, ", ")},
		{Name: "snitch", Value: d.cfg.snitch()},
		{Name: "region rtt", Value: rtt},
		{Name: "clients", Value: fmt.Sprintf("dealt to datacenters round-robin (process mod %d); each talks only to its own datacenter's nodes (DC-aware, token-aware)", d.cfg.Regions)},
	}
}

// topology is the typed layout of the datacenters (nil with one): each
// with its nodes, all of them replicas (NetworkTopologyStrategy), the
// region RTT and the dealing of clients (rundir.Facts.Topology).
func (d *Deployment) topology() *rundir.Topology {
	if d.cfg.Regions < 2 {
		return nil
	}
	t := &rundir.Topology{
		RegionRTTNS:    d.cfg.RegionRTT.Nanoseconds(),
		RegionJitterNS: d.cfg.RegionJitter.Nanoseconds(),
		RegionLossPct:  100 * d.cfg.RegionLoss,
		Clients:        fmt.Sprintf("dealt to datacenters round-robin (process mod %d); each talks only to its own datacenter's nodes (DC-aware, token-aware)", d.cfg.Regions),
	}
	if !d.cfg.regionLink().IsZero() {
		t.RegionDelayBy = "the runtime's shaper (half each way)"
	}
	for r, ns := range d.cfg.regionNodes(d.lc.Nodes()) {
		t.Regions = append(t.Regions, rundir.Region{Name: dcName(r), Nodes: append([]string(nil), ns...), Replicas: len(ns)})
	}
	return t
}

// validateRegions checks the region settings of c.
func (c *Config) validateRegions() []error {
	var errs []error
	if c.Regions < 0 || c.Regions > c.Nodes {
		errs = append(errs, fmt.Errorf("regions %d: want 1 to the node count %d", c.Regions, c.Nodes))
	}
	if c.RegionRTT < 0 {
		errs = append(errs, fmt.Errorf("region RTT %v is negative", c.RegionRTT))
	}
	if c.RegionRTT > 0 && c.Regions < 2 {
		errs = append(errs, fmt.Errorf("a region RTT (%v) needs at least 2 regions", c.RegionRTT))
	}
	if c.Regions > 1 && c.RegionRTT > 10*time.Second {
		errs = append(errs, fmt.Errorf("region RTT %v: at most 10s", c.RegionRTT))
	}
	if c.RegionJitter < 0 || c.RegionLoss < 0 || c.RegionLoss >= 1 {
		errs = append(errs, fmt.Errorf("region jitter %v and loss %g: want a jitter of 0 or more and a loss within 0 and 1", c.RegionJitter, c.RegionLoss))
	}
	if (c.RegionJitter > 0 || c.RegionLoss > 0) && c.Regions < 2 {
		errs = append(errs, fmt.Errorf("a region jitter or loss needs at least 2 regions"))
	}
	if c.ReadCL == "EACH_QUORUM" {
		errs = append(errs, fmt.Errorf("read consistency EACH_QUORUM: Cassandra supports it for writes only"))
	}
	return errs
}

var _ targets.DeployBudget = (*Target)(nil)

// DeployTimeout is the start timeout, plus the time to fetch the jars
// when they are not cached yet (targets.DeployBudget).
func (t *Target) DeployTimeout() time.Duration {
	root, err := t.cfg.cacheRoot()
	if err == nil {
		if _, err := os.Stat(filepath.Join(root, "cassandra-"+t.cfg.Version, markerFile)); err == nil {
			return t.cfg.StartTimeout
		}
	}
	return t.cfg.StartTimeout + MavenTimeout
}
