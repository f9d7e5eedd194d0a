// Package histgen generates large histories that are linearizable by
// construction, for tests and benchmarks of the checkers.
//
// Register generates a multi-key register history by simulating real
// atomic registers under concurrency: every operation takes effect at one
// instant (its linearization point) strictly inside its interval, reads
// return what the register held at that instant, and the events are
// recorded in time order, as a controller would observe them. The history
// is therefore linearizable whatever the seed, including its info
// operations, which take effect at a random instant after their invocation
// (possibly after their info completion was recorded) or never.
package histgen

import (
	"container/heap"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
)

// NotSwapped is the marker of an ok CAS completion [old new "not-swapped"]
// (see checkers.ModelCASRegister).
const NotSwapped = "not-swapped"

// Config shapes a generated register history.
type Config struct {
	// Ops is the number of client operations (invocations).
	Ops int
	// Keys is the number of independent registers, named "0".."Keys-1".
	Keys int
	// Processes is the number of concurrent client threads. A thread whose
	// operation ends info continues under a new process id, as Jepsen's
	// clients do.
	Processes int
	// InfoFraction is the fraction of operations whose completion is info
	// (unknown outcome); half of those take effect, half never do.
	InfoFraction float64
	// ReadWeight, WriteWeight and CASWeight are the relative frequencies
	// of read, write and cas. All zero means reads and writes, half each.
	ReadWeight, WriteWeight, CASWeight float64
	// NotSwappedOK records a CAS whose compare failed as ok with value
	// [old new "not-swapped"] (chaoscheck's workloads) instead of fail
	// (Jepsen).
	NotSwappedOK bool
	// MeanLatency is the mean time from invocation to completion (default
	// 1ms); latencies are exponentially distributed around it, plus a
	// floor of a tenth of it.
	MeanLatency time.Duration
	// MeanThink is the mean pause of a thread between a completion and its
	// next invocation (default 0: the next invocation follows at once).
	MeanThink time.Duration
}

func (c *Config) validate() error {
	switch {
	case c.Ops < 0:
		return errors.New("histgen: negative Ops")
	case c.Keys <= 0:
		return errors.New("histgen: Keys must be positive")
	case c.Processes <= 0:
		return errors.New("histgen: Processes must be positive")
	case c.InfoFraction < 0 || c.InfoFraction > 1:
		return errors.New("histgen: InfoFraction must be within [0, 1]")
	case c.ReadWeight < 0 || c.WriteWeight < 0 || c.CASWeight < 0:
		return errors.New("histgen: negative operation weight")
	case c.MeanLatency < 0 || c.MeanThink < 0:
		return errors.New("histgen: negative duration")
	}
	return nil
}

// event kinds, in the order they are processed when simultaneous.
const (
	evInvoke = iota
	evApply
	evComplete
)

type event struct {
	at     int64
	seq    int64 // ties: first scheduled first
	kind   int
	thread int
	op     *simOp
}

type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// simOp is one operation in flight.
type simOp struct {
	f        string
	key      int
	process  history.Process
	arg      history.Value // invoke value
	old, new int64         // cas
	info     bool
	applied  bool // the effect happened
	swapped  bool // cas
	read     history.Value
	tx       *txnState // ListAppend's transaction
}

// register is a simulated atomic register.
type register struct {
	set bool
	v   int64
	// written is every value written to it, for CAS guesses.
	written []int64
}

