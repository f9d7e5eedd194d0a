package checkers

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
)

var (
	wkNil  = history.Nil()
	wkInt  = history.Int
	wkInts = history.Ints
)

func TestSetValid(t *testing.T) {
	b := newWkHist()
	b.op(0, "add", "k", wkInt(1), history.OK, wkInt(1))
	b.nemesis("partition")
	b.op(1, "read", "k", wkNil, history.OK, wkInts(1))
	b.op(0, "add", "k", wkInt(2), history.OK, wkInt(2))
	b.op(0, "add", "k", wkInt(3), history.Fail, wkInt(3))
	b.op(1, "read", "k", wkNil, history.Fail, wkNil)
	b.op(1, "read", "k", wkNil, history.OK, wkInts(2, 1, 1))
	res := wkRun(t, Set{}, b)
	wkWant(t, res, Valid, nil)
	wkCount(t, res, "attempted", 3)
	wkCount(t, res, "acknowledged", 2)
	wkCount(t, res, "failed", 1)
	wkCount(t, res, "reads", 2)
	wkCount(t, res, "lost", 0)
	if res.Reason != "" {
		t.Errorf("reason %q for a clean history", res.Reason)
	}
}

func TestSetLost(t *testing.T) {
	b := newWkHist()
	b.op(0, "add", "k", wkInt(1), history.OK, wkInt(1))
	ai, ac := b.op(0, "add", "k", wkInt(2), history.OK, wkInt(2))
	ri, rc := b.op(1, "read", "k", wkNil, history.OK, wkInts(1))
	res := wkRun(t, Set{}, b)
	wkWant(t, res, Invalid, map[string]int{"lost": 1})
	a := wkFind(t, res, "lost")
	wkOps(t, a, ai, ac, ri, rc)
	if a.Key != "k" {
		t.Errorf("key %q", a.Key)
	}
	wkContains(t, a.Message, "element 2", "lost", "final read")
	wkCount(t, res, "lost", 1)
}

func TestSetLostOnlyItsKey(t *testing.T) {
	b := newWkHist()
	b.op(0, "add", "a", wkInt(1), history.OK, wkInt(1))
	b.op(0, "add", "b", wkInt(1), history.OK, wkInt(1))
	b.op(1, "read", "a", wkNil, history.OK, wkInts(1))
	b.op(1, "read", "b", wkNil, history.OK, wkInts())
	res := wkRun(t, Set{}, b)
	wkWant(t, res, Invalid, map[string]int{"lost": 1})
	if k := wkFind(t, res, "lost").Key; k != "b" {
		t.Errorf("lost on key %q, want b", k)
	}
	wkCount(t, res, "keys", 2)
}

func TestSetUnexpected(t *testing.T) {
	b := newWkHist()
	b.op(0, "add", "k", wkInt(1), history.OK, wkInt(1))
	ri, rc := b.op(1, "read", "k", wkNil, history.OK, wkInts(1, 99))
	b.op(1, "read", "k", wkNil, history.OK, wkInts(1, 99))
	res := wkRun(t, Set{}, b)
	wkWant(t, res, Invalid, map[string]int{"unexpected": 1})
	a := wkFind(t, res, "unexpected")
	wkOps(t, a, ri, rc)
	wkContains(t, a.Message, "99", "no add ever attempted")
}

func TestSetReadBeforeAddInvoked(t *testing.T) {
	b := newWkHist()
	ri, rc := b.op(1, "read", "k", wkNil, history.OK, wkInts(7))
	ai, _ := b.op(0, "add", "k", wkInt(7), history.OK, wkInt(7))
	b.op(1, "read", "k", wkNil, history.OK, wkInts(7))
	res := wkRun(t, Set{}, b)
	wkWant(t, res, Invalid, map[string]int{"unexpected": 1})
	wkOps(t, wkFind(t, res, "unexpected"), ri, rc, ai)
}

func TestSetFailAddPresent(t *testing.T) {
	b := newWkHist()
	ai, ac := b.op(0, "add", "k", wkInt(3), history.Fail, wkInt(3))
	ri, rc := b.op(1, "read", "k", wkNil, history.OK, wkInts(3))
	res := wkRun(t, Set{}, b)
	wkWant(t, res, Invalid, map[string]int{"fail-add-present": 1})
	a := wkFind(t, res, "fail-add-present")
	wkOps(t, a, ai, ac, ri, rc)
	wkContains(t, a.Message, "failed", "element 3")
	wkCount(t, res, "fail-add-present", 1)
}

