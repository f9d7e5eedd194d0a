// Package history is the operation record of a test: what every client
// asked for and what it saw, in the order the controller observed it.
//
// The model is Jepsen's. Each client operation appears twice: an invoke when
// the client sends it and a completion when the answer (or the lack of one)
// is known. The completion type carries the semantics every checker relies
// on, so it must be chosen by what the client can prove:
//
//   - ok: the operation happened, and its value is what the client saw.
//   - fail: the operation certainly did NOT happen (the database said so
//     before applying anything). Checkers drop failed operations.
//   - info: unknown. The operation may take effect at any time after its
//     invocation, or never. Checkers must allow both.
//
// Invariants a well-formed History keeps, and why:
//
//   - Ops[i].Index == i. Anomalies name operations by index, so an index
//     must identify one line of the file forever.
//   - The order of Ops is the real-time order of events: checkers order
//     operations by position, never by Time.
//   - Time is nanoseconds since the test started, read from the
//     controller's monotonic clock and never from a node: clocks of nodes
//     are exactly what a nemesis skews. Times of recorded histories never
//     decrease along Ops; imported ones may go back a little (older Jepsen
//     versions stamp times per worker), which the readers report in
//     ReadInfo and Validate accepts. Times only measure durations.
//   - A process has at most one operation in flight. Its invoke is
//     followed by exactly one completion, or by none if the test ended
//     first; a never-completed invocation is open until the end of time,
//     like an info.
//   - After an info a process never invokes again: the client continues
//     under a NEW process id. Otherwise an operation that might still take
//     effect would overlap its own process's next operation.
//   - Nemesis events use process Nemesis (-1, "nemesis" on disk) and are
//     not client operations; checkers skip them.
package history

import (
	"bytes"
	"fmt"
	"strconv"
)

// Type is the kind of history event. It is one byte in memory (an Op of a
// history of millions is small) and its name on disk and in text.
type Type uint8

const (
	// Invoke marks the start of an operation.
	Invoke Type = iota + 1
	// OK: the operation happened.
	OK
	// Fail: the operation certainly did not happen.
	Fail
	// Info: the outcome is unknown; the operation may happen at any later
	// time or never.
	Info
)

// typeNames are the names of the valid types, by value.
var typeNames = [...]string{Invoke: "invoke", OK: "ok", Fail: "fail", Info: "info"}

// Valid reports whether t is one of the four event types.
func (t Type) Valid() bool { return t >= Invoke && t <= Info }

// String returns the name of t ("invoke", "ok", "fail", "info"), or
// "type(N)" for an invalid one.
func (t Type) String() string {
	if t.Valid() {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// ParseType returns the type named s, and false (with the zero, invalid
// Type) when s names none.
func ParseType(s string) (Type, bool) {
	for t := Invoke; t <= Info; t++ {
		if typeNames[t] == s {
			return t, true
		}
	}
	return 0, false
}

// MarshalText writes the type's name; an invalid type is an error.
func (t Type) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("history: invalid op type %d", uint8(t))
	}
	return []byte(typeNames[t]), nil
}

// UnmarshalText reads a type's name. An unknown name gives the zero,
// invalid Type, which validation reports with the op it belongs to.
func (t *Type) UnmarshalText(b []byte) error {
	*t, _ = ParseType(string(b))
	return nil
}

// Process identifies a logical client thread. Nemesis is the fault
// injector. Process ids fit in 32 bits (the readers refuse larger ones).
type Process int32

// Nemesis is the process of fault events.
const Nemesis Process = -1

// MarshalJSON writes client processes as numbers and the nemesis as
// "nemesis".
func (p Process) MarshalJSON() ([]byte, error) {
	if p == Nemesis {
		return []byte(`"nemesis"`), nil
	}
	return strconv.AppendInt(nil, int64(p), 10), nil
}

// UnmarshalJSON accepts a non-negative number or "nemesis".
func (p *Process) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == `"nemesis"` {
		*p = Nemesis
		return nil
	}
	n, err := strconv.ParseInt(string(data), 10, 32)
	if err != nil || n < 0 {
		return fmt.Errorf("history: process must be a non-negative integer or \"nemesis\", got %s", Clip(string(data)))
	}
	*p = Process(n)
	return nil
}

// String renders the process as in Jepsen logs.
func (p Process) String() string {
	if p == Nemesis {
		return "nemesis"
	}
	return strconv.Itoa(int(p))
}

// Op is one history event. The zero Key is the single register of
// single-key histories.
//
// Memory: an Op is 112 bytes (a Value is 16, Type and Process share one
// word), and a history loaded by ReadJSONL or Load shares the bytes of its
// repeated strings (f, key, node, error, extra) between ops, holds list
// values in shared slabs and has a nil Extra when there is none: about 120
// bytes per op for the register and session workloads.
type Op struct {
	Index   int               `json:"index"`
	Time    int64             `json:"time"`
	Type    Type              `json:"type"`
	Process Process           `json:"process"`
	F       string            `json:"f"`
	Key     string            `json:"key,omitempty"`
	Value   Value             `json:"value"`
	Error   string            `json:"error,omitempty"`
	Node    string            `json:"node,omitempty"`
	Extra   map[string]string `json:"extra,omitempty"`
}

// IsClient reports whether op is a client operation (not a nemesis event).
func (op *Op) IsClient() bool { return op.Process != Nemesis }

// String renders op in the style of a Jepsen log line, prefixed with its
// index.
func (op Op) String() string {
	s := fmt.Sprintf("#%d %s %s %s", op.Index, op.Process, op.Type, op.F)
	if op.Key != "" {
		s += " " + strconv.Quote(op.Key)
	}
	s += " " + op.Value.String()
	if op.Error != "" {
		s += " (" + op.Error + ")"
	}
	return s
}

// validate checks the fields of one op in isolation.
func (op *Op) validate() error {
	if !op.Type.Valid() {
		return fmt.Errorf("op %d: unknown type %s", op.Index, Quote(fmt.Sprint(op.Type)))
	}
	if op.F == "" {
		return fmt.Errorf("op %d: missing f", op.Index)
	}
	if op.Process < Nemesis {
		return fmt.Errorf("op %d: bad process %d", op.Index, op.Process)
	}
	return nil
}

// marshalLine encodes op as one JSON line, newline included (see
// appendOpLine).
func marshalLine(op *Op) ([]byte, error) {
	return appendOpLine(nil, op)
}
