// Package runner owns the life of a test: deploy the target, wait until it
// is healthy, run concurrent clients and the nemesis for the time limit,
// heal every fault, let the cluster recover, do the final reads, check the
// history and write the run directory.
//
// Determinism: one seed drives everything random. The runner draws from it,
// in a fixed order, the nemesis's generator and one generator per client
// slot, so that with the same seed every process draws the same operations
// (which of them overlap still depends on timing).
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/measures"
	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/reports"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// Config is a test.
type Config struct {
	// Name names the test in the store.
	Name string
	// StoreRoot is the store directory (default "store").
	StoreRoot string
	// Target is the configured database.
	Target targets.Target
	// Workloads run side by side; client slots are dealt round-robin.
	Workloads []workloads.Workload
	// Faults are the nemesis's repertoire (none: no faults).
	Faults []nemesis.Fault
	// NemesisInterval is the time between a fault's start and its heal,
	// and between a heal and the next start.
	NemesisInterval time.Duration
	// Concurrency is the number of client slots (processes at a time).
	Concurrency int
	// Rate limits invocations per second over all clients (0: no limit).
	Rate float64
	// TimeLimit is how long clients run.
	TimeLimit time.Duration
	// OpTimeout bounds each operation; past it the client gives up and the
	// operation is recorded info (or fail, for a read).
	OpTimeout time.Duration
	// RecoveryTime is how long the healed cluster gets to converge before
	// the final reads.
	RecoveryTime time.Duration
	// DeployTimeout bounds deploying and waiting for health.
	DeployTimeout time.Duration
	// CheckTimeLimit bounds the linearizability search (0: none).
	CheckTimeLimit time.Duration
	// TxnCheck are Elle's options for the transaction workloads' checker
	// (zero: strict-serializable).
	TxnCheck workloads.TxnCheckOptions
	// Seed drives every random choice.
	Seed int64
	// CommandLine is recorded in test.json so the report can say how to
	// rerun.
	CommandLine []string
	// Settings are extra configuration lines for test.json (flags...).
	Settings []rundir.Setting
	// Image is the container image the nodes run, and why (runtimes
	// that run images; nil otherwise), for test.json.
	Image *rundir.Image
	// Progress receives live progress lines (nil: none).
	Progress io.Writer
	// ProgressEvery is the progress period (default 2s).
	ProgressEvery time.Duration
	// LagInterval is the period of replication-lag sampling, for a
	// deployment that reports it (targets.LagSampler; default
	// DefaultLagInterval).
	LagInterval time.Duration
	// LagAlert is the replication lag past which the measurements count
	// the time over the threshold (default DefaultLagAlert).
	LagAlert time.Duration
	// Deployment, when set, is an already deployed cluster of Target
	// (Deploy, targets.Rebinder) that the test runs on instead of
	// deploying one; it is left running (its owner closes it). A suite
	// runs several tests on one cluster this way.
	Deployment targets.Deployment

	// deployTimeoutSet: DeployTimeout was given (not the default), so a
	// target's own DeployBudget does not raise it.
	deployTimeoutSet bool

	// historyWriter creates the history writer at path (default:
	// history.Create); tests replace it to make writes fail.
	historyWriter func(path string) (*history.Writer, error)
	// lagWriter creates the writer of lag.jsonl at path (default:
	// lag.Create); tests replace it to make writes fail.
	lagWriter func(path string) (*lag.Writer, error)
}

func (c *Config) defaults() {
	if c.StoreRoot == "" {
		c.StoreRoot = "store"
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = 2 * time.Second
	}
	if c.DeployTimeout <= 0 {
		c.DeployTimeout = 2 * time.Minute
	} else {
		c.deployTimeoutSet = true
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 2 * time.Second
	}
	if c.historyWriter == nil {
		c.historyWriter = history.Create
	}
	if c.LagAlert == 0 {
		c.LagAlert = DefaultLagAlert
	}
	if c.LagInterval == 0 {
		c.LagInterval = DefaultLagInterval
	}
	if c.lagWriter == nil {
		c.lagWriter = lag.Create
	}
}

