//go:build linux

package postgres

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// Replication is how the primary replicates to its standbys.
type Replication int

const (
	// Async: commits return once they are durable on the primary;
	// standbys stream the WAL afterwards. A failover loses the commits
	// the promoted standby had not received.
	Async Replication = iota
	// Sync: synchronous_commit=on with synchronous_standby_names =
	// 'ANY 1 (<every other node>)': a commit returns once one standby has
	// flushed it.
	Sync
)

// String returns "async" or "sync".
func (r Replication) String() string {
	switch r {
	case Async:
		return "async"
	case Sync:
		return "sync"
	}
	return fmt.Sprintf("Replication(%d)", int(r))
}

// ParseReplication parses "async" or "sync".
func ParseReplication(s string) (Replication, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "async":
		return Async, nil
	case "sync":
		return Sync, nil
	}
	return 0, fmt.Errorf("postgres: replication %q: want async or sync", s)
}

// Isolation is the isolation level of read-modify-write transactions.
type Isolation int

const (
	// ReadCommitted: each statement sees the data committed before it
	// began; a read-modify-write can lose a concurrent update.
	ReadCommitted Isolation = iota
	// RepeatableRead: snapshot isolation; a concurrent update of the row
	// being updated aborts with a serialization failure.
	RepeatableRead
	// Serializable: serializable snapshot isolation (SSI).
	Serializable
)

// String returns "read-committed", "repeatable-read" or "serializable".
func (i Isolation) String() string {
	switch i {
	case ReadCommitted:
		return "read-committed"
	case RepeatableRead:
		return "repeatable-read"
	case Serializable:
		return "serializable"
	}
	return fmt.Sprintf("Isolation(%d)", int(i))
}

// SQL returns the level as written in BEGIN ISOLATION LEVEL.
func (i Isolation) SQL() string {
	switch i {
	case RepeatableRead:
		return "REPEATABLE READ"
	case Serializable:
		return "SERIALIZABLE"
	}
	return "READ COMMITTED"
}

// ParseIsolation parses "read-committed", "repeatable-read" or
// "serializable".
func ParseIsolation(s string) (Isolation, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "read-committed":
		return ReadCommitted, nil
	case "repeatable-read":
		return RepeatableRead, nil
	case "serializable":
		return Serializable, nil
	}
	return 0, fmt.Errorf("postgres: isolation %q: want read-committed, repeatable-read or serializable", s)
}

// ReadFrom says which node serves reads (writes always go to the
// primary).
type ReadFrom int

const (
	// Primary: reads go to the current primary.
	Primary ReadFrom = iota
	// Replica: reads go to a random live replica (the primary when no
	// replica is live).
	Replica
	// Any: reads go to a random live node.
	Any
)

// String returns "primary", "replica" or "any".
func (r ReadFrom) String() string {
	switch r {
	case Primary:
		return "primary"
	case Replica:
		return "replica"
	case Any:
		return "any"
	}
	return fmt.Sprintf("ReadFrom(%d)", int(r))
}

// ParseReadFrom parses "primary", "replica" or "any".
func ParseReadFrom(s string) (ReadFrom, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "primary":
		return Primary, nil
	case "replica":
		return Replica, nil
	case "any":
		return Any, nil
	}
	return 0, fmt.Errorf("postgres: read-from %q: want primary, replica or any", s)
}

// DefaultBinDir is where Debian's postgresql-15 package installs the
// server binaries (the official image too, which also has it in PATH).
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// DefaultImage is the official PostgreSQL image, the target's default on
// runtimes that run images.
const DefaultImage = "postgres:15"

// nodeNeeds is what the nodes run as user: the server and its tools
// (searched in binDir first, then PATH), and sh, install and rm for the
// directories and files the target prepares on them.
func nodeNeeds(binDir, user string) cluster.NodeNeeds {
	var ps []cluster.Program
	for _, name := range []string{"postgres", "initdb", "pg_basebackup"} {
		ps = append(ps, cluster.Program{Name: name, Dirs: []string{binDir}})
	}
	ps = append(ps, cluster.Program{Name: "sh"}, cluster.Program{Name: "install"}, cluster.Program{Name: "rm"})
	return cluster.NodeNeeds{Programs: ps, Users: []string{user}}
}

