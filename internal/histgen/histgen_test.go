package histgen

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
)

func gen(t *testing.T, seed uint64, c Config) *history.History {
	t.Helper()
	h, err := Register(rand.New(rand.NewPCG(seed, 0)), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Validate(); err != nil {
		t.Fatalf("generated history is malformed: %v", err)
	}
	return h
}

func TestRegisterShape(t *testing.T) {
	c := Config{Ops: 20000, Keys: 10, Processes: 8, InfoFraction: 0.05, ReadWeight: 1, WriteWeight: 1, CASWeight: 1}
	h := gen(t, 1, c)
	if got := h.ClientOps(); got != c.Ops {
		t.Fatalf("%d client ops, want %d", got, c.Ops)
	}
	if got := len(h.Keys()); got != c.Keys {
		t.Errorf("%d keys, want %d", got, c.Keys)
	}
	pairs, err := h.Pairs()
	if err != nil {
		t.Fatal(err)
	}
	written := make(map[int64]bool)
	types := make(map[history.Type]int)
	fs := make(map[string]int)
	overlapping := 0
	lastComplete := make(map[string]int) // key -> latest completion position
	for _, p := range pairs {
		inv := &h.Ops[p.Invoke]
		fs[inv.F]++
		types[h.Outcome(p)]++
		var v int64
		switch inv.F {
		case "write":
			v, _ = inv.Value.AsInt()
		case "cas":
			vs, _ := inv.Value.AsInts()
			v = vs[1]
		default:
			continue
		}
		if written[v] {
			t.Fatalf("value %d written twice", v)
		}
		written[v] = true
		if lc, ok := lastComplete[inv.Key]; ok && lc > p.Invoke {
			overlapping++
		}
		if p.Complete != history.Open {
			lastComplete[inv.Key] = max(lastComplete[inv.Key], p.Complete)
		}
	}
	info := float64(types[history.Info]) / float64(c.Ops)
	if info < 0.03 || info > 0.07 {
		t.Errorf("info fraction %.3f, want about 0.05", info)
	}
	if types[history.Fail] == 0 || fs["read"] == 0 || fs["write"] == 0 || fs["cas"] == 0 {
		t.Errorf("types %v, fs %v: want failed CAS, reads, writes and CAS", types, fs)
	}
	if types[history.Info]+types[history.OK]+types[history.Fail] != c.Ops {
		t.Errorf("open operations: %v", types)
	}
	if overlapping == 0 {
		t.Error("no operation overlaps another on its key")
	}
	// An info ends a process: the thread goes on under a new id.
	procs := make(map[history.Process]bool)
	for _, op := range h.Ops {
		procs[op.Process] = true
	}
	// (A thread whose last operation ended info has no new id.)
	if n := len(procs); n > c.Processes+types[history.Info] || n < types[history.Info] {
		t.Errorf("%d processes for %d threads and %d infos", n, c.Processes, types[history.Info])
	}
}

func TestRegisterNotSwappedOK(t *testing.T) {
	h := gen(t, 2, Config{Ops: 5000, Keys: 3, Processes: 6, CASWeight: 1, WriteWeight: 1, NotSwappedOK: true})
	notSwapped := 0
	for _, op := range h.Ops {
		if op.Type == history.Fail {
			t.Fatalf("fail op %s with NotSwappedOK", op)
		}
		if vs, ok := op.Value.AsList(); ok && op.Type == history.OK && len(vs) == 3 {
			if s, _ := vs[2].AsString(); s != NotSwapped {
				t.Fatalf("bad marker in %s", op)
			}
			notSwapped++
		}
	}
	if notSwapped == 0 {
		t.Error("no not-swapped CAS")
	}
}

func TestRegisterDeterministic(t *testing.T) {
	c := Config{Ops: 3000, Keys: 5, Processes: 7, InfoFraction: 0.1, CASWeight: 1, ReadWeight: 1, WriteWeight: 1}
	a, b := gen(t, 9, c), gen(t, 9, c)
	if !sameHistory(t, a, b) {
		t.Error("the same seed gave two histories")
	}
	if sameHistory(t, a, gen(t, 10, c)) {
		t.Error("two seeds gave the same history")
	}
}

func TestRegisterBadConfig(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, c := range []Config{
		{Ops: -1, Keys: 1, Processes: 1},
		{Ops: 1, Keys: 0, Processes: 1},
		{Ops: 1, Keys: 1, Processes: 0},
		{Ops: 1, Keys: 1, Processes: 1, InfoFraction: 2},
		{Ops: 1, Keys: 1, Processes: 1, ReadWeight: -1},
		{Ops: 1, Keys: 1, Processes: 1, MeanLatency: -1},
	} {
		if _, err := Register(r, c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	if _, err := Register(nil, Config{Ops: 1, Keys: 1, Processes: 1}); err == nil {
		t.Error("nil rand accepted")
	}
	h, err := Register(r, Config{Ops: 0, Keys: 1, Processes: 1})
	if err != nil || len(h.Ops) != 0 {
		t.Errorf("zero ops: %v, %v", h, err)
	}
}

// sameHistory compares two histories by their JSONL encoding: values hold
// pointers into their lists, which reflect.DeepEqual compares by address.
func sameHistory(t *testing.T, a, b *history.History) bool {
	t.Helper()
	var x, y bytes.Buffer
	if err := history.WriteJSONL(&x, a); err != nil {
		t.Fatal(err)
	}
	if err := history.WriteJSONL(&y, b); err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}
