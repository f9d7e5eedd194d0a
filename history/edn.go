package history

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// ReadEDN reads a Jepsen history in EDN: op maps one after another (the
// history.edn of Jepsen, one map a line) or inside one vector or list
// (which may span many lines), possibly written as record literals
// (#jepsen.history.Op{...}). Comments, commas and #_ discards are allowed.
//
// Keys of an op map (keywords):
//
//   - :type (required) :invoke, :ok, :fail or :info.
//   - :f (required) a keyword or string, kept without the colon.
//   - :process (required) a non-negative integer, or :nemesis.
//   - :value nil, an integer, a string, a keyword (read as the string of
//     its name, without the colon), or a vector, list or set of those,
//     nested. Anything else (maps, booleans, floats, symbols) is an error
//     for a client op; for a nemesis op the value is kept as a string of
//     its EDN text.
//   - :time nanoseconds since the start of the test. When no op has a
//     time, each op's time is its position; an op without one among ops
//     with times takes the time of the op before it.
//   - :index ignored for ordering: ops are always re-indexed by position,
//     and an :index that differs is kept in Extra["jepsen-index"].
//   - :key a string, keyword or integer (as decimal text).
//   - :error a string or keyword (its name), or any other form (its EDN
//     text).
//   - :node a string, keyword or integer.
//
// Other keys are kept in Extra under their name: strings as their
// contents, every other form as its EDN text. String keys always go to
// Extra.
//
// As in Jepsen logs, an :info or :fail completion whose :value is a
// keyword (old Jepsen wrote `:value :timed-out`) is read as carrying its
// invocation's value, with the keyword's name as Error (or in
// Extra["jepsen-value"] when the op also has an :error).
//
// The input may have been cut by a crash in the middle of a write. The op
// being written is dropped, the complete ops before it are kept, and the
// cut is reported in ReadInfo (Truncated): an op the input ends inside, on
// the line where the op started; an op that no newline follows at the end
// of the input; and the end of a vector or list that was never closed. A
// cut inside an op that started on an earlier line is an error (a missing
// closing delimiter looks the same). Any other syntax error is an error
// naming its line, and so is a line longer than 256 MiB. The history must
// pass Validate; times that go back are reported in ReadInfo.
//
// Transactions (:f :txn) read like any value: :value [[:append :x 1]
// [:r :y [1 2]]] becomes [["append" "x" 1] ["r" "y" [1 2]]], keywords as
// their names, vector keys as lists, a read of nothing as nil (see
// package checkers/elle). Elle's test histories, which give completions
// without invocations or several invocations in flight on one process,
// are paired as Elle reads them (see importer.pairElle, reported in
// ReadInfo).
func ReadEDN(r io.Reader) (*History, ReadInfo, error) {
	var info ReadInfo
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	p := newEDNParser(br)
	im := newImporter()
	im.elle = true
	err := readEDNOps(p, im, &info)
	if p.consumed {
		info.Lines = p.line
		if p.lastNL {
			info.Lines--
		}
	}
	if info.Truncated {
		info.TruncatedLine = info.Lines
	}
	if err != nil {
		return nil, info, fmt.Errorf("history: edn %w", err)
	}
	h := im.finish(&info)
	if err := h.Validate(); err != nil {
		return nil, info, fmt.Errorf("history: invalid edn history: %w", err)
	}
	info.noteTimes(h)
	return h, info, nil
}

// readEDNOps reads top-level forms into im. It sets info.Truncated when
// the input was cut (see ReadEDN); the caller sets info.TruncatedLine.
func readEDNOps(p *ednParser, im *importer, info *ReadInfo) error {
	for {
		c, ok, err := p.skip(0)
		if err != nil || !ok {
			return err
		}
		switch c {
		case ')', ']', '}':
			return p.errorf("unexpected %q", c)
		case '[', '(':
			start := p.line
			p.read()
			closer := byte(']')
			if c == '(' {
				closer = ')'
			}
			if done, err := readEDNElements(p, im, info, closer, start); done || err != nil {
				return err
			}
		default:
			if done, err := readEDNOp(p, im, info, 0); done || err != nil {
				return err
			}
		}
	}
}

// readEDNElements reads the ops of a collection, whose opening delimiter
// (at line start) was consumed, up to closer. An input that ends before
// closer was cut: the complete ops are kept, and done is true.
func readEDNElements(p *ednParser, im *importer, info *ReadInfo, closer byte, start int) (done bool, err error) {
	for {
		c, ok, err := p.skip(1)
		if err != nil {
			return true, err
		}
		if !ok {
			info.Truncated = true
			return true, nil
		}
		if isCloser(c) {
			p.read()
			if c != closer {
				return true, p.errorf("%q closes a collection opened with %q at line %d", c, opener(closer), start)
			}
			return false, nil
		}
		if done, err := readEDNOp(p, im, info, 1); done || err != nil {
			return true, err
		}
	}
}

