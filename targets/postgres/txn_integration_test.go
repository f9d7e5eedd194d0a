//go:build linux

package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// txnCheck returns the transactional checker's result of the list-append
// workload (the check that is not stats), and logs a few witnesses.
func txnCheck(t *testing.T, out *runner.Outcome) rundir.Check {
	t.Helper()
	for _, c := range out.Results.Checks {
		if c.Workload == "list-append" && c.Checker != "stats" {
			for _, a := range c.Anomalies[:min(3, len(c.Anomalies))] {
				t.Logf("  %s: %s %v", a.Kind, a.Message, a.Ops)
			}
			return c
		}
	}
	t.Fatalf("no list-append check in %+v", out.Results.Checks)
	return rundir.Check{}
}

// anomalies returns the anomaly kinds found that start with prefix.
func anomalies(c rundir.Check, prefix string) []string {
	var out []string
	for k, n := range c.AnomalyCounts {
		if strings.HasPrefix(k, prefix) && n > 0 {
			out = append(out, k)
		}
	}
	return out
}

// requireTxns fails the test unless enough transactions committed for
// the verdict to mean something.
func requireTxns(t *testing.T, out *runner.Outcome, ok int) {
	t.Helper()
	if st := out.Results.Stats; st.OK < ok {
		t.Fatalf("only %d transactions ok (fail %d, info %d), want at least %d", st.OK, st.Fail, st.Info, ok)
	}
}

// TestTxnSerializableUnderFaultsValid: list-append at serializable, with
// synchronous replication, under partitions and kills of the primary
// (failover to the most advanced standby): the checker finds nothing
// (strict serializable: every transaction on the one primary).
func TestTxnSerializableUnderFaultsValid(t *testing.T) {
	requireEnv(t)
	out := run(t, scenario{
		cfg:       Config{Isolation: Serializable, Replication: Sync},
		workloads: []string{"list-append"}, opts: workloads.Options{Keys: 5},
		faults:   []nemesis.Fault{&nemesis.Partition{}, &nemesis.Failover{}},
		interval: 3 * time.Second, concurrency: 8, rate: 300, timeLimit: 30 * time.Second, seed: 2,
	})
	events, applied := nemesisLog(loadHistory(t, out))
	for _, e := range events {
		t.Logf("  nemesis %s", e)
	}
	if !applied {
		t.Fatal("no failover (kill of the primary) was applied")
	}
	if !strings.Contains(strings.Join(events, "\n"), "start-partition") {
		t.Fatal("no partition was applied")
	}
	requireTxns(t, out, 500)
	if st := out.Results.Stats; st.Fail == 0 {
		t.Errorf("no transaction failed: serializable aborts some (40001) and faults fail others")
	}
	if c := txnCheck(t, out); c.Verdict != checkers.Valid {
		t.Errorf("serializable list-append under faults: %s %v %s", c.Verdict, c.AnomalyCounts, c.Reason)
		// What the client saw of the witnesses: the completions of the
		// ops the first anomalies name (a failed transaction whose write
		// is seen means a misclassified error: its text says which).
		h := loadHistory(t, out)
		for _, a := range c.Anomalies[:min(3, len(c.Anomalies))] {
			for _, i := range a.Ops {
				if i >= 0 && i < len(h.Ops) {
					op := h.Ops[i]
					t.Logf("  witness #%d: %s %s on %s at %v: %s error %q", i, op.Type, op.Process, op.Node, time.Duration(op.Time), op.Value.String(), op.Error)
				}
			}
		}
	}
}

// TestTxnRepeatableReadWriteSkew: at repeatable read (snapshot
// isolation), transactions that read two keys and append to one of them
// make write skew: G2-item is found, and no G-single (snapshot isolation
// never shows read skew), nor G0/G1. Write skew needs two transactions
// in flight at once: at 500 txn/s, each taking about a millisecond, a
// quiet CI machine ran 4966 with none found, so the clients run
// unthrottled.
func TestTxnRepeatableReadWriteSkew(t *testing.T) {
	requireEnv(t)
	out := run(t, scenario{
		cfg:       Config{Isolation: RepeatableRead},
		workloads: []string{"list-append"}, opts: workloads.Options{Keys: 2},
		concurrency: 10, rate: 0, timeLimit: 10 * time.Second, seed: 1,
	})
	requireTxns(t, out, 500)
	c := txnCheck(t, out)
	if len(anomalies(c, "G2-item")) == 0 {
		t.Errorf("repeatable read: no G2-item (write skew): %s %v %s", c.Verdict, c.AnomalyCounts, c.Reason)
	}
	for _, bad := range []string{"G-single", "G0", "G1"} {
		if got := anomalies(c, bad); len(got) > 0 {
			t.Errorf("repeatable read: %v found (%v): snapshot isolation prevents them", got, c.AnomalyCounts)
		}
	}
}

// TestTxnReadCommittedReadSkew: at read committed, a transaction's reads
// see different committed states: G-single (read skew) is found.
func TestTxnReadCommittedReadSkew(t *testing.T) {
	requireEnv(t)
	out := run(t, scenario{
		cfg:       Config{Isolation: ReadCommitted},
		workloads: []string{"list-append"}, opts: workloads.Options{Keys: 3},
		concurrency: 10, rate: 500, timeLimit: 10 * time.Second, seed: 1,
	})
	requireTxns(t, out, 200)
	c := txnCheck(t, out)
	if len(anomalies(c, "G-single")) == 0 {
		t.Errorf("read committed: no G-single (read skew): %s %v %s", c.Verdict, c.AnomalyCounts, c.Reason)
	}
	for _, bad := range []string{"G0", "G1a", "G1b"} {
		if got := anomalies(c, bad); len(got) > 0 {
			t.Errorf("read committed: %v found (%v): read committed prevents them", got, c.AnomalyCounts)
		}
	}
}
