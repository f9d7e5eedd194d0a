package checkers

import (
	"context"
	"strconv"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
)

func TestSessionReadYourWritesNil(t *testing.T) {
	b := newWkHist()
	wi, wc := b.op(0, "write", "k", wkInt(1), history.OK, wkInt(1))
	b.nemesis("partition")
	ri, rc := b.op(0, "read", "k", wkNil, history.OK, wkNil)
	res := wkRun(t, Session{}, b)
	wkWant(t, res, Invalid, map[string]int{"read-your-writes": 1})
	a := wkFind(t, res, "read-your-writes")
	wkOps(t, a, wi, wc, ri, rc)
	if want := b.h.Ops[rc].Time - b.h.Ops[wc].Time; a.StalenessNS != want {
		t.Errorf("staleness %d, want %d", a.StalenessNS, want)
	}
	wkContains(t, a.Message, "process 0 wrote 1", "nil")
}

// Issue 10, case 3: a read by p, after p's acknowledged write w, of
// another session's value x that merely completed before w was invoked is
// not a read-your-writes violation (a store whose clocks disagree may
// order x after w): it is the real-time kind, with its own name.
func TestSessionReadYourWritesOlder(t *testing.T) {
	b := newWkHist()
	xi, xc := b.op(1, "write", "k", wkInt(1), history.OK, wkInt(1))
	wi, wc := b.op(0, "write", "k", wkInt(2), history.OK, wkInt(2))
	ri, rc := b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	res := wkRun(t, Session{}, b)
	wkWant(t, res, Invalid, map[string]int{KindReadYourWritesRealtime: 1})
	a := wkFind(t, res, KindReadYourWritesRealtime)
	wkOps(t, a, xi, xc, wi, wc, ri, rc)
	wkContains(t, a.Message, "completed before the process's write began", "real time")
}

// Issue 10, case 3: when p had itself read x before writing w, reading x
// again after w violates read-your-writes proper, whatever the write
// order.
func TestSessionReadYourWritesObservedBefore(t *testing.T) {
	b := newWkHist()
	xi, xc := b.op(1, "write", "k", wkInt(1), history.OK, wkInt(1))
	oi, oc := b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	wi, wc := b.op(0, "write", "k", wkInt(2), history.OK, wkInt(2))
	ri, rc := b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	res := wkRun(t, Session{}, b)
	wkWant(t, res, Invalid, map[string]int{KindReadYourWrites: 1})
	a := wkFind(t, res, KindReadYourWrites)
	wkOps(t, a, xi, xc, oi, oc, wi, wc, ri, rc)
	wkContains(t, a.Message, "had itself read")

	// Concurrent x (not completed before w) that p had read: still
	// proper, since p's knowledge orders it.
	b = newWkHist()
	b.inv(1, "write", "k", wkInt(1))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	b.op(0, "write", "k", wkInt(2), history.OK, wkInt(2))
	b.end(1, history.OK, wkInt(1))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	wkWant(t, wkRun(t, Session{}, b), Invalid, map[string]int{KindReadYourWrites: 1})
}

// Issue 10, case 3, for monotonic reads: a later read of a value written
// before the earlier one's by the same other process, or one that writer
// had read before writing, is monotonic-reads proper; one that merely
// completed before is the real-time kind.
func TestSessionMonotonicReadsKinds(t *testing.T) {
	b := newWkHist()
	b.op(1, "write", "k", wkInt(1), history.OK, wkInt(1))
	b.op(2, "read", "k", wkNil, history.OK, wkInt(1)) // 2 knows 1
	b.op(2, "write", "k", wkInt(2), history.OK, wkInt(2))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(2))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	wkWant(t, wkRun(t, Session{}, b), Invalid, map[string]int{KindMonotonicReads: 1})

	b = newWkHist()
	b.op(1, "write", "k", wkInt(1), history.OK, wkInt(1))
	b.op(2, "write", "k", wkInt(2), history.OK, wkInt(2))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(2))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	res := wkRun(t, Session{}, b)
	wkWant(t, res, Invalid, map[string]int{KindMonotonicReadsRealtime: 1})
	wkContains(t, wkFind(t, res, KindMonotonicReadsRealtime).Message, "real time")
}

