package checkers

// This file holds the sequential models of the Linearizable checker and
// everything that touches porcupine's interface{}-typed model functions.
// Nothing exported here mentions interface{}.

import (
	"bytes"
	"cmp"
	"fmt"
	"hash/maphash"
	"html"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/chaoscheck/chaoscheck/history"
)

// Model names the sequential specification a Linearizable checker holds
// each key to. Every key is an independent object of the model, starting in
// its initial state.
type Model string

const (
	// ModelRegister is a read/write register, initially empty:
	//   - "read": the ok completion value is the integer read, or nil for
	//     the empty register;
	//   - "write": the invoke value is the integer written.
	ModelRegister Model = "register"
	// ModelCASRegister is ModelRegister plus compare-and-set:
	//   - "cas": the invoke value is [old new]; an ok completion means it
	//     swapped, except an ok completion [old new "not-swapped"], which
	//     means the register did not hold old (and nothing changed).
	ModelCASRegister Model = "cas-register"
	// ModelKV is a string cell per key, initially "":
	//   - "get": the ok completion value is the string read ("" or nil
	//     when absent);
	//   - "put": the invoke value is the string stored;
	//   - "append": the invoke value is appended to the current string.
	ModelKV Model = "kv"
)

// NotSwapped is the third element of an ok "cas" completion
// [old new "not-swapped"]: the compare failed and the register did not hold
// old when the CAS took effect.
const NotSwapped = "not-swapped"

// ParseModel returns the model named s: "register", "cas-register" or
// "kv".
func ParseModel(s string) (Model, error) {
	switch m := Model(s); m {
	case ModelRegister, ModelCASRegister, ModelKV:
		return m, nil
	}
	return "", fmt.Errorf("checkers: unknown linearizability model %q (want %q, %q or %q)", s, ModelRegister, ModelCASRegister, ModelKV)
}

// String returns the model's name.
func (m Model) String() string { return string(m) }

// valid reports whether m is one of the known models.
func (m Model) valid() bool {
	_, err := ParseModel(string(m))
	return err == nil
}

// describeObject names what one key of the model is, for messages.
func (m Model) describeObject() string {
	if m == ModelKV {
		return "a single string cell with get, put and append"
	}
	return "a single register"
}

// linKind is what an operation does to the model state.
type linKind uint8

const (
	// linRead: ok read; the register must hold reg.
	linRead linKind = iota
	// linWrite: write of reg (ok, info or open).
	linWrite
	// linCAS: ok CAS that swapped: the register must hold reg, then holds
	// reg2.
	linCAS
	// linCASNotSwapped: ok CAS whose compare failed: the register must not
	// hold reg.
	linCASNotSwapped
	// linCASUnknown: info or open CAS: if the register holds reg it becomes
	// reg2, otherwise nothing happens (accepted either way).
	linCASUnknown
	// linGet: ok get; the cell must hold str.
	linGet
	// linPut: put of str.
	linPut
	// linAppend: append of str.
	linAppend
)

// linVal is an interned register value: within one check, two equal values
// are the same pointer, so the porcupine state comparison is a pointer
// comparison and stepping allocates nothing.
type linVal struct {
	id    uint64 // 0 for the empty register
	v     int64
	empty bool
	// The following are set per key by linReduceUnknown, never on linEmpty,
	// which is shared.
	//
	// observed: some ok read returns this value or some CAS compares
	// against it.
	observed bool
	// writers is how many operations may write this value.
	writers int32
	// needed is the earliest return of an operation that requires the
	// register to hold this value (an ok read of it, an ok CAS that
	// swapped from it), or -1.
	needed int64
	// firstWriterCall is the earliest invocation of an operation that may
	// write this value (math.MaxInt64 when none); lastWriterRet is the
	// latest return of one (math.MaxInt64 when one has an unknown
	// outcome). Set by linTally.
	firstWriterCall, lastWriterRet int64
	// nsLastRet is the latest return of an ok not-swapped CAS comparing
	// against this value (-1 when none). Set by linTally.
	nsLastRet int64
	// rep is the state that stands for this value in the search (nil:
	// the value itself): every value nobody observes shares one, see
	// linMergeUnobserved. bottom marks that shared state.
	rep    *linVal
	bottom bool
}

