package sidebyside

import (
	"context"
	"flag"
	"os"
	"testing"
	"time"
)

// Flags are the command-line settings every target's BenchmarkSideBySide
// takes (-sidebyside.rounds, .round, .concurrency, .only).
type Flags struct {
	Rounds      *int
	Round       *time.Duration
	Concurrency *int
	Only        *string
}

// RegisterFlags defines the side-by-side flags on fs (a test binary's
// flag.CommandLine).
func RegisterFlags(fs *flag.FlagSet) Flags {
	return Flags{
		Rounds:      fs.Int("sidebyside.rounds", 6, "BenchmarkSideBySide: measured rounds of each side"),
		Round:       fs.Duration("sidebyside.round", 3*time.Second, "BenchmarkSideBySide: length of a round"),
		Concurrency: fs.Int("sidebyside.concurrency", 10, "BenchmarkSideBySide: clients of each side"),
		Only:        fs.String("sidebyside.only", "", "BenchmarkSideBySide: run only this side (bare or harness) for one round, for profiling"),
	}
}

// Bench runs bare against harness as the flags say and reports the
// figures on b: with -sidebyside.only, one round of one side (for
// profiling) and its rate; otherwise Measure's interleaved rounds,
// printed, with rates, ratio, allocations and CPU per op as metrics.
func (f Flags) Bench(ctx context.Context, b *testing.B, bare, harness Contender) {
	b.Helper()
	b.ResetTimer()
	if *f.Only != "" {
		c := bare
		if *f.Only == "harness" {
			c = harness
		}
		start := time.Now()
		ops, err := c.Run(ctx, *f.Round)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(ops)/time.Since(start).Seconds(), "ops/s")
		return
	}
	res, err := Measure(ctx, *f.Rounds, *f.Round, bare, harness)
	if err != nil {
		b.Fatal(err)
	}
	res.Print(os.Stdout)
	b.ReportMetric(res.Base.Rate(), "bare-ops/s")
	b.ReportMetric(res.Harness.Rate(), "harness-ops/s")
	b.ReportMetric(res.Ratio(), "ratio")
	b.ReportMetric(res.Base.AllocsPerOp(), "bare-allocs/op")
	b.ReportMetric(res.Harness.AllocsPerOp(), "harness-allocs/op")
	b.ReportMetric(float64(res.Base.CPUPerOp().Nanoseconds()), "bare-cpu-ns/op")
	b.ReportMetric(float64(res.Harness.CPUPerOp().Nanoseconds()), "harness-cpu-ns/op")
}