func TestSessionReadYourWritesOwnOlder(t *testing.T) {
	b := newWkHist()
	b.op(0, "write", "k", wkInt(1), history.OK, wkInt(1))
	b.op(0, "write", "k", wkInt(2), history.OK, wkInt(2))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	res := wkRun(t, Session{}, b)
	wkWant(t, res, Invalid, map[string]int{"read-your-writes": 1})
	wkContains(t, wkFind(t, res, "read-your-writes").Message, "own earlier write")
}

func TestSessionConcurrentWritesValid(t *testing.T) {
	b := newWkHist()
	// Writes 1 and 2 overlap: either order is possible.
	b.inv(0, "write", "k", wkInt(1))
	b.inv(1, "write", "k", wkInt(2))
	b.end(0, history.OK, wkInt(1))
	b.end(1, history.OK, wkInt(2))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(2)) // another process's concurrent write
	b.op(2, "read", "k", wkNil, history.OK, wkInt(2))
	b.op(2, "read", "k", wkNil, history.OK, wkInt(1)) // 2 then 1: order 2,1 allowed
	b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	// A newer write of another process is read by process 0.
	b.op(1, "write", "k", wkInt(3), history.OK, wkInt(3))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(3))
	// Other keys and nil reads of them do not interfere.
	b.op(0, "read", "other", wkNil, history.OK, wkNil)
	res := wkRun(t, Session{}, b)
	wkWant(t, res, Valid, nil)
	wkCount(t, res, "ok-reads", 6)
	wkCount(t, res, "sessions", 3)
}

func TestSessionMonotonicReads(t *testing.T) {
	b := newWkHist()
	yi, yc := b.op(1, "write", "k", wkInt(1), history.OK, wkInt(1))
	xi, xc := b.op(2, "write", "k", wkInt(2), history.OK, wkInt(2))
	r1i, r1c := b.op(0, "read", "k", wkNil, history.OK, wkInt(2))
	r2i, r2c := b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	res := wkRun(t, Session{}, b)
	wkWant(t, res, Invalid, map[string]int{KindMonotonicReadsRealtime: 1})
	a := wkFind(t, res, KindMonotonicReadsRealtime)
	wkOps(t, a, yi, yc, xi, xc, r1i, r1c, r2i, r2c)
	wkContains(t, a.Message, "went back in time")
	if want := b.h.Ops[r2c].Time - b.h.Ops[xc].Time; a.StalenessNS != want {
		t.Errorf("staleness %d, want %d", a.StalenessNS, want)
	}
}

func TestSessionMonotonicReadsNil(t *testing.T) {
	b := newWkHist()
	wi, wc := b.op(1, "write", "k", wkInt(1), history.OK, wkInt(1))
	r1i, r1c := b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	r2i, r2c := b.op(0, "read", "k", wkNil, history.OK, wkNil)
	res := wkRun(t, Session{}, b)
	wkWant(t, res, Invalid, map[string]int{"monotonic-reads": 1})
	wkOps(t, wkFind(t, res, "monotonic-reads"), wi, wc, r1i, r1c, r2i, r2c)
}

func TestSessionOneWritersRegressionIsMonotonicReads(t *testing.T) {
	b := newWkHist()
	w1i, w1c := b.op(1, "write", "k", wkInt(1), history.OK, wkInt(1))
	w2i, w2c := b.op(1, "write", "k", wkInt(2), history.OK, wkInt(2))
	r1i, r1c := b.op(0, "read", "k", wkNil, history.OK, wkInt(2))
	r2i, r2c := b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	res := wkRun(t, Session{}, b)
	// Reader 0 saw writer 1's writes out of order: a stale replica, which
	// monotonic writes allows, and a regression of reader 0's session.
	wkWant(t, res, Invalid, map[string]int{"monotonic-reads": 1})
	a := wkFind(t, res, "monotonic-reads")
	wkOps(t, a, w1i, w1c, w2i, w2c, r1i, r1c, r2i, r2c)
	wkContains(t, a.Message, "went back in time", "both written by process 1")
}

