package checkers

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/internal/histgen"
)

// The benchmark history: 1,000,000 operations on 100 registers by 20
// processes, unique written values, 1% info completions.
var linBenchConfig = histgen.Config{Ops: 1_000_000, Keys: 100, Processes: 20, InfoFraction: 0.01}

var (
	linBenchOnce sync.Once
	linBenchHist *history.History
	linBenchErr  error
)

func linBenchHistory(b *testing.B) *history.History {
	b.Helper()
	linBenchOnce.Do(func() {
		linBenchHist, linBenchErr = histgen.Register(rand.New(rand.NewPCG(1, 1)), linBenchConfig)
	})
	if linBenchErr != nil {
		b.Fatal(linBenchErr)
	}
	return linBenchHist
}

// BenchmarkLinearizable compares our checker with porcupine called
// directly on the same history. Run with
//
//	go test -run='^$' -bench=Linearizable -benchmem -benchtime=1x ./checkers/
//
// "chaoscheck" is Linearizable.Check on the *history.History: pairing,
// partition by key, interpretation and the search. "porcupine" is
// porcupine.CheckOperations with a minimal register model partitioned by
// key, on a []porcupine.Operation prebuilt outside the timer with the same
// semantics (fail dropped, info reads dropped, info returning at
// +infinity).
//
// "baseline" only builds the history: its peak RSS (e.g. from
// /usr/bin/time -v on the test binary, one sub-benchmark a run) is what the
// other two share before they start.
func BenchmarkLinearizable(b *testing.B) {
	b.Run("baseline", func(b *testing.B) {
		h := linBenchHistory(b)
		for b.Loop() {
			_ = h.ClientOps()
		}
	})
	b.Run("chaoscheck", func(b *testing.B) {
		h := linBenchHistory(b)
		ops := float64(h.ClientOps())
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			r := Linearizable{Model: ModelRegister}.Check(context.Background(), h)
			if r.Verdict != Valid {
				b.Fatalf("verdict %s: %s", r.Verdict, r.Reason)
			}
		}
		b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
	b.Run("porcupine", func(b *testing.B) {
		h := linBenchHistory(b)
		ops := float64(h.ClientOps())
		pops := linDirectOperations(b, h)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if !porcupine.CheckOperations(linDirectModel, pops) {
				b.Fatal("porcupine: not linearizable")
			}
		}
		b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
}

// linDirectInput and linDirectOutput are the minimal register model's
// operation, as a porcupine user would write it.
type linDirectInput struct {
	key   string
	write bool
	value int64
}

type linDirectOutput struct {
	value   int64 // linDirectEmpty for nil
	unknown bool
}

const linDirectEmpty = math.MinInt64

var linDirectModel = porcupine.Model{
	Partition: func(ops []porcupine.Operation) [][]porcupine.Operation {
		slot := make(map[string]int)
		var parts [][]porcupine.Operation
		for _, op := range ops {
			k := op.Input.(linDirectInput).key
			s, ok := slot[k]
			if !ok {
				s = len(parts)
				slot[k] = s
				parts = append(parts, nil)
			}
			parts[s] = append(parts[s], op)
		}
		return parts
	},
	Init: func() interface{} { return int64(linDirectEmpty) },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st := state.(int64)
		in := input.(linDirectInput)
		if in.write {
			return true, in.value
		}
		out := output.(linDirectOutput)
		return out.unknown || out.value == st, st
	},
}

// linDirectOperations converts h for linDirectModel.
func linDirectOperations(b *testing.B, h *history.History) []porcupine.Operation {
	pairs, err := h.Pairs()
	if err != nil {
		b.Fatal(err)
	}
	pops := make([]porcupine.Operation, 0, len(pairs))
	for _, p := range pairs {
		inv := &h.Ops[p.Invoke]
		outcome := h.Outcome(p)
		if outcome == history.Fail || (inv.F == "read" && outcome != history.OK) {
			continue
		}
		op := porcupine.Operation{Call: int64(p.Invoke), Return: math.MaxInt64}
		if outcome == history.OK {
			op.Return = int64(p.Complete)
		}
		switch inv.F {
		case "write":
			v, _ := inv.Value.AsInt()
			op.Input = linDirectInput{key: inv.Key, write: true, value: v}
			op.Output = linDirectOutput{unknown: outcome != history.OK}
		case "read":
			out := linDirectOutput{value: linDirectEmpty}
			if v, ok := h.Ops[p.Complete].Value.AsInt(); ok {
				out.value = v
			}
			op.Input = linDirectInput{key: inv.Key}
			op.Output = out
		default:
			b.Fatalf("unexpected f %q", inv.F)
		}
		pops = append(pops, op)
	}
	return pops
}
