package checkers

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/chaoscheck/chaoscheck/history"
)

// linSearch decides whether the register operations of k are
// linearizable: the search of Wing and Gong with Lowe's cache of visited
// configurations, as porcupine does it, plus one exact pruning, the
// observers first (below). decided is false when stop became true first.
//
// The search keeps the operations' call and return entries in one list in
// time order (calls before returns at equal times). A configuration is the
// set of operations linearized so far and the register state they leave;
// the candidates are the operations whose call comes before the first
// return entry of an operation not yet linearized. The search linearizes
// a candidate whose step is legal, unless the configuration it leads to
// was visited already; it backtracks when it meets a return entry, and
// succeeds when every operation is linearized.
//
// Observers first. An observer is an operation that never changes the
// state: an ok read, an ok not-swapped CAS. When an observer r is a
// candidate and its step is legal in the current state s, the search
// linearizes r next and does not try the alternatives. This loses no
// linearization: take any linearizable completion E of the current
// prefix; moving r to its front keeps every step legal (r sees s, and
// removing r from its old place changes no state) and keeps real-time
// order (an operation that must precede r returned before r's call, so its
// return entry comes before r's call in the list, and, as r is a
// candidate, it is linearized already). So if the configuration with r
// added fails, the current one fails too, and backtracking past r goes on
// to the operation before it. The same argument makes a cache hit on the
// configuration with r added a failure of the current one.
//
// When it finds a linearization, it returns it (ids into k.ops, in
// order), so that the answer can be checked (certify).
func (k *linKey) search(stop *atomic.Bool) (linearizable, decided bool, seq []int) {
	n := len(k.ops)
	if n == 0 {
		return true, true, nil
	}
	type entry struct {
		op         int32
		call       bool
		match      *entry
		prev, next *entry
	}
	ents := make([]entry, 2*n+1)
	head := &ents[2*n]
	order := make([]*entry, 0, 2*n)
	for i := range k.ops {
		c, r := &ents[2*i], &ents[2*i+1]
		*c = entry{op: int32(i), call: true, match: r}
		*r = entry{op: int32(i), match: c}
		order = append(order, c, r)
	}
	time := func(e *entry) int64 {
		if e.call {
			return k.ops[e.op].call
		}
		return k.ops[e.op].ret
	}
	slices.SortFunc(order, func(a, b *entry) int {
		ta, tb := time(a), time(b)
		switch {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		case a.call != b.call:
			if a.call {
				return -1
			}
			return 1
		}
		return int(a.op - b.op)
	})
	prev := head
	for _, e := range order {
		prev.next, e.prev = e, prev
		prev = e
	}
	lift := func(e *entry) {
		e.prev.next = e.next
		if e.next != nil {
			e.next.prev = e.prev
		}
		m := e.match
		m.prev.next = m.next
		if m.next != nil {
			m.next.prev = m.prev
		}
	}
	unlift := func(e *entry) {
		m := e.match
		m.prev.next = m
		if m.next != nil {
			m.next.prev = m
		}
		e.prev.next = e
		if e.next != nil {
			e.next.prev = e
		}
	}

	words := (n + 63) / 64
	linearized := make([]uint64, words)
	type cached struct {
		set   []uint64
		state *linVal
	}
	cache := make(map[uint64][]cached)
	hash := func(st *linVal) uint64 {
		h := st.id*0x9e3779b97f4a7c15 + 1
		for _, w := range linearized {
			h ^= w
			h *= 0xff51afd7ed558ccd
			h ^= h >> 33
		}
		return h
	}
	// add records the configuration (linearized, st) and reports whether
	// it is new.
	add := func(st *linVal) bool {
		h := hash(st)
		for _, c := range cache[h] {
			if c.state == st && slices.Equal(c.set, linearized) {
				return false
			}
		}
		cache[h] = append(cache[h], cached{set: slices.Clone(linearized), state: st})
		return true
	}
	set := func(i int32) { linearized[i/64] |= 1 << (uint(i) % 64) }
	clr := func(i int32) { linearized[i/64] &^= 1 << (uint(i) % 64) }

	type frame struct {
		e      *entry
		state  *linVal
		forced bool // an observer linearized first: no alternative to try
		rescan bool // tried out of order: the alternatives are all candidates
	}
	var stack []frame
	state := linEmpty
	cur := head.next
	// backtrack undoes the last choice that has an alternative; false when
	// there is none left.
	backtrack := func() bool {
		for len(stack) > 0 {
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			clr(f.e.op)
			state = f.state
			unlift(f.e)
			if f.rescan {
				cur = head.next
				return true
			}
			if !f.forced {
				cur = f.e.next
				return true
			}
		}
		return false
	}
	observer := func(o *linOp) bool { return o.kind == linRead || o.kind == linCASNotSwapped }
	// writerOf maps a value (as a search state) to an operation that may
	// write it, for the order in which candidates are tried.
	writerOf := make(map[*linVal]int32)
	for i := range k.ops {
		o := &k.ops[i]
		switch o.kind {
		case linWrite:
			writerOf[o.reg.state()] = int32(i)
		case linCAS, linCASUnknown:
			writerOf[o.reg2.state()] = int32(i)
		}
	}
	// needed returns the candidate to try first, or nil: the operation
	// with the first return entry must be linearized before the
	// operations invoked after that; when it needs a state the register
	// does not hold, the writer of that state (or, when that is a CAS
	// that is not a candidate, the writer of what it swaps from) is the
	// likeliest next step.
	isCandidate := make([]bool, n)
	needed := func() *entry {
		var first *entry
		for e := head.next; e != nil; e = e.next {
			if !e.call {
				first = e
				break
			}
			isCandidate[e.op] = true
		}
		defer func() {
			for e := head.next; e != nil && e.call; e = e.next {
				isCandidate[e.op] = false
			}
		}()
		if first == nil {
			return nil
		}
		d := &k.ops[first.op]
		var want *linVal
		switch d.kind {
		case linRead, linCAS:
			want = d.reg.state()
		default:
			return nil
		}
		for range 8 {
			if want == state {
				return nil
			}
			w, ok := writerOf[want]
			if !ok {
				return nil
			}
			if isCandidate[w] {
				if ok, _ := linRegStep(state, &k.ops[w]); ok {
					return &ents[2*w]
				}
			}
			if o := &k.ops[w]; o.kind == linCAS || o.kind == linCASUnknown {
				want = o.reg.state()
				continue
			}
			return nil
		}
		return nil
	}
	fresh := true // cur is at the head of a configuration not yet scanned for observers
	for iter := 0; head.next != nil; iter++ {
		if iter&1023 == 0 && stop != nil && stop.Load() {
			return false, false, nil
		}
		if fresh {
			fresh = false
			var obs *entry
			for e := head.next; e != nil && e.call; e = e.next {
				if o := &k.ops[e.op]; observer(o) {
					if ok, _ := linRegStep(state, o); ok {
						obs = e
						break
					}
				}
			}
			if obs != nil {
				set(obs.op)
				if !add(state) {
					clr(obs.op)
					if !backtrack() {
						return false, true, nil
					}
					continue
				}
				stack = append(stack, frame{e: obs, state: state, forced: true})
				lift(obs)
				cur, fresh = head.next, true
				continue
			}
			// Try the needed writer first. When its subtree fails, the
			// scan starts again from the head and finds its
			// configuration in the cache.
			if p := needed(); p != nil {
				_, next := linRegStep(state, &k.ops[p.op]) // legal: needed checked it
				set(p.op)
				if add(next) {
					stack = append(stack, frame{e: p, state: state, rescan: true})
					state = next
					lift(p)
					cur, fresh = head.next, true
					continue
				}
				clr(p.op)
			}
		}
		if cur.call {
			o := &k.ops[cur.op]
			if ok, next := linRegStep(state, o); ok {
				set(cur.op)
				if add(next) {
					stack = append(stack, frame{e: cur, state: state})
					state = next
					lift(cur)
					cur, fresh = head.next, true
					continue
				}
				clr(cur.op)
			}
			cur = cur.next
			continue
		}
		if !backtrack() {
			return false, true, nil
		}
	}
	seq = make([]int, len(stack))
	for i, f := range stack {
		seq[i] = int(f.e.op)
	}
	return true, true, seq
}

