package measures

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
)

// randomSetHistory is a set workload under kills and failovers: adds
// that end ok, fail or info, reads, open operations at the end, nodes on
// completions, and a final read per key.
func randomSetHistory(seed uint64) *history.History {
	r := rand.New(rand.NewPCG(seed, 1))
	h := &history.History{}
	add := func(op history.Op) {
		op.Index = len(h.Ops)
		h.Ops = append(h.Ops, op)
	}
	type proc struct {
		p       history.Process
		pending bool
		f, key  string
		v       history.Value
	}
	procs := make([]proc, 8)
	for i := range procs {
		procs[i].p = history.Process(i)
	}
	next := history.Process(len(procs))
	elem := int64(0)
	t := int64(0)
	for step := 0; step < 4000; step++ {
		t += int64(1 + r.IntN(10))
		if r.IntN(100) == 0 {
			fault := []string{"kill", "failover", "partition"}[r.IntN(3)]
			start := r.IntN(2) == 0
			name := "stop-" + fault
			if start {
				name = "start-" + fault
			}
			add(history.Op{Time: t, Type: history.Invoke, Process: history.Nemesis, F: name})
			op := history.Op{Time: t + 1, Type: history.Info, Process: history.Nemesis, F: name, Value: history.Str(fault + " n" + strconv.Itoa(1+r.IntN(3)))}
			if start {
				op.Extra = map[string]string{"nodes": "n" + strconv.Itoa(1+r.IntN(3))}
			}
			add(op)
			continue
		}
		pr := &procs[r.IntN(len(procs))]
		key := "set:" + strconv.Itoa(r.IntN(3))
		if !pr.pending {
			pr.pending, pr.key = true, key
			if r.IntN(4) == 0 {
				pr.f, pr.v = "read", history.Nil()
			} else {
				elem++
				pr.f, pr.v = "add", history.Int(elem)
			}
			add(history.Op{Time: t, Type: history.Invoke, Process: pr.p, F: pr.f, Key: pr.key, Value: pr.v})
			continue
		}
		ty := []history.Type{history.OK, history.OK, history.OK, history.Fail, history.Info}[r.IntN(5)]
		v := pr.v
		if pr.f == "read" && ty == history.OK {
			var es []int64
			for e := int64(1); e <= elem; e++ {
				if r.IntN(10) > 0 {
					es = append(es, e)
				}
			}
			v = history.Ints(es...)
		}
		add(history.Op{Time: t, Type: ty, Process: pr.p, F: pr.f, Key: pr.key, Value: v, Node: "n" + strconv.Itoa(1+r.IntN(3))})
		pr.pending = false
		if ty == history.Info {
			pr.p = next
			next++
		}
	}
	return h
}

// Issue 11 (memory): Compute streams a history file in two passes instead
// of loading it, and measures exactly what it measures on the history in
// memory.
func TestComputeStreamedIsComputeInMemory(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		h := randomSetHistory(seed)
		if err := h.Validate(); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "history.jsonl")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := history.WriteJSONL(f, h); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		src, err := history.OpenJSONL(path)
		if err != nil {
			t.Fatal(err)
		}
		o := Options{N: 3, R: 2, W: 2}
		mem, err := Compute(h, nil, o)
		if err != nil {
			t.Fatal(err)
		}
		file, err := Compute(src, nil, o)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(mem, file) {
			t.Fatalf("seed %d: streamed %+v, in memory %+v", seed, file, mem)
		}
		if seed == 1 && (len(mem.Availability) == 0 || mem.Load == nil || len(mem.Quorum) == 0 || len(mem.Failovers) == 0) {
			t.Fatalf("seed %d: the history does not exercise every measure: %+v", seed, mem)
		}
	}
}
