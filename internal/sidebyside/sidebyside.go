// Package sidebyside measures the chaoscheck harness against a bare driver
// loop on the same deployed cluster: interleaved rounds of equal length, so
// that a machine shared with other work slows both alike, and the ratio of
// their throughputs.
//
// The rounds alternate in the order A B B A A B B A ..., so that a drift
// of the machine's load during the measurement favours neither side.
package sidebyside

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/targets"
)

// Contender is one side: Run performs operations for d and returns how
// many it completed (every operation, whatever its outcome).
type Contender struct {
	Name string
	Run  func(ctx context.Context, d time.Duration) (ops int64, err error)
}

// Round is one measured round of one contender.
type Round struct {
	Ops     int64
	Elapsed time.Duration
	// Mallocs is the process's heap allocations during the round (every
	// goroutine: the driver's, the harness's and the runtime's).
	Mallocs uint64
	// CPU is the process's user and system time during the round (every
	// goroutine; not the database servers, which run as other processes).
	CPU time.Duration
}

// Rate is the round's throughput in ops/s.
func (r Round) Rate() float64 { return float64(r.Ops) / r.Elapsed.Seconds() }

// Side is the rounds of one contender.
type Side struct {
	Name   string
	Rounds []Round
}

// Rate is the side's throughput over all its rounds.
func (s Side) Rate() float64 {
	var ops int64
	var el time.Duration
	for _, r := range s.Rounds {
		ops += r.Ops
		el += r.Elapsed
	}
	return float64(ops) / el.Seconds()
}

// CPUPerOp is the process's CPU time per operation: on a machine shared
// with other work, a steadier measure of the per-operation cost than the
// throughput.
func (s Side) CPUPerOp() time.Duration {
	var ops int64
	var c time.Duration
	for _, r := range s.Rounds {
		ops += r.Ops
		c += r.CPU
	}
	return c / time.Duration(max(ops, 1))
}

// AllocsPerOp is the side's heap allocations per operation.
func (s Side) AllocsPerOp() float64 {
	var ops int64
	var m uint64
	for _, r := range s.Rounds {
		ops += r.Ops
		m += r.Mallocs
	}
	return float64(m) / float64(max(ops, 1))
}

// Result is a measurement: Base is the bare driver, Harness the harness.
type Result struct {
	Base, Harness Side
}

// Ratio is the harness's throughput over the bare driver's, over all
// rounds.
func (r Result) Ratio() float64 { return r.Harness.Rate() / r.Base.Rate() }

// PairRatios are the ratios of the rounds taken pairwise (round i of the
// harness over round i of the bare driver), sorted.
func (r Result) PairRatios() []float64 {
	n := min(len(r.Base.Rounds), len(r.Harness.Rounds))
	out := make([]float64, n)
	for i := range n {
		out[i] = r.Harness.Rounds[i].Rate() / r.Base.Rounds[i].Rate()
	}
	slices.Sort(out)
	return out
}

// Print writes the rounds and the summary.
func (r Result) Print(w io.Writer) {
	for i := range min(len(r.Base.Rounds), len(r.Harness.Rounds)) {
		b, h := r.Base.Rounds[i], r.Harness.Rounds[i]
		fmt.Fprintf(w, "round %2d: %s %7.0f ops/s (%5.1f allocs/op, %5.1f µs CPU/op)   %s %7.0f ops/s (%5.1f allocs/op, %5.1f µs CPU/op)   ratio %.3f\n",
			i+1, r.Base.Name, b.Rate(), perOp(float64(b.Mallocs), b.Ops), perOp(float64(b.CPU.Microseconds()), b.Ops),
			r.Harness.Name, h.Rate(), perOp(float64(h.Mallocs), h.Ops), perOp(float64(h.CPU.Microseconds()), h.Ops), h.Rate()/b.Rate())
	}
	pr := r.PairRatios()
	fmt.Fprintf(w, "%s: %.0f ops/s, %.1f allocs/op, %.1f µs CPU/op; %s: %.0f ops/s, %.1f allocs/op, %.1f µs CPU/op; ratio %.3f (rounds: min %.3f, median %.3f, max %.3f)\n",
		r.Base.Name, r.Base.Rate(), r.Base.AllocsPerOp(), us(r.Base.CPUPerOp()), r.Harness.Name, r.Harness.Rate(), r.Harness.AllocsPerOp(), us(r.Harness.CPUPerOp()), r.Ratio(), pr[0], pr[len(pr)/2], pr[len(pr)-1])
}

func perOp(x float64, ops int64) float64 { return x / float64(max(ops, 1)) }

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Measure runs rounds rounds of d for each contender, interleaved (A B B
// A ...), after one unmeasured warm-up round of each.
func Measure(ctx context.Context, rounds int, d time.Duration, base, harness Contender) (Result, error) {
	if rounds < 1 || d <= 0 {
		return Result{}, errors.New("sidebyside: rounds and duration must be positive")
	}
	res := Result{Base: Side{Name: base.Name}, Harness: Side{Name: harness.Name}}
	one := func(c Contender, d time.Duration) (Round, error) {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		start, cpu0 := time.Now(), cpuTime()
		ops, err := c.Run(ctx, d)
		el, cpu := time.Since(start), cpuTime()-cpu0
		runtime.ReadMemStats(&m1)
		if err != nil {
			return Round{}, fmt.Errorf("%s: %w", c.Name, err)
		}
		return Round{Ops: ops, Elapsed: el, Mallocs: m1.Mallocs - m0.Mallocs, CPU: cpu}, nil
	}
	warm := min(d, time.Second)
	for _, c := range []Contender{base, harness} {
		if _, err := one(c, warm); err != nil {
			return res, err
		}
	}
	for i := range rounds {
		order := []Contender{base, harness}
		if i%2 == 1 {
			order[0], order[1] = harness, base
		}
		for _, c := range order {
			r, err := one(c, d)
			if err != nil {
				return res, err
			}
			if c.Name == base.Name {
				res.Base.Rounds = append(res.Base.Rounds, r)
			} else {
				res.Harness.Rounds = append(res.Harness.Rounds, r)
			}
		}
	}
	return res, nil
}

// HarnessConfig is the harness side: cfg's clients (Workloads,
// Concurrency, Rate, OpTimeout, Seed) driven against dep by runner.Drive,
// with a history file per round in Dir.
type HarnessConfig struct {
	Config runner.Config
	Dep    targets.Deployment
	Dir    string
}

// Harness returns the contender that runs the chaoscheck harness: the
// runner's client slots, the workload's workers, the recorder and the
// history writer to a real file, as `chaoscheck test` runs them. Each
// round writes a new history file, removed after the round.
func Harness(name string, hc HarnessConfig) Contender {
	round := 0
	return Contender{Name: name, Run: func(ctx context.Context, d time.Duration) (int64, error) {
		round++
		cfg := hc.Config
		cfg.TimeLimit = d
		cfg.Seed += int64(round)
		path := filepath.Join(hc.Dir, fmt.Sprintf("history-%d.jsonl", round))
		st, err := runner.Drive(ctx, cfg, hc.Dep, path)
		if rerr := os.Remove(path); err == nil && rerr != nil {
			err = rerr
		}
		return st.Invoked, err
	}}
}