// state is the value as a search state.
func (r *linVal) state() *linVal {
	if r.rep != nil {
		return r.rep
	}
	return r
}

// linEmpty is the empty register, the initial state of every key.
var linEmpty = &linVal{empty: true}

func (r *linVal) String() string {
	if r == nil || r.empty {
		return "nil"
	}
	if r.bottom {
		return "(a value nobody observed)"
	}
	return strconv.FormatInt(r.v, 10)
}

// linInterner hands out one *linVal per distinct integer.
type linInterner struct {
	m     map[int64]*linVal
	chunk []linVal
	n     uint64 // the largest id handed out
}

func (in *linInterner) get(v int64) *linVal {
	if r, ok := in.m[v]; ok {
		return r
	}
	if in.m == nil {
		in.m = make(map[int64]*linVal)
	}
	if len(in.chunk) == 0 {
		in.chunk = make([]linVal, 256)
	}
	r := &in.chunk[0]
	in.chunk = in.chunk[1:]
	*r = linVal{id: uint64(len(in.m)) + 1, v: v, needed: -1}
	in.n = r.id
	in.m[v] = r
	return r
}

// linOp is one client operation as the search sees it.
type linOp struct {
	kind linKind
	// unknown: the outcome is unknown (info or never completed); the op
	// may take effect at any time after its invocation, or never.
	unknown bool
	open    bool // never completed
	// v1 and v2 are the integers of a register op (the value read or
	// written, or CAS old and new); empty marks a read of nil. reg and reg2
	// are their interned forms, set by buildLinKey.
	v1, v2 int64
	empty  bool
	reg    *linVal
	reg2   *linVal
	str    string
	// invoke and complete are history indexes (complete is history.Open
	// for a never-completed op); process is the client.
	invoke   int
	complete int
	// refInv and refComp are the same ops as messages name them
	// (history.History.Ref: their lines of history.jsonl, also in a
	// workload's sub-history).
	refInv, refComp int
	process         history.Process
	// call and ret are the search's interval: history positions, with
	// ret = +infinity for an unknown outcome.
	call, ret int64
}

// ref is how messages name the op: its completion index, or its
// invocation index when it never completed.
func (o *linOp) ref() int {
	if o.open {
		return o.refInv
	}
	return o.refComp
}

// describe names the op for a person: "read #123 returning 4".
func (o *linOp) describe() string {
	prefix := ""
	suffix := ""
	if o.unknown {
		prefix = "info "
		suffix = " (outcome unknown)"
		if o.open {
			prefix = "open "
			suffix = " (never completed)"
		}
	}
	var body string
	switch o.kind {
	case linRead:
		body = fmt.Sprintf("read #%d returning %s", o.ref(), o.reg)
	case linWrite:
		body = fmt.Sprintf("write #%d of %s", o.ref(), o.reg)
	case linCAS:
		body = fmt.Sprintf("cas #%d [%s %s] (swapped)", o.ref(), o.reg, o.reg2)
	case linCASNotSwapped:
		body = fmt.Sprintf("cas #%d [%s %s] (not swapped)", o.ref(), o.reg, o.reg2)
	case linCASUnknown:
		body = fmt.Sprintf("cas #%d [%s %s]", o.ref(), o.reg, o.reg2)
	case linGet:
		body = fmt.Sprintf("get #%d returning %s", o.ref(), history.Quote(o.str))
	case linPut:
		body = fmt.Sprintf("put #%d of %s", o.ref(), history.Quote(o.str))
	case linAppend:
		body = fmt.Sprintf("append #%d of %s", o.ref(), history.Quote(o.str))
	}
	return prefix + body + suffix
}