func TestSetInfoAddRecovered(t *testing.T) {
	b := newWkHist()
	ai, _ := b.op(0, "add", "k", wkInt(1), history.Info, wkInt(1))
	// Process 2 invokes an add that never completes; it is recovered too.
	b.inv(2, "add", "k", wkInt(2))
	b.op(1, "read", "k", wkNil, history.OK, wkInts(1, 2))
	res := wkRun(t, Set{}, b)
	wkWant(t, res, Valid, nil)
	wkCount(t, res, "recovered", 2)
	wkCount(t, res, "indeterminate", 2)
	wkContains(t, res.Reason, "recovered", "#"+strconv.Itoa(ai))
}

func TestSetInfoAddMissing(t *testing.T) {
	b := newWkHist()
	b.op(0, "add", "k", wkInt(1), history.Info, wkInt(1))
	b.inv(2, "add", "k", wkInt(2)) // open, never completes
	b.op(1, "read", "k", wkNil, history.OK, wkInts())
	b.op(1, "read", "k", wkNil, history.OK, wkInts())
	res := wkRun(t, Set{}, b)
	wkWant(t, res, Valid, nil)
	wkCount(t, res, "never-read", 2)
	wkCount(t, res, "recovered", 0)
}

func TestSetInfoAddSeenThenLost(t *testing.T) {
	// A read that returned the element proves it was added: a later
	// final read that lacks it lost it, whatever the add's outcome.
	b := newWkHist()
	ai, ac := b.op(0, "add", "k", wkInt(5), history.Info, wkInt(5))
	r1i, r1c := b.op(1, "read", "k", wkNil, history.OK, wkInts(5))
	fi, fc := b.op(1, "read", "k", wkNil, history.OK, wkInts())
	res := wkRun(t, Set{}, b)
	wkWant(t, res, Invalid, map[string]int{"lost": 1})
	wkOps(t, wkFind(t, res, "lost"), ai, ac, r1i, r1c, fi, fc)
}

func TestSetStale(t *testing.T) {
	build := func() *wkHist {
		b := newWkHist()
		b.op(0, "add", "k", wkInt(1), history.OK, wkInt(1))
		b.op(1, "read", "k", wkNil, history.OK, wkInts())
		b.op(1, "read", "k", wkNil, history.OK, wkInts())
		b.op(2, "read", "k", wkNil, history.OK, wkInts(1))
		b.op(2, "read", "k", wkNil, history.OK, wkInts(1))
		return b
	}
	b := build()
	res := wkRun(t, Set{}, b)
	wkWant(t, res, Invalid, map[string]int{"stale-read": 1})
	a := wkFind(t, res, "stale-read")
	// add 0,1; stale reads 2,3 and 4,5 (the last one is the witness);
	// the later read that has it 6,7.
	wkOps(t, a, 0, 1, 4, 5, 6, 7)
	if want := b.h.Ops[5].Time - b.h.Ops[1].Time; a.StalenessNS != want {
		t.Errorf("staleness %d, want %d", a.StalenessNS, want)
	}
	wkContains(t, a.Message, "2 read(s)")
	wkCount(t, res, "stale", 1)
	wkCount(t, res, "stale-reads", 2)

	res = wkRun(t, Set{AllowStale: true}, build())
	wkWant(t, res, Valid, nil)
	wkCount(t, res, "stale", 1)
	wkCount(t, res, "stale-reads", 2)
	wkContains(t, res.Reason, "AllowStale")
}

func TestSetStaleAfterSeen(t *testing.T) {
	// Known from a read (unknown-outcome add), missed by a later read,
	// seen again: stale.
	b := newWkHist()
	b.op(0, "add", "k", wkInt(5), history.Info, wkInt(5))
	b.op(1, "read", "k", wkNil, history.OK, wkInts(5))
	b.op(1, "read", "k", wkNil, history.OK, wkInts())
	b.op(1, "read", "k", wkNil, history.OK, wkInts(5))
	res := wkRun(t, Set{}, b)
	wkWant(t, res, Invalid, map[string]int{"stale-read": 1})
	wkCount(t, res, "recovered", 1)
}

