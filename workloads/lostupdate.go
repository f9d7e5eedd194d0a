package workloads

import (
	"context"
	"math/rand/v2"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
)

// lostUpdate: concurrent read-modify-writes on a few shared keys. Each
// writes a unique value, so two committed updates that read the same value
// prove that one overwrote the other without seeing it.
type lostUpdate struct {
	opts   Options
	keys   []string // keyNames(Name(), opts.Keys)
	values uniqueValues
}

func newLostUpdate(o Options) *lostUpdate {
	return &lostUpdate{opts: o, keys: keyNames("lost-update", o.Keys)}
}

func (w *lostUpdate) Name() string { return "lost-update" }

func (w *lostUpdate) NewWorker(c Client) (Worker, error) {
	rc, ok := c.(RMWClient)
	if !ok {
		return nil, needs(w.Name(), "read-modify-write (RMWClient)", c)
	}
	return &lostUpdateWorker{w: w, c: rc}, nil
}

func (w *lostUpdate) Checkers(CheckOptions) []checkers.Checker {
	return []checkers.Checker{&checkers.LostUpdate{}}
}

type lostUpdateWorker struct {
	w *lostUpdate
	c RMWClient
}

func (lw *lostUpdateWorker) Next(rng *rand.Rand) Invocation {
	return Invocation{F: "rmw", Key: lw.w.keys[rng.IntN(len(lw.w.keys))]}
}

func (lw *lostUpdateWorker) Do(ctx context.Context, inv Invocation) Completion {
	next := lw.w.values.take()
	read, found, written, err := lw.c.ReadModifyWrite(ctx, inv.Key, func(int64, bool) int64 { return next })
	if err != nil {
		return completeWrite(history.Nil(), err)
	}
	return Completion{Type: history.OK, Value: history.List(readValue(read, found), history.Int(written))}
}
