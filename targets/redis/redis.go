//go:build linux

// Package redis is the Redis 7 target: Redis Cluster (3 masters sharing
// the hash slots, optionally with replicas) or one primary with
// asynchronous replicas, each server a redis-server process on a node of
// the cluster runtime it is given (cluster.Runtime; by default the local
// one, a network namespace per node), with clients on
// the controller talking to the nodes over TCP with go-redis.
//
// # Durability
//
// By default nothing is persisted (appendonly no, save ""): a killed node
// restarts empty, and in Replication mode a killed primary that restarts
// empty makes its replicas resync to the empty data set (the documented
// Redis hazard of replication without persistence). Config.AppendOnly
// turns on the AOF with appendfsync always.
//
// # Clients
//
// Every request goes to a master (Cluster mode: the master of the key's
// slot, from go-redis's cached slot map; Replication mode: the current
// primary, read from the Failoverer on every request), except reads in
// Replication mode with Config.ReadFrom Replica, which go to a replica
// (with Config.MaxReplicaLag, only to one whose sampled lag is below it:
// see SampleLag and package readpolicy). See Client for the error
// mapping, CAS and WAIT.
//
// # Faults
//
// Deployment.Cluster exposes kill, pause and partition (Servers) and, in
// Replication mode, failover (Replicated). Clock skew is deliberately not
// exposed: libfaketime hangs or kills Debian's redis-server, so the
// nemesis refuses clock faults up front with cluster.ErrUnsupported.
package redis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/readpolicy"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// Target is a configured Redis deployment; it implements targets.Target.
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

// Name returns "redis".
func (t *Target) Name() string { return "redis" }

// Transactions: the client runs list-append and rw-register as Lua
// scripts (targets.Transactional).
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
// local one needs root, iproute2, nftables, cgroup v2), redis-server and
// env on the nodes (cluster.LayoutOn: this machine's, or the image's),
// and redis-cli on the controller. libfaketime is not needed (clock
// faults are unsupported for Redis).
func (t *Target) Probe(ctx context.Context) error {
	_, err := t.probe(ctx)
	return err
}

