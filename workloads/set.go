package workloads

import (
	"context"
	"math/rand/v2"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
)

// set: adds of unique elements to a few sets, occasional reads, and a final
// read of every set after the faults are healed. Checked for lost,
// unexpected and stale elements.
type set struct {
	opts   Options
	keys   []string // keyNames(Name(), opts.Keys)
	values uniqueValues
}

func newSet(o Options) *set {
	return &set{opts: o, keys: keyNames("set", o.Keys)}
}

func (w *set) Name() string { return "set" }

func (w *set) NewWorker(c Client) (Worker, error) {
	sc, ok := c.(SetClient)
	if !ok {
		return nil, needs(w.Name(), "Add/ReadSet (SetClient)", c)
	}
	return &setWorker{w: w, c: sc}, nil
}

func (w *set) Checkers(CheckOptions) []checkers.Checker {
	return []checkers.Checker{&checkers.Set{}}
}

// FinalInvocations reads every set once.
func (w *set) FinalInvocations() []Invocation {
	out := make([]Invocation, w.opts.Keys)
	for i := range out {
		out[i] = Invocation{F: "read", Key: keyName(w.Name(), i)}
	}
	return out
}

type setWorker struct {
	w *set
	c SetClient
}

func (sw *setWorker) Next(rng *rand.Rand) Invocation {
	key := sw.w.keys[rng.IntN(len(sw.w.keys))]
	if rng.IntN(10) == 0 {
		return Invocation{F: "read", Key: key}
	}
	return Invocation{F: "add", Key: key, Value: history.Int(sw.w.values.take())}
}

func (sw *setWorker) Do(ctx context.Context, inv Invocation) Completion {
	switch inv.F {
	case "add":
		e, _ := inv.Value.AsInt()
		return completeWrite(inv.Value, sw.c.Add(ctx, inv.Key, e))
	case "read":
		es, err := sw.c.ReadSet(ctx, inv.Key)
		return completeRead(history.Ints(es...), err)
	}
	return Completion{Type: history.Fail, Error: "unknown f " + inv.F}
}
