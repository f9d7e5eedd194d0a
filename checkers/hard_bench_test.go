package checkers

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/internal/histgen"
)

var (
	hardN     = flag.Int("hard.n", 50, "BenchmarkHardHistories: corpus size (hard histories 0..n-1)")
	hardLimit = flag.Duration("hard.limit", 10*time.Second, "BenchmarkHardHistories: time limit per history and checker")
	hardFirst = flag.Int("hard.first", 0, "BenchmarkHardHistories: first history of the corpus")
)

// porcupineRegIn and porcupineRegOut are a cas-register history as a user
// of porcupine encodes it, Jepsen's semantics: a fail operation is left
// out, so is a read of unknown outcome; any other operation of unknown
// outcome (info, never completed) returns at +infinity with an unknown
// output.
type porcupineRegIn struct {
	f    byte // 'r', 'w', 'c'
	a, b int64
}

type porcupineRegOut struct {
	unknown    bool
	empty      bool  // read of the empty register
	v          int64 // read value
	notSwapped bool  // ok CAS whose compare failed
}

// porcupineEmpty is the state of the empty register.
const porcupineEmpty = math.MinInt64

var porcupineCASRegister = porcupine.Model{
	Partition: nil, // set per history: by key
	Init:      func() interface{} { return int64(porcupineEmpty) },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st := state.(int64)
		in := input.(porcupineRegIn)
		out := output.(porcupineRegOut)
		switch in.f {
		case 'r':
			if out.empty {
				return st == porcupineEmpty, st
			}
			return st == out.v, st
		case 'w':
			return true, in.a
		default:
			switch {
			case out.unknown:
				if st == in.a {
					return true, in.b
				}
				return true, st
			case out.notSwapped:
				return st != in.a, st
			default:
				return st == in.a, in.b
			}
		}
	},
	Equal: func(a, b interface{}) bool { return a.(int64) == b.(int64) },
}

// porcupineDirect checks h with porcupine called directly, partitioned by
// key, bounded by limit: porcupine.Ok, Illegal or Unknown.
func porcupineDirect(h *history.History, limit time.Duration) (porcupine.CheckResult, error) {
	pairs, err := h.Pairs()
	if err != nil {
		return porcupine.Unknown, err
	}
	var ops []porcupine.Operation
	keyOf := map[string]int{}
	for _, p := range pairs {
		inv := &h.Ops[p.Invoke]
		comp := h.Completion(p)
		outcome := history.Info
		if comp != nil {
			outcome = comp.Type
		}
		if outcome == history.Fail || (outcome == history.Info && inv.F == "read") {
			continue
		}
		k, ok := keyOf[inv.Key]
		if !ok {
			k = len(keyOf)
			keyOf[inv.Key] = k
		}
		o := porcupine.Operation{ClientId: k, Call: int64(p.Invoke), Return: math.MaxInt64}
		out := porcupineRegOut{unknown: outcome == history.Info}
		if !out.unknown {
			o.Return = int64(p.Complete)
		}
		switch inv.F {
		case "read":
			if comp.Value.IsNil() {
				out.empty = true
			} else if v, ok := comp.Value.AsInt(); ok {
				out.v = v
			} else {
				return porcupine.Unknown, fmt.Errorf("op %d: read value %s", comp.Index, comp.Value)
			}
			o.Input = porcupineRegIn{f: 'r'}
		case "write":
			v, ok := inv.Value.AsInt()
			if !ok {
				return porcupine.Unknown, fmt.Errorf("op %d: write value %s", inv.Index, inv.Value)
			}
			o.Input = porcupineRegIn{f: 'w', a: v}
		case "cas":
			vs, ok := inv.Value.AsInts()
			if !ok || len(vs) != 2 {
				return porcupine.Unknown, fmt.Errorf("op %d: cas value %s", inv.Index, inv.Value)
			}
			o.Input = porcupineRegIn{f: 'c', a: vs[0], b: vs[1]}
			if !out.unknown {
				l, _ := comp.Value.AsList()
				out.notSwapped = len(l) == 3
			}
		default:
			return porcupine.Unknown, fmt.Errorf("op %d: f %q", inv.Index, inv.F)
		}
		o.Output = out
		ops = append(ops, o)
	}
	m := porcupineCASRegister
	m.Partition = func(history []porcupine.Operation) [][]porcupine.Operation {
		parts := make([][]porcupine.Operation, len(keyOf))
		for _, o := range history {
			parts[o.ClientId] = append(parts[o.ClientId], o)
		}
		return parts
	}
	return porcupine.CheckOperationsTimeout(m, ops, limit), nil
}

// BenchmarkHardHistories checks the hard corpus of internal/histgen
// (histories hard.first..hard.first+hard.n-1) under a time limit per
// history (hard.limit), once with this package's Linearizable checker and
// once with porcupine called directly, and prints per history the two
// verdicts and times, then how many each decided, whether they ever
// disagree, and the total times. b.N is not used: run it with
// -benchtime=1x.
//
//	go test ./checkers -run '^$' -bench HardHistories -benchtime=1x
func BenchmarkHardHistories(b *testing.B) {
	var decidedCC, decidedP, disagree, onlyP int
	var totalCC, totalP time.Duration
	for i := *hardFirst; i < *hardFirst+*hardN; i++ {
		h, spec, err := histgen.Hard(uint64(i))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		r := Linearizable{Model: ModelCASRegister, TimeLimit: *hardLimit}.Check(context.Background(), h)
		dCC := time.Since(start)
		start = time.Now()
		pr, err := porcupineDirect(h, *hardLimit)
		dP := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		totalCC += dCC
		totalP += dP
		pv := map[porcupine.CheckResult]Verdict{porcupine.Ok: Valid, porcupine.Illegal: Invalid, porcupine.Unknown: Unknown}[pr]
		if r.Verdict != Unknown {
			decidedCC++
		}
		if pv != Unknown {
			decidedP++
			if r.Verdict == Unknown {
				onlyP++
			}
		}
		mark := ""
		if r.Verdict != Unknown && pv != Unknown && r.Verdict != pv {
			disagree++
			mark = "  DISAGREE"
		}
		if !spec.Corrupted && r.Verdict == Invalid {
			mark += "  INVALID-BUT-LINEARIZABLE-BY-CONSTRUCTION"
		}
		fmt.Fprintf(os.Stdout, "hard %2d: %4d ops, %d keys, %2d procs, %4.1f%% info, corrupted %-5v  chaoscheck %-7s %8.3fs (searched %d)  porcupine %-7s %8.3fs%s\n",
			i, spec.Config.Ops, spec.Config.Keys, spec.Config.Processes, 100*spec.Config.InfoFraction, spec.Corrupted,
			r.Verdict, dCC.Seconds(), r.Counts["ops_searched"], pv, dP.Seconds(), mark)
	}
	fmt.Fprintf(os.Stdout, "corpus of %d, limit %v: chaoscheck decided %d in %.1fs total, porcupine decided %d in %.1fs total; disagreements %d; decided by porcupine only %d\n",
		*hardN, *hardLimit, decidedCC, totalCC.Seconds(), decidedP, totalP.Seconds(), disagree, onlyP)
	b.ReportMetric(float64(decidedCC), "chaoscheck-decided")
	b.ReportMetric(float64(decidedP), "porcupine-decided")
	b.ReportMetric(float64(disagree), "disagreements")
	b.ReportMetric(totalCC.Seconds(), "chaoscheck-s")
	b.ReportMetric(totalP.Seconds(), "porcupine-s")
	if disagree > 0 {
		b.Errorf("%d disagreements", disagree)
	}
}
