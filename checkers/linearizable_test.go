package checkers

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/internal/histgen"
)

// hb builds small histories by hand, one event per call, in order.
type hb struct{ h history.History }

func (b *hb) add(t history.Type, p int, f, key string, v history.Value) int {
	i := len(b.h.Ops)
	proc := history.Process(p)
	b.h.Ops = append(b.h.Ops, history.Op{Index: i, Time: int64(i), Type: t, Process: proc, F: f, Key: key, Value: v})
	return i
}

func (b *hb) inv(p int, f, key string, v history.Value) int {
	return b.add(history.Invoke, p, f, key, v)
}
func (b *hb) ok(p int, f, key string, v history.Value) int {
	return b.add(history.OK, p, f, key, v)
}
func (b *hb) fail(p int, f, key string, v history.Value) int {
	return b.add(history.Fail, p, f, key, v)
}
func (b *hb) info(p int, f, key string, v history.Value) int {
	return b.add(history.Info, p, f, key, v)
}

// Sequential shorthands: invoke and complete at once.
func (b *hb) write(p int, key string, v int64) { b.inv(p, "write", key, history.Int(v)); b.ok(p, "write", key, history.Int(v)) }
func (b *hb) read(p int, key string, v history.Value) {
	b.inv(p, "read", key, history.Nil())
	b.ok(p, "read", key, v)
}
func (b *hb) cas(p int, key string, old, new int64) {
	b.inv(p, "cas", key, history.Ints(old, new))
	b.ok(p, "cas", key, history.Ints(old, new))
}
func (b *hb) casNotSwapped(p int, key string, old, new int64) {
	b.inv(p, "cas", key, history.Ints(old, new))
	b.ok(p, "cas", key, history.List(history.Int(old), history.Int(new), history.Str(NotSwapped)))
}

func (b *hb) check(t *testing.T, m Model) Result {
	t.Helper()
	if err := b.h.Validate(); err != nil {
		t.Fatalf("test history is malformed: %v", err)
	}
	return Linearizable{Model: m}.Check(context.Background(), &b.h)
}

func wantVerdict(t *testing.T, r Result, v Verdict) {
	t.Helper()
	if r.Verdict != v {
		t.Fatalf("verdict %s, want %s (reason %q, anomalies %+v)", r.Verdict, v, r.Reason, r.Anomalies)
	}
}

var (
	i64 = history.Int
	nil_ = history.Nil()
)

