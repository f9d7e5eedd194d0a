package elle

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/chaoscheck/chaoscheck/history"
)

// mop kinds.
const (
	fAppend uint8 = iota + 1
	fRead
	fWrite
)

// mop is one micro-operation of a transaction. Invariant: key indexes
// txns.keys; for appends and writes v is the value; for reads nilRead
// says the read carried nil, and otherwise the value read is list (list
// append: the elements) or v (rw-register).
type mop struct {
	key     int32
	f       uint8
	nilRead bool
	v       int64
	list    []history.Value
}

// txn is one transaction: an invocation and its completion.
type txn struct {
	inv  int32 // index of the invocation op, -1 when the history has none
	op   int32 // index of the completion op (the invocation when open)
	typ  history.Type
	proc history.Process
	mops []mop
	// synth: the invocation was inserted by the EDN importer (the file
	// gave a completion only), so nothing is known of when it began.
	synth bool
}

// committed reports whether t may have taken effect: ok, info or open.
func (t *txn) possible() bool { return t.typ != history.Fail }

// txns is a parsed transactional history.
type txns struct {
	h    *history.History
	ts   []txn
	keys []history.Value // key id -> key
	// byOp maps an op index to its txn (-1: none), for both the
	// invocation and the completion.
	byOp []int32
	// isList: list-append (reads return lists).
	isList bool
	// vals interns values that are not integers (Elle allows any value):
	// the i-th is encoded as valBase+i.
	vals *valTable
	// byKey lists, for each key, the micro-ops on it: keyRefs[keyOff[k]:
	// keyOff[k+1]], in transaction order, then micro-op order.
	keyOff  []int32
	keyRefs []mopRef
}

// mopRef names micro-op m of transaction t.
type mopRef struct{ t, m int32 }

// indexKeys fills keyOff and keyRefs.
func (t *txns) indexKeys() {
	off := make([]int32, len(t.keys)+1)
	for i := range t.ts {
		for _, m := range t.ts[i].mops {
			off[m.key+1]++
		}
	}
	for k := range t.keys {
		off[k+1] += off[k]
	}
	refs := make([]mopRef, off[len(t.keys)])
	fill := append([]int32(nil), off[:len(t.keys)]...)
	for i := range t.ts {
		for j, m := range t.ts[i].mops {
			refs[fill[m.key]] = mopRef{int32(i), int32(j)}
			fill[m.key]++
		}
	}
	t.keyOff, t.keyRefs = off, refs
}

// refs returns the micro-ops on key k.
func (t *txns) refs(k int32) []mopRef { return t.keyRefs[t.keyOff[k]:t.keyOff[k+1]] }

func (t *txns) mop(r mopRef) *mop { return &t.ts[r.t].mops[r.m] }

// keyTable interns keys.
type keyTable struct {
	ints map[int64]int32
	strs map[string]int32
	keys []history.Value
}

func (k *keyTable) id(v history.Value) int32 {
	if i, ok := v.AsInt(); ok {
		if id, ok := k.ints[i]; ok {
			return id
		}
		id := int32(len(k.keys))
		k.ints[i] = id
		k.keys = append(k.keys, v)
		return id
	}
	s := v.String()
	if v.Kind() == history.KindString {
		s = "\x00" + s // a string key never equals a list key's text
	}
	if id, ok := k.strs[s]; ok {
		return id
	}
	id := int32(len(k.keys))
	k.strs[s] = id
	k.keys = append(k.keys, v)
	return id
}

// IsTransactional reports whether h holds transactions (client ops with f
// "txn") and, if so, which workload their micro-ops are: list-append when
// any micro-op is an append, rw-register when any is a write, and
// list-append for reads only when a read returned a list. ok is false for
// a history with no transaction, or one that mixes appends and writes.
func IsTransactional(h *history.History) (w Workload, ok bool) {
	var appends, writes, listReads, regReads, any bool
	for i := range h.Ops {
		op := &h.Ops[i]
		if !op.IsClient() || op.F != "txn" {
			if op.IsClient() {
				return "", false
			}
			continue
		}
		any = true
		mops, _ := op.Value.AsList()
		for _, m := range mops {
			l, ok := m.AsList()
			if !ok || len(l) != 3 {
				continue
			}
			f, _ := l[0].AsString()
			switch f {
			case "append":
				appends = true
			case "w":
				writes = true
			case "r":
				switch l[2].Kind() {
				case history.KindList:
					listReads = true
				case history.KindInt:
					regReads = true
				}
			}
		}
	}
	switch {
	case !any || appends && writes:
		return "", false
	case appends || listReads && !writes && !regReads:
		return ListAppend, true
	case writes || regReads:
		return RWRegister, true
	}
	return ListAppend, true // reads of nothing only: either reads the same
}

