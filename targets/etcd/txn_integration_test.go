//go:build linux

package etcd

import (
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/nemesis"
)

// TestTxnUnderFaultsStrictSerializable: list-append and rw-register with
// linearizable snapshots and revision-checked commits stay strict
// serializable under partitions and member kills; some commits conflict
// (fail).
func TestTxnUnderFaultsStrictSerializable(t *testing.T) {
	requireEnv(t)
	for _, wl := range []string{"list-append", "rw-register"} {
		t.Run(wl, func(t *testing.T) {
			out := run(t, scenario{
				cfg:       Config{Read: Linearizable},
				workloads: []string{wl},
				faults:    []nemesis.Fault{&nemesis.Partition{}, &nemesis.Kill{Targets: nemesis.One}},
				interval:  time.Second, concurrency: 6, rate: 150, timeLimit: 8 * time.Second, seed: 1,
			})
			if _, applied := nemesisEvents(t, out); applied < 2 {
				t.Errorf("only %d faults applied", applied)
			}
			st := out.Results.Stats
			if st.OK < 200 || st.Fail == 0 {
				t.Errorf("%d ok, %d fail: want at least 200 ok and some conflicts", st.OK, st.Fail)
			}
			for _, c := range out.Results.Checks {
				if c.Workload == wl && c.Checker != "stats" && c.Verdict != checkers.Valid {
					t.Errorf("%s: %s %v %s", c.Checker, c.Verdict, c.AnomalyCounts, c.Reason)
					for _, a := range c.Anomalies[:min(3, len(c.Anomalies))] {
						t.Logf("  %s: %s %v", a.Kind, a.Message, a.Ops)
					}
				}
			}
		})
	}
}
