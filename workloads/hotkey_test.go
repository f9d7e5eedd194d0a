package workloads

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
)

// memSets is an in-memory SetClient that records which storage keys it
// was asked for.
type memSets struct {
	sets    map[string][]int64
	adds    map[string]int
	reads   []string
	failKey string
}

func newMemSets() *memSets {
	return &memSets{sets: map[string][]int64{}, adds: map[string]int{}}
}

func (m *memSets) Close() error { return nil }

func (m *memSets) Add(_ context.Context, key string, e int64) error {
	m.adds[key]++
	if !slices.Contains(m.sets[key], e) {
		m.sets[key] = append(m.sets[key], e)
	}
	return nil
}

func (m *memSets) ReadSet(_ context.Context, key string) ([]int64, error) {
	m.reads = append(m.reads, key)
	if key == m.failKey {
		return nil, errors.New("injected read failure")
	}
	return slices.Clone(m.sets[key]), nil
}

type notASetClient struct{}

func (notASetClient) Close() error { return nil }

func newHotKeyWorker(t *testing.T, o Options) (*hotKey, *hotKeyWorker, *memSets) {
	t.Helper()
	w, err := New("hotkey", o)
	if err != nil {
		t.Fatal(err)
	}
	m := newMemSets()
	wk, err := w.NewWorker(m)
	if err != nil {
		t.Fatal(err)
	}
	return w.(*hotKey), wk.(*hotKeyWorker), m
}

