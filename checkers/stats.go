package checkers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/chaoscheck/chaoscheck/history"
)

// Stats is the checker of Jepsen's jepsen.checker/stats: it counts the
// outcomes of the client operations by kind (f), and says Valid only when
// every kind that was invoked succeeded (completed ok) at least once.
//
// It is what keeps a run against a database that refuses everything from
// passing: when every write failed, every read of the initial state is
// linearizable, and a model checker rightly says so (Knossos and the
// porcupine corpus agree), but the history shows nothing about whether
// writes take effect. Stats is Unknown then, naming the kinds and their
// outcomes in the Reason (Jepsen's stats checker says :valid? false; here
// nothing is proven wrong, so the verdict is Unknown, not Invalid). A
// history without any client operation (only nemesis events, or nothing)
// is Unknown too.
//
// Stats never says Invalid. Counts: "ops" (client operations), and per
// kind "<f>:ok", "<f>:fail" and "<f>:info" (info or never completed).
// The runner runs it on every workload's operations, in `test` and in
// `check`, so that the overall verdict can never be Valid while some kind
// never succeeded.
type Stats struct{}

// Name returns "stats".
func (Stats) Name() string { return "stats" }

// Check judges h. See Stats.
func (Stats) Check(ctx context.Context, h *history.History) Result {
	const name = "stats"
	ctx = wlContext(ctx)
	pairs, err := wlPairs(h)
	if err != nil {
		return unknown(name, err.Error())
	}
	if err := ctx.Err(); err != nil {
		return wlCancelled(name, err)
	}
	var t statsTally
	t.add(h, pairs)
	return t.result()
}

// statsTally counts outcomes by kind, over one history or over the keys
// of one history added one at a time (statsKeys).
type statsTally struct {
	ops int64
	by  map[string]*statsKind
}

// statsKind is the tally of one kind (f).
type statsKind struct{ ok, fail, info int64 }

// add counts the operations of pairs, from h.
func (t *statsTally) add(h *history.History, pairs []history.Pair) {
	if t.by == nil {
		t.by = make(map[string]*statsKind)
	}
	t.ops += int64(len(pairs))
	for _, p := range pairs {
		f := h.Ops[p.Invoke].F
		k := t.by[f]
		if k == nil {
			k = &statsKind{}
			t.by[f] = k
		}
		switch h.Outcome(p) {
		case history.OK:
			k.ok++
		case history.Fail:
			k.fail++
		default:
			k.info++
		}
	}
}

// result is the verdict on what t counted.
func (t *statsTally) result() Result {
	const name = "stats"
	res := Result{Checker: name, Verdict: Valid}
	res.Count("ops", t.ops)
	if t.ops == 0 {
		res.Verdict = Unknown
		res.Reason = "the history has no client operations, so nothing was checked"
		return res
	}
	kinds := make([]string, 0, len(t.by))
	for f := range t.by {
		kinds = append(kinds, f)
	}
	slices.Sort(kinds)
	var never []string
	for _, f := range kinds {
		t := t.by[f]
		res.Count(f+":ok", t.ok)
		res.Count(f+":fail", t.fail)
		res.Count(f+":info", t.info)
		if t.ok == 0 {
			never = append(never, fmt.Sprintf("%q (%d invoked: %d failed, %d of unknown outcome)", f, t.fail+t.info, t.fail, t.info))
		}
	}
	if len(never) > 0 {
		res.Verdict = Unknown
		res.Reason = fmt.Sprintf("%s never succeeded, so the history cannot show whether such operations take effect: a verdict of valid would be unproven (as in Jepsen's stats checker, every operation kind needs an ok operation)", strings.Join(never, ", "))
	}
	return res
}