// short is the visualization label of the op.
func (o *linOp) short() string {
	var s string
	switch o.kind {
	case linRead:
		s = "read() -> " + o.reg.String()
	case linWrite:
		s = "write(" + o.reg.String() + ")"
	case linCAS:
		s = "cas(" + o.reg.String() + ", " + o.reg2.String() + ") -> swapped"
	case linCASNotSwapped:
		s = "cas(" + o.reg.String() + ", " + o.reg2.String() + ") -> not swapped"
	case linCASUnknown:
		s = "cas(" + o.reg.String() + ", " + o.reg2.String() + ")"
	case linGet:
		s = "get() -> " + strconv.Quote(o.str)
	case linPut:
		s = "put(" + strconv.Quote(o.str) + ")"
	case linAppend:
		s = "append(" + strconv.Quote(o.str) + ")"
	}
	if o.unknown {
		s += " -> unknown"
	}
	return s
}

// linRegStep applies op to the register state st. It is the whole register
// semantics; ok is false when op cannot take effect in state st.
//
// Values are compared as search states (linVal.state): every value nobody
// observes is one state (see linMergeUnobserved).
func linRegStep(st *linVal, op *linOp) (ok bool, next *linVal) {
	switch op.kind {
	case linRead:
		return st == op.reg.state(), st
	case linWrite:
		return true, op.reg.state()
	case linCAS:
		if st == op.reg.state() {
			return true, op.reg2.state()
		}
		return false, st
	case linCASNotSwapped:
		return st != op.reg.state(), st
	case linCASUnknown:
		if st == op.reg.state() {
			return true, op.reg2.state()
		}
		return true, st
	}
	return false, st
}

// linKVStep applies op to the string cell st.
func linKVStep(st string, op *linOp) (ok bool, next string) {
	switch op.kind {
	case linGet:
		return st == op.str, st
	case linPut:
		return true, op.str
	case linAppend:
		return true, st + op.str
	}
	return false, st
}

// linKey is one key's operations, ready for the search. ops[i] is the
// operation of porcupine id i.
type linKey struct {
	model Model
	key   string
	ops   []linOp
	pops  []porcupine.Operation
}

// linBadOp is the error of an operation the model cannot interpret.
func linBadOp(op *history.Op, format string, args ...any) error {
	return fmt.Errorf("cannot interpret op #%d (%s %s): %s", op.Index, op.Type, history.Clip(op.F), fmt.Sprintf(format, boundInputArgs(args)...))
}

// interpretPair interprets one client operation under model m into o.
// keep is false for an operation the search must not see: failed
// operations (no effect) and reads with an unknown outcome (no
// information). Time is the history position, the order in which the
// controller observed the events: exact and free of ties. An unknown
// outcome returns at +infinity.
func (m Model) interpretPair(h *history.History, p history.Pair, o *linOp) (keep bool, err error) {
	inv := &h.Ops[p.Invoke]
	comp := h.Completion(p)
	outcome := history.Info
	if comp != nil {
		outcome = comp.Type
	}
	*o = linOp{
		invoke:   inv.Index,
		complete: history.Open,
		refInv:   h.Ref(p.Invoke),
		refComp:  history.Open,
		process:  inv.Process,
		unknown:  outcome == history.Info,
		open:     comp == nil,
		call:     int64(p.Invoke),
		ret:      math.MaxInt64,
	}
	if comp != nil {
		o.complete = comp.Index
		o.refComp = h.Ref(p.Complete)
		if !o.unknown {
			o.ret = int64(p.Complete)
		}
	}
	return m.interpret(o, inv, comp, outcome)
}

// buildLinKey prepares the interpreted operations of one key for the
// search: it interns the register values, applies the exact reductions of
// linReduceUnknown and builds porcupine's operations. ops is taken over.
func buildLinKey(m Model, key string, ops []linOp) *linKey {
	if m != ModelKV {
		in := linIntern(ops)
		ops = linReduce(ops, in)
	}
	return newLinKey(m, key, ops)
}

// linIntern sets reg and reg2 of register operations from their integers,
// one *linVal per distinct value.
func linIntern(ops []linOp) *linInterner {
	in := &linInterner{}
	for n := range ops {
		o := &ops[n]
		switch o.kind {
		case linRead:
			o.reg = linEmpty
			if !o.empty {
				o.reg = in.get(o.v1)
			}
		case linWrite:
			o.reg = in.get(o.v1)
		case linCAS, linCASNotSwapped, linCASUnknown:
			o.reg, o.reg2 = in.get(o.v1), in.get(o.v2)
		}
	}
	return in
}

