//go:build linux

package redis

import (
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// txnCheck returns the transactional checker's result (the check of the
// workload that is not stats).
func txnCheck(t *testing.T, out *runner.Outcome, workload string) rundir.Check {
	t.Helper()
	for _, c := range out.Results.Checks {
		if c.Workload == workload && c.Checker != "stats" {
			for _, a := range c.Anomalies[:min(3, len(c.Anomalies))] {
				t.Logf("  %s: %s %v", a.Kind, a.Message, a.Ops)
			}
			return c
		}
	}
	t.Fatalf("no %s check in %+v", workload, out.Results.Checks)
	return rundir.Check{}
}

// TestClusterTxnSerializable: in Cluster mode every transaction is one
// Lua script on the master of the {txn} slot, so with no faults both
// transactional workloads are valid (strict serializable), and every
// transaction ran on that one master.
func TestClusterTxnSerializable(t *testing.T) {
	requireEnv(t)
	for _, wl := range []string{"list-append", "rw-register"} {
		t.Run(wl, func(t *testing.T) {
			out, _ := run(t, scenario{
				cfg: Config{Mode: Cluster}, workload: wl, opts: workloads.Options{Keys: 3},
				concurrency: 8, rate: 500, timeLimit: 5 * time.Second, seed: 1,
			})
			if st := out.Results.Stats; st.OK < 500 {
				t.Fatalf("only %d transactions ok (fail %d, info %d)", st.OK, st.Fail, st.Info)
			}
			nodes := map[string]int{}
			for _, op := range loadHistory(t, out).Ops {
				if op.F == "txn" && op.Type == history.OK {
					nodes[op.Node]++
				}
			}
			if len(nodes) != 1 {
				t.Errorf("transactions ran on %v, want one master", nodes)
			}
			if c := txnCheck(t, out, wl); c.Verdict != checkers.Valid {
				t.Errorf("%s on Redis Cluster: %s %v %s", wl, c.Verdict, c.AnomalyCounts, c.Reason)
			}
		})
	}
}

// TestReplicationTxnFailoverLoses: one primary with asynchronous
// replicas, the primary isolated from them for 2 s, killed and replaced:
// the transactions it acknowledged meanwhile are lost, and reads after
// the failover contradict the reads that saw them (the history is not
// serializable).
func TestReplicationTxnFailoverLoses(t *testing.T) {
	requireEnv(t)
	out, _ := run(t, scenario{
		cfg: Config{Mode: Replication, Nodes: 3}, workload: "list-append", opts: workloads.Options{Keys: 3},
		faults: []nemesis.Fault{&nemesis.Failover{Isolate: 2 * time.Second}},
		// A slow rate keeps each key alive (TxnWritesPerKey appends)
		// across the failover, so that reads after it can contradict
		// reads before it.
		interval: 3 * time.Second, concurrency: 5, rate: 40, timeLimit: 10 * time.Second, seed: 1,
	})
	applied := false
	for _, op := range loadHistory(t, out).Ops {
		if op.Process == history.Nemesis && strings.HasPrefix(op.F, "start-failover") && op.Type != history.Invoke && op.Error == "" {
			applied = true
		}
	}
	if !applied {
		t.Fatal("no failover was applied")
	}
	if c := txnCheck(t, out, "list-append"); c.Verdict != checkers.Invalid {
		t.Errorf("list-append across an asynchronous failover: %s %v %s, want invalid", c.Verdict, c.AnomalyCounts, c.Reason)
	}
}
