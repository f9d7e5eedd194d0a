package checkers

import (
	"math"
	"slices"
	"sort"
)

// This file holds the exact reductions the Linearizable checker applies to
// one key's register operations before the search. "Exact" means that the
// key is linearizable with the operations given if and only if it is
// linearizable with those returned: a reduction never changes a verdict,
// it only spares the search work.
//
// The proofs take a linearization L as a sequence of operations, each
// placed at a point strictly inside its interval [call, ret] (positions in
// the history; ret = +infinity for an unknown outcome), in increasing
// order of points, with every step legal for the register. "The window of
// an operation u in L" is the run of operations after u in L, up to the
// next one that writes (a write or a CAS that swaps), during which the
// register holds what u left.
//
// Facts used throughout, for a register whose values are compared exactly:
//   - a value nobody observes (no ok read returns it, no CAS of any kind
//     compares against it) is never in the window of the op that wrote it
//     as the state an ok read, an ok swapped CAS or a CAS compare sees:
//     such an op would observe it;
//   - an operation of unknown outcome with ret = +infinity can be moved to
//     the end of L: it is invoked before the end, and a CAS of unknown
//     outcome is accepted in any state (a write too);
//   - an operation whose step never fails and never changes the state (an
//     ok not-swapped CAS where the register does not hold its compare
//     value; a CAS of unknown outcome that does not swap) can be added to
//     or removed from L at any point where that holds.

// linReduce applies the reductions to ops (interned by in), each exact on
// the operations the previous ones left, so the composition is exact:
// linDropPlaceableNotSwapped, linDropNeverSwapping, linReduceUnknown (drop
// the unobserved, bound the needed), linDropHiddenWrites, twice (a drop
// can enable another), then linMergeUnobserved.
func linReduce(ops []linOp, in *linInterner) []linOp {
	for range 2 {
		linTally(ops)
		ops = linDropPlaceableNotSwapped(ops)
		linTally(ops)
		ops = linDropNeverSwapping(ops)
		ops = linReduceUnknown(ops)
		linTally(ops)
		ops = linDropHiddenWrites(ops)
	}
	linTally(ops)
	linMergeUnobserved(ops, in)
	return ops
}

// linTally sets the per-value facts of linVal (observed, writers, needed,
// firstWriterCall, lastWriterRet) from ops. linEmpty, which is shared, is
// never written to.
func linTally(ops []linOp) {
	reset := func(r *linVal) {
		if r == nil || r == linEmpty {
			return
		}
		r.observed, r.writers, r.needed = false, 0, -1
		r.firstWriterCall, r.lastWriterRet = math.MaxInt64, -1
		r.nsLastRet = -1
	}
	for n := range ops {
		reset(ops[n].reg)
		reset(ops[n].reg2)
	}
	need := func(r *linVal, ret int64) {
		if r.needed < 0 || ret < r.needed {
			r.needed = ret
		}
	}
	wrote := func(r *linVal, o *linOp) {
		r.writers++
		r.firstWriterCall = min(r.firstWriterCall, o.call)
		r.lastWriterRet = max(r.lastWriterRet, o.ret)
	}
	for n := range ops {
		o := &ops[n]
		switch o.kind {
		case linRead:
			if o.reg != linEmpty {
				o.reg.observed = true
				need(o.reg, o.ret)
			}
		case linWrite:
			wrote(o.reg, o)
		case linCAS:
			o.reg.observed = true
			need(o.reg, o.ret)
			wrote(o.reg2, o)
		case linCASUnknown:
			o.reg.observed = true
			wrote(o.reg2, o)
		case linCASNotSwapped:
			o.reg.observed = true
			o.reg.nsLastRet = max(o.reg.nsLastRet, o.ret)
		}
	}
}

// linNSIndex answers, for the ok not-swapped CAS of a key, whether one of
// them could be hurt by removing an operation: see hides.
type linNSIndex struct {
	rets []int64 // returns of the not-swapped CAS, ascending
	// minWriter[i] is the earliest invocation of a writer of the compare
	// value of any of the CAS i.. (in rets order).
	minWriter []int64
}

func newLinNSIndex(ops []linOp) linNSIndex {
	type ns struct{ ret, writer int64 }
	var all []ns
	for n := range ops {
		if o := &ops[n]; o.kind == linCASNotSwapped {
			all = append(all, ns{o.ret, o.reg.firstWriterCall})
		}
	}
	slices.SortFunc(all, func(a, b ns) int {
		switch {
		case a.ret < b.ret:
			return -1
		case a.ret > b.ret:
			return 1
		}
		return 0
	})
	x := linNSIndex{rets: make([]int64, len(all)), minWriter: make([]int64, len(all)+1)}
	x.minWriter[len(all)] = math.MaxInt64
	for i := len(all) - 1; i >= 0; i-- {
		x.rets[i] = all[i].ret
		x.minWriter[i] = min(x.minWriter[i+1], all[i].writer)
	}
	return x
}

