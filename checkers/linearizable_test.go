package checkers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/internal/histgen"
)

// linHist builds small histories by hand, one event per call, in order.
type linHist struct{ h history.History }

func (b *linHist) add(t history.Type, p int, f, key string, v history.Value) int {
	i := len(b.h.Ops)
	proc := history.Process(p)
	b.h.Ops = append(b.h.Ops, history.Op{Index: i, Time: int64(i), Type: t, Process: proc, F: f, Key: key, Value: v})
	return i
}

func (b *linHist) inv(p int, f, key string, v history.Value) int {
	return b.add(history.Invoke, p, f, key, v)
}
func (b *linHist) ok(p int, f, key string, v history.Value) int {
	return b.add(history.OK, p, f, key, v)
}
func (b *linHist) fail(p int, f, key string, v history.Value) int {
	return b.add(history.Fail, p, f, key, v)
}
func (b *linHist) info(p int, f, key string, v history.Value) int {
	return b.add(history.Info, p, f, key, v)
}

// Sequential shorthands: invoke and complete at once.
func (b *linHist) write(p int, key string, v int64) {
	b.inv(p, "write", key, history.Int(v))
	b.ok(p, "write", key, history.Int(v))
}
func (b *linHist) read(p int, key string, v history.Value) {
	b.inv(p, "read", key, history.Nil())
	b.ok(p, "read", key, v)
}
func (b *linHist) cas(p int, key string, old, new int64) {
	b.inv(p, "cas", key, history.Ints(old, new))
	b.ok(p, "cas", key, history.Ints(old, new))
}
func (b *linHist) casNotSwapped(p int, key string, old, new int64) {
	b.inv(p, "cas", key, history.Ints(old, new))
	b.ok(p, "cas", key, history.List(history.Int(old), history.Int(new), history.Str(NotSwapped)))
}

func (b *linHist) check(t *testing.T, m Model) Result {
	t.Helper()
	if err := b.h.Validate(); err != nil {
		t.Fatalf("test history is malformed: %v", err)
	}
	return Linearizable{Model: m}.Check(context.Background(), &b.h)
}

func linWant(t *testing.T, r Result, v Verdict) {
	t.Helper()
	if r.Verdict != v {
		t.Fatalf("verdict %s, want %s (reason %q, anomalies %+v)", r.Verdict, v, r.Reason, r.Anomalies)
	}
}

var (
	linInt = history.Int
	linNil = history.Nil()
)

