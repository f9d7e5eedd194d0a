//go:build linux

package cassandra

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// DefaultVersion is the Cassandra release fetched from Maven Central: the
// newest 5.0.x that resolved when this target was written (5.0.0 to 5.0.9
// are published).
const DefaultVersion = "5.0.9"

// Defaults of Config.
const (
	DefaultNodes             = 3
	DefaultReplicationFactor = 3
	DefaultHeap              = "768m"
	DefaultStartTimeout      = 3 * time.Minute
	DefaultConnectTimeout    = 2 * time.Second
	DefaultRequestTimeout    = 2 * time.Second
	// DefaultServerTimeout is every server-side request timeout
	// (read, write, counter, CAS contention): shorter than the client's,
	// so that a slow replica set answers with a typed timeout error rather
	// than the client giving up without knowing why.
	DefaultServerTimeout = time.Second
)

// Keyspace is the keyspace of the tables the clients use.
const Keyspace = "chaoscheck"

// Config is a Cassandra cluster and how clients talk to it.
type Config struct {
	// Nodes is the node count (default 3).
	Nodes int
	// ReadCL is the consistency level of reads: ONE, TWO, THREE, QUORUM,
	// ALL, LOCAL_QUORUM, LOCAL_ONE, or SERIAL / LOCAL_SERIAL (a Paxos
	// read, linearizable with LWTs). Default QUORUM.
	ReadCL string
	// WriteCL is the consistency level of plain writes, counter
	// increments and the commit phase of LWTs (not SERIAL). Default
	// QUORUM.
	WriteCL string
	// SerialCL is the serial consistency of LWTs (CAS): SERIAL (default)
	// or LOCAL_SERIAL.
	SerialCL string
	// ReplicationFactor of the chaoscheck keyspace (default 3, at most
	// Nodes).
	ReplicationFactor int
	// ClientTimestamps makes the driver assign write timestamps (the
	// controller's clock). False: the coordinator node assigns them, so a
	// node whose clock is skewed decides last-write-wins.
	ClientTimestamps bool
	// Sticky makes each client talk to one node only (process p to node
	// p mod Nodes). False: every node, token-aware with round-robin
	// fallback.
	Sticky bool
	// Heap is -Xms and -Xmx of each node's JVM, e.g. "768m", "1g"
	// (default 768m: three nodes need about 3.5 GiB in all).
	Heap string
	// CommitlogSync is "batch" (default: an acknowledged write is on
	// disk, so SIGKILL loses nothing acknowledged) or "periodic" (10 s:
	// faster, and a killed node can lose acknowledged writes).
	CommitlogSync string
	// Version is the Cassandra version fetched from Maven Central
	// (default DefaultVersion).
	Version string
	// StateDir holds node data, configuration and logs. Empty: a new
	// temporary directory, removed by Close (the runner copies the logs
	// into the run directory first).
	StateDir string
	// KeepData keeps the state directory after Close (it is removed
	// otherwise, with everything the run wrote there, unless StateDir
	// names a directory that existed before).
	KeepData bool
	// CacheDir holds the server's jars (CacheDir/cassandra-<version>/lib).
	// Empty: $XDG_CACHE_HOME/chaoscheck, else ~/.cache/chaoscheck.
	CacheDir string
	// Subnet is the /24 of the node addresses. Zero: the runtime claims a
	// free one.
	Subnet netip.Prefix
	// Runtime is where the nodes run (targets.Common.Runtime; nil: Plan
	// supports nothing and Probe and Deploy refuse).
	Runtime cluster.Runtime
	// StartTimeout bounds starting the nodes until the ring is whole
	// (default 3 min).
	StartTimeout time.Duration
	// ConnectTimeout and RequestTimeout are the driver's (defaults 2 s).
	ConnectTimeout, RequestTimeout time.Duration
	// ServerTimeout is every server-side request timeout (default 1 s).
	ServerTimeout time.Duration
	// NoClockSkew runs the JVMs without libfaketime (SetClockOffset then
	// fails with cluster.ErrUnsupported). libfaketime costs CPU on every
	// clock call, and the JVM makes many: without it nodes start faster.
	NoClockSkew bool
	// Regions, when more than 1, splits the nodes into that many
	// datacenters in order (see regions.go); the replication factor is
	// then a replica on every node of each datacenter (ReplicationFactor
	// must be 0 or Nodes). RegionRTT is the standing round trip between
	// datacenters, RegionJitter its jitter and RegionLoss the probability
	// that a packet between two datacenters is lost (each way), which
	// need a runtime with cluster.CanShape.
	Regions      int
	RegionRTT    time.Duration
	RegionJitter time.Duration
	RegionLoss   float64
	// Seed is recorded in Describe; the target itself draws nothing at
	// random apart from the resource prefix.
	Seed int64
	// ServerConfig is the user's cassandra.yaml overrides
	// (--server-config), merged over each node's generated file; nil:
	// none. Validate refuses it when it sets a key of ServerConfigRules.
	ServerConfig *serverconf.File
}

