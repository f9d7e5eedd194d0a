package reports

import (
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