// readEDNOp reads one op form at depth and adds it, unless the input was
// cut in it or right after it (done is then true, and info.Truncated
// set). A form the input ends inside, on the line where it started, was
// being written when the writer stopped; so was a complete form that no
// newline follows at the end of the input (what remains of a cut value
// may parse: a read of 12 cut to 1). A form the input ends inside that
// started on an earlier line is an error: a missing closing delimiter in
// the middle of a file looks exactly like that, and dropping everything
// after it would lose the history silently.
func readEDNOp(p *ednParser, im *importer, info *ReadInfo, depth int) (done bool, err error) {
	start := p.line
	n, err := p.form(depth)
	var ee *ednError
	if errors.As(err, &ee) && ee.eof && start == p.line {
		info.Truncated = true
		return true, nil
	}
	if err != nil {
		return true, err
	}
	if err := im.addEDN(n); err != nil {
		return true, err
	}
	if p.atUnterminatedEnd() {
		// Converted first, so that a malformed op is reported as such.
		im.dropLast()
		info.Truncated = true
		return true, nil
	}
	return false, nil
}

// atUnterminatedEnd consumes the blanks and commas that follow a form on
// its line, and reports whether the input ends there, without a newline.
func (p *ednParser) atUnterminatedEnd() bool {
	for {
		c, ok := p.peek()
		if !ok {
			return p.err == nil
		}
		switch c {
		case ' ', '\t', '\r', ',', '\f', '\v':
			p.read()
		default:
			return false
		}
	}
}

// importer accumulates the ops of an imported history and applies the
// rules the importers share.
type importer struct {
	ops     []Op
	timed   []bool  // whether ops[i] came with a time
	index   []int64 // ops[i]'s :index in the input, or -1 when it had none
	anyTime bool
	elle    bool              // pair ops as Elle does (EDN only; see pairElle)
	pending map[Process]Value // value of each process's open invocation
}

func newImporter() *importer {
	return &importer{pending: make(map[Process]Value)}
}

// add appends op, stamping its index; index is its :index in the input
// (-1: none).
func (im *importer) add(op Op, timed bool, index int64) {
	op.Index = len(im.ops)
	im.ops = append(im.ops, op)
	im.timed = append(im.timed, timed)
	im.index = append(im.index, index)
	im.anyTime = im.anyTime || timed
}

// dropLast removes the op added last. The value tracked for its process
// is left as it is: no op comes after it.
func (im *importer) dropLast() {
	n := len(im.ops) - 1
	im.ops, im.timed, im.index = im.ops[:n], im.timed[:n], im.index[:n]
	im.anyTime = slices.Contains(im.timed, true)
}

// setValue sets op.Value from the EDN form n (nil when absent), applying
// the keyword rule for :info and :fail completions, and tracks the value
// of open invocations. op.Type and op.Process must be set.
func (im *importer) setValue(op *Op, n *ednNode) error {
	if !op.IsClient() {
		if n != nil {
			v, err := ednValue(*n, 0)
			if err != nil {
				v = Str(n.String())
			}
			op.Value = v
		}
		return nil
	}
	switch {
	case n == nil:
		op.Value = Nil()
	case n.kind == ednKeyword && (op.Type == Info || op.Type == Fail):
		op.Value = im.pending[op.Process]
		if op.Error == "" {
			op.Error = n.s
		} else if _, ok := op.Extra["jepsen-value"]; !ok {
			setExtra(op, "jepsen-value", n.String())
		}
	default:
		v, err := ednValue(*n, 0)
		if err != nil {
			return err
		}
		op.Value = v
	}
	if op.Type == Invoke {
		im.pending[op.Process] = op.Value
	} else {
		delete(im.pending, op.Process)
	}
	return nil
}

// finish returns the history, filling in times, pairing the ops of
// Elle's test histories (EDN only, see pairElle) and recording, in
// Extra["jepsen-index"], the :index of every op whose :index differs from
// its position.
func (im *importer) finish(info *ReadInfo) *History {
	if im.elle {
		im.pairElle(info)
	}
	for i := range im.ops {
		if x := im.index[i]; x >= 0 && x != int64(i) {
			setExtra(&im.ops[i], "jepsen-index", strconv.FormatInt(x, 10))
		}
	}
	var last int64
	for i := range im.ops {
		switch {
		case !im.anyTime:
			im.ops[i].Time = int64(i)
		case !im.timed[i]:
			im.ops[i].Time = last
		}
		last = im.ops[i].Time
	}
	return &History{Ops: im.ops}
}