func TestLinearizableRegister(t *testing.T) {
	cases := []struct {
		name  string
		model Model
		build func(b *linHist)
		want  Verdict
	}{
		{"empty read", ModelRegister, func(b *linHist) { b.read(0, "", linNil) }, Valid},
		{"write then read", ModelRegister, func(b *linHist) { b.write(0, "", 1); b.read(1, "", linInt(1)) }, Valid},
		{"stale read", ModelRegister, func(b *linHist) { b.write(0, "", 1); b.write(0, "", 2); b.read(1, "", linInt(1)) }, Invalid},
		{"read of nil after an ok write", ModelRegister, func(b *linHist) { b.write(0, "", 1); b.read(1, "", linNil) }, Invalid},
		{"read of a value never written", ModelRegister, func(b *linHist) { b.read(1, "", linInt(7)) }, Invalid},
		{"concurrent write and read, either order", ModelRegister, func(b *linHist) {
			b.inv(0, "write", "", linInt(1))
			b.inv(1, "read", "", linNil)
			b.ok(1, "read", "", linNil)
			b.ok(0, "write", "", linInt(1))
			b.read(1, "", linInt(1))
		}, Valid},
		{"concurrent reads disagree with real time", ModelRegister, func(b *linHist) {
			b.inv(0, "write", "", linInt(1))
			b.read(1, "", linInt(1))
			b.read(2, "", linNil) // after a read saw 1, nobody may see nil
			b.ok(0, "write", "", linInt(1))
		}, Invalid},
		{"info write assumed applied", ModelRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.inv(1, "write", "", linInt(2))
			b.info(1, "write", "", linInt(2))
			b.read(2, "", linInt(2))
		}, Valid},
		{"info write assumed not applied", ModelRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.inv(1, "write", "", linInt(2))
			b.info(1, "write", "", linInt(2))
			b.read(2, "", linInt(1))
		}, Valid},
		{"info write applied long after its timeout", ModelRegister, func(b *linHist) {
			b.inv(1, "write", "", linInt(2))
			b.info(1, "write", "", linInt(2))
			b.write(0, "", 1)
			b.read(2, "", linInt(1))
			b.read(2, "", linInt(2))
		}, Valid},
		{"info write cannot go back in time", ModelRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.read(2, "", linInt(2))
			b.inv(1, "write", "", linInt(2))
			b.info(1, "write", "", linInt(2))
		}, Invalid},
		{"info write observed, then overwritten", ModelRegister, func(b *linHist) {
			b.inv(1, "write", "", linInt(2))
			b.info(1, "write", "", linInt(2))
			b.read(2, "", linInt(2))
			b.write(0, "", 3)
			b.read(2, "", linInt(3))
		}, Valid},
		{"info write observed cannot take effect twice", ModelRegister, func(b *linHist) {
			b.inv(1, "write", "", linInt(2))
			b.info(1, "write", "", linInt(2))
			b.read(2, "", linInt(2))
			b.write(0, "", 3)
			b.read(2, "", linInt(2))
		}, Invalid},
		{"same value written twice: the info write may take effect late", ModelRegister, func(b *linHist) {
			b.inv(1, "write", "", linInt(2))
			b.info(1, "write", "", linInt(2))
			b.write(0, "", 2)
			b.read(2, "", linInt(2))
			b.write(0, "", 3)
			b.read(2, "", linInt(3))
			b.read(2, "", linInt(2))
		}, Valid},
		{"open write behaves like info", ModelRegister, func(b *linHist) {
			b.inv(1, "write", "", linInt(2))
			b.read(2, "", linNil)
			b.read(2, "", linInt(2))
		}, Valid},
		{"info read carries no information", ModelRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.inv(1, "read", "", linNil)
			b.info(1, "read", "", linInt(99))
			b.inv(2, "read", "", linNil)
		}, Valid},
		{"fail write whose value is later read", ModelRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.inv(1, "write", "", linInt(2))
			b.fail(1, "write", "", linInt(2))
			b.read(2, "", linInt(2))
		}, Invalid},
		{"fail write never read", ModelRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.inv(1, "write", "", linInt(2))
			b.fail(1, "write", "", linInt(2))
			b.read(2, "", linInt(1))
		}, Valid},
		{"nemesis events are skipped", ModelRegister, func(b *linHist) {
			b.add(history.Info, int(history.Nemesis), "start-partition", "", linNil)
			b.write(0, "", 1)
			b.add(history.Info, int(history.Nemesis), "stop-partition", "", linNil)
			b.read(1, "", linInt(1))
		}, Valid},

		{"cas swaps", ModelCASRegister, func(b *linHist) { b.write(0, "", 1); b.cas(1, "", 1, 2); b.read(0, "", linInt(2)) }, Valid},
		{"ok cas whose compare cannot succeed", ModelCASRegister, func(b *linHist) { b.write(0, "", 1); b.cas(1, "", 3, 2) }, Invalid},
		{"ok cas then read of the old value", ModelCASRegister, func(b *linHist) { b.write(0, "", 1); b.cas(1, "", 1, 2); b.read(0, "", linInt(1)) }, Invalid},
		{"fail cas has no effect", ModelCASRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.inv(1, "cas", "", history.Ints(1, 2))
			b.fail(1, "cas", "", history.Ints(1, 2))
			b.read(0, "", linInt(1))
		}, Valid},
		{"fail cas is not a proof that the compare failed (Jepsen)", ModelCASRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.inv(1, "cas", "", history.Ints(1, 2))
			b.fail(1, "cas", "", history.Ints(1, 2))
		}, Valid},
		{"info cas whose compare would fail, never observed", ModelCASRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.inv(1, "cas", "", history.Ints(5, 6))
			b.info(1, "cas", "", history.Ints(5, 6))
			b.read(0, "", linInt(1))
		}, Valid},
		{"info cas whose compare would succeed, not applied", ModelCASRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.inv(1, "cas", "", history.Ints(1, 6))
			b.info(1, "cas", "", history.Ints(1, 6))
			b.read(0, "", linInt(1))
		}, Valid},
		{"info cas applied", ModelCASRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.inv(1, "cas", "", history.Ints(1, 6))
			b.info(1, "cas", "", history.Ints(1, 6))
			b.read(0, "", linInt(6))
		}, Valid},
		{"info cas cannot apply without its compare", ModelCASRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.inv(1, "cas", "", history.Ints(5, 6))
			b.info(1, "cas", "", history.Ints(5, 6))
			b.read(0, "", linInt(6))
		}, Invalid},
		{"info cas observed by a later cas", ModelCASRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.inv(1, "cas", "", history.Ints(1, 6))
			b.info(1, "cas", "", history.Ints(1, 6))
			b.cas(2, "", 6, 7)
			b.read(0, "", linInt(7))
		}, Valid},
		{"info cas observed before it was invoked", ModelCASRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.cas(2, "", 6, 7)
			b.inv(1, "cas", "", history.Ints(1, 6))
			b.info(1, "cas", "", history.Ints(1, 6))
		}, Invalid},
		{"open cas behaves like info", ModelCASRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.inv(1, "cas", "", history.Ints(1, 6))
			b.read(0, "", linInt(1))
			b.read(0, "", linInt(6))
		}, Valid},
		{"ok not-swapped cas while the register held old", ModelCASRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.casNotSwapped(1, "", 1, 2)
		}, Invalid},
		{"ok not-swapped cas while the register held another value", ModelCASRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.casNotSwapped(1, "", 3, 2)
			b.read(0, "", linInt(1))
		}, Valid},
		{"ok not-swapped cas concurrent with the write that changed old", ModelCASRegister, func(b *linHist) {
			b.write(0, "", 1)
			b.inv(2, "write", "", linInt(4))
			b.casNotSwapped(1, "", 1, 2)
			b.ok(2, "write", "", linInt(4))
		}, Valid},
		{"ok not-swapped cas on the empty register", ModelCASRegister, func(b *linHist) { b.casNotSwapped(1, "", 1, 2) }, Valid},

		{"multi-key, independent registers", ModelRegister, func(b *linHist) {
			b.write(0, "a", 1)
			b.write(0, "b", 2)
			b.read(1, "a", linInt(1))
			b.read(1, "b", linInt(2))
			b.read(1, "c", linNil)
		}, Valid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b linHist
			c.build(&b)
			r := b.check(t, c.model)
			linWant(t, r, c.want)
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
	put := func(b *linHist, p int, k, v string) {
		b.inv(p, "put", k, history.Str(v))
		b.ok(p, "put", k, history.Str(v))
	}
	app := func(b *linHist, p int, k, v string) {
		b.inv(p, "append", k, history.Str(v))
		b.ok(p, "append", k, history.Str(v))
	}
	get := func(b *linHist, p int, k, v string) {
		b.inv(p, "get", k, history.Nil())
		b.ok(p, "get", k, history.Str(v))
	}
	cases := []struct {
		name  string
		build func(b *linHist)
		want  Verdict
	}{
		{"absent key reads empty", func(b *linHist) { get(b, 0, "k", "") }, Valid},
		{"absent key as nil", func(b *linHist) { b.inv(0, "get", "k", linNil); b.ok(0, "get", "k", linNil) }, Valid},
		{"put append get", func(b *linHist) { put(b, 0, "k", "x"); app(b, 1, "k", "y"); get(b, 0, "k", "xy") }, Valid},
		{"lost append", func(b *linHist) { put(b, 0, "k", "x"); app(b, 1, "k", "y"); get(b, 0, "k", "x") }, Invalid},
		{"concurrent appends in either order", func(b *linHist) {
			b.inv(0, "append", "k", history.Str("a"))
			b.inv(1, "append", "k", history.Str("b"))
			b.ok(1, "append", "k", history.Str("b"))
			b.ok(0, "append", "k", history.Str("a"))
			get(b, 2, "k", "ab")
		}, Valid},
		{"info append applied or not", func(b *linHist) {
			put(b, 0, "k", "x")
			b.inv(1, "append", "k", history.Str("y"))
			b.info(1, "append", "k", history.Str("y"))
			get(b, 0, "k", "x")
			get(b, 0, "k", "xy")
		}, Valid},
		{"one bad key of three", func(b *linHist) {
			put(b, 0, "a", "1")
			put(b, 0, "b", "2")
			get(b, 1, "b", "")
			get(b, 1, "a", "1")
			get(b, 1, "c", "")
		}, Invalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b linHist
			c.build(&b)
			linWant(t, b.check(t, ModelKV), c.want)
		})
	}
}

