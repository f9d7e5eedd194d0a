package checkers

import (
	"context"
	"fmt"

	"github.com/chaoscheck/chaoscheck/history"
)

// Session checks the session guarantees of Terry et al., "Session
// Guarantees for Weakly Consistent Replicated Data" (PDIS 1994), on the
// register workload, as Jepsen's consistency-model map describes them
// (jepsen.io/consistency/models/read-your-writes, monotonic-reads,
// monotonic-writes; see below for why monotonic writes is not decided).
//
// A session is one process id. A client that ends an operation with info
// continues under a new process id (history's rule), so it starts a new
// session: a session never has an operation of unknown outcome followed by
// another one.
//
// Operations, per key (a register, initially empty): f "write" with value
// Int(v); f "read" whose ok completion value is Int(v), or Nil for a
// register never written; f "cas" with invoke value [old new], whose ok
// completion [old new] means it swapped (a write of new) and
// [old new "not-swapped"] means the compare failed (no write). Written
// values are globally unique, so every read names the one write it
// observed; the checker indexes writes by value.
//
// Only what the history proves is used. A write x is "certainly older"
// than a write w when x completed ok before w was invoked: in every order
// the database could have chosen, x took effect first. Writes with an
// unknown outcome (info, never completed) are never certainly older than
// anything, since they may take effect at any time after their invocation;
// failed writes and CAS that did not swap never took effect. Orders come
// from history positions (the controller's real-time order), times only
// measure staleness. The anomaly kinds:
//
//   - "read-your-writes": process p's acknowledged write w on key k (a
//     write, or a CAS that swapped) is followed by a read of k by p that
//     returns nil, or a value x certainly older than w (this includes p's
//     own earlier writes). Only p's latest acknowledged write on k is
//     compared with: a read that misses an earlier write also misses the
//     latest one. Witnesses: w, the write of x if any, the read.
//     StalenessNS is the read's completion time minus w's.
//   - "monotonic-reads": p reads x from k, and a later read by p of k
//     returns nil, or y whose write is certainly older than the write of x.
//     Each read is compared with the earlier read of p on k whose value was
//     written last (latest invocation), which decides whether any earlier
//     read proves the regression. Witnesses: both reads and both writes.
//     StalenessNS is the later read's completion time minus the moment x
//     was certainly written (the earlier of its ok completion and the
//     completion of the read of x).
//
// Monotonic writes (a session's writes are applied in session order at
// every replica) is NOT decided here, and is never reported: with
// overwriting registers a read of q's older write after a read of q's newer
// one is what a replica that has applied the first write but not yet the
// second returns, which monotonic writes allows. That regression is a
// monotonic-reads violation of the reader's session, and is reported as
// such (the message notes that one session wrote both values). Deciding
// monotonic writes needs reads of a single replica, or of the converged
// final state.
//   - "phantom-read": a read returned a value no write of that key
//     attempted, whose only write failed (or was a CAS that did not swap),
//     or whose write was invoked only after the read had returned.
//     Witnesses: the read, and the write if any.
//
// Reads by another process of a concurrent or newer write are never
// flagged: nothing orders them. A swapped CAS is treated as a write only
// (the value it compared against is not used as a read). A value written
// by two operations that may both have happened breaks the uniqueness the
// checker relies on: reads of it are skipped and counted as
// "ambiguous-reads", and Result.Reason says so.
//
// A key with an operation other than read, write and cas, or a value of
// the wrong form, is not checked and is named in Result.Reason: it makes
// the verdict Unknown unless another key proves an anomaly (invalid wins
// over unknown). A malformed history gives Unknown, and so does a history
// without an ok read. Time and memory are linear in the history (hash maps by value and
// by session and key).
type Session struct{}

// Name returns "session".
func (Session) Name() string { return "session" }

// Session write states.
const (
	swOK        uint8 = iota + 1 // acknowledged write or swapped CAS
	swMaybe                      // info or never completed: may happen
	swNone                       // failed, or a CAS that did not swap
	swAmbiguous                  // two writes of the value may both happen
)

// Per-pair classification of session operations.
const (
	sessOther uint8 = iota
	sessRead
	sessWrite
)

// sessionNotSwapped is the third element of an ok CAS completion that did
// not swap.
const sessionNotSwapped = "not-swapped"

// sessionWrite is one write (or CAS) of a value; positions index
// History.Ops, cmp is history.Open for a never-completed write.
type sessionWrite struct {
	inv, cmp int
	key      int32
	proc     history.Process
	status   uint8
}

// pair returns the write's invocation and completion.
func (w *sessionWrite) pair() history.Pair { return history.Pair{Invoke: w.inv, Complete: w.cmp} }

