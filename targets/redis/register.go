//go:build linux

package redis

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// Registration is Redis's row in the target registry: its flag group and
// the constructor from those flags.
func Registration() targets.Registration {
	return targets.Registration{
		Name:         "redis",
		Summary:      "Redis: Redis Cluster, or a primary and replicas",
		NodeNeeds:    nodeNeeds("redis"),
		Image:        DefaultImage,
		HostPackages: []string{"redis-server", "redis-tools"},
		Flags:        defineFlags,
	}
}

func defineFlags(fs *pflag.FlagSet) targets.Constructor {
	var (
		nodes      int
		mode, wait string
		appendOnly bool
		serverConf string
		readFrom   string
		maxLag     time.Duration
	)
	fs.IntVar(&nodes, "nodes", 3, fmt.Sprintf("nodes (%d in cluster mode)", Masters))
	fs.StringVar(&mode, "redis-mode", "cluster", "cluster (3 masters, slots) or replication (a primary and replicas)")
	fs.StringVar(&wait, "wait", "off", "WAIT for N replicas after each write (off or N)")
	fs.BoolVar(&appendOnly, "append-only", false, "append-only file with appendfsync always (default: no persistence)")
	fs.StringVar(&readFrom, "read-from", "primary", "replication mode: reads go to the primary or a replica")
	fs.DurationVar(&maxLag, "max-replica-lag", 0, "with --read-from replica: a read goes to a replica only while its last sampled lag is below this (and the sample at most one --lag-interval old), otherwise to the primary")
	fs.StringVar(&serverConf, "server-config", "", "redis.conf lines merged over chaoscheck's (yours win); addresses, ports, directories, passwords and replication or cluster wiring are refused")
	return func(c targets.Common) (targets.Target, error) {
		if nodes < 1 || nodes > MaxNodes {
			return nil, fmt.Errorf("--nodes must be within 1 and %d for redis, got %d", MaxNodes, nodes)
		}
		m, err := ParseMode(mode)
		if err != nil {
			return nil, fmt.Errorf("--redis-mode: %w", err)
		}
		w, err := ParseWait(wait)
		if err != nil {
			return nil, fmt.Errorf("--wait: %w", err)
		}
		if m == Cluster && nodes != Masters {
			return nil, fmt.Errorf("--nodes %d: redis cluster mode has exactly %d masters (give --nodes %d, or --redis-mode replication for a primary and %d replicas)", nodes, Masters, Masters, nodes-1)
		}
		rf, err := ParseReadFrom(readFrom)
		if err != nil {
			return nil, fmt.Errorf("--read-from: %w", err)
		}
		if fs.Changed("max-replica-lag") && maxLag <= 0 {
			return nil, fmt.Errorf("--max-replica-lag %v: want a positive duration", maxLag)
		}
		if m != Replication && (rf != Primary || maxLag > 0) {
			return nil, fmt.Errorf("--read-from and --max-replica-lag apply to --redis-mode replication (cluster mode reads from each slot's master)")
		}
		if maxLag > 0 && rf != Replica {
			return nil, fmt.Errorf("--max-replica-lag needs --read-from replica (got --read-from %s)", rf)
		}
		var sc *serverconf.File
		if fs.Changed("server-config") {
			if sc, err = serverconf.Load(serverConf, serverconf.RedisConf); err != nil {
				return nil, err
			}
		}
		return New(Config{Mode: m, Nodes: nodes, Wait: w, AppendOnly: appendOnly, ReadFrom: rf, MaxReplicaLag: maxLag, Seed: c.Seed, Runtime: c.Runtime, ServerConfig: sc})
	}
}

// Plan is the runtime's faults without clock skew (libfaketime
// breaks Debian's redis-server), with failover in Replication mode only
// (Redis Cluster fails over by itself). It implements targets.Planner.
func (t *Target) Plan() cluster.Plan {
	p := cluster.PlanOn(t.cfg.Runtime, t.cfg.Nodes).
		Without(cluster.CanSkewClock, "libfaketime hangs or kills Debian's redis-server: clock faults work with --target sim, postgres or cassandra")
	if t.cfg.Mode == Replication {
		return p.With(cluster.CanFailover)
	}
	return p.Without(cluster.CanFailover, "Redis Cluster has no single primary (each master fails over by itself): use --redis-mode replication")
}

// Addresses returns each node's server address. It implements
// targets.Addresser.
func (d *Deployment) Addresses() []targets.NodeAddr {
	var out []targets.NodeAddr
	for _, n := range d.srv.lc.Nodes() {
		out = append(out, targets.NodeAddr{Node: n, Service: "redis", Addr: netip.AddrPortFrom(d.srv.lc.Addr(n), Port)})
	}
	return out
}

var (
	_ targets.Planner   = (*Target)(nil)
	_ targets.Addresser = (*Deployment)(nil)
)
