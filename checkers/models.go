package checkers

// This file holds the sequential models of the Linearizable checker and
// everything that touches porcupine's interface{}-typed model functions.
// Nothing exported here mentions interface{}.

import (
	"fmt"
	"math"
	"strconv"
	"sync/atomic"

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

// opKind is what an operation does to the model state.
type opKind uint8

const (
	// opRead: ok read; the register must hold reg.
	opRead opKind = iota
	// opWrite: write of reg (ok, info or open).
	opWrite
	// opCAS: ok CAS that swapped: the register must hold reg, then holds
	// reg2.
	opCAS
	// opCASNotSwapped: ok CAS whose compare failed: the register must not
	// hold reg.
	opCASNotSwapped
	// opCASUnknown: info or open CAS: if the register holds reg it becomes
	// reg2, otherwise nothing happens (accepted either way).
	opCASUnknown
	// opGet: ok get; the cell must hold str.
	opGet
	// opPut: put of str.
	opPut
	// opAppend: append of str.
	opAppend
)

// regVal is an interned register value: within one check, two equal values
// are the same pointer, so the porcupine state comparison is a pointer
// comparison and stepping allocates nothing.
type regVal struct {
	id    uint64 // 0 for the empty register
	v     int64
	empty bool
}

// regEmpty is the empty register, the initial state of every key.
var regEmpty = &regVal{empty: true}

func (r *regVal) String() string {
	if r == nil || r.empty {
		return "nil"
	}
	return strconv.FormatInt(r.v, 10)
}

// interner hands out one *regVal per distinct integer.
type interner struct {
	m     map[int64]*regVal
	chunk []regVal
}

func (in *interner) get(v int64) *regVal {
	if r, ok := in.m[v]; ok {
		return r
	}
	if in.m == nil {
		in.m = make(map[int64]*regVal)
	}
	if len(in.chunk) == 0 {
		in.chunk = make([]regVal, 256)
	}
	r := &in.chunk[0]
	in.chunk = in.chunk[1:]
	*r = regVal{id: uint64(len(in.m)) + 1, v: v}
	in.m[v] = r
	return r
}

// linOp is one client operation as the search sees it.
type linOp struct {
	kind opKind
	// unknown: the outcome is unknown (info or never completed); the op
	// may take effect at any time after its invocation, or never.
	unknown bool
	open    bool // never completed
	reg     *regVal
	reg2    *regVal
	str     string
	f       string
	// invoke and complete are history indexes (complete is history.Open
	// for a never-completed op); process is the client.
	invoke   int
	complete int
	process  history.Process
	// call and ret are the search's interval: history positions, with
	// ret = +infinity for an unknown outcome.
	call, ret int64
}

// ref is how messages name the op: its completion index, or its
// invocation index when it never completed.
func (o *linOp) ref() int {
	if o.open {
		return o.invoke
	}
	return o.complete
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
	case opRead:
		body = fmt.Sprintf("read #%d returning %s", o.ref(), o.reg)
	case opWrite:
		body = fmt.Sprintf("write #%d of %s", o.ref(), o.reg)
	case opCAS:
		body = fmt.Sprintf("cas #%d [%s %s] (swapped)", o.ref(), o.reg, o.reg2)
	case opCASNotSwapped:
		body = fmt.Sprintf("cas #%d [%s %s] (not swapped)", o.ref(), o.reg, o.reg2)
	case opCASUnknown:
		body = fmt.Sprintf("cas #%d [%s %s]", o.ref(), o.reg, o.reg2)
	case opGet:
		body = fmt.Sprintf("get #%d returning %s", o.ref(), strconv.Quote(o.str))
	case opPut:
		body = fmt.Sprintf("put #%d of %s", o.ref(), strconv.Quote(o.str))
	case opAppend:
		body = fmt.Sprintf("append #%d of %s", o.ref(), strconv.Quote(o.str))
	}
	return prefix + body + suffix
}

// short is the visualization label of the op.
func (o *linOp) short() string {
	var s string
	switch o.kind {
	case opRead:
		s = "read() -> " + o.reg.String()
	case opWrite:
		s = "write(" + o.reg.String() + ")"
	case opCAS:
		s = "cas(" + o.reg.String() + ", " + o.reg2.String() + ") -> swapped"
	case opCASNotSwapped:
		s = "cas(" + o.reg.String() + ", " + o.reg2.String() + ") -> not swapped"
	case opCASUnknown:
		s = "cas(" + o.reg.String() + ", " + o.reg2.String() + ")"
	case opGet:
		s = "get() -> " + strconv.Quote(o.str)
	case opPut:
		s = "put(" + strconv.Quote(o.str) + ")"
	case opAppend:
		s = "append(" + strconv.Quote(o.str) + ")"
	}
	if o.unknown {
		s += " -> unknown"
	}
	return s
}

