package sim

import (
	"testing"

	"github.com/chaoscheck/chaoscheck/rundir"
)

// TestFacts: the typed facts agree with the configuration: N, R and W
// from the levels, quorum replication when W < N, the coordinator, read
// repair and durability.
func TestFacts(t *testing.T) {
	d, _ := deploy(t, Config{ReadCL: One, WriteCL: One, Coordinator: Random, LoseUnflushedOnKill: true})
	f := d.Facts()
	if f.Nodes != 3 || f.ReplicationFactor != 3 || f.ReadReplicas != 1 || f.WriteReplicas != 1 || f.ReadLevel != "ONE" || f.WriteLevel != "ONE" {
		t.Errorf("quorums %+v", f)
	}
	if f.Replication != rundir.Quorum || f.Coordinator != rundir.RandomCoordinator || !f.ConflictByClock || !f.DurabilityLosesAcked ||
		f.ReadRepair == nil || *f.ReadRepair {
		t.Errorf("facts %+v", f)
	}
	q, _ := deploy(t, Config{ReadCL: All, WriteCL: All, Nodes: 5})
	if f := q.Facts(); f.ReadReplicas != 5 || f.WriteReplicas != 5 || f.Replication != rundir.Synchronous || f.Coordinator != rundir.StickyCoordinator || f.DurabilityLosesAcked {
		t.Errorf("ALL facts %+v", f)
	}
}