// parseTxns reads the transactions of h for workload w. Nemesis ops are
// skipped; any other client op that is not a well-formed transaction of
// w is an error naming it.
func parseTxns(h *history.History, w Workload) (*txns, error) {
	pairs, err := h.Pairs()
	if err != nil {
		return nil, err
	}
	kt := &keyTable{ints: make(map[int64]int32), strs: make(map[string]int32)}
	vt := &valTable{ids: make(map[string]int64)}
	t := &txns{h: h, ts: make([]txn, 0, len(pairs)), byOp: make([]int32, len(h.Ops)), vals: vt}
	for i := range t.byOp {
		t.byOp[i] = -1
	}
	total := 0
	for _, p := range pairs {
		op := &h.Ops[p.Invoke]
		if l, ok := op.Value.AsList(); ok {
			total += len(l)
		}
	}
	slab := make([]mop, 0, total)
	for _, p := range pairs {
		inv := &h.Ops[p.Invoke]
		src := inv
		typ := history.Info
		if c := h.Completion(p); c != nil {
			src, typ = c, c.Type
		}
		if inv.F != "txn" {
			return nil, fmt.Errorf("op %d: f %s is not txn (a transactional history has only transactions)", inv.Index, history.Quote(inv.F))
		}
		mops, ok := src.Value.AsList()
		if !ok {
			return nil, fmt.Errorf("op %d: value %s is not a list of micro-ops", src.Index, history.Clip(src.Value.String()))
		}
		start := len(slab)
		for _, m := range mops {
			mo, err := parseMop(m, w, kt, vt)
			if err != nil {
				return nil, fmt.Errorf("op %d: %w", src.Index, err)
			}
			slab = append(slab, mo)
		}
		tx := txn{inv: int32(p.Invoke), op: int32(src.Index), typ: typ, proc: inv.Process, mops: slab[start:len(slab):len(slab)],
			synth: inv.Extra["synthetic"] == "invoke"}
		n := int32(len(t.ts))
		t.byOp[p.Invoke] = n
		t.byOp[src.Index] = n
		t.ts = append(t.ts, tx)
	}
	t.keys = kt.keys
	t.isList = w == ListAppend
	t.indexKeys()
	return t, nil
}

func parseMop(m history.Value, w Workload, kt *keyTable, vt *valTable) (mop, error) {
	l, ok := m.AsList()
	if !ok || len(l) != 3 {
		return mop{}, fmt.Errorf("micro-op %s is not [f k v]", history.Clip(m.String()))
	}
	f, _ := l[0].AsString()
	mo := mop{key: kt.id(l[1])}
	switch {
	case f == "append" && w == ListAppend, f == "w" && w == RWRegister:
		mo.f = fAppend
		if f == "w" {
			mo.f = fWrite
		}
		v, err := vt.encode(l[2])
		if err != nil {
			return mop{}, fmt.Errorf("micro-op %s: %w", history.Clip(m.String()), err)
		}
		mo.v = v
	case f == "r":
		mo.f = fRead
		switch {
		case l[2].IsNil():
			mo.nilRead = true
		case w == ListAppend:
			xs, ok := l[2].AsList()
			if !ok {
				return mop{}, fmt.Errorf("micro-op %s: a list-append read returns a list or nil", history.Clip(m.String()))
			}
			for _, x := range xs {
				if _, err := vt.encode(x); err != nil {
					return mop{}, fmt.Errorf("micro-op %s: %w", history.Clip(m.String()), err)
				}
			}
			mo.list = xs
		default:
			v, err := vt.encode(l[2])
			if err != nil {
				return mop{}, fmt.Errorf("micro-op %s: %w", history.Clip(m.String()), err)
			}
			mo.v = v
		}
	default:
		return mop{}, fmt.Errorf("micro-op %s: unexpected f %s for %s (history contained operations other than %s)", history.Clip(m.String()), history.Quote(f), w, mopNames(w))
	}
	return mo, nil
}

