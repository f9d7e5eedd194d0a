package sim

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets"
)

// Registration is the sim's row in the target registry: its flag group
// and the constructor from those flags.
func Registration() targets.Registration {
	return targets.Registration{
		Name:      "sim",
		Summary:   "the built-in simulated Dynamo-style store",
		InProcess: true,
		Flags:     defineFlags,
	}
}

// flagValues are the sim's flags.
type flagValues struct {
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
	regions        int
	region         targets.RegionFlags
}

func defineFlags(fs *pflag.FlagSet) targets.Constructor {
	var v flagValues
	fs.IntVar(&v.nodes, "nodes", DefaultNodes, "nodes (= replication factor)")
	fs.StringVar(&v.cl, "cl", "ONE", "consistency level of reads and writes: ONE, TWO, QUORUM, ALL, LOCAL_ONE, LOCAL_QUORUM, EACH_QUORUM (writes)")
	fs.IntVar(&v.regions, "regions", 1, "split the nodes into this many regions, in order; clients are dealt to regions round-robin")
	v.region.Define(fs, "regions")
	fs.StringVar(&v.rcl, "read-cl", "", "read consistency level (default: --cl)")
	fs.StringVar(&v.wcl, "write-cl", "", "write consistency level (default: --cl)")
	fs.IntVar(&v.r, "r", 0, "replicas per read, instead of --read-cl")
	fs.IntVar(&v.w, "w", 0, "replicas per write, instead of --write-cl")
	fs.DurationVar(&v.lag, "replication-lag", DefaultReplicationLag, "delay of asynchronous replication to replicas beyond W (0: none)")
	fs.DurationVar(&v.latency, "network-latency", DefaultNetworkLatency, "maximum delay of one message (0: none)")
	fs.DurationVar(&v.requestTimeout, "request-timeout", DefaultRequestTimeout, "how long a coordinator waits for replicas")
	fs.BoolVar(&v.readRepair, "read-repair", false, "reads write the newest value back to stale replicas")
	fs.BoolVar(&v.hintedHandoff, "hinted-handoff", false, "coordinators replay writes to replicas that were unreachable")
	fs.BoolVar(&v.loseUnflushed, "lose-unflushed", false, "a killed node loses writes it had not flushed")
	fs.StringVar(&v.coordinator, "coordinator", "random", "node coordinating each request: random, or sticky (one node per client)")
	fs.StringVar(&v.setMode, "set-mode", "union", "sets as per-element adds (union) or one last-write-wins value (lww)")
	return func(c targets.Common) (targets.Target, error) {
		cfg, err := v.config(fs, c.Seed)
		if err != nil {
			return nil, err
		}
		return New(cfg)
	}
}

// config checks the flags against each other and builds the Config.
func (v *flagValues) config(fs *pflag.FlagSet, seed int64) (Config, error) {
	if v.nodes < 1 {
		return Config{}, fmt.Errorf("--nodes must be at least 1, got %d", v.nodes)
	}
	if v.requestTimeout <= 0 {
		return Config{}, fmt.Errorf("--request-timeout must be positive, got %v", v.requestTimeout)
	}
	if v.lag < 0 || v.latency < 0 {
		return Config{}, fmt.Errorf("--replication-lag and --network-latency must not be negative")
	}
	if v.r < 0 || v.w < 0 {
		return Config{}, fmt.Errorf("--r and --w must not be negative")
	}
	given := fs.Changed
	for _, c := range []struct{ level, count string }{{"read-cl", "r"}, {"write-cl", "w"}} {
		if given(c.level) && given(c.count) {
			return Config{}, fmt.Errorf("--%s and --%s both set the replicas of one side: give one of them", c.level, c.count)
		}
	}
	if given("cl") && (given("r") || given("read-cl")) && (given("w") || given("write-cl")) {
		return Config{}, fmt.Errorf("--cl applies to no operation when reads and writes have their own (--read-cl or --r, --write-cl or --w): drop it")
	}
	cfg := Config{
		Nodes:               v.nodes,
		R:                   v.r,
		W:                   v.w,
		ReplicationLag:      noneIfZero(v.lag),
		NetworkLatency:      noneIfZero(v.latency),
		RequestTimeout:      v.requestTimeout,
		ReadRepair:          v.readRepair,
		HintedHandoff:       v.hintedHandoff,
		LoseUnflushedOnKill: v.loseUnflushed,
		Regions:             v.regions,
		Seed:                seed,
	}
	if v.regions < 1 {
		return Config{}, fmt.Errorf("--regions must be at least 1, got %d", v.regions)
	}
	if v.regions > v.nodes {
		return Config{}, fmt.Errorf("--regions %d needs at least as many --nodes, got %d", v.regions, v.nodes)
	}
	link, err := v.region.Link(fs, v.regions)
	if err != nil {
		return Config{}, err
	}
	cfg.RegionRTT, cfg.RegionJitter, cfg.RegionLoss = link.RTT, link.Jitter, link.Loss
	level := func(s, flag string) (ConsistencyLevel, error) {
		if s == "" {
			s, flag = v.cl, "--cl"
		}
		l, err := ParseConsistency(s)
		if err != nil {
			return l, fmt.Errorf("%s: %w", flag, err)
		}
		return l, nil
	}
	if v.r == 0 {
		if cfg.ReadCL, err = level(v.rcl, "--read-cl"); err != nil {
			return cfg, err
		}
	}
	if v.w == 0 {
		if cfg.WriteCL, err = level(v.wcl, "--write-cl"); err != nil {
			return cfg, err
		}
	}
	if cfg.Coordinator, err = ParseCoordinatorMode(v.coordinator); err != nil {
		return cfg, fmt.Errorf("--coordinator: %w", err)
	}
	if cfg.SetMode, err = ParseSetMode(v.setMode); err != nil {
		return cfg, fmt.Errorf("--set-mode: %w", err)
	}
	return cfg, cfg.Validate()
}

// noneIfZero maps a flag's 0 ("none") to the Config's negative "none"
// (its zero means "default").
func noneIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// Plan is the simulated cluster's: every fault of the cluster package but
// failover (every node coordinates; there is no primary). It implements
// targets.Planner.
func (t *Target) Plan() cluster.Plan {
	return cluster.Plan{Nodes: t.cfg.Nodes, Regions: t.cfg.Regions}.
		With(cluster.CanPartition, cluster.CanKill, cluster.CanPause, cluster.CanSkewClock, cluster.CanShape).
		Without(cluster.CanFailover, "the sim has no primary to fail over (every node coordinates): failover needs --target postgres, or redis with --redis-mode replication").
		Without(cluster.CanThrottle, "the simulated network has no bandwidth (messages, not bytes): bandwidth needs a real target (postgres, redis, etcd, cassandra)")
}

var _ targets.Planner = (*Target)(nil)