func TestLinearizableMultiKeyOneBad(t *testing.T) {
	var b linHist
	for k := range 5 {
		key := string(rune('a' + k))
		b.write(0, key, int64(10*k+1))
		b.read(1, key, linInt(int64(10*k+1)))
	}
	b.write(2, "c", 99)
	b.read(3, "c", linInt(31)) // 21 was written to c; 31 belongs to d
	r := b.check(t, ModelRegister)
	linWant(t, r, Invalid)
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
			t.Errorf("linWitness #%d is on key %q", id, b.h.Ops[id].Key)
		}
	}
	if !strings.Contains(a.Message, `key "c"`) || !strings.Contains(a.Message, "read #23 returning 31") {
		t.Errorf("message %q does not name the key and the read", a.Message)
	}
}

func TestLinearizableWitnessMessage(t *testing.T) {
	var b linHist
	b.write(0, "", 1) // #0 #1
	b.write(0, "", 2) // #2 #3
	b.read(1, "", linInt(2))
	b.inv(2, "write", "", linInt(3))  // #6, concurrent with the bad read
	b.read(1, "", linInt(1))          // #7 #8: stale
	b.ok(2, "write", "", linInt(3))   // #9
	b.inv(3, "write", "", linInt(5))  // #10
	b.info(3, "write", "", linInt(5)) // #11
	r := b.check(t, ModelRegister)
	linWant(t, r, Invalid)
	a := r.Anomalies[0]
	t.Logf("ops %v: %s", a.Ops, a.Message)
	for _, want := range []string{
		// 5: the info write of 5 is never observed and cannot matter.
		"no order of the 5 operations on key \"\" is consistent with a single register",
		"the read #8 returning 1 cannot be placed",
	} {
		if !strings.Contains(a.Message, want) {
			t.Errorf("message lacks %q", want)
		}
	}
	for _, want := range []int{2, 3, 7, 8} { // the write of 2, the stale read
		if !slices.Contains(a.Ops, want) {
			t.Errorf("witnesses %v lack op %d", a.Ops, want)
		}
	}
}