// certify checks that seq is a linearization of k's register operations:
// each operation exactly once, every step legal from the empty register,
// and no operation placed after one invoked after it returned. It is the
// independent check of every linearizable answer of search.
func (k *linKey) certify(seq []int) error {
	if len(seq) != len(k.ops) {
		return fmt.Errorf("%d operations placed, want %d", len(seq), len(k.ops))
	}
	seen := make([]bool, len(k.ops))
	st := linEmpty
	maxCall := int64(math.MinInt64)
	for n, id := range seq {
		if id < 0 || id >= len(k.ops) || seen[id] {
			return fmt.Errorf("position %d: operation %d placed twice or unknown", n, id)
		}
		seen[id] = true
		o := &k.ops[id]
		if o.ret < maxCall {
			return fmt.Errorf("position %d: the %s returned before an operation placed earlier was invoked", n, o.describe())
		}
		maxCall = max(maxCall, o.call)
		ok, next := linRegStep(st, o)
		if !ok {
			return fmt.Errorf("position %d: the %s cannot follow state %s", n, o.describe(), st)
		}
		st = next
	}
	return nil
}

// refute looks for a proof, without a search, that the register
// operations of k (reduced, with linTally's facts current) are not
// linearizable: an operation q that needs the register to hold v (an ok
// read of v, an ok CAS that swapped from v), where v has one writer wv,
// with a known (or bounded) return R, and an operation e invoked after R
// returned before q was invoked, where e ends v's time in the register:
// an ok write, an ok swapped CAS, or an ok read of another value.
//
// Proof sketch. In any linearization wv's point < R < e's call < e's
// point < e's return < q's call < q's point. At e's point the register no
// longer holds v (e overwrote it, or swapped it away, or saw another
// value; e's own write is not v, which has one writer), and as v has one
// writer, placed before e, it never holds v again; but at q's point it
// must. So no linearization exists.
//
// ok reports a proof; the anomaly names wv, e and q.
func (k *linKey) refute() (a Anomaly, ok bool) {
	type ender struct {
		call, ret int64
		reg       *linVal // nil: ends every value (a write, a swapped CAS)
		id        int
	}
	var enders []ender
	writer := make(map[*linVal]int)
	for i := range k.ops {
		o := &k.ops[i]
		switch o.kind {
		case linRead:
			enders = append(enders, ender{o.call, o.ret, o.reg, i})
		case linWrite:
			writer[o.reg] = i
			if !o.unknown {
				enders = append(enders, ender{o.call, o.ret, nil, i})
			}
		case linCAS:
			writer[o.reg2] = i
			enders = append(enders, ender{o.call, o.ret, nil, i})
		case linCASUnknown:
			writer[o.reg2] = i
		}
	}
	slices.SortFunc(enders, func(a, b ender) int {
		switch {
		case a.call < b.call:
			return -1
		case a.call > b.call:
			return 1
		}
		return a.id - b.id
	})
	none := ender{ret: math.MaxInt64, id: -1}
	best := make([]ender, len(enders)+1)
	best2 := make([]ender, len(enders)+1)
	best[len(enders)], best2[len(enders)] = none, none
	for i := len(enders) - 1; i >= 0; i-- {
		cur, b1, b2 := enders[i], best[i+1], best2[i+1]
		switch {
		case cur.ret < b1.ret:
			if b1.reg != cur.reg || b1.reg == nil {
				b2 = b1
			}
			b1 = cur
		case (cur.reg != b1.reg || cur.reg == nil) && cur.ret < b2.ret:
			b2 = cur
		}
		best[i], best2[i] = b1, b2
	}
	// earliest is the ender of v invoked after t with the earliest return.
	earliest := func(t int64, v *linVal) ender {
		i := sort.Search(len(enders), func(i int) bool { return enders[i].call > t })
		if b := best[i]; b.reg == nil || b.reg != v {
			return b
		}
		return best2[i]
	}
	for qi := range k.ops {
		q := &k.ops[qi]
		if q.kind != linRead && q.kind != linCAS {
			continue
		}
		v := q.reg
		if v == linEmpty || v.writers != 1 || v.lastWriterRet == math.MaxInt64 {
			continue
		}
		wi, found := writer[v]
		if !found {
			continue
		}
		e := earliest(v.lastWriterRet, v)
		if e.id < 0 || e.ret >= q.call {
			continue
		}
		w, eo := &k.ops[wi], &k.ops[e.id]
		var ops []int
		for _, o := range []*linOp{w, eo, q} {
			ops = append(ops, o.invoke)
			if !o.open {
				ops = append(ops, o.complete)
			}
		}
		slices.Sort(ops)
		ops = slices.Compact(ops)
		msg := fmt.Sprintf("no order of the %d operations on key %s is consistent with %s: the %s cannot be placed: the only operation that may write %s, the %s, returned before the %s was invoked, which returned before the %s was invoked; so %s was no longer in the register when it was read, and was never written again",
			len(k.ops), history.Quote(k.key), k.model.describeObject(), q.describe(), v, w.describe(), eo.describe(), q.describe(), v)
		return Anomaly{Kind: KindNonLinearizable, Key: k.key, Ops: ops, Message: msg}, true
	}
	return Anomaly{}, false
}
