//go:build linux

// Package cassandra is the Apache Cassandra 5.0 target: a real multi-node
// cluster of JVMs, one per node of the cluster runtime it is given
// (cluster.Runtime; by default the local one, a network namespace per
// node), the server's jars resolved once from Maven Central, and
// clients on the controller speaking CQL with gocql.
//
// # Server
//
// EnsureServer renders an embedded pom depending on
// org.apache.cassandra:cassandra-all and runs `mvn dependency:copy-dependencies
// -DincludeScope=runtime` into CacheDir/cassandra-<version>/lib, once (a
// marker file records success). Each node gets its own cassandra.yaml
// (embedded template: every node a seed, auto_bootstrap false, one fixed,
// evenly spread initial token, SimpleSnitch, Murmur3Partitioner,
// commitlog_sync batch by default), logback.xml (INFO to stdout, appended
// to the node's log file) and JVM options (those of Cassandra's
// jvm-server.options and jvm17-server.options that matter, C1 only, a fixed
// heap). The JVM runs as root (the default cache lies under /root, which is
// mode 0700) with -Dcassandra-foreground=yes.
//
// # Readiness
//
// A node is up when its CQL port accepts connections; the cluster is ready
// when a write at consistency ALL succeeds through every node as
// coordinator, which proves every coordinator sees every replica alive
// (with RF = Nodes every node is a replica of every key). Every wait is
// bounded and its error names the node and its log file.
//
// # Faults
//
// Deployment.Cluster returns a *Cluster: the runtime's kill, pause,
// partition and clock faults. Clock skew reaches the JVM through an
// LD_PRELOAD (System.currentTimeMillis is libc's clock_gettime): the
// project's clock shim (clockshim/clockshim.c, compiled once with cc),
// which shifts only the wall clock by the offset the local runtime writes
// to the node's clock file, or, without a C compiler, libfaketime (which
// makes each JVM burn CPU on every clock call: nodes start several times
// slower). Clock skew is refused with cluster.ErrUnsupported when a
// node's JVM has neither mapped, or with Config.NoClockSkew.
package cassandra

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// schema is created once the ring is whole.
var schema = []string{
	"CREATE KEYSPACE IF NOT EXISTS " + Keyspace + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}",
	"CREATE TABLE IF NOT EXISTS " + Keyspace + ".registers (key text PRIMARY KEY, value bigint)",
	"CREATE TABLE IF NOT EXISTS " + Keyspace + ".sets (key text, elem bigint, PRIMARY KEY (key, elem))",
	"CREATE TABLE IF NOT EXISTS " + Keyspace + ".counters (key text PRIMARY KEY, value counter)",
	"CREATE TABLE IF NOT EXISTS " + Keyspace + ".ready (node text PRIMARY KEY, at bigint)",
}

// DataTables are the tables the clients use (Truncate empties them).
var DataTables = []string{"registers", "sets", "counters"}

// Target is a configured Cassandra cluster; it implements targets.Target.
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

// Name returns "cassandra".
func (t *Target) Name() string { return "cassandra" }

// Transactions refuses the transaction workloads: a logged batch is
// atomic but not isolated (its reads are separate statements) and a
// lightweight transaction is confined to one partition, so Cassandra has
// no multi-key transaction to run them with (targets.Transactional).
func (t *Target) Transactions() error {
	return errors.New("cassandra runs no multi-key transactions: logged batches are atomic but not isolated, and lightweight transactions (Paxos) cover one partition only; list-append and rw-register run on postgres, redis, etcd and sim")
}

