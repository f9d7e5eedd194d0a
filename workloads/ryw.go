package workloads

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
)

// ryw: each client writes its own key, then reads it back, over and over.
// Whether the read goes to the same coordinator (sticky) or any node is the
// target's setting. Checked for session guarantees (read-your-writes,
// monotonic reads and writes) and, per key, linearizability.
type ryw struct {
	values uniqueValues
	next   uniqueValues
}

func newRYW(Options) *ryw { return &ryw{} }

func (w *ryw) Name() string { return "ryw" }

func (w *ryw) NewWorker(c Client) (Worker, error) {
	rc, ok := c.(RegisterClient)
	if !ok {
		return nil, needs(w.Name(), "Read/Write (RegisterClient)", c)
	}
	// Each worker owns a key: a new process after an info gets a new one,
	// so no two live sessions write the same key.
	return &rywWorker{w: w, c: rc, key: fmt.Sprintf("%s%d", KeyPrefix(w.Name()), w.next.take())}, nil
}

func (w *ryw) Checkers(o CheckOptions) []checkers.Checker {
	return []checkers.Checker{
		&checkers.Session{},
		&checkers.Linearizable{Model: checkers.ModelRegister, TimeLimit: o.TimeLimit, VisualizeDir: o.OutDir},
	}
}

type rywWorker struct {
	w      *ryw
	c      RegisterClient
	key    string
	reads  int
	writes int
}

// Next alternates one write with two reads: the first read tests
// read-your-writes, the second monotonic reads.
func (rw *rywWorker) Next(*rand.Rand) Invocation {
	if rw.reads >= 2*rw.writes {
		rw.writes++
		return Invocation{F: "write", Key: rw.key, Value: history.Int(rw.w.values.take())}
	}
	rw.reads++
	return Invocation{F: "read", Key: rw.key}
}

func (rw *rywWorker) Do(ctx context.Context, inv Invocation) Completion {
	return doRegister(ctx, rw.c, inv)
}
