//go:build linux

package postgres

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/isolation"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// Registration is PostgreSQL's row in the target registry: its flag group
// and the constructor from those flags.
func Registration() targets.Registration {
	return targets.Registration{
		Name:         "postgres",
		Summary:      "PostgreSQL 15, a primary and streaming replicas",
		NodeNeeds:    nodeNeeds(DefaultBinDir, "postgres"),
		Image:        DefaultImage,
		HostPackages: []string{"postgresql-15"},
		Flags:        defineFlags,
		Isolation:    isolationProber,

		IsolationReference: isolation.HermitagePostgres,
	}
}

func defineFlags(fs *pflag.FlagSet) targets.Constructor {
	var (
		nodes                            int
		replication, isolation, readFrom string
		serverConfig                     string
		maxReplicaLag                    time.Duration
	)
	fs.IntVar(&nodes, "nodes", 3, "nodes: a primary and replicas")
	fs.StringVar(&replication, "replication", "async", "streaming replication async or sync (synchronous_commit=on, ANY 1 standby)")
	fs.StringVar(&isolation, "isolation", "read-committed", "read-committed, repeatable-read or serializable")
	fs.StringVar(&readFrom, "read-from", "primary", "reads go to the primary, a replica or any node")
	fs.DurationVar(&maxReplicaLag, "max-replica-lag", 0, "with --read-from replica: a read goes to a replica only while its last sampled lag is below this (and the sample at most one --lag-interval old), otherwise to the primary")
	fs.StringVar(&serverConfig, "server-config", "", "a postgresql.conf fragment merged over chaoscheck's settings (yours win); addresses, ports, directories and replication wiring are refused")
	return func(c targets.Common) (targets.Target, error) {
		if nodes < 2 || nodes > MaxNodes {
			return nil, fmt.Errorf("--nodes must be within 2 and %d for postgres (a primary and at least one replica), got %d", MaxNodes, nodes)
		}
		rep, err := ParseReplication(replication)
		if err != nil {
			return nil, fmt.Errorf("--replication: %w", err)
		}
		iso, err := ParseIsolation(isolation)
		if err != nil {
			return nil, fmt.Errorf("--isolation: %w", err)
		}
		rf, err := ParseReadFrom(readFrom)
		if err != nil {
			return nil, fmt.Errorf("--read-from: %w", err)
		}
		var sc *serverconf.File
		if fs.Changed("server-config") {
			if sc, err = serverconf.Load(serverConfig, serverconf.PostgresConf); err != nil {
				return nil, err
			}
		}
		if fs.Changed("max-replica-lag") && maxReplicaLag <= 0 {
			return nil, fmt.Errorf("--max-replica-lag %v: want a positive duration", maxReplicaLag)
		}
		if maxReplicaLag > 0 && rf != Replica {
			return nil, fmt.Errorf("--max-replica-lag needs --read-from replica (got --read-from %s)", rf)
		}
		return New(Config{Nodes: nodes, Replication: rep, Isolation: iso, ReadFrom: rf, MaxReplicaLag: maxReplicaLag, Seed: c.Seed, Runtime: c.Runtime, ServerConfig: sc})
	}
}

// Plan is the runtime's faults (on the local runtime: clock skew when
// libfaketime is installed) plus failover. It implements
// targets.Planner.
func (t *Target) Plan() cluster.Plan {
	return cluster.PlanOn(t.cfg.Runtime, t.cfg.Nodes).With(cluster.CanFailover)
}

// Addresses returns each node's server address. It implements
// targets.Addresser.
func (d *Deployment) Addresses() []targets.NodeAddr {
	var out []targets.NodeAddr
	for _, n := range d.srv.lc.Nodes() {
		out = append(out, targets.NodeAddr{Node: n, Service: "postgres", Addr: netip.AddrPortFrom(d.srv.lc.Addr(n), Port)})
	}
	return out
}

var (
	_ targets.Planner   = (*Target)(nil)
	_ targets.Addresser = (*Deployment)(nil)
)