// newLinKey builds porcupine's operations of ops.
func newLinKey(m Model, key string, ops []linOp) *linKey {
	k := &linKey{model: m, key: key, ops: ops}
	k.pops = make([]porcupine.Operation, len(k.ops))
	for n := range k.ops {
		k.pops[n] = porcupine.Operation{Input: &k.ops[n], Call: k.ops[n].call, Return: k.ops[n].ret}
	}
	return k
}

// interpret fills o from the invocation and completion of one operation.
// keep is false for an operation the search must not see.
func (m Model) interpret(o *linOp, inv, comp *history.Op, outcome history.Type) (keep bool, err error) {
	isReg := m == ModelRegister || m == ModelCASRegister
	switch {
	case isReg && inv.F == "read":
		if outcome != history.OK {
			return false, nil
		}
		o.kind = linRead
		if comp.Value.IsNil() {
			o.empty = true
			return true, nil
		}
		i, ok := comp.Value.AsInt()
		if !ok {
			return false, linBadOp(comp, "read must return an integer or nil, got %s", comp.Value)
		}
		o.v1 = i
		return true, nil
	case isReg && inv.F == "write":
		if outcome == history.Fail {
			return false, nil
		}
		o.kind = linWrite
		v := inv.Value
		if v.IsNil() && outcome == history.OK {
			v = comp.Value
		}
		i, ok := v.AsInt()
		if !ok {
			return false, linBadOp(inv, "write needs an integer value, got %s", v)
		}
		o.v1 = i
		return true, nil
	case m == ModelCASRegister && inv.F == "cas":
		if outcome == history.Fail {
			return false, nil
		}
		args, ok := inv.Value.AsInts()
		if !ok && outcome == history.OK {
			if vs, isList := comp.Value.AsList(); isList && len(vs) >= 2 {
				args, ok = history.List(vs[:2]...).AsInts()
			}
		}
		if !ok || len(args) != 2 {
			return false, linBadOp(inv, "cas needs [old new] integers, got %s", inv.Value)
		}
		o.v1, o.v2 = args[0], args[1]
		switch {
		case outcome != history.OK:
			o.kind = linCASUnknown
		case comp.Value.IsNil():
			o.kind = linCAS
		default:
			vs, isList := comp.Value.AsList()
			if !isList || (len(vs) != 2 && len(vs) != 3) {
				return false, linBadOp(comp, "ok cas completion must be [old new] or [old new %q], got %s", NotSwapped, comp.Value)
			}
			if len(vs) == 3 {
				if s, isStr := vs[2].AsString(); !isStr || s != NotSwapped {
					return false, linBadOp(comp, "ok cas completion must be [old new] or [old new %q], got %s", NotSwapped, comp.Value)
				}
				o.kind = linCASNotSwapped
			} else {
				o.kind = linCAS
			}
			got, isInts := history.List(vs[:2]...).AsInts()
			if !isInts || got[0] != args[0] || got[1] != args[1] {
				return false, linBadOp(comp, "ok cas completion %s does not match its invocation %s", comp.Value, inv.Value)
			}
		}
		return true, nil
	case m == ModelKV && inv.F == "get":
		if outcome != history.OK {
			return false, nil
		}
		o.kind = linGet
		if comp.Value.IsNil() {
			return true, nil
		}
		s, ok := comp.Value.AsString()
		if !ok {
			return false, linBadOp(comp, "get must return a string or nil, got %s", comp.Value)
		}
		o.str = s
		return true, nil
	case m == ModelKV && (inv.F == "put" || inv.F == "append"):
		if outcome == history.Fail {
			return false, nil
		}
		o.kind = linPut
		if inv.F == "append" {
			o.kind = linAppend
		}
		v := inv.Value
		if v.IsNil() && outcome == history.OK {
			v = comp.Value
		}
		s, ok := v.AsString()
		if !ok {
			return false, linBadOp(inv, "%s needs a string value, got %s", inv.F, v)
		}
		o.str = s
		return true, nil
	}
	return false, linBadOp(inv, "f %q is not an operation of the %s model (%s)", inv.F, m, strings.Join(m.operations(), ", "))
}

