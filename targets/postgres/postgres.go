//go:build linux

// Package postgres is the PostgreSQL 15 target: one primary and streaming
// replicas, each server a process on a node of the cluster runtime it is
// given (cluster.Runtime; by default the local one, a network namespace
// per node), with clients on the controller talking to the
// nodes over TCP with pgx.
//
// # Topology
//
// n1 is initdb'ed and started as the first primary; every other node is a
// pg_basebackup clone (-R -X stream) streaming from it. cluster_name is the
// node name, so pg_stat_replication and synchronous_standby_names name
// standbys n2, n3... Replication is asynchronous, or synchronous with
// synchronous_standby_names = 'ANY 1 (<every other node>)'. fsync stays on.
//
// # Clients
//
// Writes, compare-and-sets, native increments and read-modify-write
// transactions go to the current primary (Cluster.Primary, read on every
// request, so clients follow a failover at once); reads go to the node
// Config.ReadFrom names. A client keeps one connection per node it has
// used and reconnects after a failure.
//
// # Failover
//
// Deployment.Cluster returns a *Cluster, which implements
// cluster.Failoverer on top of the runtime's faults: see Promote and
// Rejoin.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/readpolicy"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// schema is created on the first primary: registers and counters live in
// kv, sets in sets, the lists of list-append transactions in txn_lists
// (one array per key, appended in place), the registers of rw-register
// transactions in txn_registers.
var schema = []string{
	"CREATE TABLE kv (key text PRIMARY KEY, value bigint NOT NULL)",
	"CREATE TABLE sets (key text NOT NULL, elem bigint NOT NULL, PRIMARY KEY (key, elem))",
	"CREATE TABLE txn_lists (key bigint PRIMARY KEY, vals bigint[] NOT NULL)",
	"CREATE TABLE txn_registers (key bigint PRIMARY KEY, value bigint NOT NULL)",
}

// Target is a configured PostgreSQL cluster; it implements targets.Target.
type Target struct {
	cfg Config // with defaults, valid
}

var (
	_ targets.Target     = (*Target)(nil)
	_ targets.DataKeeper = (*Target)(nil)
	_ targets.KeptData   = (*Deployment)(nil)

	_ targets.ServerConfigured = (*Target)(nil)
)

// New validates cfg and returns the target.
func New(cfg Config) (*Target, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Target{cfg: cfg}, nil
}

// Name returns "postgres".
func (t *Target) Name() string { return "postgres" }

// Transactions: the client runs list-append and rw-register at
// Config.Isolation (targets.Transactional).
func (t *Target) Transactions() error { return nil }

// KeepData makes later deployments keep their state directory after
// Close (targets.DataKeeper).
func (t *Target) KeepData() { t.cfg.KeepData = true }

// KeptData returns the state directory if it stays after Close, ""
// if Close removes it (targets.KeptData).
func (d *Deployment) KeptData() string { return d.srv.lc.KeptStateDir() }

// Config returns the configuration with defaults filled in.
func (t *Target) Config() Config { return t.cfg }

// Probe checks what a deployment needs: the runtime (Runtime.Probe; the
// local one needs root, iproute2, nftables, cgroup v2), the PostgreSQL
// binaries and the postgres user. A missing libfaketime is not an error
// here (only clock skew needs it).
func (t *Target) Probe(ctx context.Context) error {
	_, _, err := t.probe(ctx)
	return err
}

// probe is Probe, returning the nodes' layout and the server user's ids
// there.
func (t *Target) probe(ctx context.Context) (cluster.Layout, cluster.UserID, error) {
	var errs []error
	if t.cfg.Runtime == nil {
		errs = append(errs, cluster.ErrNoRuntime)
	} else if err := t.cfg.Runtime.Probe(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return cluster.Layout{}, cluster.UserID{}, fmt.Errorf("postgres: probe (needs root and Debian packages postgresql-15, iproute2, nftables; faketime for clock skew): %w", err)
	}
	return t.layout(ctx)
}

