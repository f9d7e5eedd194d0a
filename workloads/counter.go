package workloads

import (
	"context"
	"errors"
	"math/rand/v2"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
)

// counter: increments and reads of a few counters, checked against the
// bounds every read must respect. Increments are read-modify-write through
// a RegisterClient by default (the classic mistake: concurrent increments
// are lost), or the database's native increment with NativeCounter.
type counter struct {
	opts Options
	keys []string // keyNames(Name(), opts.Keys)
}

func newCounter(o Options) *counter {
	return &counter{opts: o, keys: keyNames("counter", o.Keys)}
}

func (w *counter) Name() string { return "counter" }

func (w *counter) NewWorker(c Client) (Worker, error) {
	if w.opts.NativeCounter {
		cc, ok := c.(CounterClient)
		if !ok {
			return nil, needs(w.Name(), "native increments (CounterClient)", c)
		}
		return &counterWorker{w: w, native: cc}, nil
	}
	rc, ok := c.(RMWClient)
	if !ok {
		return nil, needs(w.Name(), "read-modify-write (RMWClient)", c)
	}
	return &counterWorker{w: w, rmw: rc}, nil
}

func (w *counter) Checkers(CheckOptions) []checkers.Checker {
	return []checkers.Checker{&checkers.Counter{}}
}

type counterWorker struct {
	w      *counter
	native CounterClient
	rmw    RMWClient
}

func (cw *counterWorker) Next(rng *rand.Rand) Invocation {
	key := cw.w.keys[rng.IntN(len(cw.w.keys))]
	if rng.IntN(4) == 0 {
		return Invocation{F: "read", Key: key}
	}
	return Invocation{F: "add", Key: key, Value: history.Int(1 + rng.Int64N(5))}
}

func (cw *counterWorker) Do(ctx context.Context, inv Invocation) Completion {
	switch inv.F {
	case "add":
		d, _ := inv.Value.AsInt()
		if cw.native != nil {
			return completeWrite(inv.Value, cw.native.Increment(ctx, inv.Key, d))
		}
		_, _, _, err := cw.rmw.ReadModifyWrite(ctx, inv.Key, func(old int64, _ bool) int64 { return old + d })
		return completeWrite(inv.Value, err)
	case "read":
		if cw.native != nil {
			v, err := cw.native.ReadCounter(ctx, inv.Key)
			return completeRead(history.Int(v), err)
		}
		rc, ok := cw.rmw.(RegisterClient)
		if !ok {
			return Completion{Type: history.Fail, Error: errors.New("client cannot read registers").Error()}
		}
		v, _, err := rc.Read(ctx, inv.Key)
		return completeRead(history.Int(v), err)
	}
	return Completion{Type: history.Fail, Error: "unknown f " + inv.F}
}