// Register generates a linearizable history of reads, writes and CAS on
// c.Keys independent registers, drawing every choice from r. Written
// values (writes and the new value of CAS) are unique across the history.
func Register(r *rand.Rand, c Config) (*history.History, error) {
	if r == nil {
		return nil, errors.New("histgen: nil *rand.Rand")
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.ReadWeight+c.WriteWeight+c.CASWeight == 0 {
		c.ReadWeight, c.WriteWeight = 1, 1
	}
	if c.MeanLatency == 0 {
		c.MeanLatency = time.Millisecond
	}
	mean := float64(c.MeanLatency)
	think := float64(c.MeanThink)

	h := &history.History{Ops: make([]history.Op, 0, 2*c.Ops)}
	regs := make([]register, c.Keys)
	keys := make([]string, c.Keys)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	procs := make([]history.Process, c.Processes)
	for i := range procs {
		procs[i] = history.Process(i)
	}
	crashed := make([]bool, c.Processes)
	nextProc := history.Process(c.Processes)
	var nextValue int64 = 1
	var seq int64
	q := &eventQueue{}
	push := func(e event) {
		e.seq = seq
		seq++
		heap.Push(q, e)
	}
	latency := func() int64 {
		return int64(mean/10 + r.ExpFloat64()*mean*0.9)
	}
	invoked := 0
	for t := range c.Processes {
		if invoked < c.Ops {
			invoked++
			push(event{at: int64(r.Float64() * mean), kind: evInvoke, thread: t})
		}
	}
	record := func(at int64, typ history.Type, p history.Process, op *simOp, v history.Value) {
		h.Ops = append(h.Ops, history.Op{Index: len(h.Ops), Time: at, Type: typ, Process: p, F: op.f, Key: keys[op.key], Value: v})
	}
	total := c.ReadWeight + c.WriteWeight + c.CASWeight
	for q.Len() > 0 {
		e := heap.Pop(q).(event)
		switch e.kind {
		case evInvoke:
			if crashed[e.thread] {
				// After an info the thread continues as a new process.
				procs[e.thread] = nextProc
				nextProc++
				crashed[e.thread] = false
			}
			op := &simOp{key: r.IntN(c.Keys), process: procs[e.thread]}
			reg := &regs[op.key]
			switch x := r.Float64() * total; {
			case x < c.ReadWeight:
				op.f = "read"
			case x < c.ReadWeight+c.WriteWeight:
				op.f, op.new = "write", nextValue
				nextValue++
				op.arg = history.Int(op.new)
			default:
				op.f, op.new = "cas", nextValue
				nextValue++
				switch {
				case reg.set && r.IntN(10) < 7:
					op.old = reg.v // likely to swap
				case len(reg.written) > 0:
					op.old = reg.written[r.IntN(len(reg.written))]
				default:
					op.old = -1 - r.Int64N(1000) // never written
				}
				op.arg = history.Ints(op.old, op.new)
			}
			record(e.at, history.Invoke, op.process, op, op.arg)
			lat := latency()
			op.info = r.Float64() < c.InfoFraction
			switch {
			case !op.info:
				// Strictly inside the interval.
				push(event{at: e.at + 1 + r.Int64N(max(lat-1, 1)), kind: evApply, op: op})
				lat = max(lat, 2)
			case r.IntN(2) == 0:
				// An info op that takes effect, maybe after its
				// timeout was recorded.
				push(event{at: e.at + 1 + r.Int64N(max(3*lat, 1)), kind: evApply, op: op})
			}
			push(event{at: e.at + lat, kind: evComplete, thread: e.thread, op: op})
		case evApply:
			op := e.op
			reg := &regs[op.key]
			op.applied = true
			switch op.f {
			case "read":
				op.read = history.Nil()
				if reg.set {
					op.read = history.Int(reg.v)
				}
			case "write":
				reg.set, reg.v = true, op.new
				reg.written = append(reg.written, op.new)
			case "cas":
				if reg.set && reg.v == op.old {
					op.swapped = true
					reg.v = op.new
					reg.written = append(reg.written, op.new)
				}
			}
		case evComplete:
			op := e.op
			switch {
			case op.info:
				record(e.at, history.Info, op.process, op, op.arg)
				crashed[e.thread] = true
			case op.f == "read":
				record(e.at, history.OK, op.process, op, op.read)
			case op.f == "cas" && !op.swapped && c.NotSwappedOK:
				record(e.at, history.OK, op.process, op, history.List(history.Int(op.old), history.Int(op.new), history.Str(NotSwapped)))
			case op.f == "cas" && !op.swapped:
				record(e.at, history.Fail, op.process, op, op.arg)
			default:
				record(e.at, history.OK, op.process, op, op.arg)
			}
			if invoked < c.Ops {
				invoked++
				pause := int64(0)
				if think > 0 {
					pause = int64(r.ExpFloat64() * think)
				}
				push(event{at: e.at + pause, kind: evInvoke, thread: e.thread})
			}
		}
	}
	return h, nil
}
