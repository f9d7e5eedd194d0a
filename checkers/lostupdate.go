package checkers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/chaoscheck/chaoscheck/history"
)

// LostUpdate checks the lost-update workload: the P4 "lost update"
// phenomenon of Berenson et al., "A Critique of ANSI SQL Isolation Levels"
// (1995), which Jepsen's and Elle's checkers report as :lost-update.
//
// Each operation (f "rmw" on a key, invoke value nil) reads the key and
// writes a new, unique integer in one unit; its ok completion value is
// [read written], where read is an integer or nil (the key was absent).
// If the unit is atomic, every write is read by at most one later rmw, so
// two acknowledged rmw operations of one key can never read the same value
// (both the same integer, or both nil) and both write: whichever wrote
// second overwrote an update it never saw.
//
// All acknowledged rmw operations of a key that read the same value form
// one "lost-update" anomaly (one per key and read value, listing every
// operation of an N-way collision, in the order of their first operation), whose witnesses are the invocation and
// completion of each, and whose message says in plain words which
// processes read what and wrote what. Counts: rmw, ok, failed,
// indeterminate, keys, collisions (anomalies), lost-updates (updates
// overwritten: N-1 per collision) and lost-update-pairs (N(N-1)/2 per
// collision).
//
// Operations that failed or whose outcome is unknown carry no read value
// and are ignored. A key with an operation other than rmw, or an ok
// completion that is not [int-or-nil int], is not checked and is named in
// Result.Reason: it makes the verdict Unknown unless another key proves an
// anomaly (invalid wins over unknown). A malformed history gives Unknown,
// and so does a history without an acknowledged rmw. Time and memory are linear in the
// history.
type LostUpdate struct{}

// Name returns "lost-update".
func (LostUpdate) Name() string { return "lost-update" }

// lostUpdateRead identifies the value an rmw read from a key (by key
// number).
type lostUpdateRead struct {
	key    int32
	absent bool
	read   int64
}

// Check judges h. See LostUpdate for the semantics.
func (LostUpdate) Check(ctx context.Context, h *history.History) Result {
	const name = "lost-update"
	ctx = wlContext(ctx)
	pairs, err := wlPairs(h)
	if err != nil {
		return unknown(name, err.Error())
	}

	// Members of a group are chained from its latest to its first:
	// head[group] is the latest, prev[member] the one before.
	head := make(map[lostUpdateRead]int32)
	var members []int32 // pair numbers
	var prev []int32
	var groups []lostUpdateRead // groups of two or more
	keyIDs := make(map[string]int32)
	var keys []string
	var rmw, ok, failed, indeterminate int64
	var unchecked wlUnchecked
	for n, p := range pairs {
		if n%wlPollEvery == 0 && ctx.Err() != nil {
			return wlCancelled(name, ctx.Err())
		}
		inv := &h.Ops[p.Invoke]
		if inv.F != "rmw" {
			unchecked.add(inv.Key, wlBadOp(inv, "f %q is not an operation of the lost-update workload (rmw)", inv.F))
			continue
		}
		rmw++
		key, seen := keyIDs[inv.Key]
		if !seen {
			key = int32(len(keys))
			keyIDs[inv.Key] = key
			keys = append(keys, inv.Key)
		}
		switch h.Outcome(p) {
		case history.Fail:
			failed++
			continue
		case history.OK:
			ok++
		default:
			indeterminate++
			continue
		}
		comp := &h.Ops[p.Complete]
		read, _, err := lostUpdateValue(comp)
		if err != nil {
			unchecked.add(inv.Key, err)
			continue
		}
		g := lostUpdateRead{key: key}
		if r, isInt := read.AsInt(); isInt {
			g.read = r
		} else {
			g.absent = true
		}
		last, seen := head[g]
		if !seen {
			last = -1
		} else if prev[last] < 0 {
			groups = append(groups, g)
		}
		head[g] = int32(len(members))
		members = append(members, int32(n))
		prev = append(prev, last)
	}

	// Collisions in the order of their first operation.
	collisions := make([][]int32, len(groups))
	for n, g := range groups {
		var ms []int32
		for m := head[g]; m >= 0; m = prev[m] {
			ms = append(ms, members[m])
		}
		slices.Reverse(ms)
		collisions[n] = ms
	}
	order := make([]int, len(groups))
	for n := range order {
		order[n] = n
	}
	slices.SortFunc(order, func(a, b int) int { return int(collisions[a][0] - collisions[b][0]) })

	res := Result{Checker: name, Verdict: Valid}
	var lost, lostPairs, collided int64
	for _, n := range order {
		if unchecked.has(keys[groups[n].key]) {
			continue
		}
		collided++
		ms := collisions[n]
		k := int64(len(ms))
		lost += k - 1
		lostPairs += k * (k - 1) / 2
		wlAddAnomaly(&res, "lost-update", func() Anomaly {
			return lostUpdateAnomaly(h, pairs, keys[groups[n].key], groups[n], ms)
		})
	}
	res.Count("keys", int64(len(keys)))
	res.Count("rmw", rmw)
	res.Count("ok", ok)
	res.Count("failed", failed)
	res.Count("indeterminate", indeterminate)
	res.Count("collisions", collided)
	res.Count("lost-updates", lost)
	res.Count("lost-update-pairs", lostPairs)
	if ok == 0 && res.Verdict != Invalid {
		res.Verdict = Unknown
		res.Reason = "no acknowledged rmw operation, so nothing to check"
	}
	unchecked.apply(&res)
	return res
}

// lostUpdateValue splits an ok rmw completion [read written].
func lostUpdateValue(comp *history.Op) (read history.Value, written int64, err error) {
	vs, ok := comp.Value.AsList()
	if ok && len(vs) == 2 {
		w, isInt := vs[1].AsInt()
		if _, readInt := vs[0].AsInt(); isInt && (readInt || vs[0].IsNil()) {
			return vs[0], w, nil
		}
	}
	return history.Value{}, 0, wlBadOp(comp, "an ok rmw completion must be [read written] with read an integer or nil and written an integer, got %s", comp.Value)
}

// lostUpdateAnomaly describes the collision of the rmw pairs ms, which all
// read g.
func lostUpdateAnomaly(h *history.History, pairs []history.Pair, key string, g lostUpdateRead, ms []int32) Anomaly {
	var wit []int
	procs := make([]string, len(ms))
	wrote := make([]string, len(ms))
	for n, m := range ms {
		p := pairs[m]
		wit = append(wit, p.Invoke, p.Complete)
		procs[n] = h.Ops[p.Invoke].Process.String()
		_, w, _ := lostUpdateValue(&h.Ops[p.Complete])
		wrote[n] = fmt.Sprint(w)
	}
	read := "nil (the key was absent)"
	if !g.absent {
		read = fmt.Sprint(g.read)
	}
	var msg string
	if len(ms) == 2 {
		msg = fmt.Sprintf("process %s and process %s both read %s from key %q and both wrote (%s): one update was lost",
			procs[0], procs[1], read, key, strings.Join(wrote, ", "))
	} else {
		msg = fmt.Sprintf("processes %s and %s all read %s from key %q and each wrote (%s): %d updates were lost",
			strings.Join(procs[:len(procs)-1], ", "), procs[len(procs)-1], read, key, strings.Join(wrote, ", "), len(ms)-1)
	}
	return Anomaly{Kind: "lost-update", Key: key, Ops: wlWitness(h, wit...), Message: msg}
}