func TestSessionUnknownOutcomeWrites(t *testing.T) {
	// Write 5 has an unknown outcome: it may take effect after 6, so
	// reading 6 then 5 proves nothing.
	b := newWkHist()
	b.op(1, "write", "k", wkInt(5), history.Info, wkInt(5))
	b.op(2, "write", "k", wkInt(6), history.OK, wkInt(6))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(6))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(5))
	b.inv(3, "write", "k", wkInt(7)) // never completes
	b.op(0, "read", "k", wkNil, history.OK, wkInt(7))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(5))
	wkWant(t, wkRun(t, Session{}, b), Valid, nil)
	// Reading 6 after 7 is a regression, though 7's write never
	// completed: 6 was acknowledged before 7 was even invoked.
	b.op(0, "read", "k", wkNil, history.OK, wkInt(6))
	wkWant(t, wkRun(t, Session{}, b), Invalid, map[string]int{KindMonotonicReadsRealtime: 1})

	// But an unknown-outcome write that was read did happen: a later
	// read of a value certainly older than it goes back in time.
	b = newWkHist()
	b.op(1, "write", "k", wkInt(5), history.OK, wkInt(5))
	b.op(2, "write", "k", wkInt(6), history.Info, wkInt(6))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(6))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(5))
	wkWant(t, wkRun(t, Session{}, b), Invalid, map[string]int{KindMonotonicReadsRealtime: 1})
}

func TestSessionCAS(t *testing.T) {
	b := newWkHist()
	xi, xc := b.op(1, "write", "k", wkInt(1), history.OK, wkInt(1))
	ci, cc := b.op(0, "cas", "k", wkInts(1, 2), history.OK, wkInts(1, 2))
	ri, rc := b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	res := wkRun(t, Session{}, b)
	wkWant(t, res, Invalid, map[string]int{KindReadYourWritesRealtime: 1})
	wkOps(t, wkFind(t, res, KindReadYourWritesRealtime), xi, xc, ci, cc, ri, rc)
	wkCount(t, res, "swapped-cas", 1)

	// A CAS that did not swap wrote nothing: no read-your-writes, and
	// its value is a phantom.
	b = newWkHist()
	b.op(1, "write", "k", wkInt(1), history.OK, wkInt(1))
	notSwapped := history.List(wkInt(7), wkInt(8), history.Str("not-swapped"))
	b.op(0, "cas", "k", wkInts(7, 8), history.OK, notSwapped)
	b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(8))
	res = wkRun(t, Session{}, b)
	wkWant(t, res, Invalid, map[string]int{"phantom-read": 1})
	wkCount(t, res, "swapped-cas", 0)
}

func TestSessionPhantom(t *testing.T) {
	b := newWkHist()
	b.op(0, "read", "k", wkNil, history.OK, wkInt(42))                // never written
	fi, fc := b.op(1, "write", "k", wkInt(3), history.Fail, wkInt(3)) // failed
	ri, rc := b.op(0, "read", "k", wkNil, history.OK, wkInt(3))       // reads it
	b.op(1, "write", "other", wkInt(4), history.OK, wkInt(4))         // other key
	b.op(0, "read", "k", wkNil, history.OK, wkInt(4))                 // reads it on k
	b.op(0, "read", "k", wkNil, history.OK, wkInt(9))                 // from the future
	b.op(1, "write", "k", wkInt(9), history.OK, wkInt(9))             //
	b.op(0, "read", "k", wkNil, history.OK, wkInt(9))                 // now fine
	res := wkRun(t, Session{}, b)
	wkWant(t, res, Invalid, map[string]int{"phantom-read": 4})
	wkOps(t, res.Anomalies[1], fi, fc, ri, rc)
	wkContains(t, res.Anomalies[0].Message, "no operation ever wrote it")
	wkContains(t, res.Anomalies[1].Message, "failed")
	wkContains(t, res.Anomalies[2].Message, `key "other"`)
	wkContains(t, res.Anomalies[3].Message, "only after the read returned")
	wkCount(t, res, "phantom-reads", 4)
}

