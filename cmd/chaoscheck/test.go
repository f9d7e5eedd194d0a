package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/checkers/elle"
	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// testFlags are the flags of `chaoscheck test`.
type testFlags struct {
	target          targetFlags
	workloads       []string
	nemesis         []string
	nemesisInterval time.Duration
	nemesisNodes    string
	nemesisDelay    time.Duration
	nemesisJitter   time.Duration
	nemesisLoss     float64
	nemesisRate     string
	concurrency     int
	rate            float64
	timeLimit       time.Duration
	opTimeout       time.Duration
	recovery        time.Duration
	checkTimeLimit  time.Duration
	seed            int64
	name            string
	storeRoot       string
	expect          string
	keys            int
	cas             bool
	counter         string
	keepData        bool
	lagInterval     time.Duration
	lagAlert        time.Duration

	hot  float64
	salt int

	txn workloads.TxnCheckOptions
}

func newTestCmd() *cobra.Command {
	var tf testFlags
	return testCmd(&tf)
}

// testCmd is `chaoscheck test` parsing into tf (a suite case parses its
// settings with it too).
func testCmd(tf *testFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Run a test: clients and faults against a cluster, then check and report",
		Long: `Run a test. With no flags: the built-in simulated cluster (3 replicas, CL ONE),
register and ryw workloads, partitions, 30 seconds.

The run directory store/<name>/<timestamp>/ receives test.json,
history.jsonl (streamed), results.json and report.html. The state directory
of a real target (data directories, logs) is removed at the end of the run;
its node logs are copied into the run directory first (--keep-data keeps it).

Ctrl-C stops the test, heals every fault and still checks what was recorded.
A second Ctrl-C abandons the run: the cluster is torn down fast, one line says
what is left (chaoscheck heal removes it), and the exit code is 130 (143 for
SIGTERM); a third exits at once.

Each target reads its own flags (their help names the targets): a flag of
another target, or of a workload or fault not chosen, is refused (exit 254),
and so are faults the target's cluster cannot take, before anything is
deployed. --runtime says where a real target's nodes run (local or
docker); it is refused for the sim and for an unknown runtime. The
target and its runtime are probed before anything is deployed or stored
(a missing daemon, image or package: exit 255). --image (docker only)
names the nodes' image.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTest(cmd, tf)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&tf.workloads, "workload", []string{"register", "ryw"}, "workloads: "+workloads.Help())
	fl.StringSliceVar(&tf.nemesis, "nemesis", []string{"partition"}, "faults: "+nemesis.KindHelp())
	fl.DurationVar(&tf.nemesisInterval, "nemesis-interval", 5*time.Second, "time a fault lasts, and between faults")
	fl.StringVar(&tf.nemesisNodes, "nemesis-nodes", "one", "nodes hit by "+strings.Join(nodeFaultNames(), ", ")+": one, minority, majority, all or a count")
	fl.DurationVar(&tf.nemesisDelay, "nemesis-delay", nemesis.DefaultDelay, "--nemesis delay: one-way delay added each way on the slowed links")
	fl.DurationVar(&tf.nemesisJitter, "nemesis-jitter", nemesis.DefaultJitter, "--nemesis delay: random extra delay, 0 to this, per packet")
	fl.Float64Var(&tf.nemesisLoss, "nemesis-loss", nemesis.DefaultLoss*100, "--nemesis loss: percentage of packets dropped on the lossy links")
	fl.StringVar(&tf.nemesisRate, "nemesis-bandwidth", "1mbit", "--nemesis bandwidth: the limit of the chosen nodes' links, in bit/s with a unit (500kbit, 1mbit, 1gbit)")
	fl.IntVar(&tf.concurrency, "concurrency", 10, "concurrent clients")
	fl.Float64Var(&tf.rate, "rate", 500, "operations per second over all clients (0: unlimited)")
	fl.DurationVar(&tf.timeLimit, "time-limit", 30*time.Second, "how long clients run")
	fl.DurationVar(&tf.opTimeout, "op-timeout", 2*time.Second, "per-operation timeout; a write past it is recorded info")
	fl.DurationVar(&tf.recovery, "recovery-time", 2*time.Second, "time the healed cluster gets before the final reads")
	fl.DurationVar(&tf.checkTimeLimit, "check-time-limit", time.Minute, "bound on the linearizability search, positive (there is no unlimited search); past it the verdict is unknown")
	fl.Int64Var(&tf.seed, "seed", 0, "random seed (default: from the clock; always saved in test.json)")
	fl.StringVar(&tf.name, "name", "", "test name in the store (default: target-workloads)")
	fl.StringVar(&tf.storeRoot, "store", "store", "store directory")
	fl.StringVar(&tf.expect, "expect", "", "for CI: exit 0 only if the verdict is this (valid, invalid, unknown)")
	fl.IntVar(&tf.keys, "keys", 5, "keys per shared-key workload")
	fl.BoolVar(&tf.cas, "cas", true, "include compare-and-set in the register workload")
	fl.StringVar(&tf.counter, "counter", "rmw", "counter increments: rmw (read-modify-write) or native")
	fl.BoolVar(&tf.keepData, "keep-data", false, "real targets: keep the state directory (data directories, full logs) after the run; its path is printed and saved in test.json")
	fl.DurationVar(&tf.lagInterval, "lag-interval", runner.DefaultLagInterval, "period of replication-lag sampling, for targets with replicas (lag.jsonl)")
	fl.DurationVar(&tf.lagAlert, "lag-alert", runner.DefaultLagAlert, "replication lag past which the report counts the time over the threshold")
	fl.Float64Var(&tf.hot, "hot-fraction", 0.9, "hotkey workload: share of operations on the hot key")
	fl.IntVar(&tf.salt, "salt", 0, "hotkey workload: spread the hot key over N salted keys (key:0..key:N-1)")
	fl.StringSliceVar(&tf.txn.ConsistencyModels, "consistency-models", nil, "list-append, rw-register: consistency models to check the transactions against, Elle's names (default strict-serializable, unless --anomalies is given)")
	fl.StringSliceVar(&tf.txn.Anomalies, "anomalies", nil, "list-append, rw-register: anomalies to look for, Elle's names, expanded as Elle does (G1 also reports G0, G1a, G1b, G1c)")
	fl.BoolVar(&tf.txn.LinearizableKeys, "linearizable-keys", false, "rw-register: assume each key is linearizable (infer version orders from real time)")
	fl.BoolVar(&tf.txn.SequentialKeys, "sequential-keys", false, "rw-register: assume each key is sequentially consistent (infer version orders from process order)")
	fl.BoolVar(&tf.txn.WFRKeys, "wfr-keys", false, "rw-register: assume writes follow reads within a transaction")
	// Last: the registry refuses target flags that clash with those above.
	tf.target.define(fl, "sim", anyTarget)
	return cmd
}

func runTest(cmd *cobra.Command, tf *testFlags) error {
	cfg, err := tf.config(cmd)
	if err != nil {
		return badInput(err)
	}
	ctx, stop := interruptContext(cmd.ErrOrStderr())
	defer stop()
	if err := probeTarget(ctx, cfg.Target); err != nil {
		return err
	}
	img, err := tf.target.chooseImage(ctx, cmd.ErrOrStderr())
	if err != nil {
		return couldNotRun(err)
	}
	cfg.Image = img
	if rt, err := tf.target.describeRuntime(ctx); err != nil {
		return couldNotRun(err)
	} else if rt != "" {
		cfg.Settings = append(cfg.Settings, rundir.Setting{Name: "runtime", Value: rt})
	}
	errOut := cmd.ErrOrStderr()
	cfg.Progress = errOut
	out, err := runner.Run(ctx, cfg)
	if err != nil {
		if errors.Is(err, runner.ErrSetup) {
			return couldNotRun(err)
		}
		if out == nil {
			return badInput(err)
		}
		return couldNotRun(err)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintln(w)
	printChecks(w, out.Results)
	if out.Results.Interrupted {
		fmt.Fprintln(w, "interrupted: the run was stopped early; faults were healed and the partial history checked")
	}
	for _, e := range out.Results.Errors {
		fmt.Fprintln(w, "run error:", e)
	}
	fmt.Fprintf(w, "seed: %d\nrun directory: %s\nreport: %s\n", cfg.Seed, out.Dir, filepath.Join(out.Dir, rundir.ReportFile))
	code := exitFor(out.Results.Verdict)
	if out.Results.Interrupted && code == exitValid {
		code = exitUnknown
	}
	if tf.expect != "" {
		if string(out.Results.Verdict) == tf.expect && !out.Results.Interrupted {
			fmt.Fprintf(w, "expected %s: ok\n", tf.expect)
			return nil
		}
		fmt.Fprintf(w, "expected %s, got %s\n", tf.expect, out.Results.Verdict)
		if code == exitValid {
			code = exitInvalid
		}
	}
	return verdictCode(code)
}

// applyKeepData makes target keep its state directory when keep
// (--keep-data) is set, and refuses the flag for a target without one.
func applyKeepData(keep bool, target targets.Target) error {
	if !keep {
		return nil
	}
	k, ok := target.(targets.DataKeeper)
	if !ok {
		return fmt.Errorf("--keep-data applies to targets with a state directory (postgres, cassandra, etcd, redis), not %s", target.Name())
	}
	k.KeepData()
	return nil
}

// config validates the flags and builds the runner configuration.
func (tf *testFlags) config(cmd *cobra.Command) (runner.Config, error) {
	switch tf.expect {
	case "", string(checkers.Valid), string(checkers.Invalid), string(checkers.Unknown):
	default:
		return runner.Config{}, fmt.Errorf("--expect must be valid, invalid or unknown, got %q", tf.expect)
	}
	if tf.concurrency <= 0 {
		return runner.Config{}, fmt.Errorf("--concurrency must be positive, got %d", tf.concurrency)
	}
	if tf.opTimeout <= 0 {
		return runner.Config{}, fmt.Errorf("--op-timeout must be positive, got %v", tf.opTimeout)
	}
	if tf.checkTimeLimit <= 0 {
		return runner.Config{}, fmt.Errorf("--check-time-limit must be positive, got %v (a search without a bound could run for ever; give a large one, e.g. 1h)", tf.checkTimeLimit)
	}
	if tf.lagInterval < runner.MinLagInterval || tf.lagInterval > runner.MaxLagInterval {
		return runner.Config{}, fmt.Errorf("--lag-interval must be within %v and %v, got %v", runner.MinLagInterval, runner.MaxLagInterval, tf.lagInterval)
	}
	if tf.lagAlert <= 0 {
		return runner.Config{}, fmt.Errorf("--lag-alert must be positive, got %v", tf.lagAlert)
	}
	if !cmd.Flags().Changed("seed") {
		tf.seed = time.Now().UnixNano()
	}
	wopts := workloads.DefaultOptions()
	wopts.Keys = tf.keys
	wopts.CAS = tf.cas
	if tf.hot < 0 || tf.hot > 1 {
		return runner.Config{}, fmt.Errorf("--hot-fraction must be within 0 and 1, got %v", tf.hot)
	}
	if tf.salt < 0 {
		return runner.Config{}, fmt.Errorf("--salt must not be negative, got %d", tf.salt)
	}
	wopts.HotFraction, wopts.Salt = tf.hot, tf.salt
	switch tf.counter {
	case "rmw":
	case "native":
		wopts.NativeCounter = true
	default:
		return runner.Config{}, fmt.Errorf("--counter must be rmw or native, got %q", tf.counter)
	}
	var ws []workloads.Workload
	for _, n := range tf.workloads {
		w, err := workloads.New(strings.TrimSpace(n), wopts)
		if err != nil {
			return runner.Config{}, err
		}
		ws = append(ws, w)
	}
	nodes, err := nemesis.ParseTargets(tf.nemesisNodes)
	if err != nil {
		return runner.Config{}, err
	}
	faults, err := nemesis.Parse(tf.nemesis, nodes)
	if err != nil {
		return runner.Config{}, err
	}
	if tf.nemesisDelay < 0 || tf.nemesisJitter < 0 {
		return runner.Config{}, fmt.Errorf("--nemesis-delay and --nemesis-jitter must not be negative")
	}
	if tf.nemesisLoss <= 0 || tf.nemesisLoss > 100 {
		return runner.Config{}, fmt.Errorf("--nemesis-loss must be more than 0 and at most 100 (percent), got %v", tf.nemesisLoss)
	}
	hasDelay, hasLoss := nemesis.SetLinkOptions(faults, nemesis.LinkOptions{Delay: tf.nemesisDelay, Jitter: tf.nemesisJitter, Loss: tf.nemesisLoss / 100})
	rate, err := nemesis.ParseRate(tf.nemesisRate)
	if err != nil {
		return runner.Config{}, fmt.Errorf("--nemesis-bandwidth: %w", err)
	}
	hasBandwidth := nemesis.SetBandwidth(faults, rate)
	for _, fl := range []struct {
		name string
		has  bool
		kind string
	}{{"nemesis-delay", hasDelay, "delay"}, {"nemesis-jitter", hasDelay, "delay"}, {"nemesis-loss", hasLoss, "loss"}, {"nemesis-bandwidth", hasBandwidth, "bandwidth"}} {
		if cmd.Flags().Changed(fl.name) && !fl.has {
			return runner.Config{}, fmt.Errorf("--%s applies to --nemesis %s, which is not given", fl.name, fl.kind)
		}
	}
	if err := checkApplies(cmd.Flags(), tf.workloads, faults); err != nil {
		return runner.Config{}, err
	}
	target, err := tf.target.build(tf.seed)
	if err != nil {
		return runner.Config{}, err
	}
	if err := checkTargetApplies(cmd.Flags(), tf.workloads); err != nil {
		return runner.Config{}, err
	}
	if err := checkLagApplies(cmd.Flags(), target); err != nil {
		return runner.Config{}, err
	}
	if err := applyKeepData(tf.keepData, target); err != nil {
		return runner.Config{}, err
	}
	name := tf.name
	if name == "" {
		name = target.Name() + "-" + strings.Join(tf.workloads, "-")
	}
	txnCheck := trimTxn(tf.txn)
	for _, w := range tf.workloads {
		if w = strings.TrimSpace(w); w != string(elle.ListAppend) && w != string(elle.RWRegister) {
			continue
		}
		if err := elle.ValidateOptions(elle.Options{
			Workload:          elle.Workload(w),
			ConsistencyModels: txnCheck.ConsistencyModels,
			Anomalies:         txnCheck.Anomalies,
			LinearizableKeys:  txnCheck.LinearizableKeys,
			SequentialKeys:    txnCheck.SequentialKeys,
			WFRKeys:           txnCheck.WFRKeys,
		}); err != nil {
			return runner.Config{}, err
		}
	}
	var settings []rundir.Setting
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			settings = append(settings, rundir.Setting{Name: "--" + f.Name, Value: f.Value.String()})
		}
	})
	cmdline := append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...)
	if !cmd.Flags().Changed("seed") {
		cmdline = append(cmdline, fmt.Sprintf("--seed=%d", tf.seed))
	}
	return runner.Config{
		Name:            name,
		StoreRoot:       tf.storeRoot,
		Target:          target,
		Workloads:       ws,
		Faults:          faults,
		NemesisInterval: tf.nemesisInterval,
		Concurrency:     tf.concurrency,
		Rate:            tf.rate,
		TimeLimit:       tf.timeLimit,
		OpTimeout:       tf.opTimeout,
		RecoveryTime:    tf.recovery,
		CheckTimeLimit:  tf.checkTimeLimit,
		LagInterval:     tf.lagInterval,
		LagAlert:        tf.lagAlert,
		TxnCheck:        txnCheck,
		Seed:            tf.seed,
		CommandLine:     cmdline,
		Settings:        settings,
	}, nil
}

// trimTxn drops empty names from Elle's option lists ("a, b" and "a,"
// as given on the command line).
func trimTxn(o workloads.TxnCheckOptions) workloads.TxnCheckOptions {
	trim := func(ss []string) []string {
		var out []string
		for _, s := range ss {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	o.ConsistencyModels, o.Anomalies = trim(o.ConsistencyModels), trim(o.Anomalies)
	return o
}
