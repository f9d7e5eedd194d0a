package history

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// NotSwapped is the marker chaoscheck's workloads put as the third element
// of a CAS completion value, [old new "not-swapped"], when the database
// answered that the compare failed: the op is recorded ok (the database
// certainly answered) and the checker sees that nothing was written.
const NotSwapped = "not-swapped"

// WriteEDN writes h in Jepsen's history.edn format, one op map a line:
//
//	{:index 0, :time 12, :type :invoke, :process 3, :f :cas, :value [1 2]}
//
// The nemesis is :process :nemesis; types are keywords, and so is f when it
// is a plain name (otherwise a string); :key, :error and :node appear when
// non-empty (:error as a keyword when it is a plain name, like Jepsen's
// :timed-out). Extra entries follow, sorted by key: a value that is the
// canonical EDN text of a non-string form (as ReadEDN stores them) is
// written as that form, anything else as a string; a key that is not a
// plain name or that is one of the standard keys is written as a string.
//
// A transaction (f "txn") is written as Elle reads it: each micro-op
// [f k v] as [:f k v], with f and a key that is a plain name as keywords
// ([:append :x 1], [:r 7 [1 2]]).
//
// A CAS that chaoscheck recorded as an ok completion with value
// [old new "not-swapped"] is written as Jepsen expects a failed compare:
// :type :fail, :value [old new].
//
// ReadEDN reads the result back into the same ops, except for the
// not-swapped CAS completions.
func WriteEDN(w io.Writer, h *History) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var b strings.Builder
	for i := range h.Ops {
		b.Reset()
		appendEDNOp(&b, &h.Ops[i])
		if _, err := bw.WriteString(b.String()); err != nil {
			return fmt.Errorf("history: write edn: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("history: write edn: %w", err)
	}
	return nil
}

// appendEDNOp writes op as one EDN line.
func appendEDNOp(b *strings.Builder, op *Op) {
	typ, value := op.Type, op.Value
	if oldV, newV, ok := notSwapped(op); ok {
		typ, value = Fail, List(oldV, newV)
	}
	b.WriteString("{:index ")
	b.WriteString(strconv.Itoa(op.Index))
	b.WriteString(", :time ")
	b.WriteString(strconv.FormatInt(op.Time, 10))
	b.WriteString(", :type ")
	writeEDNName(b, typ.String())
	b.WriteString(", :process ")
	if op.Process == Nemesis {
		b.WriteString(":nemesis")
	} else {
		b.WriteString(strconv.Itoa(int(op.Process)))
	}
	b.WriteString(", :f ")
	writeEDNName(b, op.F)
	if op.Key != "" {
		b.WriteString(", :key ")
		writeEDNString(b, op.Key)
	}
	b.WriteString(", :value ")
	if op.F == "txn" {
		writeEDNTxn(b, value)
	} else {
		writeEDNValue(b, value)
	}
	if op.Error != "" {
		b.WriteString(", :error ")
		writeEDNName(b, op.Error)
	}
	if op.Node != "" {
		b.WriteString(", :node ")
		writeEDNString(b, op.Node)
	}
	for _, k := range slices.Sorted(maps.Keys(op.Extra)) {
		b.WriteString(", ")
		if isEDNName(k) && !ednFields[k] {
			b.WriteByte(':')
			b.WriteString(k)
		} else {
			writeEDNString(b, k)
		}
		b.WriteByte(' ')
		v := op.Extra[k]
		if isCanonicalEDN(v) {
			b.WriteString(v)
		} else {
			writeEDNString(b, v)
		}
	}
	b.WriteString("}\n")
}

// notSwapped recognises an ok CAS completion with value
// [old new "not-swapped"].
func notSwapped(op *Op) (oldV, newV Value, ok bool) {
	if op.Type != OK || op.F != "cas" {
		return Value{}, Value{}, false
	}
	l, ok := op.Value.AsList()
	if !ok || len(l) != 3 {
		return Value{}, Value{}, false
	}
	if s, ok := l[2].AsString(); !ok || s != NotSwapped {
		return Value{}, Value{}, false
	}
	return l[0], l[1], true
}

// writeEDNName writes s as a keyword when it is a plain name, else as a
// string.
func writeEDNName(b *strings.Builder, s string) {
	if isEDNName(s) {
		b.WriteByte(':')
		b.WriteString(s)
		return
	}
	writeEDNString(b, s)
}

// isEDNName reports whether s makes a keyword that Clojure and ReadEDN
// both read back as s: ASCII letters, digits and -_.*+!?<>=, not starting
// with a digit, with at most one inner '/'.
func isEDNName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' || s[0] == '/' || s[len(s)-1] == '/' {
		return false
	}
	slashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_.*+!?<>=", c) >= 0:
		case c == '/':
			slashes++
		default:
			return false
		}
	}
	return slashes <= 1
}

// isCanonicalEDN reports whether s is exactly the printed form of one EDN
// form other than a string or a symbol, so that it can be written as is
// and read back by ReadEDN into the same Extra text.
func isCanonicalEDN(s string) bool {
	if s == "" {
		return false
	}
	n, err := parseEDNForm(s, 1) // the depth of a value in an op map
	if err != nil || n.kind == ednString || n.kind == ednSymbol {
		return false
	}
	return n.String() == s
}

// writeEDNValue writes v: nil, integers, strings and vectors.
func writeEDNValue(b *strings.Builder, v Value) {
	switch v.Kind() {
	case KindInt:
		i, _ := v.AsInt()
		b.WriteString(strconv.FormatInt(i, 10))
	case KindString:
		s, _ := v.AsString()
		writeEDNString(b, s)
	case KindList:
		l, _ := v.AsList()
		b.WriteByte('[')
		for k := range l {
			if k > 0 {
				b.WriteByte(' ')
			}
			writeEDNValue(b, l[k])
		}
		b.WriteByte(']')
	default:
		b.WriteString("nil")
	}
}

// writeEDNTxn writes the value of a transaction: micro-ops [f k v] with f,
// and k when it is a plain name, as keywords; anything else as a value.
func writeEDNTxn(b *strings.Builder, v Value) {
	mops, ok := v.AsList()
	if !ok {
		writeEDNValue(b, v)
		return
	}
	b.WriteByte('[')
	for n, m := range mops {
		if n > 0 {
			b.WriteByte(' ')
		}
		l, ok := m.AsList()
		f, fok := Value{}, false
		if ok && len(l) == 3 {
			f = l[0]
			_, fok = f.AsString()
		}
		if !fok {
			writeEDNValue(b, m)
			continue
		}
		fs, _ := f.AsString()
		b.WriteByte('[')
		writeEDNName(b, fs)
		b.WriteByte(' ')
		if k, ok := l[1].AsString(); ok && isEDNName(k) {
			b.WriteByte(':')
			b.WriteString(k)
		} else {
			writeEDNValue(b, l[1])
		}
		b.WriteByte(' ')
		writeEDNValue(b, l[2])
		b.WriteByte(']')
	}
	b.WriteByte(']')
}
