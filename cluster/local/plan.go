//go:build linux

package local

import "github.com/chaoscheck/chaoscheck/cluster"

// Plan is what a local cluster of n nodes can do, known before it
// exists: partitions (nftables), kill and restart, pause (cgroup freezer),
// delay and loss where ProbeShaper finds a netfilter queue, bandwidth
// limits where tc is installed, and clock skew only when libfaketime is installed (SetClockOffset
// refuses otherwise). Targets start from it and take away what their
// servers cannot take (cluster.Plan.Without), e.g. clock skew for a Go
// binary, and add what they provide on top (failover).
func Plan(n int) cluster.Plan {
	p := cluster.Plan{Nodes: n}.With(cluster.CanPartition, cluster.CanKill, cluster.CanPause)
	if err := ProbeShaper(); err != nil {
		p = p.Without(cluster.CanShape, err.Error())
	} else {
		p = p.With(cluster.CanShape)
	}
	if err := ProbeThrottle(); err != nil {
		p = p.Without(cluster.CanThrottle, err.Error())
	} else {
		p = p.With(cluster.CanThrottle)
	}
	if findFaketime() == "" {
		return p.Without(cluster.CanSkewClock, "libfaketime not found (install Debian package faketime)")
	}
	return p.With(cluster.CanSkewClock)
}
