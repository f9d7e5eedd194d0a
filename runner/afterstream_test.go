package runner

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/internal/histgen"
	"github.com/chaoscheck/chaoscheck/measures"
	"github.com/chaoscheck/chaoscheck/reports"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// Issue 11 (memory): after the check, the statistics, the measurements
// and the report stream history.jsonl, as checkFile gives it to them
// (history.OpenJSONL), instead of loading it whole (112 bytes an op, 3.5
// GB for the 31 M lines of a 10-minute soak). The peak heap of that phase
// over the baseline, on a history of 400,000 ops, stays under 40 bytes
// per op; loading the history, as before, holds about 124.
func TestAfterTheCheckNothingHoldsTheOps(t *testing.T) {
	h, err := histgen.Register(rand.New(rand.NewPCG(8, 9)), histgen.Config{
		Ops: 200_000, Keys: 10, Processes: 50, InfoFraction: 0.01,
		ReadWeight: 1, WriteWeight: 1, CASWeight: 1, NotSwappedOK: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	n := len(h.Ops)
	dir := t.TempDir()
	path := filepath.Join(dir, rundir.HistoryFile)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := history.WriteJSONL(f, h); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want, err := Stats(h)
	if err != nil {
		t.Fatal(err)
	}
	h = nil
	var got rundir.Stats
	peak := heapPeak(t, func() {
		src, err := history.OpenJSONL(path)
		if err != nil {
			t.Error(err)
			return
		}
		if got, err = Stats(src); err != nil {
			t.Error(err)
		}
		m, err := measures.Compute(src, nil, measures.Options{})
		if err != nil {
			t.Error(err)
		}
		res := rundir.Results{Stats: got, Measurements: m, History: rundir.HistoryFile}
		if err := reports.WriteFiles(dir, reports.Input{Results: res, History: src, Dir: dir}); err != nil {
			t.Error(err)
		}
	})
	if got != want {
		t.Errorf("streamed statistics %+v, in memory %+v", got, want)
	}
	if per := float64(peak) / float64(n); per > 40 {
		t.Errorf("the phase after the check held %.0f bytes of heap per op (peak %d MB over the baseline), want at most 40", per, peak>>20)
	} else {
		t.Logf("peak heap over the baseline: %.1f bytes per op", per)
	}
}

// heapPeak runs fn and returns the highest heap in use over the heap in
// use before, sampled every millisecond.
func heapPeak(t testing.TB, fn func()) uint64 {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	stop := make(chan struct{})
	done := make(chan uint64)
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
	fn()
	close(stop)
	peak := <-done
	if peak < base {
		return 0
	}
	return peak - base
}