func TestSetConcurrentReadNotStale(t *testing.T) {
	b := newWkHist()
	b.inv(0, "add", "k", wkInt(1))
	b.inv(1, "read", "k", wkNil)
	b.end(0, history.OK, wkInt(1))
	b.end(1, history.OK, wkInts()) // concurrent with the add: may miss it
	b.inv(2, "read", "k", wkNil)
	b.inv(0, "add", "k", wkInt(2))
	b.end(2, history.OK, wkInts(1, 2)) // sees a concurrent add: fine
	b.end(0, history.OK, wkInt(2))
	b.op(1, "read", "k", wkNil, history.OK, wkInts(2, 1))
	res := wkRun(t, Set{}, b)
	wkWant(t, res, Valid, nil)
}

func TestSetNoFinalReadAfterAdds(t *testing.T) {
	b := newWkHist()
	b.op(0, "add", "k", wkInt(1), history.OK, wkInt(1))
	b.inv(0, "add", "k", wkInt(2))
	b.op(1, "read", "k", wkNil, history.OK, wkInts(1))
	b.end(0, history.OK, wkInt(2))
	res := wkRun(t, Set{}, b)
	wkWant(t, res, Valid, nil)
	wkContains(t, res.Reason, "final read", `"k"`)
	wkCount(t, res, "never-read", 1)
}

func TestSetUndecided(t *testing.T) {
	noRead := newWkHist()
	noRead.op(0, "add", "k", wkInt(1), history.OK, wkInt(1))
	noRead.op(1, "read", "k", wkNil, history.Fail, wkNil)
	res := wkRun(t, Set{}, noRead)
	wkWant(t, res, Unknown, nil)
	wkContains(t, res.Reason, "no ok read")

	// An anomaly on another key still decides.
	b := newWkHist()
	b.op(0, "add", "a", wkInt(1), history.OK, wkInt(1))
	b.op(0, "add", "b", wkInt(1), history.OK, wkInt(1))
	b.op(1, "read", "b", wkNil, history.OK, wkInts())
	wkWant(t, wkRun(t, Set{}, b), Invalid, map[string]int{"lost": 1})

	for name, h := range map[string]*history.History{
		"nil":   nil,
		"empty": {},
	} {
		if r := (Set{}).Check(context.Background(), h); r.Verdict != Unknown {
			t.Errorf("%s history: %s", name, r.Verdict)
		}
	}
}

func TestSetBadInput(t *testing.T) {
	cases := map[string]func(b *wkHist){
		"read not a list": func(b *wkHist) { b.op(1, "read", "k", wkNil, history.OK, wkInt(3)) },
		"read of strings": func(b *wkHist) {
			b.op(1, "read", "k", wkNil, history.OK, history.List(history.Str("x")))
		},
		"add of string": func(b *wkHist) { b.op(0, "add", "k", history.Str("x"), history.OK, history.Str("x")) },
		"unknown f":     func(b *wkHist) { b.op(0, "delete", "k", wkInt(1), history.OK, wkInt(1)) },
		"double invoke": func(b *wkHist) { b.inv(0, "add", "k", wkInt(1)); b.inv(0, "add", "k", wkInt(2)) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			b := newWkHist()
			b.op(0, "add", "k", wkInt(9), history.OK, wkInt(9))
			f(b)
			b.op(1, "read", "k", wkNil, history.OK, wkInts())
			res := Set{}.Check(context.Background(), &b.h)
			if res.Verdict != Unknown || res.Reason == "" {
				t.Errorf("verdict %s reason %q, want Unknown with a reason", res.Verdict, res.Reason)
			}
		})
	}
}

func TestSetCancelled(t *testing.T) {
	h := wkGenSet(2000, 1, 50)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res := (Set{}).Check(ctx, h); res.Verdict != Unknown {
		t.Errorf("cancelled check: %s", res.Verdict)
	}
}