func setExtra(op *Op, k, v string) {
	if op.Extra == nil {
		op.Extra = make(map[string]string)
	}
	op.Extra[k] = v
}

// ednField names the standard keys of an op map.
var ednFields = map[string]bool{
	"index": true, "time": true, "type": true, "process": true, "f": true,
	"key": true, "value": true, "error": true, "node": true,
}

// addEDN converts one op map (or a tagged op map) and adds it.
func (im *importer) addEDN(n ednNode) error {
	m := n
	for m.kind == ednTagged && len(m.items) == 1 {
		m = m.items[0]
	}
	if m.kind != ednMap {
		return &ednError{line: n.line, msg: fmt.Sprintf("expected an op map, got %s", m.kind.withArticle())}
	}
	fail := func(format string, args ...any) error {
		return &ednError{line: n.line, msg: fmt.Sprintf(format, args...)}
	}
	var (
		op                     Op
		value                  *ednNode
		index                  int64
		hasType, hasF, hasProc bool
		hasTime, hasIndex      bool
		seen                   = make(map[string]bool, len(m.items)/2)
	)
	for k := 0; k+1 < len(m.items); k += 2 {
		key, v := m.items[k], m.items[k+1]
		var field, extra string // a standard field, or the Extra key
		switch {
		case key.kind == ednKeyword && ednFields[key.s]:
			field = key.s
		case key.kind == ednKeyword || key.kind == ednString:
			extra = key.s
		default:
			extra = key.String()
		}
		dest := "field " + field
		if field == "" {
			dest = "extra " + extra
		}
		if seen[dest] {
			return fail("duplicate key %s", Clip(key.String()))
		}
		seen[dest] = true
		if field == "" {
			setExtra(&op, extra, extraText(v))
			continue
		}
		switch field {
		case "type":
			s, ok := nameOf(v)
			t, known := ParseType(s)
			if !ok || !known {
				return fail(":type must be :invoke, :ok, :fail or :info, got %s", Clip(v.String()))
			}
			op.Type, hasType = t, true
		case "f":
			s, ok := nameOf(v)
			if !ok || s == "" {
				return fail(":f must be a keyword or string, got %s", Clip(v.String()))
			}
			op.F, hasF = s, true
		case "process":
			switch {
			case v.kind == ednInt && v.i >= 0 && v.i <= math.MaxInt32:
				op.Process = Process(v.i)
			case (v.kind == ednKeyword || v.kind == ednString) && v.s == "nemesis":
				op.Process = Nemesis
			default:
				return fail(":process must be a non-negative 32-bit integer or :nemesis, got %s", Clip(v.String()))
			}
			hasProc = true
		case "value":
			value = &m.items[k+1]
		case "time":
			if v.kind != ednInt {
				return fail(":time must be an integer, got %s", Clip(v.String()))
			}
			op.Time, hasTime = v.i, true
		case "index":
			if v.kind != ednInt {
				return fail(":index must be an integer, got %s", Clip(v.String()))
			}
			index, hasIndex = v.i, true
		case "key":
			switch v.kind {
			case ednString, ednKeyword:
				op.Key = v.s
			case ednInt:
				op.Key = strconv.FormatInt(v.i, 10)
			case ednNil:
			default:
				return fail(":key must be a string, keyword or integer, got %s", Clip(v.String()))
			}
		case "error":
			op.Error = textOf(v)
		case "node":
			op.Node = textOf(v)
		}
	}
	switch {
	case !hasType:
		return fail("op has no :type")
	case !hasF:
		return fail("op has no :f")
	case !hasProc:
		return fail("op has no :process")
	}
	if err := im.setValue(&op, value); err != nil {
		return fail(":value: %v", err)
	}
	if !hasIndex {
		index = -1
	}
	if _, ok := op.Extra["jepsen-index"]; ok {
		index = -1 // the file names it itself
	}
	im.add(op, hasTime, index)
	return nil
}

// nameOf returns the name of a keyword or the contents of a string.
func nameOf(n ednNode) (string, bool) {
	if n.kind == ednKeyword || n.kind == ednString {
		return n.s, true
	}
	return "", false
}

// textOf renders a form as text for a string field: strings as they are,
// keywords as their name, integers in decimal, nil as "", anything else as
// EDN.
func textOf(n ednNode) string {
	switch n.kind {
	case ednString, ednKeyword:
		return n.s
	case ednNil:
		return ""
	case ednInt:
		return strconv.FormatInt(n.i, 10)
	}
	return n.String()
}

// extraText renders a form for Extra: strings as their contents, anything
// else as EDN text.
func extraText(n ednNode) string {
	if n.kind == ednString {
		return n.s
	}
	return n.String()
}

