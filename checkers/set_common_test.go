package checkers

// Test helpers shared by the Set, Counter, Session and LostUpdate tests: a
// hand-history builder, a seeded simulator of a linearizable store that
// generates large valid histories, and assertions. Names carry a "wk"
// prefix to stay clear of other tests in this package.

import (
	"context"
	"math/rand"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
)

// wkHist builds a history by hand. Every event advances time by 10ns.
type wkHist struct {
	h       history.History
	t       int64
	step    func() int64
	pending map[int]int // process -> invoke position
}

func newWkHist() *wkHist {
	return &wkHist{pending: make(map[int]int)}
}

func (b *wkHist) append(op history.Op) int {
	if b.step != nil {
		b.t += b.step()
	} else {
		b.t += 10
	}
	op.Index = len(b.h.Ops)
	op.Time = b.t
	b.h.Ops = append(b.h.Ops, op)
	return op.Index
}

// inv invokes f on key by process p and returns its position.
func (b *wkHist) inv(p int, f, key string, v history.Value) int {
	i := b.append(history.Op{Type: history.Invoke, Process: history.Process(p), F: f, Key: key, Value: v})
	b.pending[p] = i
	return i
}

// end completes the pending operation of p.
func (b *wkHist) end(p int, typ history.Type, v history.Value) int {
	inv := b.h.Ops[b.pending[p]]
	delete(b.pending, p)
	return b.append(history.Op{Type: typ, Process: history.Process(p), F: inv.F, Key: inv.Key, Value: v})
}

// op invokes and at once completes an operation; it returns both
// positions.
func (b *wkHist) op(p int, f, key string, in history.Value, typ history.Type, out history.Value) (int, int) {
	return b.inv(p, f, key, in), b.end(p, typ, out)
}

// nemesis records a fault event.
func (b *wkHist) nemesis(f string) int {
	return b.append(history.Op{Type: history.Info, Process: history.Nemesis, F: f})
}

// wkRun checks the built history and verifies the structural promises of
// every result: witnesses are valid, sorted indexes; counts by kind match.
func wkRun(t *testing.T, c Checker, b *wkHist) Result {
	t.Helper()
	return wkRunH(t, c, &b.h)
}

func wkRunH(t *testing.T, c Checker, h *history.History) Result {
	t.Helper()
	res := c.Check(context.Background(), h)
	if res.Checker != c.Name() {
		t.Errorf("result names checker %q, want %q", res.Checker, c.Name())
	}
	kinds := make(map[string]int)
	for _, a := range res.Anomalies {
		kinds[a.Kind]++
		if len(a.Ops) == 0 {
			t.Errorf("anomaly %s has no witness", a.Kind)
		}
		if !slices.IsSorted(a.Ops) || len(slices.Compact(slices.Clone(a.Ops))) != len(a.Ops) {
			t.Errorf("anomaly %s witnesses %v are not sorted and distinct", a.Kind, a.Ops)
		}
		for _, i := range a.Ops {
			if i < 0 || i >= len(h.Ops) {
				t.Errorf("anomaly %s names op %d outside the history", a.Kind, i)
			}
		}
		if a.Message == "" {
			t.Errorf("anomaly %s has no message", a.Kind)
		}
	}
	for k, n := range kinds {
		if res.AnomalyCounts[k] < n {
			t.Errorf("AnomalyCounts[%s] = %d < %d listed", k, res.AnomalyCounts[k], n)
		}
	}
	if (len(res.Anomalies) > 0) != (res.Verdict == Invalid) {
		t.Errorf("verdict %s with %d anomalies", res.Verdict, len(res.Anomalies))
	}
	return res
}

// wkWant asserts the verdict and the anomaly counts by kind (kinds not
// named must be absent).
func wkWant(t *testing.T, res Result, v Verdict, kinds map[string]int) {
	t.Helper()
	if res.Verdict != v {
		t.Errorf("verdict %s, want %s (reason %q, anomalies %+v)", res.Verdict, v, res.Reason, res.Anomalies)
	}
	for k, n := range kinds {
		if res.AnomalyCounts[k] != n {
			t.Errorf("%d %s anomalies, want %d: %+v", res.AnomalyCounts[k], k, n, res.Anomalies)
		}
	}
	for k, n := range res.AnomalyCounts {
		if _, ok := kinds[k]; !ok && n > 0 {
			t.Errorf("unexpected %d %s anomalies: %+v", n, k, res.Anomalies)
		}
	}
}