// hides reports whether some ok not-swapped CAS c returned after call (so
// that it may be placed after a point inside [call, ret]) compares against
// a value that some operation invoked before ret may write (so that the
// register may hold it just before that point). Removing an operation u
// with interval [call, ret] whose value nobody observes can only hurt such
// a c: in u's window c saw u's value, and without u it sees what the
// register held before u, which an op linearized before u's point, hence
// invoked before ret, wrote.
func (x linNSIndex) hides(call, ret int64) bool {
	i := sort.Search(len(x.rets), func(i int) bool { return x.rets[i] > call })
	return x.minWriter[i] < ret
}

// linDropPlaceableNotSwapped drops the ok not-swapped CAS c = [a b] that
// can be placed in every linearization of the others: those where a is
// never written, where every writer of a is invoked after c is, and
// those where a has one writer wa, with a known (or bounded) return Ra,
// and some ok read or ok swapped CAS o that needs the register to hold a
// value other than a is invoked after Ra and returns before c does.
//
// Proof sketch. c never changes the state, so removing it from a
// linearization leaves a linearization. Conversely, take a linearization
// L of the others; it is enough to find a point inside c's interval where
// the register does not hold a. With no writer of a, the register never
// holds a (initially it is empty); with writers all invoked after c is,
// it does not hold a between c's call and the first of theirs. In the third case, wa's point in L is
// before Ra < o's call < o's point to, where the register holds o's value,
// not a; a has no other writer, so from to on the register never holds a
// again; and to < o's return < c's return, so any point after both to and
// c's call, before c's return, will do.
func linDropPlaceableNotSwapped(ops []linOp) []linOp {
	// The ops that need a given state, by call: ok reads and ok swapped
	// CAS.
	type req struct {
		call, ret int64
		reg       *linVal
	}
	var reqs []req
	for n := range ops {
		o := &ops[n]
		if o.kind == linRead || o.kind == linCAS {
			reqs = append(reqs, req{o.call, o.ret, o.reg})
		}
	}
	slices.SortFunc(reqs, func(a, b req) int {
		switch {
		case a.call < b.call:
			return -1
		case a.call > b.call:
			return 1
		}
		return 0
	})
	// best[i] is the earliest return among reqs[i:], best2[i] the earliest
	// among those of another state than best[i]'s.
	type ret struct {
		ret int64
		reg *linVal
	}
	none := ret{ret: math.MaxInt64}
	best := make([]ret, len(reqs)+1)
	best2 := make([]ret, len(reqs)+1)
	best[len(reqs)], best2[len(reqs)] = none, none
	for i := len(reqs) - 1; i >= 0; i-- {
		cur := ret{reqs[i].ret, reqs[i].reg}
		b1, b2 := best[i+1], best2[i+1]
		switch {
		case cur.ret < b1.ret:
			if b1.reg != cur.reg {
				b2 = b1
			}
			b1 = cur
		case cur.reg != b1.reg && cur.ret < b2.ret:
			b2 = cur
		}
		best[i], best2[i] = b1, b2
	}
	// earliestOther is the earliest return of a req invoked after t that
	// needs a state other than a.
	earliestOther := func(t int64, a *linVal) int64 {
		i := sort.Search(len(reqs), func(i int) bool { return reqs[i].call > t })
		if best[i].reg != a {
			return best[i].ret
		}
		return best2[i].ret
	}
	kept := ops[:0]
	for _, o := range ops {
		if o.kind == linCASNotSwapped {
			a := o.reg
			switch {
			case a.writers == 0, a.firstWriterCall > o.call:
				continue
			case a.writers == 1 && a.lastWriterRet != math.MaxInt64 && earliestOther(a.lastWriterRet, a) < o.ret:
				continue
			}
		}
		kept = append(kept, o)
	}
	return kept
}

// linDropNeverSwapping drops the CAS of unknown outcome [a b] where no
// operation may write a.
//
// Proof sketch. The register never holds a (it starts empty, and a is an
// integer nobody writes), so in every state the CAS is accepted and
// changes nothing: it can be added to or removed from any linearization.
func linDropNeverSwapping(ops []linOp) []linOp {
	kept := ops[:0]
	for _, o := range ops {
		if o.kind == linCASUnknown && o.reg.writers == 0 {
			continue
		}
		kept = append(kept, o)
	}
	return kept
}

