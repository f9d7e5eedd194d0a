package elle

import (
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
)

// hb builds histories by hand: each txn is an invocation (reads nil) and
// its completion, or an invocation left open.
type hb struct{ ops []history.Op }

func (b *hb) add(p int, typ history.Type, mops []history.Value) {
	b.ops = append(b.ops, history.Op{Index: len(b.ops), Time: int64(len(b.ops)), Type: typ, Process: history.Process(p), F: "txn", Value: history.List(mops...)})
}

// invoke adds the invocation of mops by p.
func (b *hb) invoke(p int, mops ...history.Value) {
	inv := make([]history.Value, len(mops))
	for i, m := range mops {
		l, _ := m.AsList()
		if f, _ := l[0].AsString(); f == "r" {
			inv[i] = history.List(l[0], l[1], history.Nil())
		} else {
			inv[i] = m
		}
	}
	b.add(p, history.Invoke, inv)
}

// done adds the completion of p's open invocation.
func (b *hb) done(p int, typ history.Type, mops ...history.Value) { b.add(p, typ, mops) }

// txn adds a transaction that runs alone: invocation, then completion.
func (b *hb) txn(p int, typ history.Type, mops ...history.Value) {
	b.invoke(p, mops...)
	if typ == history.Info {
		// An info completion carries the invocation's value (reads nil).
		l, _ := b.ops[len(b.ops)-1].Value.AsList()
		b.add(p, typ, l)
		return
	}
	b.done(p, typ, mops...)
}

func (b *hb) history(t *testing.T) *history.History {
	h := &history.History{Ops: b.ops}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	return h
}

func ap(k string, v int64) history.Value {
	return history.List(history.Str("append"), history.Str(k), history.Int(v))
}
func rd(k string, vs ...int64) history.Value {
	return history.List(history.Str("r"), history.Str(k), history.Ints(vs...))
}
func wr(k string, v int64) history.Value {
	return history.List(history.Str("w"), history.Str(k), history.Int(v))
}
func rr(k string, v int64) history.Value {
	return history.List(history.Str("r"), history.Str(k), history.Int(v))
}
func rnil(k string) history.Value {
	return history.List(history.Str("r"), history.Str(k), history.Nil())
}

const (
	ok   = history.OK
	fail = history.Fail
	info = history.Info
)