// wkCount asserts one tally.
func wkCount(t *testing.T, res Result, name string, want int64) {
	t.Helper()
	if got := res.Counts[name]; got != want {
		t.Errorf("count %s = %d, want %d (counts %v)", name, got, want, res.Counts)
	}
}

// wkFind returns the first anomaly of kind.
func wkFind(t *testing.T, res Result, kind string) Anomaly {
	t.Helper()
	for _, a := range res.Anomalies {
		if a.Kind == kind {
			return a
		}
	}
	t.Fatalf("no %s anomaly in %+v", kind, res.Anomalies)
	return Anomaly{}
}

// wkOps asserts an anomaly's witnesses.
func wkOps(t *testing.T, a Anomaly, want ...int) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(a.Ops, want) {
		t.Errorf("%s witnesses %v, want %v", a.Kind, a.Ops, want)
	}
}

// wkContains asserts that s contains every part.
func wkContains(t *testing.T, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%q does not contain %q", s, p)
		}
	}
}

// wkSim drives a simulated linearizable store: concurrent processes invoke
// operations, and each operation takes effect (if at all) at the instant it
// completes, so every history it writes is valid for all four checkers.
// Processes that end an operation with info retire and are replaced by a
// fresh process id.
type wkSim struct {
	r      *rand.Rand
	b      *wkHist
	idle   []int
	next   int
	flight []wkFlight
	// pFail and pInfo are the probabilities of the two bad outcomes of a
	// write-like operation; reads only fail. pNemesis is the probability
	// of a nemesis event before each client event.
	pFail, pInfo, pNemesis float64
}

// wkFlight is an operation in flight.
type wkFlight struct {
	proc int
	f    string
	key  string
	v    history.Value
}

func newWkSim(seed int64, procs int, capacity int) *wkSim {
	s := &wkSim{r: rand.New(rand.NewSource(seed)), b: newWkHist(), pFail: 0.03, pInfo: 0.03, pNemesis: 0.001}
	s.b.h.Ops = make([]history.Op, 0, capacity)
	s.b.step = func() int64 { return 1 + s.r.Int63n(1000) }
	for p := range procs {
		s.idle = append(s.idle, p)
	}
	s.next = procs
	return s
}

// run generates events until the history holds n ops. invoke picks the
// next operation; complete applies it (for ok, and for info at its
// discretion) and returns the completion value.
func (s *wkSim) run(n int, invoke func() (f, key string, v history.Value), complete func(fl wkFlight, typ history.Type) history.Value) {
	for len(s.b.h.Ops) < n {
		s.event(invoke, complete)
	}
}

func (s *wkSim) event(invoke func() (f, key string, v history.Value), complete func(fl wkFlight, typ history.Type) history.Value) {
	if s.r.Float64() < s.pNemesis {
		s.b.nemesis("partition")
	}
	if len(s.idle) > 0 && (len(s.flight) == 0 || s.r.Intn(2) == 0) {
		k := s.r.Intn(len(s.idle))
		p := s.idle[k]
		s.idle[k] = s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		f, key, v := invoke()
		s.b.inv(p, f, key, v)
		s.flight = append(s.flight, wkFlight{proc: p, f: f, key: key, v: v})
		return
	}
	k := s.r.Intn(len(s.flight))
	s.complete(k, complete)
}

func (s *wkSim) complete(k int, complete func(fl wkFlight, typ history.Type) history.Value) {
	fl := s.flight[k]
	s.flight[k] = s.flight[len(s.flight)-1]
	s.flight = s.flight[:len(s.flight)-1]
	typ := history.OK
	u := s.r.Float64()
	switch {
	case u < s.pFail:
		typ = history.Fail
	case u < s.pFail+s.pInfo && fl.f != "read":
		typ = history.Info
	}
	s.b.end(fl.proc, typ, complete(fl, typ))
	if typ == history.Info {
		s.idle = append(s.idle, s.next)
		s.next++
	} else {
		s.idle = append(s.idle, fl.proc)
	}
}