// regStep applies op to the register state st. It is the whole register
// semantics; ok is false when op cannot take effect in state st.
func regStep(st *regVal, op *linOp) (ok bool, next *regVal) {
	switch op.kind {
	case opRead:
		return st == op.reg, st
	case opWrite:
		return true, op.reg
	case opCAS:
		if st == op.reg {
			return true, op.reg2
		}
		return false, st
	case opCASNotSwapped:
		return st != op.reg, st
	case opCASUnknown:
		if st == op.reg {
			return true, op.reg2
		}
		return true, st
	}
	return false, st
}

// kvStep applies op to the string cell st.
func kvStep(st string, op *linOp) (ok bool, next string) {
	switch op.kind {
	case opGet:
		return st == op.str, st
	case opPut:
		return true, op.str
	case opAppend:
		return true, st + op.str
	}
	return false, st
}

// keyOps is one key's operations, ready for the search. ops[i] is the
// operation of porcupine id i.
type keyOps struct {
	model Model
	key   string
	ops   []linOp
	pops  []porcupine.Operation
}

// badOp is the error of an operation the model cannot interpret.
func badOp(op *history.Op, format string, args ...any) error {
	return fmt.Errorf("op #%d (%s %s): %s", op.Index, op.Type, op.F, fmt.Sprintf(format, args...))
}

// buildKeyOps interprets the client operations pairs[idx[...]] of one key
// under model m. Failed operations and reads with an unknown outcome are
// dropped: they had no effect and carry no information. Time is the
// history position: the order in which the controller observed the events,
// exact and free of ties. Unknown outcomes return at +infinity.
func buildKeyOps(m Model, key string, h *history.History, pairs []history.Pair, idx []int32, in *interner) (*keyOps, error) {
	k := &keyOps{model: m, key: key, ops: make([]linOp, 0, len(idx))}
	for _, pi := range idx {
		p := pairs[pi]
		inv := &h.Ops[p.Invoke]
		comp := h.Completion(p)
		outcome := h.Outcome(p)
		o := linOp{
			f:        inv.F,
			invoke:   inv.Index,
			complete: history.Open,
			process:  inv.Process,
			unknown:  outcome == history.Info,
			open:     comp == nil,
		}
		if comp != nil {
			o.complete = comp.Index
		}
		keep, err := m.interpret(&o, inv, comp, outcome, in)
		if err != nil {
			return nil, err
		}
		if keep {
			o.call = int64(p.Invoke)
			o.ret = math.MaxInt64
			if !o.unknown {
				o.ret = int64(p.Complete)
			}
			k.ops = append(k.ops, o)
		}
	}
	k.pops = make([]porcupine.Operation, len(k.ops))
	for n := range k.ops {
		k.pops[n] = porcupine.Operation{Input: &k.ops[n], Call: k.ops[n].call, Return: k.ops[n].ret}
	}
	return k, nil
}

// interpret fills o from the invocation and completion of one operation.
// keep is false for an operation the search must not see.
func (m Model) interpret(o *linOp, inv, comp *history.Op, outcome history.Type, in *interner) (keep bool, err error) {
	isReg := m == ModelRegister || m == ModelCASRegister
	switch {
	case isReg && inv.F == "read":
		if outcome != history.OK {
			return false, nil
		}
		o.kind = opRead
		o.reg, err = regValue(comp, comp.Value, in)
		return err == nil, err
	case isReg && inv.F == "write":
		if outcome == history.Fail {
			return false, nil
		}
		o.kind = opWrite
		v := inv.Value
		if v.IsNil() && outcome == history.OK {
			v = comp.Value
		}
		i, ok := v.AsInt()
		if !ok {
			return false, badOp(inv, "write needs an integer value, got %s", v)
		}
		o.reg = in.get(i)
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
			return false, badOp(inv, "cas needs [old new] integers, got %s", inv.Value)
		}
		o.reg, o.reg2 = in.get(args[0]), in.get(args[1])
		switch {
		case outcome != history.OK:
			o.kind = opCASUnknown
		case comp.Value.IsNil():
			o.kind = opCAS
		default:
			vs, isList := comp.Value.AsList()
			if !isList || (len(vs) != 2 && len(vs) != 3) {
				return false, badOp(comp, "ok cas completion must be [old new] or [old new %q], got %s", NotSwapped, comp.Value)
			}
			if len(vs) == 3 {
				if s, isStr := vs[2].AsString(); !isStr || s != NotSwapped {
					return false, badOp(comp, "ok cas completion must be [old new] or [old new %q], got %s", NotSwapped, comp.Value)
				}
				o.kind = opCASNotSwapped
			} else {
				o.kind = opCAS
			}
			got, isInts := history.List(vs[:2]...).AsInts()
			if !isInts || got[0] != args[0] || got[1] != args[1] {
				return false, badOp(comp, "ok cas completion %s does not match its invocation %s", comp.Value, inv.Value)
			}
		}
		return true, nil
	case m == ModelKV && inv.F == "get":
		if outcome != history.OK {
			return false, nil
		}
		o.kind = opGet
		if comp.Value.IsNil() {
			return true, nil
		}
		s, ok := comp.Value.AsString()
		if !ok {
			return false, badOp(comp, "get must return a string or nil, got %s", comp.Value)
		}
		o.str = s
		return true, nil
	case m == ModelKV && (inv.F == "put" || inv.F == "append"):
		if outcome == history.Fail {
			return false, nil
		}
		o.kind = opPut
		if inv.F == "append" {
			o.kind = opAppend
		}
		v := inv.Value
		if v.IsNil() && outcome == history.OK {
			v = comp.Value
		}
		s, ok := v.AsString()
		if !ok {
			return false, badOp(inv, "%s needs a string value, got %s", inv.F, v)
		}
		o.str = s
		return true, nil
	}
	want := "read, write"
	switch m {
	case ModelCASRegister:
		want = "read, write, cas"
	case ModelKV:
		want = "get, put, append"
	}
	return false, badOp(inv, "f %q is not an operation of the %s model (%s)", inv.F, m, want)
}

