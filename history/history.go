package history

import (
	"fmt"
	"sort"
)

// History is an ordered list of events. See the package documentation for
// the invariants.
type History struct {
	Ops []Op
	// Refs, for a sub-history taken from a larger history (one
	// workload's operations, re-indexed from zero so that the invariants
	// hold), is for each op its index in that history: the number a
	// person finds it under in history.jsonl. nil: the history is its own
	// (Ref is Ops[i].Index). Checkers put positions in Anomaly.Ops (the
	// runner maps them back); in the words of a message they name an op
	// by Ref, which nothing maps afterwards.
	Refs []int
}

// Ref is the index by which a message names op i: Refs[i] for a
// sub-history, else the op's own Index.
func (h *History) Ref(i int) int {
	if h.Refs != nil && i >= 0 && i < len(h.Refs) {
		return h.Refs[i]
	}
	return h.Ops[i].Index
}

// Open marks a pair whose invocation never completed.
const Open = -1

// Pair is a client operation: the index of its invoke and of its completion,
// or Open when it never completed (an open operation may take effect at any
// time after its invocation, or never, exactly like an info).
type Pair struct {
	Invoke   int
	Complete int
}

// Completion returns the completion op of p, or nil when p is open.
func (h *History) Completion(p Pair) *Op {
	if p.Complete == Open {
		return nil
	}
	return &h.Ops[p.Complete]
}

// Outcome is the effective completion type of p: Info when it never
// completed.
func (h *History) Outcome(p Pair) Type {
	if p.Complete == Open {
		return Info
	}
	return h.Ops[p.Complete].Type
}

// Pairs matches every client invocation with its completion, in invocation
// order. It returns an error when the history breaks the one-op-in-flight
// rule: a completion with no pending invocation, a second invocation while
// one is pending, or a process invoking again after an info.
func (h *History) Pairs() ([]Pair, error) {
	pending := make(map[Process]int)
	crashed := make(map[Process]int)
	pairs := make([]Pair, 0, len(h.Ops)/2+1)
	for i := range h.Ops {
		op := &h.Ops[i]
		if !op.IsClient() {
			continue
		}
		if op.Type == Invoke {
			if prev, ok := pending[op.Process]; ok {
				return nil, fmt.Errorf("history: op %d: process %s invokes while op %d is still pending", op.Index, op.Process, h.Ops[prev].Index)
			}
			if prev, ok := crashed[op.Process]; ok {
				return nil, fmt.Errorf("history: op %d: process %s invokes again after its op %d ended info (a client must continue under a new process id)", op.Index, op.Process, h.Ops[prev].Index)
			}
			pending[op.Process] = len(pairs)
			pairs = append(pairs, Pair{Invoke: i, Complete: Open})
			continue
		}
		n, ok := pending[op.Process]
		if !ok {
			return nil, fmt.Errorf("history: op %d: process %s completes %s with no pending invocation", op.Index, op.Process, Clip(op.F))
		}
		delete(pending, op.Process)
		pairs[n].Complete = i
		if op.Type == Info {
			crashed[op.Process] = i
		}
	}
	return pairs, nil
}

// Validate checks every op and the invariants of the package
// documentation. Times that go back are allowed (see the package
// documentation).
func (h *History) Validate() error {
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.Index != i {
			return fmt.Errorf("history: op at position %d has index %d", i, op.Index)
		}
		if err := op.validate(); err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	_, err := h.Pairs()
	return err
}

// Reindex sets Ops[i].Index = i, for importers and filters.
func (h *History) Reindex() {
	for i := range h.Ops {
		h.Ops[i].Index = i
	}
}

// Keys returns the distinct keys of client operations, sorted.
func (h *History) Keys() []string {
	seen := make(map[string]struct{})
	for i := range h.Ops {
		if h.Ops[i].IsClient() {
			seen[h.Ops[i].Key] = struct{}{}
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ClientOps returns the number of client invocations.
func (h *History) ClientOps() int {
	n := 0
	for i := range h.Ops {
		if h.Ops[i].IsClient() && h.Ops[i].Type == Invoke {
			n++
		}
	}
	return n
}
