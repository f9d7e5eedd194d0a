package reports

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// countingWriter counts the bytes written to it.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// BenchmarkReport1M renders the report of a 1,000,000-event register
// history (20 client threads, partitions and kills every few seconds, a
// stale-read anomaly) built in memory. Metrics: s (seconds per report) and
// MB (size of report.html).
func BenchmarkReport1M(b *testing.B) {
	h := genHistory(genOpts{Events: 1_000_000, Procs: 20, Nodes: 5, Keys: 100, Latency: time.Millisecond, FaultEvery: 5 * time.Second, FaultLen: 2 * time.Second, Seed: 11})
	in := benchInput(h)
	b.ReportAllocs()
	b.ResetTimer()
	var size int64
	start := time.Now()
	for i := 0; i < b.N; i++ {
		var w countingWriter
		if err := Render(&w, in); err != nil {
			b.Fatal(err)
		}
		size = w.n
	}
	b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "s")
	b.ReportMetric(float64(size)/1e6, "MB")
}

// benchInput is a run of h with one anomaly whose witnesses are the first
// two client completions.
func benchInput(h *history.History) Input {
	var wit []int
	for i := range h.Ops {
		if h.Ops[i].IsClient() && len(wit) < 4 {
			wit = append(wit, i)
		}
	}
	r := checkers.Result{Checker: "session"}
	r.AddAnomaly(checkers.Anomaly{Kind: "stale-read", Key: h.Ops[wit[0]].Key, Ops: wit, Message: "synthetic"})
	checks := []rundir.Check{{Workload: "register", Result: r}}
	return Input{
		Test:    &rundir.TestInfo{Name: "bench", Target: "sim"},
		Results: rundir.Results{Verdict: rundir.Verdict(checks), Checks: checks, Stats: historyStats(h)},
		History: h,
	}
}

// BenchmarkReportRunDir1M is `chaoscheck report DIR` in process on a run
// directory whose history.jsonl holds 1,000,000 events (the register
// history of BenchmarkReport1M, with partitions, kills and a stale-read
// anomaly): LoadRun, then WriteFiles, the history streamed from the file.
// Metrics: s (wall, per report; issue 16: at most 2 s), cpu-s (user and
// system CPU time per report, which a shared machine does not inflate),
// MB (report.html) and
// B/op-peak (the peak heap over the baseline while it runs, per event,
// sampled in one more run outside the timing).
func BenchmarkReportRunDir1M(b *testing.B) {
	const events = 1_000_000
	h := genHistory(genOpts{Events: events, Procs: 20, Nodes: 5, Keys: 100, Latency: time.Millisecond, FaultEvery: 5 * time.Second, FaultLen: 2 * time.Second, Seed: 11})
	in := benchInput(h)
	dir := b.TempDir()
	writeJSONL(b, dir, h)
	in.Results.History = rundir.HistoryFile
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.ResultsFile), in.Results); err != nil {
		b.Fatal(err)
	}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.TestFile), in.Test); err != nil {
		b.Fatal(err)
	}
	h, in = nil, Input{}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	for range b.N {
		if err := Write(dir); err != nil {
			b.Fatal(err)
		}
	}
	took, cpu := time.Since(start), cpuTime(b)-cpu0
	b.StopTimer()
	// Once more, with the heap sampled (which slows it down a little).
	peak := heapPeak(b, func() {
		if err := Write(dir); err != nil {
			b.Fatal(err)
		}
	})
	st, err := os.Stat(filepath.Join(dir, rundir.ReportFile))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(took.Seconds()/float64(b.N), "s")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s")
	b.ReportMetric(float64(st.Size())/1e6, "MB")
	b.ReportMetric(float64(peak)/events, "B/op-peak")
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
