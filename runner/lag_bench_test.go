package runner

import (
	"context"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/sim"
)

// withoutLag hides a target's deployments' LagSampler: the runner then
// samples nothing.
type withoutLag struct{ targets.Target }

func (t withoutLag) Deploy(ctx context.Context) (targets.Deployment, error) {
	d, err := t.Target.Deploy(ctx)
	if err != nil {
		return nil, err
	}
	return struct{ targets.Deployment }{d}, nil
}

// BenchmarkLagSampling measures what sampling replication lag every
// 100 ms costs the clients: the sim at an unlimited rate, with and
// without sampling, in alternation; it reports both throughputs and
// their ratio (issue 15: at most 5% less with sampling).
func BenchmarkLagSampling(b *testing.B) {
	var with, without float64
	for i := 0; i < b.N; i++ {
		for _, sample := range []bool{false, true} {
			tg, err := sim.New(sim.Config{Seed: int64(i) + 1})
			if err != nil {
				b.Fatal(err)
			}
			var target targets.Target = tg
			if !sample {
				target = withoutLag{tg}
			}
			out, err := Run(context.Background(), Config{
				Name: "lagbench", StoreRoot: b.TempDir(), Target: target,
				Workloads:   mustWorkloads(b, "register"),
				Concurrency: 8, TimeLimit: 3 * time.Second, Seed: int64(i) + 1, CheckTimeLimit: time.Nanosecond,
			})
			if err != nil {
				b.Fatal(err)
			}
			ops := float64(out.Results.Stats.Invocations) / 3
			if sample {
				with += ops
			} else {
				without += ops
			}
		}
	}
	b.ReportMetric(with/float64(b.N), "ops/s-sampled")
	b.ReportMetric(without/float64(b.N), "ops/s-unsampled")
	b.ReportMetric(with/without, "ratio")
}