var heapRE = regexp.MustCompile(`^[1-9][0-9]*[mMgG]$`)

func (c *Config) defaults() {
	if c.Nodes == 0 {
		c.Nodes = DefaultNodes
	}
	if c.Regions == 0 {
		c.Regions = 1
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = min(DefaultReplicationFactor, c.Nodes)
		if c.Regions > 1 {
			c.ReplicationFactor = c.Nodes
		}
	}
	c.ReadCL = strings.ToUpper(strings.TrimSpace(c.ReadCL))
	c.WriteCL = strings.ToUpper(strings.TrimSpace(c.WriteCL))
	c.SerialCL = strings.ToUpper(strings.TrimSpace(c.SerialCL))
	if c.ReadCL == "" {
		c.ReadCL = "QUORUM"
	}
	if c.WriteCL == "" {
		c.WriteCL = "QUORUM"
	}
	if c.SerialCL == "" {
		c.SerialCL = "SERIAL"
	}
	if c.Heap == "" {
		c.Heap = DefaultHeap
	}
	if c.CommitlogSync == "" {
		c.CommitlogSync = "batch"
	}
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
		if c.Regions > 1 {
			// Schema agreement and the ALL writes of the readiness check
			// cross the region delay: measured 1m54s for 2+2 nodes at
			// 80 ms on a loaded 2-core machine, once over 3 min.
			c.StartTimeout = 2 * DefaultStartTimeout
		}
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.ServerTimeout <= 0 {
		c.ServerTimeout = DefaultServerTimeout
	}
}

// consistencies maps the accepted names to the driver's levels.
var consistencies = map[string]gocql.Consistency{
	"ANY":          gocql.Any,
	"ONE":          gocql.One,
	"TWO":          gocql.Two,
	"THREE":        gocql.Three,
	"QUORUM":       gocql.Quorum,
	"ALL":          gocql.All,
	"LOCAL_QUORUM": gocql.LocalQuorum,
	"LOCAL_ONE":    gocql.LocalOne,
	"EACH_QUORUM":  gocql.EachQuorum,
	"SERIAL":       gocql.Consistency(gocql.Serial),
	"LOCAL_SERIAL": gocql.Consistency(gocql.LocalSerial),
}

var versionRE = regexp.MustCompile(`^5\.0\.[0-9]+$`)

