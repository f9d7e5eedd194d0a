package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"
)

// This file is the JSONL codec of ops: an encoder that appends a line to a
// buffer without allocating, and a decoder for the lines it writes that
// interns repeated strings and carves lists out of shared slabs, so that a
// loaded history of millions of ops holds little more than its []Op.
// Lines the fast decoder does not recognise (other field orders are fine;
// escapes, unknown fields, odd spacing, bad values are not) are decoded by
// encoding/json instead, which gives the same ops and the same errors.

// appendJSONString appends s as a JSON string.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			b, err := json.Marshal(s) // escapes and invalid UTF-8: rare
			if err != nil {
				return append(buf, `""`...) // unreachable: strings always marshal
			}
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// appendOpHead appends the start of op's line: the index and the time.
func appendOpHead(buf []byte, index int, t int64) []byte {
	buf = append(buf, `{"index":`...)
	buf = strconv.AppendInt(buf, int64(index), 10)
	buf = append(buf, `,"time":`...)
	return strconv.AppendInt(buf, t, 10)
}

// appendOpBody appends the rest of op's line after the time: every other
// field, the closing brace and the newline. The fields come in the order
// and with the omissions of encoding/json on Op.
func appendOpBody(buf []byte, op *Op) ([]byte, error) {
	if !op.Type.Valid() {
		return nil, fmt.Errorf("history: op %d: invalid type %d", op.Index, uint8(op.Type))
	}
	buf = append(buf, `,"type":"`...)
	buf = append(buf, typeNames[op.Type]...)
	buf = append(buf, '"')
	buf = append(buf, `,"process":`...)
	if op.Process == Nemesis {
		buf = append(buf, `"nemesis"`...)
	} else {
		buf = strconv.AppendInt(buf, int64(op.Process), 10)
	}
	buf = append(buf, `,"f":`...)
	buf = appendJSONString(buf, op.F)
	if op.Key != "" {
		buf = append(buf, `,"key":`...)
		buf = appendJSONString(buf, op.Key)
	}
	buf = append(buf, `,"value":`...)
	var err error
	if buf, err = op.Value.appendJSON(buf); err != nil {
		return nil, err
	}
	if op.Error != "" {
		buf = append(buf, `,"error":`...)
		buf = appendJSONString(buf, op.Error)
	}
	if op.Node != "" {
		buf = append(buf, `,"node":`...)
		buf = appendJSONString(buf, op.Node)
	}
	if len(op.Extra) > 0 {
		buf = append(buf, `,"extra":{`...)
		for n, k := range slices.Sorted(maps.Keys(op.Extra)) {
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, k)
			buf = append(buf, ':')
			buf = appendJSONString(buf, op.Extra[k])
		}
		buf = append(buf, '}')
	}
	return append(buf, "}\n"...), nil
}

// appendOpLine appends op as one JSON line, newline included.
func appendOpLine(buf []byte, op *Op) ([]byte, error) {
	return appendOpBody(appendOpHead(buf, op.Index, op.Time), op)
}

// maxInterned bounds the strings an interner keeps: error messages that
// differ on every op must not grow it without bound.
const maxInterned = 1 << 16

// maxInternedLen is the longest string worth interning.
const maxInternedLen = 256

// maxInternedValue is the longest string value worth interning: short
// values are markers ("not-swapped") more often than unique data.
const maxInternedValue = 32

// slabValues is how many list elements one slab holds.
const slabValues = 4096

// decoder decodes op lines for one history. Strings that repeat (f, key,
// node, error, type, extra) are interned; list values share slabs.
type decoder struct {
	strs map[string]string
	slab []Value
	// extras holds the one-entry Extra maps decoded so far, by key and
	// value: a read policy's route repeats on every read, and ops share
	// one map (Extra maps are never modified) instead of one each.
	extras map[[2]string]map[string]string
}

func newDecoder() *decoder {
	return &decoder{strs: make(map[string]string, 64)}
}