func kinds(r checkers.Result) []string {
	var out []string
	for k := range r.AnomalyCounts {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func check(t *testing.T, h *history.History, o Options) checkers.Result {
	t.Helper()
	if o.Workload == "" {
		o.Workload = ListAppend
	}
	return New(o).Check(context.Background(), h)
}

// expect asserts the verdict and the anomaly types.
func expect(t *testing.T, r checkers.Result, v checkers.Verdict, want ...string) {
	t.Helper()
	sort.Strings(want)
	got := kinds(r)
	if r.Verdict != v || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("verdict %s %v, want %s %v (%s)\n%s", r.Verdict, got, v, want, r.Reason, anomalyText(r))
	}
	for _, a := range r.Anomalies {
		if len(a.Ops) == 0 && a.Kind != "empty-transaction-graph" {
			t.Fatalf("%s names no operation: %s", a.Kind, a.Message)
		}
	}
}

var (
	serializable = []string{"serializable"}
	si           = []string{"snapshot-isolation"}
)

func TestListAppendValid(t *testing.T) {
	var b hb
	b.txn(0, ok, ap("x", 1))
	b.txn(1, ok, rd("x", 1), ap("x", 2))
	b.txn(0, ok, rd("x", 1, 2), rd("y"))
	b.txn(1, ok, ap("y", 1), rd("x", 1, 2))
	r := check(t, b.history(t), Options{})
	expect(t, r, checkers.Valid)
	if r.Counts["transactions"] != 4 || r.Counts["edges"] == 0 {
		t.Fatalf("counts %v", r.Counts)
	}
}

// An info transaction may have committed: reading its append is fine. A
// failed one did not: reading its append is G1a; not reading it is fine.
func TestListAppendInfoAndFailed(t *testing.T) {
	var b hb
	b.txn(0, info, ap("x", 1))
	b.txn(1, ok, rd("x", 1), ap("x", 2))
	b.txn(2, fail, ap("y", 1))
	b.txn(1, ok, rd("x", 1, 2), rd("y"))
	expect(t, check(t, b.history(t), Options{}), checkers.Valid)

	var c hb
	c.txn(0, fail, ap("x", 1))
	c.txn(1, ok, rd("x", 1))
	c.txn(1, ok, ap("y", 1))
	c.txn(2, ok, rd("y", 1))
	expect(t, check(t, c.history(t), Options{ConsistencyModels: []string{"read-committed"}}), checkers.Invalid, "G1a")
	// Read uncommitted allows it: found, but not prohibited.
	r := check(t, c.history(t), Options{ConsistencyModels: []string{"read-uncommitted"}})
	expect(t, r, checkers.Valid)
	if !strings.Contains(r.Reason, "G1a (1)") {
		t.Fatalf("reason %q does not mention the G1a found", r.Reason)
	}
	// An info read of nil observes nothing; an open transaction is like
	// an info one.
	var d hb
	d.txn(0, ok, ap("x", 1))
	d.txn(1, info, rd("x"))
	d.invoke(2, ap("x", 2))
	d.txn(3, ok, rd("x", 1, 2))
	expect(t, check(t, d.history(t), Options{}), checkers.Valid)
}

func TestListAppendG0(t *testing.T) {
	var b hb
	b.invoke(0, ap("x", 1), ap("y", 1))
	b.invoke(1, ap("x", 2), ap("y", 2))
	b.done(0, ok, ap("x", 1), ap("y", 1))
	b.done(1, ok, ap("x", 2), ap("y", 2))
	b.txn(2, ok, rd("x", 1, 2), rd("y", 2, 1))
	r := check(t, b.history(t), Options{Anomalies: []string{"G0"}})
	expect(t, r, checkers.Invalid, "G0")
	if m := r.Anomalies[0].Message; !strings.Contains(m, "T1 < T2 because T2 appended 2 after T1 appended 1 to key x") && !strings.Contains(m, "T1 < T2 because T2 appended") {
		t.Fatalf("explanation %q", m)
	}
}

func TestListAppendG1b(t *testing.T) {
	var b hb
	b.txn(0, ok, ap("x", 1), ap("x", 2))
	b.txn(1, ok, rd("x", 1))
	expect(t, check(t, b.history(t), Options{Anomalies: []string{"G1"}}), checkers.Invalid, "G1b")
	// Reading one's own intermediate state is no G1b.
	var c hb
	c.txn(0, ok, ap("x", 1), rd("x", 1), ap("x", 2))
	c.txn(1, ok, rd("x", 1, 2))
	expect(t, check(t, c.history(t), Options{Anomalies: []string{"G1"}}), checkers.Valid)
}

func TestListAppendG1c(t *testing.T) {
	var b hb
	b.invoke(0, ap("x", 1), rd("y"))
	b.invoke(1, ap("y", 1), rd("x"))
	b.done(0, ok, ap("x", 1), rd("y", 1))
	b.done(1, ok, ap("y", 1), rd("x", 1))
	r := check(t, b.history(t), Options{ConsistencyModels: []string{"read-committed"}})
	expect(t, r, checkers.Invalid, "G1c")
	m := r.Anomalies[0].Message
	for _, want := range []string{"Let T1 = op", "read T", "'s append of 1 to key", "a contradiction"} {
		if !strings.Contains(m, want) {
			t.Fatalf("explanation lacks %q: %s", want, m)
		}
	}
}

// Read skew: T2 sees T1's append to y but not its append to x.
func TestListAppendGSingle(t *testing.T) {
	var b hb
	b.invoke(0, ap("x", 1), ap("y", 1))
	b.invoke(1, rd("x"), rd("y"))
	b.done(0, ok, ap("x", 1), ap("y", 1))
	b.done(1, ok, rd("x"), rd("y", 1))
	b.txn(2, ok, rd("x", 1))
	h := b.history(t)
	r := check(t, h, Options{ConsistencyModels: si})
	expect(t, r, checkers.Invalid, "G-single-item")
	if m := r.Anomalies[0].Message; !strings.Contains(m, "read the initial (empty) state of key x") {
		t.Fatalf("explanation %s", m)
	}
	expect(t, check(t, h, Options{ConsistencyModels: []string{"read-committed"}}), checkers.Valid)
}

// Write skew: allowed by snapshot isolation, not by serializability.
func TestListAppendG2Item(t *testing.T) {
	var b hb
	b.invoke(0, rd("x"), rd("y"), ap("x", 1))
	b.invoke(1, rd("x"), rd("y"), ap("y", 1))
	b.done(0, ok, rd("x"), rd("y"), ap("x", 1))
	b.done(1, ok, rd("x"), rd("y"), ap("y", 1))
	b.txn(2, ok, rd("x", 1), rd("y", 1))
	h := b.history(t)
	r := check(t, h, Options{ConsistencyModels: si})
	expect(t, r, checkers.Valid)
	// Valid for SI, but the write skew is named, and serializable and
	// repeatable read are ruled out.
	if !strings.Contains(r.Reason, "not ruled out: strong-snapshot-isolation, strong-session-snapshot-isolation, snapshot-isolation, strong-read-committed") ||
		strings.Contains(r.Reason, "repeatable-read") || !strings.Contains(r.Reason, "G2-item (1)") {
		t.Fatalf("reason %q", r.Reason)
	}
	r = check(t, h, Options{ConsistencyModels: serializable})
	expect(t, r, checkers.Invalid, "G2-item")
	if !strings.Contains(r.Reason, "not repeatable-read") {
		t.Fatalf("reason %q", r.Reason)
	}
	expect(t, check(t, h, Options{Anomalies: []string{"G2"}}), checkers.Invalid, "G2-item")
}

func TestListAppendGNonadjacent(t *testing.T) {
	var b hb
	// T1 -rw(x)-> T2 -wr(x)-> T3 -rw(y)-> T4 -wr(z)-> T1
	b.invoke(0, rd("x"), rd("z"))
	b.invoke(1, ap("x", 1))
	b.invoke(2, rd("x"), rd("y"))
	b.invoke(3, ap("y", 1), ap("z", 1))
	b.done(1, ok, ap("x", 1))
	b.done(3, ok, ap("y", 1), ap("z", 1))
	b.done(0, ok, rd("x"), rd("z", 1))
	b.done(2, ok, rd("x", 1), rd("y"))
	b.txn(4, ok, rd("x", 1), rd("y", 1), rd("z", 1))
	h := b.history(t)
	expect(t, check(t, h, Options{ConsistencyModels: si}), checkers.Invalid, "G-nonadjacent-item")
	expect(t, check(t, h, Options{ConsistencyModels: []string{"consistent-view"}}), checkers.Valid)
}

func TestListAppendLostUpdate(t *testing.T) {
	var b hb
	b.txn(0, ok, ap("x", 0))
	b.invoke(0, rd("x"), ap("x", 1))
	b.invoke(1, rd("x"), ap("x", 2))
	b.done(0, ok, rd("x", 0), ap("x", 1))
	b.done(1, ok, rd("x", 0), ap("x", 2))
	expect(t, check(t, b.history(t), Options{ConsistencyModels: []string{"cursor-stability"}}), checkers.Invalid, "lost-update")
	// One of them failed: no lost update.
	var c hb
	c.txn(0, ok, ap("x", 0))
	c.invoke(0, rd("x"), ap("x", 1))
	c.invoke(1, rd("x"), ap("x", 2))
	c.done(0, ok, rd("x", 0), ap("x", 1))
	c.done(1, fail, rd("x", 0), ap("x", 2))
	expect(t, check(t, c.history(t), Options{ConsistencyModels: []string{"cursor-stability"}}), checkers.Valid)
}

func TestListAppendNonCycle(t *testing.T) {
	for _, tc := range []struct {
		name string
		txns [][]history.Value
		want string
	}{
		{"internal", [][]history.Value{{ap("x", 1), rd("x")}}, "internal"},
		{"internal suffix", [][]history.Value{{ap("x", 1)}, {ap("x", 3), rd("x", 1, 4)}}, "internal"},
		{"duplicate-elements", [][]history.Value{{ap("x", 1)}, {rd("x", 1, 1)}}, "duplicate-elements"},
		{"incompatible-order", [][]history.Value{{ap("x", 1)}, {ap("x", 2)}, {rd("x", 1, 2)}, {rd("x", 2, 1)}}, "incompatible-order"},
		{"future-read", [][]history.Value{{rd("x", 1), ap("x", 1)}}, "future-read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b hb
			for i, tx := range tc.txns {
				b.txn(i, ok, tx...)
			}
			r := check(t, b.history(t), Options{Anomalies: []string{tc.want}})
			if r.Verdict != checkers.Invalid || r.AnomalyCounts[tc.want] != 1 {
				t.Fatalf("verdict %s %v (%s)", r.Verdict, r.AnomalyCounts, r.Reason)
			}
		})
	}
	var b hb
	b.txn(0, fail, ap("x", 1))
	b.txn(1, ok, ap("x", 2))
	b.txn(2, ok, rd("x", 1, 2))
	expect(t, check(t, b.history(t), Options{Anomalies: []string{"dirty-update"}}), checkers.Invalid, "dirty-update")
	// Info, not failed, before the committed append: no dirty update.
	var c hb
	c.txn(0, info, ap("x", 1))
	c.txn(1, ok, ap("x", 2))
	c.txn(2, ok, rd("x", 1, 2))
	expect(t, check(t, c.history(t), Options{Anomalies: []string{"dirty-update"}}), checkers.Valid)
}

