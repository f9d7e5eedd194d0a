package checkers

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/internal/histgen"
)

func TestExploreConc(t *testing.T) {
	for _, procs := range []int{10, 20, 30, 40} {
		for _, info := range []float64{0, 0.1} {
			for _, ns := range []bool{false, true} {
				h, _ := histgen.Register(rand.New(rand.NewPCG(1, 2)), histgen.Config{Ops: 800, Keys: 1, Processes: procs, InfoFraction: info, ReadWeight: 2, WriteWeight: 1, CASWeight: 1, NotSwappedOK: ns})
				start := time.Now()
				r := Linearizable{Model: ModelCASRegister, TimeLimit: 3 * time.Second}.Check(context.Background(), h)
				t.Logf("procs %d info %.1f ns %v: %s %v searched %d", procs, info, ns, r.Verdict, time.Since(start).Round(time.Millisecond), r.Counts["ops_searched"])
			}
		}
	}
}