// internExtra returns a one-entry map equal to {k: v}, shared with
// earlier equal ones (at most maxInterned of them).
func (d *decoder) internExtra(k, v string) map[string]string {
	key := [2]string{k, v}
	if m, ok := d.extras[key]; ok {
		return m
	}
	m := map[string]string{k: v}
	if d.extras == nil {
		d.extras = map[[2]string]map[string]string{}
	}
	if len(d.extras) < maxInterned {
		d.extras[key] = m
	}
	return m
}

// intern returns a string equal to b, shared with earlier equal strings.
func (d *decoder) intern(b []byte) string {
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.strs) < maxInterned && len(s) <= maxInternedLen {
		d.strs[s] = s
	}
	return s
}

// internString is intern for a string already allocated.
func (d *decoder) internString(s string) string {
	if t, ok := d.strs[s]; ok {
		return t
	}
	if len(d.strs) < maxInterned && len(s) <= maxInternedLen {
		d.strs[s] = s
	}
	return s
}

// list returns a slice of n values carved from the current slab.
func (d *decoder) list(vs []Value) []Value {
	n := len(vs)
	if n == 0 {
		return nil
	}
	if n > slabValues/16 {
		return slices.Clone(vs)
	}
	if len(d.slab) < n {
		d.slab = make([]Value, slabValues)
	}
	out := d.slab[:n:n]
	d.slab = d.slab[n:]
	copy(out, vs)
	return out
}

// decodeLine decodes one line into op: the fast path, or encoding/json.
func (d *decoder) decodeLine(line []byte, op *Op) error {
	*op = Op{}
	p := opParser{d: d, b: line}
	if p.op(op) {
		return nil
	}
	*op = Op{}
	if err := json.Unmarshal(line, op); err != nil {
		return err
	}
	d.compact(op)
	return nil
}

// compact interns the strings of an op decoded by encoding/json and moves
// its lists into slabs.
func (d *decoder) compact(op *Op) {
	op.F = d.internString(op.F)
	op.Key = d.internString(op.Key)
	op.Error = d.internString(op.Error)
	op.Node = d.internString(op.Node)
	op.Value = d.compactValue(op.Value)
	if len(op.Extra) == 0 {
		op.Extra = nil
	}
}

func (d *decoder) compactValue(v Value) Value {
	if v.Kind() != KindList {
		return v
	}
	es := v.elems()
	tmp := make([]Value, len(es))
	for n, e := range es {
		tmp[n] = d.compactValue(e)
	}
	return List(d.list(tmp)...)
}

// errFast makes the fast parser give up (the line goes to encoding/json).
var errFast = errors.New("not a fast line")

// opParser is the fast decoder of one line written by appendOpLine (in
// any field order). It gives up, returning false, on anything else.
type opParser struct {
	d   *decoder
	b   []byte
	pos int
	tmp [8]Value
}

func (p *opParser) peek() byte {
	if p.pos < len(p.b) {
		return p.b[p.pos]
	}
	return 0
}

func (p *opParser) lit(s string) bool {
	if len(p.b)-p.pos >= len(s) && string(p.b[p.pos:p.pos+len(s)]) == s {
		p.pos += len(s)
		return true
	}
	return false
}

// rawString returns the bytes of a string without escapes (false when it
// has any: encoding/json decodes those).
func (p *opParser) rawString() ([]byte, bool) {
	if p.peek() != '"' {
		return nil, false
	}
	start := p.pos + 1
	for i := start; i < len(p.b); i++ {
		switch c := p.b[i]; {
		case c == '"':
			p.pos = i + 1
			return p.b[start:i], true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return nil, false
		}
	}
	return nil, false
}

func (p *opParser) str() (string, bool) {
	b, ok := p.rawString()
	if !ok {
		return "", false
	}
	return p.d.intern(b), true
}

