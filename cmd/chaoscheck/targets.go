package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/cassandra"
	"github.com/chaoscheck/chaoscheck/targets/etcd"
	"github.com/chaoscheck/chaoscheck/targets/postgres"
	"github.com/chaoscheck/chaoscheck/targets/redis"
	"github.com/chaoscheck/chaoscheck/targets/sim"
)

// targetNames are the --target values.
var targetNames = []string{"sim", "postgres", "cassandra", "etcd", "redis"}

func (tf *testFlags) buildTarget() (targets.Target, error) {
	switch tf.target {
	case "sim":
		cfg, err := tf.sim.config(tf.seed)
		if err != nil {
			return nil, err
		}
		return sim.New(cfg)
	case "etcd":
		cfg, err := tf.etcd.config(tf)
		if err != nil {
			return nil, err
		}
		return etcd.New(cfg)
	case "postgres":
		cfg, err := tf.pg.config(tf)
		if err != nil {
			return nil, err
		}
		return postgres.New(cfg)
	case "redis":
		cfg, err := tf.redis.config(tf)
		if err != nil {
			return nil, err
		}
		return redis.New(cfg)
	case "cassandra":
		cfg, err := tf.cass.config(tf)
		if err != nil {
			return nil, err
		}
		return cassandra.New(cfg)
	}
	return nil, fmt.Errorf("unknown target %q (available: %s)", tf.target, strings.Join(targetNames, ", "))
}

// simFlags configure the simulated cluster.
type simFlags struct {
	nodes          int
	cl, rcl, wcl   string
	r, w           int
	lag, latency   time.Duration
	requestTimeout time.Duration
	readRepair     bool
	hintedHandoff  bool
	loseUnflushed  bool
	coordinator    string
	setMode        string
}

func (s *simFlags) register(fl *pflag.FlagSet) {
	fl.IntVar(&s.nodes, "nodes", 3, "nodes (sim: = replication factor; postgres: 1 primary + replicas)")
	fl.StringVar(&s.cl, "cl", "ONE", "consistency level of reads and writes (sim: ONE, TWO, QUORUM, ALL; cassandra: also THREE, LOCAL_QUORUM, LOCAL_ONE, SERIAL for reads)")
	fl.StringVar(&s.rcl, "read-cl", "", "read consistency level (sim, cassandra; default: --cl)")
	fl.StringVar(&s.wcl, "write-cl", "", "write consistency level (sim, cassandra; default: --cl)")
	fl.IntVar(&s.r, "r", 0, "sim: replicas per read, instead of --read-cl")
	fl.IntVar(&s.w, "w", 0, "sim: replicas per write, instead of --write-cl")
	fl.DurationVar(&s.lag, "replication-lag", sim.DefaultReplicationLag, "sim: delay of asynchronous replication to replicas beyond W")
	fl.DurationVar(&s.latency, "network-latency", sim.DefaultNetworkLatency, "sim: maximum delay of one message")
	fl.DurationVar(&s.requestTimeout, "request-timeout", sim.DefaultRequestTimeout, "sim: how long a coordinator waits for replicas")
	fl.BoolVar(&s.readRepair, "read-repair", false, "sim: reads write the newest value back to stale replicas")
	fl.BoolVar(&s.hintedHandoff, "hinted-handoff", false, "sim: coordinators replay writes to replicas that were unreachable")
	fl.BoolVar(&s.loseUnflushed, "lose-unflushed", false, "sim: a killed node loses writes it had not flushed")
	fl.StringVar(&s.coordinator, "coordinator", "random", "sim: coordinator per request: random or sticky (one node per client)")
	fl.StringVar(&s.setMode, "set-mode", "union", "sim: sets as per-element adds (union) or one last-write-wins value (lww)")
}

func (s *simFlags) config(seed int64) (sim.Config, error) {
	cfg := sim.Config{
		Nodes:               s.nodes,
		R:                   s.r,
		W:                   s.w,
		ReplicationLag:      noneIfZero(s.lag),
		NetworkLatency:      noneIfZero(s.latency),
		RequestTimeout:      s.requestTimeout,
		ReadRepair:          s.readRepair,
		HintedHandoff:       s.hintedHandoff,
		LoseUnflushedOnKill: s.loseUnflushed,
		Seed:                seed,
	}
	if s.nodes <= 0 {
		return cfg, fmt.Errorf("--nodes must be positive, got %d", s.nodes)
	}
	if s.requestTimeout <= 0 {
		return cfg, fmt.Errorf("--request-timeout must be positive, got %v", s.requestTimeout)
	}
	level := func(v, flag string) (sim.ConsistencyLevel, error) {
		if v == "" {
			v = s.cl
		}
		l, err := sim.ParseConsistency(v)
		if err != nil {
			return l, fmt.Errorf("%s: %w", flag, err)
		}
		return l, nil
	}
	var err error
	if s.r == 0 {
		if cfg.ReadCL, err = level(s.rcl, "--read-cl"); err != nil {
			return cfg, err
		}
	}
	if s.w == 0 {
		if cfg.WriteCL, err = level(s.wcl, "--write-cl"); err != nil {
			return cfg, err
		}
	}
	if cfg.Coordinator, err = sim.ParseCoordinatorMode(s.coordinator); err != nil {
		return cfg, fmt.Errorf("--coordinator: %w", err)
	}
	if cfg.SetMode, err = sim.ParseSetMode(s.setMode); err != nil {
		return cfg, fmt.Errorf("--set-mode: %w", err)
	}
	return cfg, cfg.Validate()
}

