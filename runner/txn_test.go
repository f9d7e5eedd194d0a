package runner

import (
	"context"
	"testing"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// countingChecker records the client operations it is given.
type countingChecker struct{ ops *[]history.Op }

func (c countingChecker) Name() string { return "count" }
func (c countingChecker) Check(_ context.Context, h *history.History) checkers.Result {
	for _, op := range h.Ops {
		if op.IsClient() {
			*c.ops = append(*c.ops, op)
		}
	}
	return checkers.Result{Verdict: checkers.Valid}
}

// A transaction workload's group gets exactly the transactions (keyless,
// f txn), and a key-prefixed workload beside it none of them; indexes map
// back to the full history.
func TestGroupsOwnTransactions(t *testing.T) {
	h := &history.History{}
	add := func(p int, f, key string) {
		for _, ty := range []history.Type{history.Invoke, history.OK} {
			h.Ops = append(h.Ops, history.Op{Index: len(h.Ops), Type: ty, Process: history.Process(p), F: f, Key: key})
		}
	}
	add(0, "write", "register:1")
	add(1, "txn", "")
	add(0, "read", "register:1")
	add(1, "txn", "")
	groups := Groups(mustWorkloads(t, "register", "list-append"), workloads.CheckOptions{})
	var reg, txn []history.Op
	groups[0].Checkers = []checkers.Checker{countingChecker{&reg}}
	groups[1].Checkers = []checkers.Checker{countingChecker{&txn}}
	Check(context.Background(), h, groups)
	if len(reg) != 4 || len(txn) != 4 {
		t.Fatalf("register got %d ops, list-append %d; want 4 each", len(reg), len(txn))
	}
	for _, op := range txn {
		if op.F != "txn" {
			t.Fatalf("list-append got %s", op.F)
		}
	}
	if groups[1].Owns == nil || groups[1].KeyPrefix != "" {
		t.Fatalf("list-append group: %+v", groups[1])
	}
}
