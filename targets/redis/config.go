//go:build linux

package redis

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// Mode is the topology of the deployment.
type Mode int

const (
	// Cluster is Redis Cluster: 3 masters sharing the 16384 hash slots
	// (redis-cli --cluster create), each with ReplicasPerMaster replicas.
	Cluster Mode = iota
	// Replication is one primary and Nodes-1 replicas (REPLICAOF), with
	// failover done by this target (cluster.Failoverer), as Sentinel
	// would.
	Replication
)

// String returns "cluster" or "replication".
func (m Mode) String() string {
	switch m {
	case Cluster:
		return "cluster"
	case Replication:
		return "replication"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses "cluster" or "replication".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "cluster":
		return Cluster, nil
	case "replication":
		return Replication, nil
	}
	return 0, fmt.Errorf("redis: mode %q: want cluster or replication", s)
}

// ParseWait parses the Wait setting: "off" or "0" (no WAIT), or the number
// of replicas each write waits for.
func ParseWait(s string) (int, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "off" || s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("redis: wait %q: want off or a replica count >= 0", s)
	}
	return n, nil
}

// Masters is the number of masters in Cluster mode (the minimum
// redis-cli --cluster create accepts).
const Masters = 3

// MaxNodes is the largest node count.
const MaxNodes = 12

// Defaults.
const (
	// DefaultWaitTimeout is the WAIT timeout when Config.Wait > 0 and
	// Config.WaitTimeout is zero. It must stay below the runner's
	// operation timeout (2 s by default), or WAIT outlives the operation.
	DefaultWaitTimeout = 500 * time.Millisecond
	// DefaultNodeTimeout is cluster-node-timeout in Cluster mode when
	// Config.NodeTimeout is zero (Redis's own default is 15 s).
	DefaultNodeTimeout = 5 * time.Second
)

// Config configures a Redis deployment on a local cluster (one network
// namespace per node).
type Config struct {
	// Mode is Cluster (default) or Replication.
	Mode Mode
	// Nodes is the node count. Cluster: Masters*(1+ReplicasPerMaster), the
	// default; any other value is refused. Replication: one primary (n1)
	// and Nodes-1 replicas, default 3.
	Nodes int
	// ReplicasPerMaster is the number of replicas of each master in
	// Cluster mode (default 0).
	ReplicasPerMaster int
	// Wait, when > 0, makes every write followed by WAIT Wait WaitTimeout
	// on the same connection; a write that fewer replicas acknowledged in
	// time is reported with an unknown outcome (info), since the primary
	// applied it. 0: no WAIT. It cannot exceed the replicas a primary has.
	Wait int
	// WaitTimeout is WAIT's timeout (default DefaultWaitTimeout).
	WaitTimeout time.Duration
	// AppendOnly turns on the append-only file with appendfsync always
	// (a write is fsynced before it is acknowledged). Off (the default):
	// no persistence at all (appendonly no, save ""), so a killed node
	// restarts empty.
	AppendOnly bool
	// NodeTimeout is cluster-node-timeout in Cluster mode (default
	// DefaultNodeTimeout).
	NodeTimeout time.Duration
	// StateDir holds per-node configuration, data and logs. Empty: a new
	// directory under os.TempDir(), removed by Close (the runner copies the
	// logs into the run directory first). Every
	// ancestor must be searchable by the server's user.
	StateDir string
	// KeepData keeps the state directory after Close (it is removed
	// otherwise, with everything the run wrote there, unless StateDir
	// names a directory that existed before).
	KeepData bool
	// Seed drives the clients' choice of replica (ReadFrom Replica).
	Seed int64
	// Subnet is the /24 of the node addresses (zero: the runtime's
	// choice).
	Subnet netip.Prefix
	// Runtime is where the nodes run (targets.Common.Runtime; nil: Plan
	// supports nothing and Probe and Deploy refuse).
	Runtime cluster.Runtime
	// User is the operating-system user the servers run as (default
	// "redis", created by Debian's redis-server package; root when that
	// user does not exist).
	User string
	// ReadFrom says where reads go in Replication mode (default the
	// primary).
	ReadFrom ReadFrom
	// MaxReplicaLag, when > 0, is the read policy of --max-replica-lag
	// (Replication mode, ReadFrom Replica): a read goes to a replica only
	// while its last sampled lag (SampleLag) is below it and the sample is
	// fresh, otherwise to the primary (see package readpolicy).
	MaxReplicaLag time.Duration
	// ServerConfig is the user's redis.conf lines (--server-config),
	// merged over chaoscheck's directives (see sharedConf); nil: none.
	// Validate refuses it when it sets a directive of ServerConfigRules.
	ServerConfig *serverconf.File
}