// Validate reports a bad configuration.
func (c *Config) Validate() error {
	switch {
	case c.Target == nil:
		return errors.New("no target")
	case len(c.Workloads) == 0:
		return errors.New("no workload")
	case c.Concurrency < len(c.Workloads):
		return fmt.Errorf("concurrency %d is less than the %d workloads: each workload needs a client", c.Concurrency, len(c.Workloads))
	case c.TimeLimit <= 0:
		return fmt.Errorf("time limit must be positive, got %v", c.TimeLimit)
	case c.Rate < 0:
		return fmt.Errorf("rate must not be negative, got %v", c.Rate)
	case len(c.Faults) > 0 && c.NemesisInterval <= 0:
		return fmt.Errorf("nemesis interval must be positive, got %v", c.NemesisInterval)
	case c.RecoveryTime < 0:
		return fmt.Errorf("recovery time must not be negative, got %v", c.RecoveryTime)
	case c.LagInterval < MinLagInterval || c.LagInterval > MaxLagInterval:
		return fmt.Errorf("lag interval must be within %v and %v, got %v", MinLagInterval, MaxLagInterval, c.LagInterval)
	case c.LagAlert < 0:
		return fmt.Errorf("lag alert threshold must be positive, got %v", c.LagAlert)
	}
	if err := rundir.ValidateName(c.Name); err != nil {
		return err
	}
	seen := map[string]bool{}
	var owners []string
	for _, w := range c.Workloads {
		if seen[w.Name()] {
			return fmt.Errorf("workload %s given twice", w.Name())
		}
		seen[w.Name()] = true
		if _, ok := w.(workloads.OpOwner); ok {
			owners = append(owners, w.Name())
		}
	}
	if len(owners) > 1 {
		return fmt.Errorf("workloads %s all record transactions (f txn, no key of their own): run one of them per test", strings.Join(owners, " and "))
	}
	return checkPlan(c)
}

// Outcome is what a finished run produced.
type Outcome struct {
	Dir     string
	Results rundir.Results
}

// ErrSetup wraps failures that prevented the test from running (deploy,
// clients, store): exit code 255 territory.
var ErrSetup = errors.New("test could not run")

// Run runs the test. Cancelling ctx (Ctrl-C) stops clients and nemesis,
// heals every fault and still checks and saves what was recorded; the
// results are then marked interrupted. An error is returned only when no
// verdict could be produced; it wraps ErrSetup when the test could not
// start or could not go on.
//
// The history is streamed to history.jsonl and not kept in memory. A
// failed write to it (a full disk) stops the test at once: the clients'
// operations are cancelled, the faults healed, and Run returns an error
// wrapping ErrSetup, leaving the readable prefix that reached the file and
// no results. After the clients stop, the verdict is computed from the
// file, as `chaoscheck check` would, one workload group at a time.
func Run(ctx context.Context, cfg Config) (*Outcome, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	dir, err := rundir.NewRunDir(cfg.StoreRoot, cfg.Name, start)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	r := &run{cfg: cfg, dir: dir, log: cfg.Progress, groupOps: make([]atomic.Int64, len(cfg.Workloads))}
	if r.log == nil {
		r.log = io.Discard
	}
	return r.run(ctx, start)
}

type run struct {
	cfg Config
	dir string
	log io.Writer

	rec      *history.Recorder
	lag      *lagLoop // nil when the deployment reports no lag
	counts   opCounts
	groupOps []atomic.Int64 // ops recorded per workload (invocations and completions)
	nem      *nemesis.Nemesis
	nextPID  atomic.Int64
	// openFails are the failures to open a client (run errors).
	openFails openFailures
}

type opCounts struct {
	invoked, ok, fail, info atomic.Int64
}

