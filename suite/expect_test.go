package suite

import (
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/measures"
	"github.com/chaoscheck/chaoscheck/rundir"
)

func results(v checkers.Verdict, checks ...rundir.Check) *rundir.Results {
	return &rundir.Results{Verdict: v, Checks: checks}
}

func check(workload, checker string, v checkers.Verdict, anomalies map[string]int) rundir.Check {
	return rundir.Check{Workload: workload, Result: checkers.Result{Checker: checker, Verdict: v, AnomalyCounts: anomalies}}
}

func TestExpectations(t *testing.T) {
	valid := results(checkers.Valid, check("set", "set", checkers.Valid, nil))
	lost := results(checkers.Invalid, check("set", "set", checkers.Invalid, map[string]int{"lost": 3}))
	unknown := results(checkers.Unknown, check("register", "linearizable", checkers.Unknown, nil))
	interrupted := results(checkers.Valid, check("set", "set", checkers.Valid, nil))
	interrupted.Interrupted = true
	healErr := results(checkers.Valid, check("set", "set", checkers.Valid, nil))
	healErr.Errors = []string{"opening clients failed 1 time(s)"}
	timed := results(checkers.Valid)
	timed.Measurements.Latency.Write = measures.LatencyStats{Count: 10, P99NS: int64(40 * time.Millisecond)}
	timed.Measurements.Availability = []measures.Availability{{Fault: "kill", During: measures.Outcomes{OK: 99, Fail: 1}}}
	timed.Measurements.Quorum = []measures.QuorumAvailability{{Down: 1, Reads: measures.Outcomes{OK: 5}, Writes: measures.Outcomes{OK: 4, Fail: 1}}}
	timed.Measurements.Load = &measures.Load{Nodes: []measures.NodeLoad{{Node: "n1", Ops: 9}}, Imbalance: 2.5}
	timed.Measurements.Failovers = []measures.Failover{{DowntimeNS: int64(2 * time.Second), LostWrites: 2}, {LostWrites: 1}}
	timed.Stats.OK = 7

	for _, tc := range []struct {
		kind, arg string
		r         *rundir.Results
		held      bool
		seen      string
	}{
		{"valid", "", valid, true, "verdict valid"},
		{"valid", "", lost, false, "verdict invalid (lost: 3)"},
		{"valid", "", unknown, false, "verdict unknown"},
		{"valid", "", interrupted, false, "interrupted"},
		// Run errors the runner does not count against the verdict (a
		// client that could not be opened) do not either; one that does
		// (a fault not healed) made the verdict unknown.
		{"valid", "", healErr, true, "verdict valid"},
		{"valid", "", nil, false, "no results"},
		{"invalid", "", lost, true, "verdict invalid"},
		{"invalid", "", unknown, false, "verdict unknown"},
		{"unknown", "", unknown, true, "verdict unknown"},
		{"unknown", "", valid, false, "verdict valid"},
		{"anomaly", "lost", lost, true, "3 lost anomalies"},
		{"anomaly", "lost", valid, false, "0 lost anomalies"},
		{"no-anomaly", "lost", valid, true, "0 lost anomalies"},
		{"no-anomaly", "lost", lost, false, "3 lost anomalies"},
		{"no-anomaly", "lost", unknown, false, "undecided: register/linearizable"},
		{"no-anomaly", "lost", results(checkers.Unknown), false, "no check ran"},
		{"lost-writes", "== 0", valid, true, "lost-writes 0"},
		{"lost-writes", "== 0", lost, false, "lost-writes 3"},
		{"lost-writes", "== 0", unknown, false, "lost-writes unknown: no set check ran"},
		{"lost-writes", "== 0", results(checkers.Unknown, check("set", "set", checkers.Unknown, nil)), false, "the set check did not decide"},
		{"p99-write-latency", "< 50ms", timed, true, "p99-write-latency 40ms"},
		{"p99-write-latency", "< 40ms", timed, false, "p99-write-latency 40ms"},
		{"p99-write-latency", "<= 40ms", timed, true, "p99-write-latency 40ms"},
		{"p99-read-latency", "< 1s", timed, false, "no successful operation to time"},
		{"availability", ">= 99%", timed, true, "availability 99%"},
		{"availability", "> 99", timed, false, "availability 99%"},
		{"availability", ">= 1%", valid, false, "no operation was invoked during a fault"},
		{"availability-1-down", ">= 90%", timed, true, "availability-1-down 90%"},
		{"availability-1-down", "> 90%", timed, false, "availability-1-down 90%"},
		{"availability-2-down", ">= 0%", timed, false, "no read or write was invoked with 2 replicas down"},
		{"imbalance", ">= 2", timed, true, "imbalance 2.5"},
		{"imbalance", "< 2", timed, false, "imbalance 2.5"},
		{"imbalance", "< 2", valid, false, "no per-node load"},
		{"failover-downtime", "< 3s", timed, true, "failover-downtime 2s"},
		{"failover-downtime", "< 1s", timed, false, "failover-downtime 2s"},
		{"failover-downtime", "< 1s", valid, false, "no failover happened"},
		{"lost-acknowledged-writes", "== 3", timed, true, "lost-acknowledged-writes 3"},
		{"lost-acknowledged-writes", "== 0", timed, false, "lost-acknowledged-writes 3"},
		{"lost-acknowledged-writes", "== 0", valid, false, "no failover happened"},
		{"ok-operations", "> 6", timed, true, "ok-operations 7"},
		{"ok-operations", "> 7", timed, false, "ok-operations 7"},
	} {
		e, err := ParseExpectation(tc.kind, tc.arg)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.kind, tc.arg, err)
		}
		s := e.Check(tc.r)
		if s.Held != tc.held || !strings.Contains(s.Seen, tc.seen) {
			t.Errorf("%s %s: held %v, seen %q; want held %v, seen containing %q", tc.kind, tc.arg, s.Held, s.Seen, tc.held, tc.seen)
		}
	}
}

// Every kind in the table parses and has a summary (docs/suites.md lists
// them).
func TestExpectKindsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range ExpectKinds() {
		if seen[k.Name] || k.Summary == "" {
			t.Errorf("kind %q: duplicate or without summary", k.Name)
		}
		seen[k.Name] = true
	}
}