// Real-time and process variants need their orders, which only the
// models that forbid them bring in.
func TestListAppendRealtimeAndProcess(t *testing.T) {
	var b hb
	b.txn(0, ok, ap("x", 1))
	b.txn(1, ok, rd("x"))
	b.txn(2, ok, rd("x", 1))
	h := b.history(t)
	expect(t, check(t, h, Options{ConsistencyModels: serializable}), checkers.Valid)
	r := check(t, h, Options{})
	expect(t, r, checkers.Invalid, "G-single-item-realtime")
	if m := r.Anomalies[0].Message; !strings.Contains(m, "completed (op 1) before") {
		t.Fatalf("explanation %s", m)
	}
	var c hb
	c.txn(0, ok, ap("x", 1))
	c.txn(0, ok, rd("x"))
	c.txn(1, ok, rd("x", 1))
	h = c.history(t)
	expect(t, check(t, h, Options{ConsistencyModels: []string{"strong-session-snapshot-isolation"}}), checkers.Invalid, "G-single-item-process")
	expect(t, check(t, h, Options{ConsistencyModels: si}), checkers.Valid)
}

func TestEmptyGraphIsUnknown(t *testing.T) {
	var b hb
	b.txn(0, ok, ap("x", 1))
	b.txn(1, fail, rd("x", 1))
	expect(t, check(t, b.history(t), Options{ConsistencyModels: serializable}), checkers.Unknown, "empty-transaction-graph")
	expect(t, check(t, &history.History{}, Options{}), checkers.Unknown, "empty-transaction-graph")
}

