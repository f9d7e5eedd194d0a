package histgen

import (
	"math/rand/v2"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
)

// TestHardCorpusShape checks that the hard corpus has the shape its doc
// promises: 1 or 2 keys, 20 to 50 processes, 5% to 20% info operations
// (drawn; the realized share within a margin), reproducible by seed, and
// every third history corrupted by one stale read.
func TestHardCorpusShape(t *testing.T) {
	hs, specs, err := HardCorpus(30)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range hs {
		s := specs[i]
		if err := h.Validate(); err != nil {
			t.Fatalf("hard %d: malformed: %v", i, err)
		}
		c := s.Config
		if c.Keys < 1 || c.Keys > 2 || c.Processes < 20 || c.Processes > 50 || c.InfoFraction < 0.05 || c.InfoFraction > 0.20 {
			t.Errorf("hard %d: config %+v outside the corpus shape", i, c)
		}
		if got := h.ClientOps(); got != c.Ops {
			t.Errorf("hard %d: %d ops, want %d", i, got, c.Ops)
		}
		pairs, err := h.Pairs()
		if err != nil {
			t.Fatal(err)
		}
		info := 0
		for _, p := range pairs {
			if h.Outcome(p) == history.Info {
				info++
			}
		}
		if share := float64(info) / float64(len(pairs)); share < c.InfoFraction/2 || share > 2*c.InfoFraction {
			t.Errorf("hard %d: %.3f of ops info, drawn %.3f", i, share, c.InfoFraction)
		}
		if s.Corrupted != (i%3 == 0) {
			t.Errorf("hard %d: corrupted %v", i, s.Corrupted)
		}
		if s.Corrupted {
			op := h.Ops[s.CorruptedOp]
			if op.Type != history.OK || op.F != "read" {
				t.Errorf("hard %d: corrupted op %+v is not an ok read", i, op)
			}
			clean, err := Register(rand.New(rand.NewPCG(uint64(i), 0x9e37)), c)
			if err != nil {
				t.Fatal(err)
			}
			if clean.Ops[s.CorruptedOp].Value.String() == op.Value.String() {
				t.Errorf("hard %d: the corrupted read returns what it did", i)
			}
		} else if s.CorruptedOp != -1 {
			t.Errorf("hard %d: uncorrupted with CorruptedOp %d", i, s.CorruptedOp)
		}
	}
	again, _, err := Hard(4)
	if err != nil || !sameHistory(t, again, hs[4]) {
		t.Errorf("hard 4 is not reproducible (%v)", err)
	}
	if sameHistory(t, hs[4], hs[5]) {
		t.Error("two seeds gave the same history")
	}
}