func (p *opParser) int() (int64, bool) {
	neg := false
	if p.peek() == '-' {
		neg = true
		p.pos++
	}
	digits := p.pos
	var n int64
	for p.pos < len(p.b) && p.b[p.pos] >= '0' && p.b[p.pos] <= '9' {
		n = n*10 + int64(p.b[p.pos]-'0')
		p.pos++
	}
	if p.pos == digits || p.pos-digits > 18 || p.b[digits] == '0' && p.pos-digits > 1 {
		return 0, false // empty, maybe out of range, or a leading zero: let encoding/json say
	}
	if c := p.peek(); c == '.' || c == 'e' || c == 'E' {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func (p *opParser) value(depth int) (Value, bool) {
	switch c := p.peek(); {
	case c == 'n':
		return Value{}, p.lit("null")
	case c == '"':
		b, ok := p.rawString()
		if !ok {
			return Value{}, false
		}
		if len(b) <= maxInternedValue {
			return Str(p.d.intern(b)), true // markers such as "not-swapped" repeat
		}
		return Str(string(b)), true
	case c == '-' || c >= '0' && c <= '9':
		n, ok := p.int()
		return Int(n), ok
	case c == '[':
		if depth >= maxValueDepth {
			return Value{}, false
		}
		p.pos++
		if p.lit("]") {
			return List(), true
		}
		var vs []Value
		if depth == 0 {
			vs = p.tmp[:0]
		}
		for {
			v, ok := p.value(depth + 1)
			if !ok {
				return Value{}, false
			}
			vs = append(vs, v)
			if p.lit("]") {
				return List(p.d.list(vs)...), true
			}
			if !p.lit(",") {
				return Value{}, false
			}
		}
	}
	return Value{}, false
}

func (p *opParser) extra() (map[string]string, bool) {
	if !p.lit("{") {
		return nil, false
	}
	if p.lit("}") {
		return nil, true
	}
	var m map[string]string
	for {
		k, ok := p.str()
		if !ok || !p.lit(":") {
			return nil, false
		}
		v, ok := p.str()
		if !ok {
			return nil, false
		}
		if m == nil && p.lit("}") {
			return p.d.internExtra(k, v), true
		}
		if m == nil {
			m = make(map[string]string, 2)
		}
		m[k] = v
		if p.lit("}") {
			return m, true
		}
		if !p.lit(",") {
			return nil, false
		}
	}
}

// op parses a whole line into op.
func (p *opParser) op(op *Op) bool {
	if !p.lit("{") {
		return false
	}
	seen := 0
	for {
		key, ok := p.rawString()
		if !ok || !p.lit(":") {
			return false
		}
		var bit int
		switch string(key) {
		case "index":
			bit = 1
			n, ok := p.int()
			if !ok || n < 0 || n > 1<<62 {
				return false
			}
			op.Index = int(n)
		case "time":
			bit = 2
			if op.Time, ok = p.int(); !ok {
				return false
			}
		case "type":
			bit = 4
			b, ok := p.rawString()
			if !ok {
				return false
			}
			op.Type, _ = ParseType(string(b))
		case "process":
			bit = 8
			if p.lit(`"nemesis"`) {
				op.Process = Nemesis
				break
			}
			n, ok := p.int()
			if !ok || n < 0 || n > 1<<31-1 {
				return false
			}
			op.Process = Process(n)
		case "f":
			bit = 16
			if op.F, ok = p.str(); !ok {
				return false
			}
		case "key":
			bit = 32
			if op.Key, ok = p.str(); !ok {
				return false
			}
		case "value":
			bit = 64
			if op.Value, ok = p.value(0); !ok {
				return false
			}
		case "error":
			bit = 128
			if op.Error, ok = p.str(); !ok {
				return false
			}
		case "node":
			bit = 256
			if op.Node, ok = p.str(); !ok {
				return false
			}
		case "extra":
			bit = 512
			if op.Extra, ok = p.extra(); !ok {
				return false
			}
		default:
			return false
		}
		if seen&bit != 0 {
			return false // a repeated field: encoding/json's rules apply
		}
		seen |= bit
		if p.lit("}") {
			return p.pos == len(p.b) || p.rest()
		}
		if !p.lit(",") {
			return false
		}
	}
}

// rest accepts only trailing '\r' or spaces after the object.
func (p *opParser) rest() bool {
	for _, c := range p.b[p.pos:] {
		if c != ' ' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}