func TestCancelledIsUnknown(t *testing.T) {
	var b hb
	b.txn(0, ok, ap("x", 1))
	b.txn(1, ok, rd("x", 1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := New(Options{Workload: ListAppend}).Check(ctx, b.history(t))
	if r.Verdict != checkers.Unknown || !strings.Contains(r.Reason, "cancel") {
		t.Fatalf("%s %s", r.Verdict, r.Reason)
	}
}

func TestBadInputIsUnknown(t *testing.T) {
	var b hb
	b.txn(0, ok, ap("x", 1))
	b.txn(1, ok, ap("x", 1))
	r := check(t, b.history(t), Options{})
	if r.Verdict != checkers.Unknown || !strings.Contains(r.Reason, "duplicate-appends") {
		t.Fatalf("%s %s", r.Verdict, r.Reason)
	}
	var c hb
	c.txn(0, ok, wr("x", 1))
	if r := check(t, c.history(t), Options{}); r.Verdict != checkers.Unknown || !strings.Contains(r.Reason, "other than appends or reads") {
		t.Fatalf("%s %s", r.Verdict, r.Reason)
	}
	if r := New(Options{Workload: ListAppend, ConsistencyModels: []string{"serialisable"}}).Check(context.Background(), c.history(t)); r.Verdict != checkers.Unknown {
		t.Fatalf("unknown model: %s", r.Verdict)
	}
	if err := ValidateOptions(Options{Workload: "bank"}); err == nil {
		t.Fatal("workload bank accepted")
	}
}

func TestRWRegister(t *testing.T) {
	rw := func(models ...string) Options { return Options{Workload: RWRegister, ConsistencyModels: models} }
	var v hb
	v.txn(0, ok, wr("x", 1))
	v.txn(1, ok, rr("x", 1), wr("x", 2))
	v.txn(0, ok, rr("x", 2))
	expect(t, check(t, v.history(t), rw()), checkers.Valid)

	var g hb
	g.invoke(0, wr("x", 1), rnil("y"))
	g.invoke(1, wr("y", 1), rnil("x"))
	g.done(0, ok, wr("x", 1), rr("y", 1))
	g.done(1, ok, wr("y", 1), rr("x", 1))
	expect(t, check(t, g.history(t), rw("read-committed")), checkers.Invalid, "G1c")

	var a hb
	a.txn(0, fail, wr("x", 1))
	a.txn(1, ok, rr("x", 1))
	a.txn(1, ok, wr("y", 1))
	a.txn(2, ok, rr("y", 1))
	expect(t, check(t, a.history(t), rw("read-committed")), checkers.Invalid, "G1a")

	var ib hb
	ib.txn(0, ok, wr("x", 1), wr("x", 2))
	ib.txn(1, ok, rr("x", 1))
	// As in Elle (rw-007): the intermediate value is no external write,
	// so no edge is inferred and the graph is empty too.
	expect(t, check(t, ib.history(t), rw("read-committed")), checkers.Invalid, "G1b", "empty-transaction-graph")

	var in hb
	in.txn(0, ok, wr("x", 1), rr("x", 2))
	// One transaction alone: the graph is empty too (as Elle's rw-020).
	expect(t, check(t, in.history(t), Options{Workload: RWRegister, Anomalies: []string{"internal"}}), checkers.Invalid, "internal", "empty-transaction-graph")

	var lu hb
	lu.invoke(0, rnil("x"), wr("x", 1))
	lu.invoke(1, rnil("x"), wr("x", 2))
	lu.done(0, ok, rnil("x"), wr("x", 1))
	lu.done(1, ok, rnil("x"), wr("x", 2))
	// Both read the initial nil, which every write follows: the rw edges
	// make the G2-item cycle of a lost update too.
	expect(t, check(t, lu.history(t), rw()), checkers.Invalid, "G2-item", "lost-update")

	// Write skew on registers: T1 reads x=nil, y=nil, writes x; T2 the
	// same, writes y.
	var ws hb
	ws.invoke(0, rnil("x"), rnil("y"), wr("x", 1))
	ws.invoke(1, rnil("x"), rnil("y"), wr("y", 1))
	ws.done(0, ok, rnil("x"), rnil("y"), wr("x", 1))
	ws.done(1, ok, rnil("x"), rnil("y"), wr("y", 1))
	h := ws.history(t)
	expect(t, check(t, h, rw("snapshot-isolation")), checkers.Valid)
	expect(t, check(t, h, rw("serializable")), checkers.Invalid, "G2-item")

	// Sequential keys: process 0 reads 2 after writing 1 and 2, then 1.
	var sq hb
	sq.txn(0, ok, wr("x", 1))
	sq.txn(0, ok, wr("x", 2))
	sq.txn(0, ok, rr("x", 1))
	o := rw()
	o.SequentialKeys = true
	expect(t, check(t, sq.history(t), o), checkers.Invalid, "cyclic-versions")
	// Writes-follow-reads gives a G-single that plain inference misses.
	var wf hb
	wf.invoke(0, rnil("x"), rnil("y"))
	wf.invoke(1, rnil("y"), wr("x", 1), wr("y", 2))
	wf.done(1, ok, rr("y", 1), wr("x", 1), wr("y", 2))
	wf.done(0, ok, rr("x", 1), rr("y", 1))
	wf.txn(2, info, wr("y", 1))
	h = wf.history(t)
	o = rw("serializable")
	expect(t, check(t, h, o), checkers.Valid)
	o.WFRKeys = true
	expect(t, check(t, h, o), checkers.Invalid, "G-single-item")
}

// Each cycle is drawn as a well-formed SVG in OutDir.
func TestCycleDrawings(t *testing.T) {
	var b hb
	b.invoke(0, ap("x", 1), rd("y"))
	b.invoke(1, ap("y", 1), rd("x"))
	b.done(0, ok, ap("x", 1), rd("y", 1))
	b.done(1, ok, ap("y", 1), rd("x", 1))
	dir := t.TempDir()
	r := check(t, b.history(t), Options{OutDir: dir})
	if len(r.Artifacts) != 1 || r.Artifacts[0] != "elle/G1c-1.svg" {
		t.Fatalf("artifacts %v", r.Artifacts)
	}
	data, err := os.ReadFile(filepath.Join(dir, r.Artifacts[0]))
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(string(data)))
	circles, paths := 0, 0
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("svg: %v", err)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "circle":
				circles++
			case "path":
				for _, a := range se.Attr {
					if a.Name.Local == "marker-end" {
						paths++
					}
				}
			}
		}
	}
	if circles != 2 || paths != 2 {
		t.Fatalf("%d nodes and %d arrows, want 2 and 2", circles, paths)
	}
}