func TestLinearizableRegister(t *testing.T) {
	cases := []struct {
		name  string
		model Model
		build func(b *hb)
		want  Verdict
	}{
		{"empty read", ModelRegister, func(b *hb) { b.read(0, "", nil_) }, Valid},
		{"write then read", ModelRegister, func(b *hb) { b.write(0, "", 1); b.read(1, "", i64(1)) }, Valid},
		{"stale read", ModelRegister, func(b *hb) { b.write(0, "", 1); b.write(0, "", 2); b.read(1, "", i64(1)) }, Invalid},
		{"read of nil after an ok write", ModelRegister, func(b *hb) { b.write(0, "", 1); b.read(1, "", nil_) }, Invalid},
		{"read of a value never written", ModelRegister, func(b *hb) { b.read(1, "", i64(7)) }, Invalid},
		{"concurrent write and read, either order", ModelRegister, func(b *hb) {
			b.inv(0, "write", "", i64(1))
			b.inv(1, "read", "", nil_)
			b.ok(1, "read", "", nil_)
			b.ok(0, "write", "", i64(1))
			b.read(1, "", i64(1))
		}, Valid},
		{"concurrent reads disagree with real time", ModelRegister, func(b *hb) {
			b.inv(0, "write", "", i64(1))
			b.read(1, "", i64(1))
			b.read(2, "", nil_) // after a read saw 1, nobody may see nil
			b.ok(0, "write", "", i64(1))
		}, Invalid},
		{"info write assumed applied", ModelRegister, func(b *hb) {
			b.write(0, "", 1)
			b.inv(1, "write", "", i64(2))
			b.info(1, "write", "", i64(2))
			b.read(2, "", i64(2))
		}, Valid},
		{"info write assumed not applied", ModelRegister, func(b *hb) {
			b.write(0, "", 1)
			b.inv(1, "write", "", i64(2))
			b.info(1, "write", "", i64(2))
			b.read(2, "", i64(1))
		}, Valid},
		{"info write applied long after its timeout", ModelRegister, func(b *hb) {
			b.inv(1, "write", "", i64(2))
			b.info(1, "write", "", i64(2))
			b.write(0, "", 1)
			b.read(2, "", i64(1))
			b.read(2, "", i64(2))
		}, Valid},
		{"info write cannot go back in time", ModelRegister, func(b *hb) {
			b.write(0, "", 1)
			b.read(2, "", i64(2))
			b.inv(1, "write", "", i64(2))
			b.info(1, "write", "", i64(2))
		}, Invalid},
		{"open write behaves like info", ModelRegister, func(b *hb) {
			b.inv(1, "write", "", i64(2))
			b.read(2, "", nil_)
			b.read(2, "", i64(2))
		}, Valid},
		{"info read carries no information", ModelRegister, func(b *hb) {
			b.write(0, "", 1)
			b.inv(1, "read", "", nil_)
			b.info(1, "read", "", i64(99))
			b.inv(2, "read", "", nil_)
		}, Valid},
		{"fail write whose value is later read", ModelRegister, func(b *hb) {
			b.write(0, "", 1)
			b.inv(1, "write", "", i64(2))
			b.fail(1, "write", "", i64(2))
			b.read(2, "", i64(2))
		}, Invalid},
		{"fail write never read", ModelRegister, func(b *hb) {
			b.write(0, "", 1)
			b.inv(1, "write", "", i64(2))
			b.fail(1, "write", "", i64(2))
			b.read(2, "", i64(1))
		}, Valid},
		{"nemesis events are skipped", ModelRegister, func(b *hb) {
			b.add(history.Info, int(history.Nemesis), "start-partition", "", nil_)
			b.write(0, "", 1)
			b.add(history.Info, int(history.Nemesis), "stop-partition", "", nil_)
			b.read(1, "", i64(1))
		}, Valid},

		{"cas swaps", ModelCASRegister, func(b *hb) { b.write(0, "", 1); b.cas(1, "", 1, 2); b.read(0, "", i64(2)) }, Valid},
		{"ok cas whose compare cannot succeed", ModelCASRegister, func(b *hb) { b.write(0, "", 1); b.cas(1, "", 3, 2) }, Invalid},
		{"ok cas then read of the old value", ModelCASRegister, func(b *hb) { b.write(0, "", 1); b.cas(1, "", 1, 2); b.read(0, "", i64(1)) }, Invalid},
		{"fail cas has no effect", ModelCASRegister, func(b *hb) {
			b.write(0, "", 1)
			b.inv(1, "cas", "", history.Ints(1, 2))
			b.fail(1, "cas", "", history.Ints(1, 2))
			b.read(0, "", i64(1))
		}, Valid},
		{"fail cas is not a proof that the compare failed (Jepsen)", ModelCASRegister, func(b *hb) {
			b.write(0, "", 1)
			b.inv(1, "cas", "", history.Ints(1, 2))
			b.fail(1, "cas", "", history.Ints(1, 2))
		}, Valid},
		{"info cas whose compare would fail, never observed", ModelCASRegister, func(b *hb) {
			b.write(0, "", 1)
			b.inv(1, "cas", "", history.Ints(5, 6))
			b.info(1, "cas", "", history.Ints(5, 6))
			b.read(0, "", i64(1))
		}, Valid},
		{"info cas whose compare would succeed, not applied", ModelCASRegister, func(b *hb) {
			b.write(0, "", 1)
			b.inv(1, "cas", "", history.Ints(1, 6))
			b.info(1, "cas", "", history.Ints(1, 6))
			b.read(0, "", i64(1))
		}, Valid},
		{"info cas applied", ModelCASRegister, func(b *hb) {
			b.write(0, "", 1)
			b.inv(1, "cas", "", history.Ints(1, 6))
			b.info(1, "cas", "", history.Ints(1, 6))
			b.read(0, "", i64(6))
		}, Valid},
		{"info cas cannot apply without its compare", ModelCASRegister, func(b *hb) {
			b.write(0, "", 1)
			b.inv(1, "cas", "", history.Ints(5, 6))
			b.info(1, "cas", "", history.Ints(5, 6))
			b.read(0, "", i64(6))
		}, Invalid},
		{"open cas behaves like info", ModelCASRegister, func(b *hb) {
			b.write(0, "", 1)
			b.inv(1, "cas", "", history.Ints(1, 6))
			b.read(0, "", i64(1))
			b.read(0, "", i64(6))
		}, Valid},
		{"ok not-swapped cas while the register held old", ModelCASRegister, func(b *hb) {
			b.write(0, "", 1)
			b.casNotSwapped(1, "", 1, 2)
		}, Invalid},
		{"ok not-swapped cas while the register held another value", ModelCASRegister, func(b *hb) {
			b.write(0, "", 1)
			b.casNotSwapped(1, "", 3, 2)
			b.read(0, "", i64(1))
		}, Valid},
		{"ok not-swapped cas concurrent with the write that changed old", ModelCASRegister, func(b *hb) {
			b.write(0, "", 1)
			b.inv(2, "write", "", i64(4))
			b.casNotSwapped(1, "", 1, 2)
			b.ok(2, "write", "", i64(4))
		}, Valid},
		{"ok not-swapped cas on the empty register", ModelCASRegister, func(b *hb) { b.casNotSwapped(1, "", 1, 2) }, Valid},

		{"multi-key, independent registers", ModelRegister, func(b *hb) {
			b.write(0, "a", 1)
			b.write(0, "b", 2)
			b.read(1, "a", i64(1))
			b.read(1, "b", i64(2))
			b.read(1, "c", nil_)
		}, Valid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b hb
			c.build(&b)
			r := b.check(t, c.model)
			wantVerdict(t, r, c.want)
			if c.want == Invalid {
				if len(r.Anomalies) != 1 || r.Anomalies[0].Kind != KindNonLinearizable || len(r.Anomalies[0].Ops) == 0 {
					t.Fatalf("want one non-linearizable anomaly with witnesses, got %+v", r.Anomalies)
				}
				t.Logf("%s", r.Anomalies[0].Message)
			}
		})
	}
}

