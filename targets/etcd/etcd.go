//go:build linux

// Package etcd is the etcd target: a static etcd cluster (Debian's
// etcd-server, 3.4) with one member per node of the cluster runtime it is
// given (cluster.Runtime; by default the local one, a network namespace
// per node), and clients built on the official Go client
// (go.etcd.io/etcd/client/v3).
//
// Each member runs (on the local runtime: as a direct child of the
// controller inside its node's namespace) as the unprivileged user
// nobody, with its data directory under the state dir. Faults:
// kill/restart, pause/resume and partitions of the runtime. Clock faults are unsupported: etcd is a Go program, which
// reads the time through the vDSO where no LD_PRELOAD clock shim reaches,
// so the deployment's cluster deliberately lacks cluster.ClockSkewer and
// the nemesis refuses clock faults up front.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/serverconf"
)

// DefaultImage is etcd's own image (its project's registry), the
// target's default on runtimes that run images. The 3.5 line: the flags
// chaoscheck passes (deployment.go) are the same in 3.4, Debian's.
const DefaultImage = "gcr.io/etcd-development/etcd:v3.5.17"

// nodeNeeds is what the nodes run: etcd (Debian's /usr/bin/etcd, the
// image's /usr/local/bin/etcd), as nobody (65534 when the nodes do not
// know that user).
func nodeNeeds() cluster.NodeNeeds {
	return cluster.NodeNeeds{Programs: []cluster.Program{{Name: "etcd"}}, Users: []string{"nobody"}}
}

// Ports every member listens on, inside its own namespace.
const (
	ClientPort = 2379
	PeerPort   = 2380
)

// ReadMode is how reads are served.
type ReadMode int

const (
	// Linearizable reads go through the raft read index (etcd's default):
	// a member that cannot reach a quorum does not answer them.
	Linearizable ReadMode = iota
	// Serializable reads are answered from the local member's state,
	// possibly stale (clientv3.WithSerializable).
	Serializable
)

// String returns "linearizable" or "serializable".
func (m ReadMode) String() string {
	switch m {
	case Linearizable:
		return "linearizable"
	case Serializable:
		return "serializable"
	}
	return fmt.Sprintf("ReadMode(%d)", int(m))
}

// ParseReadMode accepts "linearizable" or "serializable".
func ParseReadMode(s string) (ReadMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "linearizable":
		return Linearizable, nil
	case "serializable":
		return Serializable, nil
	}
	return 0, fmt.Errorf("etcd: read mode %q: want linearizable or serializable", s)
}

// Config configures the etcd target.
type Config struct {
	// Nodes is the number of members (default 3).
	Nodes int
	// Read is how clients read (default Linearizable).
	Read ReadMode
	// PreVote enables raft pre-vote (--pre-vote). Nil means the default,
	// true; use Bool(false) to disable it. It is recorded in Describe.
	PreVote *bool
	// StateDir holds data directories and logs. Empty: a new directory
	// under os.TempDir(), removed by Close (the runner copies the logs into
	// the run directory first).
	StateDir string
	// KeepData keeps the state directory after Close (it is removed
	// otherwise, with everything the run wrote there, unless StateDir
	// names a directory that existed before).
	KeepData bool
	// Subnet is the /24 of the node addresses (zero: the runtime's
	// choice). Two clusters running at the same time on one machine need
	// different subnets.
	Subnet netip.Prefix
	// Runtime is where the nodes run (targets.Common.Runtime; nil: Plan
	// supports nothing and Probe and Deploy refuse).
	Runtime cluster.Runtime
	// Seed is recorded in Describe. etcd draws its election timeouts from
	// its own randomness; nothing in the deployment depends on the seed.
	Seed int64
	// Sticky binds each client to one member (process mod Nodes) instead
	// of balancing over all members. It is what exposes stale serializable
	// reads from a partitioned member.
	Sticky bool
	// Binary is the etcd server executable on the nodes (default: etcd
	// where the runtime's nodes have it, cluster.LayoutOn).
	Binary string
	// ServerConfig is the user's etcd flags (--server-config), merged
	// over chaoscheck's (see sharedArgs); nil: none. Validate refuses it
	// when it sets a flag of ServerConfigRules.
	ServerConfig *serverconf.File
}

// Bool returns a pointer to b, for Config.PreVote.
func Bool(b bool) *bool { return &b }

// preVote returns the effective pre-vote setting.
func (c Config) preVote() bool { return c.PreVote == nil || *c.PreVote }

func (c *Config) defaults() {
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.PreVote == nil {
		c.PreVote = Bool(true)
	}
}

