package measures

import (
	"math"
	"slices"
	"sort"

	"github.com/chaoscheck/chaoscheck/history"
)

// ReadStaleness is how stale the reads of registers were, over every read
// (not only the checkers' witnesses).
//
// Definition: a read r of key k that returned the value written by the
// write w is stale when some write w' of k was acknowledged (ok) before
// r was invoked, and w' was invoked after w completed, so that w' is
// certainly later than w in real time and r certainly missed it. Its
// staleness is r's invocation time minus the acknowledgement time of the
// earliest such w'. A read of nothing (the key never written) is stale
// when any write of k was acknowledged before it was invoked. All times
// are the controller's (history times).
//
// What it proves, and what it does not: a stale read returned a value
// older than one the database had acknowledged before the read began, so
// the store is not linearizable on that key; a read it calls fresh may
// still be stale in ways real time cannot show (w' concurrent with w, or
// with r). It rests on unique values per write, which the register
// workloads (register, ryw) guarantee: the value a
// read returns names its write. A value written by an indeterminate
// (info) write, whose completion time is unknown, never makes a read
// stale; nor does a value no write of the key wrote. CAS counts as a
// write of its new value when it swapped (ok) or may have (info); a CAS
// that did not swap wrote nothing.
//
// Reads count on keys that registers use (some write or cas of the key
// in the history), unless a value was written twice to the key (its
// reads cannot name their write: the key is left out); reads of sets, counters and transactions are not
// register reads and are left out. Reads that did not succeed are not
// counted.
type ReadStaleness struct {
	Reads int   `json:"reads"`
	Stale int   `json:"stale"`
	P50NS int64 `json:"p50_ns"`
	P99NS int64 `json:"p99_ns"`
	MaxNS int64 `json:"max_ns"`
	// ByNode breaks them down by the node that served each read, in node
	// order (reads whose node is not known are only in the totals).
	ByNode []NodeStaleness `json:"by_node,omitempty"`
	// OverTime breaks them down by the invocation time of each read.
	OverTime *StalenessOverTime `json:"over_time,omitempty"`
}

// NodeStaleness is the staleness of the reads one node served.
type NodeStaleness struct {
	Node  string `json:"node"`
	Reads int    `json:"reads"`
	Stale int    `json:"stale"`
	P50NS int64  `json:"p50_ns"`
	P99NS int64  `json:"p99_ns"`
	MaxNS int64  `json:"max_ns"`
}

// StalenessOverTime buckets the reads by invocation time.
type StalenessOverTime struct {
	BucketNS int64             `json:"bucket_ns"`
	Buckets  []StalenessBucket `json:"buckets"`
}

// StalenessBucket holds the reads invoked in [StartNS, StartNS+BucketNS).
type StalenessBucket struct {
	StartNS int64 `json:"start_ns"`
	Reads   int   `json:"reads"`
	Stale   int   `json:"stale"`
	MaxNS   int64 `json:"max_ns"`
}

// staleCounter measures ReadStaleness in one pass over the completions,
// in completion order. It holds, per write of a register key, its value
// and completion time (16 bytes), and per ok write its acknowledgement
// time and the running maximum of invocation times (16 bytes); per stale
// read its staleness (8 bytes, twice: for the totals and for its node);
// nothing per fresh read but counts.
type staleCounter struct {
	keys   map[string]*keyWrites // register keys (known from the first pass)
	bucket int64
	start  int64 // start of the first bucket (the test start)

	reads, stale int
	ns           []int64
	nodes        map[string]*nodeStale
	buckets      []StalenessBucket
}

type nodeStale struct {
	reads int
	ns    []int64
}

// keyWrites are the completed writes of one key.
type keyWrites struct {
	// vals and done are the completed writes' values, sorted, and their
	// completion times (unknownCompletion when indeterminate: it may
	// still be applied). Writes complete nearly in value order (the
	// workloads draw values from one counter at invocation), so a value
	// is inserted by a short walk from the end; one that would move more
	// than maxShift entries goes to extra instead.
	vals, done []int64
	extra      map[int64]int64
	// dup: some value was written twice, so a read's value does not name
	// its write: the key's reads are not measured.
	dup bool
	// acks are the ok writes' completion times, in completion order;
	// maxInv[i] is the latest invocation time among acks[:i+1].
	acks   []int64
	maxInv []int64
}

// maxShift bounds the entries an insertion moves in keyWrites.vals.
const maxShift = 64

// complete records that the write of v completed at t.
func (kw *keyWrites) complete(v, t int64) {
	n := len(kw.vals)
	j := n
	for j > 0 && n-j < maxShift && kw.vals[j-1] > v {
		j--
	}
	if j > 0 && kw.vals[j-1] == v {
		kw.dup = true
		return
	}
	if j > 0 && kw.vals[j-1] > v {
		if _, ok := kw.find(v); ok {
			kw.dup = true
			return
		}
		if kw.extra == nil {
			kw.extra = map[int64]int64{}
		}
		kw.extra[v] = t
		return
	}
	if _, ok := kw.extra[v]; ok {
		kw.dup = true
		return
	}
	kw.vals = slices.Insert(kw.vals, j, v)
	kw.done = slices.Insert(kw.done, j, t)
}

// find returns the completion time of the write of v.
func (kw *keyWrites) find(v int64) (int64, bool) {
	if i, ok := slices.BinarySearch(kw.vals, v); ok {
		return kw.done[i], true
	}
	t, ok := kw.extra[v]
	return t, ok
}

