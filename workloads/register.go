package workloads

import (
	"context"
	"math/rand/v2"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
)

// register: reads, unique writes and CAS on a small key space, checked for
// linearizability (each key an independent register).
type register struct {
	opts   Options
	keys   []string // keyNames(Name(), opts.Keys)
	values uniqueValues
}

func newRegister(o Options) *register {
	return &register{opts: o, keys: keyNames("register", o.Keys)}
}

func (w *register) Name() string { return "register" }

func (w *register) NewWorker(c Client) (Worker, error) {
	rc, ok := c.(RegisterClient)
	if !ok {
		return nil, needs(w.Name(), "Read/Write/CAS (RegisterClient)", c)
	}
	return &registerWorker{w: w, c: rc, seen: make(map[string]int64)}, nil
}

func (w *register) Checkers(o CheckOptions) []checkers.Checker {
	model := checkers.ModelRegister
	if w.opts.CAS {
		model = checkers.ModelCASRegister
	}
	return []checkers.Checker{
		&checkers.Linearizable{Model: model, TimeLimit: o.TimeLimit, VisualizeDir: o.OutDir},
	}
}

type registerWorker struct {
	w *register
	c RegisterClient
	// seen is the last value this worker read or wrote per key: CAS
	// compares against it, so that a fair share of CAS succeed.
	seen map[string]int64
}

func (rw *registerWorker) Next(rng *rand.Rand) Invocation {
	key := rw.w.keys[rng.IntN(len(rw.w.keys))]
	n := 2
	if rw.w.opts.CAS {
		n = 3
	}
	switch rng.IntN(n) {
	case 0:
		return Invocation{F: "read", Key: key}
	case 1:
		return Invocation{F: "write", Key: key, Value: history.Int(rw.w.values.take())}
	default:
		old, ok := rw.seen[key]
		if !ok {
			old = rw.w.values.next.Load() - int64(rng.IntN(3))
		}
		return Invocation{F: "cas", Key: key, Value: history.Ints(old, rw.w.values.take())}
	}
}

func (rw *registerWorker) Do(ctx context.Context, inv Invocation) Completion {
	c := doRegister(ctx, rw.c, inv)
	if c.Type == history.OK {
		switch inv.F {
		case "read":
			if v, ok := c.Value.AsInt(); ok {
				rw.seen[inv.Key] = v
			}
		case "write":
			v, _ := inv.Value.AsInt()
			rw.seen[inv.Key] = v
		case "cas":
			if vs, _ := c.Value.AsList(); len(vs) == 2 {
				n, _ := vs[1].AsInt()
				rw.seen[inv.Key] = n
			}
		}
	}
	return c
}

// doRegister performs a register invocation; the ryw workload shares it.
func doRegister(ctx context.Context, c RegisterClient, inv Invocation) Completion {
	switch inv.F {
	case "read":
		v, found, err := c.Read(ctx, inv.Key)
		return completeRead(readValue(v, found), err)
	case "write":
		v, _ := inv.Value.AsInt()
		return completeWrite(inv.Value, c.Write(ctx, inv.Key, v))
	case "cas":
		ov, _ := inv.Value.AsInts()
		swapped, err := c.CAS(ctx, inv.Key, ov[0], ov[1])
		if err == nil && !swapped {
			return Completion{Type: history.OK, Value: history.List(history.Int(ov[0]), history.Int(ov[1]), history.Str(history.NotSwapped))}
		}
		return completeWrite(inv.Value, err)
	}
	return Completion{Type: history.Fail, Error: "unknown f " + inv.F}
}
