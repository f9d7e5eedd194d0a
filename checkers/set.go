package checkers

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/chaoscheck/chaoscheck/history"
)

// Set checks the set workload with the semantics of Jepsen's set-full
// checker (jepsen.checker/set-full), per key.
//
// The workload adds unique integers to a grow-only set per key (f "add",
// invoke value Int(element)) and reads the whole set (f "read", ok
// completion value a list of integers). Nothing is ever removed, so once an
// element is certainly in the set every read that begins afterwards must
// contain it. An element is certainly in the set ("known", as Jepsen says)
// from the earlier of
//
//   - the ok completion of one of its adds, and
//   - the completion of the first read that returned it (a read that
//     returned it proves it was added, even by an add whose outcome was
//     unknown).
//
// The final read of a key is its last-invoked ok read. The runner reads
// every key after healing the faults, so normally that read began after
// every add of the key had completed (ok, fail or info; a never-completed
// add cannot be waited for and is ignored here). When it did not, the
// checker still uses it and says so in Result.Reason: adds acknowledged
// only after it began are then left unchecked (counted as "never-read").
// A key that has adds but no ok read cannot be judged, and makes the
// verdict Unknown unless another key proves an anomaly.
//
// Every attempted element has one outcome, as in Jepsen, with these anomaly
// kinds (each anomaly carries its key and witnesses):
//
//   - "lost": known before the final read began, yet absent from it.
//     Witnesses: the add (invoke and completion), the read that made it
//     known if it was a read, and the final read.
//   - "unexpected": a read returned an element no add ever attempted, or
//     returned it before any add of it was even invoked (the read completed
//     first). Witnesses: the first such read (and that add's invocation).
//   - "fail-add-present": a read returned an element whose adds all failed.
//     Jepsen treats a :fail operation as certainly not having happened, so
//     its element appearing is an anomaly. Witnesses: the failed add and
//     the read.
//   - "stale-read": not lost, but some read other than the final one began
//     after the element was known and did not contain it, while a read that
//     began later did. One anomaly per element, whose witnesses are the add
//     (and the read that made it known, if any), the last such stale read
//     and the next read that contained it. StalenessNS is that stale
//     read's completion time minus the time the element became known (the
//     add's ok completion, or the completion of the read that revealed it).
//     The message says how many reads missed it. Result.Staleness holds
//     that staleness for every stale element (uncapped, and also when
//     AllowStale makes them legal): one entry per element, not per
//     element-read pair, which would cost time quadratic in the history.
//
// Stale reads contradict linearizability but not eventual consistency:
// Jepsen's set-full reports them and makes them invalid only when
// linearizability is required. Here they are invalid by default; set
// AllowStale to only count them.
//
// Adds whose outcome is unknown (info, or never completed) may take effect
// or not. One that appears in a read is "recovered": counted and listed in
// Result.Reason, but not an anomaly. One that never appears is counted as
// "never-read" and is not an anomaly either.
//
// Counts: keys, attempted, acknowledged, failed, indeterminate, reads,
// lost, unexpected, fail-add-present, recovered, stale (elements),
// stale-reads (element-read pairs), never-read.
//
// A history without any add decided nothing and gives Unknown. A key with
// an operation a set workload cannot have written (an operation other than
// add and read, an element that is not an integer, a read that is not a
// list of integers) is not checked and is named in Result.Reason: it makes
// the verdict Unknown unless another key proves an anomaly (invalid wins
// over unknown). A malformed history gives Unknown. Elements are
// expected to be unique per key; an element added more than once is judged
// on all its adds together (its earliest ok add makes it known).
//
// The checker runs in time linear in the size of the history (counting
// the elements returned by reads) plus two binary searches per element,
// and in memory linear in the largest key: a read's absent elements are
// never enumerated, so a database that returns empty sets to a long
// history costs no more than one that answers well.
type Set struct {
	// AllowStale makes stale reads legal: they are counted (and noted in
	// Result.Reason) but are not anomalies. Leave it false to require
	// linearizable reads, as Jepsen's set-full does with :linearizable?.
	AllowStale bool
}

// Name returns "set".
func (Set) Name() string { return "set" }