// Validate reports a bad configuration.
func (c Config) Validate() error {
	if c.Nodes < 1 || (c.Runtime != nil && c.Nodes > c.Runtime.MaxNodes()) {
		return fmt.Errorf("etcd: %d nodes: want 1 to %d", c.Nodes, maxNodes(c.Runtime))
	}
	if c.Read != Linearizable && c.Read != Serializable {
		return fmt.Errorf("etcd: bad read mode %v", c.Read)
	}
	if c.Subnet.IsValid() && (!c.Subnet.Addr().Is4() || c.Subnet.Bits() != 24) {
		return fmt.Errorf("etcd: subnet %v: want an IPv4 /24", c.Subnet)
	}
	if c.ServerConfig != nil && c.ServerConfig.Format != serverconf.EtcdFlags {
		return fmt.Errorf("etcd: server config %s is %s, want %s", c.ServerConfig.Path, c.ServerConfig.Format, serverconf.EtcdFlags)
	}
	if err := c.ServerConfig.Check(ServerConfigRules); err != nil {
		return err
	}
	return nil
}

// Target is a configured etcd cluster. It implements targets.Target.
type Target struct {
	cfg Config
}

var (
	_ targets.Target     = (*Target)(nil)
	_ targets.DataKeeper = (*Target)(nil)
	_ targets.KeptData   = (*Deployment)(nil)

	_ targets.ServerConfigured = (*Target)(nil)
)

// New fills in defaults, validates cfg and returns the target.
func New(cfg Config) (*Target, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Target{cfg: cfg}, nil
}

// Name returns "etcd".
func (t *Target) Name() string { return "etcd" }

// Transactions: the client runs list-append and rw-register with
// optimistic concurrency on etcd's Txn (targets.Transactional).
func (t *Target) Transactions() error { return nil }

// Replicas says whether there are followers to lag (targets.Replicated).
func (t *Target) Replicas() error {
	if t.cfg.Nodes < 2 {
		return errors.New("one member has no follower to lag")
	}
	return nil
}

// KeepData makes later deployments keep their state directory after
// Close (targets.DataKeeper).
func (t *Target) KeepData() { t.cfg.KeepData = true }

// KeptData returns the state directory if it stays after Close, ""
// if Close removes it (targets.KeptData).
func (d *Deployment) KeptData() string { return d.lc.KeptStateDir() }

// Config returns the configuration with defaults filled in.
func (t *Target) Config() Config { return t.cfg }

// Probe checks what a deployment needs: the runtime (Runtime.Probe; the
// local one needs root, iproute2, nftables, cgroup v2) and the etcd
// binary. A missing
// libfaketime is not an error: clock faults are unsupported for etcd
// anyway.
func (t *Target) Probe(ctx context.Context) error {
	_, err := t.probe(ctx)
	return err
}

// probe is Probe, returning the nodes' layout (etcd's path, nobody's ids).
func (t *Target) probe(ctx context.Context) (cluster.Layout, error) {
	var (
		errs []error
		lay  cluster.Layout
	)
	if t.cfg.Runtime == nil {
		errs = append(errs, cluster.ErrNoRuntime)
	} else if err := t.cfg.Runtime.Probe(ctx); err != nil {
		errs = append(errs, err)
	} else if lay, err = cluster.LayoutOn(ctx, t.cfg.Runtime, nodeNeeds()); err != nil && t.cfg.Binary == "" {
		errs = append(errs, fmt.Errorf("etcd server missing on the nodes (install Debian package etcd-server, or use an image with etcd): %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return cluster.Layout{}, fmt.Errorf("etcd: probe (needs root and Debian packages etcd-server, iproute2, nftables): %w", err)
	}
	return lay, nil
}

// Deploy probes the machine, brings up the nodes on the runtime (which
// first removes what crashed earlier runs left: on the local runtime,
// live local clusters of this very process too), starts one member per node as
// the user nobody and waits, bounded by HealthTimeout and ctx, until every
// member answers a linearizable read with a leader elected. On error
// everything it created is removed.
func (t *Target) Deploy(ctx context.Context) (targets.Deployment, error) {
	lay, err := t.probe(ctx)
	if err != nil {
		return nil, err
	}
	uid, gid := uint32(65534), uint32(65534)
	if id, ok := lay.User("nobody"); ok {
		uid, gid = id.UID, id.GID
	}
	cfg := t.cfg
	if cfg.Binary == "" {
		cfg.Binary = lay.Path("etcd")
	}
	lc, err := t.cfg.Runtime.Up(ctx, cluster.Spec{Target: "etcd", Nodes: t.cfg.Nodes, Subnet: t.cfg.Subnet, StateDir: t.cfg.StateDir, KeepStateDir: t.cfg.KeepData, ServerUID: uid})
	if err != nil {
		return nil, err
	}
	stateDir := lc.StateDir()
	d := newDeployment(cfg, lc, t.Plan(), stateDir, uid, gid)
	if err := d.start(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("etcd: deploy: %w", err), d.Close(ctx))
	}
	return d, nil
}