// linReduceUnknown applies two exact reductions to the writes and CAS of
// unknown outcome (info or never completed), which otherwise stay pending
// until the end of the search and multiply the placements it tries.
//
// Drop the unobserved. Let u be an unknown-outcome write of x, or CAS
// [a x], with interval [call, ret], where no ok read returns x, no CAS
// compares against x, and no ok not-swapped CAS returned after call
// compares against a value some operation invoked before ret may write
// (linNSIndex.hides), or, for a CAS, against a. If the key is linearizable without u, it is with u
// (u takes effect last, i.e. never). Conversely, take a linearization with
// u, where u set the register to x (a CAS that did not swap can simply be
// removed). In u's window there are no reads and no swapped CAS (they
// would observe x); there are CAS of unknown outcome that did not swap,
// which, when their return is +infinity, can be moved to the end; those
// with a bounded return (below) always swap, so they are not there; and
// there are not-swapped CAS, which compared against a value other than x.
// Removing u puts back, in the window, the state before u, which an
// operation placed before u's point, hence invoked before ret, wrote (for
// a CAS that swapped: a): by the condition, no not-swapped CAS in the
// window compares against it.
// What remains is a linearization without u. So u is dropped.
//
// Bound the needed. Let u be an unknown-outcome write of x, or CAS [a x],
// where u is the only operation that may write x, and some operation
// requires the register to hold x (an ok read returning x, an ok CAS that
// swapped from x). In every linearization u takes effect (as a swap, for
// a CAS) before all of them, hence before the earliest of their returns,
// R. So u's return can be R instead of +infinity (or its call, if R comes
// first, a history that is not linearizable either way) without changing
// the verdict.
func linReduceUnknown(ops []linOp) []linOp {
	linTally(ops)
	ns := newLinNSIndex(ops)
	kept := ops[:0]
	for _, o := range ops {
		var x *linVal
		switch {
		case !o.unknown:
		case o.kind == linWrite:
			x = o.reg
		case o.kind == linCASUnknown:
			x = o.reg2
		}
		hidden := false
		switch {
		case x == nil:
		case o.kind == linCASUnknown:
			// The state before it swapped was its old value.
			hidden = o.reg.nsLastRet > o.call
		default:
			hidden = ns.hides(o.call, o.ret)
		}
		if x != nil && !x.observed && !hidden {
			continue
		}
		if x != nil && x.writers == 1 && x.needed >= 0 {
			o.ret = min(o.ret, max(o.call, x.needed))
		}
		kept = append(kept, o)
	}
	return kept
}

// linDropHiddenWrites drops the ok writes w of a value x nobody observes
// (no ok read returns x, no CAS compares against x) whose interval
// strictly contains that of another ok write w', and where no ok
// not-swapped CAS returned after w's call compares against a value some
// operation invoked before w's return may write (linNSIndex.hides).
//
// Proof sketch. If the key is linearizable without w: w' is placed inside
// its interval, hence inside w's; place w just before it, with nothing in
// between. w's value is overwritten at once and nobody sees it: a
// linearization with w. Conversely, remove w from a linearization with w:
// the argument of "drop the unobserved" (linReduceUnknown) holds word for
// word with w's return for ret. Dropping several such writes at once is
// dropping them one at a time, the longest interval first: the witness w'
// of each is then still there (its interval is shorter) or was kept, and
// the other conditions do not depend on the writes of unobserved values.
func linDropHiddenWrites(ops []linOp) []linOp {
	ns := newLinNSIndex(ops)
	type iv struct{ call, ret int64 }
	var writes []iv
	for n := range ops {
		if o := &ops[n]; o.kind == linWrite && !o.unknown {
			writes = append(writes, iv{o.call, o.ret})
		}
	}
	slices.SortFunc(writes, func(a, b iv) int {
		switch {
		case a.call < b.call:
			return -1
		case a.call > b.call:
			return 1
		}
		return 0
	})
	minRet := make([]int64, len(writes)+1) // earliest return among writes[i:]
	minRet[len(writes)] = math.MaxInt64
	for i := len(writes) - 1; i >= 0; i-- {
		minRet[i] = min(minRet[i+1], writes[i].ret)
	}
	nested := func(call, ret int64) bool {
		i := sort.Search(len(writes), func(i int) bool { return writes[i].call > call })
		return minRet[i] < ret
	}
	kept := ops[:0]
	for _, o := range ops {
		if o.kind == linWrite && !o.unknown && !o.reg.observed && nested(o.call, o.ret) && !ns.hides(o.call, o.ret) {
			continue
		}
		kept = append(kept, o)
	}
	return kept
}

// linMergeUnobserved makes every value nobody observes (linVal.observed
// false, as linTally left it) one search state.
//
// Proof sketch. No step tells two such values apart: a read compares the
// state with a value it returns, a CAS with the value it compares against,
// both observed; a not-swapped CAS accepts both, a CAS of unknown outcome
// leaves both unchanged. So the register's behaviour from either state is
// the same (they are bisimilar), and the search, which caches the states
// it reached, need not tell them apart: orders of the writes of such
// values that end in different ones of them reach one cached state.
func linMergeUnobserved(ops []linOp, in *linInterner) {
	bottom := &linVal{id: in.n + 1, bottom: true, needed: -1}
	merge := func(r *linVal) {
		if r != nil && r != linEmpty && !r.observed {
			r.rep = bottom
		}
	}
	for n := range ops {
		merge(ops[n].reg)
		merge(ops[n].reg2)
	}
}
