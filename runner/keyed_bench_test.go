package runner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/internal/histgen"
)

// registerFile writes a generated linearizable register history of ops
// operations over keys keys and returns its path and line count.
func registerFile(tb testing.TB, ops, keys int) (string, int) {
	tb.Helper()
	h, err := histgen.Register(rand.New(rand.NewPCG(1, 2)), histgen.Config{Ops: ops, Keys: keys, Processes: 10, InfoFraction: 0.001})
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "history.jsonl")
	w, err := history.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range h.Ops {
		if err := w.Write(&h.Ops[i]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return path, len(h.Ops)
}

// checkPeak runs checkFile on path with one linearizable group and
// returns the peak heap over the baseline (sampled every millisecond)
// and the results.
func checkPeak(tb testing.TB, path string, perKey bool) uint64 {
	tb.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var peak uint64
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-stop:
				done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	out, err := checkFile(context.Background(), path, []Group{{Workload: "register", Checkers: []checkers.Checker{&checkers.Linearizable{}}}}, perKey)
	close(stop)
	peak := <-done
	if err != nil {
		tb.Fatal(err)
	}
	if v := out[0].Verdict; v != checkers.Valid {
		tb.Fatalf("linearizable: %s (%s), want valid", v, out[0].Reason)
	}
	if peak < base {
		return 0
	}
	return peak - base
}

// TestCheckFileKeyedHoldsOneKey: checking five equal keys one at a time
// holds at most half the heap of checking them together (a fifth of the
// ops, plus the spill's index of 4 bytes per op).
func TestCheckFileKeyedHoldsOneKey(t *testing.T) {
	path, lines := registerFile(t, 100_000, 5)
	whole := checkPeak(t, path, false)
	keyed := checkPeak(t, path, true)
	t.Logf("peak heap over the baseline: whole %.1f B/line, keyed %.1f B/line (%d lines)", float64(whole)/float64(lines), float64(keyed)/float64(lines), lines)
	if keyed > whole/2 {
		t.Errorf("keyed check peak heap %d KB, whole %d KB: want at most half", keyed>>10, whole>>10)
	}
}

// BenchmarkCheckFile1M: the check of a 1 M-line register history of 5
// keys, whole and one key at a time: peak heap over the baseline per
// line, CPU and wall time per check.
func BenchmarkCheckFile1M(b *testing.B) {
	path, lines := registerFile(b, 500_000, 5)
	for _, perKey := range []bool{false, true} {
		b.Run(fmt.Sprintf("keyed=%v", perKey), func(b *testing.B) {
			var peak uint64
			var cpu time.Duration
			for b.Loop() {
				c0 := cpuTime()
				peak = max(peak, checkPeak(b, path, perKey))
				cpu += cpuTime() - c0
			}
			b.ReportMetric(float64(peak)/float64(lines), "B/line-peak")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/check")
		})
	}
}

// cpuTime is the CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
