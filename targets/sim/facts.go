package sim

import (
	"fmt"

	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/targets"
)

var _ targets.FactReporter = (*Deployment)(nil)

// Facts returns the simulated cluster's typed facts
// (targets.FactReporter): every key on every node, R and W from the
// levels, last write wins on the coordinator's clock.
func (d *Deployment) Facts() targets.Facts {
	cfg := d.cluster.cfg
	n, r, w := cfg.Nodes, cfg.ReadReplicas(), cfg.WriteReplicas()
	short := func(cl ConsistencyLevel, field string, k int) string {
		if cl == 0 {
			return fmt.Sprintf("%s=%d", field, k)
		}
		return cl.String()
	}
	f := targets.Facts{
		Nodes: n, ReplicationFactor: n,
		ReadLevel: short(cfg.ReadCL, "R", r), WriteLevel: short(cfg.WriteCL, "W", w),
		ReadReplicas: r, WriteReplicas: w,
		Replication:       rundir.Synchronous,
		ReplicationDetail: fmt.Sprintf("synchronous to all %d replicas", n),
		Conflict:          "last write wins, by coordinator clock", ConflictByClock: true,
		Coordinator: rundir.StickyCoordinator, CoordinatorDetail: fmt.Sprintf("sticky (process mod %d)", n),
		Durability:    "a killed node keeps every write it applied",
		ReadRepair:    rundir.Bool(cfg.ReadRepair),
		HintedHandoff: rundir.Bool(cfg.HintedHandoff),
	}
	if w < n {
		f.Replication = rundir.Quorum
		f.ReplicationDetail = fmt.Sprintf("synchronous to W=%d replicas, asynchronous to the other %d after %v", w, n-w, cfg.ReplicationLag)
	}
	if cfg.Coordinator == Random {
		f.Coordinator, f.CoordinatorDetail = rundir.RandomCoordinator, "random node per request"
	}
	f.Topology = d.topology()
	if cfg.LoseUnflushedOnKill {
		f.Durability = fmt.Sprintf("a killed node loses the writes of the last %v (flush interval)", cfg.FlushInterval)
		f.DurabilityLosesAcked = true
	}
	return f
}

// topology is the typed layout of a multi-region cluster (nil with one
// region): the regions with their nodes (every node holds a replica of
// every key), the region RTT, the dealing of clients, and whether writes
// are active-active.
func (d *Deployment) topology() *rundir.Topology {
	cfg := d.cluster.cfg
	if cfg.Regions < 2 {
		return nil
	}
	t := &rundir.Topology{
		RegionRTTNS:    cfg.RegionRTT.Nanoseconds(),
		RegionJitterNS: cfg.RegionJitter.Nanoseconds(),
		RegionLossPct:  100 * cfg.RegionLoss,
		RegionDelayBy:  "the simulated network (half each way, on every message)",
		Clients:        fmt.Sprintf("dealt to regions round-robin (process mod %d), each to coordinators of its own region", cfg.Regions),
		ActiveActive:   cfg.WriteCL.local() && cfg.WriteCL != EachQuorum && cfg.W == 0,
	}
	for _, r := range d.cluster.Topology() {
		t.Regions = append(t.Regions, rundir.Region{Name: r.Name, Nodes: append([]string(nil), r.Nodes...), Replicas: len(r.Nodes)})
	}
	return t
}
