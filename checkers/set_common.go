package checkers

// This file holds the small helpers shared by the workload checkers Set,
// Counter, Session and LostUpdate. Their names carry a "wl" prefix so they
// cannot collide with the helpers of other checkers in this package.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/chaoscheck/chaoscheck/history"
)

// wlPollEvery is how many loop iterations a workload checker runs between
// two looks at its context.
const wlPollEvery = 4096

// wlPairs checks the invariants of History.Validate (indexes, types,
// processes, the one-op-in-flight rule) and pairs the client operations.
// Times that go back are allowed, as Validate allows them: real-time order
// is the order of the history, and times only measure durations. It does what h.Validate() then h.Pairs() would,
// pairing only once (pairing is most of the cost). Any error makes the
// caller's verdict Unknown: a checker does not judge a history it cannot
// trust.
func wlPairs(h *history.History) ([]history.Pair, error) {
	if h == nil {
		return nil, errors.New("no history")
	}
	for i := range h.Ops {
		op := &h.Ops[i]
		switch {
		case op.Index != i:
			return nil, fmt.Errorf("history: op at position %d has index %d", i, op.Index)
		case !op.Type.Valid():
			return nil, fmt.Errorf("history: op %d: unknown type %s", i, history.Quote(fmt.Sprint(op.Type)))
		case op.F == "":
			return nil, fmt.Errorf("history: op %d: missing f", i)
		case op.Process < history.Nemesis:
			return nil, fmt.Errorf("history: op %d: bad process %d", i, op.Process)
		}
	}
	return h.Pairs()
}

// wlContext returns ctx, or a background context when ctx is nil, so that
// a careless caller gets a verdict rather than a panic.
func wlContext(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// wlCancelled builds the Unknown result of a checker stopped by its
// context.
func wlCancelled(name string, err error) Result {
	return unknown(name, fmt.Sprintf("stopped before deciding: %v", err))
}

// wlWitness returns the history indexes of the operations at the given
// positions, in history order, without duplicates and without
// history.Open (the missing completion of a never-completed operation).
func wlWitness(h *history.History, positions ...int) []int {
	out := make([]int, 0, len(positions))
	for _, i := range positions {
		if i < 0 || i >= len(h.Ops) {
			continue
		}
		out = append(out, h.Ops[i].Index)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// wlOpRef describes an operation for a message: "#12 (process 3)".
func wlOpRef(h *history.History, i int) string {
	if i < 0 || i >= len(h.Ops) {
		return "(never completed)"
	}
	return fmt.Sprintf("#%d (process %s)", h.Ref(i), h.Ops[i].Process)
}

// wlPairRef describes a client operation by its invocation and completion:
// "#12..#15 by process 3", or "#12..open by process 3" when it never
// completed.
func wlPairRef(h *history.History, p history.Pair) string {
	end := "open"
	if p.Complete != history.Open {
		end = fmt.Sprintf("#%d", h.Ref(p.Complete))
	}
	return fmt.Sprintf("#%d..%s by process %s", h.Ref(p.Invoke), end, h.Ops[p.Invoke].Process)
}

// wlBadOp builds the error of an operation a checker cannot interpret.
// Values and strings of the history in args are bounded (see
// boundInputArgs).
func wlBadOp(op *history.Op, format string, args ...any) error {
	return fmt.Errorf("op %d (%s %s): %s", op.Index, op.Process, history.Clip(op.F), fmt.Sprintf(format, boundInputArgs(args)...))
}

// boundInputArgs returns args with every history.Value and string cut by
// history.Clip, so that a message never echoes a huge input value whole.
// The checkers' error helpers (wlBadOp, linBadOp) pass their arguments
// through it.
func boundInputArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case history.Value:
			out[i] = history.Clip(v.String())
		case string:
			out[i] = history.Clip(v)
		default:
			out[i] = a
		}
	}
	return out
}

// wlListSample renders up to max history indexes as "#1, #5, #9" and says
// how many more there are.
func wlListSample(idx []int, max int) string {
	s := ""
	for n, i := range idx {
		if n == max {
			return s + fmt.Sprintf(" and %d more", len(idx)-max)
		}
		if n > 0 {
			s += ", "
		}
		s += fmt.Sprintf("#%d", i)
	}
	return s
}

// wlKeySample renders up to five keys.
func wlKeySample(keys []string) string {
	var b strings.Builder
	for n, k := range keys {
		if n == 5 {
			fmt.Fprintf(&b, " and %d more", len(keys)-5)
			break
		}
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString(history.Quote(k))
	}
	return b.String()
}

// wlAddAnomaly records an anomaly of kind built by build, but builds it
// (witnesses, message) only while the result still keeps anomalies of that
// kind: past MaxAnomalies it is only counted, so a history with millions
// of anomalies costs no millions of messages.
func wlAddAnomaly(res *Result, kind string, build func() Anomaly) {
	if res.AnomalyCounts[kind] >= MaxAnomalies {
		res.AddAnomaly(Anomaly{Kind: kind})
		return
	}
	res.AddAnomaly(build())
}

// wlUnchecked collects the keys a workload checker could not judge (an
// operation it cannot interpret, a sum that overflows), with the first
// reason of each. The checker skips such a key and goes on with the
// others, so that an anomaly proven on another key still makes the
// verdict Invalid: invalid wins over unknown, across keys as in Merge.
type wlUnchecked struct {
	bad  map[string]bool
	keys []string
	why  []string
}

// add marks key unchecked because of err; later calls for the same key
// are ignored.
func (u *wlUnchecked) add(key string, err error) {
	if u.bad == nil {
		u.bad = make(map[string]bool)
	}
	if u.bad[key] {
		return
	}
	u.bad[key] = true
	u.keys = append(u.keys, key)
	u.why = append(u.why, fmt.Sprintf("key %s: %v", history.Quote(key), err))
}

// has reports whether key is unchecked.
func (u *wlUnchecked) has(key string) bool { return u.bad[key] }

// apply makes res Unknown unless it is Invalid, and appends to its reason
// the unchecked keys and why (at most five reasons are quoted).
func (u *wlUnchecked) apply(res *Result) {
	if len(u.keys) == 0 {
		return
	}
	why := u.why
	more := ""
	if len(why) > 5 {
		more = fmt.Sprintf(" and %d more", len(why)-5)
		why = why[:5]
	}
	note := fmt.Sprintf("%d key(s) could not be checked: %s%s", len(u.keys), strings.Join(why, "; "), more)
	if res.Verdict == Invalid {
		note = "the anomalies are proven on the other keys; " + note
	} else {
		res.Verdict = Unknown
	}
	if res.Reason != "" {
		note = res.Reason + "; " + note
	}
	res.Reason = note
}
