package checkers

import (
	"context"
	"fmt"
	"sort"

	"github.com/chaoscheck/chaoscheck/history"
)

// Counter checks the counter workload the way Jepsen's counter checker
// (jepsen.checker/counter) does, independently per key.
//
// The workload increments a counter per key (f "add", invoke value
// Int(delta)) and reads it (f "read", ok completion value Int). Counters
// start at 0. Each ok read must lie within
//
//	[ sum of the deltas of the adds that completed ok before the read was
//	  invoked,
//	  sum of the deltas of all adds (ok, info or never completed) invoked
//	  before the read completed ]
//
// Failed adds certainly had no effect and count in neither bound. An add
// whose outcome is unknown may have happened or not, so it only widens the
// upper bound. A read outside its bounds is a "counter-out-of-bounds"
// anomaly whose witnesses are the read's invocation and completion and
// whose message gives the bounds and the value.
//
// The workload's deltas are positive. A negative delta is handled soundly
// rather than rejected: an add that may or may not have happened before the
// read contributes its delta to the upper bound when positive and to the
// lower bound when negative, so the bounds stay the exact range of values
// the read could have seen. For positive deltas this is Jepsen's rule.
//
// Reads that fail or have an unknown outcome say nothing and are skipped.
// A key with adds but no ok read was never checked: it makes the verdict
// Unknown unless another key proves an anomaly, and is named in
// Result.Reason.
// A key with an operation other than add and read, a non-integer delta or
// read value, or a sum that overflows int64 is not checked, and is named
// in Result.Reason: it makes the verdict Unknown unless another key proves
// an anomaly (invalid wins over unknown). A malformed history gives
// Unknown, and so does a history without an ok read. The check is one pass over the
// history, in time linear in its length.
type Counter struct{}

// Name returns "counter".
func (Counter) Name() string { return "counter" }

// counterKey holds the running sums of one key. ok* sum the deltas of adds
// that completed ok so far, inv* those of adds invoked so far that will not
// fail; Pos and Neg split them by sign.
type counterKey struct {
	okPos, okNeg, invPos, invNeg int64
}

// counterRead is an ok read in flight: the ok sums when it was invoked.
type counterRead struct {
	okPos, okNeg int64
}