func mopNames(w Workload) string {
	if w == ListAppend {
		return "appends or reads"
	}
	return "writes or reads"
}

// valBase is where the encodings of values that are not integers start;
// integers below valLimit are refused (they would collide). noElem and
// nilVersion are below valBase.
const (
	valBase  = math.MinInt64 + 1
	valLimit = math.MinInt64 + 1<<40
)

// valTable interns values that are not integers.
type valTable struct {
	ids   map[string]int64
	names []history.Value
}

func valText(v history.Value) string {
	if v.Kind() == history.KindString {
		return "\x00" + v.String()
	}
	return v.String()
}

// encode returns the int64 standing for v.
func (vt *valTable) encode(v history.Value) (int64, error) {
	if i, ok := v.AsInt(); ok {
		if i < valLimit {
			return 0, fmt.Errorf("integer %d is too negative for this checker (values must be above %d)", i, int64(valLimit))
		}
		return i, nil
	}
	if v.IsNil() {
		return 0, fmt.Errorf("nil is not a value that can be written")
	}
	s := valText(v)
	if id, ok := vt.ids[s]; ok {
		return id, nil
	}
	id := valBase + int64(len(vt.names))
	vt.ids[s] = id
	vt.names = append(vt.names, v)
	return id, nil
}

// elem is element i of a read list, encoded (parseMop interned it).
func (t *txns) elem(l []history.Value, i int) int64 {
	if v, ok := l[i].AsInt(); ok {
		return v
	}
	return t.vals.ids[valText(l[i])]
}

// vs renders an encoded value.
func (t *txns) vs(v int64) string {
	switch {
	case v == noElem:
		return "nil"
	case v < valLimit:
		return t.vals.names[v-valBase].String()
	}
	return strconv.FormatInt(v, 10)
}

// keyString renders key k: a string as it is, anything else as EDN-like
// text (7, [anti 9]).
func (t *txns) keyString(k int32) string {
	if s, ok := t.keys[k].AsString(); ok {
		return s
	}
	return t.keys[k].String()
}

// render writes the transaction in full, Elle style:
// [[:append 7 3] [:r 9 [1 2]]].
func (t *txns) render(i int32) string {
	var b strings.Builder
	b.WriteByte('[')
	for n, m := range t.ts[i].mops {
		if n > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('[')
		switch m.f {
		case fAppend:
			b.WriteString(":append ")
		case fWrite:
			b.WriteString(":w ")
		default:
			b.WriteString(":r ")
		}
		b.WriteString(t.keyString(m.key))
		b.WriteByte(' ')
		switch {
		case m.f != fRead:
			b.WriteString(t.vs(m.v))
		case m.nilRead:
			b.WriteString("nil")
		case m.list != nil || t.isList:
			b.WriteString(history.List(m.list...).String())
		default:
			b.WriteString(t.vs(m.v))
		}
		b.WriteByte(']')
	}
	b.WriteByte(']')
	return b.String()
}

// name names transaction i for a message: its completion's index, its
// outcome when not ok, and the transaction in full.
func (t *txns) name(i int32) string {
	tx := &t.ts[i]
	s := "op " + strconv.Itoa(t.ref(tx.op))
	switch {
	case tx.typ == history.Info:
		s += " (info: may or may not have committed)"
	case tx.typ == history.Fail:
		s += " (failed)"
	}
	return s + " " + t.render(i)
}

// ref is the index by which a message names the op at position i of
// the history (history.History.Ref).
func (t *txns) ref(i int32) int { return t.h.Ref(int(i)) }

// names names several transactions.
func (t *txns) names(is []int32) string {
	parts := make([]string, len(is))
	for n, i := range is {
		parts[n] = t.name(i)
	}
	return strings.Join(parts, ", ")
}

// value decodes an encoded value.
func (t *txns) value(v int64) history.Value {
	if v < valLimit && v != noElem {
		return t.vals.names[v-valBase]
	}
	return history.Int(v)
}