// setNever is the "known" time of an element never certainly in the set.
const setNever = math.MaxInt

// setElem is what the checker learns about one element of one key.
// Positions are indexes into History.Ops; read numbers index the key's ok
// reads in invocation order.
type setElem struct {
	value int64
	adds  int32
	// okInv, okCmp: the ok add that completed first, or -1.
	okInv, okCmp int
	// indInv, indCmp: the first add whose outcome is unknown (indCmp is
	// history.Open for a never-completed add), or indInv == -1.
	indInv, indCmp int
	// failInv, failCmp: the first failed add, or -1.
	failInv, failCmp int
	// liveInv is the earliest invocation of an add that did not fail, or
	// -1.
	liveInv int
	// firstRead is the read with the earliest completion that contains
	// the element (firstReadCmp), or -1; lastRead the last-invoked one.
	firstRead, firstReadCmp, lastRead int
	// occ is how many reads contain the element, and csr where their read
	// numbers start in setRun.lists.
	occ, csr int32
}

// setRun is the state of one Set.Check.
type setRun struct {
	c     Set
	ctx   context.Context
	h     *history.History
	pairs []history.Pair
	res   *Result
	tick  int

	// per-key scratch, reused from key to key
	ids     map[int64]int32
	elems   []setElem
	stamp   []int32
	idbuf   []int32
	offs    []int
	readInv []int
	lists   []int32

	attempted, acknowledged, failed, indeterminate, reads int64
	lost, unexpected, failPresent, recovered, stale       int64
	staleReads, neverRead                                 int64

	recoveredOps  []int
	fallbackKeys  []string
	unreadKeys    []string
	staleAllowed  int64
	staleAllowedE int64
	unchecked     wlUnchecked
}

// Check judges h. See Set for the semantics.
func (c Set) Check(ctx context.Context, h *history.History) Result {
	const name = "set"
	ctx = wlContext(ctx)
	pairs, err := wlPairs(h)
	if err != nil {
		return unknown(name, err.Error())
	}
	type setKeyOps struct {
		adds, reads []int
		bad         error // an operation the checker cannot interpret
	}
	byKey := make(map[string]*setKeyOps)
	for n, p := range pairs {
		if n%wlPollEvery == 0 && ctx.Err() != nil {
			return wlCancelled(name, ctx.Err())
		}
		inv := &h.Ops[p.Invoke]
		ko := byKey[inv.Key]
		if ko == nil {
			ko = &setKeyOps{}
			byKey[inv.Key] = ko
		}
		switch inv.F {
		case "add":
			ko.adds = append(ko.adds, n)
		case "read":
			if h.Outcome(p) == history.OK {
				ko.reads = append(ko.reads, n)
			}
		default:
			if ko.bad == nil {
				ko.bad = wlBadOp(inv, "f %q is not an operation of the set workload (add, read)", inv.F)
			}
		}
	}
	if len(byKey) == 0 {
		return unknown(name, "no set operations in the history")
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	res := Result{Checker: name, Verdict: Valid}
	res.Staleness = &StalenessSample{Of: "stale elements"}
	s := &setRun{c: c, ctx: ctx, h: h, pairs: pairs, res: &res, ids: make(map[int64]int32)}
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return wlCancelled(name, err)
		}
		ko := byKey[k]
		if ko.bad != nil {
			s.unchecked.add(k, ko.bad)
			continue
		}
		if err := s.checkKey(k, ko.adds, ko.reads); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return wlCancelled(name, ctxErr)
			}
			s.unchecked.add(k, err)
		}
	}
	s.finish(len(keys))
	return res
}

// poll reports the context's error every wlPollEvery calls.
func (s *setRun) poll() error {
	s.tick++
	if s.tick%wlPollEvery == 0 {
		return s.ctx.Err()
	}
	return nil
}

// elem returns the id of element v of the current key, creating it.
func (s *setRun) elem(v int64) int32 {
	if id, ok := s.ids[v]; ok {
		return id
	}
	id := int32(len(s.elems))
	s.ids[v] = id
	s.elems = append(s.elems, setElem{
		value: v, okInv: -1, okCmp: -1, indInv: -1, indCmp: -1, failInv: -1, failCmp: -1,
		liveInv: -1, firstRead: -1, firstReadCmp: -1, lastRead: -1,
	})
	s.stamp = append(s.stamp, 0)
	return id
}