// drain completes every operation in flight.
func (s *wkSim) drain(complete func(fl wkFlight, typ history.Type) history.Value) {
	for len(s.flight) > 0 {
		s.complete(0, complete)
	}
}

// wkBench times c on the history gen makes (built once, outside the
// timer), and reports ops/s and the size of the live heap holding the
// history (hist-MB), so that peak RSS can be split between history and
// checker.
func wkBench(b *testing.B, c Checker, gen func() *history.History) {
	h := gen()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	ctx := context.Background()
	b.ReportAllocs()
	var res Result
	for b.Loop() {
		res = c.Check(ctx, h)
	}
	if res.Verdict != Valid {
		b.Fatalf("%s on a generated valid history: %s (%s) %+v", c.Name(), res.Verdict, res.Reason, res.AnomalyCounts)
	}
	b.ReportMetric(float64(len(h.Ops))*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(len(h.Ops)), "hist-ops")
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "hist-MB")
}

// TestSetCounterSessionLostUpdateNoPanic feeds the four checkers random
// histories that keep the pairing rules but carry arbitrary f's, keys and
// values (nil, integers, strings, nested lists), and checks that they
// never panic and keep their verdict rules.
func TestSetCounterSessionLostUpdateNoPanic(t *testing.T) {
	fs := []string{"add", "read", "write", "cas", "rmw"}
	types := []history.Type{history.OK, history.OK, history.OK, history.Fail, history.Info}
	r := rand.New(rand.NewSource(7))
	var value func(depth int) history.Value
	value = func(depth int) history.Value {
		switch u := r.Intn(10); {
		case u < 2:
			return history.Nil()
		case u < 6:
			return history.Int(r.Int63n(6) - 1)
		case u < 7:
			return history.Str([]string{"not-swapped", "x"}[r.Intn(2)])
		default:
			if depth > 2 {
				return history.Int(1)
			}
			vs := make([]history.Value, r.Intn(4))
			for i := range vs {
				vs[i] = value(depth + 1)
			}
			return history.List(vs...)
		}
	}
	checkers := []Checker{Set{}, Set{AllowStale: true}, Counter{}, Session{}, LostUpdate{}}
	verdicts := make(map[Verdict]int)
	for round := 0; round < 3000; round++ {
		b := newWkHist()
		f := fs[r.Intn(len(fs))]
		next := 0
		live := map[int]bool{}
		for range 1 + r.Intn(30) {
			switch {
			case r.Intn(20) == 0:
				b.nemesis("kill")
			case len(live) > 0 && r.Intn(2) == 0:
				for p := range live {
					b.end(p, types[r.Intn(len(types))], value(0))
					delete(live, p)
					break
				}
			default:
				p := next
				next++
				if r.Intn(5) == 0 {
					f = fs[r.Intn(len(fs))] // sometimes mix workloads
				}
				b.inv(p, f, []string{"a", "b"}[r.Intn(2)], value(0))
				live[p] = true
			}
		}
		for _, c := range checkers {
			func() {
				defer func() {
					if e := recover(); e != nil {
						t.Fatalf("%s panicked on %v: %v", c.Name(), b.h.Ops, e)
					}
				}()
				res := c.Check(context.Background(), &b.h)
				verdicts[res.Verdict]++
				if (res.Verdict == Invalid) != (len(res.Anomalies) > 0) || (res.Verdict == Unknown && res.Reason == "") {
					t.Fatalf("%s: verdict %s, reason %q, %d anomalies on %v", c.Name(), res.Verdict, res.Reason, len(res.Anomalies), b.h.Ops)
				}
			}()
		}
	}
	if verdicts[Valid] == 0 || verdicts[Invalid] == 0 {
		t.Errorf("random histories reached too few verdicts: %v", verdicts)
	}
}