// probe is Probe, returning the nodes' layout.
func (t *Target) probe(ctx context.Context) (cluster.Layout, error) {
	var (
		errs []error
		lay  cluster.Layout
	)
	if t.cfg.Runtime == nil {
		errs = append(errs, cluster.ErrNoRuntime)
	} else if err := t.cfg.Runtime.Probe(ctx); err != nil {
		errs = append(errs, err)
	} else if lay, err = cluster.LayoutOn(ctx, t.cfg.Runtime, nodeNeeds(t.cfg.User)); err != nil {
		errs = append(errs, err)
	}
	for _, tool := range []string{"redis-cli", "find"} {
		if _, err := exec.LookPath(tool); err != nil {
			errs = append(errs, fmt.Errorf("%s on the controller (install Debian package redis-tools): %w", tool, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return cluster.Layout{}, fmt.Errorf("redis: probe (needs root and Debian packages redis-server, redis-tools, iproute2, nftables): %w", err)
	}
	return lay, nil
}

// Deploy probes the machine, brings up the nodes on the runtime (which
// first removes what crashed earlier runs left: on the local runtime,
// live local clusters of this very process too), starts one
// redis-server per node (on the local runtime: a direct child, in the
// node's namespace, as the redis user), waits
// until each answers PING, then builds the topology: Cluster mode runs
// redis-cli --cluster create and waits for cluster_state:ok on every node;
// Replication mode waits until every replica reports
// master_link_status:up. Finally it records each node's INFO
// commandstats as the baseline of NodeOps. Every wait is bounded; on
// error everything is removed.
func (t *Target) Deploy(ctx context.Context) (targets.Deployment, error) {
	lay, err := t.probe(ctx)
	if err != nil {
		return nil, err
	}
	// The server's user as the nodes know it (root when they do not).
	id, _ := lay.User(t.cfg.User)
	uid, gid := id.UID, id.GID
	lc, err := t.cfg.Runtime.Up(ctx, cluster.Spec{Target: "redis", Nodes: t.cfg.Nodes, Subnet: t.cfg.Subnet, StateDir: t.cfg.StateDir, KeepStateDir: t.cfg.KeepData, ServerUID: uid})
	if err != nil {
		return nil, err
	}
	stateDir := lc.StateDir()
	srv := &server{cfg: t.cfg, lc: lc, bin: lay.Path("redis-server"), env: lay.Path("env"), root: stateDir, uid: uid, gid: gid}
	servers := newServers(lc, srv, t.Plan())
	d := &Deployment{cfg: t.cfg, srv: srv, servers: servers, stateDir: stateDir, user: t.cfg.User, policy: newPolicy(t.cfg)}
	if uid == 0 {
		d.user = "root"
	}
	if t.cfg.Mode == Replication {
		d.repl = newReplicated(servers, lc.Nodes()[0])
	}
	if err := d.start(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("redis: deploy: %w", err), lc.Close(ctx))
	}
	return d, nil
}

// start brings the servers up on fresh nodes.
func (d *Deployment) start(ctx context.Context) error {
	srv, lc := d.srv, d.srv.lc
	nodes := lc.Nodes()
	t0 := time.Now()
	phase := func(name string) {
		now := time.Now()
		d.phases = append(d.phases, fmt.Sprintf("%s %v", name, now.Sub(t0).Round(time.Millisecond)))
		t0 = now
	}
	procs := make([]cluster.Process, len(nodes))
	for i, n := range nodes {
		replicaOf := ""
		if d.cfg.Mode == Replication && i > 0 {
			replicaOf = nodes[0]
		}
		p, err := lc.Start(ctx, n, srv.spec(n, replicaOf))
		if err != nil {
			return fmt.Errorf("start redis on %s: %w", n, err)
		}
		procs[i] = p
	}
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { errs[i] = srv.waitReady(ctx, n, procs[i]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	phase("servers up")
	switch d.cfg.Mode {
	case Cluster:
		if err := srv.createCluster(ctx); err != nil {
			return err
		}
		phase("cluster create")
		if err := srv.waitClusterOK(ctx); err != nil {
			return err
		}
		phase("cluster_state ok")
		if err := d.loadSlots(ctx); err != nil {
			return err
		}
	case Replication:
		for _, n := range nodes[1:] {
			if err := srv.waitReplicating(ctx, n, nodes[0], LinkTimeout); err != nil {
				return err
			}
		}
		phase("replicas linked")
	}
	in, err := srv.info(ctx, nodes[0], "server")
	if err != nil {
		return err
	}
	d.version = in["redis_version"]
	base, err := d.commandCounts(ctx)
	if err != nil {
		return fmt.Errorf("commandstats baseline: %w", err)
	}
	d.baseline = base
	return nil
}

// loadSlots records which master serves how many slots (for Describe).
func (d *Deployment) loadSlots(ctx context.Context) error {
	var slots []goredis.ClusterSlot
	err := d.srv.admin(ctx, d.srv.lc.Nodes()[0], func(ctx context.Context, c *goredis.Client) error {
		var err error
		slots, err = c.ClusterSlots(ctx).Result()
		return err
	})
	if err != nil {
		return fmt.Errorf("CLUSTER SLOTS: %w", err)
	}
	d.slots = map[string]int{}
	d.replicasOf = map[string][]string{}
	for _, s := range slots {
		if len(s.Nodes) == 0 {
			continue
		}
		m := d.srv.nodeOfAddr(s.Nodes[0].Addr)
		d.slots[m] += s.End - s.Start + 1
		for _, r := range s.Nodes[1:] {
			if rn := d.srv.nodeOfAddr(r.Addr); !slices.Contains(d.replicasOf[m], rn) {
				d.replicasOf[m] = append(d.replicasOf[m], rn)
			}
		}
	}
	return nil
}

// Deployment is a running Redis deployment; it implements
// targets.Deployment and targets.NodeOpsCounter.
type Deployment struct {
	cfg      Config
	srv      *server
	servers  *Servers
	repl     *Replicated // Replication mode only
	stateDir string
	user     string
	version  string
	phases   []string

	slots      map[string]int      // Cluster mode: master -> slot count
	replicasOf map[string][]string // Cluster mode: master -> replicas

	baseline map[string]int64

	lag    lagSampler         // SampleLag
	policy *readpolicy.Policy // MaxReplicaLag; nil without
}

var (
	_ targets.Deployment     = (*Deployment)(nil)
	_ targets.NodeOpsCounter = (*Deployment)(nil)
	_ targets.LogCollector   = (*Deployment)(nil)
)

// NodeLogs maps each node to its redis-server log (stdout and stderr).
func (d *Deployment) NodeLogs() map[string]string {
	out := map[string]string{}
	for _, n := range d.srv.lc.Nodes() {
		out[n] = d.srv.logPath(n)
	}
	return out
}

// Phases returns how long each step of the deployment took, e.g.
// "servers up 120ms".
func (d *Deployment) Phases() []string { return append([]string(nil), d.phases...) }

// Cluster returns the faults the nemesis may apply: *Servers in Cluster
// mode, *Replicated (which adds cluster.Failoverer) in Replication mode.
// Neither implements cluster.ClockSkewer.
func (d *Deployment) Cluster() cluster.Cluster {
	if d.repl != nil {
		return d.repl
	}
	return d.servers
}

// Replicated returns the Replication-mode cluster (nil in Cluster mode).
func (d *Deployment) Replicated() *Replicated { return d.repl }

// StateDir returns the directory holding configuration, data and logs.
func (d *Deployment) StateDir() string { return d.stateDir }

// NewClient returns a client for one process. It connects lazily, on its
// first request.
func (d *Deployment) NewClient(ctx context.Context, process int) (workloads.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redis: new client for process %d: %w", process, err)
	}
	return newClient(d, process), nil
}

// MasterOfKey names the node that masters key's slot, as the cluster says
// now (Cluster mode), or the current primary (Replication mode).
func (d *Deployment) MasterOfKey(ctx context.Context, key string) (string, error) {
	if d.repl != nil {
		return d.repl.Primary(), nil
	}
	ctx, cancel := context.WithTimeout(ctx, AdminTimeout)
	defer cancel()
	var slot int64
	var slots []goredis.ClusterSlot
	err := d.srv.admin(ctx, d.srv.lc.Nodes()[0], func(ctx context.Context, c *goredis.Client) error {
		var err error
		if slot, err = c.ClusterKeySlot(ctx, key).Result(); err != nil {
			return err
		}
		slots, err = c.ClusterSlots(ctx).Result()
		return err
	})
	if err != nil {
		return "", fmt.Errorf("redis: master of %q: %w", key, err)
	}
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
			if n := d.srv.nodeOfAddr(s.Nodes[0].Addr); n != "" {
				return n, nil
			}
			return "", fmt.Errorf("redis: master of %q: unknown address %s", key, s.Nodes[0].Addr)
		}
	}
	return "", fmt.Errorf("redis: master of %q: slot %d is not served", key, slot)
}

// Describe returns the topology and the consistency-relevant settings.
func (d *Deployment) Describe() []targets.Setting {
	nodes := d.srv.lc.Nodes()
	out := []targets.Setting{
		{Name: "database", Value: "Redis " + d.version},
		{Name: "mode", Value: d.cfg.Mode.String()},
	}
	switch d.cfg.Mode {
	case Cluster:
		var parts []string
		for _, m := range slices.Sorted(maps.Keys(d.slots)) {
			p := fmt.Sprintf("%s: %d slots", m, d.slots[m])
			if rs := d.replicasOf[m]; len(rs) > 0 {
				p += " (replicas " + strings.Join(rs, " ") + ")"
			}
			parts = append(parts, p)
		}
		out = append(out,
			targets.Setting{Name: "nodes", Value: fmt.Sprintf("%d (%s): %d masters, %d replicas per master", len(nodes), strings.Join(nodes, " "), Masters, d.cfg.ReplicasPerMaster)},
			targets.Setting{Name: "slots per master", Value: strings.Join(parts, "; ")},
			targets.Setting{Name: "cluster-node-timeout", Value: d.cfg.effective("cluster-node-timeout") + "ms"},
			targets.Setting{Name: "routing", Value: "each command to the master of its key's slot (go-redis slot map; a MOVED/ASK reply fails the operation and reloads the map)"},
		)
	case Replication:
		out = append(out,
			targets.Setting{Name: "nodes", Value: fmt.Sprintf("%d (%s): primary %s, %d replicas (REPLICAOF)", len(nodes), strings.Join(nodes, " "), nodes[0], len(nodes)-1)},
			targets.Setting{Name: "primary", Value: d.repl.Primary()},
			targets.Setting{Name: "reads", Value: d.describeReadFrom()},
			targets.Setting{Name: "failover", Value: "REPLICAOF NO ONE on the reachable replica with the largest slave_repl_offset, re-point the others; rejoin = wipe + REPLICAOF new primary (full resync)"},
		)
	}
	wait := "off: writes are acknowledged by the primary alone, replication is asynchronous"
	if d.cfg.Wait > 0 {
		wait = fmt.Sprintf("WAIT %d %d (numreplicas, timeout ms) after every write, on the same connection; fewer acknowledgements in time: the write is recorded info (it is applied on the primary). WAIT does not make replication synchronous", d.cfg.Wait, d.cfg.WaitTimeout.Milliseconds())
	}
	durability := "none: appendonly no, save \"\" (a killed node restarts empty)"
	if save := d.cfg.effective("save"); save != `""` {
		durability = "RDB snapshots only: appendonly no, save " + save + " (--server-config): a killed node restarts from its last snapshot, losing the writes since"
	}
	if d.cfg.AppendOnly {
		durability = "appendonly yes, appendfsync always (save " + d.cfg.effective("save") + ")"
	}
	out = append(out,
		targets.Setting{Name: "replication", Value: "asynchronous"},
		targets.Setting{Name: "wait", Value: wait},
		targets.Setting{Name: "durability", Value: durability},
		targets.Setting{Name: "cas", Value: "EVAL of a Lua script (GET, compare, SET), atomic on the master"},
		targets.Setting{Name: "client retries", Value: "none (MaxRetries -1): a request is sent once"},
		targets.Setting{Name: "clock faults", Value: "unsupported (libfaketime breaks Debian's redis-server)"},
		targets.Setting{Name: "server user", Value: d.user},
		targets.Setting{Name: "state dir", Value: d.srv.lc.DescribeStateDir()},
		targets.Setting{Name: "server config", Value: d.cfg.ServerConfig.Summary()},
	)
	return out
}

// CloseTimeout bounds Close.
const CloseTimeout = cluster.CloseTimeout

// Close kills every server and removes the namespaces, bounded by
// CloseTimeout even when ctx is already cancelled, and the state dir
// unless it is kept (Config.KeepData, or a StateDir that existed before).
func (d *Deployment) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CloseTimeout)
	defer cancel()
	d.closeLag()
	if err := d.srv.lc.Close(ctx); err != nil {
		return fmt.Errorf("redis: close: %w", err)
	}
	return nil
}