func TestLinearizableKV(t *testing.T) {
	put := func(b *hb, p int, k, v string) {
		b.inv(p, "put", k, history.Str(v))
		b.ok(p, "put", k, history.Str(v))
	}
	app := func(b *hb, p int, k, v string) {
		b.inv(p, "append", k, history.Str(v))
		b.ok(p, "append", k, history.Str(v))
	}
	get := func(b *hb, p int, k, v string) {
		b.inv(p, "get", k, history.Nil())
		b.ok(p, "get", k, history.Str(v))
	}
	cases := []struct {
		name  string
		build func(b *hb)
		want  Verdict
	}{
		{"absent key reads empty", func(b *hb) { get(b, 0, "k", "") }, Valid},
		{"absent key as nil", func(b *hb) { b.inv(0, "get", "k", nil_); b.ok(0, "get", "k", nil_) }, Valid},
		{"put append get", func(b *hb) { put(b, 0, "k", "x"); app(b, 1, "k", "y"); get(b, 0, "k", "xy") }, Valid},
		{"lost append", func(b *hb) { put(b, 0, "k", "x"); app(b, 1, "k", "y"); get(b, 0, "k", "x") }, Invalid},
		{"concurrent appends in either order", func(b *hb) {
			b.inv(0, "append", "k", history.Str("a"))
			b.inv(1, "append", "k", history.Str("b"))
			b.ok(1, "append", "k", history.Str("b"))
			b.ok(0, "append", "k", history.Str("a"))
			get(b, 2, "k", "ab")
		}, Valid},
		{"info append applied or not", func(b *hb) {
			put(b, 0, "k", "x")
			b.inv(1, "append", "k", history.Str("y"))
			b.info(1, "append", "k", history.Str("y"))
			get(b, 0, "k", "x")
			get(b, 0, "k", "xy")
		}, Valid},
		{"one bad key of three", func(b *hb) {
			put(b, 0, "a", "1")
			put(b, 0, "b", "2")
			get(b, 1, "b", "")
			get(b, 1, "a", "1")
			get(b, 1, "c", "")
		}, Invalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b hb
			c.build(&b)
			wantVerdict(t, b.check(t, ModelKV), c.want)
		})
	}
}