func TestHotKeyDistribution(t *testing.T) {
	o := DefaultOptions()
	w, wk, _ := newHotKeyWorker(t, o)
	if w.cold != hotKeyMinKeys {
		t.Fatalf("cold keys = %d with Keys=%d, want %d", w.cold, o.Keys, hotKeyMinKeys)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 20000
	hot, reads := 0, 0
	cold := map[string]bool{}
	for range n {
		inv := wk.Next(rng)
		if inv.Key == HotKeyName() {
			hot++
		} else {
			if !strings.HasPrefix(inv.Key, KeyPrefix("hotkey")) {
				t.Fatalf("key %q outside the workload's prefix", inv.Key)
			}
			cold[inv.Key] = true
		}
		if inv.F == "read" {
			reads++
		}
	}
	if f := float64(hot) / n; math.Abs(f-0.9) > 0.02 {
		t.Errorf("hot fraction %.3f, want 0.9", f)
	}
	if len(cold) != hotKeyMinKeys {
		t.Errorf("%d distinct cold keys, want %d", len(cold), hotKeyMinKeys)
	}
	if f := float64(reads) / n; math.Abs(f-0.1) > 0.02 {
		t.Errorf("read fraction %.3f, want 0.1", f)
	}

	// More keys than the minimum are kept; fractions are clamped.
	w2, _, _ := newHotKeyWorker(t, Options{Keys: 50, HotFraction: 7, Salt: -3})
	if w2.cold != 50 || w2.hot != 1 || w2.salt != 0 {
		t.Errorf("Keys 50, HotFraction 7, Salt -3: cold %d hot %v salt %d", w2.cold, w2.hot, w2.salt)
	}
	w3, _, _ := newHotKeyWorker(t, Options{Keys: 1, HotFraction: math.NaN()})
	if w3.hot != 0 {
		t.Errorf("NaN hot fraction -> %v, want 0", w3.hot)
	}
}

func TestHotKeyUnsalted(t *testing.T) {
	_, wk, m := newHotKeyWorker(t, Options{Keys: 5, HotFraction: 1})
	ctx := context.Background()
	for e := int64(1); e <= 5; e++ {
		c := wk.Do(ctx, Invocation{F: "add", Key: HotKeyName(), Value: history.Int(e)})
		if c.Type != history.OK {
			t.Fatalf("add: %+v", c)
		}
	}
	if m.adds[HotKeyName()] != 5 || len(m.adds) != 1 {
		t.Fatalf("unsalted adds went to %v, want all to %s", m.adds, HotKeyName())
	}
	c := wk.Do(ctx, Invocation{F: "read", Key: HotKeyName()})
	got, _ := c.Value.AsInts()
	if c.Type != history.OK || !slices.Equal(got, []int64{1, 2, 3, 4, 5}) {
		t.Fatalf("read: %+v", c)
	}
}

func TestHotKeySalted(t *testing.T) {
	const salt = 4
	w, wk, m := newHotKeyWorker(t, Options{Keys: 5, HotFraction: 0.9, Salt: salt})
	ctx := context.Background()
	for e := int64(1); e <= 40; e++ {
		c := wk.Do(ctx, Invocation{F: "add", Key: HotKeyName(), Value: history.Int(e)})
		if c.Type != history.OK {
			t.Fatalf("add: %+v", c)
		}
	}
	// A cold key is never salted.
	if c := wk.Do(ctx, Invocation{F: "add", Key: keyName("hotkey", 3), Value: history.Int(41)}); c.Type != history.OK {
		t.Fatalf("cold add: %+v", c)
	}
	if m.adds[keyName("hotkey", 3)] != 1 || m.adds[HotKeyName()] != 0 {
		t.Fatalf("adds: %v", m.adds)
	}
	for i := range salt {
		shard := HotKeyShard(i)
		if m.adds[shard] != 10 {
			t.Errorf("shard %s: %d adds, want 10 (%v)", shard, m.adds[shard], m.adds)
		}
		for _, e := range m.sets[shard] {
			if int(e%salt) != i {
				t.Errorf("element %d in shard %d, want shard %d", e, i, e%salt)
			}
		}
	}
	// A read of the hot key is the sorted union of every shard, starting
	// at a different shard each time.
	var firsts []string
	for range salt {
		m.reads = nil
		c := wk.Do(ctx, Invocation{F: "read", Key: HotKeyName()})
		got, _ := c.Value.AsInts()
		want := make([]int64, 40)
		for i := range want {
			want[i] = int64(i + 1)
		}
		if c.Type != history.OK || !slices.Equal(got, want) {
			t.Fatalf("union read: %+v", c)
		}
		if len(m.reads) != salt {
			t.Fatalf("union read read %v, want %d shards", m.reads, salt)
		}
		firsts = append(firsts, m.reads[0])
	}
	slices.Sort(firsts)
	if len(slices.Compact(firsts)) != salt {
		t.Errorf("union reads started at %v, want every shard once", firsts)
	}
	// One shard failing fails the read.
	m.failKey = HotKeyShard(2)
	if c := wk.Do(ctx, Invocation{F: "read", Key: HotKeyName()}); c.Type != history.Fail || !strings.Contains(c.Error, HotKeyShard(2)) {
		t.Errorf("read with a failing shard: %+v", c)
	}
	// The final reads cover the hot key and every cold key.
	fin := w.FinalInvocations()
	if len(fin) != hotKeyMinKeys+1 || fin[0].Key != HotKeyName() {
		t.Errorf("final invocations: %+v", fin)
	}
	for _, inv := range fin {
		if inv.F != "read" {
			t.Errorf("final invocation %+v is not a read", inv)
		}
	}
}

// TestHotKeyHistoryChecks runs a salted worker sequentially into a history
// and checks it with the workload's checker: the logical key is judged as
// one set.
func TestHotKeyHistoryChecks(t *testing.T) {
	w, wk, _ := newHotKeyWorker(t, Options{Keys: 5, HotFraction: 0.9, Salt: 3})
	rng := rand.New(rand.NewPCG(3, 4))
	ctx := context.Background()
	rec := history.NewRecorder(nil)
	do := func(inv Invocation) {
		op := rec.Record(history.Op{Process: 0, Type: history.Invoke, F: inv.F, Key: inv.Key, Value: inv.Value})
		c := wk.Do(ctx, inv)
		rec.Record(history.Op{Process: 0, Type: c.Type, F: op.F, Key: op.Key, Value: c.Value, Error: c.Error})
	}
	for range 500 {
		do(wk.Next(rng))
	}
	for _, inv := range w.FinalInvocations() {
		do(inv)
	}
	h := rec.History()
	for _, op := range h.Ops {
		if strings.HasPrefix(op.Key, HotKeyName()+":") {
			t.Fatalf("a shard key reached the history: %+v", op)
		}
	}
	for _, c := range w.Checkers(CheckOptions{}) {
		r := c.Check(ctx, h)
		if r.Verdict != checkers.Valid {
			t.Errorf("%s: %s %s", c.Name(), r.Verdict, r.Reason)
		}
	}
	if _, err := w.NewWorker(notASetClient{}); err == nil || !strings.Contains(err.Error(), "SetClient") {
		t.Errorf("NewWorker without a SetClient: %v", err)
	}
}
