//go:build linux

package postgres

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/internal/sidebyside"
	"github.com/chaoscheck/chaoscheck/internal/testenv"
	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// BenchmarkLagSampling is the cost of lag sampling: a primary and two
// standbys (local runtime, needs root and PostgreSQL), the chaoscheck
// harness (runner.Drive: the register workload without CAS, reads from
// replicas) without and with SampleLag every 100 ms beside it (as
// `chaoscheck test` samples, lag.jsonl written), in interleaved rounds;
// the ratio is with over without. b.N is not used: -benchtime=1x.
//
//	go test ./targets/postgres -run '^$' -bench LagSampling -benchtime=1x
func BenchmarkLagSampling(b *testing.B) {
	if err := env.Err(); err != nil {
		b.Fatalf("this benchmark needs %s: %v", env.Needs, err)
	}
	ctx := context.Background()
	tg, err := New(Config{Nodes: 3, ReadFrom: Replica, Runtime: local.Runtime{}, StateDir: testenv.StateDir(b, "pglagbench")})
	if err != nil {
		b.Fatal(err)
	}
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
	opts := workloads.DefaultOptions()
	opts.CAS = false
	wl, err := workloads.New("register", opts)
	if err != nil {
		b.Fatal(err)
	}
	harness := func(name string) sidebyside.Contender {
		return sidebyside.Harness(name, sidebyside.HarnessConfig{
			Config: runner.Config{Workloads: []workloads.Workload{wl}, Concurrency: *bench.Concurrency, Seed: 1},
			Dep:    dep,
			Dir:    b.TempDir(),
		})
	}
	without := harness("no sampling")
	with := sidebyside.WithLagSampling("sampling every 100ms", harness("chaoscheck"), dep.(*Deployment), 100*time.Millisecond, b.TempDir())
	bench.Bench(ctx, b, without, with)
}

// BenchmarkSampleLag is one sampling round, back to back, under no load:
// its wall time and this process's CPU time per round (user + system;
// the servers' share is in BenchmarkLagSampling's throughput ratio).
// At --lag-interval 100ms the sampler costs 10 rounds' CPU a second.
//
//	go test ./targets/postgres -run '^$' -bench SampleLag$ -benchtime=2000x
func BenchmarkSampleLag(b *testing.B) {
	if err := env.Err(); err != nil {
		b.Fatalf("this benchmark needs %s: %v", env.Needs, err)
	}
	ctx := context.Background()
	tg, err := New(Config{Nodes: 3, ReadFrom: Replica, Runtime: local.Runtime{}, StateDir: testenv.StateDir(b, "pglagbench")})
	if err != nil {
		b.Fatal(err)
	}
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
	d := dep.(*Deployment)
	if _, err := d.SampleLag(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		if _, err := d.SampleLag(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/round")
}

// processCPU is this process's user and system time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