// ednValue converts a form into a Value.
func ednValue(n ednNode, depth int) (Value, error) {
	if depth > maxValueDepth {
		return Value{}, fmt.Errorf("value nested deeper than %d", maxValueDepth)
	}
	switch n.kind {
	case ednNil:
		return Nil(), nil
	case ednInt:
		return Int(n.i), nil
	case ednString, ednKeyword:
		return Str(n.s), nil
	case ednChar:
		return Str(string(n.r)), nil
	case ednVector, ednList, ednSet:
		vs := make([]Value, len(n.items))
		for k := range n.items {
			v, err := ednValue(n.items[k], depth+1)
			if err != nil {
				return Value{}, err
			}
			vs[k] = v
		}
		return List(vs...), nil
	case ednTagged:
		if len(n.items) == 1 {
			return ednValue(n.items[0], depth)
		}
	}
	return Value{}, fmt.Errorf("unsupported %s %s (values are nil, integers, strings, keywords and collections of those)", n.kind, Clip(n.String()))
}

// pairElle makes the histories of Elle's test suite well-formed, as Elle
// reads them (it accepts them as they are):
//
//   - A client completion with no open invocation of its process (tests
//     often give completions only) gets an invocation inserted just before
//     it: same process, f and key, with the completion's value, except
//     that the reads of a transaction (micro-ops [r k v]) carry nil, as an
//     invocation does. The inserted op has Extra["synthetic"] = "invoke"
//     and no time of its own. Counted in ReadInfo.SynthesizedInvokes.
//   - An invocation while its process already has one open, or after its
//     process ended info, is moved with its completion (completions are
//     matched to the oldest open invocation of their process) to a new
//     process id above every id of the file, as Jepsen does after a crash.
//     The original process is kept in Extra["jepsen-process"]. Counted in
//     ReadInfo.RemappedProcesses.
//
// A history of Jepsen itself is never changed: it keeps one operation in
// flight per process.
func (im *importer) pairElle(info *ReadInfo) {
	next := Process(0)
	for i := range im.ops {
		if p := im.ops[i].Process; p >= next {
			next = p + 1
		}
	}
	type slot struct{ procs []Process } // open invocations, oldest first
	open := make(map[Process]*slot)
	crashed := make(map[Process]bool)
	out := make([]Op, 0, len(im.ops))
	var timed []bool
	var index []int64
	changed := false
	for i := range im.ops {
		op := im.ops[i]
		if !op.IsClient() {
			out, timed, index = append(out, op), append(timed, im.timed[i]), append(index, im.index[i])
			continue
		}
		orig := op.Process
		s := open[orig]
		if s == nil {
			s = &slot{}
			open[orig] = s
		}
		if op.Type == Invoke {
			if len(s.procs) > 0 || crashed[orig] {
				op.Process = next
				next++
				setExtra(&op, "jepsen-process", orig.String())
				info.RemappedProcesses++
				changed = true
			}
			s.procs = append(s.procs, op.Process)
		} else {
			if len(s.procs) == 0 {
				inv := Op{Type: Invoke, Process: orig, F: op.F, Key: op.Key, Value: invocationValue(op.F, op.Value), Time: op.Time}
				if crashed[orig] {
					inv.Process = next
					next++
					setExtra(&inv, "jepsen-process", orig.String())
					info.RemappedProcesses++
				}
				setExtra(&inv, "synthetic", "invoke")
				out, timed, index = append(out, inv), append(timed, false), append(index, -1)
				info.SynthesizedInvokes++
				changed = true
				s.procs = append(s.procs, inv.Process)
			}
			op.Process = s.procs[0]
			s.procs = s.procs[1:]
			if op.Process != orig {
				setExtra(&op, "jepsen-process", orig.String())
			}
			if op.Type == Info && op.Process == orig {
				crashed[orig] = true
			}
		}
		out, timed, index = append(out, op), append(timed, im.timed[i]), append(index, im.index[i])
	}
	if !changed {
		return
	}
	for i := range out {
		out[i].Index = i
	}
	im.ops, im.timed, im.index = out, timed, index
}

// invocationValue is the value of the invocation of a completion of f
// with value v: v, except that the reads of a transaction carry nil.
func invocationValue(f string, v Value) Value {
	if f != "txn" {
		return v
	}
	mops, ok := v.AsList()
	if !ok {
		return v
	}
	out := make([]Value, len(mops))
	for n, m := range mops {
		out[n] = m
		if l, ok := m.AsList(); ok && len(l) == 3 {
			if s, ok := l[0].AsString(); ok && s == "r" {
				out[n] = List(l[0], l[1], Nil())
			}
		}
	}
	return List(out...)
}