// IsTransactional recognises the workloads by their micro-ops.
func TestIsTransactional(t *testing.T) {
	var la, rwh, reads, kv hb
	la.txn(0, ok, ap("x", 1))
	rwh.txn(0, ok, wr("x", 1))
	reads.txn(0, ok, rd("x", 1))
	kv.ops = []history.Op{{Type: history.Invoke, F: "read"}, {Index: 1, Type: history.OK, F: "read"}}
	for _, tc := range []struct {
		h    *history.History
		w    Workload
		isTx bool
	}{{la.history(t), ListAppend, true}, {rwh.history(t), RWRegister, true}, {reads.history(t), ListAppend, true}, {kv.history(t), "", false}} {
		if w, ok := IsTransactional(tc.h); w != tc.w || ok != tc.isTx {
			t.Errorf("got %q %v, want %q %v", w, ok, tc.w, tc.isTx)
		}
	}
}

// A completion without invocation (Elle's tests) says nothing of when the
// transaction began: no real-time order comes from the invocation the
// importer inserts, as in Elle.
func TestCompletionsOnlyHaveNoRealtime(t *testing.T) {
	edn := `{:type :ok, :process 0, :f :txn, :value [[:append :x 1]]}
{:type :ok, :process 1, :f :txn, :value [[:r :x []]]}
{:type :ok, :process 2, :f :txn, :value [[:r :x [1]]]}
`
	h, info, err := history.ReadEDN(strings.NewReader(edn))
	if err != nil || info.SynthesizedInvokes != 3 {
		t.Fatalf("%v %+v", err, info)
	}
	expect(t, check(t, h, Options{}), checkers.Valid)
	// The same with invocations: T1 completed before T2 began.
	var b hb
	b.txn(0, ok, ap("x", 1))
	b.txn(1, ok, rd("x"))
	b.txn(2, ok, rd("x", 1))
	expect(t, check(t, b.history(t), Options{}), checkers.Invalid, "G-single-item-realtime")
}
