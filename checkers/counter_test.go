package checkers

import (
	"context"
	"math/rand"
	"strconv"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
)

func TestCounterValid(t *testing.T) {
	b := newWkHist()
	b.op(0, "add", "c", wkInt(1), history.OK, wkInt(1))
	b.nemesis("kill")
	b.op(0, "add", "c", wkInt(2), history.OK, wkInt(2))
	b.op(1, "read", "c", wkNil, history.OK, wkInt(3))
	b.op(1, "read", "c", wkNil, history.Fail, wkNil)
	res := wkRun(t, Counter{}, b)
	wkWant(t, res, Valid, nil)
	wkCount(t, res, "ok-adds", 2)
	wkCount(t, res, "ok-reads", 1)
}

func TestCounterTooHigh(t *testing.T) {
	b := newWkHist()
	b.op(0, "add", "c", wkInt(1), history.OK, wkInt(1))
	b.op(0, "add", "c", wkInt(2), history.OK, wkInt(2))
	ri, rc := b.op(1, "read", "c", wkNil, history.OK, wkInt(10))
	res := wkRun(t, Counter{}, b)
	wkWant(t, res, Invalid, map[string]int{"counter-out-of-bounds": 1})
	a := wkFind(t, res, "counter-out-of-bounds")
	wkOps(t, a, ri, rc)
	wkContains(t, a.Message, "returned 10", "[3, 3]", "too high")
	if a.Key != "c" {
		t.Errorf("key %q", a.Key)
	}
}

func TestCounterTooLow(t *testing.T) {
	b := newWkHist()
	b.op(0, "add", "c", wkInt(5), history.OK, wkInt(5))
	b.op(1, "read", "c", wkNil, history.OK, wkInt(0))
	res := wkRun(t, Counter{}, b)
	wkWant(t, res, Invalid, map[string]int{"counter-out-of-bounds": 1})
	wkContains(t, wkFind(t, res, "counter-out-of-bounds").Message, "[5, 5]", "too low")
}

func TestCounterInfoWidensUpperBound(t *testing.T) {
	b := newWkHist()
	b.op(0, "add", "c", wkInt(1), history.OK, wkInt(1))
	b.op(0, "add", "c", wkInt(5), history.Info, wkInt(5))
	b.inv(2, "add", "c", wkInt(10)) // never completes
	// Each of 1, 6, 11, 16 is possible; nothing else.
	for _, v := range []int64{1, 6, 11, 16} {
		b.op(1, "read", "c", wkNil, history.OK, wkInt(v))
	}
	res := wkRun(t, Counter{}, b)
	wkWant(t, res, Valid, nil)
	wkCount(t, res, "indeterminate-adds", 2)

	b.op(1, "read", "c", wkNil, history.OK, wkInt(17))
	b.op(1, "read", "c", wkNil, history.OK, wkInt(0))
	res = wkRun(t, Counter{}, b)
	wkWant(t, res, Invalid, map[string]int{"counter-out-of-bounds": 2})
	wkContains(t, res.Anomalies[0].Message, "[1, 16]")
}

func TestCounterFailedAddExcluded(t *testing.T) {
	b := newWkHist()
	b.op(0, "add", "c", wkInt(5), history.Fail, wkInt(5))
	b.op(1, "read", "c", wkNil, history.OK, wkInt(5))
	res := wkRun(t, Counter{}, b)
	wkWant(t, res, Invalid, map[string]int{"counter-out-of-bounds": 1})
	wkContains(t, res.Anomalies[0].Message, "[0, 0]")
	wkCount(t, res, "failed-adds", 1)
}

func TestCounterConcurrentAdd(t *testing.T) {
	for _, v := range []int64{0, 5} {
		b := newWkHist()
		b.inv(1, "read", "c", wkNil)
		b.op(0, "add", "c", wkInt(5), history.OK, wkInt(5)) // inside the read
		b.end(1, history.OK, wkInt(v))
		b.inv(0, "add", "c", wkInt(7))
		b.op(1, "read", "c", wkNil, history.OK, wkInt(5+v/5*7)) // 5 or 12
		b.end(0, history.OK, wkInt(7))
		wkWant(t, wkRun(t, Counter{}, b), Valid, nil)
	}
	// The lower bound is taken when the read begins, the upper when it
	// ends: an add acknowledged after the read began is not required.
	b := newWkHist()
	b.inv(1, "read", "c", wkNil)
	b.op(0, "add", "c", wkInt(5), history.OK, wkInt(5))
	b.op(0, "add", "c", wkInt(1), history.OK, wkInt(1))
	b.end(1, history.OK, wkInt(1))
	wkWant(t, wkRun(t, Counter{}, b), Valid, nil)
}

func TestCounterKeysIndependent(t *testing.T) {
	b := newWkHist()
	b.op(0, "add", "a", wkInt(5), history.OK, wkInt(5))
	b.op(1, "read", "b", wkNil, history.OK, wkInt(5))
	res := wkRun(t, Counter{}, b)
	wkWant(t, res, Invalid, map[string]int{"counter-out-of-bounds": 1})
	if k := res.Anomalies[0].Key; k != "b" {
		t.Errorf("key %q", k)
	}
}

func TestCounterNegativeDelta(t *testing.T) {
	b := newWkHist()
	b.op(0, "add", "c", wkInt(5), history.OK, wkInt(5))
	b.op(0, "add", "c", wkInt(-3), history.Info, wkInt(-3))
	b.op(1, "read", "c", wkNil, history.OK, wkInt(2))
	b.op(1, "read", "c", wkNil, history.OK, wkInt(5))
	wkWant(t, wkRun(t, Counter{}, b), Valid, nil)
	b.op(1, "read", "c", wkNil, history.OK, wkInt(1))
	wkWant(t, wkRun(t, Counter{}, b), Invalid, map[string]int{"counter-out-of-bounds": 1})
}