func (r *run) printf(format string, args ...any) { fmt.Fprintf(r.log, format+"\n", args...) }

func (r *run) run(ctx context.Context, start time.Time) (*Outcome, error) {
	cfg := r.cfg
	master := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15))
	nemRNG := rand.New(rand.NewPCG(master.Uint64(), master.Uint64()))
	slotRNG := make([]*rand.Rand, cfg.Concurrency)
	for i := range slotRNG {
		slotRNG[i] = rand.New(rand.NewPCG(master.Uint64(), master.Uint64()))
	}

	info := r.testInfo(start)
	if err := rundir.WriteJSON(filepath.Join(r.dir, rundir.TestFile), info); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}

	dep := cfg.Deployment
	if dep == nil {
		r.printf("deploying %s...", cfg.Target.Name())
		var err error
		if dep, err = deploy(ctx, &cfg); err != nil {
			return nil, err
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), nemesis.HealTimeout)
			defer cancel()
			if err := dep.Close(cctx); err != nil {
				r.printf("warning: closing %s: %v", cfg.Target.Name(), err)
			}
			if info.KeptData != "" {
				r.printf("data kept (--keep-data): %s", info.KeptData)
			}
		}()
	}
	info.TargetSettings = dep.Describe()
	if f, ok := dep.(targets.FactReporter); ok {
		facts := f.Facts()
		info.Facts = &facts
	}
	if k, ok := dep.(targets.KeptData); ok {
		info.KeptData = k.KeptData()
	}
	if q, ok := dep.(targets.Quorums); ok {
		if n, rr, ww := q.Quorums(); n > 0 {
			info.Quorums = &rundir.QuorumConfig{N: n, R: rr, W: ww}
		}
	}
	if err := rundir.WriteJSON(filepath.Join(r.dir, rundir.TestFile), info); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}

	hpath := filepath.Join(r.dir, rundir.HistoryFile)
	w, err := cfg.historyWriter(hpath)
	if err != nil {
		return nil, fmt.Errorf("%w: create history: %v", ErrSetup, err)
	}
	r.rec = history.NewRecorder(w)

	r.nem, err = nemesis.New(dep.Cluster(), cfg.Faults, cfg.NemesisInterval, nemRNG, r.rec)
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}

	r.lag, err = r.startLag(ctx, dep)
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	defer r.lag.stop()

	var runErrs []string
	interrupted := r.clientsAndNemesis(ctx, dep, slotRNG)
	serverOps := r.serverOps(ctx, dep)
	if err := r.nem.Heal(ctx); err != nil {
		runErrs = append(runErrs, "healing faults: "+err.Error())
		r.printf("ERROR healing faults: %v", err)
	} else {
		r.printf("all faults healed")
	}
	if !interrupted && r.rec.Err() == nil && !r.lagFailed() {
		interrupted = r.recoverAndFinalRead(ctx, dep)
	}
	lagErr := r.lag.stop()
	r.collectLogs(dep)
	if err := w.Close(); err != nil {
		// The history on disk is not the history of the test: no verdict.
		// What reached the file is a prefix of whole lines that `chaoscheck
		// check` reads.
		return nil, fmt.Errorf("%w: the history could not be written, so the test was stopped (%d ops were recorded; %s holds those that reached the disk): %v", ErrSetup, r.rec.Len(), hpath, err)
	}
	if lagErr != nil {
		// The lag record has a gap that no sample explains: no results,
		// as for the history.
		return nil, fmt.Errorf("%w: the replication lag samples could not be written, so the test was stopped (%s holds those that reached the disk): %v", ErrSetup, r.lag.path, lagErr)
	}
	if r.lag != nil {
		r.printf("replication lag: %d samples of %d replicas in %s (%d failed)", r.lag.samples, len(r.lag.replicas), lag.File, r.lag.failedSamples)
	}

	defer lowerGCPercent(checkGCPercent)()
	res, h, err := r.checkFile(ctx, hpath, dep, interrupted, runErrs, serverOps)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}
	out := &Outcome{Dir: r.dir, Results: res}
	if err := rundir.WriteJSON(filepath.Join(r.dir, rundir.ResultsFile), res); err != nil {
		r.removeArtifacts(res)
		return out, err
	}
	if err := reports.WriteFiles(r.dir, reports.Input{Test: &info, Results: res, History: h, Dir: r.dir}); err != nil {
		return out, fmt.Errorf("write report: %w", err)
	}
	return out, nil
}

