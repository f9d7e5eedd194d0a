package checkers

import (
	"context"
	"strconv"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
)

// wkRMW records an rmw of process p on key that read r (nil when absent)
// and wrote w, with the given outcome.
func wkRMW(b *wkHist, p int, key string, r history.Value, w int64, typ history.Type) (int, int) {
	out := wkNil
	if typ == history.OK {
		out = history.List(r, wkInt(w))
	}
	return b.op(p, "rmw", key, wkNil, typ, out)
}

func TestLostUpdateValid(t *testing.T) {
	b := newWkHist()
	wkRMW(b, 0, "k", wkNil, 1, history.OK)
	b.nemesis("partition")
	wkRMW(b, 1, "k", wkInt(1), 2, history.OK)
	wkRMW(b, 0, "k", wkInt(2), 3, history.OK)
	wkRMW(b, 0, "j", wkNil, 4, history.OK) // nil on another key
	wkRMW(b, 1, "k", wkNil, 5, history.Fail)
	wkRMW(b, 1, "k", wkNil, 6, history.Info) // read unknown: ignored
	res := wkRun(t, LostUpdate{}, b)
	wkWant(t, res, Valid, nil)
	wkCount(t, res, "ok", 4)
	wkCount(t, res, "failed", 1)
	wkCount(t, res, "indeterminate", 1)
	wkCount(t, res, "keys", 2)
}

func TestLostUpdatePair(t *testing.T) {
	b := newWkHist()
	wkRMW(b, 0, "k", wkNil, 7, history.OK)
	ai, ac := wkRMW(b, 3, "k", wkInt(7), 11, history.OK)
	bi, bc := wkRMW(b, 5, "k", wkInt(7), 12, history.OK)
	res := wkRun(t, LostUpdate{}, b)
	wkWant(t, res, Invalid, map[string]int{"lost-update": 1})
	a := wkFind(t, res, "lost-update")
	wkOps(t, a, ai, ac, bi, bc)
	want := `process 3 and process 5 both read 7 from key "k" and both wrote (11, 12): one update was lost`
	if a.Message != want {
		t.Errorf("message %q\nwant    %q", a.Message, want)
	}
	wkCount(t, res, "lost-update-pairs", 1)
	wkCount(t, res, "lost-updates", 1)
}

func TestLostUpdateNWayNil(t *testing.T) {
	b := newWkHist()
	var want []int
	for p, w := range []int64{1, 2, 3} {
		i, c := wkRMW(b, p, "k", wkNil, w, history.OK)
		want = append(want, i, c)
	}
	wkRMW(b, 4, "k", wkInt(3), 4, history.OK)
	wkRMW(b, 5, "j", wkInt(9), 10, history.OK) // 9 on another key: alone
	wkRMW(b, 6, "k", wkInt(9), 11, history.OK)
	res := wkRun(t, LostUpdate{}, b)
	wkWant(t, res, Invalid, map[string]int{"lost-update": 1})
	a := wkFind(t, res, "lost-update")
	wkOps(t, a, want...)
	wkContains(t, a.Message, "processes 0, 1 and 2 all read nil", "(1, 2, 3)", "2 updates were lost")
	wkCount(t, res, "lost-update-pairs", 3)
	wkCount(t, res, "lost-updates", 2)
	wkCount(t, res, "collisions", 1)
}

func TestLostUpdateSeveralGroups(t *testing.T) {
	b := newWkHist()
	wkRMW(b, 0, "k", wkInt(1), 2, history.OK)
	wkRMW(b, 1, "j", wkInt(1), 3, history.OK)
	wkRMW(b, 2, "j", wkInt(1), 4, history.OK)
	wkRMW(b, 3, "k", wkInt(1), 5, history.OK)
	res := wkRun(t, LostUpdate{}, b)
	wkWant(t, res, Invalid, map[string]int{"lost-update": 2})
	// In the order of their first operations: k's collision comes first.
	if res.Anomalies[0].Key != "k" || res.Anomalies[1].Key != "j" {
		t.Errorf("anomaly keys %q, %q", res.Anomalies[0].Key, res.Anomalies[1].Key)
	}
}

