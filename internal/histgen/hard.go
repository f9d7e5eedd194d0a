package histgen

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
)

// HardSpec describes one history of the hard corpus: the shape that
// makes linearizability searches explode in practice (high concurrency,
// few keys, many operations of unknown outcome).
type HardSpec struct {
	Seed   uint64
	Config Config
	// Corrupted says that one ok read was made to return a stale value
	// (that of an earlier ok write on its key, completed before the read
	// was invoked), which usually makes the history non-linearizable.
	// Uncorrupted histories are linearizable by construction.
	Corrupted bool
	// CorruptedOp is the index of the changed completion (-1 if none).
	CorruptedOp int
}

// HardSpecOf draws the shape of hard history seed: 1 or 2 keys, 20 to 50
// concurrent processes, 5% to 20% of operations info, reads, writes and
// CAS (compare-failed CAS recorded ok "not-swapped" on even seeds, fail on
// odd ones), and 600 to 1,800 operations; every third seed is corrupted.
func HardSpecOf(seed uint64) HardSpec {
	r := rand.New(rand.NewPCG(seed, 0x4a2d))
	c := Config{
		Ops:          600 + r.IntN(1201),
		Keys:         1 + r.IntN(2),
		Processes:    20 + r.IntN(31),
		InfoFraction: 0.05 + 0.15*r.Float64(),
		ReadWeight:   2,
		WriteWeight:  1,
		CASWeight:    1,
		NotSwappedOK: seed%2 == 0,
		MeanLatency:  time.Millisecond,
	}
	return HardSpec{Seed: seed, Config: c, Corrupted: seed%3 == 0, CorruptedOp: -1}
}

// Hard generates hard history seed (see HardSpecOf). The same seed gives
// the same history.
func Hard(seed uint64) (*history.History, HardSpec, error) {
	spec := HardSpecOf(seed)
	h, err := Register(rand.New(rand.NewPCG(seed, 0x9e37)), spec.Config)
	if err != nil {
		return nil, spec, err
	}
	if spec.Corrupted {
		at, stale, ok := staleRead(h, rand.New(rand.NewPCG(seed, 0x51a1)))
		if !ok {
			return nil, spec, errors.New("histgen: no read to corrupt")
		}
		h.Ops[at].Value = stale
		spec.CorruptedOp = at
	}
	return h, spec, nil
}

// HardCorpus is hard histories 0..n-1.
func HardCorpus(n int) ([]*history.History, []HardSpec, error) {
	hs := make([]*history.History, n)
	specs := make([]HardSpec, n)
	for i := range n {
		h, s, err := Hard(uint64(i))
		if err != nil {
			return nil, nil, err
		}
		hs[i], specs[i] = h, s
	}
	return hs, specs, nil
}

// staleRead picks an ok read and a value it must not return: that of the
// third-last ok write on its key completed before the read was invoked.
// It returns the read's completion index.
func staleRead(h *history.History, r *rand.Rand) (at int, stale history.Value, ok bool) {
	pairs, err := h.Pairs()
	if err != nil {
		return 0, stale, false
	}
	for range 1000 {
		p := pairs[r.IntN(len(pairs))]
		if p.Complete == history.Open || h.Ops[p.Complete].Type != history.OK || h.Ops[p.Invoke].F != "read" {
			continue
		}
		key := h.Ops[p.Invoke].Key
		writes := 0
		for j := p.Invoke - 1; j >= 0; j-- {
			op := &h.Ops[j]
			if op.Key == key && op.F == "write" && op.Type == history.OK {
				if writes++; writes == 3 {
					return p.Complete, op.Value, true
				}
			}
		}
	}
	return 0, stale, false
}