// checkFile judges the history file at hpath, as `chaoscheck check` reads
// it, so that the verdict is about what is on disk. Memory stays bounded by
// the largest workload group: each group is loaded, checked and dropped in
// turn (CheckFile); the statistics and the measurements then stream the
// file without holding its ops, and so does the report (the returned
// source).
func (r *run) checkFile(ctx context.Context, hpath string, dep targets.Deployment, interrupted bool, runErrs []string, serverOps map[string]int64) (rundir.Results, history.Source, error) {
	cfg := r.cfg
	r.printf("checking %d operations...", r.counts.invoked.Load())
	groups := Groups(cfg.Workloads, workloads.CheckOptions{TimeLimit: cfg.CheckTimeLimit, OutDir: r.dir, Txn: cfg.TxnCheck})
	var clientOps int64
	for g := range groups {
		clientOps += r.groupOps[g].Load()
	}
	for g := range groups {
		// The ops recorded: the group's own, and the nemesis events that
		// every group sees.
		groups[g].Ops = int(r.groupOps[g].Load() + int64(r.rec.Len()) - clientOps)
	}
	checks, err := CheckFile(context.WithoutCancel(ctx), hpath, groups)
	if err != nil {
		return rundir.Results{}, nil, err
	}
	// An empty file (no client could even be opened) streams no op: the
	// checkers judged it unknown, and that is the run's result.
	h, err := history.OpenJSONL(hpath)
	if err != nil {
		return rundir.Results{}, nil, err
	}
	stats, err := Stats(h)
	if err != nil {
		return rundir.Results{}, nil, err
	}
	mo := quorums(dep)
	if r.lag != nil {
		mo.LagFile, mo.LagAlertNS = r.lag.path, int64(cfg.LagAlert)
	}
	m, err := measures.Compute(h, rundir.CheckResults(checks), mo)
	if err != nil {
		return rundir.Results{}, nil, err
	}
	res := rundir.Results{
		SchemaVersion: rundir.SchemaVersion,
		Verdict:       rundir.Verdict(checks),
		Interrupted:   interrupted,
		Errors:        runErrs,
		Stats:         stats,
		Checks:        checks,
		Measurements:  m,
		History:       rundir.HistoryFile,
	}
	if len(runErrs) > 0 && res.Verdict == checkers.Valid {
		// A fault that did not heal makes "valid" unproven.
		res.Verdict = checkers.Unknown
	}
	res.Errors = append(res.Errors, r.openFails.errors()...)
	if res.Measurements.Load != nil {
		res.Measurements.Load.ServerSide = serverOps
	}
	return res, h, nil
}

// checkGCPercent is the garbage collector's target while the history is
// checked and reported: the live heap is then the history itself (hundreds
// of megabytes to gigabytes), and the default target (GOGC=100) would let
// the heap grow to twice that before collecting the checkers' garbage. At
// 10%, a 3 GB history leaves room for 300 MB of garbage; the price is
// more collections while the checkers allocate.
const checkGCPercent = 10

// lowerGCPercent lowers the garbage collector's target to percent (unless
// it is already lower, or collection is off) and returns the function that
// restores it.
func lowerGCPercent(percent int) (restore func()) {
	old := debug.SetGCPercent(percent)
	if old < 0 || old < percent {
		debug.SetGCPercent(old)
	}
	return func() { debug.SetGCPercent(old) }
}