// TestSetGenerated checks simulated histories of a linearizable set (all
// valid), then the same histories with one acknowledged element removed
// from a final read.
func TestSetGenerated(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		h := wkGenSet(20000, seed, 300)
		res := wkRunH(t, Set{}, h)
		wkWant(t, res, Valid, nil)
		if res.Counts["recovered"] == 0 || res.Counts["failed"] == 0 {
			t.Errorf("seed %d: generator covers too little: %v", seed, res.Counts)
		}
		// Drop from the last final read an element whose add was
		// acknowledged: it becomes lost.
		last := &h.Ops[len(h.Ops)-1]
		vs, _ := last.Value.AsList()
		acked := make(map[int64]bool)
		for i := range h.Ops {
			op := &h.Ops[i]
			if op.F == "add" && op.Type == history.OK && op.Key == last.Key {
				e, _ := op.Value.AsInt()
				acked[e] = true
			}
		}
		mutated := false
		for n, v := range vs {
			if e, _ := v.AsInt(); acked[e] {
				last.Value = history.List(append(slices.Clone(vs[:n]), vs[n+1:]...)...)
				res = wkRunH(t, Set{}, h)
				wkWant(t, res, Invalid, map[string]int{"lost": 1})
				mutated = true
				break
			}
		}
		if !mutated {
			t.Errorf("seed %d: no acknowledged element in the last final read", seed)
		}
	}
}

// wkGenSet generates a set-workload history of about n ops from a
// simulated linearizable store: 20 processes, keys rotating every
// opsPerKey invocations, 10% reads, then a final read of every key.
func wkGenSet(n int, seed int64, opsPerKey int) *history.History {
	s := newWkSim(seed, 20, n+n/50)
	sets := make(map[string][]int64)
	var keys []string
	invocations, elem := 0, int64(0)
	invoke := func() (string, string, history.Value) {
		key := "s" + strconv.Itoa(invocations/opsPerKey)
		if _, ok := sets[key]; !ok {
			sets[key] = nil
			keys = append(keys, key)
		}
		invocations++
		if s.r.Intn(10) == 0 {
			return "read", key, wkNil
		}
		elem++
		return "add", key, wkInt(elem)
	}
	complete := func(fl wkFlight, typ history.Type) history.Value {
		if fl.f == "read" {
			if typ != history.OK {
				return wkNil
			}
			return wkInts(sets[fl.key]...)
		}
		if typ == history.OK || (typ == history.Info && s.r.Intn(2) == 0) {
			e, _ := fl.v.AsInt()
			sets[fl.key] = append(sets[fl.key], e)
		}
		return fl.v
	}
	s.run(n, invoke, complete)
	s.drain(complete)
	for _, k := range keys {
		s.b.op(s.idle[0], "read", k, wkNil, history.OK, wkInts(sets[k]...))
	}
	return &s.b.h
}

func BenchmarkSet(b *testing.B) {
	wkBench(b, Set{}, func() *history.History { return wkGenSet(1_000_000, 1, 200) })
}

// TestSetMatchesNaive compares the checker's lost and stale tallies with a
// direct quadratic evaluation of the definitions, on simulated histories
// of a store that serves stale reads and loses elements.
func TestSetMatchesNaive(t *testing.T) {
	for seed := int64(1); seed <= 8; seed++ {
		h := wkGenFaultySet(6000, seed)
		res := wkRunH(t, Set{}, h)
		lost, stale, staleReads := wkNaiveSet(h)
		if lost == 0 || stale == 0 {
			t.Fatalf("seed %d: generator made no anomaly (lost %d, stale %d)", seed, lost, stale)
		}
		if res.Counts["lost"] != lost || res.Counts["stale"] != stale || res.Counts["stale-reads"] != staleReads {
			t.Errorf("seed %d: lost/stale/stale-reads %d/%d/%d, naive %d/%d/%d", seed,
				res.Counts["lost"], res.Counts["stale"], res.Counts["stale-reads"], lost, stale, staleReads)
		}
		if res.AnomalyCounts["lost"] != int(lost) || res.AnomalyCounts["stale-read"] != int(stale) {
			t.Errorf("seed %d: anomaly counts %v", seed, res.AnomalyCounts)
		}
		for _, a := range res.Anomalies {
			if a.Kind == "stale-read" && a.StalenessNS <= 0 {
				t.Errorf("seed %d: staleness %d", seed, a.StalenessNS)
			}
		}
	}
}

