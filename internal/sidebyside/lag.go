package sidebyside

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// WithLagSampling returns c with replication-lag sampling beside it, as
// `chaoscheck test` samples (see runner's lag loop): while c runs, one
// goroutine asks ls every interval, each round bounded by one interval,
// and writes the samples to a lag.jsonl in dir (a new file per round,
// removed after it). Comparing c with WithLagSampling(c) gives the cost
// of sampling.
func WithLagSampling(name string, c Contender, ls targets.LagSampler, interval time.Duration, dir string) Contender {
	round := 0
	return Contender{Name: name, Run: func(ctx context.Context, d time.Duration) (int64, error) {
		round++
		path := filepath.Join(dir, fmt.Sprintf("lag-%d.jsonl", round))
		w, err := lag.Create(path)
		if err != nil {
			return 0, err
		}
		sctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		var rounds int
		var serr error
		wg.Go(func() {
			t := time.NewTicker(interval)
			defer t.Stop()
			start := time.Now()
			for {
				rctx, cancel := context.WithTimeout(sctx, interval)
				ss, err := ls.SampleLag(rctx)
				cancel()
				if sctx.Err() != nil {
					return
				}
				if err != nil {
					// As the runner does: a failed or late round is one
					// error sample, and sampling goes on.
					ss = []lag.Sample{{Err: err.Error()}}
				}
				for i := range ss {
					ss[i].Time = int64(time.Since(start))
				}
				if err := w.Write(ss); err != nil && serr == nil {
					serr = fmt.Errorf("lag sampling: %w", err)
				}
				rounds++
				select {
				case <-sctx.Done():
					return
				case <-t.C:
				}
			}
		})
		ops, err := c.Run(ctx, d)
		stop()
		wg.Wait()
		err = errors.Join(err, serr, w.Close())
		if rounds < int(d/interval)/2 {
			err = errors.Join(err, fmt.Errorf("lag sampling: %d rounds in %v, want about %d", rounds, d, int(d/interval)))
		}
		if rerr := os.Remove(path); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return ops, err
	}}
}

// Deploy deploys tg for a benchmark (within 2 minutes) and closes it when
// b ends.
func Deploy(ctx context.Context, b *testing.B, tg targets.Target) targets.Deployment {
	b.Helper()
	dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	dep, err := tg.Deploy(dctx)
	cancel()
	if err != nil {
		b.Fatalf("deploy: %v", err)
	}
	b.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dep.Close(cctx); err != nil {
			b.Errorf("close: %v", err)
		}
	})
	return dep
}

// LagCost is the body of a target's BenchmarkLagSampling: the chaoscheck
// harness (runner.Drive: the register workload without CAS) on dep,
// without and with dep's SampleLag every 100 ms beside it (as `chaoscheck
// test` samples, lag.jsonl written), in interleaved rounds; the ratio is
// with over without.
func (f Flags) LagCost(ctx context.Context, b *testing.B, dep targets.Deployment) {
	b.Helper()
	ls, ok := dep.(targets.LagSampler)
	if !ok {
		b.Fatalf("deployment %T samples no lag", dep)
	}
	opts := workloads.DefaultOptions()
	opts.CAS = false
	wl, err := workloads.New("register", opts)
	if err != nil {
		b.Fatal(err)
	}
	harness := func(name string) Contender {
		return Harness(name, HarnessConfig{
			Config: runner.Config{Workloads: []workloads.Workload{wl}, Concurrency: *f.Concurrency, Seed: 1},
			Dep:    dep,
			Dir:    b.TempDir(),
		})
	}
	without := harness("no sampling")
	with := WithLagSampling("sampling every 100ms", harness("chaoscheck"), ls, 100*time.Millisecond, b.TempDir())
	f.Bench(ctx, b, without, with)
}

// SampleLagRounds is the body of a target's BenchmarkSampleLag: one
// sampling round of ls, back to back, under no load: its wall time and
// this process's CPU time per round (user + system; the servers' share is
// in LagCost's throughput ratio). At --lag-interval 100ms the sampler
// costs 10 rounds' CPU a second.
func SampleLagRounds(ctx context.Context, b *testing.B, ls targets.LagSampler) {
	b.Helper()
	if _, err := ls.SampleLag(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := ls.SampleLag(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/round")
}