// Replicas says whether keys have replicas whose hints can queue
// (targets.Replicated).
func (t *Target) Replicas() error {
	if t.cfg.ReplicationFactor < 2 {
		return fmt.Errorf("replication factor %d: no replica to lag", t.cfg.ReplicationFactor)
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

// Probe checks what Deploy needs: the runtime (Runtime.Probe; the local
// one needs root, iproute2, nftables, cgroup v2; a missing libfaketime
// only disables clock skew), java, and either the cached jars or mvn.
func (t *Target) Probe(ctx context.Context) error {
	var errs []error
	if t.cfg.Runtime == nil {
		errs = append(errs, cluster.ErrNoRuntime)
	} else if err := t.cfg.Runtime.Probe(ctx); err != nil {
		errs = append(errs, err)
	}
	if t.cfg.Runtime != nil {
		if _, err := cluster.LayoutOn(ctx, t.cfg.Runtime, nodeNeeds()); err != nil {
			errs = append(errs, fmt.Errorf("java missing on the nodes (install Debian package openjdk-17-jre-headless, or use an image with Java 17): %w", err))
		}
	}
	root, err := t.cfg.cacheRoot()
	if err != nil {
		errs = append(errs, err)
	} else if _, err := os.Stat(root + "/cassandra-" + t.cfg.Version + "/" + markerFile); err != nil {
		if _, err := exec.LookPath("mvn"); err != nil {
			errs = append(errs, fmt.Errorf("the server's jars are not cached in %s and mvn is missing (install Debian package maven): %w", root, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cassandra: probe: %w", err)
	}
	return nil
}

// Timings are how long the phases of a Deploy took.
type Timings struct {
	Server  time.Duration // EnsureServer (Maven, or the marker check)
	Network time.Duration // Runtime.Up
	Nodes   time.Duration // JVM launch until every CQL port answers
	Ring    time.Duration // schema and readiness: ALL writes through every node
	Total   time.Duration
}

// Deploy starts the cluster and returns once it is ready. It implements
// targets.Target; DeployCassandra returns the concrete type.
func (t *Target) Deploy(ctx context.Context) (targets.Deployment, error) {
	return t.DeployCassandra(ctx)
}

// DeployCassandra resolves the server, brings up the nodes on the
// runtime, starts a JVM per node, waits for the ring to be whole (bounded by StartTimeout)
// and creates the schema.
func (t *Target) DeployCassandra(ctx context.Context) (*Deployment, error) {
	cfg := t.cfg
	rt := cfg.Runtime
	if rt == nil {
		return nil, fmt.Errorf("cassandra: %w", cluster.ErrNoRuntime)
	}
	start := time.Now()
	var tm Timings
	lay, err := cluster.LayoutOn(ctx, rt, nodeNeeds())
	if err != nil {
		return nil, fmt.Errorf("cassandra: java missing on the nodes (install Debian package openjdk-17-jre-headless, or use an image with Java 17): %w", err)
	}
	java := lay.Path("java")
	root, err := cfg.cacheRoot()
	if err != nil {
		return nil, err
	}
	lib, err := EnsureServer(ctx, rt, root, cfg.Version)
	if err != nil {
		return nil, err
	}
	jamm, err := findJamm(lib)
	if err != nil {
		return nil, err
	}
	mode, shim, shimErr := clockReal, "", error(nil)
	if !cfg.NoClockSkew {
		if shim, shimErr = BuildClockShim(ctx, rt, root); shimErr == nil {
			mode = clockShim
		} else {
			mode = clockFaketime
		}
	}
	tm.Server = time.Since(start)

	t0 := time.Now()
	if err := rt.Probe(ctx); err != nil {
		return nil, fmt.Errorf("cassandra: %w", err)
	}
	lc, err := rt.Up(ctx, cluster.Spec{Target: "cassandra", Nodes: cfg.Nodes, Subnet: cfg.Subnet, StateDir: cfg.StateDir, KeepStateDir: cfg.KeepData})
	if err != nil {
		return nil, err
	}
	cfg.StateDir = lc.StateDir()
	tm.Network = time.Since(t0)
	d := &Deployment{cfg: cfg, lc: lc, lib: lib, env: lay.Path("env"), cache: root, clock: mode, shim: shim, shimErr: shimErr, byAddr: map[string]string{}, logs: map[string]string{}}
	d.cl = &Cluster{Deployed: cluster.NewDeployed(lc, t.Plan()), d: d}
	ok := false
	defer func() {
		if !ok {
			_ = d.Close(context.WithoutCancel(ctx))
		}
	}()

	if err := d.shapeRegions(ctx); err != nil {
		return nil, err
	}
	t0 = time.Now()
	if err := d.startNodes(ctx, java, jamm); err != nil {
		return nil, err
	}
	deadline := start.Add(cfg.StartTimeout)
	if err := d.waitPorts(ctx, deadline); err != nil {
		return nil, err
	}
	tm.Nodes = time.Since(t0)
	t0 = time.Now()
	if err := d.createSchema(ctx, deadline); err != nil {
		return nil, err
	}
	if err := d.waitRing(ctx, deadline); err != nil {
		return nil, err
	}
	if err := d.readVersion(ctx); err != nil {
		return nil, err
	}
	d.cl.clockErr = d.checkFaketime()
	tm.Ring = time.Since(t0)
	tm.Total = time.Since(start)
	d.timings = tm
	ok = true
	return d, nil
}

// Deployment is a running Cassandra cluster; it implements
// targets.Deployment.
type Deployment struct {
	cfg     Config
	lc      cluster.Hosts
	cl      *Cluster
	lib     string
	env     string // env(1) on the nodes, which starts the JVM
	cache   string // the cache root holding lib and shim (SharedDirs)
	clock   clockMode
	shim    string
	shimErr error             // why the shim could not be built (libfaketime used)
	byAddr  map[string]string // node address -> node name
	logs    map[string]string // node name -> log file
	version string
	timings Timings

	lag lagSampler // SampleLag's sessions (lag.go)

	mu     sync.Mutex
	procs  map[string]cluster.Process
	closed bool
	resets int // Resets so far (reset.go): the key namespace of views
}

var (
	_ targets.Deployment   = (*Deployment)(nil)
	_ targets.LogCollector = (*Deployment)(nil)
)

// NodeLogs maps each node to its JVM log (targets.LogCollector).
func (d *Deployment) NodeLogs() map[string]string {
	out := make(map[string]string, len(d.logs))
	for n, p := range d.logs {
		out[n] = p
	}
	return out
}

// Timings returns how long the phases of the deploy took.
func (d *Deployment) Timings() Timings { return d.timings }

// Version is the release_version the nodes report.
func (d *Deployment) Version() string { return d.version }

// Hosts returns the runtime's nodes.
func (d *Deployment) Hosts() cluster.Hosts { return d.lc }

// LogFile returns the node's JVM log (stdout and stderr).
func (d *Deployment) LogFile(node string) string { return d.logs[node] }

// Addr returns the node's address.
func (d *Deployment) Addr(node string) netip.Addr { return d.lc.Addr(node) }

// Cluster returns the *Cluster the nemesis acts on.
func (d *Deployment) Cluster() cluster.Cluster { return d.cl }

// CassandraCluster returns the concrete cluster.
func (d *Deployment) CassandraCluster() *Cluster { return d.cl }

// Describe returns the settings of the deployment.
func (d *Deployment) Describe() []targets.Setting { return d.describe(d.cfg.clientOptions()) }

func (d *Deployment) describe(o ClientOptions) []targets.Setting {
	c := d.cfg
	c.ReadCL, c.WriteCL, c.SerialCL, c.Sticky, c.ClientTimestamps = o.ReadCL, o.WriteCL, o.SerialCL, o.Sticky, o.ClientTimestamps
	ts := "server (coordinator clock decides last-write-wins)"
	if c.ClientTimestamps {
		ts = "client (driver-assigned, controller clock)"
	}
	coord := "any node (token-aware, round-robin fallback)"
	if c.Sticky {
		coord = "sticky (process p -> node p mod N)"
	}
	clock := "clockshim preload (JVM wall clock, offset applies within 100 ms)"
	if d.clock == clockFaketime {
		clock = fmt.Sprintf("libfaketime, cached 1 s (slow: %v)", d.shimErr)
	}
	if d.cl.clockErr != nil {
		clock = "unsupported: " + d.cl.clockErr.Error()
	}
	return append([]targets.Setting{
		{Name: "nodes", Value: fmt.Sprint(c.Nodes)},
		{Name: "replication factor", Value: fmt.Sprint(c.ReplicationFactor)},
		{Name: "read consistency", Value: c.ReadCL},
		{Name: "write consistency", Value: c.WriteCL},
		{Name: "serial consistency (CAS)", Value: c.SerialCL},
		{Name: "W + R > N", Value: c.Overlap()},
		{Name: "write timestamps", Value: ts},
		{Name: "coordinator", Value: coord},
		{Name: "cassandra version", Value: d.version},
		{Name: "heap per node", Value: c.Heap},
		{Name: "commitlog sync", Value: c.CommitlogSync},
		{Name: "clock skew", Value: clock},
		{Name: "state dir", Value: d.lc.DescribeStateDir()},
		{Name: "server config", Value: d.cfg.ServerConfig.Summary()},
	}, d.regionSettings()...)
}

// Close kills every node and removes the nodes (Hosts.Close, bounded by
// cluster.CloseTimeout), and with it StateDir unless it is kept
// (Config.KeepData, or a StateDir that existed before).
func (d *Deployment) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	d.closeLag()
	if err := d.lc.Close(ctx); err != nil {
		return fmt.Errorf("cassandra: close: %w", err)
	}
	return nil
}

// startNodes writes every node's configuration and starts its JVM.
func (d *Deployment) startNodes(ctx context.Context, java, jamm string) error {
	nodes := d.lc.Nodes()
	tokens := initialTokens(len(nodes))
	seeds := make([]string, len(nodes))
	for i, n := range nodes {
		seeds[i] = d.lc.Addr(n).String() + ":7000"
		d.byAddr[d.lc.Addr(n).String()] = n
	}
	d.procs = map[string]cluster.Process{}
	for i, n := range nodes {
		f := filesOf(d.cfg.StateDir, n)
		d.logs[n] = f.log
		files, err := nodeConfigFiles(f, yamlParams{
			Node: n, InitialToken: tokens[i], Seeds: strings.Join(seeds, ","),
			Addr: d.lc.Addr(n), Dir: f.dir, CommitlogSync: d.cfg.CommitlogSync,
			ServerTimeoutMS: d.cfg.ServerTimeout.Milliseconds(), Snitch: d.cfg.snitch(), User: d.cfg.ServerConfig,
		}, dcName(d.cfg.regionOf(i)))
		if err != nil {
			return err
		}
		// The configuration goes through the runtime (Files, placed before
		// the first start: Restart keeps it), the data under f.dir
		// survives kills (DataDir), and the jars and the clock shim are
		// read from the controller's cache (SharedDirs, read-only).
		p, err := d.lc.Start(ctx, n, cluster.NodeSpec{
			Name:       "cassandra",
			Path:       d.env,
			Args:       javaCommand(java, d.lib, jamm, d.cfg.Heap, f, d.clock, d.shim),
			Dir:        f.dir,
			Files:      files,
			DataDir:    f.dir,
			SharedDirs: []string{d.cache},
			LogFile:    f.log,
		})
		if err != nil {
			return fmt.Errorf("cassandra: start %s (log %s): %w", n, f.log, err)
		}
		d.procs[n] = p
	}
	return nil
}

// pollInterval is the period of every readiness poll.
const pollInterval = 500 * time.Millisecond

// waitPorts waits until every node's CQL port accepts connections.
func (d *Deployment) waitPorts(ctx context.Context, deadline time.Time) error {
	for _, n := range d.lc.Nodes() {
		if err := d.waitPort(ctx, n, deadline); err != nil {
			return err
		}
	}
	return nil
}

// waitPort waits until the node's CQL port accepts a connection, failing
// early when its JVM exits.
func (d *Deployment) waitPort(ctx context.Context, node string, deadline time.Time) error {
	addr := net.JoinHostPort(d.lc.Addr(node).String(), "9042")
	start := time.Now()
	for {
		if p := d.proc(node); p != nil && !p.Running() {
			return fmt.Errorf("cassandra: node %s: %w (%v); log %s:\n%s", node, errStartupFailed, p.Err(), d.logs[node], logTail(d.logs[node]))
		}
		dl := time.Now().Add(time.Second)
		c, err := (&net.Dialer{Deadline: dl}).DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("cassandra: node %s: waiting for CQL port %s: %w (log %s)", node, addr, ctx.Err(), d.logs[node])
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cassandra: node %s: CQL port %s not accepting connections after %v (last error: %v); log %s:\n%s",
				node, addr, time.Since(start).Round(time.Second), err, d.logs[node], logTail(d.logs[node]))
		}
		if !sleepCtx(ctx, pollInterval) {
			return fmt.Errorf("cassandra: node %s: waiting for CQL port: %w (log %s)", node, ctx.Err(), d.logs[node])
		}
	}
}

func (d *Deployment) proc(node string) cluster.Process {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.procs[node]
}

// adminSession opens a session for setup work: to one node only
// (node != "") or to all, with long timeouts.
func (d *Deployment) adminSession(ctx context.Context, node string) (*gocql.Session, error) {
	var hosts []string
	if node != "" {
		hosts = []string{d.lc.Addr(node).String()}
	} else {
		for _, n := range d.lc.Nodes() {
			hosts = append(hosts, d.lc.Addr(n).String())
		}
	}
	c := gocql.NewCluster(hosts...)
	c.ConnectTimeout = 5 * time.Second
	c.Timeout = 10 * time.Second
	c.Consistency = gocql.All
	c.NumConns = 1
	c.MaxWaitSchemaAgreement = 60 * time.Second
	c.ReconnectionPolicy = &gocql.ConstantReconnectionPolicy{MaxRetries: 1, Interval: time.Second}
	c.Logger = nopLogger{}
	if node != "" {
		c.HostFilter = gocql.WhiteListHostFilter(hosts[0])
	}
	return createSession(ctx, c)
}

// createSession runs gocql's blocking CreateSession bounded by ctx; a
// session that arrives after ctx ended is closed.
func createSession(ctx context.Context, c *gocql.ClusterConfig) (*gocql.Session, error) {
	type res struct {
		s   *gocql.Session
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := c.CreateSession()
		ch <- res{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// createSchema creates the keyspace and tables, retrying until deadline.
func (d *Deployment) createSchema(ctx context.Context, deadline time.Time) error {
	var last error
	for {
		if last = d.tryCreateSchema(ctx); last == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("cassandra: creating keyspace %s: %w (logs: %s)", Keyspace, last, strings.Join(d.logList(), ", "))
		}
		if !sleepCtx(ctx, pollInterval) {
			return fmt.Errorf("cassandra: creating keyspace %s: %w (last error: %v)", Keyspace, ctx.Err(), last)
		}
	}
}

func (d *Deployment) tryCreateSchema(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := d.adminSession(sctx, "")
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	defer s.Close()
	for i, stmt := range schema {
		if i == 0 {
			stmt = d.keyspaceStatement()
		}
		if err := s.Query(stmt).WithContext(sctx).Exec(); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return s.AwaitSchemaAgreement(sctx)
}

// WaitReady waits, bounded by timeout, until every node's CQL port answers
// and a write at consistency ALL succeeds through every node as
// coordinator: every node is up and sees every other one up. Use it after
// faults before the next test.
func (d *Deployment) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	if err := d.waitPorts(ctx, deadline); err != nil {
		return err
	}
	return d.waitRing(ctx, deadline)
}

// waitRing waits until an ALL write through each node succeeds.
func (d *Deployment) waitRing(ctx context.Context, deadline time.Time) error {
	start := time.Now()
	for _, n := range d.lc.Nodes() {
		var last error
		for {
			if last = d.ringWrite(ctx, n); last == nil {
				break
			}
			if p := d.proc(n); p != nil && !p.Running() {
				return fmt.Errorf("cassandra: node %s: %w (%v); log %s:\n%s", n, errStartupFailed, p.Err(), d.logs[n], logTail(d.logs[n]))
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("cassandra: ring not whole after %v: a write at ALL coordinated by %s still fails: %w (logs: %s)",
					time.Since(start).Round(time.Second), n, last, strings.Join(d.logList(), ", "))
			}
			if !sleepCtx(ctx, pollInterval) {
				return fmt.Errorf("cassandra: waiting for the ring at %s: %w (last error: %v)", n, ctx.Err(), last)
			}
		}
	}
	return nil
}

func (d *Deployment) ringWrite(ctx context.Context, node string) error {
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := d.adminSession(sctx, node)
	if err != nil {
		return fmt.Errorf("session to %s: %w", node, err)
	}
	defer s.Close()
	return s.Query("INSERT INTO "+Keyspace+".ready (node, at) VALUES (?, ?)", node, time.Now().UnixMilli()).
		WithContext(sctx).Consistency(gocql.All).Exec()
}

func (d *Deployment) readVersion(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := d.adminSession(sctx, d.lc.Nodes()[0])
	if err != nil {
		return fmt.Errorf("cassandra: read version: %w", err)
	}
	defer s.Close()
	if err := s.Query("SELECT release_version FROM system.local").WithContext(sctx).Consistency(gocql.One).Scan(&d.version); err != nil {
		return fmt.Errorf("cassandra: read version: %w", err)
	}
	return nil
}

// Truncate empties the data tables (registers, sets, counters), so that
// several tests can share one deployment. TRUNCATE needs every node up.
func (d *Deployment) Truncate(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	s, err := d.adminSession(sctx, "")
	if err != nil {
		return fmt.Errorf("cassandra: truncate: %w", err)
	}
	defer s.Close()
	for _, t := range DataTables {
		if err := s.Query("TRUNCATE " + Keyspace + "." + t).WithContext(sctx).Exec(); err != nil {
			return fmt.Errorf("cassandra: truncate %s: %w", t, err)
		}
	}
	return nil
}

func (d *Deployment) logList() []string {
	var out []string
	for _, n := range d.lc.Nodes() {
		out = append(out, n+": "+d.logs[n])
	}
	return out
}

// checkFaketime returns nil when every node's JVM has the clock shim or
// libfaketime mapped, else an error wrapping cluster.ErrUnsupported saying why.
func (d *Deployment) checkFaketime() error {
	for _, n := range d.lc.Nodes() {
		p := d.proc(n)
		if p == nil {
			continue
		}
		maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", p.Pid()))
		if err != nil {
			return fmt.Errorf("cassandra: cannot check libfaketime in %s's JVM: %v: %w", n, err, cluster.ErrUnsupported)
		}
		if d.cfg.NoClockSkew {
			return fmt.Errorf("cassandra: clock skew disabled (Config.NoClockSkew): %w", cluster.ErrUnsupported)
		}
		if !strings.Contains(string(maps), "/clockshim-") && !strings.Contains(string(maps), "libfaketime") {
			return fmt.Errorf("cassandra: %s's JVM runs with neither the clock shim nor libfaketime (install Debian package faketime): clock skew %w", n, cluster.ErrUnsupported)
		}
	}
	return nil
}

// Cluster is the deployment's cluster: every fault of the runtime (kill,
// restart, pause, partition, clock), with clock skew refused when the
// JVMs run without a clock preload.
type Cluster struct {
	cluster.Deployed
	d        *Deployment
	clockErr error
}

var (
	_ cluster.Killer      = (*Cluster)(nil)
	_ cluster.Pauser      = (*Cluster)(nil)
	_ cluster.Partitioner = (*Cluster)(nil)
	_ cluster.ClockSkewer = (*Cluster)(nil)
)

// SetClockOffset sets the wall clock of the node's JVM to real time plus
// offset. The clock shim re-reads the offset at most every 100 ms
// (libfaketime, the fallback: every second), so the change applies within
// that time.
//
// Cassandra never lets its own timestamps go backwards: server-side write
// timestamps and now() are max(clock, last + 1 µs), so after a backward
// step a node keeps stamping at its previous high-water mark until real
// time catches up.
func (c *Cluster) SetClockOffset(ctx context.Context, node string, offset time.Duration) error {
	if c.clockErr != nil {
		return c.clockErr
	}
	return c.Deployed.SetClockOffset(ctx, node, offset)
}

// nopLogger silences gocql's logging.
type nopLogger struct{}

func (nopLogger) Print(...any)          {}
func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

// sleepCtx sleeps d or until ctx ends; it returns false if ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// NewClient opens a client for a process; see client.go.
func (d *Deployment) NewClient(ctx context.Context, process int) (workloads.Client, error) {
	return d.NewCQLClient(ctx, process)
}

// Shared returns a target whose Deploy hands out this running deployment
// with other client settings, and whose Close leaves the cluster running,
// so that several tests (runner.Run calls) share one cluster. The caller
// still closes the deployment itself once.
func (d *Deployment) Shared(o ClientOptions) (targets.Target, error) {
	if err := o.validate(d.cfg.ReplicationFactor); err != nil {
		return nil, err
	}
	return &sharedTarget{v: &view{d: d, o: o}}, nil
}

type sharedTarget struct{ v *view }

func (s *sharedTarget) Name() string { return "cassandra" }

func (s *sharedTarget) Deploy(ctx context.Context) (targets.Deployment, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.v, nil
}

// view is a deployment with its own client settings and a no-op Close.
type view struct {
	d *Deployment
	o ClientOptions
}

func (v *view) Cluster() cluster.Cluster { return v.d.cl }

func (v *view) NewClient(ctx context.Context, process int) (workloads.Client, error) {
	return v.d.NewClientWith(ctx, process, v.o)
}

func (v *view) Describe() []targets.Setting { return v.d.describe(v.o) }

func (v *view) Close(context.Context) error { return nil }

func (v *view) NodeLogs() map[string]string { return v.d.NodeLogs() }

// downNodes counts the nodes whose JVM is not running.
func (d *Deployment) downNodes() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, p := range d.procs {
		if !p.Running() {
			n++
		}
	}
	return n
}

// Quorums returns the replication factor and the replicas a read and a
// write need at the configured consistency levels (targets.Quorums).
func (d *Deployment) Quorums() (n, r, w int) {
	if d.cfg.Regions > 1 {
		return 0, 0, 0 // the levels count per datacenter: N - down >= R predicts nothing
	}
	rf := d.cfg.ReplicationFactor
	return rf, replicasFor(d.cfg.ReadCL, rf), replicasFor(d.cfg.WriteCL, rf)
}
