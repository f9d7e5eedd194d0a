package rundir

// Topology is how a multi-region deployment is laid out (Facts.Topology;
// nil for one region): the regions in order with their nodes, the
// standing delay between them, and how clients are dealt to them.
type Topology struct {
	// Regions are the regions (datacenters), in order.
	Regions []Region `json:"regions"`
	// RegionRTTNS is the standing round-trip time between any two
	// regions, in nanoseconds (half added each way); 0: none.
	RegionRTTNS int64 `json:"region_rtt_ns,omitempty"`
	// RegionJitterNS is the jitter of that round trip (half each way);
	// RegionLossPct the percentage of packets lost on each direction of
	// each link between regions. 0: none.
	RegionJitterNS int64   `json:"region_jitter_ns,omitempty"`
	RegionLossPct  float64 `json:"region_loss_pct,omitempty"`
	// RegionDelayBy says what adds the region delay, for people ("the
	// runtime's shaper", "the simulated network").
	RegionDelayBy string `json:"region_delay_by,omitempty"`
	// Clients says how the clients are dealt to the regions and which
	// nodes each one talks to, for people.
	Clients string `json:"clients,omitempty"`
	// ActiveActive says that each region acknowledges writes on its own
	// and replicates them to the others asynchronously (conflicts by
	// last write wins).
	ActiveActive bool `json:"active_active,omitempty"`
}

// Region is one region of a Topology.
type Region struct {
	// Name is the region's (and datacenter's) name: r1, r2...
	Name string `json:"name"`
	// Nodes are its nodes, in order.
	Nodes []string `json:"nodes"`
	// Replicas is the replicas of each key it holds (0: not stated).
	Replicas int `json:"replicas,omitempty"`
}

// RegionOf maps every node of t to its region's name (nil for a nil
// topology): what measures.Options.Regions takes.
func (t *Topology) RegionOf() map[string]string {
	if t == nil || len(t.Regions) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, r := range t.Regions {
		for _, n := range r.Nodes {
			out[n] = r.Name
		}
	}
	return out
}
