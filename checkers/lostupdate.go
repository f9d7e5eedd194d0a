package checkers

import (
	"context"
	"fmt"
	"slices"
	"sort"
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
// overwritten: N-1 per collision), lost-update-pairs (N(N-1)/2 per
// collision) and ambiguous (see below).
//
// The proof rests on unique written values. When a value v was written by
// more than one acknowledged rmw of the key, two readers of v may have
// read different versions (nil->0, 0->1, 1->0, 0->2 by one process is
// not a lost update), so the readers are told apart by the write each can
// have read: a read only observes a write invoked before it completed.
// Readers that can only have read the same write still collide (the
// anomaly names that write, and its message says v was not unique); the
// others are counted as "ambiguous", named in Result.Reason, and make the
// verdict Unknown unless an anomaly is proven. Never a false lost update.
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
	// writers[{key, v}] are the acknowledged rmw pairs that wrote v to
	// key; maybe[key] the invocations of rmw pairs of unknown outcome
	// (their written value is unknown), ascending.
	writers := make(map[lostUpdateRead][]int32)
	maybe := make(map[int32][]int)
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
			maybe[key] = append(maybe[key], p.Invoke)
			continue
		}
		comp := &h.Ops[p.Complete]
		read, written, err := lostUpdateValue(comp)
		if err != nil {
			unchecked.add(inv.Key, err)
			continue
		}
		wk := lostUpdateRead{key: key, read: written}
		writers[wk] = append(writers[wk], int32(n))
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

	// Collisions in the order of their first operation. A value written
	// more than once splits its readers by the version they can have read
	// (see lostUpdateVersions).
	var collisions [][]int32
	var version []int32 // the write all members read, when v is not unique; else -1
	var proven []lostUpdateRead
	var ambiguous int64
	repeated := make(map[string]bool)
	for _, g := range groups {
		var ms []int32
		for m := head[g]; m >= 0; m = prev[m] {
			ms = append(ms, members[m])
		}
		slices.Reverse(ms)
		if g.absent || len(writers[g]) < 2 {
			collisions = append(collisions, ms)
			version = append(version, -1)
			proven = append(proven, g)
			continue
		}
		classes, from, amb := lostUpdateVersions(pairs, ms, writers[g], maybe[g.key])
		ambiguous += int64(amb)
		if amb > 0 {
			repeated[keys[g.key]] = true
		}
		for i, c := range classes {
			collisions = append(collisions, c)
			version = append(version, from[i])
			proven = append(proven, g)
		}
	}
	groups = proven
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
			return lostUpdateAnomaly(h, pairs, keys[groups[n].key], groups[n], ms, version[n])
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
	res.Count("ambiguous", ambiguous)
	if ambiguous > 0 {
		rk := make([]string, 0, len(repeated))
		for k := range repeated {
			rk = append(rk, k)
		}
		slices.Sort(rk)
		note := fmt.Sprintf("%d acknowledged rmw read a value that was written more than once (key(s) %s) and may have read a different write of it than the others that read it, so no lost update is proven for them", ambiguous, wlKeySample(rk))
		if res.Verdict == Valid {
			res.Verdict = Unknown
		}
		if res.Reason != "" {
			note = res.Reason + "; " + note
		}
		res.Reason = note
	}
	unchecked.apply(&res)
	return res
}

// lostUpdateVersions splits ms, acknowledged rmw pairs of one key that
// all read the value v, by the write of v each can have read. ws are the
// acknowledged rmw pairs that wrote v (at least two: v is not unique), and
// maybe the invocations of the key's rmw pairs of unknown outcome, whose
// written value is unknown. A read can only observe a write invoked
// before the read completed, and never its own: when exactly one write of
// v (and no operation of unknown outcome) was invoked before m completed,
// m certainly read that one. Members that certainly read the same write
// form one class (returned when it has two or more: a proven collision);
// the members with several candidates are counted in ambiguous when they
// share v with another member, since they may have read another version.
func lostUpdateVersions(pairs []history.Pair, ms, ws []int32, maybe []int) (classes [][]int32, from []int32, ambiguous int) {
	byWriter := make(map[int32][]int32)
	var order []int32
	var amb int
	for _, m := range ms {
		done := pairs[m].Complete
		only, n := int32(-1), 0
		for _, w := range ws {
			if w != m && pairs[w].Invoke < done {
				only = w
				n++
			}
		}
		n += sort.SearchInts(maybe, done)
		if n != 1 {
			amb++
			continue
		}
		if _, seen := byWriter[only]; !seen {
			order = append(order, only)
		}
		byWriter[only] = append(byWriter[only], m)
	}
	for _, w := range order {
		if c := byWriter[w]; len(c) >= 2 {
			classes = append(classes, c)
			from = append(from, w)
		}
	}
	return classes, from, amb
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
// read g; from is the pair whose write they all read when the value was
// written more than once (a witness then), or -1.
func lostUpdateAnomaly(h *history.History, pairs []history.Pair, key string, g lostUpdateRead, ms []int32, from int32) Anomaly {
	var wit []int
	if from >= 0 {
		wit = append(wit, pairs[from].Invoke, pairs[from].Complete)
	}
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
		msg = fmt.Sprintf("process %s and process %s both read %s from key %s and both wrote (%s): one update was lost",
			procs[0], procs[1], read, history.Quote(key), strings.Join(wrote, ", "))
	} else {
		msg = fmt.Sprintf("processes %s and %s all read %s from key %s and each wrote (%s): %d updates were lost",
			strings.Join(procs[:len(procs)-1], ", "), procs[len(procs)-1], read, history.Quote(key), strings.Join(wrote, ", "), len(ms)-1)
	}
	if from >= 0 {
		msg += fmt.Sprintf(" (%s was written more than once, but only the write %s was invoked before each of these reads completed, so they all read that one)", read, wlPairRef(h, pairs[from]))
	}
	return Anomaly{Kind: "lost-update", Key: key, Ops: wlWitness(h, wit...), Message: msg}
}