func TestCounterUndecided(t *testing.T) {
	b := newWkHist()
	b.op(0, "add", "c", wkInt(5), history.OK, wkInt(5))
	b.op(1, "read", "c", wkNil, history.Fail, wkNil)
	wkWant(t, wkRun(t, Counter{}, b), Unknown, nil)

	cases := map[string]func(b *wkHist){
		"string delta":   func(b *wkHist) { b.op(0, "add", "c", history.Str("x"), history.OK, history.Str("x")) },
		"list read":      func(b *wkHist) { b.op(1, "read", "c", wkNil, history.OK, wkInts(1)) },
		"unknown f":      func(b *wkHist) { b.op(0, "incr", "c", wkInt(1), history.OK, wkInt(1)) },
		"overflow":       func(b *wkHist) { b.op(0, "add", "c", wkInt(1<<62), history.OK, wkInt(1<<62)) },
		"complete twice": func(b *wkHist) { b.op(0, "add", "c", wkInt(1), history.OK, wkInt(1)); b.end(0, history.OK, wkNil) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			b := newWkHist()
			b.op(0, "add", "c", wkInt(1<<62), history.OK, wkInt(1<<62))
			f(b)
			b.op(1, "read", "c", wkNil, history.OK, wkInt(1))
			if res := (Counter{}).Check(context.Background(), &b.h); res.Verdict != Unknown || res.Reason == "" {
				t.Errorf("verdict %s reason %q", res.Verdict, res.Reason)
			}
		})
	}
	if res := (Counter{}).Check(context.Background(), nil); res.Verdict != Unknown {
		t.Errorf("nil history: %s", res.Verdict)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res := (Counter{}).Check(ctx, wkGenCounter(1000, 1)); res.Verdict != Unknown {
		t.Errorf("cancelled: %s", res.Verdict)
	}
}

func TestCounterGenerated(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		h := wkGenCounter(20000, seed)
		res := wkRunH(t, Counter{}, h)
		wkWant(t, res, Valid, nil)
		// Bump the last ok read by far too much.
		for i := len(h.Ops) - 1; i >= 0; i-- {
			op := &h.Ops[i]
			if op.F == "read" && op.Type == history.OK {
				v, _ := op.Value.AsInt()
				op.Value = wkInt(v + 1_000_000)
				break
			}
		}
		wkWant(t, wkRunH(t, Counter{}, h), Invalid, map[string]int{"counter-out-of-bounds": 1})
	}
}

// wkGenCounter generates a counter history of n ops: 20 processes, 10 keys,
// 60% adds of 1..5, 40% reads, from a simulated linearizable counter.
func wkGenCounter(n int, seed int64) *history.History {
	s := newWkSim(seed, 20, n)
	sums := make(map[string]int64)
	invoke := func() (string, string, history.Value) {
		key := "c" + strconv.Itoa(s.r.Intn(10))
		if s.r.Intn(10) < 4 {
			return "read", key, wkNil
		}
		return "add", key, wkInt(1 + s.r.Int63n(5))
	}
	complete := func(fl wkFlight, typ history.Type) history.Value {
		if fl.f == "read" {
			if typ != history.OK {
				return wkNil
			}
			return wkInt(sums[fl.key])
		}
		if typ == history.OK || (typ == history.Info && s.r.Intn(2) == 0) {
			d, _ := fl.v.AsInt()
			sums[fl.key] += d
		}
		return fl.v
	}
	s.run(n, invoke, complete)
	return &s.b.h
}

func BenchmarkCounter(b *testing.B) {
	wkBench(b, Counter{}, func() *history.History { return wkGenCounter(1_000_000, 1) })
}

// TestCounterMatchesNaive compares the out-of-bounds reads with a direct
// quadratic evaluation of the bounds, on simulated counters whose reads
// are sometimes off by a little.
func TestCounterMatchesNaive(t *testing.T) {
	for seed := int64(1); seed <= 8; seed++ {
		h := wkGenCounter(4000, seed)
		r := rand.New(rand.NewSource(seed))
		for i := range h.Ops {
			if op := &h.Ops[i]; op.F == "read" && op.Type == history.OK && r.Intn(4) == 0 {
				v, _ := op.Value.AsInt()
				op.Value = wkInt(v + r.Int63n(13) - 6)
			}
		}
		res := wkRunH(t, Counter{}, h)
		want := wkNaiveCounter(h)
		if want == 0 {
			t.Fatalf("seed %d: no bad read", seed)
		}
		if got := res.AnomalyCounts["counter-out-of-bounds"]; got != want {
			t.Errorf("seed %d: %d out-of-bounds reads, naive %d", seed, got, want)
		}
	}
}

// wkNaiveCounter counts the ok reads outside Jepsen's bounds, computed
// from scratch for each read.
func wkNaiveCounter(h *history.History) int {
	pairs, err := h.Pairs()
	if err != nil {
		panic(err)
	}
	bad := 0
	for _, r := range pairs {
		ri := &h.Ops[r.Invoke]
		if ri.F != "read" || h.Outcome(r) != history.OK {
			continue
		}
		var lower, upper int64
		for _, a := range pairs {
			ai := &h.Ops[a.Invoke]
			if ai.F != "add" || ai.Key != ri.Key || h.Outcome(a) == history.Fail {
				continue
			}
			d, _ := ai.Value.AsInt()
			if h.Outcome(a) == history.OK && a.Complete < r.Invoke {
				lower += d
			}
			if a.Invoke < r.Complete {
				upper += d
			}
		}
		if v, _ := h.Ops[r.Complete].Value.AsInt(); v < lower || v > upper {
			bad++
		}
	}
	return bad
}
