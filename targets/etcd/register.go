//go:build linux

package etcd

import (
	"fmt"
	"net/netip"

	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// Registration is etcd's row in the target registry: its flag group and
// the constructor from those flags.
func Registration() targets.Registration {
	return targets.Registration{
		Name:         "etcd",
		Summary:      "etcd 3.4, Debian's etcd-server",
		NodeNeeds:    nodeNeeds(),
		Image:        DefaultImage,
		HostPackages: []string{"etcd-server"},
		Flags:        defineFlags,
	}
}

func defineFlags(fs *pflag.FlagSet) targets.Constructor {
	var (
		nodes             int
		read, coordinator string
		preVote           bool
		serverConf        string
	)
	fs.IntVar(&nodes, "nodes", 3, "nodes")
	fs.StringVar(&read, "etcd-read", "linearizable", "reads linearizable (quorum) or serializable (any member's local state)")
	fs.BoolVar(&preVote, "pre-vote", true, "raft pre-vote (recorded in test.json)")
	fs.StringVar(&coordinator, "coordinator", "random", "nodes each client talks to: random (all, balanced), or sticky (one node per client)")
	fs.StringVar(&serverConf, "server-config", "", "etcd flags, one a line (--name=value), merged over chaoscheck's (yours win); names, URLs, directories, TLS and cluster wiring are refused")
	return func(c targets.Common) (targets.Target, error) {
		if nodes < 1 || (c.Runtime != nil && nodes > c.Runtime.MaxNodes()) {
			return nil, fmt.Errorf("--nodes must be within 1 and %d for etcd, got %d", maxNodes(c.Runtime), nodes)
		}
		mode, err := ParseReadMode(read)
		if err != nil {
			return nil, fmt.Errorf("--etcd-read: %w", err)
		}
		var sticky bool
		switch coordinator {
		case "sticky":
			sticky = true
		case "random":
		default:
			return nil, fmt.Errorf("--coordinator must be random or sticky, got %q", coordinator)
		}
		var sc *serverconf.File
		if fs.Changed("server-config") {
			if sc, err = serverconf.Load(serverConf, serverconf.EtcdFlags); err != nil {
				return nil, err
			}
		}
		return New(Config{Nodes: nodes, Read: mode, PreVote: Bool(preVote), Seed: c.Seed, Sticky: sticky, Runtime: c.Runtime, ServerConfig: sc})
	}
}

// Plan is the runtime's faults without clock skew (etcd reads the
// vDSO clock, which no preload reaches) and without failover (raft elects
// its own leader). It implements targets.Planner.
func (t *Target) Plan() cluster.Plan {
	return cluster.PlanOn(t.cfg.Runtime, t.cfg.Nodes).
		Without(cluster.CanSkewClock, "etcd is a Go program, which reads the clock through the vDSO where no LD_PRELOAD reaches: clock faults work with --target sim, postgres or cassandra").
		Without(cluster.CanFailover, "etcd elects its leader itself (raft): use --nemesis kill or partition to make it elect another; failover is for primary/replica targets (postgres, redis --redis-mode replication)")
}

// Addresses returns each member's client and peer URLs' addresses. It
// implements targets.Addresser.
func (d *Deployment) Addresses() []targets.NodeAddr {
	var out []targets.NodeAddr
	for _, n := range d.nodes {
		a := d.lc.Addr(n)
		out = append(out,
			targets.NodeAddr{Node: n, Service: "client", Addr: netip.AddrPortFrom(a, ClientPort)},
			targets.NodeAddr{Node: n, Service: "peer", Addr: netip.AddrPortFrom(a, PeerPort)})
	}
	return out
}

var (
	_ targets.Planner   = (*Target)(nil)
	_ targets.Addresser = (*Deployment)(nil)
)

// maxNodes is the runtime's largest node count (0: no runtime, so no
// bound is known).
func maxNodes(rt cluster.Runtime) int {
	if rt == nil {
		return 0
	}
	return rt.MaxNodes()
}