// sessionKey names one session's view of one key (by key number).
type sessionKey struct {
	proc history.Process
	key  int32
}

// sessionState is what one session has done on one key: its latest
// acknowledged write (pair number), and its read whose value was written
// last (pair number, and that value's write).
type sessionState struct {
	lastWrite int32
	bestRead  int32
	bestWrite int32
}

// sessionRun is the state of one Session.Check.
type sessionRun struct {
	h       *history.History
	pairs   []history.Pair
	res     *Result
	keyOf   []int32 // pair number -> key number
	keys    []string
	val     []int64 // pair number -> value written, for acknowledged writes
	writes  []sessionWrite
	byValue map[int64]int32
}

// Check judges h. See Session for the semantics.
func (Session) Check(ctx context.Context, h *history.History) Result {
	const name = "session"
	ctx = wlContext(ctx)
	pairs, err := wlPairs(h)
	if err != nil {
		return unknown(name, err.Error())
	}
	nw := 0
	for _, p := range pairs {
		if f := h.Ops[p.Invoke].F; f == "write" || f == "cas" {
			nw++
		}
	}
	res := Result{Checker: name, Verdict: Valid}
	s := &sessionRun{
		h: h, pairs: pairs, res: &res,
		keyOf:   make([]int32, len(pairs)),
		val:     make([]int64, len(pairs)),
		writes:  make([]sessionWrite, 0, nw),
		byValue: make(map[int64]int32, nw),
	}
	kind := make([]uint8, len(pairs))
	keyIDs := make(map[string]int32)
	var nReads, nWrites, nCAS, okWrites, swapped, ambiguousValues int64
	var unchecked wlUnchecked
	for n, p := range pairs {
		if n%wlPollEvery == 0 && ctx.Err() != nil {
			return wlCancelled(name, ctx.Err())
		}
		inv := &h.Ops[p.Invoke]
		key, ok := keyIDs[inv.Key]
		if !ok {
			key = int32(len(s.keys))
			keyIDs[inv.Key] = key
			s.keys = append(s.keys, inv.Key)
		}
		s.keyOf[n] = key
		outcome := h.Outcome(p)
		var status uint8
		var v int64
		switch inv.F {
		case "read":
			nReads++
			if outcome == history.OK {
				comp := &h.Ops[p.Complete]
				if _, ok := comp.Value.AsInt(); !ok && !comp.Value.IsNil() {
					unchecked.add(inv.Key, wlBadOp(comp, "a register read must return an integer or nil, got %s", comp.Value))
					continue
				}
				kind[n] = sessRead
			}
			continue
		case "write":
			nWrites++
			var ok bool
			v, ok = inv.Value.AsInt()
			if !ok && inv.Value.IsNil() && outcome == history.OK {
				v, ok = h.Ops[p.Complete].Value.AsInt()
			}
			if !ok {
				unchecked.add(inv.Key, wlBadOp(inv, "write needs an integer value, got %s", inv.Value))
				continue
			}
			status = sessionStatus(outcome)
		case "cas":
			nCAS++
			var err error
			v, status, err = sessionCAS(h, p, outcome)
			if err != nil {
				unchecked.add(inv.Key, err)
				continue
			}
			if status == swOK {
				swapped++
			}
		default:
			unchecked.add(inv.Key, wlBadOp(inv, "f %q is not an operation of the register workload (read, write, cas)", inv.F))
			continue
		}
		if status == swOK {
			okWrites++
			kind[n] = sessWrite
			s.val[n] = v
		}
		w := sessionWrite{inv: p.Invoke, cmp: p.Complete, key: key, proc: inv.Process, status: status}
		idx, seen := s.byValue[v]
		switch {
		case !seen:
			s.byValue[v] = int32(len(s.writes))
			s.writes = append(s.writes, w)
		case s.writes[idx].status == swNone:
			s.writes[idx] = w
		case status == swNone, s.writes[idx].status == swAmbiguous:
		default:
			s.writes[idx].status = swAmbiguous
			ambiguousValues++
		}
	}

	stateOf := make(map[sessionKey]int32)
	var states []sessionState
	procs := make(map[history.Process]struct{})
	var okReads, ambiguousReads, phantoms, compared int64
	for n, p := range pairs {
		if n%wlPollEvery == 0 && ctx.Err() != nil {
			return wlCancelled(name, ctx.Err())
		}
		if kind[n] == sessOther || unchecked.has(s.keys[s.keyOf[n]]) {
			continue
		}
		proc := h.Ops[p.Invoke].Process
		sk := sessionKey{proc: proc, key: s.keyOf[n]}
		si, seen := stateOf[sk]
		if !seen {
			si = int32(len(states))
			stateOf[sk] = si
			states = append(states, sessionState{lastWrite: -1, bestRead: -1, bestWrite: -1})
			procs[proc] = struct{}{}
		}
		st := &states[si]
		if kind[n] == sessWrite {
			st.lastWrite = int32(n)
			continue
		}
		okReads++
		y, phantom := s.lookup(n)
		switch {
		case phantom:
			phantoms++
			continue
		case y == -2:
			ambiguousReads++
			continue
		}
		if st.lastWrite >= 0 || st.bestRead >= 0 {
			compared++
		}
		s.readYourWrites(st, n, y)
		s.monotonic(st, n, y)
		if y >= 0 && (st.bestRead < 0 || s.writes[y].inv > s.writes[st.bestWrite].inv) {
			st.bestRead, st.bestWrite = int32(n), y
		}
	}

	res.Count("keys", int64(len(s.keys)))
	res.Count("sessions", int64(len(procs)))
	res.Count("reads", nReads)
	res.Count("ok-reads", okReads)
	res.Count("writes", nWrites)
	res.Count("cas", nCAS)
	res.Count("swapped-cas", swapped)
	res.Count("acknowledged-writes", okWrites)
	res.Count("ambiguous-reads", ambiguousReads)
	res.Count("phantom-reads", phantoms)
	res.Count("compared-reads", compared)
	if ambiguousValues > 0 {
		res.Reason = fmt.Sprintf("%d value(s) were written by more than one operation that may have taken effect; %d read(s) of them were not checked", ambiguousValues, ambiguousReads)
	}
	switch {
	case res.Verdict == Invalid:
	case okReads == 0:
		res.Verdict = Unknown
		res.Reason = "no ok read, so no session guarantee can be checked"
	case compared == 0:
		res.Verdict = Unknown
		why := "no read followed an acknowledged write or an earlier read of its own session on its key, so no session guarantee was checked"
		if res.Reason != "" {
			why = res.Reason + "; " + why
		}
		res.Reason = why
	}
	unchecked.apply(&res)
	return res
}