// removeArtifacts removes the files the checkers wrote when the results
// that name them could not be written: a run directory without
// results.json must not look like a checked one.
func (r *run) removeArtifacts(res rundir.Results) {
	for _, c := range res.Checks {
		for _, a := range c.Result.Artifacts {
			if filepath.IsLocal(a) {
				_ = os.Remove(filepath.Join(r.dir, a))
			}
		}
	}
}

// maxLogCopy bounds each node log copied into the run directory (its
// tail is kept).
const maxLogCopy = 8 << 20

// collectLogs copies each node's log into nodes/<node>.log of the run
// directory. Failures are warnings: the verdict does not depend on logs.
func (r *run) collectLogs(dep targets.Deployment) {
	lc, ok := dep.(targets.LogCollector)
	if !ok {
		return
	}
	dir := filepath.Join(r.dir, "nodes")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.printf("warning: node logs: %v", err)
		return
	}
	for node, path := range lc.NodeLogs() {
		if err := copyTail(path, filepath.Join(dir, node+".log"), maxLogCopy); err != nil {
			r.printf("warning: node log of %s: %v", node, err)
		}
	}
}

// copyTail copies at most the last limit bytes of src to dst.
func copyTail(src, dst string, limit int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if st.Size() > limit {
		if _, err := in.Seek(st.Size()-limit, io.SeekStart); err != nil {
			return err
		}
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// quorums returns N, R and W when the deployment has them, and the
// region of every node of a multi-region deployment.
func quorums(dep targets.Deployment) measures.Options {
	var o measures.Options
	if q, ok := dep.(targets.Quorums); ok {
		o.N, o.R, o.W = q.Quorums()
	}
	if rg, ok := dep.(targets.Regioner); ok {
		o.Regions = rg.Regions()
	}
	return o
}

// serverOps asks the deployment, when it can say, how many operations each
// node served by its own count (nil otherwise).
func (r *run) serverOps(ctx context.Context, dep targets.Deployment) map[string]int64 {
	nc, ok := dep.(targets.NodeOpsCounter)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.OpTimeout*5)
	defer cancel()
	ops, err := nc.NodeOps(ctx)
	if err != nil {
		r.printf("warning: server-side operation counts: %v", err)
		return nil
	}
	return ops
}

// testInfo is test.json before deploy (the target adds its settings after).
func (r *run) testInfo(start time.Time) rundir.TestInfo {
	cfg := r.cfg
	names := make([]string, len(cfg.Workloads))
	for i, w := range cfg.Workloads {
		names[i] = w.Name()
	}
	faults := make([]string, len(cfg.Faults))
	for i, f := range cfg.Faults {
		faults[i] = f.Name()
	}
	conf := []rundir.Setting{
		{Name: "concurrency", Value: fmt.Sprint(cfg.Concurrency)},
		{Name: "rate", Value: fmt.Sprint(cfg.Rate)},
		{Name: "time-limit", Value: cfg.TimeLimit.String()},
		{Name: "op-timeout", Value: cfg.OpTimeout.String()},
		{Name: "nemesis-interval", Value: cfg.NemesisInterval.String()},
		{Name: "recovery-time", Value: cfg.RecoveryTime.String()},
		{Name: "check-time-limit", Value: cfg.CheckTimeLimit.String()},
		{Name: "lag-interval", Value: cfg.LagInterval.String()},
		{Name: "lag-alert", Value: cfg.LagAlert.String()},
	}
	var sc *rundir.ServerConfig
	if c, ok := cfg.Target.(targets.ServerConfigured); ok {
		sc = c.ServerConfig()
	}
	return rundir.TestInfo{
		ServerConfig: sc,
		Image:        cfg.Image,
		Name:         cfg.Name,
		Start:        start,
		CommandLine:  cfg.CommandLine,
		Seed:         cfg.Seed,
		Target:       cfg.Target.Name(),
		Workloads:    names,
		Nemesis:      faults,
		Lag:          &rundir.LagConfig{IntervalNS: int64(cfg.LagInterval), AlertNS: int64(cfg.LagAlert)},
		Config:       append(conf, cfg.Settings...),
		Versions:     Versions(),
	}
}

// Versions names the build of chaoscheck and Go.
func Versions() []rundir.Setting {
	v := "devel"
	rev := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	out := []rundir.Setting{{Name: "chaoscheck", Value: v}, {Name: "go", Value: runtime.Version()}}
	if rev != "" {
		out = append(out, rundir.Setting{Name: "revision", Value: rev})
	}
	return out
}

// stopGrace is how long operations in flight at the time limit may still
// take: past it they are cancelled (and recorded as their clients map a
// cancellation: info for a write), so that the clients stop within
// stopGrace of the limit however long the op timeout.
const stopGrace = 500 * time.Millisecond

// stallWarning is the scheduling delay of the process (see stallWatch)
// past which the run warns that the history has gaps of its own making.
const stallWarning = 100 * time.Millisecond

// clientsAndNemesis runs the clients and the nemesis for the time limit and
// returns whether ctx was cancelled (interrupted). A failed history write
// stops them at once: their operations in flight are cancelled.
func (r *run) clientsAndNemesis(ctx context.Context, dep targets.Deployment, slotRNG []*rand.Rand) bool {
	cfg := r.cfg
	r.printf("running %d clients for %v (seed %d)...", cfg.Concurrency, cfg.TimeLimit, cfg.Seed)
	// The time limit counts on the clock of op times. stopCtx ends the
	// generation of new operations; opCtx bounds the operations in
	// flight: stopGrace after the limit, at once on Ctrl-C (ctx) or when
	// the history cannot be written.
	limit := r.rec.Start().Add(cfg.TimeLimit)
	opCtx, cancelOps := context.WithDeadline(ctx, limit.Add(stopGrace))
	defer cancelOps()
	stopCtx, stop := context.WithDeadline(opCtx, limit)
	defer stop()
	limiter := newLimiter(cfg.Rate)
	r.nextPID.Store(int64(cfg.Concurrency))

	watchDone := make(chan struct{})
	failedAt := make(chan time.Time, 1)
	go func() {
		select {
		case <-r.rec.Failed():
			failedAt <- time.Now()
			r.printf("ERROR writing the history: %v; stopping the test", r.rec.Err())
			cancelOps()
		case <-r.lag.failedCh():
			failedAt <- time.Now()
			r.printf("ERROR writing %s: %v; stopping the test", lag.File, r.lag.err)
			cancelOps()
		case <-watchDone:
		}
	}()

	stalls := watchStalls(stopCtx)
	var wg sync.WaitGroup
	nemDone := make(chan struct{})
	go func() {
		defer close(nemDone)
		r.nem.Run(stopCtx)
	}()
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		r.progress(stopCtx)
	}()
	for slot := 0; slot < cfg.Concurrency; slot++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wl := cfg.Workloads[slot%len(cfg.Workloads)]
			r.client(opCtx, stopCtx, dep, wl, slot, slotRNG[slot], limiter)
		}()
	}
	wg.Wait()
	close(watchDone)
	select {
	case at := <-failedAt:
		r.printf("clients stopped %v after the failed write", time.Since(at).Round(time.Microsecond))
	default:
		if ctx.Err() == nil {
			r.printf("clients stopped %v after the time limit", time.Since(limit).Round(time.Microsecond))
		}
	}
	stop()
	if d := stalls.Longest(); d >= stallWarning {
		r.printf("warning: this process did not run for up to %v at a time while the clients ran (an overloaded machine or a long GC pause): the history has gaps the database did not cause", d.Round(time.Millisecond))
	}
	<-nemDone
	<-progressDone
	return ctx.Err() != nil
}

