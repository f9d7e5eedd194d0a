package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// ValueKind says which form a Value holds.
type ValueKind uint8

const (
	// KindNil is the absent value: a read of an empty register, or an
	// invocation that carries no argument.
	KindNil ValueKind = iota
	// KindInt is a 64-bit integer.
	KindInt
	// KindString is a string.
	KindString
	// KindList is an ordered list of values: a CAS [old new], a set read,
	// a read-modify-write [read written].
	KindList
)

// Value is the payload of an operation: nil, an integer, a string or a list
// of values. It is a closed, typed sum so that checkers never type-switch on
// arbitrary interfaces, and it marshals to natural JSON (null, number,
// string, array) so history files stay readable by other tools.
//
// The zero Value is nil.
type Value struct {
	kind ValueKind
	i    int64
	s    string
	list []Value
}

// Nil returns the nil value.
func Nil() Value { return Value{} }

// Int returns an integer value.
func Int(i int64) Value { return Value{kind: KindInt, i: i} }

// Str returns a string value.
func Str(s string) Value { return Value{kind: KindString, s: s} }

// List returns a list value holding vs.
func List(vs ...Value) Value { return Value{kind: KindList, list: vs} }

// Ints returns a list value of integers.
func Ints(is ...int64) Value {
	vs := make([]Value, len(is))
	for n, i := range is {
		vs[n] = Int(i)
	}
	return List(vs...)
}

// Kind reports the form of v.
func (v Value) Kind() ValueKind { return v.kind }

// IsNil reports whether v is the nil value.
func (v Value) IsNil() bool { return v.kind == KindNil }

// AsInt returns the integer and true when v is an integer.
func (v Value) AsInt() (int64, bool) { return v.i, v.kind == KindInt }

// AsString returns the string and true when v is a string.
func (v Value) AsString() (string, bool) { return v.s, v.kind == KindString }

// AsList returns the elements and true when v is a list. The slice must not
// be modified.
func (v Value) AsList() ([]Value, bool) { return v.list, v.kind == KindList }

// AsInts returns the integers of a list of integers, and false when v is not
// a list or any element is not an integer.
func (v Value) AsInts() ([]int64, bool) {
	if v.kind != KindList {
		return nil, false
	}
	out := make([]int64, len(v.list))
	for n, e := range v.list {
		if e.kind != KindInt {
			return nil, false
		}
		out[n] = e.i
	}
	return out, true
}

// Equal reports whether two values are the same, deeply.
func (v Value) Equal(o Value) bool {
	if v.kind != o.kind {
		return false
	}
	switch v.kind {
	case KindInt:
		return v.i == o.i
	case KindString:
		return v.s == o.s
	case KindList:
		if len(v.list) != len(o.list) {
			return false
		}
		for n := range v.list {
			if !v.list[n].Equal(o.list[n]) {
				return false
			}
		}
	}
	return true
}

// String renders v compactly, EDN-like: nil, 3, "a", [1 2].
func (v Value) String() string {
	var b strings.Builder
	v.write(&b)
	return b.String()
}

func (v Value) write(b *strings.Builder) {
	switch v.kind {
	case KindNil:
		b.WriteString("nil")
	case KindInt:
		b.WriteString(strconv.FormatInt(v.i, 10))
	case KindString:
		b.WriteString(strconv.Quote(v.s))
	case KindList:
		b.WriteByte('[')
		for n, e := range v.list {
			if n > 0 {
				b.WriteByte(' ')
			}
			e.write(b)
		}
		b.WriteByte(']')
	}
}

// MarshalJSON encodes v as null, a number, a string or an array.
func (v Value) MarshalJSON() ([]byte, error) {
	return v.appendJSON(nil)
}

func (v Value) appendJSON(buf []byte) ([]byte, error) {
	switch v.kind {
	case KindNil:
		return append(buf, "null"...), nil
	case KindInt:
		return strconv.AppendInt(buf, v.i, 10), nil
	case KindString:
		s, err := json.Marshal(v.s)
		if err != nil {
			return nil, err
		}
		return append(buf, s...), nil
	case KindList:
		buf = append(buf, '[')
		for n, e := range v.list {
			if n > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = e.appendJSON(buf); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	}
	return nil, fmt.Errorf("history: unknown value kind %d", v.kind)
}

// UnmarshalJSON decodes null, an integer, a string or an array of those.
// Fractions, booleans and objects are errors: no workload produces them.
func (v *Value) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	parsed, err := decodeValue(dec, 0)
	if err != nil {
		return err
	}
	*v = parsed
	return nil
}

const maxValueDepth = 32

func decodeValue(dec *json.Decoder, depth int) (Value, error) {
	if depth > maxValueDepth {
		return Value{}, fmt.Errorf("history: value nested deeper than %d", maxValueDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return Value{}, fmt.Errorf("history: bad value: %w", err)
	}
	switch t := tok.(type) {
	case nil:
		return Nil(), nil
	case json.Number:
		i, err := strconv.ParseInt(string(t), 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("history: value %s is not a 64-bit integer", Clip(string(t)))
		}
		return Int(i), nil
	case string:
		return Str(t), nil
	case json.Delim:
		if t != '[' {
			return Value{}, fmt.Errorf("history: value must be null, integer, string or array, got %q", t.String())
		}
		var list []Value
		for dec.More() {
			e, err := decodeValue(dec, depth+1)
			if err != nil {
				return Value{}, err
			}
			list = append(list, e)
		}
		if _, err := dec.Token(); err != nil {
			return Value{}, fmt.Errorf("history: bad value: %w", err)
		}
		if list == nil {
			list = []Value{}
		}
		return List(list...), nil
	default:
		return Value{}, fmt.Errorf("history: value must be null, integer, string or array, got %s", Clip(fmt.Sprint(t)))
	}
}