// checkKey judges one key; adds and reads are pair numbers in invocation
// order (reads: ok reads only).
func (s *setRun) checkKey(key string, adds, reads []int) error {
	h := s.h
	clear(s.ids)
	s.elems = s.elems[:0]
	s.stamp = s.stamp[:0]

	maxAddCmp := -1
	for _, pn := range adds {
		if err := s.poll(); err != nil {
			return err
		}
		p := s.pairs[pn]
		inv := &h.Ops[p.Invoke]
		outcome := h.Outcome(p)
		v, ok := inv.Value.AsInt()
		if !ok && inv.Value.IsNil() && outcome == history.OK {
			v, ok = h.Ops[p.Complete].Value.AsInt()
		}
		if !ok {
			return wlBadOp(inv, "add needs an integer element, got %s", inv.Value)
		}
		e := &s.elems[s.elem(v)]
		e.adds++
		s.attempted++
		if p.Complete != history.Open && p.Complete > maxAddCmp {
			maxAddCmp = p.Complete
		}
		switch outcome {
		case history.OK:
			s.acknowledged++
			if e.okInv < 0 || p.Complete < e.okCmp {
				e.okInv, e.okCmp = p.Invoke, p.Complete
			}
		case history.Fail:
			s.failed++
			if e.failInv < 0 {
				e.failInv, e.failCmp = p.Invoke, p.Complete
			}
		default:
			s.indeterminate++
			if e.indInv < 0 {
				e.indInv, e.indCmp = p.Invoke, p.Complete
			}
		}
		if outcome != history.Fail && (e.liveInv < 0 || p.Invoke < e.liveInv) {
			e.liveInv = p.Invoke
		}
	}

	if len(reads) == 0 {
		if len(adds) > 0 {
			s.unreadKeys = append(s.unreadKeys, key)
		}
		for i := range s.elems {
			if s.elems[i].liveInv >= 0 {
				s.neverRead++
			}
		}
		return nil
	}

	// Scan the reads once: element ids of each read, first and last read
	// of each element.
	s.idbuf = s.idbuf[:0]
	s.offs = s.offs[:0]
	s.readInv = s.readInv[:0]
	for rn, pn := range reads {
		if err := s.poll(); err != nil {
			return err
		}
		p := s.pairs[pn]
		comp := &h.Ops[p.Complete]
		list, ok := comp.Value.AsList()
		if !ok {
			return wlBadOp(comp, "a set read must return a list of integers, got %s", comp.Value)
		}
		s.reads++
		s.offs = append(s.offs, len(s.idbuf))
		s.readInv = append(s.readInv, p.Invoke)
		mark := int32(rn + 1)
		for _, v := range list {
			x, ok := v.AsInt()
			if !ok {
				return wlBadOp(comp, "a set read must return a list of integers, got element %s", v)
			}
			id := s.elem(x)
			if s.stamp[id] == mark {
				continue // duplicate within one read
			}
			s.stamp[id] = mark
			s.idbuf = append(s.idbuf, id)
			e := &s.elems[id]
			if e.firstRead < 0 || p.Complete < e.firstReadCmp {
				e.firstRead, e.firstReadCmp = rn, p.Complete
			}
			e.lastRead = rn
			e.occ++
		}
	}
	s.offs = append(s.offs, len(s.idbuf))

	// Per element, the ascending read numbers that contain it.
	var total int32
	for i := range s.elems {
		s.elems[i].csr = total
		s.stamp[i] = total
		total += s.elems[i].occ
	}
	s.lists = slices.Grow(s.lists[:0], int(total))[:total]
	for rn := range reads {
		for _, id := range s.idbuf[s.offs[rn]:s.offs[rn+1]] {
			s.lists[s.stamp[id]] = int32(rn)
			s.stamp[id]++
		}
	}

	final := len(reads) - 1
	fp := s.pairs[reads[final]]
	if fp.Invoke < maxAddCmp {
		s.fallbackKeys = append(s.fallbackKeys, key)
	}
	for i := range s.elems {
		if err := s.poll(); err != nil {
			return err
		}
		s.judge(key, reads, &s.elems[i], fp, final)
	}
	return nil
}