func TestLinearizableMultiKeyOneBad(t *testing.T) {
	var b hb
	for k := range 5 {
		key := string(rune('a' + k))
		b.write(0, key, int64(10*k+1))
		b.read(1, key, i64(int64(10*k+1)))
	}
	b.write(2, "c", 99)
	b.read(3, "c", i64(31)) // 21 was written to c; 31 belongs to d
	r := b.check(t, ModelRegister)
	wantVerdict(t, r, Invalid)
	if len(r.Anomalies) != 1 || r.Anomalies[0].Key != "c" {
		t.Fatalf("want one anomaly on key c, got %+v", r.Anomalies)
	}
	if got := r.Counts; got["keys"] != 5 || got["keys_invalid"] != 1 || got["keys_unknown"] != 0 || got["ops"] != 12 {
		t.Fatalf("counts %v", got)
	}
	a := r.Anomalies[0]
	// The witnesses: the write of 99 (#20, #21) and the read (#22, #23).
	for _, want := range []int{20, 21, 22, 23} {
		if !slices.Contains(a.Ops, want) {
			t.Errorf("witnesses %v lack op %d", a.Ops, want)
		}
	}
	if !slices.IsSorted(a.Ops) {
		t.Errorf("witnesses %v not in history order", a.Ops)
	}
	for _, id := range a.Ops {
		if b.h.Ops[id].Key != "c" {
			t.Errorf("witness #%d is on key %q", id, b.h.Ops[id].Key)
		}
	}
	if !strings.Contains(a.Message, `key "c"`) || !strings.Contains(a.Message, "read #23 returning 31") {
		t.Errorf("message %q does not name the key and the read", a.Message)
	}
}

func TestLinearizableWitnessMessage(t *testing.T) {
	var b hb
	b.write(0, "", 1) // #0 #1
	b.write(0, "", 2) // #2 #3
	b.read(1, "", i64(2))
	b.inv(2, "write", "", i64(3))  // #6, concurrent with the bad read
	b.read(1, "", i64(1))          // #7 #8: stale
	b.ok(2, "write", "", i64(3))   // #9
	b.inv(3, "write", "", i64(5))  // #10
	b.info(3, "write", "", i64(5)) // #11
	r := b.check(t, ModelRegister)
	wantVerdict(t, r, Invalid)
	a := r.Anomalies[0]
	t.Logf("ops %v: %s", a.Ops, a.Message)
	for _, want := range []string{
		"no order of the 5 operations on key \"\" is consistent with a single register",
		"leaves the state at 2 (set by the write #3 of 2)",
		"the read #8 returning 1 cannot be placed",
		"write #9 of 3",
	} {
		if !strings.Contains(a.Message, want) {
			t.Errorf("message lacks %q", want)
		}
	}
	if want := []int{2, 3, 4, 5, 6, 7, 8, 9}; !slices.Equal(a.Ops, want) {
		t.Errorf("witnesses %v, want %v", a.Ops, want)
	}
}