// sessionStatus maps an outcome to a write state.
func sessionStatus(outcome history.Type) uint8 {
	switch outcome {
	case history.OK:
		return swOK
	case history.Fail:
		return swNone
	}
	return swMaybe
}

// sessionCAS interprets a cas operation: the value it would write and
// whether it did.
func sessionCAS(h *history.History, p history.Pair, outcome history.Type) (int64, uint8, error) {
	inv := &h.Ops[p.Invoke]
	args, ok := inv.Value.AsList()
	if !ok && inv.Value.IsNil() && outcome == history.OK {
		args, ok = h.Ops[p.Complete].Value.AsList()
	}
	if !ok || len(args) < 2 {
		return 0, 0, wlBadOp(inv, "cas needs [old new], got %s", inv.Value)
	}
	v, ok := args[1].AsInt()
	if !ok {
		return 0, 0, wlBadOp(inv, "cas needs an integer new value, got %s", inv.Value)
	}
	if outcome != history.OK {
		return v, sessionStatus(outcome), nil
	}
	comp := &h.Ops[p.Complete]
	if comp.Value.IsNil() {
		return v, swOK, nil
	}
	cv, ok := comp.Value.AsList()
	switch {
	case ok && len(cv) == 2:
		return v, swOK, nil
	case ok && len(cv) == 3:
		if s, isStr := cv[2].AsString(); isStr && s == sessionNotSwapped {
			return v, swNone, nil
		}
	}
	return 0, 0, wlBadOp(comp, "an ok cas completion must be [old new] or [old new %q], got %s", sessionNotSwapped, comp.Value)
}

// lookup finds the write that ok read n observed: its index, -1 for nil,
// -2 for a value written by several operations. A read no write explains
// is recorded as a phantom-read.
func (s *sessionRun) lookup(n int) (y int32, phantom bool) {
	h, p := s.h, s.pairs[n]
	x, ok := h.Ops[p.Complete].Value.AsInt()
	if !ok {
		return -1, false
	}
	idx, found := s.byValue[x]
	var why string
	switch {
	case !found:
		why = "no operation ever wrote it"
	case s.writes[idx].key != s.keyOf[n]:
		why = fmt.Sprintf("it was written to key %q, not this one", s.keys[s.writes[idx].key])
	case s.writes[idx].status == swNone:
		why = "its only write failed or did not swap, so it never took effect"
	case s.writes[idx].status == swAmbiguous:
		return -2, false
	case s.writes[idx].inv > p.Complete:
		why = "its write was invoked only after the read returned"
	default:
		return idx, false
	}
	wlAddAnomaly(s.res, "phantom-read", func() Anomaly {
		wit := []int{p.Invoke, p.Complete}
		if found {
			wit = append(wit, s.writes[idx].inv, s.writes[idx].cmp)
		}
		key := s.keys[s.keyOf[n]]
		return Anomaly{
			Kind: "phantom-read", Key: key,
			Ops:     wlWitness(h, wit...),
			Message: fmt.Sprintf("read %s of key %q returned %d, but %s", wlPairRef(h, p), key, x, why),
		}
	})
	return 0, true
}