// wkGenFaultySet is wkGenSet over a store whose reads are sometimes a past
// state (a prefix of the set) and which sometimes loses an element.
func wkGenFaultySet(n int, seed int64) *history.History {
	s := newWkSim(seed, 8, n)
	sets := make(map[string][]int64)
	var keys []string
	invocations, elem := 0, int64(0)
	invoke := func() (string, string, history.Value) {
		key := "s" + strconv.Itoa(invocations/150)
		if _, ok := sets[key]; !ok {
			keys = append(keys, key)
		}
		invocations++
		if s.r.Intn(4) == 0 {
			return "read", key, wkNil
		}
		elem++
		return "add", key, wkInt(elem)
	}
	complete := func(fl wkFlight, typ history.Type) history.Value {
		cur := sets[fl.key]
		if fl.f == "read" {
			if typ != history.OK {
				return wkNil
			}
			if len(cur) > 0 && s.r.Intn(5) == 0 {
				return wkInts(cur[:s.r.Intn(len(cur))]...) // stale
			}
			return wkInts(cur...)
		}
		if typ == history.OK || (typ == history.Info && s.r.Intn(2) == 0) {
			e, _ := fl.v.AsInt()
			cur = append(cur, e)
		}
		if len(cur) > 0 && s.r.Intn(40) == 0 {
			k := s.r.Intn(len(cur)) // lose an element
			cur = append(cur[:k:k], cur[k+1:]...)
		}
		sets[fl.key] = cur
		return fl.v
	}
	s.run(n, invoke, complete)
	s.drain(complete)
	for _, k := range keys {
		s.b.op(s.idle[0], "read", k, wkNil, history.OK, wkInts(sets[k]...))
	}
	return &s.b.h
}

// wkNaiveSet evaluates the Set definitions of lost and stale directly.
// It assumes what wkGenFaultySet produces: one add per element, elements
// never unexpected.
func wkNaiveSet(h *history.History) (lost, stale, staleReads int64) {
	pairs, err := h.Pairs()
	if err != nil {
		panic(err)
	}
	type read struct {
		p     history.Pair
		elems map[int64]bool
	}
	okCmp := make(map[string]map[int64]int)
	reads := make(map[string][]read)
	for _, p := range pairs {
		inv := &h.Ops[p.Invoke]
		if okCmp[inv.Key] == nil {
			okCmp[inv.Key] = make(map[int64]int)
		}
		e, _ := inv.Value.AsInt()
		switch {
		case inv.F == "add" && h.Outcome(p) == history.OK:
			okCmp[inv.Key][e] = p.Complete
		case inv.F == "add":
			if _, ok := okCmp[inv.Key][e]; !ok {
				okCmp[inv.Key][e] = setNever
			}
		case inv.F == "read" && h.Outcome(p) == history.OK:
			vs, _ := h.Ops[p.Complete].Value.AsInts()
			r := read{p: p, elems: make(map[int64]bool)}
			for _, v := range vs {
				r.elems[v] = true
			}
			reads[inv.Key] = append(reads[inv.Key], r)
		}
	}
	for key, elems := range okCmp {
		rs := reads[key]
		final := rs[len(rs)-1]
		for e, known := range elems {
			for _, r := range rs {
				if r.elems[e] && r.p.Complete < known {
					known = r.p.Complete
				}
			}
			if known == setNever {
				continue
			}
			if known < final.p.Invoke && !final.elems[e] {
				lost++
				continue
			}
			n := int64(0)
			for i, r := range rs[:len(rs)-1] {
				if known >= r.p.Invoke || r.elems[e] {
					continue
				}
				for _, later := range rs[i+1:] {
					if later.p.Invoke > r.p.Invoke && later.elems[e] {
						n++
						break
					}
				}
			}
			if n > 0 {
				stale++
				staleReads += n
			}
		}
	}
	return lost, stale, staleReads
}

// Issue 10, case 6: the set checker's staleness sample holds every stale
// element, past the MaxAnomalies witnesses.
func TestSetStalenessSampleUncapped(t *testing.T) {
	b := newWkHist()
	const n = 150
	for e := 1; e <= n; e++ {
		b.op(0, "add", "s", wkInt(int64(e)), history.OK, wkInt(int64(e)))
	}
	b.op(1, "read", "s", wkNil, history.OK, wkInts()) // misses all: stale
	all := make([]int64, n)
	for e := range all {
		all[e] = int64(e + 1)
	}
	b.op(1, "read", "s", wkNil, history.OK, wkInts(all...))
	res := wkRun(t, Set{}, b)
	wkWant(t, res, Invalid, map[string]int{"stale-read": n})
	if len(res.Anomalies) != MaxAnomalies || res.Staleness == nil || len(res.Staleness.NS) != n || res.Staleness.Anomalies != n {
		t.Fatalf("%d witnesses, sample %+v", len(res.Anomalies), res.Staleness)
	}
}