// noneIfZero maps a flag's 0 ("none") to the sim's negative "none" (its
// zero means "default").
func noneIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// etcdFlags configure the etcd target.
type etcdFlags struct {
	read    string
	preVote bool
}

func (e *etcdFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&e.read, "etcd-read", "linearizable", "etcd: reads linearizable (quorum) or serializable (any member's local state)")
	fl.BoolVar(&e.preVote, "pre-vote", true, "etcd: raft pre-vote (recorded in test.json)")
}

func (e *etcdFlags) config(tf *testFlags) (etcd.Config, error) {
	mode, err := etcd.ParseReadMode(e.read)
	if err != nil {
		return etcd.Config{}, fmt.Errorf("--etcd-read: %w", err)
	}
	sticky := false
	switch tf.sim.coordinator {
	case "sticky":
		sticky = true
	case "random":
	default:
		return etcd.Config{}, fmt.Errorf("--coordinator must be random or sticky, got %q", tf.sim.coordinator)
	}
	return etcd.Config{Nodes: tf.sim.nodes, Read: mode, PreVote: etcd.Bool(e.preVote), Seed: tf.seed, Sticky: sticky}, nil
}

// pgFlags configure the PostgreSQL target.
type pgFlags struct {
	replication, isolation, readFrom string
}

func (p *pgFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&p.replication, "replication", "async", "postgres: streaming replication async or sync (synchronous_commit=on, ANY 1 standby)")
	fl.StringVar(&p.isolation, "isolation", "read-committed", "postgres: read-committed, repeatable-read or serializable")
	fl.StringVar(&p.readFrom, "read-from", "primary", "postgres: reads go to the primary, a replica or any node")
}

func (p *pgFlags) config(tf *testFlags) (postgres.Config, error) {
	rep, err := postgres.ParseReplication(p.replication)
	if err != nil {
		return postgres.Config{}, fmt.Errorf("--replication: %w", err)
	}
	iso, err := postgres.ParseIsolation(p.isolation)
	if err != nil {
		return postgres.Config{}, fmt.Errorf("--isolation: %w", err)
	}
	rf, err := postgres.ParseReadFrom(p.readFrom)
	if err != nil {
		return postgres.Config{}, fmt.Errorf("--read-from: %w", err)
	}
	cfg := postgres.Config{Nodes: tf.sim.nodes, Replication: rep, Isolation: iso, ReadFrom: rf, Seed: tf.seed}
	return cfg, cfg.Validate()
}

// redisFlags configure the Redis target.
type redisFlags struct {
	mode, wait string
	appendOnly bool
}

func (r *redisFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&r.mode, "redis-mode", "cluster", "redis: cluster (3 masters, slots) or replication (a primary and replicas)")
	fl.StringVar(&r.wait, "wait", "off", "redis: WAIT for N replicas after each write (off or N)")
	fl.BoolVar(&r.appendOnly, "append-only", false, "redis: append-only file with appendfsync always (default: no persistence)")
}

func (r *redisFlags) config(tf *testFlags) (redis.Config, error) {
	mode, err := redis.ParseMode(r.mode)
	if err != nil {
		return redis.Config{}, fmt.Errorf("--redis-mode: %w", err)
	}
	wait, err := redis.ParseWait(r.wait)
	if err != nil {
		return redis.Config{}, fmt.Errorf("--wait: %w", err)
	}
	cfg := redis.Config{Mode: mode, Nodes: tf.sim.nodes, Wait: wait, AppendOnly: r.appendOnly, Seed: tf.seed}
	return cfg, cfg.Validate()
}

// cassFlags configure the Cassandra target (--cl, --read-cl and --write-cl
// are shared with the simulator).
type cassFlags struct {
	serialCL, heap, commitlog string
	clientTimestamps          bool
}

func (c *cassFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&c.serialCL, "serial-cl", "SERIAL", "cassandra: serial consistency of lightweight transactions (SERIAL, LOCAL_SERIAL)")
	fl.BoolVar(&c.clientTimestamps, "client-timestamps", false, "cassandra: the driver stamps writes (default: the coordinator node's clock decides last-write-wins)")
	fl.StringVar(&c.heap, "heap", "768m", "cassandra: JVM heap per node")
	fl.StringVar(&c.commitlog, "commitlog-sync", "batch", "cassandra: batch (acknowledged = on disk) or periodic")
}

func (c *cassFlags) config(tf *testFlags) (cassandra.Config, error) {
	level := func(v string) string {
		if v == "" {
			return tf.sim.cl
		}
		return v
	}
	cfg := cassandra.Config{
		Nodes: tf.sim.nodes, ReadCL: strings.ToUpper(level(tf.sim.rcl)), WriteCL: strings.ToUpper(level(tf.sim.wcl)),
		SerialCL: strings.ToUpper(c.serialCL), ClientTimestamps: c.clientTimestamps,
		Sticky: tf.sim.coordinator == "sticky", Heap: c.heap, CommitlogSync: c.commitlog, Seed: tf.seed,
	}
	if tf.sim.r != 0 || tf.sim.w != 0 {
		return cfg, fmt.Errorf("--r and --w are for the sim; use --read-cl and --write-cl with cassandra")
	}
	return cfg, nil // cassandra.New fills in defaults and validates
}