const unknownCompletion = math.MaxInt64

// registerKey reports whether op makes its key a register's.
func registerKey(op *history.Op) bool {
	return op.IsClient() && op.Key != "" && (op.F == "write" || op.F == "cas")
}

func newStaleCounter(keys map[string]bool, start, end int64) *staleCounter {
	if len(keys) == 0 {
		return nil
	}
	c := &staleCounter{keys: make(map[string]*keyWrites, len(keys)), nodes: map[string]*nodeStale{}, start: start}
	for k := range keys {
		c.keys[k] = &keyWrites{}
	}
	c.bucket = bucketWidth(end - start)
	return c
}

// bucketWidth is a round width that cuts span into at most 120 buckets,
// at least 100 ms each.
func bucketWidth(span int64) int64 {
	for _, w := range []int64{1e8, 2e8, 5e8, 1e9, 2e9, 5e9, 1e10, 3e10, 6e10, 12e10, 3e11, 6e11} {
		if span/w < 120 {
			return w
		}
	}
	return (span/120/6e11 + 1) * 6e11
}

// pair counts one client operation when it completes (cmp nil: never).
func (c *staleCounter) pair(inv *pending, cmp *history.Op) {
	kw := c.keys[inv.key]
	if kw == nil || cmp == nil || kw.dup {
		return
	}
	switch inv.f {
	case "write", "cas":
		v, ok := writtenValue(inv, cmp)
		if !ok {
			return
		}
		if cmp.Type == history.OK {
			kw.complete(v, cmp.Time)
			m := inv.time
			if n := len(kw.maxInv); n > 0 {
				m = max(m, kw.maxInv[n-1])
			}
			kw.acks = append(kw.acks, cmp.Time)
			kw.maxInv = append(kw.maxInv, m)
		} else {
			kw.complete(v, unknownCompletion)
		}
	case "read":
		if cmp.Type != history.OK {
			return
		}
		c.read(kw, inv, cmp)
	}
}

// writtenValue is the value a write or cas completed by cmp may have
// written.
func writtenValue(inv *pending, cmp *history.Op) (int64, bool) {
	if cmp.Type == history.Fail {
		return 0, false
	}
	if inv.f == "write" {
		return inv.value.AsInt()
	}
	vs, _ := inv.value.AsInts()
	if len(vs) != 2 {
		return 0, false
	}
	if cmp.Type == history.OK {
		if l, _ := cmp.Value.AsList(); len(l) == 3 {
			if s, _ := l[2].AsString(); s == history.NotSwapped {
				return 0, false
			}
		}
	}
	return vs[1], true
}

// read counts the ok read invoked as inv, completed by cmp.
func (c *staleCounter) read(kw *keyWrites, inv *pending, cmp *history.Op) {
	after := int64(math.MinInt64) // w's completion: w' must be invoked after it
	if v, ok := cmp.Value.AsInt(); ok {
		done, known := kw.find(v)
		if !known || done == unknownCompletion {
			after = unknownCompletion // not completed yet, indeterminate, or not a write of this key
		} else {
			after = done
		}
	} else if !cmp.Value.IsNil() {
		return // not a register read
	}
	c.reads++
	node := cmp.Node
	if node == "" {
		node = inv.node
	}
	var ns *nodeStale
	if node != "" {
		if ns = c.nodes[node]; ns == nil {
			ns = &nodeStale{}
			c.nodes[node] = ns
		}
		ns.reads++
	}
	b := c.bucketAt(inv.time)
	b.Reads++
	if after == unknownCompletion {
		return
	}
	// The earliest ok write invoked after `after`: the first, in
	// completion order, whose running maximum of invocations passes it.
	i := sort.Search(len(kw.maxInv), func(i int) bool { return kw.maxInv[i] > after })
	if i == len(kw.acks) || kw.acks[i] >= inv.time {
		return
	}
	d := inv.time - kw.acks[i]
	c.stale++
	c.ns = append(c.ns, d)
	if ns != nil {
		ns.ns = append(ns.ns, d)
	}
	b.Stale++
	b.MaxNS = max(b.MaxNS, d)
}

// bucketAt returns the bucket of time t, adding buckets up to it.
func (c *staleCounter) bucketAt(t int64) *StalenessBucket {
	i := max(int((t-c.start)/c.bucket), 0)
	for len(c.buckets) <= i {
		c.buckets = append(c.buckets, StalenessBucket{StartNS: c.start + int64(len(c.buckets))*c.bucket})
	}
	return &c.buckets[i]
}

func (c *staleCounter) result() *ReadStaleness {
	if c == nil || c.reads == 0 {
		return nil
	}
	s := Stats(c.ns)
	out := &ReadStaleness{Reads: c.reads, Stale: c.stale, P50NS: s.P50NS, P99NS: s.P99NS, MaxNS: s.MaxNS,
		OverTime: &StalenessOverTime{BucketNS: c.bucket, Buckets: c.buckets}}
	names := make([]string, 0, len(c.nodes))
	for n := range c.nodes {
		names = append(names, n)
	}
	slices.SortFunc(names, nodeOrder)
	for _, n := range names {
		ns := c.nodes[n]
		s := Stats(ns.ns)
		out.ByNode = append(out.ByNode, NodeStaleness{Node: n, Reads: ns.reads, Stale: len(ns.ns), P50NS: s.P50NS, P99NS: s.P99NS, MaxNS: s.MaxNS})
	}
	return out
}