func TestLinearizableWitnessCandidates(t *testing.T) {
	build := func(observeInfo bool) *linHist {
		var b linHist
		b.write(0, "", 1)                       // #0 #1
		b.inv(2, "cas", "", history.Ints(7, 8)) // #2
		b.inv(3, "write", "", linInt(9))        // #3
		b.read(1, "", linInt(5))                // #4 #5: 5 is not written yet
		b.ok(2, "cas", "", history.Ints(7, 8))  // #6
		b.info(3, "write", "", linInt(9))       // #7
		b.write(4, "", 5)                       // #8 #9: too late
		if observeInfo {
			b.read(1, "", linInt(9)) // #10 #11
		}
		return &b
	}
	cases := []struct {
		observeInfo bool
		want        []string
		ops         []int
	}{
		// The info write of 9 is never observed: it cannot matter and is
		// left out of the search.
		{false, []string{"with or without the other operation invoked before it returned (the cas #6 [7 8] (swapped)) placed before it"}, []int{0, 1, 2, 4, 5, 6}},
		// Observed, it is placed in the longest prefix (which is longer
		// with it).
		{true, []string{"prefix has 2 of them, ends with the info write #7 of 9 (outcome unknown) and leaves the state at 9", "(the cas #6 [7 8] (swapped))"}, []int{0, 1, 2, 3, 4, 5, 6, 7}},
	}
	for _, c := range cases {
		r := build(c.observeInfo).check(t, ModelCASRegister)
		linWant(t, r, Invalid)
		a := r.Anomalies[0]
		t.Logf("ops %v: %s", a.Ops, a.Message)
		for _, want := range append(c.want, "after it, the read #5 returning 5 cannot be placed") {
			if !strings.Contains(a.Message, want) {
				t.Errorf("message lacks %q", want)
			}
		}
		if !slices.Equal(a.Ops, c.ops) {
			t.Errorf("witnesses %v, want %v", a.Ops, c.ops)
		}
	}
}