// layout resolves, on the runtime's nodes (cluster.LayoutOn: this
// machine's packages, or the image's), the paths of the server and its
// tools and the ids of the server's user, which must exist there and not
// be root.
func (t *Target) layout(ctx context.Context) (cluster.Layout, cluster.UserID, error) {
	lay, err := cluster.LayoutOn(ctx, t.cfg.Runtime, nodeNeeds(t.cfg.BinDir, t.cfg.User))
	if err != nil {
		return cluster.Layout{}, cluster.UserID{}, fmt.Errorf("postgres: probe (needs Debian package postgresql-15 on this machine, or an image with PostgreSQL 15): %w", err)
	}
	id, ok := lay.User(t.cfg.User)
	if !ok {
		return cluster.Layout{}, cluster.UserID{}, fmt.Errorf("postgres: user %q is not known on %s (created by Debian package postgresql-15, and in the official image)", t.cfg.User, lay.Where)
	}
	if id.UID == 0 {
		return cluster.Layout{}, cluster.UserID{}, fmt.Errorf("postgres: user %q has uid 0 on %s: PostgreSQL refuses to run as root", t.cfg.User, lay.Where)
	}
	return lay, id, nil
}

// Deploy probes the machine, brings up the nodes on the runtime (which
// first removes what crashed earlier runs left: on the local runtime,
// live local clusters of this very process too), initdb's and starts the primary,
// creates the schema, clones and starts the replicas and waits until all
// of them stream (and, in sync mode, until synchronous_standby_names is
// in force). Every wait is bounded; on error everything is removed.
func (t *Target) Deploy(ctx context.Context) (targets.Deployment, error) {
	lay, id, err := t.probe(ctx)
	if err != nil {
		return nil, err
	}
	uid, gid := id.UID, id.GID
	lc, err := t.cfg.Runtime.Up(ctx, cluster.Spec{Target: "postgres", Nodes: t.cfg.Nodes, Subnet: t.cfg.Subnet, StateDir: t.cfg.StateDir, KeepStateDir: t.cfg.KeepData, ServerUID: uid})
	if err != nil {
		return nil, err
	}
	stateDir := lc.StateDir()
	srv := &server{cfg: t.cfg, lc: lc, dirs: layout{root: stateDir}, uid: uid, gid: gid, paths: lay.Programs}
	d := &Deployment{cfg: t.cfg, srv: srv, cl: newCluster(srv, t.Plan(), "n1"), stateDir: stateDir, lag: &lagSampler{}, policy: newPolicy(t.cfg)}
	if err := d.start(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("postgres: deploy: %w", err), lc.Close(ctx))
	}
	return d, nil
}

// start brings the servers up on fresh nodes.
func (d *Deployment) start(ctx context.Context) error {
	srv, lc := d.srv, d.srv.lc
	nodes := lc.Nodes()
	primary := nodes[0]
	t0 := time.Now()
	phase := func(name string) {
		now := time.Now()
		d.phases = append(d.phases, fmt.Sprintf("%s %v", name, now.Sub(t0).Round(time.Millisecond)))
		t0 = now
	}
	if err := srv.initPrimary(ctx, primary); err != nil {
		return err
	}
	phase("initdb")
	p, err := lc.Start(ctx, primary, srv.spec(primary))
	if err != nil {
		return err
	}
	if err := srv.waitReady(ctx, primary, p); err != nil {
		return err
	}
	if err := srv.exec(ctx, primary, schema...); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	phase("primary up")
	// Clone and start the replicas in parallel; each step is bounded.
	replicas := nodes[1:]
	errs := make([]error, len(replicas))
	var wg sync.WaitGroup
	for i, n := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.cloneFrom(ctx, n, primary); err != nil {
				errs[i] = err
				return
			}
			p, err := lc.Start(ctx, n, srv.spec(n))
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = srv.waitReady(ctx, n, p)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	phase("replicas cloned and up")
	if err := srv.waitStreaming(ctx, primary, replicas); err != nil {
		return err
	}
	phase("streaming")
	if d.cfg.Replication == Sync {
		sctx, cancel := context.WithTimeout(ctx, AdminTimeout)
		err := d.cl.setSyncStandbys(sctx, primary)
		cancel()
		if err != nil {
			return err
		}
	}
	return srv.admin(ctx, primary, func(ctx context.Context, c *pgx.Conn) error {
		if err := c.QueryRow(ctx, "SHOW server_version").Scan(&d.version); err != nil {
			return fmt.Errorf("server version: %w", err)
		}
		return c.QueryRow(ctx, "SHOW fsync").Scan(&d.fsync)
	})
}

// Deployment is a running PostgreSQL cluster; it implements
// targets.Deployment.
type Deployment struct {
	cfg      Config
	srv      *server
	cl       *Cluster
	stateDir string
	version  string
	fsync    string
	phases   []string

	// lag is SampleLag's state, shared by the views of this deployment
	// that Rebind makes (one sampler and one policy per cluster).
	lag *lagSampler

	policy *readpolicy.Policy // MaxReplicaLag; nil without
}