// judge gives element e of key its outcome. fp is the final read, number
// final.
func (s *setRun) judge(key string, reads []int, e *setElem, fp history.Pair, final int) {
	h := s.h
	readPair := func(rn int) history.Pair { return s.pairs[reads[rn]] }
	if e.firstRead >= 0 {
		r := readPair(e.firstRead)
		switch {
		case e.adds == 0:
			s.unexpected++
			wlAddAnomaly(s.res, "unexpected", func() Anomaly {
				return Anomaly{
					Kind: "unexpected", Key: key,
					Ops:     wlWitness(h, r.Invoke, r.Complete),
					Message: fmt.Sprintf("read %s of key %s returned element %d, which no add ever attempted", wlPairRef(h, r), history.Quote(key), e.value),
				}
			})
			return
		case e.liveInv < 0:
			s.failPresent++
			wlAddAnomaly(s.res, "fail-add-present", func() Anomaly {
				add := wlPairRef(h, history.Pair{Invoke: e.failInv, Complete: e.failCmp})
				how := fmt.Sprintf("whose add %s failed", add)
				if e.adds > 1 {
					how = fmt.Sprintf("whose %d adds all failed (the first is %s)", e.adds, add)
				}
				return Anomaly{
					Kind: "fail-add-present", Key: key,
					Ops:     wlWitness(h, e.failInv, e.failCmp, r.Invoke, r.Complete),
					Message: fmt.Sprintf("read %s of key %s returned element %d, %s: a failed add certainly had no effect", wlPairRef(h, r), history.Quote(key), e.value, how),
				}
			})
			return
		case e.firstReadCmp < e.liveInv:
			s.unexpected++
			wlAddAnomaly(s.res, "unexpected", func() Anomaly {
				return Anomaly{
					Kind: "unexpected", Key: key,
					Ops:     wlWitness(h, r.Invoke, r.Complete, e.liveInv),
					Message: fmt.Sprintf("read %s of key %s returned element %d before any add of it was invoked (the first is #%d)", wlPairRef(h, r), history.Quote(key), e.value, h.Ref(e.liveInv)),
				}
			})
			return
		}
		if e.okInv < 0 {
			s.recovered++
			if len(s.recoveredOps) < 10 {
				s.recoveredOps = append(s.recoveredOps, h.Ops[e.indInv].Index)
			}
		}
	}

	known := setNever
	if e.okInv >= 0 {
		known = e.okCmp
	}
	if e.firstRead >= 0 && e.firstReadCmp < known {
		known = e.firstReadCmp
	}
	if known == setNever {
		if e.liveInv >= 0 {
			s.neverRead++ // unknown outcome, never observed: allowed
		}
		return
	}
	// proof gives the witnesses that the element was in the set from
	// known on, and says why: the add, and the read that revealed the
	// element if that came first. Built only for an anomaly.
	proof := func() (wit []int, why string) {
		add := history.Pair{Invoke: e.okInv, Complete: e.okCmp}
		if e.okInv < 0 {
			add = history.Pair{Invoke: e.indInv, Complete: e.indCmp}
		}
		wit = []int{add.Invoke, add.Complete}
		if known == e.okCmp {
			return wit, fmt.Sprintf("add %s completed ok", wlPairRef(h, add))
		}
		r := readPair(e.firstRead)
		outcome := "completed ok later"
		if e.okInv < 0 {
			outcome = "has an unknown outcome"
		}
		return append(wit, r.Invoke, r.Complete), fmt.Sprintf("read %s returned it (its add %s %s)", wlPairRef(h, r), wlPairRef(h, add), outcome)
	}

	if known < fp.Invoke && e.lastRead != final {
		s.lost++
		wlAddAnomaly(s.res, "lost", func() Anomaly {
			wit, why := proof()
			return Anomaly{
				Kind: "lost", Key: key,
				Ops:     wlWitness(h, append(wit, fp.Invoke, fp.Complete)...),
				Message: fmt.Sprintf("element %d of key %s is lost: %s before the final read %s began, yet that read does not contain it", e.value, history.Quote(key), why, wlPairRef(h, fp)),
			}
		})
		return
	}
	if e.firstRead < 0 {
		s.neverRead++ // acknowledged only after the final read began
		return
	}

	// Stale reads: reads that began after known, before the last read
	// containing the element, and miss it.
	hi := e.lastRead
	lo := sort.SearchInts(s.readInv, known+1)
	if lo >= hi {
		return
	}
	l := s.lists[e.csr : e.csr+e.occ]
	a, _ := slices.BinarySearch(l, int32(lo))
	b, _ := slices.BinarySearch(l, int32(hi))
	missing := (hi - lo) - (b - a)
	if missing <= 0 {
		return
	}
	// The last stale read: walk down from hi-1 past the reads that do
	// contain the element.
	r, j := hi-1, b-1
	for j >= 0 && l[j] == int32(r) {
		r--
		j--
	}
	s.stale++
	s.staleReads += int64(missing)
	s.res.Staleness.Add(h.Ops[readPair(r).Complete].Time-h.Ops[known].Time, 1)
	if s.c.AllowStale {
		s.staleAllowedE++
		s.staleAllowed += int64(missing)
		return
	}
	// l[j+1] is the first read after r that contains the element.
	sr, later := readPair(r), readPair(int(l[j+1]))
	wlAddAnomaly(s.res, "stale-read", func() Anomaly {
		wit, why := proof()
		return Anomaly{
			Kind: "stale-read", Key: key,
			Ops:         wlWitness(h, append(wit, sr.Invoke, sr.Complete, later.Invoke, later.Complete)...),
			StalenessNS: h.Ops[sr.Complete].Time - h.Ops[known].Time,
			Message: fmt.Sprintf("read %s of key %s missed element %d although %s before it began; the later read %s contained it (%d read(s) missed it in all)",
				wlPairRef(h, sr), history.Quote(key), e.value, why, wlPairRef(h, later), missing),
		}
	})
}

