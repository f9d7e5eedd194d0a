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
//   - Time is nanoseconds since the test started, read from the
//     controller's monotonic clock and never from a node: clocks of nodes
//     are exactly what a nemesis skews. Times never decrease along Ops.
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

// Type is the kind of history event.
type Type string

const (
	// Invoke marks the start of an operation.
	Invoke Type = "invoke"
	// OK: the operation happened.
	OK Type = "ok"
	// Fail: the operation certainly did not happen.
	Fail Type = "fail"
	// Info: the outcome is unknown; the operation may happen at any later
	// time or never.
	Info Type = "info"
)

// Valid reports whether t is one of the four event types.
func (t Type) Valid() bool {
	switch t {
	case Invoke, OK, Fail, Info:
		return true
	}
	return false
}

// Process identifies a logical client thread. Nemesis is the fault
// injector.
type Process int

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
		return fmt.Errorf("history: process must be a non-negative integer or \"nemesis\", got %s", data)
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
// Memory: an Op is 136 bytes (a Value is 24), and a history loaded by
// ReadJSONL or Load shares the bytes of its repeated strings (type, f,
// key, node, error, extra) between ops, holds list values in shared slabs
// and has a nil Extra when there is none: about 140 bytes per op for the
// register and session workloads.
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
		return fmt.Errorf("op %d: unknown type %q", op.Index, op.Type)
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