// client runs one slot: a process until its op ends info, then the next
// process id (old + concurrency steps are not needed: ids are handed out
// from a shared counter, so they stay unique). Operations run under ctx;
// stopCtx ends the generation of new ones.
func (r *run) client(ctx, stopCtx context.Context, dep targets.Deployment, wl workloads.Workload, slot int, rng *rand.Rand, lim *limiter) {
	pid := slot
	for stopCtx.Err() == nil {
		sess, err := r.open(stopCtx, dep, wl, pid)
		if err != nil {
			if stopCtx.Err() != nil {
				return
			}
			r.openFails.add(pid, err)
			r.printf("process %d: %v", pid, err)
			// Retry later with the same process id: nothing was invoked.
			if !sleepCtx(stopCtx, time.Second) {
				return
			}
			continue
		}
		crashed := r.loop(ctx, stopCtx, sess, pid, rng, lim)
		sess.close()
		if !crashed {
			return
		}
		pid = int(r.nextPID.Add(1) - 1)
	}
}

// session is one process's client and the workload's worker on it.
type session struct {
	worker workloads.Worker
	client workloads.Client
	group  int // index of the workload in Config.Workloads
	// octx is the context of the session's operations in the client
	// loop (nil for the final reads: invoke then makes one per
	// operation); its parent is the loop's ctx.
	octx *opContext
}

