package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/sim"
)

// targetNames are the --target values.
var targetNames = []string{"sim"}

// plannedTargets are real databases whose targets are not built yet: asking
// for one is a clear error, not a silent fallback to the simulator.
var plannedTargets = []string{"postgres", "cassandra", "redis", "etcd"}

func (tf *testFlags) buildTarget() (targets.Target, error) {
	switch tf.target {
	case "sim":
		cfg, err := tf.sim.config(tf.seed)
		if err != nil {
			return nil, err
		}
		return sim.New(cfg)
	}
	for _, p := range plannedTargets {
		if tf.target == p {
			return nil, fmt.Errorf("target %s is not available in this build yet (available: %s)", p, strings.Join(targetNames, ", "))
		}
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
	fl.IntVar(&s.nodes, "nodes", 3, "sim: nodes (= replication factor)")
	fl.StringVar(&s.cl, "cl", "ONE", "sim: consistency level of reads and writes: ONE, TWO, QUORUM, ALL")
	fl.StringVar(&s.rcl, "read-cl", "", "sim: read consistency level (default: --cl)")
	fl.StringVar(&s.wcl, "write-cl", "", "sim: write consistency level (default: --cl)")
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