// Issue 10, case 2: two processes each write 1 and both complete, then
// process 0 writes 2 and reads 1. Whichever write of 1 the read saw, it
// is older than process 0's write: invalid, not skipped as ambiguous.
func TestSessionRepeatedValueProvenWhicheverWrite(t *testing.T) {
	b := newWkHist()
	b.op(1, "write", "k", wkInt(1), history.OK, wkInt(1))
	b.op(0, "write", "k", wkInt(1), history.OK, wkInt(1))
	b.op(0, "write", "k", wkInt(2), history.OK, wkInt(2))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	res := wkRun(t, Session{}, b)
	// One candidate is the process's own older write, the other only
	// real-time older: the kind that holds for both is the real-time one.
	wkWant(t, res, Invalid, map[string]int{KindReadYourWritesRealtime: 1})
	wkContains(t, wkFind(t, res, KindReadYourWritesRealtime).Message, "written 2 times")
	wkCount(t, res, "undecided-reads", 0)

	// Both candidates the process's own: read-your-writes proper.
	b = newWkHist()
	b.op(0, "write", "k", wkInt(1), history.OK, wkInt(1))
	b.op(0, "write", "k", wkInt(1), history.OK, wkInt(1))
	b.op(0, "write", "k", wkInt(2), history.OK, wkInt(2))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	wkWant(t, wkRun(t, Session{}, b), Invalid, map[string]int{KindReadYourWrites: 1})
}

// Issue 10, case 2: a read of a repeated value that violates the
// guarantee for one candidate write but not for another is undecided, and
// the verdict is unknown, never valid.
func TestSessionRepeatedValueUndecided(t *testing.T) {
	b := newWkHist()
	b.op(1, "write", "k", wkInt(5), history.OK, wkInt(5))
	b.op(0, "write", "k", wkInt(6), history.OK, wkInt(6))
	b.op(2, "write", "k", wkInt(5), history.Info, wkInt(5)) // may be newer than 6
	b.op(3, "write", "k", wkInt(5), history.Fail, wkInt(5))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(5))
	res := wkRun(t, Session{}, b)
	wkWant(t, res, Unknown, nil)
	wkCount(t, res, "undecided-reads", 1)
	wkContains(t, res.Reason, "could not be decided", "written more than once")

	// Every candidate newer or concurrent: checked, and valid.
	b = newWkHist()
	b.op(0, "write", "k", wkInt(6), history.OK, wkInt(6))
	b.op(1, "write", "k", wkInt(5), history.OK, wkInt(5))
	b.op(2, "write", "k", wkInt(5), history.OK, wkInt(5))
	b.op(0, "read", "k", wkNil, history.OK, wkInt(5))
	res = wkRun(t, Session{}, b)
	wkWant(t, res, Valid, nil)
	wkCount(t, res, "undecided-reads", 0)
}

