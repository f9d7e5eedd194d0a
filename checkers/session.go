package checkers

import (
	"context"
	"fmt"
	"strings"

	"github.com/chaoscheck/chaoscheck/history"
)

// Anomaly kinds of the Session checker. Each guarantee has two kinds: the
// guarantee proper, proven by the history alone, and its "-realtime"
// kind, which rests on one assumption, that the store orders writes by
// real time (as last-write-wins on synchronized clocks would).
const (
	KindReadYourWrites         = "read-your-writes"
	KindReadYourWritesRealtime = "read-your-writes-realtime"
	KindMonotonicReads         = "monotonic-reads"
	KindMonotonicReadsRealtime = "monotonic-reads-realtime"
	KindPhantomRead            = "phantom-read"
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
// Operations, per key (a register, initially empty, never deleted): f
// "write" with value Int(v); f "read" whose ok completion value is Int(v),
// or Nil for a register never written; f "cas" with invoke value
// [old new], whose ok completion [old new] means it swapped (a write of
// new) and [old new "not-swapped"] means the compare failed (no write).
//
// The candidates of a read that returned v are the writes of v to its key
// that may have taken effect (acknowledged, or of unknown outcome) and
// were invoked before the read completed. The workload writes unique
// values, so a read has one candidate; when a value was written more than
// once, the checker decides over all of them: a read violates a guarantee
// only if it does whichever candidate it saw (the anomaly is of the
// weakest kind that holds for every candidate), and a read that violates
// it for some candidates but not others is undecided: counted in
// "undecided-reads", named in Result.Reason, and the verdict is then
// Unknown unless an anomaly is proven. No candidate: a phantom read.
//
// Only what the history proves is used. Orders come from history
// positions (the controller's real-time order); times only measure
// staleness. A write x "causally precedes" a write w of process q when q
// wrote x itself before w, or q had read x (a read whose only candidate is
// x) before invoking w. A write x is "certainly older in real time" than w
// when x completed ok before w was invoked. Writes with an unknown outcome
// are never certainly older than anything, since they may take effect at
// any time after their invocation; failed writes and CAS that did not swap
// never took effect. For the last acknowledged write w of process p on
// key k (a read that misses an earlier write also misses the latest), and
// each later ok read r of k by p:
//
//   - "read-your-writes": r returned nil (the initial state), or a write
//     that causally precedes w (p's own older write, or one p had read
//     before writing w). This violates read-your-writes under any write
//     order: the state r saw is older than p's own write.
//   - "read-your-writes-realtime": r returned another session's write x,
//     not known to p, that completed before w was invoked. Terry's
//     read-your-writes does not order writes by real time: a store whose
//     clocks disagree may order x after w and still satisfy it. What the
//     history shows is that the store's write order disagrees with real
//     time; under last-write-wins, the acknowledged w was overwritten by
//     an older write.
//
// Witnesses: w, the read, the candidate writes (and the read by which p
// knew x, for a write p had read). StalenessNS is r's completion time
// minus w's.
//
// For monotonic reads, each ok read r2 of k by p is compared with p's
// earlier reads r1 of k; with r1's candidate x and r2's candidate y:
//
//   - "monotonic-reads": r2 returned nil after r1 returned a value, or y
//     causally precedes x (x's writer wrote y before x, or had read y
//     before writing x): r2 saw a state older than r1's under any write
//     order.
//   - "monotonic-reads-realtime": y completed before x was invoked, and
//     nothing else orders them: under a write order that agrees with real
//     time r2 went back; a store whose clocks disagree may order y after
//     x, so it shows that the store's write order disagrees with real time.
//
// The proper kind is decided against every earlier read with one
// candidate (per writer, the read of its write invoked last suffices); the
// real-time kind against the earlier read whose candidates' earliest
// invocation is the latest, which decides whether any earlier read proves
// the regression in real time. Witnesses: both reads and the candidate
// writes (and the read by which x's writer knew y). StalenessNS is r2's
// completion time minus the moment x was certainly written (the earlier of
// its ok completion and r1's completion).
//
// Result.Staleness holds the staleness of every stale read (uncapped):
// one entry per read that violates either guarantee, the longer of the
// two when it violates both.
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
//
//   - "phantom-read": a read returned a value no write of that key
//     attempted, whose only writes failed (or were CAS that did not swap),
//     or whose writes were invoked only after the read had returned.
//     Witnesses: the read, and a write of the value if any.
//
// Reads by another process of a concurrent or newer write are never
// flagged: nothing orders them. A swapped CAS is treated as a write only
// (the value it compared against is not used as a read).
//
// A key with an operation other than read, write and cas, or a value of
// the wrong form, is not checked and is named in Result.Reason: it makes
// the verdict Unknown unless another key proves an anomaly (invalid wins
// over unknown). A malformed history gives Unknown, and so do a history
// without an ok read and one in which no read was compared with anything.
// Time and memory are linear in the history (hash maps by value and by
// session and key) when values are unique; a read with more than
// sessionMaxCandidates candidates is undecided.
type Session struct{}

// Name returns "session".
func (Session) Name() string { return "session" }

// Session write states.
const (
	swOK    uint8 = iota + 1 // acknowledged write or swapped CAS
	swMaybe                  // info or never completed: may happen
	swNone                   // failed, or a CAS that did not swap
)

// Per-pair classification of session operations.
const (
	sessOther uint8 = iota
	sessRead
	sessWrite
)

// How a read relates to the write it is compared with, for one candidate.
const (
	sessFine     uint8 = iota // no violation proven
	sessProper                // the guarantee proper is violated
	sessRealtime              // violated if writes are ordered by real time
)

// sessionMaxCandidates bounds the candidate writes (and, for monotonic
// reads, candidate pairs) a read is decided over; past it the read is
// undecided.
const sessionMaxCandidates = 64

// sessionNotSwapped is the third element of an ok CAS completion that did
// not swap.
const sessionNotSwapped = "not-swapped"

// sessionWrite is one write (or CAS) of a value; positions index
// History.Ops, cmp is history.Open for a never-completed write. same
// chains the writes of one value (-1 ends the chain).
type sessionWrite struct {
	inv, cmp int
	value    int64
	key      int32
	same     int32
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

// sessionKnow is "process proc read the write (as the only candidate of
// its read, pair number read)"; next chains the knowers of one write.
type sessionKnow struct {
	proc history.Process
	read int32
	next int32
}

// sessionFrom names, for one session state (reader and key), the writes
// of one writer process it has read.
type sessionFrom struct {
	si     int32
	writer history.Process
}

// sessionLatest is the read (pair number) of a session whose only
// candidate x was invoked last among the writes of one writer that the
// session has read, and x's invocation.
type sessionLatest struct {
	inv     int
	read, w int32
}

// sessionState is what one session has done on one key: its latest
// acknowledged write (write index), and the earlier read monotonic reads
// are judged against (pair number, its candidates and their earliest
// invocation).
type sessionState struct {
	lastW      int32
	bestRead   int32
	bestMinInv int
	bestOne    int32   // the only candidate of bestRead, or -1
	bestMany   []int32 // its candidates when it has several
}

// sessionRun is the state of one Session.Check.
type sessionRun struct {
	h       *history.History
	pairs   []history.Pair
	res     *Result
	keyOf   []int32 // pair number -> key number
	keys    []string
	writeOf []int32 // pair number -> write index, for acknowledged writes
	writes  []sessionWrite
	byValue map[int64]int32 // value -> its latest write (chained by same)
	stateOf map[sessionKey]int32
	states  []sessionState
	// knownHead holds, per write, the first of the chain (in knows) of
	// the first read of each process whose only candidate was that
	// write; -1 ends a chain.
	knownHead []int32
	knows     []sessionKnow
	classes   []uint8 // scratch
	one       [1]int32
	// latest holds, per session state and writer, the read of that
	// writer's write invoked last.
	latest map[sessionFrom]sessionLatest
	cand   []int32 // scratch
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
		writeOf: make([]int32, len(pairs)),
		writes:  make([]sessionWrite, 0, nw),
		byValue: make(map[int64]int32, nw),
		stateOf: make(map[sessionKey]int32),
		latest:  make(map[sessionFrom]sessionLatest),
	}
	kind := make([]uint8, len(pairs))
	keyIDs := make(map[string]int32)
	var nReads, nWrites, nCAS, okWrites, swapped, repeated int64
	var unchecked wlUnchecked
	for n, p := range pairs {
		if n%wlPollEvery == 0 && ctx.Err() != nil {
			return wlCancelled(name, ctx.Err())
		}
		s.writeOf[n] = -1
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
		wi := int32(len(s.writes))
		if status == swOK {
			okWrites++
			kind[n] = sessWrite
			s.writeOf[n] = wi
		}
		prev, seen := s.byValue[v]
		if !seen {
			prev = -1
		} else if status != swNone && s.writes[prev].status != swNone {
			repeated++
		}
		s.byValue[v] = wi
		s.writes = append(s.writes, sessionWrite{inv: p.Invoke, cmp: p.Complete, value: v, key: key, same: prev, proc: inv.Process, status: status})
	}

	sample := &StalenessSample{Of: "stale reads"}
	res.Staleness = sample
	s.knownHead = make([]int32, len(s.writes))
	for i := range s.knownHead {
		s.knownHead[i] = -1
	}
	procs := make(map[history.Process]struct{})
	var okReads, undecided, phantoms, compared int64
	for n, p := range pairs {
		if n%wlPollEvery == 0 && ctx.Err() != nil {
			return wlCancelled(name, ctx.Err())
		}
		if kind[n] == sessOther || unchecked.has(s.keys[s.keyOf[n]]) {
			continue
		}
		proc := h.Ops[p.Invoke].Process
		sk := sessionKey{proc: proc, key: s.keyOf[n]}
		si, seen := s.stateOf[sk]
		if !seen {
			si = int32(len(s.states))
			s.stateOf[sk] = si
			s.states = append(s.states, sessionState{lastW: -1, bestRead: -1, bestOne: -1})
			procs[proc] = struct{}{}
		}
		st := &s.states[si]
		if kind[n] == sessWrite {
			st.lastW = s.writeOf[n]
			continue
		}
		okReads++
		isNil := h.Ops[p.Complete].Value.IsNil()
		var cand []int32
		if !isNil {
			var many bool
			cand, many = s.candidates(n)
			switch {
			case many:
				undecided++
				continue
			case len(cand) == 0:
				phantoms++
				s.phantom(n)
				continue
			}
		}
		if st.lastW >= 0 || st.bestRead >= 0 {
			compared++
		}
		ryw, rywStale := s.readYourWrites(si, n, isNil, cand)
		mono, monoStale := s.monotonic(si, n, isNil, cand)
		if !ryw || !mono {
			undecided++
		}
		if stale := max(rywStale, monoStale); stale >= 0 {
			// One entry per stale read: the longer of the two.
			n := 1
			if rywStale >= 0 && monoStale >= 0 {
				n = 2
			}
			sample.Add(stale, n)
		}
		if len(cand) == 1 {
			c := cand[0]
			if _, known := s.knew(proc, c, p.Complete+1); !known {
				s.knows = append(s.knows, sessionKnow{proc: proc, read: int32(n), next: s.knownHead[c]})
				s.knownHead[c] = int32(len(s.knows) - 1)
			}
			x := &s.writes[c]
			from := sessionFrom{si: si, writer: x.proc}
			if l, ok := s.latest[from]; !ok || x.inv > l.inv {
				s.latest[from] = sessionLatest{inv: x.inv, read: int32(n), w: c}
			}
		}
		if len(cand) > 0 {
			minInv := s.writes[cand[0]].inv
			for _, c := range cand[1:] {
				minInv = min(minInv, s.writes[c].inv)
			}
			st = &s.states[si]
			if st.bestRead < 0 || minInv > st.bestMinInv {
				st.bestRead, st.bestMinInv = int32(n), minInv
				st.bestOne, st.bestMany = -1, nil
				if len(cand) == 1 {
					st.bestOne = cand[0]
				} else {
					st.bestMany = append([]int32(nil), cand...)
				}
			}
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
	res.Count("repeated-writes", repeated)
	res.Count("undecided-reads", undecided)
	res.Count("phantom-reads", phantoms)
	res.Count("compared-reads", compared)
	var reasons []string
	if undecided > 0 {
		reasons = append(reasons, fmt.Sprintf("%d read(s) could not be decided: they returned a value written more than once (%d repeated write(s)), and a violation holds for some of the writes they may have seen but not for all", undecided, repeated))
	}
	switch {
	case res.Verdict == Invalid:
	case okReads == 0:
		reasons = append(reasons, "no ok read, so no session guarantee can be checked")
	case compared == 0:
		reasons = append(reasons, "no read followed an acknowledged write or an earlier read of its own session on its key, so no session guarantee was checked")
	}
	if res.Verdict != Invalid && (undecided > 0 || okReads == 0 || compared == 0) {
		res.Verdict = Unknown
	}
	res.Reason = strings.Join(reasons, "; ")
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

// candidates returns the candidate writes of ok read n (see Session), in
// s.cand, and many when there are more than sessionMaxCandidates.
func (s *sessionRun) candidates(n int) (cand []int32, many bool) {
	p := s.pairs[n]
	x, _ := s.h.Ops[p.Complete].Value.AsInt()
	s.cand = s.cand[:0]
	idx, found := s.byValue[x]
	for ; found && idx >= 0; idx = s.writes[idx].same {
		w := &s.writes[idx]
		if w.key != s.keyOf[n] || w.status == swNone || w.inv > p.Complete {
			continue
		}
		if len(s.cand) == sessionMaxCandidates {
			return nil, true
		}
		s.cand = append(s.cand, idx)
	}
	return s.cand, false
}

// phantom records the phantom read n: its value has no candidate write.
func (s *sessionRun) phantom(n int) {
	h, p := s.h, s.pairs[n]
	x, _ := h.Ops[p.Complete].Value.AsInt()
	// Why no write of the value explains the read, from the writes of
	// this key (failed, or invoked too late), else those of other keys.
	why := "no operation ever wrote it"
	wit := []int{p.Invoke, p.Complete}
	var failed, late, other int
	idx, found := s.byValue[x]
	for ; found && idx >= 0; idx = s.writes[idx].same {
		w := &s.writes[idx]
		switch {
		case w.key != s.keyOf[n]:
			if other == 0 && failed+late == 0 {
				why = fmt.Sprintf("it was written to key %s, not this one", history.Quote(s.keys[w.key]))
				wit = []int{p.Invoke, p.Complete, w.inv, w.cmp}
			}
			other++
			continue
		case w.status == swNone:
			failed++
		default:
			late++
		}
		if failed+late == 1 {
			wit = []int{p.Invoke, p.Complete, w.inv, w.cmp}
		}
	}
	switch {
	case failed > 0 && late > 0:
		why = fmt.Sprintf("of its %d writes of this key, %d failed or did not swap (no effect) and %d were invoked only after the read returned", failed+late, failed, late)
	case failed > 0:
		why = "its writes of this key failed or did not swap, so they never took effect"
	case late > 0:
		why = "its writes of this key were invoked only after the read returned"
	}
	wlAddAnomaly(s.res, KindPhantomRead, func() Anomaly {
		key := s.keys[s.keyOf[n]]
		return Anomaly{
			Kind: KindPhantomRead, Key: key,
			Ops:     wlWitness(h, wit...),
			Message: fmt.Sprintf("read %s of key %s returned %d, but %s", wlPairRef(h, p), history.Quote(key), x, why),
		}
	})
}

// scratchClasses returns a reused slice of n classes.
func (s *sessionRun) scratchClasses(n int) []uint8 {
	if cap(s.classes) < n {
		s.classes = make([]uint8, n)
	}
	return s.classes[:n]
}

// sessionVerdict folds the classes of every candidate: the anomaly kind
// that holds for all of them (proper, realtime, or fine), and whether the
// read is decided (all fine, or all violations).
func sessionVerdict(classes []uint8) (class uint8, decided bool) {
	var fine, proper, realtime int
	for _, c := range classes {
		switch c {
		case sessFine:
			fine++
		case sessProper:
			proper++
		default:
			realtime++
		}
	}
	switch {
	case fine == len(classes):
		return sessFine, true
	case fine > 0:
		return sessFine, false
	case realtime > 0:
		return sessRealtime, true
	}
	return sessProper, true
}

// knew reports whether process proc had read write w (as the only
// candidate of one of its reads) before position before; it returns that
// read.
func (s *sessionRun) knew(proc history.Process, w int32, before int) (history.Pair, bool) {
	for i := s.knownHead[w]; i >= 0; i = s.knows[i].next {
		if k := &s.knows[i]; k.proc == proc {
			if p := s.pairs[k.read]; p.Complete < before {
				return p, true
			}
			return history.Pair{}, false
		}
	}
	return history.Pair{}, false
}

// readYourWrites checks ok read n of session state si (nil, or with the
// candidates cand) against the session's latest acknowledged write of the
// key. It returns false when the read is undecided, and the staleness of
// a violation (-1: none).
func (s *sessionRun) readYourWrites(si int32, n int, isNil bool, cand []int32) (decided bool, stale int64) {
	st := &s.states[si]
	if st.lastW < 0 {
		return true, -1
	}
	h, p := s.h, s.pairs[n]
	wi := st.lastW
	w := &s.writes[wi]
	proc := h.Ops[p.Invoke].Process
	class := sessProper // nil: the initial state
	if !isNil {
		classes := s.scratchClasses(len(cand))
		for i, c := range cand {
			x := &s.writes[c]
			_, knew := s.knew(proc, c, w.inv)
			switch {
			case c == wi:
				classes[i] = sessFine
			case x.proc == proc && x.inv < w.inv, knew:
				classes[i] = sessProper
			case x.status == swOK && x.cmp < w.inv:
				classes[i] = sessRealtime
			default:
				classes[i] = sessFine
			}
		}
		var decided bool
		class, decided = sessionVerdict(classes)
		if !decided {
			return false, -1
		}
	}
	if class == sessFine {
		return true, -1
	}
	kind := KindReadYourWrites
	if class == sessRealtime {
		kind = KindReadYourWritesRealtime
	}
	stale = h.Ops[p.Complete].Time - h.Ops[w.cmp].Time
	wlAddAnomaly(s.res, kind, func() Anomaly {
		key := s.keys[s.keyOf[n]]
		wit := []int{w.inv, w.cmp, p.Invoke, p.Complete}
		var saw string
		switch {
		case isNil:
			saw = "nil, as if the key had never been written"
		case len(cand) == 1:
			x := &s.writes[cand[0]]
			wit = append(wit, x.inv, x.cmp)
			xv := fmt.Sprint(x.value)
			if rp, knew := s.knew(proc, cand[0], w.inv); knew && x.proc != proc {
				wit = append(wit, rp.Invoke, rp.Complete)
				saw = fmt.Sprintf("%s, written by %s, which the process had itself read (%s) before its write began", xv, wlPairRef(h, x.pair()), wlPairRef(h, rp))
			} else if x.proc == proc {
				saw = fmt.Sprintf("%s, the process's own earlier write %s", xv, wlPairRef(h, x.pair()))
			} else {
				saw = fmt.Sprintf("%s, written by %s, which completed before the process's write began", xv, wlPairRef(h, x.pair()))
			}
		default:
			saw = fmt.Sprintf("%d, a value written %d times (%s): whichever of those writes it saw", s.writes[cand[0]].value, len(cand), s.writeRefs(cand, &wit))
			if class == sessProper {
				saw += ", it is the process's own earlier write or one the process had read before its write"
			} else {
				saw += ", it completed before the process's write began"
			}
		}
		msg := fmt.Sprintf("process %s wrote %d to key %s (%s), then its read %s returned %s",
			proc, w.value, history.Quote(key), wlPairRef(h, w.pair()), wlPairRef(h, p), saw)
		if class == sessRealtime {
			msg += ". The store ordered an older write after the process's acknowledged one: its write order disagrees with real time (under last-write-wins, the acknowledged write was overwritten by an older one). Read-your-writes itself does not order writes by real time"
		}
		return Anomaly{
			Kind: kind, Key: key,
			Ops:         wlWitness(h, wit...),
			StalenessNS: stale,
			Message:     msg,
		}
	})
	return true, stale
}

// writeRefs lists up to four candidate writes and adds them to the
// witnesses.
func (s *sessionRun) writeRefs(cand []int32, wit *[]int) string {
	var refs []string
	for i, c := range cand {
		w := &s.writes[c]
		if i == 4 {
			refs = append(refs, fmt.Sprintf("and %d more", len(cand)-4))
			break
		}
		*wit = append(*wit, w.inv, w.cmp)
		refs = append(refs, wlPairRef(s.h, w.pair()))
	}
	return strings.Join(refs, ", ")
}

// causallyAfter finds an earlier read, by session state si, of a write x
// that write y causally precedes: x's writer wrote y before x, or had read
// y before invoking x. It returns that read (pair number) and x.
func (s *sessionRun) causallyAfter(si, yi int32) (read, x int32, ok bool) {
	y := &s.writes[yi]
	if l, found := s.latest[sessionFrom{si: si, writer: y.proc}]; found && l.inv > y.inv {
		return l.read, l.w, true
	}
	for i := s.knownHead[yi]; i >= 0; i = s.knows[i].next {
		k := &s.knows[i]
		if l, found := s.latest[sessionFrom{si: si, writer: k.proc}]; found && l.inv > s.pairs[k.read].Complete {
			return l.read, l.w, true
		}
	}
	return -1, -1, false
}

// monotonic checks ok read n of session state si (nil, or with the
// candidates cand) against the session's earlier reads of the key, for
// monotonic reads. It returns false when the read is undecided, and the
// staleness of a violation (-1: none).
func (s *sessionRun) monotonic(si int32, n int, isNil bool, cand []int32) (decided bool, stale int64) {
	st := &s.states[si]
	if st.bestRead < 0 {
		return true, -1
	}
	h, p := s.h, s.pairs[n]
	class := sessProper // nil: the initial state
	r1, xs := st.bestRead, st.bestMany
	if st.bestOne >= 0 {
		s.one[0] = st.bestOne
		xs = s.one[:]
	}
	if !isNil {
		classes := s.scratchClasses(len(cand))
		proofRead, proofW := int32(-1), int32(-1)
		for i, yi := range cand {
			y := &s.writes[yi]
			if read, x, ok := s.causallyAfter(si, yi); ok {
				classes[i] = sessProper
				if proofRead < 0 {
					proofRead, proofW = read, x
				}
				continue
			}
			if y.status == swOK && y.cmp < st.bestMinInv {
				classes[i] = sessRealtime
				continue
			}
			classes[i] = sessFine
		}
		var decided bool
		class, decided = sessionVerdict(classes)
		if !decided {
			return false, -1
		}
		if class == sessProper {
			s.one[0] = proofW
			r1, xs = proofRead, s.one[:]
		}
	}
	if class == sessFine {
		return true, -1
	}
	kind := KindMonotonicReads
	if class == sessRealtime {
		kind = KindMonotonicReadsRealtime
	}
	rp := s.pairs[r1]
	// x was certainly written by the earlier of its ok completion (when
	// it is the only candidate) and the completion of the read of it.
	since := rp.Complete
	if len(xs) == 1 && s.writes[xs[0]].status == swOK && s.writes[xs[0]].cmp < since {
		since = s.writes[xs[0]].cmp
	}
	stale = h.Ops[p.Complete].Time - h.Ops[since].Time
	wlAddAnomaly(s.res, kind, func() Anomaly {
		key := s.keys[s.keyOf[n]]
		proc := h.Ops[p.Invoke].Process
		xv := h.Ops[rp.Complete].Value.String()
		wit := []int{rp.Invoke, rp.Complete, p.Invoke, p.Complete}
		xref := s.writeRefs(xs, &wit)
		a := Anomaly{Kind: kind, Key: key, StalenessNS: stale}
		if isNil {
			a.Message = fmt.Sprintf("process %s read %s from key %s (%s, written by %s), then its later read %s returned nil: its reads went back to the empty register",
				proc, xv, history.Quote(key), wlPairRef(h, rp), xref, wlPairRef(h, p))
		} else {
			yv := h.Ops[p.Complete].Value.String()
			yref := s.writeRefs(cand, &wit)
			var how string
			switch {
			case class == sessRealtime:
				how = "completed before the write of " + xv + " began"
			case len(cand) == 1 && s.writes[cand[0]].proc == s.writes[xs[0]].proc:
				how = "came first in the session that wrote both"
			case len(cand) == 1:
				kp, _ := s.knew(s.writes[xs[0]].proc, cand[0], s.writes[xs[0]].inv)
				wit = append(wit, kp.Invoke, kp.Complete)
				how = fmt.Sprintf("the writer of %s had read (%s) before writing it", xv, wlPairRef(h, kp))
			default:
				how = "whichever it was, was written by the writer of a value the process had read earlier before that value, or read by that writer before it wrote"
			}
			a.Message = fmt.Sprintf("process %s read %s from key %s (%s, written by %s), then its later read %s returned %s, whose write %s %s: its reads went back in time",
				proc, xv, history.Quote(key), wlPairRef(h, rp), xref, wlPairRef(h, p), yv, yref, how)
			if len(xs) == 1 && len(cand) == 1 && s.writes[xs[0]].proc == s.writes[cand[0]].proc {
				a.Message += fmt.Sprintf(" (both written by process %s, in that order)", s.writes[cand[0]].proc)
			}
			if class == sessRealtime {
				a.Message += ". Nothing but real time orders the two writes: the store's write order disagrees with real time (under last-write-wins, the newer write was overwritten by the older one)"
			}
		}
		a.Ops = wlWitness(h, wit...)
		return a
	})
	return true, stale
}
