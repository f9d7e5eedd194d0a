package elle

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/chaoscheck/chaoscheck/history"
)

// noElem marks the initial (empty) state of a list.
const noElem = int64(-1 << 63)

// laKey is what list-append inference knows about one key. Built by
// buildLAKey, for the main pass (reused) or to explain one step.
type laKey struct {
	order  []history.Value   // the version order: distinct elements of the longest read
	pos    map[int64]int32   // element -> position in order
	writer map[int64]int32   // element -> possible txn that appended it
	reads  map[int64][]int32 // state (last element, or noElem) -> reading txns
}

func newLAKey() *laKey {
	return &laKey{pos: make(map[int64]int32), writer: make(map[int64]int32), reads: make(map[int64][]int32)}
}

func (s *laKey) reset() {
	s.order = nil
	clear(s.pos)
	clear(s.writer)
	clear(s.reads)
}

// build fills s for key k; it returns the longest read and the reads
// (txn, mop) of possible transactions, for the anomaly checks.
func (s *laKey) build(t *txns, k int32) {
	s.reset()
	refs := t.refs(k)
	var longest []history.Value
	appends, lastAppend := 0, int64(0)
	for _, r := range refs {
		tx := &t.ts[r.t]
		if !tx.possible() {
			continue
		}
		m := &tx.mops[r.m]
		switch m.f {
		case fRead:
			if len(m.list) > len(longest) {
				longest = m.list
			}
			if m.nilRead && tx.typ != history.OK {
				continue // an info read of nil is no observation
			}
			st := noElem
			if len(m.list) > 0 {
				st = t.elem(m.list, len(m.list)-1)
			}
			s.reads[st] = append(s.reads[st], r.t)
		case fAppend:
			s.writer[m.v] = r.t
			appends++
			lastAppend = m.v
		}
	}
	if longest == nil && appends == 1 {
		// One append and no read of anything: the order is [v].
		longest = []history.Value{t.value(lastAppend)}
	}
	for i := range longest {
		e := t.elem(longest, i)
		if _, dup := s.pos[e]; !dup {
			s.pos[e] = int32(len(s.order))
			s.order = append(s.order, longest[i])
		}
	}
}

// prev is the element appended just before e in the version order, or,
// when e was never read, the last element read; noElem for the initial
// state.
func (s *laKey) prev(t *txns, e int64) int64 {
	if p, ok := s.pos[e]; ok {
		if p == 0 {
			return noElem
		}
		return t.elem(s.order, int(p-1))
	}
	if len(s.order) == 0 {
		return noElem
	}
	return t.elem(s.order, len(s.order)-1)
}

func isPrefix(t *txns, a, b []history.Value) bool {
	if len(a) > len(b) {
		return false
	}
	for i := range a {
		if t.elem(a, i) != t.elem(b, i) {
			return false
		}
	}
	return true
}

// analyzeListAppend infers the ww, wr and rw edges of a list-append
// history (Elle's elle.list-append) and finds its non-cycle anomalies.
//
// Keys are independent: they are split into contiguous ranges, one per
// CPU, each analysed with its own scratch space, edges and findings,
// merged in key order so that the result does not depend on scheduling.
func analyzeListAppend(t *txns, eb *edgeBuf, f *findings) error {
	workers := min(runtime.GOMAXPROCS(0), max(1, len(t.keys)/64))
	nk := int32(len(t.keys))
	type part struct {
		eb  edgeBuf
		f   *findings
		err error
	}
	parts := make([]part, workers)
	var wg sync.WaitGroup
	for w := range parts {
		lo, hi := nk*int32(w)/int32(workers), nk*int32(w+1)/int32(workers)
		p := &parts[w]
		p.f = newFindings()
		if w == 0 {
			p.eb.es = eb.es // the caller's presized buffer
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.err = analyzeLAKeys(t, lo, hi, &p.eb, p.f)
		}()
	}
	wg.Wait()
	eb.es = parts[0].eb.es
	for w := range parts {
		if parts[w].err != nil {
			return parts[w].err
		}
		if w > 0 {
			eb.es = append(eb.es, parts[w].eb.es...)
			parts[w].eb.es = nil
		}
		f.merge(parts[w].f)
	}
	internalCases(t, f)
	return nil
}