func TestSessionUndecided(t *testing.T) {
	b := newWkHist()
	b.op(0, "write", "k", wkInt(1), history.OK, wkInt(1))
	b.op(0, "read", "k", wkNil, history.Fail, wkNil)
	wkWant(t, wkRun(t, Session{}, b), Unknown, nil)

	cases := map[string]func(b *wkHist){
		"string read":  func(b *wkHist) { b.op(0, "read", "k", wkNil, history.OK, history.Str("x")) },
		"list write":   func(b *wkHist) { b.op(0, "write", "k", wkInts(1), history.OK, wkInts(1)) },
		"bad cas":      func(b *wkHist) { b.op(0, "cas", "k", wkInt(1), history.OK, wkInt(1)) },
		"bad cas done": func(b *wkHist) { b.op(0, "cas", "k", wkInts(1, 2), history.OK, history.Str("yes")) },
		"unknown f":    func(b *wkHist) { b.op(0, "append", "k", wkInt(1), history.OK, wkInt(1)) },
		"after info":   func(b *wkHist) { b.op(0, "write", "k", wkInt(8), history.Info, wkNil) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			b := newWkHist()
			f(b)
			b.op(0, "read", "k", wkNil, history.OK, wkNil)
			if res := (Session{}).Check(context.Background(), &b.h); res.Verdict != Unknown || res.Reason == "" {
				t.Errorf("verdict %s reason %q", res.Verdict, res.Reason)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res := (Session{}).Check(ctx, wkGenSession(1000, 1, 5)); res.Verdict != Unknown {
		t.Errorf("cancelled: %s", res.Verdict)
	}
}

func TestSessionGenerated(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		h := wkGenSession(20000, seed, 20)
		res := wkRunH(t, Session{}, h)
		wkWant(t, res, Valid, nil)
		if res.Counts["swapped-cas"] == 0 {
			t.Errorf("seed %d: no swapped CAS: %v", seed, res.Counts)
		}
		// Make a read that follows an acknowledged write of its own
		// session return nil.
		type pk struct {
			p history.Process
			k string
		}
		wrote := make(map[pk]bool)
		pending := make(map[history.Process]int)
		mutated := false
		for i := range h.Ops {
			op := &h.Ops[i]
			if op.Process == history.Nemesis {
				continue
			}
			if op.Type == history.Invoke {
				pending[op.Process] = i
				continue
			}
			if op.Type == history.OK && op.F == "write" {
				wrote[pk{op.Process, op.Key}] = true
			}
			if op.Type == history.OK && op.F == "read" && wrote[pk{op.Process, op.Key}] {
				op.Value = wkNil
				mutated = true
				break
			}
		}
		if !mutated {
			t.Fatalf("seed %d: no read after a write in the same session", seed)
		}
		res = wkRunH(t, Session{}, h)
		if res.AnomalyCounts["read-your-writes"] != 1 {
			t.Errorf("seed %d: nil read after own write: %+v", seed, res.AnomalyCounts)
		}
	}
}

// wkGenSession generates a register history of n ops from a simulated
// linearizable store: 20 processes, the given number of keys, 40% writes of
// unique values, 10% CAS (80% of them against the current value), 50%
// reads.
func wkGenSession(n int, seed int64, keys int) *history.History {
	s := newWkSim(seed, 20, n)
	regs := make(map[string]int64) // absent: never written
	next := int64(0)
	invoke := func() (string, string, history.Value) {
		key := "r" + strconv.Itoa(s.r.Intn(keys))
		switch u := s.r.Intn(10); {
		case u < 5:
			return "read", key, wkNil
		case u < 9:
			next++
			return "write", key, wkInt(next)
		default:
			next++
			old, ok := regs[key]
			if !ok || s.r.Intn(5) == 0 {
				old = -next
			}
			return "cas", key, wkInts(old, next)
		}
	}
	complete := func(fl wkFlight, typ history.Type) history.Value {
		apply := typ == history.OK || (typ == history.Info && s.r.Intn(2) == 0)
		switch fl.f {
		case "read":
			if typ != history.OK {
				return wkNil
			}
			if v, ok := regs[fl.key]; ok {
				return wkInt(v)
			}
			return wkNil
		case "write":
			if apply {
				regs[fl.key], _ = fl.v.AsInt()
			}
			return fl.v
		}
		args, _ := fl.v.AsInts()
		cur, ok := regs[fl.key]
		swapped := ok && cur == args[0]
		if apply && swapped {
			regs[fl.key] = args[1]
		}
		if typ == history.OK && !swapped {
			return history.List(wkInt(args[0]), wkInt(args[1]), history.Str("not-swapped"))
		}
		return fl.v
	}
	s.run(n, invoke, complete)
	return &s.b.h
}

func BenchmarkSession(b *testing.B) {
	wkBench(b, Session{}, func() *history.History { return wkGenSession(1_000_000, 1, 100) })
}

// TestSessionMatchesNaive compares the checker's anomaly counts with a
// direct quadratic evaluation of the definitions (against every earlier
// write and read of the session, not just the latest), on simulated
// histories of a store that sometimes serves old versions.
func TestSessionMatchesNaive(t *testing.T) {
	for seed := int64(1); seed <= 8; seed++ {
		h := wkGenStaleRegister(6000, seed)
		res := wkRunH(t, Session{}, h)
		ryw, mono := wkNaiveSession(h)
		if ryw == 0 || mono == 0 {
			t.Fatalf("seed %d: generator made no anomaly (%d, %d)", seed, ryw, mono)
		}
		// The naive evaluation does not split the proper and real-time
		// kinds: their sums must match it.
		gotRYW := res.AnomalyCounts[KindReadYourWrites] + res.AnomalyCounts[KindReadYourWritesRealtime]
		gotMono := res.AnomalyCounts[KindMonotonicReads] + res.AnomalyCounts[KindMonotonicReadsRealtime]
		if gotRYW != ryw || gotMono != mono {
			t.Errorf("seed %d: read-your-writes %d, monotonic %d; naive %d, %d (%v)", seed,
				gotRYW, gotMono, ryw, mono, res.AnomalyCounts)
		}
		if res.AnomalyCounts["phantom-read"] != 0 {
			t.Errorf("seed %d: phantoms %v", seed, res.AnomalyCounts)
		}
	}
}

// wkGenStaleRegister simulates registers (5 keys, 6 processes) whose reads
// return an old version (possibly the empty register) one time in five.
func wkGenStaleRegister(n int, seed int64) *history.History {
	s := newWkSim(seed, 6, n)
	versions := make(map[string][]int64)
	next := int64(0)
	invoke := func() (string, string, history.Value) {
		key := "r" + strconv.Itoa(s.r.Intn(5))
		if s.r.Intn(2) == 0 {
			return "read", key, wkNil
		}
		next++
		return "write", key, wkInt(next)
	}
	complete := func(fl wkFlight, typ history.Type) history.Value {
		vs := versions[fl.key]
		if fl.f == "read" {
			if typ != history.OK {
				return wkNil
			}
			k := len(vs)
			if k > 0 && s.r.Intn(5) == 0 {
				k = s.r.Intn(k + 1)
			}
			if k == 0 {
				return wkNil
			}
			return wkInt(vs[k-1])
		}
		if typ == history.OK || (typ == history.Info && s.r.Intn(2) == 0) {
			v, _ := fl.v.AsInt()
			versions[fl.key] = append(vs, v)
		}
		return fl.v
	}
	s.run(n, invoke, complete)
	return &s.b.h
}

// wkNaiveSession counts the reads that violate read-your-writes against
// any earlier acknowledged write of their session, and those that violate
// monotonic reads against any earlier read of their session, of either
// kind (proper or real-time): y is older than a write x of process q when
// it completed ok before x was invoked, or q wrote y or read y before
// invoking x. It assumes plain writes of unique values and no phantom
// reads.
func wkNaiveSession(h *history.History) (ryw, mono int) {
	pairs, err := h.Pairs()
	if err != nil {
		panic(err)
	}
	type write struct {
		inv, cmp int
		ok       bool
		proc     history.Process
	}
	writes := make(map[int64]write)
	knew := make(map[history.Process]map[int64]int) // first read of each value, by process
	for _, p := range pairs {
		inv := &h.Ops[p.Invoke]
		if inv.F == "write" && h.Outcome(p) != history.Fail {
			v, _ := inv.Value.AsInt()
			writes[v] = write{inv: p.Invoke, cmp: p.Complete, ok: h.Outcome(p) == history.OK, proc: inv.Process}
		}
		if inv.F == "read" && h.Outcome(p) == history.OK {
			if v, ok := h.Ops[p.Complete].Value.AsInt(); ok {
				if knew[inv.Process] == nil {
					knew[inv.Process] = make(map[int64]int)
				}
				if _, seen := knew[inv.Process][v]; !seen {
					knew[inv.Process][v] = p.Complete
				}
			}
		}
	}
	older := func(y int64, than write) bool { // y certainly older
		w := writes[y]
		if w.proc == than.proc && w.inv < than.inv {
			return true
		}
		if at, ok := knew[than.proc][y]; ok && at < than.inv {
			return true
		}
		return w.ok && w.cmp < than.inv
	}
	for i, r := range pairs {
		inv := &h.Ops[r.Invoke]
		if inv.F != "read" || h.Outcome(r) != history.OK {
			continue
		}
		y, notNil := h.Ops[r.Complete].Value.AsInt()
		badRYW, badMono := false, false
		for _, q := range pairs[:i] {
			qi := &h.Ops[q.Invoke]
			if qi.Process != inv.Process || qi.Key != inv.Key || h.Outcome(q) != history.OK {
				continue
			}
			if qi.F == "write" {
				if !notNil || older(y, write{inv: q.Invoke, proc: qi.Process}) {
					badRYW = true
				}
				continue
			}
			x, xNotNil := h.Ops[q.Complete].Value.AsInt()
			if xNotNil && (!notNil || (y != x && older(y, writes[x]))) {
				badMono = true
			}
		}
		if badRYW {
			ryw++
		}
		if badMono {
			mono++
		}
	}
	return ryw, mono
}