// MaxNodes is the largest supported node count.
const MaxNodes = 9

// Config configures a PostgreSQL streaming-replication cluster: n1 is the
// first primary, the other nodes are its standbys.
type Config struct {
	// Nodes is the node count (default 3: a primary and two replicas).
	Nodes int
	// Replication is async (default) or sync.
	Replication Replication
	// Isolation is the level of read-modify-write transactions (default
	// read committed). Single statements run at the server default, read
	// committed.
	Isolation Isolation
	// ReadFrom says where reads go (default the primary).
	ReadFrom ReadFrom
	// MaxReplicaLag, when > 0, is the read policy of --max-replica-lag
	// (ReadFrom must be Replica): a read goes to a replica only while its
	// last sampled lag (SampleLag) is below it and the sample is fresh,
	// otherwise to the primary (see package readpolicy).
	MaxReplicaLag time.Duration
	// StateDir holds the data directories, sockets and logs. Empty: a new
	// directory under os.TempDir(), removed by Close (the runner copies the
	// logs into the run directory first). Every ancestor must be searchable
	// by the postgres user.
	StateDir string
	// KeepData keeps the state directory after Close (it is removed
	// otherwise, with everything the run wrote there, unless StateDir
	// names a directory that existed before).
	KeepData bool
	// Seed drives the clients' choice of replica.
	Seed int64
	// Subnet is the /24 of the node addresses (zero: the runtime's
	// choice).
	Subnet netip.Prefix
	// BinDir is searched first for postgres, initdb and pg_basebackup
	// on the nodes, then their PATH (default DefaultBinDir).
	BinDir string
	// User is the operating-system user the server runs as (default
	// "postgres"); PostgreSQL refuses to run as root.
	User string
	// Runtime is where the nodes run (targets.Common.Runtime; nil: Plan
	// supports nothing and Probe and Deploy refuse).
	Runtime cluster.Runtime
	// ServerConfig is the user's postgresql.conf fragment
	// (--server-config), merged over chaoscheck's settings (see
	// confText); nil: none. Validate refuses it when it sets a setting
	// of ServerConfigRules.
	ServerConfig *serverconf.File
}

func (c *Config) defaults() {
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.BinDir == "" {
		c.BinDir = DefaultBinDir
	}
	if c.User == "" {
		c.User = "postgres"
	}
}

// Validate reports a configuration that cannot be deployed. Zero values
// are replaced by their defaults first.
func (c Config) Validate() error {
	c.defaults()
	if c.Nodes < 2 || c.Nodes > MaxNodes {
		return fmt.Errorf("postgres: %d nodes: want 2 to %d (a primary and at least one replica)", c.Nodes, MaxNodes)
	}
	if c.Replication != Async && c.Replication != Sync {
		return fmt.Errorf("postgres: unknown replication mode %d", int(c.Replication))
	}
	if c.Isolation < ReadCommitted || c.Isolation > Serializable {
		return fmt.Errorf("postgres: unknown isolation level %d", int(c.Isolation))
	}
	if c.ReadFrom < Primary || c.ReadFrom > Any {
		return fmt.Errorf("postgres: unknown read-from %d", int(c.ReadFrom))
	}
	if err := c.validateMaxReplicaLag(); err != nil {
		return err
	}
	if c.Subnet.IsValid() && (!c.Subnet.Addr().Is4() || c.Subnet.Bits() != 24) {
		return fmt.Errorf("postgres: subnet %v: want an IPv4 /24", c.Subnet)
	}
	if c.ServerConfig != nil && c.ServerConfig.Format != serverconf.PostgresConf {
		return fmt.Errorf("postgres: server config %s is %s, want %s", c.ServerConfig.Path, c.ServerConfig.Format, serverconf.PostgresConf)
	}
	if err := c.ServerConfig.Check(ServerConfigRules); err != nil {
		return err
	}
	if c.User == "root" {
		return fmt.Errorf("postgres: user %q: PostgreSQL refuses to run as root", c.User)
	}
	return nil
}