// porcupineModel returns the porcupine model of k. When stop is non-nil
// and becomes true, every step fails so that the search unwinds at once;
// the caller must then disregard a "not linearizable" answer.
func (k *linKey) porcupineModel(stop *atomic.Bool) porcupine.Model {
	describeOp := func(input, _ interface{}) string {
		if o, ok := input.(*linOp); ok {
			return o.short()
		}
		return "?"
	}
	describeMeta := func(meta interface{}) string {
		s, _ := meta.(string)
		return s
	}
	if k.model == ModelKV {
		return porcupine.Model{
			Init: func() interface{} { return "" },
			Step: func(state, input, _ interface{}) (bool, interface{}) {
				if stop != nil && stop.Load() {
					return false, state
				}
				st, _ := state.(string)
				o, ok := input.(*linOp)
				if !ok {
					return false, state
				}
				ok, next := linKVStep(st, o)
				return ok, next
			},
			Hash: func(state interface{}) uint64 {
				s, _ := state.(string)
				return maphash.String(linKVSeed, s)
			},
			DescribeOperation:         describeOp,
			DescribeState:             func(state interface{}) string { s, _ := state.(string); return strconv.Quote(s) },
			DescribeOperationMetadata: describeMeta,
		}
	}
	return porcupine.Model{
		Init: func() interface{} { return linEmpty },
		Step: func(state, input, _ interface{}) (bool, interface{}) {
			if stop != nil && stop.Load() {
				return false, state
			}
			st, _ := state.(*linVal)
			o, ok := input.(*linOp)
			if !ok {
				return false, state
			}
			ok, next := linRegStep(st, o)
			return ok, next
		},
		Hash: func(state interface{}) uint64 {
			if st, ok := state.(*linVal); ok {
				return st.id * 0x9e3779b97f4a7c15
			}
			return 0
		},
		DescribeOperation:         describeOp,
		DescribeState:             func(state interface{}) string { st, _ := state.(*linVal); return st.String() },
		DescribeOperationMetadata: describeMeta,
	}
}

// linKVSeed seeds the hash of kv states.
var linKVSeed = maphash.MakeSeed()

// check reports whether k is linearizable: linSearch for the register
// models, porcupine for kv. With stop set during the search, false means
// "undecided".
//
// A linearization the search found is certified (linKey.certify); one that
// does not check is an internal error, reported by a panic that checkKey
// turns into an Unknown verdict.
func (k *linKey) check(stop *atomic.Bool) bool {
	if k.model != ModelKV {
		ok, _, seq := k.search(stop)
		if ok {
			if err := k.certify(seq); err != nil {
				panic(fmt.Sprintf("the linearization found does not check: %v", err))
			}
		}
		return ok
	}
	return k.checkPorcupine(stop)
}

// checkPorcupine is check by porcupine, whatever the model.
func (k *linKey) checkPorcupine(stop *atomic.Bool) bool {
	return porcupine.CheckOperations(k.porcupineModel(stop), k.pops)
}

// linWitnessInfo is what the verbose search tells about a non-linearizable
// key, in our own types.
type linWitnessInfo struct {
	// partials are porcupine's maximal partial linearizations, as ids into
	// k.ops.
	partials [][]int
	info     porcupine.LinearizationInfo
}

// checkVerbose runs the search again, keeping porcupine's partial
// linearizations. It labels the operations with client rows and history
// indexes first, for the visualization.
func (k *linKey) checkVerbose(stop *atomic.Bool) (linearizable bool, w linWitnessInfo) {
	k.label()
	res, info := porcupine.CheckOperationsVerbose(k.porcupineModel(stop), k.pops, 0)
	if p := info.PartialLinearizations(); len(p) > 0 {
		w.partials = p[0]
	}
	w.info = info
	return res == porcupine.Ok, w
}

