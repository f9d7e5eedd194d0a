package histgen

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/checkers/elle"
	"github.com/chaoscheck/chaoscheck/history"
)

// The generated history is well-formed, seeded, has the shape asked for,
// and is strict serializable: Elle's checker says valid.
func TestListAppend(t *testing.T) {
	cfg := TxnConfig{Txns: 5000, Processes: 20, InfoFraction: 0.01}
	h, err := ListAppend(rand.New(rand.NewPCG(1, 2)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	h2, _ := ListAppend(rand.New(rand.NewPCG(1, 2)), cfg)
	if len(h2.Ops) != len(h.Ops) || !h2.Ops[len(h.Ops)-1].Value.Equal(h.Ops[len(h.Ops)-1].Value) {
		t.Fatal("same seed, different history")
	}
	infos := 0
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.Type == history.Info {
			infos++
		}
		if l, _ := op.Value.AsList(); len(l) != 4 {
			t.Fatalf("op %v: %d micro-ops", op, len(l))
		}
	}
	if h.ClientOps() != 5000 || infos < 20 || infos > 100 {
		t.Fatalf("%d txns, %d info", h.ClientOps(), infos)
	}
	if w, ok := elle.IsTransactional(h); !ok || w != elle.ListAppend {
		t.Fatalf("recognised as %q %v", w, ok)
	}
	r := elle.New(elle.Options{Workload: elle.ListAppend}).Check(context.Background(), h)
	if r.Verdict != checkers.Valid || r.Counts["edges"] < 5000 {
		t.Fatalf("%s %v %s %v", r.Verdict, r.AnomalyCounts, r.Reason, r.Counts)
	}
}

// Without isolation the history shows the anomalies Elle is for.
func TestListAppendNoIsolation(t *testing.T) {
	h, err := ListAppend(rand.New(rand.NewPCG(3, 4)), TxnConfig{Txns: 3000, Processes: 10, InfoFraction: 0.01, NoIsolation: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	r := elle.New(elle.Options{Workload: elle.ListAppend, ConsistencyModels: []string{"serializable"}}).Check(context.Background(), h)
	if r.Verdict != checkers.Invalid {
		t.Fatalf("%s %v %s", r.Verdict, r.AnomalyCounts, r.Reason)
	}
	for _, k := range []string{"G-single-item", "G2-item", "lost-update"} {
		if r.AnomalyCounts[k] == 0 {
			t.Errorf("no %s: %v", k, r.AnomalyCounts)
		}
	}
	t.Logf("%v", r.AnomalyCounts)
}
