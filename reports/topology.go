package reports

import (
	"fmt"
	"strings"

	"github.com/chaoscheck/chaoscheck/rundir"
)

// topologyView is the report's topology section: the regions of a
// multi-region deployment, read from test.json's typed facts
// (rundir.Facts.Topology), never from the target's settings strings.
type topologyView struct {
	Regions      []topologyRegion
	RTT, DelayBy string
	Clients      string
	ActiveActive bool
}

type topologyRegion struct {
	Name, Nodes string
	Replicas    int
}

// topologyOf is the section for facts (nil: one region, or no facts).
func topologyOf(f *rundir.Facts) *topologyView {
	if f == nil || f.Topology == nil || len(f.Topology.Regions) == 0 {
		return nil
	}
	t := f.Topology
	v := &topologyView{RTT: "none", DelayBy: t.RegionDelayBy, Clients: t.Clients, ActiveActive: t.ActiveActive}
	if t.RegionRTTNS > 0 {
		v.RTT = fmtDuration(t.RegionRTTNS)
	}
	if t.RegionJitterNS > 0 {
		v.RTT += " ± " + fmtDuration(t.RegionJitterNS)
	}
	if t.RegionLossPct > 0 {
		v.RTT += fmt.Sprintf(", %.3g%% of packets lost each way", t.RegionLossPct)
	}
	for _, r := range t.Regions {
		v.Regions = append(v.Regions, topologyRegion{Name: r.Name, Nodes: strings.Join(r.Nodes, " "), Replicas: r.Replicas})
	}
	return v
}