// Phases returns how long each step of the deployment took, e.g.
// "initdb 1.2s".
func (d *Deployment) Phases() []string { return append([]string(nil), d.phases...) }

var _ targets.Deployment = (*Deployment)(nil)

// Cluster returns the *Cluster (the runtime's faults plus failover).
func (d *Deployment) Cluster() cluster.Cluster { return d.cl }

// PG returns the cluster with its concrete type.
func (d *Deployment) PG() *Cluster { return d.cl }

// StateDir returns the directory holding data directories and logs.
func (d *Deployment) StateDir() string { return d.stateDir }

// NewClient returns a client for one process. It connects lazily, on its
// first request, so a node that is down makes operations fail rather than
// the client.
func (d *Deployment) NewClient(ctx context.Context, process int) (workloads.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: new client: %w", err)
	}
	seed := uint64(d.cfg.Seed)
	return &Client{
		d:     d,
		rng:   rand.New(rand.NewPCG(seed, uint64(process))),
		conns: map[string]*pgx.Conn{},
		pids:  map[string]int{},
	}, nil
}

// Describe returns the topology and the consistency-relevant settings.
func (d *Deployment) Describe() []targets.Setting {
	nodes := d.cl.Nodes()
	sync := "asynchronous (synchronous_standby_names='')"
	if d.cfg.Replication == Sync {
		sync = fmt.Sprintf("synchronous (synchronous_commit=%s, synchronous_standby_names='%s', set on every new primary)", d.cfg.effective("synchronous_commit"), d.cl.syncStandbyNames(d.cl.Primary()))
		if !d.cfg.waitsForStandby() {
			sync += ", but commits do not wait for any standby at synchronous_commit=" + d.cfg.effective("synchronous_commit") + " (--server-config): in effect asynchronous"
		}
	}
	return []targets.Setting{
		{Name: "database", Value: "PostgreSQL " + d.version},
		{Name: "nodes", Value: fmt.Sprintf("%d (%s), streaming replication", len(nodes), strings.Join(nodes, " "))},
		{Name: "primary", Value: d.cl.Primary()},
		{Name: "replication", Value: sync},
		{Name: "isolation", Value: fmt.Sprintf("%s for read-modify-write and list-append/rw-register transactions (BEGIN ISOLATION LEVEL %s, on the primary); single statements at read committed", d.cfg.Isolation, d.cfg.Isolation.SQL())},
		{Name: "read from", Value: d.describeReadFrom()},
		{Name: "writes to", Value: "the current primary"},
		{Name: "fsync", Value: d.fsync},
		{Name: "failover", Value: "promote the most advanced reachable standby (pg_promote), re-point the others; rejoin = wipe + pg_basebackup"},
		{Name: "state dir", Value: d.srv.lc.DescribeStateDir()},
		{Name: "server config", Value: d.cfg.ServerConfig.Summary()},
	}
}

// CloseTimeout bounds Close.
const CloseTimeout = cluster.CloseTimeout

// Close kills every server and removes the nodes (Hosts.Close), bounded by
// CloseTimeout even when ctx is already cancelled, and the state dir
// (data and logs) unless it is kept (Config.KeepData, or a StateDir that
// existed before).
func (d *Deployment) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CloseTimeout)
	defer cancel()
	d.closeLag()
	if err := d.srv.lc.Close(ctx); err != nil {
		return fmt.Errorf("postgres: close: %w", err)
	}
	return nil
}

// readNode picks the node serving a read.
func (d *Deployment) readNode(rng *rand.Rand) string {
	primary := d.cl.Primary()
	var live []string
	switch d.cfg.ReadFrom {
	case Replica:
		for _, n := range d.cl.Replicas() {
			if d.cl.Live(n) {
				live = append(live, n)
			}
		}
	case Any:
		for _, n := range d.cl.Nodes() {
			if n == primary || d.cl.Live(n) {
				live = append(live, n)
			}
		}
	}
	if len(live) == 0 {
		return primary
	}
	return live[rng.IntN(len(live))]
}

// NodeLogs maps each node to its server log (targets.LogCollector).
func (d *Deployment) NodeLogs() map[string]string {
	out := make(map[string]string)
	for _, n := range d.cl.Nodes() {
		out[n] = filepath.Join(d.srv.dirs.nodeDir(n), "postgres.log")
	}
	return out
}