// readYourWrites checks ok read n (which observed write y, or nil when
// y < 0) against its session's latest acknowledged write of the key.
func (s *sessionRun) readYourWrites(st *sessionState, n int, y int32) {
	if st.lastWrite < 0 {
		return
	}
	h, p := s.h, s.pairs[n]
	wp := s.pairs[st.lastWrite]
	if y >= 0 && (s.writes[y].status != swOK || s.writes[y].cmp >= wp.Invoke) {
		return // y may be as new as the session's write
	}
	wlAddAnomaly(s.res, "read-your-writes", func() Anomaly {
		key := s.keys[s.keyOf[n]]
		proc := h.Ops[p.Invoke].Process
		wit := []int{wp.Invoke, wp.Complete, p.Invoke, p.Complete}
		saw := "nil, as if the key had never been written"
		if y >= 0 {
			x := &s.writes[y]
			wit = append(wit, x.inv, x.cmp)
			xv := h.Ops[p.Complete].Value.String()
			if x.proc == proc {
				saw = fmt.Sprintf("%s, the process's own earlier write %s", xv, wlPairRef(h, x.pair()))
			} else {
				saw = fmt.Sprintf("%s, whose write %s completed before the process's write began, so it is certainly older", xv, wlPairRef(h, x.pair()))
			}
		}
		return Anomaly{
			Kind: "read-your-writes", Key: key,
			Ops:         wlWitness(h, wit...),
			StalenessNS: h.Ops[p.Complete].Time - h.Ops[wp.Complete].Time,
			Message: fmt.Sprintf("process %s wrote %d to key %q (%s), then its read %s returned %s",
				proc, s.val[st.lastWrite], key, wlPairRef(h, wp), wlPairRef(h, p), saw),
		}
	})
}

// monotonic checks ok read n (which observed write y, or nil when y < 0)
// against its session's earlier read of the key with the latest-written
// value, for monotonic reads.
func (s *sessionRun) monotonic(st *sessionState, n int, y int32) {
	if st.bestRead < 0 {
		return
	}
	x := &s.writes[st.bestWrite]
	if y >= 0 && (s.writes[y].status != swOK || s.writes[y].cmp >= x.inv) {
		return // y may be as new as x
	}
	const kind = "monotonic-reads"
	wlAddAnomaly(s.res, kind, func() Anomaly {
		h, p := s.h, s.pairs[n]
		rp := s.pairs[st.bestRead]
		key := s.keys[s.keyOf[n]]
		proc := h.Ops[p.Invoke].Process
		xv := h.Ops[rp.Complete].Value.String()
		// x was certainly written by the earlier of its ok completion
		// and the completion of the read that returned it.
		since := rp.Complete
		if x.status == swOK && x.cmp < since {
			since = x.cmp
		}
		a := Anomaly{
			Kind: kind, Key: key,
			StalenessNS: h.Ops[p.Complete].Time - h.Ops[since].Time,
		}
		if y < 0 {
			a.Ops = wlWitness(h, rp.Invoke, rp.Complete, x.inv, x.cmp, p.Invoke, p.Complete)
			a.Message = fmt.Sprintf("process %s read %s from key %q (%s, written by %s), then its later read %s returned nil: its reads went back to the empty register",
				proc, xv, key, wlPairRef(h, rp), wlPairRef(h, x.pair()), wlPairRef(h, p))
			return a
		}
		w := &s.writes[y]
		yv := h.Ops[p.Complete].Value.String()
		a.Ops = wlWitness(h, rp.Invoke, rp.Complete, x.inv, x.cmp, w.inv, w.cmp, p.Invoke, p.Complete)
		a.Message = fmt.Sprintf("process %s read %s from key %q (%s), then its later read %s returned %s, whose write %s completed before the write of %s (%s) began: its reads went back in time",
			proc, xv, key, wlPairRef(h, rp), wlPairRef(h, p), yv, wlPairRef(h, w.pair()), xv, wlPairRef(h, x.pair()))
		if w.proc == x.proc {
			a.Message += fmt.Sprintf(" (both written by process %s, in that order)", w.proc)
		}
		return a
	})
}