func TestLostUpdateUndecided(t *testing.T) {
	b := newWkHist()
	wkRMW(b, 0, "k", wkNil, 1, history.Info)
	wkWant(t, wkRun(t, LostUpdate{}, b), Unknown, nil)

	cases := map[string]history.Value{
		"not a list":    wkInt(1),
		"one element":   wkInts(1),
		"string read":   history.List(history.Str("x"), wkInt(1)),
		"nil written":   history.List(wkInt(1), wkNil),
		"three element": wkInts(1, 2, 3),
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			b := newWkHist()
			b.op(0, "rmw", "k", wkNil, history.OK, v)
			if res := (LostUpdate{}).Check(context.Background(), &b.h); res.Verdict != Unknown || res.Reason == "" {
				t.Errorf("verdict %s reason %q", res.Verdict, res.Reason)
			}
		})
	}
	b = newWkHist()
	b.op(0, "read", "k", wkNil, history.OK, wkInt(1))
	if res := (LostUpdate{}).Check(context.Background(), &b.h); res.Verdict != Unknown {
		t.Errorf("read op: %s", res.Verdict)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res := (LostUpdate{}).Check(ctx, wkGenLostUpdate(1000, 1, 10)); res.Verdict != Unknown {
		t.Errorf("cancelled: %s", res.Verdict)
	}
}

func TestLostUpdateGenerated(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		h := wkGenLostUpdate(20000, seed, 50)
		wkWant(t, wkRunH(t, LostUpdate{}, h), Valid, nil)
	}
}

// wkGenLostUpdate generates an rmw history of n ops from a simulated store
// whose rmw is atomic: 20 processes, the given number of keys.
func wkGenLostUpdate(n int, seed int64, keys int) *history.History {
	s := newWkSim(seed, 20, n)
	regs := make(map[string]int64)
	next := int64(0)
	invoke := func() (string, string, history.Value) {
		return "rmw", "u" + strconv.Itoa(s.r.Intn(keys)), wkNil
	}
	complete := func(fl wkFlight, typ history.Type) history.Value {
		if typ == history.Fail || (typ == history.Info && s.r.Intn(2) == 0) {
			return wkNil
		}
		read := wkNil
		if v, ok := regs[fl.key]; ok {
			read = wkInt(v)
		}
		next++
		regs[fl.key] = next
		if typ != history.OK {
			return wkNil
		}
		return history.List(read, wkInt(next))
	}
	s.run(n, invoke, complete)
	return &s.b.h
}

func BenchmarkLostUpdate(b *testing.B) {
	wkBench(b, LostUpdate{}, func() *history.History { return wkGenLostUpdate(1_000_000, 1, 1000) })
}

// Issue 10, case 4: one process runs four serial read-modify-writes,
// nil->0, 0->1, 1->0, 0->2. The 2nd and 4th both read "0", but 0 was
// written twice, and the 4th may have read the second write of 0: no lost
// update is proven. Never a false lost update: Unknown, with the reason.
func TestLostUpdateRepeatedValueIsNotALostUpdate(t *testing.T) {
	b := newWkHist()
	wkRMW(b, 0, "k", wkNil, 0, history.OK)
	wkRMW(b, 0, "k", wkInt(0), 1, history.OK)
	wkRMW(b, 0, "k", wkInt(1), 0, history.OK)
	wkRMW(b, 0, "k", wkInt(0), 2, history.OK)
	res := wkRun(t, LostUpdate{}, b)
	wkWant(t, res, Unknown, nil)
	wkContains(t, res.Reason, "written more than once")
	wkCount(t, res, "ambiguous", 1)
}

// Where the history tells the versions apart, a repeated value still
// proves a lost update: both 0->1 and 0->5 completed before the second
// write of 0 was invoked, so both read the first one.
func TestLostUpdateRepeatedValueVersionsProven(t *testing.T) {
	b := newWkHist()
	wkRMW(b, 0, "k", wkNil, 0, history.OK)
	b.inv(1, "rmw", "k", wkNil)
	b.inv(2, "rmw", "k", wkNil)
	b.end(1, history.OK, history.List(wkInt(0), wkInt(1)))
	b.end(2, history.OK, history.List(wkInt(0), wkInt(5)))
	wkRMW(b, 0, "k", wkInt(5), 0, history.OK)
	wkRMW(b, 0, "k", wkInt(0), 2, history.OK) // may have read either 0
	res := wkRun(t, LostUpdate{}, b)
	wkWant(t, res, Invalid, map[string]int{"lost-update": 1})
	wkContains(t, wkFind(t, res, "lost-update").Message, "process 1 and process 2")
	wkCount(t, res, "ambiguous", 1)
}
