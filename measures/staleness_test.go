package measures

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/internal/histgen"
)

// regOps builds a register history from (invoke, complete) pairs.
type regOps struct{ h history.History }

func (b *regOps) pair(p history.Process, f string, inv, cmp int64, in, out history.Value, typ history.Type, node string) {
	b.h.Ops = append(b.h.Ops, history.Op{Index: len(b.h.Ops), Time: inv, Type: history.Invoke, Process: p, F: f, Key: "r", Value: in})
	b.h.Ops = append(b.h.Ops, history.Op{Index: len(b.h.Ops), Time: cmp, Type: typ, Process: p, F: f, Key: "r", Value: out, Node: node})
}

// sortByTime orders the ops by time (pairs were added out of order).
func (b *regOps) sorted() *history.History {
	ops := b.h.Ops
	for i := 1; i < len(ops); i++ {
		for j := i; j > 0 && ops[j].Time < ops[j-1].Time; j-- {
			ops[j], ops[j-1] = ops[j-1], ops[j]
		}
	}
	for i := range ops {
		ops[i].Index = i
	}
	return &b.h
}

// The definition, case by case: a read is stale when a write invoked
// after its value's write completed was acknowledged before the read
// began; by how long since that acknowledgement.
func TestReadStalenessDefinition(t *testing.T) {
	var b regOps
	ok, info := history.OK, history.Info
	I, N := history.Int, history.Nil()
	b.pair(0, "write", 10, 20, I(1), I(1), ok, "n1")
	b.pair(5, "write", 12, 70, I(3), I(3), ok, "n1") // concurrent with write 1
	b.pair(1, "write", 30, 40, I(2), I(2), ok, "n1")
	b.pair(2, "read", 50, 60, N, I(1), ok, "n2") // missed 2 (acked 40): stale 10
	b.pair(3, "read", 35, 45, N, I(1), ok, "n2") // 2 acked after it began: fresh
	b.pair(4, "read", 55, 65, N, I(2), ok, "n1") // fresh
	b.pair(6, "read", 80, 90, N, I(1), ok, "n3") // missed 2: stale 40
	b.pair(7, "read", 80, 91, N, I(2), ok, "n3") // 3 was invoked before 2 completed: fresh
	b.pair(8, "read", 5, 8, N, N, ok, "n1")      // nothing acked yet: fresh
	b.pair(9, "read", 100, 110, N, N, ok, "n2")  // missed 1 (acked 20): stale 80
	b.pair(10, "write", 120, 130, I(4), I(4), info, "n1")
	b.pair(11, "read", 140, 150, N, I(4), ok, "n1") // an indeterminate write's value: fresh
	b.pair(12, "cas", 160, 170, history.Ints(2, 5), history.Ints(2, 5), ok, "n1")
	b.pair(13, "cas", 161, 171, history.Ints(7, 6), history.List(I(7), I(6), history.Str(history.NotSwapped)), ok, "n1")
	b.pair(14, "read", 200, 210, N, I(2), ok, "n2") // missed cas 5 (acked 170): stale 30
	b.pair(15, "read", 200, 211, N, N, history.Fail, "n2")
	b.pair(16, "read", 220, 230, N, I(5), ok, "n2") // fresh (the not-swapped cas wrote nothing)
	h := b.sorted()
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	m, err := Compute(h, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := m.Staleness
	if s == nil {
		t.Fatal("no staleness")
	}
	if s.Reads != 10 || s.Stale != 4 || s.P50NS != 30 || s.P99NS != 80 || s.MaxNS != 80 {
		t.Errorf("staleness %+v, want 10 reads, 4 stale, p50 30, p99 80, max 80", *s)
	}
	want := []NodeStaleness{
		{Node: "n1", Reads: 3},
		{Node: "n2", Reads: 5, Stale: 3, P50NS: 30, P99NS: 80, MaxNS: 80},
		{Node: "n3", Reads: 2, Stale: 1, P50NS: 40, P99NS: 40, MaxNS: 40},
	}
	if !reflect.DeepEqual(s.ByNode, want) {
		t.Errorf("by node %+v, want %+v", s.ByNode, want)
	}
	if s.OverTime == nil || len(s.OverTime.Buckets) != 1 || s.OverTime.Buckets[0] != (StalenessBucket{StartNS: 0, Reads: 10, Stale: 4, MaxNS: 80}) {
		t.Errorf("over time %+v", s.OverTime)
	}
}

// bruteStaleness is the definition applied literally, in O(reads x
// writes): the staleness of every stale register read.
func bruteStaleness(h *history.History) (reads int, stale []int64) {
	type wr struct {
		inv, cmp int64
		ok       bool
		key      string
		v        int64
	}
	var ws []wr
	type rd struct {
		inv  int64
		key  string
		v    history.Value
		done bool
	}
	var rs []rd
	open := map[history.Process]history.Op{}
	for _, op := range h.Ops {
		if !op.IsClient() {
			continue
		}
		if op.Type == history.Invoke {
			open[op.Process] = op
			continue
		}
		inv := open[op.Process]
		delete(open, op.Process)
		switch inv.F {
		case "write", "cas":
			if op.Type == history.Fail {
				continue
			}
			var v int64
			if inv.F == "write" {
				v, _ = inv.Value.AsInt()
			} else {
				vs, _ := inv.Value.AsInts()
				if l, _ := op.Value.AsList(); op.Type == history.OK && len(l) == 3 {
					continue
				}
				v = vs[1]
			}
			ws = append(ws, wr{inv: inv.Time, cmp: op.Time, ok: op.Type == history.OK, key: inv.Key, v: v})
		case "read":
			if op.Type == history.OK {
				rs = append(rs, rd{inv: inv.Time, key: inv.Key, v: op.Value})
			}
		}
	}
	for _, r := range rs {
		reads++
		after := int64(math.MinInt64)
		if v, ok := r.v.AsInt(); ok {
			after = math.MaxInt64
			for _, w := range ws {
				if w.key == r.key && w.v == v && w.ok {
					after = w.cmp
				}
			}
		}
		best := int64(math.MaxInt64)
		for _, w := range ws {
			if w.key == r.key && w.ok && after != math.MaxInt64 && w.inv > after && w.cmp < r.inv {
				best = min(best, w.cmp)
			}
		}
		if best != math.MaxInt64 {
			stale = append(stale, r.inv-best)
		}
	}
	return reads, stale
}

// On linearizable histories no read is stale; with reads made to return
// older values, the streamed measure finds exactly the stale reads the
// literal definition finds, from the file as from memory.
func TestReadStalenessMatchesDefinition(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		h, err := histgen.Register(rng, histgen.Config{Ops: 3000, Keys: 3, Processes: 8, InfoFraction: 0.05, ReadWeight: 2, WriteWeight: 1, CASWeight: 1, NotSwappedOK: true})
		if err != nil {
			t.Fatal(err)
		}
		m, err := Compute(h, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if m.Staleness == nil || m.Staleness.Reads < 1000 || m.Staleness.Stale != 0 {
			t.Fatalf("seed %d: linearizable history: %+v", seed, m.Staleness)
		}
		// Make one read in five return a value written earlier to its key.
		written := map[string][]int64{}
		for i := range h.Ops {
			op := &h.Ops[i]
			if op.Type == history.OK && op.F == "write" {
				v, _ := op.Value.AsInt()
				written[op.Key] = append(written[op.Key], v)
			}
			if op.Type == history.OK && op.F == "read" && rng.IntN(5) == 0 && len(written[op.Key]) > 0 {
				vs := written[op.Key]
				op.Value = history.Int(vs[rng.IntN(len(vs))])
			}
		}
		reads, want := bruteStaleness(h)
		m, err = Compute(h, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := m.Staleness
		ws := Stats(want)
		if got.Reads != reads || got.Stale != len(want) || got.P50NS != ws.P50NS || got.P99NS != ws.P99NS || got.MaxNS != ws.MaxNS {
			t.Fatalf("seed %d: measured %d reads, %d stale (p50 %d p99 %d max %d); the definition gives %d, %d (%+v)",
				seed, got.Reads, got.Stale, got.P50NS, got.P99NS, got.MaxNS, reads, len(want), ws)
		}
		if len(want) < 50 {
			t.Fatalf("seed %d: only %d stale reads: the test does not exercise the measure", seed, len(want))
		}
		path := filepath.Join(t.TempDir(), "history.jsonl")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := history.WriteJSONL(f, h); err != nil {
			t.Fatal(err)
		}
		f.Close()
		src, err := history.OpenJSONL(path)
		if err != nil {
			t.Fatal(err)
		}
		fm, err := Compute(src, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fm.Staleness, m.Staleness) {
			t.Fatalf("seed %d: streamed %+v, in memory %+v", seed, fm.Staleness, m.Staleness)
		}
	}
}
