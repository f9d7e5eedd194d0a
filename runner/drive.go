package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/targets"
)

// DriveStats is what Drive did.
type DriveStats struct {
	// Invoked, OK, Fail and Info count the client operations.
	Invoked, OK, Fail, Info int64
	// Recorded is the number of ops written to the history (invocations
	// and completions).
	Recorded int
	// Elapsed is the time from the start of the test clock until the
	// last client stopped.
	Elapsed time.Duration
}

// Drive runs the clients of cfg against dep, a deployment made by the
// caller, and streams their history to historyPath (created; it must not
// exist): the operation path of Run (the same client slots, workload
// workers, recorder, history writer and progress accounting), without the
// nemesis, the final reads and the check. It is for benchmarks that
// compare the harness with a bare driver loop on the same cluster, and
// for load generation. Only Workloads, Concurrency, Rate, TimeLimit,
// OpTimeout, Seed and Progress of cfg are used; dep is not closed.
//
// The returned error is a failure to create or write the history file.
func Drive(ctx context.Context, cfg Config, dep targets.Deployment, historyPath string) (DriveStats, error) {
	cfg.defaults()
	switch {
	case dep == nil:
		return DriveStats{}, errors.New("drive: no deployment")
	case len(cfg.Workloads) == 0:
		return DriveStats{}, errors.New("drive: no workload")
	case cfg.Concurrency < len(cfg.Workloads):
		return DriveStats{}, fmt.Errorf("drive: concurrency %d is less than the %d workloads", cfg.Concurrency, len(cfg.Workloads))
	case cfg.TimeLimit <= 0:
		return DriveStats{}, fmt.Errorf("drive: time limit must be positive, got %v", cfg.TimeLimit)
	}
	r := &run{cfg: cfg, log: cfg.Progress, groupOps: make([]atomic.Int64, len(cfg.Workloads))}
	if r.log == nil {
		r.log = io.Discard
	}
	master := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15))
	_ = master.Uint64() // the nemesis's draws in Run, so that the slots draw the same
	_ = master.Uint64()
	slotRNG := make([]*rand.Rand, cfg.Concurrency)
	for i := range slotRNG {
		slotRNG[i] = rand.New(rand.NewPCG(master.Uint64(), master.Uint64()))
	}
	w, err := cfg.historyWriter(historyPath)
	if err != nil {
		return DriveStats{}, fmt.Errorf("drive: create history: %w", err)
	}
	r.rec = history.NewRecorder(w)
	r.nem, err = nemesis.New(dep.Cluster(), nil, 0, nil, r.rec)
	if err != nil {
		_ = w.Close()
		return DriveStats{}, fmt.Errorf("drive: %w", err)
	}
	r.clientsAndNemesis(ctx, dep, slotRNG)
	st := DriveStats{
		Invoked:  r.counts.invoked.Load(),
		OK:       r.counts.ok.Load(),
		Fail:     r.counts.fail.Load(),
		Info:     r.counts.info.Load(),
		Recorded: r.rec.Len(),
		Elapsed:  r.rec.Elapsed(),
	}
	if err := w.Close(); err != nil {
		return st, fmt.Errorf("drive: %w", err)
	}
	return st, nil
}
