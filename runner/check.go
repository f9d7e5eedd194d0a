package runner

import (
	"context"
	"errors"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// Group is a set of checkers judging the operations whose keys start with
// KeyPrefix (all operations when empty).
type Group struct {
	Workload  string
	KeyPrefix string
	Checkers  []checkers.Checker
	// Owns, when not nil, picks the group's client operations instead of
	// KeyPrefix (workloads.OpOwner: transactions carry no key).
	Owns func(*history.Op) bool
	// Ops, when known, is the number of ops of the group (its client ops
	// and the nemesis events) in the history file: CheckFile allocates its
	// sub-history at that size. 0: unknown.
	Ops int
}

// Groups returns one group per workload, over its own keys.
func Groups(ws []workloads.Workload, o workloads.CheckOptions) []Group {
	out := make([]Group, len(ws))
	for i, w := range ws {
		out[i] = Group{Workload: w.Name(), KeyPrefix: workloads.KeyPrefix(w.Name()), Checkers: w.Checkers(o)}
		if ow, ok := w.(workloads.OpOwner); ok {
			out[i].KeyPrefix, out[i].Owns = "", ow.Owns
		}
	}
	return out
}

// Check runs every group's checkers, then checkers.Stats on the group's
// operations (so that no verdict is valid while some operation kind never
// succeeded, in `test` as in `check`). Each checker sees a sub-history of
// its group's client operations plus all nemesis events, re-indexed from
// zero; the indexes in its anomalies are mapped back to the full history,
// so witnesses always name lines of history.jsonl.
func Check(ctx context.Context, h *history.History, groups []Group) []rundir.Check {
	var out []rundir.Check
	for _, g := range groups {
		sub, orig := filter(h, g.keep())
		out = checkGroup(ctx, out, g, sub, orig)
	}
	return out
}

// CheckFile is Check on the JSONL history file at path, one group at a
// time: each group's sub-history is loaded from the file (history.LoadJSONL
// with a filter, the file checked whole each time), judged, and dropped
// before the next, so that memory holds one group's operations, never the
// whole history plus copies of it. A group without a key prefix loads the
// whole file.
func CheckFile(ctx context.Context, path string, groups []Group) ([]rundir.Check, error) {
	var out []rundir.Check
	for _, g := range groups {
		keep := g.keep()
		sub, orig, _, err := history.LoadJSONL(path, history.LoadOptions{Keep: keep, SizeHint: g.Ops})
		if errors.Is(err, history.ErrEmptyHistory) {
			sub, orig, err = &history.History{}, nil, nil // nothing recorded: the checkers say unknown
		}
		if err != nil {
			return nil, err
		}
		if orig == nil {
			orig = identity(len(sub.Ops))
		}
		out = checkGroup(ctx, out, g, sub, orig)
		// Free this group's operations (dead from here) and return them
		// to the system before the next group is loaded: the heap would
		// otherwise grow to both before a collection, and the next,
		// differently sized, slices cannot always reuse the freed pages.
		debug.FreeOSMemory()
	}
	return out, nil
}

// checkGroup runs g's checkers on sub, whose op i is op orig[i] of the
// full history, and appends their results to out.
func checkGroup(ctx context.Context, out []rundir.Check, g Group, sub *history.History, orig []int) []rundir.Check {
	for _, c := range append(slices.Clip(g.Checkers), checkers.Stats{}) {
		res := c.Check(ctx, sub)
		if res.Checker == "" {
			res.Checker = c.Name()
		}
		for i := range res.Anomalies {
			for j, idx := range res.Anomalies[i].Ops {
				if idx >= 0 && idx < len(orig) {
					res.Anomalies[i].Ops[j] = orig[idx]
				}
			}
		}
		out = append(out, rundir.Check{Workload: g.Workload, Result: res})
	}
	return out
}

// identity returns [0, 1, ..., n-1].
func identity(n int) []int {
	orig := make([]int, n)
	for i := range orig {
		orig[i] = i
	}
	return orig
}

// keep is the group's filter: the nemesis events and the client ops it
// owns (Owns, else KeyPrefix); nil keeps everything.
func (g Group) keep() func(*history.Op) bool {
	switch {
	case g.Owns != nil:
		owns := g.Owns
		return func(op *history.Op) bool { return !op.IsClient() || owns(op) }
	case g.KeyPrefix != "":
		prefix := g.KeyPrefix
		return func(op *history.Op) bool { return !op.IsClient() || strings.HasPrefix(op.Key, prefix) }
	}
	return nil
}

// filter returns the ops keep keeps (all when nil), re-indexed, and the
// original index of each.
func filter(h *history.History, keep func(*history.Op) bool) (*history.History, []int) {
	if keep == nil {
		return h, identity(len(h.Ops))
	}
	sub := &history.History{}
	var orig []int
	for i := range h.Ops {
		op := h.Ops[i]
		if !keep(&op) {
			continue
		}
		orig = append(orig, op.Index)
		op.Index = len(sub.Ops)
		sub.Ops = append(sub.Ops, op)
	}
	return sub, orig
}

// Stats counts the operations of h in one pass that holds one entry per
// process with an operation in flight (h may be a file streamed from
// disk: its error is one of reading it).
func Stats(h history.Source) (rundir.Stats, error) {
	var s rundir.Stats
	pending := map[history.Process]bool{}
	err := h.Scan(func(op *history.Op) error {
		s.DurationNS = op.Time
		if !op.IsClient() {
			s.NemesisEvents++
			return nil
		}
		switch op.Type {
		case history.Invoke:
			s.Invocations++
			pending[op.Process] = true
		case history.OK:
			s.OK++
			delete(pending, op.Process)
		case history.Fail:
			s.Fail++
			delete(pending, op.Process)
		case history.Info:
			s.Info++
			delete(pending, op.Process)
		}
		return nil
	})
	if err != nil {
		return rundir.Stats{}, err
	}
	s.Open = len(pending)
	return s, nil
}