// analyzeLAKeys does the work of analyzeListAppend for keys [lo, hi).
func analyzeLAKeys(t *txns, lo, hi int32, eb *edgeBuf, f *findings) error {
	s := newLAKey()
	seen := make(map[int64]bool)
	failed := make(map[int64]int32)
	inter := make(map[int64]int32)
	lost := make(map[readSig][]lostCand)
	for k := lo; k < hi; k++ {
		refs := t.refs(k)
		ks := t.keyString(k)
		// Unique appends (Elle refuses the history otherwise).
		clear(seen)
		for _, r := range refs {
			if m := t.mop(r); m.f == fAppend {
				if seen[m.v] && t.ts[r.t].inv >= 0 {
					return fmt.Errorf("value %s appended to key %s more than once (op %d): appends must be unique per key (duplicate-appends)", t.vs(m.v), ks, t.ref(t.ts[r.t].op))
				}
				seen[m.v] = true
			}
		}
		s.build(t, k)
		order := s.order
		// Incompatible orders and duplicates, over possible txns.
		var longest []history.Value
		for _, r := range refs {
			tx := &t.ts[r.t]
			if m := t.mop(r); tx.possible() && m.f == fRead && len(m.list) > len(longest) {
				longest = m.list
			}
		}
		incompatible := false
		for _, r := range refs {
			tx := &t.ts[r.t]
			m := t.mop(r)
			if !tx.possible() || m.f != fRead || len(m.list) == 0 {
				continue
			}
			if !incompatible && !isPrefix(t, m.list, longest) {
				incompatible = true
				a, b := history.List(m.list...).String(), history.List(longest...).String()
				f.add("incompatible-order", ks, []int32{r.t}, func() string {
					return fmt.Sprintf("reads of key %s saw %s and %s: neither is a prefix of the other, so no single order of appends explains both", ks, a, b)
				})
			}
			clear(seen)
			var dups []string
			for i := range m.list {
				e := t.elem(m.list, i)
				if seen[e] {
					dups = append(dups, t.vs(e))
				}
				seen[e] = true
			}
			if len(dups) > 0 {
				rt := r.t
				f.add("duplicate-elements", ks, []int32{rt}, func() string {
					return fmt.Sprintf("%s read key %s as %s, with %v more than once; every value is appended once", t.name(rt), ks, history.List(m.list...), dups)
				})
			}
		}
		// Edges.
		for _, r := range refs {
			tx := &t.ts[r.t]
			if !tx.possible() {
				continue
			}
			m := t.mop(r)
			switch m.f {
			case fRead:
				if len(m.list) == 0 {
					continue
				}
				if w, ok := s.writer[t.elem(m.list, len(m.list)-1)]; ok {
					eb.add(w, r.t, relWR)
				}
			case fAppend:
				p := s.prev(t, m.v)
				if p != noElem {
					if w, ok := s.writer[p]; ok {
						eb.add(w, r.t, relWW)
					}
				}
				for _, rd := range s.reads[p] {
					eb.add(rd, r.t, relRW)
				}
			}
		}
		// G1a: ok reads of elements that failed transactions appended.
		clear(failed)
		for _, r := range refs {
			if m := t.mop(r); m.f == fAppend && t.ts[r.t].typ == history.Fail {
				failed[m.v] = r.t
			}
		}
		// G1b: intermediate appends (not the transaction's last to k).
		clear(inter)
		for i := 0; i < len(refs); i++ {
			r := refs[i]
			m := t.mop(r)
			if m.f != fAppend {
				continue
			}
			for j := i + 1; j < len(refs) && refs[j].t == r.t; j++ {
				if t.mop(refs[j]).f == fAppend {
					inter[m.v] = r.t
					break
				}
			}
		}
		for _, r := range refs {
			tx := &t.ts[r.t]
			m := t.mop(r)
			if tx.typ != history.OK || m.f != fRead {
				continue
			}
			if len(failed) > 0 {
				for i := range m.list {
					e := t.elem(m.list, i)
					if w, ok := failed[e]; ok {
						rt := r.t
						f.add("G1a", ks, []int32{w, rt}, func() string {
							return fmt.Sprintf("%s read key %s as %s, which holds %s, appended by %s, a transaction that failed (aborted read)", t.name(rt), ks, history.List(m.list...), t.vs(e), t.name(w))
						})
					}
				}
			}
			if len(m.list) > 0 {
				e := t.elem(m.list, len(m.list)-1)
				if w, ok := inter[e]; ok && w != r.t {
					rt := r.t
					f.add("G1b", ks, []int32{w, rt}, func() string {
						return fmt.Sprintf("%s read key %s as %s, ending in %s: an intermediate state of %s, which appended to %s again afterwards (intermediate read)", t.name(rt), ks, history.List(m.list...), t.vs(e), t.name(w), ks)
					})
				}
			}
		}
		// Dirty update: along the version order, a committed append
		// right after (only failed or unknown ones since) a failed one.
		dirtyUpdate(t, k, order, f, failed, seen)
		// Lost update: two committed txns read the same state of k and
		// both appended to it.
		clear(lost)
		var lostOrder []readSig
		for i := 0; i < len(refs); {
			tid := refs[i].t
			j := i
			for j < len(refs) && refs[j].t == tid {
				j++
			}
			if t.ts[tid].typ == history.OK {
				var read *mop
				for _, r := range refs[i:j] {
					m := t.mop(r)
					if m.f == fRead && read == nil {
						read = m
					} else if m.f == fAppend && read != nil {
						sig := t.sig(read)
						if lost[sig] == nil {
							lostOrder = append(lostOrder, sig)
						}
						lost[sig] = append(lost[sig], lostCand{tid, read})
						break
					}
				}
			}
			i = j
		}
		for _, sig := range lostOrder {
			cands := lost[sig]
			// Same signature; group by the exact state read.
			for len(cands) > 1 {
				first := cands[0].read
				var same []int32
				var rest []lostCand
				for _, c := range cands {
					if sameRead(t, c.read, first) {
						same = append(same, c.t)
					} else {
						rest = append(rest, c)
					}
				}
				if len(same) > 1 {
					v := readText(first)
					f.add("lost-update", ks, same, func() string {
						return fmt.Sprintf("%s all read key %s as %s and each appended to it: all committed, so at most one of their updates can have been based on the state it read (lost update)", t.names(same), ks, v)
					})
				}
				cands = rest
			}
		}
	}
	return nil
}

