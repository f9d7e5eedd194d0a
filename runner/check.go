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
// time, so that memory holds one group's operations at most, never the
// whole history plus copies of it.
//
// The checkers of a group that judge each key alone (checkers.Keyed:
// linearizable, and the stats of every group) hold one key at a time: one
// pass over the file spills the group's client operations into a file per
// key, in a temporary directory next to path (removed before CheckFile
// returns), and each key is then loaded alone and given to every keyed
// checker (checkers.KeyCheck), with its ops' history indexes kept, so
// that witnesses name lines of path. The other checkers see the group's
// whole sub-history, loaded from the file (history.LoadJSONL with a
// filter) and dropped before the keys are checked. A group that owns its
// operations by Owns (transactions, which have no key) is loaded whole.
func CheckFile(ctx context.Context, path string, groups []Group) ([]rundir.Check, error) {
	return checkFile(ctx, path, groups, true)
}

// checkFile is CheckFile; perKey false loads every group whole for all
// its checkers (what the tests compare the per-key check with).
func checkFile(ctx context.Context, path string, groups []Group, perKey bool) ([]rundir.Check, error) {
	var out []rundir.Check
	for _, g := range groups {
		cs := append(slices.Clip(g.Checkers), checkers.Stats{})
		res := make([]checkers.Result, len(cs))
		var whole, keyed []int // indexes into cs
		for i, c := range cs {
			if _, ok := c.(checkers.Keyed); ok && perKey && g.Owns == nil {
				keyed = append(keyed, i)
			} else {
				whole = append(whole, i)
			}
		}
		if len(whole) > 0 {
			if err := checkWhole(ctx, path, g, cs, whole, res); err != nil {
				return nil, err
			}
		}
		if len(keyed) > 0 {
			if err := checkKeys(ctx, path, g, cs, keyed, res); err != nil {
				return nil, err
			}
		}
		for i, c := range cs {
			if res[i].Checker == "" {
				res[i].Checker = c.Name()
			}
			out = append(out, rundir.Check{Workload: g.Workload, Result: res[i]})
		}
	}
	return out, nil
}

// checkWhole loads g's sub-history from path and runs the checkers
// cs[i], i in which, on it, into res[i] (anomaly indexes mapped back to
// the file's).
func checkWhole(ctx context.Context, path string, g Group, cs []checkers.Checker, which []int, res []checkers.Result) error {
	keep := g.keep()
	sub, orig, _, err := history.LoadJSONL(path, history.LoadOptions{Keep: keep, SizeHint: g.Ops})
	if errors.Is(err, history.ErrEmptyHistory) {
		sub, orig, err = &history.History{}, nil, nil // nothing recorded: the checkers say unknown
	}
	if err != nil {
		return err
	}
	if orig == nil {
		orig = identity(len(sub.Ops))
	} else {
		sub.Refs = orig // messages name ops by their lines of path
	}
	for _, i := range which {
		res[i] = cs[i].Check(ctx, sub)
		remap(&res[i], orig)
	}
	// Free this group's operations (dead from here) and return them to
	// the system before the next load: the heap would otherwise grow to
	// both before a collection, and the next, differently sized, slices
	// cannot always reuse the freed pages.
	sub, orig = nil, nil
	debug.FreeOSMemory()
	return nil
}

// remap maps the anomaly indexes of res, positions in a sub-history whose
// op i is op orig[i] of the file, to the file's.
func remap(res *checkers.Result, orig []int) {
	for i := range res.Anomalies {
		for j, idx := range res.Anomalies[i].Ops {
			if idx >= 0 && idx < len(orig) {
				res.Anomalies[i].Ops[j] = orig[idx]
			}
		}
	}
}

// checkKeys runs the keyed checkers cs[i], i in which, on g's operations
// one key at a time, into res[i]: one pass spills the keys (spillKeys),
// then each key is loaded, judged by every one of them, and dropped.
func checkKeys(ctx context.Context, path string, g Group, cs []checkers.Checker, which []int, res []checkers.Result) (err error) {
	kcs := make([]checkers.KeyCheck, len(which))
	for n, i := range which {
		kcs[n] = cs[i].(checkers.Keyed).NewKeys(ctx)
	}
	sp, err := spillKeys(path, g.keep())
	if err != nil {
		return err
	}
	defer func() {
		if rerr := sp.remove(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	for _, key := range sp.order() {
		h, err := sp.load(key)
		if err != nil {
			return err
		}
		for _, kc := range kcs {
			kc.Key(ctx, h)
		}
		h = nil
		debug.FreeOSMemory()
	}
	for n, i := range which {
		res[i] = kcs[n].Result()
	}
	return nil
}

// checkGroup runs g's checkers on sub, whose op i is op orig[i] of the
// full history, and appends their results to out.
func checkGroup(ctx context.Context, out []rundir.Check, g Group, sub *history.History, orig []int) []rundir.Check {
	for _, c := range append(slices.Clip(g.Checkers), checkers.Stats{}) {
		res := c.Check(ctx, sub)
		if res.Checker == "" {
			res.Checker = c.Name()
		}
		remap(&res, orig)
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
	sub.Refs = orig
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