// finish writes the counts, the reason and the verdict.
func (s *setRun) finish(keys int) {
	res := s.res
	res.Count("keys", int64(keys))
	for _, c := range []struct {
		name string
		n    int64
	}{
		{"attempted", s.attempted}, {"acknowledged", s.acknowledged}, {"failed", s.failed},
		{"indeterminate", s.indeterminate}, {"reads", s.reads}, {"lost", s.lost},
		{"unexpected", s.unexpected}, {"fail-add-present", s.failPresent}, {"recovered", s.recovered},
		{"stale", s.stale}, {"stale-reads", s.staleReads}, {"never-read", s.neverRead},
	} {
		res.Count(c.name, c.n)
	}
	var notes []string
	if s.attempted == 0 && res.Verdict != Invalid {
		// Reads with nothing to contain decide nothing (issue 10).
		res.Verdict = Unknown
		notes = append(notes, "no add was attempted, so no element could be lost or stale")
	}
	if len(s.unreadKeys) > 0 {
		notes = append(notes, fmt.Sprintf("%d key(s) with adds have no ok read, so they were not checked: %s", len(s.unreadKeys), wlKeySample(s.unreadKeys)))
		if res.Verdict != Invalid {
			res.Verdict = Unknown
		}
	}
	if len(s.fallbackKeys) > 0 {
		notes = append(notes, fmt.Sprintf("no read of %d key(s) began after all their adds completed, so their last read served as the final read and adds acknowledged after it began were not checked: %s", len(s.fallbackKeys), wlKeySample(s.fallbackKeys)))
	}
	if s.recovered > 0 {
		notes = append(notes, fmt.Sprintf("%d element(s) whose adds had an unknown outcome appeared in reads (recovered, allowed), e.g. adds %s", s.recovered, wlListSample(s.recoveredOps, 10)))
	}
	if s.staleAllowed > 0 {
		notes = append(notes, fmt.Sprintf("%d stale read(s) of %d element(s) allowed by AllowStale", s.staleAllowed, s.staleAllowedE))
	}
	res.Reason = strings.Join(notes, "; ")
	s.unchecked.apply(res)
}