func (s *session) close() { _ = s.client.Close() }

// node is the coordinator of the last request, when the client knows it.
func (s *session) node() string {
	if nr, ok := s.client.(workloads.NodeReporter); ok {
		return nr.LastNode()
	}
	return ""
}

// extra is what the client says of its last request beyond its node
// (workloads.ExtraReporter), nil when nothing.
func (s *session) extra() map[string]string {
	if er, ok := s.client.(workloads.ExtraReporter); ok {
		return er.LastExtra()
	}
	return nil
}

func (r *run) open(ctx context.Context, dep targets.Deployment, wl workloads.Workload, pid int) (*session, error) {
	octx, cancel := context.WithTimeout(ctx, r.cfg.OpTimeout)
	defer cancel()
	c, err := dep.NewClient(octx, pid)
	if err != nil {
		return nil, fmt.Errorf("open client: %w", err)
	}
	worker, err := wl.NewWorker(c)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	group := 0
	for i, w := range r.cfg.Workloads {
		if w.Name() == wl.Name() { // names are unique (Validate)
			group = i
		}
	}
	return &session{worker: worker, client: c, group: group}, nil
}

// loop performs operations until stopCtx ends (false) or an operation
// ends info (true: the process must not invoke again).
func (r *run) loop(ctx, stopCtx context.Context, sess *session, pid int, rng *rand.Rand, lim *limiter) bool {
	sess.octx = newOpContext(ctx, r.cfg.OpTimeout)
	defer sess.octx.close()
	for {
		if !lim.wait(stopCtx) {
			return false
		}
		// The limit is checked where the invocation is stamped, not
		// only by stopCtx, whose timer may fire late on a loaded machine:
		// no op is invoked past it.
		inv := sess.worker.Next(rng)
		t, invoked := r.invoke(ctx, sess, pid, inv, r.cfg.TimeLimit)
		if !invoked {
			return false
		}
		if t == history.Info {
			return true
		}
	}
}

// noLimit is invoke's until for operations not bound by the time limit
// (the final reads).
const noLimit time.Duration = -1

