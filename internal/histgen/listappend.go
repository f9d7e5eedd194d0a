package histgen

import (
	"container/heap"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
)

// TxnConfig shapes a generated list-append history.
type TxnConfig struct {
	// Txns is the number of transactions (invocations).
	Txns int
	// MopsPerTxn is the number of micro-ops of each transaction (default
	// 4).
	MopsPerTxn int
	// Processes is the number of concurrent client threads; a thread whose
	// transaction ends info continues under a new process id.
	Processes int
	// InfoFraction is the fraction of transactions whose completion is
	// info; half of those take effect (possibly after the info was
	// recorded), half never do.
	InfoFraction float64
	// ActiveKeys is the size of the pool of keys in use (default 10);
	// a key that has had MaxAppendsPerKey appends is retired and replaced
	// by a fresh one, as Elle's generator does (default 32).
	ActiveKeys, MaxAppendsPerKey int
	// ReadFraction is the fraction of micro-ops that are reads (default
	// 0.5).
	ReadFraction float64
	// MeanLatency is the mean time from invocation to completion
	// (default 1ms).
	MeanLatency time.Duration
	// NoIsolation applies each micro-op at its own instant (in order,
	// inside the interval), as a store without transactions would: the
	// history then shows G-single, G2-item, G1c and lost updates. Info
	// transactions apply all or none of their micro-ops.
	NoIsolation bool
}

