//go:build linux

package cassandra

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// Ports every node listens on, inside its own namespace.
const (
	CQLPort     = 9042
	StoragePort = 7000
)

// DefaultImage is the official Cassandra image, the target's default on
// runtimes that run images. Its JVM runs the server; the server's jars
// are chaoscheck's (the same version, resolved once by Maven into the
// cache, NodeSpec.SharedDirs), not the image's /opt/cassandra/lib.
const DefaultImage = "cassandra:5.0"

// nodeNeeds is what the nodes run: the JVM through env (which drops the
// runtime's preload). The jars and the clock shim come from the
// controller's cache (NodeSpec.SharedDirs); the server runs as root.
func nodeNeeds() cluster.NodeNeeds {
	return cluster.NodeNeeds{Programs: []cluster.Program{{Name: "env"}, {Name: "java"}}}
}

// Registration is Cassandra's row in the target registry: its flag group
// and the constructor from those flags.
func Registration() targets.Registration {
	return targets.Registration{
		Name:         "cassandra",
		Summary:      "Apache Cassandra 5.0, from Maven Central",
		HostPackages: []string{"openjdk-17-jre-headless"},
		NodeNeeds:    nodeNeeds(),
		Image:        DefaultImage,
		Flags:        defineFlags,
	}
}

func defineFlags(fs *pflag.FlagSet) targets.Constructor {
	var (
		nodes, rf                               int
		cl, rcl, wcl, serialCL, heap, commitlog string
		coordinator                             string
		clientTimestamps                        bool
		serverConf                              string
		regions                                 int
		region                                  targets.RegionFlags
	)
	fs.IntVar(&regions, "regions", 1, "split the nodes into this many datacenters, in order (NetworkTopologyStrategy, GossipingPropertyFileSnitch, a replica on every node); clients are dealt to datacenters round-robin")
	region.Define(fs, "datacenters")
	fs.IntVar(&nodes, "nodes", DefaultNodes, "nodes")
	fs.IntVar(&rf, "replication-factor", 0, "replication factor of the keyspace (default: min(3, --nodes))")
	fs.StringVar(&cl, "cl", "ONE", "consistency level of reads and writes: ONE, TWO, THREE, QUORUM, ALL, LOCAL_QUORUM, LOCAL_ONE; reads also SERIAL, LOCAL_SERIAL; writes also ANY")
	fs.StringVar(&rcl, "read-cl", "", "read consistency level (default: --cl)")
	fs.StringVar(&wcl, "write-cl", "", "write consistency level (default: --cl)")
	fs.StringVar(&serialCL, "serial-cl", "SERIAL", "serial consistency of lightweight transactions (SERIAL, LOCAL_SERIAL)")
	fs.BoolVar(&clientTimestamps, "client-timestamps", false, "the driver stamps writes (default: the coordinator node's clock decides last-write-wins)")
	fs.StringVar(&heap, "heap", DefaultHeap, "JVM heap per node")
	fs.StringVar(&commitlog, "commitlog-sync", "batch", "batch (acknowledged = on disk) or periodic")
	fs.StringVar(&coordinator, "coordinator", "random", "nodes each client talks to: random (all, token-aware), or sticky (one node per client)")
	fs.StringVar(&serverConf, "server-config", "", "cassandra.yaml overrides merged over chaoscheck's (yours win); the ring, addresses, ports, directories, credentials and TLS are refused")
	return func(c targets.Common) (targets.Target, error) {
		if nodes < 1 || nodes > 9 {
			return nil, fmt.Errorf("--nodes must be within 1 and 9 for cassandra, got %d", nodes)
		}
		if fs.Changed("replication-factor") && rf < 1 {
			return nil, fmt.Errorf("--replication-factor must be at least 1, got %d", rf)
		}
		if fs.Changed("cl") && fs.Changed("read-cl") && fs.Changed("write-cl") {
			return nil, fmt.Errorf("--cl applies to no operation when --read-cl and --write-cl are both given: drop it")
		}
		var sticky bool
		switch coordinator {
		case "sticky":
			sticky = true
		case "random":
		default:
			return nil, fmt.Errorf("--coordinator must be random or sticky, got %q", coordinator)
		}
		level := func(v string) string {
			if v == "" {
				v = cl
			}
			return strings.ToUpper(v)
		}
		var sc *serverconf.File
		if fs.Changed("server-config") {
			var err error
			if sc, err = serverconf.Load(serverConf, serverconf.CassandraYAML); err != nil {
				return nil, err
			}
		}
		if regions < 1 || regions > nodes {
			return nil, fmt.Errorf("--regions must be within 1 and --nodes (%d), got %d", nodes, regions)
		}
		if regions > 1 && fs.Changed("replication-factor") {
			return nil, fmt.Errorf("--replication-factor applies to one datacenter: with --regions every node of each datacenter holds a replica")
		}
		link, err := region.Link(fs, regions)
		if err != nil {
			return nil, err
		}
		t, err := New(Config{
			ServerConfig: sc,
			Nodes:        nodes, ReplicationFactor: rf, ReadCL: level(rcl), WriteCL: level(wcl),
			SerialCL: strings.ToUpper(serialCL), ClientTimestamps: clientTimestamps,
			Sticky: sticky, Heap: heap, CommitlogSync: commitlog, Seed: c.Seed,
			Runtime: c.Runtime, Regions: regions, RegionRTT: link.RTT, RegionJitter: link.Jitter, RegionLoss: link.Loss,
		})
		if err != nil {
			return nil, err
		}
		if !link.IsZero() {
			if err := t.Plan().Supports(cluster.CanShape); err != nil {
				return nil, fmt.Errorf("--region-rtt, --region-jitter, --region-loss: %w", err)
			}
		}
		return t, nil
	}
}

// Plan is the runtime's faults (on the local runtime: clock skew when
// libfaketime is installed and Config.NoClockSkew is off); no failover: every node
// coordinates. It implements targets.Planner.
func (t *Target) Plan() cluster.Plan {
	p := cluster.PlanOn(t.cfg.Runtime, t.cfg.Nodes).
		Without(cluster.CanFailover, "Cassandra has no primary to fail over (every node coordinates): use --nemesis kill or partition")
	if t.cfg.NoClockSkew {
		p = p.Without(cluster.CanSkewClock, "clock skew is disabled (Config.NoClockSkew)")
	}
	p.Regions = t.cfg.Regions
	return p
}

// Addresses returns each node's CQL and storage (gossip) addresses. It
// implements targets.Addresser.
func (d *Deployment) Addresses() []targets.NodeAddr {
	var out []targets.NodeAddr
	for _, n := range d.lc.Nodes() {
		a := d.lc.Addr(n)
		out = append(out,
			targets.NodeAddr{Node: n, Service: "cql", Addr: netip.AddrPortFrom(a, CQLPort)},
			targets.NodeAddr{Node: n, Service: "storage", Addr: netip.AddrPortFrom(a, StoragePort)})
	}
	return out
}

var (
	_ targets.Planner   = (*Target)(nil)
	_ targets.Addresser = (*Deployment)(nil)
)
