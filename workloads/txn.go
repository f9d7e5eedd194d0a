package workloads

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/checkers/elle"
	"github.com/chaoscheck/chaoscheck/history"
)

// TxnKind says what a transaction's keys hold.
type TxnKind int

const (
	// Lists: micro-ops append to a key's list and read it whole
	// (list-append).
	Lists TxnKind = iota
	// Registers: micro-ops write a key's register and read it
	// (rw-register).
	Registers
)

// String returns "lists" or "registers".
func (k TxnKind) String() string {
	if k == Registers {
		return "registers"
	}
	return "lists"
}

// MicroOp is one operation inside a transaction.
type MicroOp struct {
	// F is "append", "w" or "r".
	F string
	// Key is the key, unique to the workload and kind: list-append and
	// rw-register keys live apart (TxnClient keeps lists and registers
	// in separate namespaces).
	Key int64
	// Value is the appended or written value (unique per key).
	Value int64
	// Read is what an "r" returned, filled by TxnClient.Txn: the list
	// (Lists) or the one value (Registers). Found=false: the key was
	// never written (nil in the history).
	Read  []int64
	Found bool
}

// TxnClient runs multi-key transactions.
//
// Invariant of Txn: on a nil error every micro-op happened, in order, in
// one transaction, and ops[i].Read/Found hold what each read returned
// (reads see the transaction's own earlier writes). A Definite error
// proves the transaction did not commit (recorded fail, e.g. a
// serialization failure); any other error leaves it unknown (info, e.g. a
// connection lost while COMMIT was in flight).
type TxnClient interface {
	Client
	// Txn runs ops, in place, as one transaction on keys of kind.
	Txn(ctx context.Context, kind TxnKind, ops []MicroOp) error
}

// TxnRefuser is implemented by clients that have Txn but refuse a kind or
// a configuration (say, Cassandra outside one partition): the workload's
// NewWorker returns the reason.
type TxnRefuser interface {
	RefuseTxn(kind TxnKind) error
}

// OpOwner is implemented by workloads whose operations carry no Key of
// their own (transactions: F "txn", the keys inside the value), so that
// the runner cannot pick them by KeyPrefix: Owns says which client
// operations are the workload's.
type OpOwner interface {
	Owns(op *history.Op) bool
}

// Transaction workload defaults, as in Elle's generators.
const (
	// TxnMinLength and TxnMaxLength bound the micro-ops per transaction.
	TxnMinLength, TxnMaxLength = 1, 4
	// TxnWritesPerKey is how many appends (or writes) a key receives
	// before it is retired and replaced by a fresh key: keys rotate, so
	// lists stay short and reads cheap.
	TxnWritesPerKey = 32
)

// txn is the list-append or rw-register workload: transactions of 1 to 4
// micro-ops, half reads, on a few active keys at a time (Options.Keys;
// Elle's key-count), each retired after TxnWritesPerKey writes. Values
// written to a key are unique (1, 2, 3... per key), so that every read
// names the writes it saw.
type txn struct {
	name string
	kind TxnKind
	opts Options

	mu      sync.Mutex
	active  []int64         // the keys being written
	writes  map[int64]int64 // writes handed out per active key
	nextKey int64
}

func newTxn(name string, kind TxnKind, o Options) *txn {
	w := &txn{name: name, kind: kind, opts: o, writes: map[int64]int64{}}
	for range o.Keys {
		w.active = append(w.active, w.nextKey)
		w.nextKey++
	}
	return w
}

func (w *txn) Name() string { return w.name }

// Owns: every transaction (F "txn"). A test runs at most one transaction
// workload (runner.Config.Validate).
func (w *txn) Owns(op *history.Op) bool { return op.F == "txn" }

func (w *txn) NewWorker(c Client) (Worker, error) {
	tc, ok := c.(TxnClient)
	if !ok {
		return nil, needs(w.name, "multi-key transactions (TxnClient)", c)
	}
	if r, ok := c.(TxnRefuser); ok {
		if err := r.RefuseTxn(w.kind); err != nil {
			return nil, fmt.Errorf("workload %s: %w", w.name, err)
		}
	}
	return &txnWorker{w: w, c: tc}, nil
}

func (w *txn) Checkers(o CheckOptions) []checkers.Checker {
	wl := elle.ListAppend
	if w.kind == Registers {
		wl = elle.RWRegister
	}
	return []checkers.Checker{elle.New(elle.Options{
		Workload:          wl,
		ConsistencyModels: o.Txn.ConsistencyModels,
		Anomalies:         o.Txn.Anomalies,
		LinearizableKeys:  o.Txn.LinearizableKeys,
		SequentialKeys:    o.Txn.SequentialKeys,
		WFRKeys:           o.Txn.WFRKeys,
		OutDir:            o.OutDir,
	})}
}

// draw returns the next transaction's micro-ops.
func (w *txn) draw(rng *rand.Rand) []MicroOp {
	n := TxnMinLength + rng.IntN(TxnMaxLength-TxnMinLength+1)
	ops := make([]MicroOp, n)
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range ops {
		slot := rng.IntN(len(w.active))
		k := w.active[slot]
		if rng.IntN(2) == 0 {
			ops[i] = MicroOp{F: "r", Key: k}
			continue
		}
		w.writes[k]++
		v := w.writes[k]
		f := "append"
		if w.kind == Registers {
			f = "w"
		}
		ops[i] = MicroOp{F: f, Key: k, Value: v}
		if v >= TxnWritesPerKey {
			delete(w.writes, k)
			w.active[slot] = w.nextKey
			w.nextKey++
		}
	}
	return ops
}

type txnWorker struct {
	w *txn
	c TxnClient
	// ops is the transaction of the last Next, performed by Do.
	ops []MicroOp
}

func (tw *txnWorker) Next(rng *rand.Rand) Invocation {
	tw.ops = tw.w.draw(rng)
	return Invocation{F: "txn", Value: TxnValue(tw.w.kind, tw.ops, false)}
}

func (tw *txnWorker) Do(ctx context.Context, inv Invocation) Completion {
	ops := tw.ops
	if err := tw.c.Txn(ctx, tw.w.kind, ops); err != nil {
		t := history.Info
		if IsDefinite(err) {
			t = history.Fail
		}
		return Completion{Type: t, Value: inv.Value, Error: errText(err)}
	}
	return Completion{Type: history.OK, Value: TxnValue(tw.w.kind, ops, true)}
}

// TxnValue is the history value of a transaction (checkers/elle's form):
// [[f k v] ...], with each read's value when done (a list for Lists, an
// int for Registers, nil for a key never written) and nil before.
func TxnValue(kind TxnKind, ops []MicroOp, done bool) history.Value {
	vs := make([]history.Value, len(ops))
	for i, op := range ops {
		var v history.Value
		switch {
		case op.F != "r":
			v = history.Int(op.Value)
		case !done || !op.Found:
			v = history.Nil()
		case kind == Lists:
			v = history.Ints(op.Read...)
		case len(op.Read) == 1:
			v = history.Int(op.Read[0])
		}
		vs[i] = history.List(history.Str(op.F), history.Int(op.Key), v)
	}
	return history.List(vs...)
}
