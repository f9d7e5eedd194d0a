package checkers

import (
	"context"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
)

// allCheckers is every checker of the package, each with its zero
// configuration.
func allCheckers() []Checker {
	return []Checker{Linearizable{}, Set{}, Counter{}, Session{}, LostUpdate{}, Stats{}}
}

// Issue 10, case 1: a history with no client operation at all (only two
// nemesis events) decides nothing. Every checker must say Unknown, with
// the reason, and never Valid.
func TestNoClientOperationIsUnknown(t *testing.T) {
	b := newWkHist()
	b.nemesis("start-partition")
	b.nemesis("stop-partition")
	for _, c := range allCheckers() {
		t.Run(c.Name(), func(t *testing.T) {
			res := c.Check(context.Background(), &b.h)
			if res.Verdict != Unknown || res.Reason == "" {
				t.Errorf("verdict %s, reason %q: want unknown with a reason", res.Verdict, res.Reason)
			}
		})
	}
}

// Issue 10, case 1: an operation kind that never succeeded (the only write
// failed) leaves nothing decided about that kind, as Jepsen's stats
// checker says: Stats is Unknown, naming the kind, never Valid. (The model
// checkers still judge such a history on its merits: a read of the initial
// state after a failed write is linearizable, and the porcupine corpus
// holds such a history, etcd_005, known valid.)
func TestStatsKindNeverSucceeded(t *testing.T) {
	for name, build := range map[string]func(b *wkHist){
		"register": func(b *wkHist) {
			b.op(0, "write", "k", wkInt(1), history.Fail, wkInt(1))
			b.op(1, "read", "k", wkNil, history.OK, wkNil)
		},
		"cas": func(b *wkHist) {
			b.op(0, "write", "k", wkInt(1), history.OK, wkInt(1))
			b.op(0, "cas", "k", wkInts(1, 2), history.Info, wkNil)
			b.op(1, "read", "k", wkNil, history.OK, wkInt(1))
		},
		"counter": func(b *wkHist) {
			b.op(0, "add", "c", wkInt(1), history.Fail, wkInt(1))
			b.op(1, "read", "c", wkNil, history.OK, wkInt(0))
		},
	} {
		t.Run(name, func(t *testing.T) {
			b := newWkHist()
			build(b)
			res := wkRun(t, Stats{}, b)
			wkWant(t, res, Unknown, nil)
			wkContains(t, res.Reason, "never succeeded")
		})
	}
	b := newWkHist()
	b.op(0, "write", "k", wkInt(1), history.OK, wkInt(1))
	b.op(0, "write", "k", wkInt(2), history.Fail, wkInt(2))
	b.op(1, "read", "k", wkNil, history.OK, wkInt(1))
	res := wkRun(t, Stats{}, b)
	wkWant(t, res, Valid, nil)
	wkCount(t, res, "write:ok", 1)
	wkCount(t, res, "write:fail", 1)
}

// Issue 10, case 1, same class: a model checker given only operations
// without a known effect (a failed write, a read of unknown outcome) has
// searched nothing, and must not call that valid.
func TestLinearizableNothingSearchedIsUnknown(t *testing.T) {
	b := newWkHist()
	b.op(0, "write", "k", wkInt(1), history.Fail, wkInt(1))
	b.op(1, "read", "k", wkNil, history.Info, wkNil)
	res := wkRun(t, Linearizable{}, b)
	wkWant(t, res, Unknown, nil)
	wkContains(t, res.Reason, "nothing was checked")
}

// Issue 10, case 1, same class: a session checker whose reads were never
// compared with anything (no acknowledged write, no earlier read of the
// same session and key) decided nothing.
func TestSessionNothingComparedIsUnknown(t *testing.T) {
	b := newWkHist()
	b.op(0, "write", "k", wkInt(1), history.Fail, wkInt(1))
	b.op(1, "read", "k", wkNil, history.OK, wkNil)
	b.op(2, "read", "j", wkNil, history.OK, wkNil)
	res := wkRun(t, Session{}, b)
	wkWant(t, res, Unknown, nil)
	wkContains(t, res.Reason, "no read")
}

// Issue 10, case 1, same class: a set history without any add decided
// nothing about lost or stale elements.
func TestSetNoAddIsUnknown(t *testing.T) {
	b := newWkHist()
	b.op(1, "read", "s", wkNil, history.OK, wkInts())
	res := wkRun(t, Set{}, b)
	wkWant(t, res, Unknown, nil)
	wkContains(t, res.Reason, "no add")
}