func (c *Config) defaults() {
	if c.Nodes == 0 {
		switch c.Mode {
		case Cluster:
			c.Nodes = Masters * (1 + c.ReplicasPerMaster)
		default:
			c.Nodes = 3
		}
	}
	if c.WaitTimeout == 0 {
		c.WaitTimeout = DefaultWaitTimeout
	}
	if c.NodeTimeout == 0 {
		c.NodeTimeout = DefaultNodeTimeout
	}
	if c.User == "" {
		c.User = "redis"
	}
}

// replicasPerPrimary is how many replicas each primary has.
func (c Config) replicasPerPrimary() int {
	if c.Mode == Cluster {
		return c.ReplicasPerMaster
	}
	return c.Nodes - 1
}

// Validate reports a configuration that cannot be deployed. Zero values
// are replaced by their defaults first.
func (c Config) Validate() error {
	c.defaults()
	switch c.Mode {
	case Cluster:
		if c.ReplicasPerMaster < 0 {
			return fmt.Errorf("redis: %d replicas per master", c.ReplicasPerMaster)
		}
		if want := Masters * (1 + c.ReplicasPerMaster); c.Nodes != want {
			return fmt.Errorf("redis: cluster mode with %d replicas per master needs %d nodes, got %d", c.ReplicasPerMaster, want, c.Nodes)
		}
	case Replication:
		if c.ReplicasPerMaster != 0 {
			return fmt.Errorf("redis: replicas per master is a cluster-mode setting; replication mode has Nodes-1 replicas")
		}
		if c.Nodes < 2 {
			return fmt.Errorf("redis: replication mode with %d nodes: want at least 2 (a primary and a replica)", c.Nodes)
		}
	default:
		return fmt.Errorf("redis: unknown mode %d", int(c.Mode))
	}
	if c.Nodes > MaxNodes {
		return fmt.Errorf("redis: %d nodes: at most %d", c.Nodes, MaxNodes)
	}
	if err := c.validateReadPolicy(); err != nil {
		return err
	}
	if c.Wait < 0 {
		return fmt.Errorf("redis: wait %d: want 0 (off) or a replica count", c.Wait)
	}
	if r := c.replicasPerPrimary(); c.Wait > r {
		return fmt.Errorf("redis: wait %d: a primary has only %d replicas (every write would time out)", c.Wait, r)
	}
	if c.WaitTimeout < time.Millisecond {
		return fmt.Errorf("redis: wait timeout %v: want at least 1ms (WAIT 0 would block forever)", c.WaitTimeout)
	}
	if c.NodeTimeout < 100*time.Millisecond {
		return fmt.Errorf("redis: node timeout %v: want at least 100ms", c.NodeTimeout)
	}
	if c.Subnet.IsValid() && (!c.Subnet.Addr().Is4() || c.Subnet.Bits() != 24) {
		return fmt.Errorf("redis: subnet %v: want an IPv4 /24", c.Subnet)
	}
	if c.ServerConfig != nil && c.ServerConfig.Format != serverconf.RedisConf {
		return fmt.Errorf("redis: server config %s is %s, want %s", c.ServerConfig.Path, c.ServerConfig.Format, serverconf.RedisConf)
	}
	if err := c.ServerConfig.Check(ServerConfigRules); err != nil {
		return err
	}
	return nil
}
