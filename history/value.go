package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unsafe"
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
//
// Memory layout: a history of millions of ops holds one Value per op, so a
// Value is two words, p and i:
//
//   - nil: p is nil;
//   - an integer: p is &intTag and i the integer;
//   - a string: p points to its bytes and i is its length (> 0), or p is
//     &emptyTag for the empty string;
//   - a list: p points to its first element and i is minus its length,
//     or p is &listTag for the empty list.
//
// The pointer keeps the data alive for the garbage collector; the data is
// never modified after the Value is made (values are immutable). Compare
// values with Equal: reflect.DeepEqual compares the pointers.
type Value struct {
	p unsafe.Pointer
	i int64
}

// The tags: their addresses mark the kinds that hold no data pointer.
var intTag, emptyTag, listTag byte

// Nil returns the nil value.
func Nil() Value { return Value{} }

// Int returns an integer value.
func Int(i int64) Value { return Value{p: unsafe.Pointer(&intTag), i: i} }

// Str returns a string value.
func Str(s string) Value {
	if s == "" {
		return Value{p: unsafe.Pointer(&emptyTag)}
	}
	return Value{p: unsafe.Pointer(unsafe.StringData(s)), i: int64(len(s))}
}

// List returns a list value holding vs. The list shares vs, which must not
// be modified afterwards.
func List(vs ...Value) Value {
	if len(vs) == 0 {
		return Value{p: unsafe.Pointer(&listTag)}
	}
	return Value{p: unsafe.Pointer(unsafe.SliceData(vs)), i: -int64(len(vs))}
}

// str is the string of a KindString value.
func (v Value) str() string {
	if v.p == unsafe.Pointer(&emptyTag) {
		return ""
	}
	return unsafe.String((*byte)(v.p), int(v.i))
}

// elems is the list of a KindList value.
func (v Value) elems() []Value {
	if v.p == unsafe.Pointer(&listTag) {
		return nil
	}
	return unsafe.Slice((*Value)(v.p), int(-v.i))
}

// Ints returns a list value of integers.
func Ints(is ...int64) Value {
	vs := make([]Value, len(is))
	for n, i := range is {
		vs[n] = Int(i)
	}
	return List(vs...)
}

// Kind reports the form of v.
func (v Value) Kind() ValueKind {
	switch {
	case v.p == nil:
		return KindNil
	case v.p == unsafe.Pointer(&intTag):
		return KindInt
	case v.p == unsafe.Pointer(&emptyTag):
		return KindString
	case v.p == unsafe.Pointer(&listTag):
		return KindList
	case v.i > 0:
		return KindString
	}
	return KindList
}

// IsNil reports whether v is the nil value.
func (v Value) IsNil() bool { return v.p == nil }

// AsInt returns the integer and true when v is an integer.
func (v Value) AsInt() (int64, bool) {
	if v.p != unsafe.Pointer(&intTag) {
		return 0, false
	}
	return v.i, true
}

// AsString returns the string and true when v is a string.
func (v Value) AsString() (string, bool) {
	if v.Kind() != KindString {
		return "", false
	}
	return v.str(), true
}

// AsList returns the elements and true when v is a list. The slice must not
// be modified.
func (v Value) AsList() ([]Value, bool) {
	if v.Kind() != KindList {
		return nil, false
	}
	return v.elems(), true
}

// AsInts returns the integers of a list of integers, and false when v is not
// a list or any element is not an integer.
func (v Value) AsInts() ([]int64, bool) {
	if v.Kind() != KindList {
		return nil, false
	}
	list := v.elems()
	out := make([]int64, len(list))
	for n, e := range list {
		if e.p != unsafe.Pointer(&intTag) {
			return nil, false
		}
		out[n] = e.i
	}
	return out, true
}

// Equal reports whether two values are the same, deeply.
func (v Value) Equal(o Value) bool {
	k := v.Kind()
	if k != o.Kind() {
		return false
	}
	switch k {
	case KindInt:
		return v.i == o.i
	case KindString:
		return v.str() == o.str()
	case KindList:
		a, b := v.elems(), o.elems()
		if len(a) != len(b) {
			return false
		}
		for n := range a {
			if !a[n].Equal(b[n]) {
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
	switch v.Kind() {
	case KindNil:
		b.WriteString("nil")
	case KindInt:
		b.WriteString(strconv.FormatInt(v.i, 10))
	case KindString:
		b.WriteString(strconv.Quote(v.str()))
	case KindList:
		b.WriteByte('[')
		for n, e := range v.elems() {
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
	switch v.Kind() {
	case KindNil:
		return append(buf, "null"...), nil
	case KindInt:
		return strconv.AppendInt(buf, v.i, 10), nil
	case KindString:
		return appendJSONString(buf, v.str()), nil
	case KindList:
		buf = append(buf, '[')
		for n, e := range v.elems() {
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
	return nil, fmt.Errorf("history: unknown value kind %d", v.Kind())
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