// ListAppend generates a list-append transaction history ([append k v]
// and [r k list] micro-ops on integer keys, appended values unique per
// key) by simulating a strictly serializable store: every transaction
// takes effect atomically at one instant strictly inside its interval
// (an info one at a random later instant, or never), and the events are
// recorded in time order. The history is therefore strict serializable
// whatever the seed. Reads share the store's append-only lists, so a
// history of a million transactions stays compact.
func ListAppend(r *rand.Rand, c TxnConfig) (*history.History, error) {
	if r == nil {
		return nil, errors.New("histgen: nil *rand.Rand")
	}
	switch {
	case c.Txns < 0 || c.Processes <= 0:
		return nil, errors.New("histgen: need Txns >= 0 and Processes > 0")
	case c.InfoFraction < 0 || c.InfoFraction > 1 || c.ReadFraction < 0 || c.ReadFraction > 1:
		return nil, errors.New("histgen: fractions must be within [0, 1]")
	case c.MopsPerTxn < 0 || c.ActiveKeys < 0 || c.MaxAppendsPerKey < 0 || c.MeanLatency < 0:
		return nil, errors.New("histgen: negative setting")
	}
	if c.MopsPerTxn == 0 {
		c.MopsPerTxn = 4
	}
	if c.ActiveKeys == 0 {
		c.ActiveKeys = 10
	}
	if c.MaxAppendsPerKey == 0 {
		c.MaxAppendsPerKey = 32
	}
	if c.ReadFraction == 0 {
		c.ReadFraction = 0.5
	}
	if c.MeanLatency == 0 {
		c.MeanLatency = time.Millisecond
	}
	mean := float64(c.MeanLatency)
	// Store: per key, its append-only list; lists[k][:n] is immutable
	// once written, so reads share it.
	var lists [][]history.Value
	var appends []int // appends chosen per key (not yet applied included)
	active := make([]int, c.ActiveKeys)
	for i := range active {
		active[i] = i
		lists = append(lists, make([]history.Value, 0, c.MaxAppendsPerKey))
		appends = append(appends, 0)
	}
	h := &history.History{Ops: make([]history.Op, 0, 2*c.Txns)}
	procs := make([]history.Process, c.Processes)
	for i := range procs {
		procs[i] = history.Process(i)
	}
	crashed := make([]bool, c.Processes)
	nextProc := history.Process(c.Processes)
	var seq int64
	q := &eventQueue{}
	push := func(e event) {
		e.seq = seq
		seq++
		heap.Push(q, e)
	}
	latency := func() int64 { return int64(mean/10 + r.ExpFloat64()*mean*0.9) }
	invoked := 0
	for t := range c.Processes {
		if invoked < c.Txns {
			invoked++
			push(event{at: int64(r.Float64() * mean), kind: evInvoke, thread: t})
		}
	}
	rKey := history.Str("r")
	aKey := history.Str("append")
	for q.Len() > 0 {
		e := heap.Pop(q).(event)
		switch e.kind {
		case evInvoke:
			if crashed[e.thread] {
				procs[e.thread] = nextProc
				nextProc++
				crashed[e.thread] = false
			}
			tx := &txnState{process: procs[e.thread], mops: make([]history.Value, c.MopsPerTxn)}
			for i := range tx.mops {
				slot := r.IntN(len(active))
				k := active[slot]
				if r.Float64() < c.ReadFraction {
					tx.mops[i] = history.List(rKey, history.Int(int64(k)), history.Nil())
					continue
				}
				appends[k]++
				tx.mops[i] = history.List(aKey, history.Int(int64(k)), history.Int(int64(appends[k])))
				if appends[k] >= c.MaxAppendsPerKey {
					active[slot] = len(lists)
					lists = append(lists, make([]history.Value, 0, c.MaxAppendsPerKey))
					appends = append(appends, 0)
				}
			}
			op := &simOp{tx: tx}
			h.Ops = append(h.Ops, history.Op{Index: len(h.Ops), Time: e.at, Type: history.Invoke, Process: tx.process, F: "txn", Value: history.List(tx.mops...)})
			lat := latency()
			tx.info = r.Float64() < c.InfoFraction
			tx.reads = make([]history.Value, len(tx.mops))
			switch {
			case c.NoIsolation && (!tx.info || r.IntN(2) == 0):
				lat = max(lat, int64(len(tx.mops))+1)
				span := lat
				if tx.info {
					span = 3 * lat
				}
				ats := make([]int64, len(tx.mops))
				for i := range ats {
					ats[i] = e.at + 1 + r.Int64N(max(span-1, 1))
				}
				slices.Sort(ats)
				for i := range ats {
					push(event{at: ats[i], kind: evApply, op: &simOp{tx: tx, key: i}})
				}
			case c.NoIsolation:
			case !tx.info:
				push(event{at: e.at + 1 + r.Int64N(max(lat-1, 1)), kind: evApply, op: op})
				lat = max(lat, 2)
			case r.IntN(2) == 0:
				push(event{at: e.at + 1 + r.Int64N(max(3*lat, 1)), kind: evApply, op: op})
			}
			push(event{at: e.at + lat, kind: evComplete, thread: e.thread, op: op})
		case evApply:
			tx := e.op.tx
			for i, m := range tx.mops {
				if c.NoIsolation && i != e.op.key {
					continue
				}
				l, _ := m.AsList()
				k, _ := l[1].AsInt()
				if f, _ := l[0].AsString(); f == "append" {
					lists[k] = append(lists[k], l[2])
					tx.reads[i] = m
					continue
				}
				cur := lists[k]
				tx.reads[i] = history.List(rKey, l[1], history.List(cur[:len(cur):len(cur)]...))
			}
		case evComplete:
			tx := e.op.tx
			if tx.info {
				// An info completion carries the invocation's value.
				h.Ops = append(h.Ops, history.Op{Index: len(h.Ops), Time: e.at, Type: history.Info, Process: tx.process, F: "txn", Value: history.List(tx.mops...)})
				crashed[e.thread] = true
			} else {
				h.Ops = append(h.Ops, history.Op{Index: len(h.Ops), Time: e.at, Type: history.OK, Process: tx.process, F: "txn", Value: history.List(tx.reads...)})
			}
			if invoked < c.Txns {
				invoked++
				push(event{at: e.at + 1, kind: evInvoke, thread: e.thread})
			}
		}
	}
	return h, nil
}

// txnState is a transaction in flight.
type txnState struct {
	process history.Process
	mops    []history.Value // the invocation's
	reads   []history.Value // what it did, filled when applied
	info    bool
}