// invoke records the invocation, performs it and records the completion.
// An invocation whose time would be at or past until (on the op clock;
// noLimit: none) is not recorded nor performed: invoke then returns false.
func (r *run) invoke(ctx context.Context, sess *session, pid int, inv workloads.Invocation, until time.Duration) (history.Type, bool) {
	if _, ok := r.rec.RecordBefore(history.Op{Type: history.Invoke, Process: history.Process(pid), F: inv.F, Key: inv.Key, Value: inv.Value}, until); !ok {
		return 0, false
	}
	r.groupOps[sess.group].Add(1)
	r.counts.invoked.Add(1)
	var c workloads.Completion
	if sess.octx != nil {
		sess.octx.begin()
		c = sess.worker.Do(sess.octx, inv)
		sess.octx.end()
	} else {
		octx, cancel := context.WithTimeout(ctx, r.cfg.OpTimeout)
		c = sess.worker.Do(octx, inv)
		cancel()
	}
	r.rec.Record(history.Op{Type: c.Type, Process: history.Process(pid), F: inv.F, Key: inv.Key, Value: c.Value, Error: c.Error, Node: sess.node(), Extra: sess.extra()})
	r.groupOps[sess.group].Add(1)
	switch c.Type {
	case history.OK:
		r.counts.ok.Add(1)
	case history.Fail:
		r.counts.fail.Add(1)
	default:
		r.counts.info.Add(1)
	}
	return c.Type, true
}

// recoverAndFinalRead waits RecoveryTime, then performs the final
// invocations of workloads that have them. It returns true when ctx was
// cancelled meanwhile.
func (r *run) recoverAndFinalRead(ctx context.Context, dep targets.Deployment) bool {
	var finals []workloads.Workload
	for _, w := range r.cfg.Workloads {
		if _, ok := w.(workloads.Finisher); ok {
			finals = append(finals, w)
		}
	}
	if len(finals) == 0 {
		return ctx.Err() != nil
	}
	if r.cfg.RecoveryTime > 0 {
		r.printf("letting the cluster recover for %v...", r.cfg.RecoveryTime)
		if !sleepCtx(ctx, r.cfg.RecoveryTime) {
			return true
		}
	}
	r.printf("final reads...")
	for _, w := range finals {
		for _, inv := range w.(workloads.Finisher).FinalInvocations() {
			// Each final read gets a fresh process, retried a few times
			// while it fails (a read that fails has no effect).
			for attempt := 0; attempt < 5; attempt++ {
				if ctx.Err() != nil {
					return true
				}
				pid := int(r.nextPID.Add(1) - 1)
				sess, err := r.open(ctx, dep, w, pid)
				if err != nil {
					r.openFails.add(pid, err)
					r.printf("final read: %v", err)
					sleepCtx(ctx, time.Second)
					continue
				}
				t, _ := r.invoke(ctx, sess, pid, inv, noLimit)
				sess.close()
				if t == history.OK {
					break
				}
			}
		}
	}
	return ctx.Err() != nil
}

// progress prints a line every ProgressEvery until ctx ends.
func (r *run) progress(ctx context.Context) {
	t := time.NewTicker(r.cfg.ProgressEvery)
	defer t.Stop()
	var last int64
	lastT := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := r.counts.invoked.Load()
			rate := float64(n-last) / now.Sub(lastT).Seconds()
			last, lastT = n, now
			faults := r.nem.Active()
			fs := "none"
			if len(faults) > 0 {
				fs = fmt.Sprint(faults)
			}
			r.printf("[%5.1fs] %6.0f ops/s  ok=%d fail=%d info=%d  faults: %s",
				r.rec.Elapsed().Seconds(), rate, r.counts.ok.Load(), r.counts.fail.Load(), r.counts.info.Load(), fs)
		}
	}
}

// sleepCtx waits d or until ctx ends; false when ctx ended.
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

// limiter spaces invocations over all clients to a rate; nil means no
// limit.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func newLimiter(rate float64) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{interval: time.Duration(float64(time.Second) / rate)}
}

// wait blocks until the caller's slot; false when ctx ended first.
func (l *limiter) wait(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if l == nil {
		return true
	}
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	at := l.next
	l.next = l.next.Add(l.interval)
	l.mu.Unlock()
	return sleepCtx(ctx, time.Until(at))
}