// controlCommands are not counted by NodeOps: connection setup, cluster
// and replication plumbing, administration and WAIT (which accompanies a
// write rather than being an operation of its own).
var controlCommands = map[string]bool{
	"info": true, "ping": true, "hello": true, "client": true, "cluster": true,
	"command": true, "config": true, "replconf": true, "psync": true, "sync": true,
	"replicaof": true, "slaveof": true, "select": true, "auth": true, "readonly": true,
	"readwrite": true, "wait": true, "waitaof": true, "echo": true, "quit": true, "role": true,
	"time": true, "debug": true, "memory": true, "latency": true, "slowlog": true,
	"monitor": true, "dbsize": true, "shutdown": true, "save": true, "bgsave": true,
	"bgrewriteaof": true, "lastsave": true, "reset": true, "asking": true,
}

// parseCommandStats sums the calls of INFO commandstats, leaving out
// controlCommands ("cmdstat_client|setinfo" counts as "client").
func parseCommandStats(txt string) (int64, error) {
	var total int64
	for k, v := range parseInfo(txt) {
		name, ok := strings.CutPrefix(k, "cmdstat_")
		if !ok {
			continue
		}
		base, _, _ := strings.Cut(name, "|")
		if controlCommands[base] {
			continue
		}
		calls := ""
		for _, f := range strings.Split(v, ",") {
			if c, ok := strings.CutPrefix(f, "calls="); ok {
				calls = c
				break
			}
		}
		n, err := strconv.ParseInt(calls, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("commandstats %s=%q: %w", k, v, err)
		}
		total += n
	}
	return total, nil
}