// label gives porcupine's operations client rows and history indexes, for
// the visualization.
func (k *linKey) label() {
	clients := make(map[history.Process]int)
	for i := range k.pops {
		o := &k.ops[i]
		c, ok := clients[o.process]
		if !ok {
			c = len(clients)
			clients[o.process] = c
		}
		k.pops[i].ClientId = c
		if o.open {
			k.pops[i].Metadata = fmt.Sprintf("process %s, invoked #%d, never completed", o.process, o.refInv)
		} else {
			k.pops[i].Metadata = fmt.Sprintf("process %s, #%d to #%d", o.process, o.refInv, o.refComp)
		}
	}
}

// LinVisualizeMax bounds the operations of one porcupine visualization:
// a longer key is shown as a window of at most this many operations
// (porcupine's page of a key of 20,000 operations is 4 MB, and a 5-minute
// run's 17 keys made 620 MB).
const LinVisualizeMax = 1000

// linVisualizeTimeout bounds the search of the window.
const linVisualizeTimeout = 10 * time.Second

// visualizeBounded writes the visualization of the non-linearizable key k
// (w from checkVerbose) to path. A key of at most LinVisualizeMax
// operations is shown whole. A longer one is shown as a window ending at
// its first failure: with P the longest partial linearization and X the
// operation it could not place (see linFirstFailure), the window starts
// from the state P leaves after all but its last LinVisualizeMax/2
// operations, and holds those last operations of P, X and the other
// operations invoked before X returned, up to LinVisualizeMax (the latest
// invoked first). Porcupine searches the window again from that state; the
// page carries a note saying which operations it shows and that the
// verdict comes from the search of all of them. When the window alone is
// linearizable (the operations left out mattered) or its search times
// out, no file is written and skipped says why.
func (k *linKey) visualizeBounded(w linWitnessInfo, path string) (skipped string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("porcupine visualization failed: %v", r)
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	if len(k.ops) <= LinVisualizeMax {
		return "", porcupine.VisualizePath(k.porcupineModel(nil), w.info, path)
	}
	prefix, placed, stuck := linFirstFailure(k, w.partials)
	if stuck < 0 {
		return "porcupine named no operation that cannot be placed", nil
	}
	tail := min(len(prefix), LinVisualizeMax/2)
	pre := prefix[:len(prefix)-tail]
	start := k.replayState(pre)
	in := make([]bool, len(k.ops))
	var ids []int
	add := func(id int) {
		if !in[id] {
			in[id] = true
			ids = append(ids, id)
		}
	}
	for _, id := range prefix[len(pre):] {
		add(id)
	}
	add(stuck)
	// The other unplaced operations invoked before X returned, latest
	// invoked first.
	var others []int
	for id := range k.ops {
		if !placed[id] && !in[id] && k.ops[id].call <= k.ops[stuck].ret {
			others = append(others, id)
		}
	}
	slices.SortFunc(others, func(a, b int) int { return cmp.Compare(k.ops[b].call, k.ops[a].call) })
	for _, id := range others {
		if len(ids) >= LinVisualizeMax {
			break
		}
		add(id)
	}
	slices.SortFunc(ids, func(a, b int) int { return cmp.Compare(k.ops[a].call, k.ops[b].call) })
	sub := make([]linOp, len(ids))
	for n, id := range ids {
		sub[n] = k.ops[id]
	}
	wk := newLinKey(k.model, k.key, sub)
	wk.label()
	model := wk.porcupineModel(nil)
	model.Init = func() interface{} { return start }
	res, info := porcupine.CheckOperationsVerbose(model, wk.pops, linVisualizeTimeout)
	switch res {
	case porcupine.Ok:
		return fmt.Sprintf("the key has %d operations, more than the %d a visualization shows, and the window of %d operations ending at the first failure is linearizable on its own", len(k.ops), LinVisualizeMax, len(ids)), nil
	case porcupine.Unknown:
		return fmt.Sprintf("the key has %d operations, more than the %d a visualization shows, and the search of the window of %d operations ending at the first failure took longer than %s", len(k.ops), LinVisualizeMax, len(ids), linVisualizeTimeout), nil
	}
	first, last := sub[0].refInv, sub[0].refInv
	var lo, hi int64 = sub[0].call, sub[0].call
	for _, o := range sub {
		first, last = min(first, o.refInv), max(last, o.refInv, o.refComp)
		lo = min(lo, o.call)
		if o.ret != math.MaxInt64 {
			hi = max(hi, o.ret)
		}
	}
	note := fmt.Sprintf("chaoscheck: this page shows %d of the %d operations of key %q (history #%d to #%d), the window ending at the first operation that cannot be placed; it starts from the state %s, left by the first %d operations of the longest linearizable prefix. The verdict comes from the search of all %d operations.",
		len(ids), len(k.ops), k.key, first, last, linClip(k.describeState(start)), len(pre), len(k.ops))
	info.AddAnnotations([]porcupine.Annotation{{Tag: "chaoscheck", Start: lo, End: hi, Description: fmt.Sprintf("window: %d of the %d operations", len(ids), len(k.ops)), Details: note}})
	return "", visualizeWithNote(model, info, path, note)
}