func TestLinearizableUninterpretable(t *testing.T) {
	cases := []struct {
		name  string
		model Model
		build func(b *linHist)
		want  string
	}{
		{"unknown f", ModelRegister, func(b *linHist) { b.inv(0, "incr", "", linNil); b.ok(0, "incr", "", linNil) }, `f "incr"`},
		{"cas in the plain register", ModelRegister, func(b *linHist) { b.cas(0, "", 1, 2) }, `f "cas"`},
		{"string write", ModelRegister, func(b *linHist) { b.inv(0, "write", "", history.Str("x")); b.ok(0, "write", "", history.Str("x")) }, "integer"},
		{"list read", ModelRegister, func(b *linHist) { b.read(0, "", history.Ints(1)) }, "integer or nil"},
		{"short cas", ModelCASRegister, func(b *linHist) {
			b.inv(0, "cas", "", history.Ints(1))
			b.ok(0, "cas", "", history.Ints(1))
		}, "[old new]"},
		{"bad cas marker", ModelCASRegister, func(b *linHist) {
			b.inv(0, "cas", "", history.Ints(1, 2))
			b.ok(0, "cas", "", history.List(linInt(1), linInt(2), history.Str("nope")))
		}, "not-swapped"},
		{"integer put", ModelKV, func(b *linHist) { b.inv(0, "put", "k", linInt(1)); b.ok(0, "put", "k", linInt(1)) }, "string"},
		{"read in kv", ModelKV, func(b *linHist) { b.read(0, "k", linNil) }, `f "read"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b linHist
			c.build(&b)
			b.write(1, "other", 1) // another key, fine
			if c.model == ModelKV {
				b.h.Ops = b.h.Ops[:len(b.h.Ops)-2]
			}
			r := b.check(t, c.model)
			linWant(t, r, Unknown)
			if !strings.Contains(r.Reason, c.want) || !strings.Contains(r.Reason, "cannot interpret") {
				t.Fatalf("reason %q lacks %q", r.Reason, c.want)
			}
			if r.Counts["keys_unknown"] != 1 {
				t.Fatalf("counts %v", r.Counts)
			}
		})
	}

	// An uninterpretable key does not hide a non-linearizable one.
	var b linHist
	b.inv(0, "incr", "a", linNil)
	b.ok(0, "incr", "a", linNil)
	b.write(1, "b", 1)
	b.read(1, "b", linNil)
	r := b.check(t, ModelRegister)
	linWant(t, r, Invalid)
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
	var b linHist
	b.ok(0, "read", "", linNil) // completion without invocation
	if r := (Linearizable{}).Check(ctx, &b.h); r.Verdict != Unknown || !strings.Contains(r.Reason, "malformed") {
		t.Errorf("malformed history: %s %q", r.Verdict, r.Reason)
	}
	// An empty history decided nothing (issue 10, case 1).
	if r := (Linearizable{}).Check(ctx, &history.History{}); r.Verdict != Unknown || r.Counts["ops"] != 0 || r.Reason == "" {
		t.Errorf("empty history: %s %v %q", r.Verdict, r.Counts, r.Reason)
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

// linHard generates a single-key history large enough to take a while.
func linHard(t testing.TB, ops int) *history.History {
	t.Helper()
	h, err := histgen.Register(rand.New(rand.NewPCG(7, 7)), histgen.Config{Ops: ops, Keys: 1, Processes: 20, InfoFraction: 0.05, CASWeight: 1, ReadWeight: 1, WriteWeight: 1})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestLinearizableTimeLimitAndCancel(t *testing.T) {
	h := linHard(t, 50000)
	r := Linearizable{Model: ModelCASRegister, TimeLimit: time.Millisecond}.Check(context.Background(), h)
	linWant(t, r, Unknown)
	if !strings.Contains(r.Reason, "time limit of 1ms") || !strings.Contains(r.Reason, `"0"`) {
		t.Errorf("reason %q should name the limit and the undecided key", r.Reason)
	}
	if r.Counts["keys_unknown"] != 1 {
		t.Errorf("counts %v", r.Counts)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = Linearizable{Model: ModelCASRegister}.Check(ctx, h)
	linWant(t, r, Unknown)

	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	start := time.Now()
	r = Linearizable{Model: ModelCASRegister}.Check(ctx, h)
	linWant(t, r, Unknown)
	if !strings.Contains(r.Reason, "cancelled") || !strings.Contains(r.Reason, `1 of 1 keys not decided: "0"`) {
		t.Errorf("reason %q should say cancelled and name the key", r.Reason)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancellation took %s", d)
	}
}

func TestLinearizableVisualization(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	var b linHist
	b.write(0, "a/b", 1)
	b.read(1, "a/b", linNil)
	b.write(0, "ok", 1)
	b.read(1, "ok", linInt(1))
	r := Linearizable{Model: ModelRegister, VisualizeDir: dir}.Check(context.Background(), &b.h)
	linWant(t, r, Invalid)
	if len(r.Artifacts) != 1 || !strings.HasPrefix(r.Artifacts[0], "linearizable-a_b-") || !strings.HasSuffix(r.Artifacts[0], ".html") {
		t.Fatalf("artifacts %v", r.Artifacts)
	}
	data, err := os.ReadFile(filepath.Join(dir, r.Artifacts[0]))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "read()") {
		t.Errorf("visualization does not describe the read")
	}
}

func TestVisualizationFile(t *testing.T) {
	if got := VisualizationFile("key-1.x_y"); got != "linearizable-key-1.x_y.html" {
		t.Errorf("plain key: %q", got)
	}
	a, b := VisualizationFile("a/b"), VisualizationFile("a_b")
	if a == b || strings.ContainsAny(a, "/\\") {
		t.Errorf("a/b -> %q, a_b -> %q", a, b)
	}
	if got := VisualizationFile(""); got != "linearizable--811c9dc5.html" {
		t.Errorf("empty key: %q", got)
	}
	if got := VisualizationFile(strings.Repeat("k", 500)); len(got) > 100 {
		t.Errorf("long key: %d chars", len(got))
	}
}

// TestLinearizableGenerated checks generated histories (linearizable by
// construction), then corrupted copies of them: a read made stale.
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
		linWant(t, r, Valid)
		if r.Counts["ops"] != 2000 || r.Counts["keys"] != 4 {
			t.Fatalf("counts %v", r.Counts)
		}
	}
	// Exhaustive searches of non-linearizable keys are much slower (and
	// exponential in the concurrency), so these histories are smaller.
	for seed := range uint64(20) {
		cfg := histgen.Config{Ops: 600, Keys: 3, Processes: 6, InfoFraction: 0.02, ReadWeight: 2, WriteWeight: 1, CASWeight: 1, NotSwappedOK: seed%2 == 0}
		h, err := histgen.Register(rand.New(rand.NewPCG(seed, 1)), cfg)
		if err != nil {
			t.Fatal(err)
		}
		read, stale, ok := linStaleRead(h, rand.New(rand.NewPCG(seed, 2)))
		if !ok {
			continue
		}
		h.Ops[read].Value = stale
		r := Linearizable{Model: ModelCASRegister, TimeLimit: time.Minute}.Check(context.Background(), h)
		linWant(t, r, Invalid)
		if len(r.Anomalies) != 1 || r.Counts["keys_invalid"] != 1 || r.Anomalies[0].Key != h.Ops[read].Key {
			t.Fatalf("anomalies %+v counts %v", r.Anomalies, r.Counts)
		}
		if !slices.Contains(r.Anomalies[0].Ops, read) {
			t.Errorf("seed %d: witnesses %v lack the stale read #%d: %s", seed, r.Anomalies[0].Ops, read, r.Anomalies[0].Message)
		}
	}
}

// TestReduceUnknownIsExact compares, on many small random histories with
// many unknown outcomes, the verdict of the search with and without the
// reductions of linReduceUnknown.
func TestReduceUnknownIsExact(t *testing.T) {
	decided := map[bool]int{}
	dropped, bounded := 0, 0
	for seed := range uint64(3000) {
		rng := rand.New(rand.NewPCG(seed, 3))
		cfg := histgen.Config{
			Ops: 10 + rng.IntN(40), Keys: 1, Processes: 2 + rng.IntN(4), InfoFraction: 0.4 * rng.Float64(),
			ReadWeight: 2, WriteWeight: 1, CASWeight: 1, NotSwappedOK: seed%2 == 0,
		}
		h, err := histgen.Register(rng, cfg)
		if err != nil {
			t.Fatal(err)
		}
		// Corrupt some completions: reads and CAS compare values now
		// name other (small) values, some histories become
		// non-linearizable.
		for range rng.IntN(3) {
			op := &h.Ops[rng.IntN(len(h.Ops))]
			switch {
			case op.Type == history.OK && op.F == "read":
				op.Value = linInt(1 + rng.Int64N(int64(cfg.Ops)))
			case op.F == "cas" && op.Type != history.Invoke:
				// Swap the claims: swapped <-> not swapped.
				vs, _ := op.Value.AsList()
				if op.Type == history.OK && len(vs) == 3 {
					op.Value = history.List(vs[:2]...)
				} else if len(vs) >= 2 {
					op.Type = history.OK
					op.Value = history.List(vs[0], vs[1], history.Str(NotSwapped))
				}
			}
		}
		pairs, err := h.Pairs()
		if err != nil {
			t.Fatal(err)
		}
		var ops []linOp
		for _, p := range pairs {
			var o linOp
			keep, err := ModelCASRegister.interpretPair(h, p, &o)
			if err != nil {
				t.Fatal(err)
			}
			if keep {
				ops = append(ops, o)
			}
		}
		linIntern(ops)
		plain := newLinKey(ModelCASRegister, "", slices.Clone(ops)).checkPorcupine(nil)
		n := len(ops)
		red := linReduceUnknown(ops)
		dropped += n - len(red)
		for _, o := range red {
			if o.unknown && o.ret != math.MaxInt64 {
				bounded++
			}
		}
		reduced := newLinKey(ModelCASRegister, "", red).check(nil)
		if plain != reduced {
			t.Fatalf("seed %d: linearizable %v without the reductions, %v with them", seed, plain, reduced)
		}
		decided[plain]++
	}
	t.Logf("verdicts: %v; %d unknown-outcome ops dropped, %d bounded", decided, dropped, bounded)
	if dropped == 0 || bounded == 0 {
		t.Error("the reductions never applied")
	}
	if decided[true] == 0 || decided[false] == 0 {
		t.Errorf("the random histories should be both linearizable and not: %v", decided)
	}
}

// linStaleRead picks an ok read and a value it must not return: that of the
// third-last ok write on its key completed before the read was invoked.
func linStaleRead(h *history.History, rng *rand.Rand) (read int, stale history.Value, ok bool) {
	pairs, err := h.Pairs()
	if err != nil {
		return 0, stale, false
	}
	for range 100 {
		p := pairs[rng.IntN(len(pairs))]
		if p.Complete == history.Open || h.Ops[p.Complete].Type != history.OK || h.Ops[p.Invoke].F != "read" {
			continue
		}
		key := h.Ops[p.Invoke].Key
		writes := 0
		for j := p.Invoke - 1; j >= 0; j-- {
			op := &h.Ops[j]
			if op.Key == key && op.Type == history.OK && op.F == "write" {
				if writes++; writes == 3 {
					return p.Complete, op.Value, true
				}
			}
		}
	}
	return 0, stale, false
}

// linPorcupineData is the project copy of porcupine's test histories, with
// their known verdicts.
const linPorcupineData = "../testdata/porcupine"

// TestLinearizablePorcupineData is the external truth: every etcd log must
// get the verdict of etcd/EXPECTED.txt (cas-register model), every kv file
// the verdict its name says (kv model). No file may be skipped: the test
// fails on a file without a verdict, a verdict without a file, and on any
// Unknown.
func TestLinearizablePorcupineData(t *testing.T) {
	expected := linReadExpected(t, filepath.Join(linPorcupineData, "etcd", "EXPECTED.txt"))
	logs, err := filepath.Glob(filepath.Join(linPorcupineData, "etcd", "*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no etcd logs in %s (%v)", linPorcupineData, err)
	}
	kvs, err := filepath.Glob(filepath.Join(linPorcupineData, "kv", "*.txt"))
	if err != nil || len(kvs) != 6 {
		t.Fatalf("want 6 kv files in %s, got %d (%v)", linPorcupineData, len(kvs), err)
	}

	type job struct {
		path  string
		model Model
		want  Verdict
	}
	var jobs []job
	seen := make(map[string]bool)
	for _, path := range logs {
		num := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "etcd_"), ".log")
		verdict, ok := expected[num]
		if !ok {
			t.Errorf("%s: no line in EXPECTED.txt", filepath.Base(path))
			continue
		}
		seen[num] = true
		switch verdict {
		case "linearizable":
			jobs = append(jobs, job{path, ModelCASRegister, Valid})
		case "not-linearizable":
			jobs = append(jobs, job{path, ModelCASRegister, Invalid})
		case "no-verdict":
			// The empty log of a cluster that never started: it must
			// load as an empty history, nothing more.
			if _, _, err := history.Load(path, history.FormatAuto); !errors.Is(err, history.ErrEmptyHistory) {
				t.Errorf("%s: want an empty history, got error %v", filepath.Base(path), err)
			}
		default:
			t.Errorf("EXPECTED.txt: unknown verdict %q for %s", verdict, num)
		}
	}
	for num := range expected {
		if !seen[num] {
			t.Errorf("EXPECTED.txt names etcd_%s.log, which is missing", num)
		}
	}
	for _, path := range kvs {
		switch name := filepath.Base(path); {
		case strings.HasSuffix(name, "-ok.txt"):
			jobs = append(jobs, job{path, ModelKV, Valid})
		case strings.HasSuffix(name, "-bad.txt"):
			jobs = append(jobs, job{path, ModelKV, Invalid})
		default:
			t.Errorf("%s: name says neither ok nor bad", name)
		}
	}
	if len(jobs) != 102+6 {
		t.Errorf("checking %d files, want 102 etcd logs + 6 kv files", len(jobs))
	}

	var mu sync.Mutex
	var mismatches []string
	t.Run("files", func(t *testing.T) {
		for _, j := range jobs {
			t.Run(filepath.Base(j.path), func(t *testing.T) {
				t.Parallel()
				h, _, err := history.Load(j.path, history.FormatAuto)
				if err != nil {
					t.Fatal(err)
				}
				// Generous: the slowest file takes well under a second.
				r := Linearizable{Model: j.model, TimeLimit: 5 * time.Minute}.Check(context.Background(), h)
				if r.Verdict != j.want {
					mu.Lock()
					mismatches = append(mismatches, fmt.Sprintf("%s: %s, want %s", filepath.Base(j.path), r.Verdict, j.want))
					mu.Unlock()
					t.Errorf("%s: verdict %s, want %s (reason %q)", filepath.Base(j.path), r.Verdict, j.want, r.Reason)
					return
				}
				if r.Verdict == Invalid {
					if len(r.Anomalies) == 0 || len(r.Anomalies[0].Ops) == 0 {
						t.Errorf("invalid without witnesses: %+v", r.Anomalies)
					}
					for _, a := range r.Anomalies {
						for _, id := range a.Ops {
							if id < 0 || id >= len(h.Ops) || h.Ops[id].Key != a.Key {
								t.Errorf("linWitness %d is not an op of key %q", id, a.Key)
							}
						}
					}
				}
			})
		}
	})
	t.Logf("%d files checked, %d disagree with their known verdict %v", len(jobs), len(mismatches), mismatches)
}

// linReadExpected reads EXPECTED.txt: "NNN verdict [comment]" lines.
func linReadExpected(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := make(map[string]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 2 {
			t.Fatalf("EXPECTED.txt: bad line %q", sc.Text())
		}
		out[fields[0]] = fields[1]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReduceIsExact compares, on many small random histories (many unknown
// outcomes, not-swapped CAS recorded ok on even seeds, some completions
// corrupted so that a share is not linearizable), the verdict of the
// search without reductions with the verdict after each reduction of
// linReduce alone and after all of them. It fails if a reduction never
// applies.
func TestReduceIsExact(t *testing.T) {
	type stage struct {
		name string
		f    func([]linOp, *linInterner) []linOp
	}
	stages := []stage{
		{"placeable not-swapped", func(ops []linOp, _ *linInterner) []linOp { linTally(ops); return linDropPlaceableNotSwapped(ops) }},
		{"never swapping", func(ops []linOp, _ *linInterner) []linOp { linTally(ops); return linDropNeverSwapping(ops) }},
		{"unknown", func(ops []linOp, _ *linInterner) []linOp { return linReduceUnknown(ops) }},
		{"hidden writes", func(ops []linOp, _ *linInterner) []linOp { linTally(ops); return linDropHiddenWrites(ops) }},
		{"merge unobserved", func(ops []linOp, in *linInterner) []linOp { linTally(ops); linMergeUnobserved(ops, in); return ops }},
		{"all", linReduce},
	}
	decided := map[bool]int{}
	applied := make([]int, len(stages))
	refuted := 0
	for seed := range uint64(4000) {
		rng := rand.New(rand.NewPCG(seed, 5))
		cfg := histgen.Config{
			Ops: 10 + rng.IntN(40), Keys: 1, Processes: 2 + rng.IntN(6), InfoFraction: 0.3 * rng.Float64(),
			ReadWeight: 1 + float64(rng.IntN(2)), WriteWeight: 1 + float64(rng.IntN(2)), CASWeight: 1, NotSwappedOK: seed%2 == 0,
		}
		h, err := histgen.Register(rng, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for range rng.IntN(3) {
			op := &h.Ops[rng.IntN(len(h.Ops))]
			switch {
			case op.Type == history.OK && op.F == "read":
				op.Value = linInt(1 + rng.Int64N(int64(cfg.Ops)))
			case op.F == "cas" && op.Type != history.Invoke:
				vs, _ := op.Value.AsList()
				if op.Type == history.OK && len(vs) == 3 {
					op.Value = history.List(vs[:2]...)
				} else if len(vs) >= 2 {
					op.Type = history.OK
					op.Value = history.List(vs[0], vs[1], history.Str(NotSwapped))
				}
			}
		}
		pairs, err := h.Pairs()
		if err != nil {
			t.Fatal(err)
		}
		var ops []linOp
		for _, p := range pairs {
			var o linOp
			keep, err := ModelCASRegister.interpretPair(h, p, &o)
			if err != nil {
				t.Fatal(err)
			}
			if keep {
				ops = append(ops, o)
			}
		}
		// Each stage gets its own interned copy (the reductions write
		// per-value facts).
		fresh := func() ([]linOp, *linInterner) {
			c := slices.Clone(ops)
			in := linIntern(c)
			return c, in
		}
		base, _ := fresh()
		plain := newLinKey(ModelCASRegister, "", base).checkPorcupine(nil)
		// A refutation without search must be right.
		if c, in := fresh(); true {
			k := newLinKey(ModelCASRegister, "", linReduce(c, in))
			if a, ok := k.refute(); ok {
				refuted++
				if plain {
					t.Fatalf("seed %d: refuted (%s) but porcupine finds it linearizable", seed, a.Message)
				}
			}
		}
		// linSearch without reductions.
		if c, _ := fresh(); newLinKey(ModelCASRegister, "", c).check(nil) != plain {
			t.Fatalf("seed %d: porcupine says linearizable %v, linSearch not", seed, plain)
		}
		decided[plain]++
		for n, s := range stages {
			c, in := fresh()
			before := len(c)
			red := s.f(c, in)
			merged := false
			for _, o := range red {
				if (o.reg != nil && o.reg.rep != nil) || (o.reg2 != nil && o.reg2.rep != nil) {
					merged = true
				}
			}
			if len(red) < before || merged {
				applied[n]++
			}
			if got := newLinKey(ModelCASRegister, "", red).check(nil); got != plain {
				t.Fatalf("seed %d: linearizable %v without reductions, %v after %q", seed, plain, got, s.name)
			}
		}
	}
	t.Logf("verdicts %v; histories each stage changed: %v; refuted without search: %d", decided, applied, refuted)
	if refuted == 0 {
		t.Error("no history was refuted without a search")
	}
	for n, s := range stages {
		if applied[n] == 0 {
			t.Errorf("reduction %q never applied", s.name)
		}
	}
	if decided[true] == 0 || decided[false] == 0 {
		t.Errorf("the random histories should be both linearizable and not: %v", decided)
	}
}

// TestLinSearchCertify checks that the search's linearization of a small
// history certifies, and that certify rejects a wrong order, a repeated
// operation and an illegal step.
func TestLinSearchCertify(t *testing.T) {
	var b linHist
	b.write(0, "", 1)        // #0 #1
	b.read(1, "", linInt(1)) // #2 #3
	b.write(0, "", 2)        // #4 #5
	b.read(1, "", linInt(2)) // #6 #7
	h := &b.h
	pairs, err := h.Pairs()
	if err != nil {
		t.Fatal(err)
	}
	var ops []linOp
	for _, p := range pairs {
		var o linOp
		if keep, err := ModelRegister.interpretPair(h, p, &o); err != nil || !keep {
			t.Fatal(err)
		}
		ops = append(ops, o)
	}
	linIntern(ops)
	k := newLinKey(ModelRegister, "", ops)
	ok, decided, seq := k.search(nil)
	if !ok || !decided {
		t.Fatalf("search: linearizable %v decided %v", ok, decided)
	}
	if err := k.certify(seq); err != nil {
		t.Fatalf("certify %v: %v", seq, err)
	}
	for _, bad := range [][]int{{0, 1, 3, 2}, {0, 1, 2, 2}, {2, 3, 0, 1}, {0, 1, 2}} {
		if err := k.certify(bad); err == nil {
			t.Errorf("certify accepted %v", bad)
		}
	}
}