// Validate reports a bad configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Nodes < 1 || c.Nodes > 9 {
		errs = append(errs, fmt.Errorf("nodes: %d, want 1 to 9", c.Nodes))
	}
	if c.ReplicationFactor < 1 || c.ReplicationFactor > c.Nodes {
		errs = append(errs, fmt.Errorf("replication factor %d: want 1 to the node count %d", c.ReplicationFactor, c.Nodes))
	}
	if _, ok := consistencies[c.ReadCL]; !ok || c.ReadCL == "ANY" {
		errs = append(errs, fmt.Errorf("read consistency %q: want ONE, TWO, THREE, QUORUM, ALL, LOCAL_QUORUM, LOCAL_ONE, SERIAL or LOCAL_SERIAL", c.ReadCL))
	}
	if _, ok := consistencies[c.WriteCL]; !ok || strings.HasSuffix(c.WriteCL, "SERIAL") {
		errs = append(errs, fmt.Errorf("write consistency %q: want ANY, ONE, TWO, THREE, QUORUM, ALL, LOCAL_QUORUM, LOCAL_ONE or EACH_QUORUM", c.WriteCL))
	}
	errs = append(errs, c.validateRegions()...)
	if c.Regions > 1 && c.ReplicationFactor != c.Nodes {
		errs = append(errs, fmt.Errorf("replication factor %d with %d datacenters: the keyspace has a replica on every node (leave it 0)", c.ReplicationFactor, c.Regions))
	}
	if c.SerialCL != "SERIAL" && c.SerialCL != "LOCAL_SERIAL" {
		errs = append(errs, fmt.Errorf("serial consistency %q: want SERIAL or LOCAL_SERIAL", c.SerialCL))
	}
	if n := replicasFor(c.ReadCL, c.ReplicationFactor); n > c.ReplicationFactor {
		errs = append(errs, fmt.Errorf("read consistency %s needs %d replicas, more than the replication factor %d", c.ReadCL, n, c.ReplicationFactor))
	}
	if n := replicasFor(c.WriteCL, c.ReplicationFactor); n > c.ReplicationFactor {
		errs = append(errs, fmt.Errorf("write consistency %s needs %d replicas, more than the replication factor %d", c.WriteCL, n, c.ReplicationFactor))
	}
	if !heapRE.MatchString(c.Heap) {
		errs = append(errs, fmt.Errorf("heap %q: want a JVM size such as 768m or 1g", c.Heap))
	}
	if c.CommitlogSync != "batch" && c.CommitlogSync != "periodic" {
		errs = append(errs, fmt.Errorf("commitlog sync %q: want batch or periodic", c.CommitlogSync))
	}
	if !versionRE.MatchString(c.Version) {
		errs = append(errs, fmt.Errorf("version %q: want a 5.0.x release", c.Version))
	}
	if c.Subnet.IsValid() && (!c.Subnet.Addr().Is4() || c.Subnet.Bits() != 24) {
		errs = append(errs, fmt.Errorf("subnet %v: want an IPv4 /24", c.Subnet))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cassandra: %w", err)
	}
	if c.ServerConfig != nil && c.ServerConfig.Format != serverconf.CassandraYAML {
		return fmt.Errorf("cassandra: server config %s is %s, want %s", c.ServerConfig.Path, c.ServerConfig.Format, serverconf.CassandraYAML)
	}
	return c.ServerConfig.Check(ServerConfigRules)
}

// replicasFor is how many replica acknowledgements a consistency level
// needs with replication factor rf in one data center (SERIAL levels: a
// Paxos quorum; ANY: one, possibly a hint).
func replicasFor(cl string, rf int) int {
	switch cl {
	case "ANY", "ONE", "LOCAL_ONE":
		return 1
	case "TWO":
		return 2
	case "THREE":
		return 3
	case "ALL":
		return rf
	default: // QUORUM, LOCAL_QUORUM, SERIAL, LOCAL_SERIAL
		return rf/2 + 1
	}
}

// Overlap returns W + R > N with its numbers, e.g. "true (2 + 2 > 3)".
func (c *Config) Overlap() string {
	w, r := replicasFor(c.WriteCL, c.ReplicationFactor), replicasFor(c.ReadCL, c.ReplicationFactor)
	if w+r > c.ReplicationFactor {
		return fmt.Sprintf("true (%d + %d > %d)", w, r, c.ReplicationFactor)
	}
	return fmt.Sprintf("false (%d + %d <= %d)", w, r, c.ReplicationFactor)
}

// cacheRoot returns the directory holding cassandra-<version>/.
func (c *Config) cacheRoot() (string, error) {
	if c.CacheDir != "" {
		return c.CacheDir, nil
	}
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "chaoscheck"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cassandra: no cache dir: set Config.CacheDir or $XDG_CACHE_HOME: %w", err)
	}
	return filepath.Join(home, ".cache", "chaoscheck"), nil
}