// regValue interprets a read result: an integer, or nil for the empty
// register.
func regValue(op *history.Op, v history.Value, in *interner) (*regVal, error) {
	if v.IsNil() {
		return regEmpty, nil
	}
	i, ok := v.AsInt()
	if !ok {
		return nil, badOp(op, "read must return an integer or nil, got %s", v)
	}
	return in.get(i), nil
}

// porcupineModel returns the porcupine model of k. When stop is non-nil
// and becomes true, every step fails so that the search unwinds at once;
// the caller must then disregard a "not linearizable" answer.
func (k *keyOps) porcupineModel(stop *atomic.Bool) porcupine.Model {
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
				ok, next := kvStep(st, o)
				return ok, next
			},
			DescribeOperation:         describeOp,
			DescribeState:             func(state interface{}) string { s, _ := state.(string); return strconv.Quote(s) },
			DescribeOperationMetadata: describeMeta,
		}
	}
	return porcupine.Model{
		Init: func() interface{} { return regEmpty },
		Step: func(state, input, _ interface{}) (bool, interface{}) {
			if stop != nil && stop.Load() {
				return false, state
			}
			st, _ := state.(*regVal)
			o, ok := input.(*linOp)
			if !ok {
				return false, state
			}
			ok, next := regStep(st, o)
			return ok, next
		},
		Hash: func(state interface{}) uint64 {
			if st, ok := state.(*regVal); ok {
				return st.id * 0x9e3779b97f4a7c15
			}
			return 0
		},
		DescribeOperation:         describeOp,
		DescribeState:             func(state interface{}) string { st, _ := state.(*regVal); return st.String() },
		DescribeOperationMetadata: describeMeta,
	}
}

// check reports whether k is linearizable. With stop set during the
// search, false means "undecided".
func (k *keyOps) check(stop *atomic.Bool) bool {
	return porcupine.CheckOperations(k.porcupineModel(stop), k.pops)
}

// witnessInfo is what the verbose search tells about a non-linearizable
// key, in our own types.
type witnessInfo struct {
	// partials are porcupine's maximal partial linearizations, as ids into
	// k.ops.
	partials [][]int
	info     porcupine.LinearizationInfo
}

// checkVerbose runs the search again, keeping porcupine's partial
// linearizations. It labels the operations with client rows and history
// indexes first, for the visualization.
func (k *keyOps) checkVerbose(stop *atomic.Bool) (linearizable bool, w witnessInfo) {
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
			k.pops[i].Metadata = fmt.Sprintf("process %s, invoked #%d, never completed", o.process, o.invoke)
		} else {
			k.pops[i].Metadata = fmt.Sprintf("process %s, #%d to #%d", o.process, o.invoke, o.complete)
		}
	}
	res, info := porcupine.CheckOperationsVerbose(k.porcupineModel(stop), k.pops, 0)
	if p := info.PartialLinearizations(); len(p) > 0 {
		w.partials = p[0]
	}
	w.info = info
	return res == porcupine.Ok, w
}

// visualize writes porcupine's HTML visualization of w to path.
func (k *keyOps) visualize(w witnessInfo, path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("porcupine visualization failed: %v", r)
		}
	}()
	return porcupine.VisualizePath(k.porcupineModel(nil), w.info, path)
}

// replay steps the model through seq (ids into k.ops) from the initial
// state. It returns the final state, described, and the position in seq
// of the last operation that changed the state (-1 when none did). ok is
// false if some step is refused, which a partial linearization never is.
func (k *keyOps) replay(seq []int) (state string, setter int, ok bool) {
	setter = -1
	if k.model == ModelKV {
		st := ""
		for n, id := range seq {
			step, next := kvStep(st, &k.ops[id])
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
	st := regEmpty
	for n, id := range seq {
		step, next := regStep(st, &k.ops[id])
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