// readSig identifies the state a read saw, up to a check of its
// elements: nil, or its length and last element.
type readSig struct {
	isNil bool
	n     int
	last  int64
}

type lostCand struct {
	t    int32
	read *mop
}

func (t *txns) sig(m *mop) readSig {
	if m.nilRead {
		return readSig{isNil: true}
	}
	s := readSig{n: len(m.list)}
	if s.n > 0 {
		s.last = t.elem(m.list, s.n-1)
	}
	return s
}

func sameRead(t *txns, a, b *mop) bool {
	if a.nilRead || b.nilRead {
		return a.nilRead == b.nilRead
	}
	return len(a.list) == len(b.list) && isPrefix(t, a.list, b.list)
}

func readText(m *mop) string {
	if m.nilRead {
		return "nil"
	}
	if m.list != nil {
		return history.List(m.list...).String()
	}
	return "[]"
}

// dirtyUpdate walks key k's version order as Elle's dirty-update-cases:
// writers over all completions, with the reads of all of them.
//
// writer and done are scratch maps, cleared here.
func dirtyUpdate(t *txns, k int32, order []history.Value, f *findings, writer map[int64]int32, done map[int64]bool) {
	refs := t.refs(k)
	// Nothing to find unless a failed transaction appended to k.
	anyFail := false
	for _, r := range refs {
		if t.ts[r.t].typ == history.Fail && t.mop(r).f == fAppend {
			anyFail = true
			break
		}
	}
	if !anyFail {
		return
	}
	clear(writer)
	clear(done)
	var longest []history.Value
	for _, r := range refs {
		m := t.mop(r)
		if m.f == fRead && len(m.list) > len(longest) {
			longest = m.list
		}
		if m.f == fAppend {
			writer[m.v] = r.t
		}
	}
	if len(longest) == 0 {
		longest = order
	}
	// t1 is the transaction of the last decided state; vs the elements
	// since the last committed one.
	t1 := int32(-1) // -1: the initial state, committed
	typ := func(x int32) history.Type {
		if x < 0 {
			return history.OK
		}
		return t.ts[x].typ
	}
	var vs []int64
	for i := range longest {
		v := t.elem(longest, i)
		if done[v] {
			continue
		}
		done[v] = true
		t2, ok := writer[v]
		if !ok {
			return // no transaction appended v: G1a or worse, not ours to say
		}
		vs = append(vs, v)
		a, b := typ(t1), typ(t2)
		switch {
		case b == history.OK:
			if a == history.Fail {
				from, to, vals := t1, t2, slices.Clone(vs)
				f.add("dirty-update", t.keyString(k), []int32{from, to}, func() string {
					parts := make([]string, len(vals))
					for j, x := range vals {
						parts[j] = t.vs(x)
					}
					return fmt.Sprintf("on key %s, %s appended after %s, which failed: the committed update was made on top of aborted state (elements %s)", t.keyString(k), t.name(to), t.name(from), strings.Join(parts, " "))
				})
			}
			t1, vs = t2, []int64{v}
		case b == history.Info:
			// Unknown: keep the range.
		case b == history.Fail:
			if a != history.Fail {
				t1, vs = t2, []int64{v}
			}
		}
	}
}

