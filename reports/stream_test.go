package reports

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// writeJSONL writes h to dir/history.jsonl and returns the path.
func writeJSONL(t testing.TB, dir string, h *history.History) string {
	t.Helper()
	path := filepath.Join(dir, "history.jsonl")
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
	return path
}

// Issue 11 (memory): the report streams a JSONL history instead of
// loading it, and the page it draws is byte for byte the one drawn from
// the history in memory: bar by bar (few invocations) and at pixel
// resolution (more than maxBars), witnesses, fault bands, statistics
// included.
func TestStreamedReportIsTheInMemoryReport(t *testing.T) {
	for _, events := range []int{3000, 3 * maxBars} {
		h := genHistory(genOpts{Events: events, Procs: 20, Nodes: 5, Keys: 10, Latency: time.Millisecond, FaultEvery: 20 * time.Millisecond, FaultLen: 10 * time.Millisecond, Seed: 5})
		if err := h.Validate(); err != nil {
			t.Fatal(err)
		}
		in := benchInput(h)
		in.Results.Stats.Invocations = 0 // the report counts them itself, from the pass
		var mem, file bytes.Buffer
		if err := Render(&mem, in); err != nil {
			t.Fatal(err)
		}
		src, err := history.OpenJSONL(writeJSONL(t, t.TempDir(), h))
		if err != nil {
			t.Fatal(err)
		}
		in.History = src
		if err := Render(&file, in); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mem.Bytes(), file.Bytes()) {
			t.Fatalf("%d events: the streamed report differs from the in-memory one (%d vs %d bytes)", events, file.Len(), mem.Len())
		}
		a := mustAnalyze(t, h)
		if a.exact != (events < maxBars) || len(a.picked) != 0 {
			t.Errorf("%d events: exact=%v picked=%d", events, a.exact, len(a.picked))
		}
		if !bytes.Contains(file.Bytes(), []byte(`<tr class="ty-`)) {
			t.Errorf("%d events: the witness ops are not shown", events)
		}
	}
}

// A history file that breaks the invariants fails the report with
// ErrHistory (chaoscheck report: exit 254), naming the line.
func TestStreamedReportOfABadHistory(t *testing.T) {
	dir := t.TempDir()
	h := &history.History{Ops: []history.Op{
		{Type: history.Invoke, Process: 1, F: "read"},
		{Type: history.Invoke, Process: 1, F: "read"},
	}}
	h.Reindex()
	src, err := history.OpenJSONL(writeJSONL(t, dir, h))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err = Render(&buf, Input{History: src})
	if err == nil || !errors.Is(err, ErrHistory) || !bytes.Contains([]byte(err.Error()), []byte("line 2")) {
		t.Fatalf("err = %v", err)
	}
}

// Issue 11 (memory): the heap the report holds while it streams a history
// does not grow with the history. Peak heap over the baseline, sampled
// while the report of 400,000 events is drawn, stays under 40 bytes per
// event (loading the history, as before, holds about 120).
func TestStreamedReportHoldsNoOps(t *testing.T) {
	const events = 400_000
	h := genHistory(genOpts{Events: events, Procs: 50, Nodes: 5, Keys: 100, Latency: time.Millisecond, FaultEvery: 5 * time.Second, FaultLen: 2 * time.Second, Seed: 3})
	in := benchInput(h)
	src, err := history.OpenJSONL(writeJSONL(t, t.TempDir(), h))
	if err != nil {
		t.Fatal(err)
	}
	in.History = src
	h = nil
	peak := heapPeak(t, func() {
		var w countingWriter
		if err := Render(&w, in); err != nil {
			t.Error(err)
		}
	})
	if per := float64(peak) / events; per > 40 {
		t.Errorf("the report held %.0f bytes of heap per event (peak %d MB over the baseline), want at most 40", per, peak>>20)
	} else {
		t.Logf("peak heap over the baseline: %.1f bytes per event (%d KB)", per, peak>>10)
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

// A run directory's history.jsonl is streamed by LoadRun's Input, and what
// its reader noticed (a last line cut short by a crash) is shown on the
// page, as when the history was loaded.
func TestLoadRunStreamsAndNotesReaderWarnings(t *testing.T) {
	dir := t.TempDir()
	h := genHistory(genOpts{Events: 500, Procs: 4, Nodes: 3, Keys: 2, Latency: time.Millisecond, FaultEvery: 50 * time.Millisecond, FaultLen: 20 * time.Millisecond, Seed: 9})
	path := writeJSONL(t, dir, h)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"index":500,"time":`); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	in := benchInput(h)
	in.Results.History = "history.jsonl"
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.ResultsFile), in.Results); err != nil {
		t.Fatal(err)
	}
	got, err := LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.History.(*history.JSONLFile); !ok {
		t.Fatalf("LoadRun gave a %T, want a streamed *history.JSONLFile", got.History)
	}
	var buf bytes.Buffer
	if err := Render(&buf, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("history.jsonl: the input was cut short at line 501")) {
		t.Error("the page does not say that the history's last line was cut short")
	}
}