// Check judges h. See Counter for the semantics.
func (Counter) Check(ctx context.Context, h *history.History) Result {
	const name = "counter"
	ctx = wlContext(ctx)
	pairs, err := wlPairs(h)
	if err != nil {
		return unknown(name, err.Error())
	}

	// pairOf maps every client op position to its pair; keyOf every pair
	// to its key's number; delta every add pair to its delta.
	pairOf := make([]int32, len(h.Ops))
	for i := range pairOf {
		pairOf[i] = -1
	}
	keyOf := make([]int32, len(pairs))
	delta := make([]int64, len(pairs))
	keyIDs := make(map[string]int32)
	var keyNames []string
	var adds, okAdds, failedAdds, unknownAdds, reads, okReads int64
	var unchecked wlUnchecked
	var bad []bool          // key number -> unchecked
	var hasAdd, read []bool // key number -> has adds, has an ok read
	for n, p := range pairs {
		if n%wlPollEvery == 0 && ctx.Err() != nil {
			return wlCancelled(name, ctx.Err())
		}
		pairOf[p.Invoke] = int32(n)
		if p.Complete != history.Open {
			pairOf[p.Complete] = int32(n)
		}
		inv := &h.Ops[p.Invoke]
		id, ok := keyIDs[inv.Key]
		if !ok {
			id = int32(len(keyNames))
			keyIDs[inv.Key] = id
			keyNames = append(keyNames, inv.Key)
			bad = append(bad, false)
			hasAdd = append(hasAdd, false)
			read = append(read, false)
		}
		keyOf[n] = id
		if bad[id] {
			continue
		}
		outcome := h.Outcome(p)
		switch inv.F {
		case "add":
			adds++
			d, ok := inv.Value.AsInt()
			if !ok && inv.Value.IsNil() && outcome == history.OK {
				d, ok = h.Ops[p.Complete].Value.AsInt()
			}
			if !ok {
				bad[id] = true
				unchecked.add(inv.Key, wlBadOp(inv, "add needs an integer delta, got %s", inv.Value))
				continue
			}
			delta[n] = d
			hasAdd[id] = true
			switch outcome {
			case history.OK:
				okAdds++
			case history.Fail:
				failedAdds++
			default:
				unknownAdds++
			}
		case "read":
			reads++
			if outcome == history.OK {
				okReads++
				read[id] = true
				comp := &h.Ops[p.Complete]
				if _, ok := comp.Value.AsInt(); !ok {
					bad[id] = true
					unchecked.add(inv.Key, wlBadOp(comp, "a counter read must return an integer, got %s", comp.Value))
				}
			}
		default:
			bad[id] = true
			unchecked.add(inv.Key, wlBadOp(inv, "f %q is not an operation of the counter workload (add, read)", inv.F))
		}
	}

	res := Result{Checker: name, Verdict: Valid}
	state := make([]counterKey, len(keyNames))
	inflight := make(map[int32]counterRead)
	overflow := func(op *history.Op) {
		bad[keyOf[pairOf[op.Index]]] = true
		unchecked.add(op.Key, fmt.Errorf("op %d: the sum of its deltas overflows int64", op.Index))
	}
	for i := range h.Ops {
		if i%wlPollEvery == 0 && ctx.Err() != nil {
			return wlCancelled(name, ctx.Err())
		}
		n := pairOf[i]
		if n < 0 {
			continue // nemesis
		}
		if bad[keyOf[n]] {
			continue
		}
		p := pairs[n]
		op := &h.Ops[i]
		outcome := h.Outcome(p)
		st := &state[keyOf[n]]
		isInvoke := i == p.Invoke
		if h.Ops[p.Invoke].F == "add" {
			d := delta[n]
			var ok bool
			switch {
			case isInvoke && outcome != history.Fail:
				if d >= 0 {
					st.invPos, ok = counterAdd(st.invPos, d)
				} else {
					st.invNeg, ok = counterAdd(st.invNeg, d)
				}
			case !isInvoke && outcome == history.OK:
				if d >= 0 {
					st.okPos, ok = counterAdd(st.okPos, d)
				} else {
					st.okNeg, ok = counterAdd(st.okNeg, d)
				}
			default:
				continue
			}
			if !ok {
				overflow(op)
			}
			continue
		}
		if outcome != history.OK {
			continue
		}
		if isInvoke {
			inflight[n] = counterRead{okPos: st.okPos, okNeg: st.okNeg}
			continue
		}
		at := inflight[n]
		delete(inflight, n)
		// An add completed ok before the invocation is certain; one
		// invoked before the completion and not certain may count or not.
		lower, ok1 := counterAdd(at.okPos, st.invNeg)
		upper, ok2 := counterAdd(at.okNeg, st.invPos)
		if !ok1 || !ok2 {
			overflow(op)
			continue
		}
		v, _ := op.Value.AsInt()
		if v < lower || v > upper {
			wlAddAnomaly(&res, "counter-out-of-bounds", func() Anomaly {
				return Anomaly{
					Kind:    "counter-out-of-bounds",
					Key:     op.Key,
					Ops:     wlWitness(h, p.Invoke, p.Complete),
					Message: counterMessage(h, p, v, lower, upper),
				}
			})
		}
	}

	res.Count("keys", int64(len(keyNames)))
	res.Count("adds", adds)
	res.Count("ok-adds", okAdds)
	res.Count("failed-adds", failedAdds)
	res.Count("indeterminate-adds", unknownAdds)
	res.Count("reads", reads)
	res.Count("ok-reads", okReads)
	if okReads == 0 && res.Verdict != Invalid {
		res.Verdict = Unknown
		res.Reason = "no ok read, so no counter value to check"
	}

	if len(keyNames) > 1 && res.Verdict == Invalid {
		var badKeys []string
		seen := make(map[string]bool)
		for _, a := range res.Anomalies {
			if !seen[a.Key] {
				seen[a.Key] = true
				badKeys = append(badKeys, a.Key)
			}
		}
		sort.Strings(badKeys)
		res.Reason = fmt.Sprintf("out-of-bounds reads on key(s) %s", wlKeySample(badKeys))
	}
	var unread []string
	for id, k := range keyNames {
		if hasAdd[id] && !read[id] && !bad[id] {
			unread = append(unread, k)
		}
	}
	if len(unread) > 0 && okReads > 0 {
		// Like the set checker's unread keys: nothing was decided there.
		sort.Strings(unread)
		note := fmt.Sprintf("%d key(s) with adds have no ok read, so they were not checked: %s", len(unread), wlKeySample(unread))
		if res.Verdict != Invalid {
			res.Verdict = Unknown
		}
		if res.Reason != "" {
			note = res.Reason + "; " + note
		}
		res.Reason = note
	}
	unchecked.apply(&res)
	return res
}

// counterMessage explains an out-of-bounds read.
func counterMessage(h *history.History, p history.Pair, v, lower, upper int64) string {
	op := &h.Ops[p.Complete]
	why := "too low"
	if v > upper {
		why = "too high"
	}
	return fmt.Sprintf("read %s of counter %q returned %d, %s: it must lie within [%d, %d], from the adds acknowledged before the read began (%d) to all adds not failed and invoked before it returned (%d)",
		wlPairRef(h, p), op.Key, v, why, lower, upper, lower, upper)
}

// counterAdd adds with overflow detection.
func counterAdd(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return s, false
	}
	return s, true
}