// internalCases finds Elle's internal and future-read anomalies in each
// committed transaction. A transaction has a handful of micro-ops, so the
// state per key is kept in a small slice, not a map.
func internalCases(t *txns, f *findings) {
	type state struct {
		key    int32
		known  bool // the whole list is known; else only its suffix
		suffix []int64
	}
	var st []state
	find := func(k int32) *state {
		for i := range st {
			if st[i].key == k {
				return &st[i]
			}
		}
		return nil
	}
	// fresh adds a state for k, reusing the suffix buffers of earlier
	// transactions.
	fresh := func(k int32) *state {
		if len(st) < cap(st) {
			st = st[:len(st)+1]
		} else {
			st = append(st, state{})
		}
		s := &st[len(st)-1]
		s.key, s.known, s.suffix = k, false, s.suffix[:0]
		return s
	}
	for i := range t.ts {
		tx := &t.ts[i]
		if tx.typ != history.OK {
			continue
		}
		st = st[:0]
		for mi := range tx.mops {
			m := &tx.mops[mi]
			s := find(m.key)
			switch m.f {
			case fAppend:
				if s == nil {
					s = fresh(m.key)
				}
				s.suffix = append(s.suffix, m.v)
			case fRead:
				if s != nil {
					bad := false
					n := len(m.list)
					if s.known {
						bad = n != len(s.suffix)
					} else {
						bad = n < len(s.suffix)
					}
					for j := 0; !bad && j < len(s.suffix); j++ {
						bad = t.elem(m.list, n-len(s.suffix)+j) != s.suffix[j]
					}
					if bad {
						parts := make([]string, len(s.suffix))
						for j, x := range s.suffix {
							parts[j] = t.vs(x)
						}
						exp := "[" + strings.Join(parts, " ") + "]"
						if !s.known {
							exp = "[... " + exp[1:]
						}
						id := int32(i)
						key := t.keyString(m.key)
						f.add("internal", key, []int32{id}, func() string {
							return fmt.Sprintf("%s read key %s as %s, but its own earlier reads and appends say it must be %s (internal inconsistency)", t.name(id), key, history.List(m.list...), exp)
						})
						goto futureRead
					}
				} else {
					s = fresh(m.key)
				}
				s.known = true
				s.suffix = s.suffix[:0]
				for j := range m.list {
					s.suffix = append(s.suffix, t.elem(m.list, j))
				}
			}
		}
	futureRead:
		// future-read: a read that holds an element the txn appends later.
		for mi := range tx.mops {
			m := &tx.mops[mi]
			if m.f != fAppend {
				continue
			}
			for mj := 0; mj < mi; mj++ {
				r := &tx.mops[mj]
				if r.f != fRead || r.key != m.key {
					continue
				}
				for j := range r.list {
					if t.elem(r.list, j) == m.v {
						id := int32(i)
						key, v := t.keyString(m.key), m.v
						f.add("future-read", key, []int32{id}, func() string {
							return fmt.Sprintf("%s read key %s as %s, which holds %s, a value it appends only later", t.name(id), key, history.List(r.list...), t.vs(v))
						})
						goto next
					}
				}
			}
		}
	next:
	}
}

// explainLA says why a precedes b along relationship r, in plain words,
// or "" when it cannot (the caller then falls back to the edge's name).
func explainLA(t *txns, a, b int32, r rel, an, bn string) string {
	s := newLAKey()
	for _, bm := range t.ts[b].mops {
		switch {
		case r == relWR && bm.f == fRead && len(bm.list) > 0:
			s.build(t, bm.key)
			e := t.elem(bm.list, len(bm.list)-1)
			if w, ok := s.writer[e]; ok && w == a {
				return fmt.Sprintf("%s read %s's append of %s to key %s", bn, an, t.vs(e), t.keyString(bm.key))
			}
		case (r == relWW || r == relRW) && bm.f == fAppend:
			s.build(t, bm.key)
			p := s.prev(t, bm.v)
			if r == relWW && p != noElem {
				if w, ok := s.writer[p]; ok && w == a {
					return fmt.Sprintf("%s appended %s after %s appended %s to key %s", bn, t.vs(bm.v), an, t.vs(p), t.keyString(bm.key))
				}
			}
			if r == relRW && slices.Contains(s.reads[p], a) {
				if p == noElem {
					return fmt.Sprintf("%s read the initial (empty) state of key %s, which %s changed by appending %s", an, t.keyString(bm.key), bn, t.vs(bm.v))
				}
				return fmt.Sprintf("%s's read of key %s did not see %s's append of %s", an, t.keyString(bm.key), bn, t.vs(bm.v))
			}
		}
	}
	return ""
}