// visualizeWithNote writes porcupine's page with note as a visible
// paragraph at the top of its body.
func visualizeWithNote(model porcupine.Model, info porcupine.LinearizationInfo, path, note string) error {
	var b bytes.Buffer
	if err := porcupine.Visualize(model, info, &b); err != nil {
		return err
	}
	page := b.Bytes()
	para := []byte(`<p style="font: 14px sans-serif; background: #fff3cd; padding: 8px; margin: 8px">` + html.EscapeString(note) + `</p>`)
	if i := bytes.Index(page, []byte("<body>")); i >= 0 {
		i += len("<body>")
		page = slices.Concat(page[:i], para, page[i:])
	} else {
		page = slices.Concat(para, page)
	}
	return os.WriteFile(path, page, 0o644)
}

// replayState steps the model through seq (ids into k.ops) from the
// initial state, and returns the raw state (as the porcupine model holds
// it). seq must be a linearizable sequence, as a partial linearization is.
func (k *linKey) replayState(seq []int) interface{} {
	if k.model == ModelKV {
		st := ""
		for _, id := range seq {
			_, st = linKVStep(st, &k.ops[id])
		}
		return st
	}
	st := linEmpty
	for _, id := range seq {
		_, st = linRegStepValues(st, &k.ops[id])
	}
	return st.state()
}

// linRegStepValues is linRegStep on the values themselves rather than
// their search states: what a person reads. A sequence legal for one is
// legal for the other (linMergeUnobserved), so replays of partial
// linearizations use it to name the values the register held.
func linRegStepValues(st *linVal, op *linOp) (ok bool, next *linVal) {
	switch op.kind {
	case linRead:
		return st == op.reg, st
	case linWrite:
		return true, op.reg
	case linCAS:
		if st == op.reg {
			return true, op.reg2
		}
		return false, st
	case linCASNotSwapped:
		return st != op.reg, st
	case linCASUnknown:
		if st == op.reg {
			return true, op.reg2
		}
		return true, st
	}
	return false, st
}

// describeState describes a raw state of k's model.
func (k *linKey) describeState(st interface{}) string {
	if k.model == ModelKV {
		s, _ := st.(string)
		return strconv.Quote(s)
	}
	v, _ := st.(*linVal)
	return v.String()
}

// replay steps the model through seq (ids into k.ops) from the initial
// state. It returns the final state, described, and the position in seq
// of the last operation that changed the state (-1 when none did). ok is
// false if some step is refused, which a partial linearization never is.
func (k *linKey) replay(seq []int) (state string, setter int, ok bool) {
	setter = -1
	if k.model == ModelKV {
		st := ""
		for n, id := range seq {
			step, next := linKVStep(st, &k.ops[id])
			if !step {
				return strconv.Quote(st), setter, false
			}
			if next != st {
				setter = n
			}
			st = next
		}
		return strconv.Quote(st), setter, true
	}
	st := linEmpty
	for n, id := range seq {
		step, next := linRegStepValues(st, &k.ops[id])
		if !step {
			return st.String(), setter, false
		}
		if next != st {
			setter = n
		}
		st = next
	}
	return st.String(), setter, true
}