// commandCounts reads every node's counted commands; nodes that do not
// answer are left out (all of them failing is an error).
func (d *Deployment) commandCounts(ctx context.Context) (map[string]int64, error) {
	nodes := d.srv.lc.Nodes()
	counts := make([]int64, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			var txt string
			errs[i] = d.srv.admin(ctx, n, func(ctx context.Context, c *goredis.Client) error {
				var err error
				txt, err = c.Info(ctx, "commandstats").Result()
				return err
			})
			if errs[i] == nil {
				counts[i], errs[i] = parseCommandStats(txt)
			}
		})
	}
	wg.Wait()
	out := map[string]int64{}
	for i, n := range nodes {
		if errs[i] == nil {
			out[n] = counts[i]
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("redis: no node answered INFO commandstats: %w", errors.Join(errs...))
	}
	return out, nil
}

// NodeOps returns, per node that answers, the commands it executed since
// the end of Deploy by its own INFO commandstats: the sum of calls over
// every command except connection, cluster, replication and admin
// commands (controlCommands, which include WAIT). Caveats: a replica
// counts the writes it replays from its master, and commands run by Lua
// scripts (the CAS) count besides the EVAL; a node restarted since Deploy
// counts from its restart (its counter fell below the baseline).
func (d *Deployment) NodeOps(ctx context.Context) (map[string]int64, error) {
	now, err := d.commandCounts(ctx)
	if err != nil {
		return nil, err
	}
	for n, c := range now {
		if b := d.baseline[n]; c >= b {
			now[n] = c - b
		}
	}
	return now, nil
}
