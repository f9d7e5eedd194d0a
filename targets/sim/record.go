package sim

import (
	"cmp"
	"maps"
	"slices"
)

// The data model. Each replica keeps, per key, one record. A record holds
// the three kinds of value the workloads use (a key is only ever used as
// one kind, so the others stay empty):
//
//   - a register: one int64 and the timestamp of the write that set it.
//     Conflicts resolve by last-write-wins on that timestamp, which comes
//     from the COORDINATOR's clock. A coordinator whose clock is behind
//     therefore writes values that lose to older writes: acknowledged
//     writes that vanish.
//   - a set: the elements ever added. Adds commute, so replicas merge by
//     union and no add is ever lost once it reached a replica (like a
//     Cassandra set collection).
//   - a set stored as ONE value (SetLWW): the whole set with the
//     timestamp of the write that set it, as an application does that
//     keeps a list in a document or a JSON blob. An add reads the set and
//     writes it back with the element added; conflicts resolve by
//     last-write-wins like a register, so concurrent adds and clock skew
//     lose acknowledged elements.
//   - a counter: one shard per coordinator node, like Cassandra's counter
//     shards. An increment through node n reads n's own shard, adds the
//     delta and writes the shard with the next version of n's own logical
//     clock; replicas keep, per shard, the highest version. The counter is
//     the sum of the shards. Increments through one coordinator serialise
//     on that node, so they are never lost unless the coordinator forgets
//     its own shard (a kill losing unflushed writes) and reuses versions.
//
// Every write, read repair and hint is a record merged into a replica with
// merge, a join: commutative, associative, idempotent. Replicas that have
// seen the same writes, in any order, hold the same record.

// cell is a last-write-wins register value.
type cell struct {
	ts    int64 // coordinator clock, Unix nanoseconds
	value int64
	ok    bool // false: never written
}

// newer reports whether a beats b under last-write-wins: the higher
// timestamp, ties broken by the higher value so every replica picks the
// same winner.
func (a cell) newer(b cell) bool {
	switch {
	case !a.ok:
		return false
	case !b.ok:
		return true
	case a.ts != b.ts:
		return a.ts > b.ts
	}
	return a.value > b.value
}

// shard is one coordinator's part of a counter.
type shard struct {
	version uint64 // the coordinator's logical clock for this shard
	value   int64
}

// record is one replica's state for one key. A record that has been handed
// to another goroutine (in a message, a hint or a result) is never
// mutated again; merge copies what it takes.
type record struct {
	reg    cell
	set    map[int64]struct{}
	shards map[string]shard
	lset   lwwSet
	// list is a list-append list as Cassandra stores a list collection:
	// each append is one cell, named by the coordinator's timestamp;
	// replicas merge cells by union, and the list is its cells in
	// timestamp order. Appends commute (none is lost once it reached a
	// replica), but an append stamped by a clock that is behind lands in
	// the middle of the list, not at its end.
	list map[listCell]struct{}
}

// listCell is one appended element and its timestamp.
type listCell struct{ ts, value int64 }

// listElems returns the list: its cells in timestamp order (ties by
// value), nil when nothing was appended.
func (r *record) listElems() []int64 {
	if len(r.list) == 0 {
		return nil
	}
	cells := slices.SortedFunc(maps.Keys(r.list), func(a, b listCell) int {
		if a.ts != b.ts {
			return cmp.Compare(a.ts, b.ts)
		}
		return cmp.Compare(a.value, b.value)
	})
	out := make([]int64, len(cells))
	for i, c := range cells {
		out[i] = c.value
	}
	return out
}

// lwwSet is a whole set under last-write-wins. Its elements are never
// mutated once stored.
type lwwSet struct {
	ts    int64
	elems []int64 // ascending
	ok    bool
}

// newer reports whether a beats b under last-write-wins, ties broken by
// the longer then the lexicographically larger list.
func (a lwwSet) newer(b lwwSet) bool {
	switch {
	case !a.ok:
		return false
	case !b.ok:
		return true
	case a.ts != b.ts:
		return a.ts > b.ts
	case len(a.elems) != len(b.elems):
		return len(a.elems) > len(b.elems)
	}
	return slices.Compare(a.elems, b.elems) > 0
}

// merge folds src into r and reports whether r changed.
func (r *record) merge(src *record) bool {
	changed := false
	if src.reg.newer(r.reg) {
		r.reg = src.reg
		changed = true
	}
	if src.lset.newer(r.lset) {
		r.lset = src.lset
		changed = true
	}
	for c := range src.list {
		if _, ok := r.list[c]; !ok {
			if r.list == nil {
				r.list = make(map[listCell]struct{})
			}
			r.list[c] = struct{}{}
			changed = true
		}
	}
	for e := range src.set {
		if _, ok := r.set[e]; !ok {
			if r.set == nil {
				r.set = make(map[int64]struct{})
			}
			r.set[e] = struct{}{}
			changed = true
		}
	}
	for id, s := range src.shards {
		if cur, ok := r.shards[id]; !ok || s.version > cur.version {
			if r.shards == nil {
				r.shards = make(map[string]shard)
			}
			r.shards[id] = s
			changed = true
		}
	}
	return changed
}

// covers reports whether merging src into r would change nothing: r is at
// least as new as src.
func (r *record) covers(src *record) bool {
	if src.reg.newer(r.reg) || src.lset.newer(r.lset) {
		return false
	}
	for c := range src.list {
		if _, ok := r.list[c]; !ok {
			return false
		}
	}
	for e := range src.set {
		if _, ok := r.set[e]; !ok {
			return false
		}
	}
	for id, s := range src.shards {
		if cur, ok := r.shards[id]; !ok || s.version > cur.version {
			return false
		}
	}
	return true
}

// clone returns a deep copy of r; clone of nil is an empty record.
func (r *record) clone() *record {
	if r == nil {
		return &record{}
	}
	return &record{reg: r.reg, set: maps.Clone(r.set), shards: maps.Clone(r.shards), lset: r.lset, list: maps.Clone(r.list)}
}

// elements returns the set's elements in ascending order.
func (r *record) elements() []int64 {
	return slices.Sorted(maps.Keys(r.set))
}

// counter returns the sum of the counter's shards.
func (r *record) counter() int64 {
	var sum int64
	for _, s := range r.shards {
		sum += s.value
	}
	return sum
}