func TestLinearizableUninterpretable(t *testing.T) {
	cases := []struct {
		name  string
		model Model
		build func(b *hb)
		want  string
	}{
		{"unknown f", ModelRegister, func(b *hb) { b.inv(0, "incr", "", nil_); b.ok(0, "incr", "", nil_) }, `f "incr"`},
		{"cas in the plain register", ModelRegister, func(b *hb) { b.cas(0, "", 1, 2) }, `f "cas"`},
		{"string write", ModelRegister, func(b *hb) { b.inv(0, "write", "", history.Str("x")); b.ok(0, "write", "", history.Str("x")) }, "integer"},
		{"list read", ModelRegister, func(b *hb) { b.read(0, "", history.Ints(1)) }, "integer or nil"},
		{"short cas", ModelCASRegister, func(b *hb) {
			b.inv(0, "cas", "", history.Ints(1))
			b.ok(0, "cas", "", history.Ints(1))
		}, "[old new]"},
		{"bad cas marker", ModelCASRegister, func(b *hb) {
			b.inv(0, "cas", "", history.Ints(1, 2))
			b.ok(0, "cas", "", history.List(i64(1), i64(2), history.Str("nope")))
		}, "not-swapped"},
		{"integer put", ModelKV, func(b *hb) { b.inv(0, "put", "k", i64(1)); b.ok(0, "put", "k", i64(1)) }, "string"},
		{"read in kv", ModelKV, func(b *hb) { b.read(0, "k", nil_) }, `f "read"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b hb
			c.build(&b)
			b.write(1, "other", 1) // another key, fine
			if c.model == ModelKV {
				b.h.Ops = b.h.Ops[:len(b.h.Ops)-2]
			}
			r := b.check(t, c.model)
			wantVerdict(t, r, Unknown)
			if !strings.Contains(r.Reason, c.want) || !strings.Contains(r.Reason, "cannot interpret") {
				t.Fatalf("reason %q lacks %q", r.Reason, c.want)
			}
			if r.Counts["keys_unknown"] != 1 {
				t.Fatalf("counts %v", r.Counts)
			}
		})
	}

	// An uninterpretable key does not hide a non-linearizable one.
	var b hb
	b.inv(0, "incr", "a", nil_)
	b.ok(0, "incr", "a", nil_)
	b.write(1, "b", 1)
	b.read(1, "b", nil_)
	r := b.check(t, ModelRegister)
	wantVerdict(t, r, Invalid)
	if !strings.Contains(r.Reason, `f "incr"`) {
		t.Fatalf("reason %q should still name the uninterpretable op", r.Reason)
	}
}

func TestLinearizableBadInput(t *testing.T) {
	ctx := context.Background()
	if r := (Linearizable{}).Check(ctx, nil); r.Verdict != Unknown {
		t.Errorf("nil history: %s", r.Verdict)
	}
	if r := (Linearizable{Model: "queue"}).Check(ctx, &history.History{}); r.Verdict != Unknown || !strings.Contains(r.Reason, "queue") {
		t.Errorf("bad model: %s %q", r.Verdict, r.Reason)
	}
	var b hb
	b.ok(0, "read", "", nil_) // completion without invocation
	if r := (Linearizable{}).Check(ctx, &b.h); r.Verdict != Unknown || !strings.Contains(r.Reason, "malformed") {
		t.Errorf("malformed history: %s %q", r.Verdict, r.Reason)
	}
	if r := (Linearizable{}).Check(ctx, &history.History{}); r.Verdict != Valid || r.Counts["ops"] != 0 {
		t.Errorf("empty history: %s %v", r.Verdict, r.Counts)
	}
	var l Checker = &Linearizable{}
	if l.Name() != "linearizable" {
		t.Errorf("name %q", l.Name())
	}
}

func TestParseModel(t *testing.T) {
	for _, m := range []Model{ModelRegister, ModelCASRegister, ModelKV} {
		got, err := ParseModel(m.String())
		if err != nil || got != m {
			t.Errorf("ParseModel(%q) = %q, %v", m, got, err)
		}
	}
	if _, err := ParseModel("Register"); err == nil {
		t.Error("ParseModel accepted an unknown name")
	}
}

// hard generates a single-key history large enough to take a while.
func hard(t testing.TB, ops int) *history.History {
	t.Helper()
	h, err := histgen.Register(rand.New(rand.NewPCG(7, 7)), histgen.Config{Ops: ops, Keys: 1, Processes: 20, InfoFraction: 0.05, CASWeight: 1, ReadWeight: 1, WriteWeight: 1})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestLinearizableTimeLimitAndCancel(t *testing.T) {
	h := hard(t, 50000)
	r := Linearizable{Model: ModelCASRegister, TimeLimit: time.Millisecond}.Check(context.Background(), h)
	wantVerdict(t, r, Unknown)
	if !strings.Contains(r.Reason, "time limit of 1ms") || !strings.Contains(r.Reason, `"0"`) {
		t.Errorf("reason %q should name the limit and the undecided key", r.Reason)
	}
	if r.Counts["keys_unknown"] != 1 {
		t.Errorf("counts %v", r.Counts)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = Linearizable{Model: ModelCASRegister}.Check(ctx, h)
	wantVerdict(t, r, Unknown)

	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	start := time.Now()
	r = Linearizable{Model: ModelCASRegister}.Check(ctx, h)
	wantVerdict(t, r, Unknown)
	if !strings.Contains(r.Reason, "cancelled") || !strings.Contains(r.Reason, `"0"`) {
		t.Errorf("reason %q should say cancelled and name the key", r.Reason)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancellation took %s", d)
	}
}

func TestLinearizableVisualization(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	var b hb
	b.write(0, "a/b", 1)
	b.read(1, "a/b", nil_)
	b.write(0, "ok", 1)
	b.read(1, "ok", i64(1))
	r := Linearizable{Model: ModelRegister, VisualizeDir: dir}.Check(context.Background(), &b.h)
	wantVerdict(t, r, Invalid)
	if len(r.Artifacts) != 1 || !strings.HasPrefix(r.Artifacts[0], "linearizable-a_b-") || !strings.HasSuffix(r.Artifacts[0], ".html") {
		t.Fatalf("artifacts %v", r.Artifacts)
	}
	data, err := os.ReadFile(filepath.Join(dir, r.Artifacts[0]))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "read() -> nil") {
		t.Errorf("visualization does not describe the read")
	}
}

func TestVizFileName(t *testing.T) {
	if got := vizFileName("key-1.x_y"); got != "linearizable-key-1.x_y.html" {
		t.Errorf("plain key: %q", got)
	}
	a, b := vizFileName("a/b"), vizFileName("a_b")
	if a == b || strings.ContainsAny(a, "/\\") {
		t.Errorf("a/b -> %q, a_b -> %q", a, b)
	}
	if got := vizFileName(""); got == "linearizable-.html" {
		t.Errorf("empty key: %q", got)
	}
	if got := vizFileName(strings.Repeat("k", 500)); len(got) > 100 {
		t.Errorf("long key: %d chars", len(got))
	}
}

// TestLinearizableGenerated checks generated histories (linearizable by
// construction) and corrupted copies of them.
func TestLinearizableGenerated(t *testing.T) {
	for seed := range uint64(20) {
		cfg := histgen.Config{Ops: 2000, Keys: 4, Processes: 8, InfoFraction: 0.05, ReadWeight: 2, WriteWeight: 1, CASWeight: 1, NotSwappedOK: seed%2 == 0}
		h, err := histgen.Register(rand.New(rand.NewPCG(seed, 1)), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Validate(); err != nil {
			t.Fatal(err)
		}
		r := Linearizable{Model: ModelCASRegister}.Check(context.Background(), h)
		wantVerdict(t, r, Valid)

		// Corrupt one ok read: make it return a value never written.
		rng := rand.New(rand.NewPCG(seed, 2))
		for {
			i := rng.IntN(len(h.Ops))
			op := &h.Ops[i]
			if op.Type == history.OK && op.F == "read" {
				op.Value = i64(-999999)
				break
			}
		}
		r = Linearizable{Model: ModelCASRegister}.Check(context.Background(), h)
		wantVerdict(t, r, Invalid)
		if len(r.Anomalies) != 1 || r.Counts["keys_invalid"] != 1 {
			t.Fatalf("anomalies %+v counts %v", r.Anomalies, r.Counts)
		}
	}
}
