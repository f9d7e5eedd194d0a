package checkers

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
)

// KindNonLinearizable is the anomaly kind of a key whose operations admit
// no linearization.
const KindNonLinearizable = "non-linearizable"

// Linearizable checks that the history is linearizable, key by key, with
// porcupine. Each key (Op.Key) is an independent object of Model, starting
// in its initial state, so the keys are searched separately and in
// parallel.
//
// The semantics are Jepsen's:
//   - a fail operation certainly had no effect: it is left out;
//   - an info operation, or an invocation that never completed, may take
//     effect at any time after its invocation, or never: it is searched
//     with an unknown result and a return time after every other event (a
//     CAS with unknown outcome swaps if the register holds old, and is
//     accepted unchanged otherwise). A read with unknown outcome carries no
//     information and is left out. Exact reductions spare the search
//     most of the work (see linReduce): among others, a write of unknown
//     outcome whose value nobody observes is left out, one whose value a
//     later operation needs must return before it, and the values nobody
//     observes are one state of the search;
//   - real time is the order of the history (the history index), which is
//     the order the controller observed the events in.
//
// The verdict is Valid only when every key was searched to the end and
// found linearizable. A key whose operations the model cannot interpret,
// the time limit or a cancelled context give Unknown with the undecided
// keys named in Result.Reason (a non-linearizable key still makes the
// result Invalid). Each non-linearizable key gives one anomaly of kind
// KindNonLinearizable; see Check for how its witnesses are chosen.
type Linearizable struct {
	// Model is the sequential specification of every key. The zero value
	// means ModelCASRegister.
	Model Model
	// TimeLimit bounds the whole check (0: no limit). Keys not decided in
	// time make the verdict Unknown.
	TimeLimit time.Duration
	// VisualizeDir, when not empty, is where porcupine's HTML
	// visualization of every non-linearizable key is written, as
	// "linearizable-<sanitized key>.html". Result.Artifacts lists the
	// files by name, relative to VisualizeDir (the run's output
	// directory). A key of more than LinVisualizeMax operations is shown
	// as a window of at most LinVisualizeMax operations ending at its
	// first failure, and the page says so (see linKey.visualizeBounded).
	VisualizeDir string
}

// Name returns "linearizable".
func (l Linearizable) Name() string { return "linearizable" }

// linKeyResult is the outcome of one key.
type linKeyResult struct {
	verdict   Verdict
	undecided bool   // stopped: time limit, context, or grace after Invalid
	reason    string // why the key is Unknown
	anomaly   *Anomaly
	artifact  string
	note      string // a problem worth reporting that does not change the verdict
	searched  int
	known     int // operations of known outcome (ok) the model interpreted
}

// linMaxListed caps the keys and reasons a Reason enumerates.
const linMaxListed = 10

// Check judges h. Counts: "ops" (client operations), "ops_searched"
// (operations given to the search: without failed operations, reads of
// unknown outcome and the operations the exact reductions of linReduce
// show cannot matter), "keys", "keys_invalid" and "keys_unknown".
//
// Keys are searched in parallel, largest first. Once one key is found
// non-linearizable the verdict is decided (Invalid); the keys still being
// searched then get 5 more seconds (porcupine can take exponential time
// and memory on a hard key), and those not decided by then count in
// keys_unknown and are named in Reason.
//
// Witnesses of a non-linearizable key are chosen from porcupine's partial
// linearizations. P is the longest one (ties broken by the smallest
// sequence of operation ids, so the choice is deterministic); it leaves the
// object in some state S. X is the operation, not in P, with the earliest
// return: the search had to place X next and could not, from S or after
// any of the operations that could still precede it. The anomaly's Ops are
// the invoke and completion indexes of:
//   - the tail of P: its last 6 operations, or, when the operation that
//     set S (the last in P to change the state) is not among them, that
//     operation and the last 5 (all of P when it is that short);
//   - X;
//   - up to 8 of the other unplaced operations invoked before X returned
//     (those with known outcome first, then the most recent of unknown
//     outcome): the operations that could have been placed before X.
func (l Linearizable) Check(ctx context.Context, h *history.History) Result {
	name := l.Name()
	if h == nil {
		return unknown(name, "no history")
	}
	model := l.Model
	if model == "" {
		model = ModelCASRegister
	}
	if !model.valid() {
		return unknown(name, fmt.Sprintf("unknown linearizability model %q (want %q, %q or %q)", model, ModelRegister, ModelCASRegister, ModelKV))
	}
	if err := ctx.Err(); err != nil {
		return unknown(name, "not checked: "+err.Error())
	}
	pairs, err := h.Pairs()
	if err != nil {
		return unknown(name, "malformed history: "+err.Error())
	}

	// Partition the operations by key. Each worker interprets the
	// operations of its key.
	slot := make(map[string]int)
	var keys []string
	var groups [][]int32
	for i, p := range pairs {
		key := h.Ops[p.Invoke].Key
		s, ok := slot[key]
		if !ok {
			s = len(keys)
			slot[key] = s
			keys = append(keys, key)
			groups = append(groups, nil)
		}
		groups[s] = append(groups[s], int32(i))
	}

	res := Result{Checker: name, Verdict: Valid}
	res.Count("ops", int64(len(pairs)))
	res.Count("keys", int64(len(keys)))
	res.Count("keys_invalid", 0)
	res.Count("keys_unknown", 0)
	if len(keys) == 0 {
		res.Verdict = Unknown
		res.Reason = "the history has no client operations, so nothing was checked"
		return res
	}

	// stop makes every search unwind: the time limit, the context, or the
	// grace period after the verdict was decided.
	var stop, timedOut, graceOver atomic.Bool
	watchDone := make(chan struct{})
	defer close(watchDone)
	var limit <-chan time.Time
	if l.TimeLimit > 0 {
		t := time.NewTimer(l.TimeLimit)
		defer t.Stop()
		limit = t.C
	}
	decided := make(chan struct{})
	var decidedOnce sync.Once
	onInvalid := func() { decidedOnce.Do(func() { close(decided) }) }
	go func() {
		var grace <-chan time.Time
		dec := decided
		for {
			select {
			case <-ctx.Done():
				stop.Store(true)
				return
			case <-limit:
				timedOut.Store(true)
				stop.Store(true)
				return
			case <-dec:
				dec = nil
				t := time.NewTimer(linDecidedGrace)
				defer t.Stop()
				grace = t.C
			case <-grace:
				graceOver.Store(true)
				stop.Store(true)
				return
			case <-watchDone:
				return
			}
		}
	}()

	// Largest keys first, so that the workers finish together.
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		ga, gb := len(groups[order[a]]), len(groups[order[b]])
		if ga != gb {
			return ga > gb
		}
		return keys[order[a]] < keys[order[b]]
	})
	results := make([]linKeyResult, len(keys))
	var vizMu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(keys)) {
		wg.Go(func() {
			for {
				n := int(next.Add(1) - 1)
				if n >= len(order) {
					return
				}
				s := order[n]
				if stop.Load() {
					results[s] = linKeyResult{verdict: Unknown, undecided: true}
					continue
				}
				results[s] = l.checkKey(model, keys[s], h, pairs, groups[s], &stop, onInvalid, &vizMu)
			}
		})
	}
	wg.Wait()
	return l.assemble(ctx, res, model, keys, results, &timedOut, &graceOver)
}

// assemble completes res (made with the "ops" and "keys" counts) from the
// result of every key, results[i] being that of keys[i]: the anomalies in
// key order, the counts, the reason and the verdict. timedOut and
// graceOver say why undecided keys were stopped. It is shared by Check
// and the one-key-at-a-time check of KeyCheck, so that both give the same
// Result.
func (l Linearizable) assemble(ctx context.Context, res Result, model Model, keys []string, results []linKeyResult, timedOut, graceOver *atomic.Bool) Result {
	// Assemble, in key order.
	byName := make([]int, len(keys))
	for i := range byName {
		byName[i] = i
	}
	sort.Slice(byName, func(a, b int) bool { return keys[byName[a]] < keys[byName[b]] })
	var undecided, uninterpretable, notes []string // uninterpretable: or otherwise unchecked
	var searched, known int64
	for _, s := range byName {
		r := &results[s]
		searched += int64(r.searched)
		known += int64(r.known)
		switch r.verdict {
		case Invalid:
			res.Count("keys_invalid", 1)
			res.AddAnomaly(*r.anomaly)
			if r.artifact != "" {
				res.Artifacts = append(res.Artifacts, r.artifact)
			}
		case Unknown:
			res.Count("keys_unknown", 1)
			if r.undecided {
				undecided = append(undecided, history.Quote(keys[s]))
			} else {
				uninterpretable = append(uninterpretable, r.reason)
			}
		}
		if r.note != "" {
			notes = append(notes, r.note)
		}
	}
	res.Count("ops_searched", searched)

	var reasons []string
	if len(undecided) > 0 {
		var why string
		switch {
		case timedOut.Load():
			why = fmt.Sprintf("the time limit of %s ran out", l.TimeLimit)
		case graceOver.Load():
			why = fmt.Sprintf("the history is non-linearizable, and the search of the other keys was stopped %s after that was found", linDecidedGrace)
		default:
			why = "the check was cancelled (" + linErrText(ctx.Err()) + ")"
		}
		reasons = append(reasons, fmt.Sprintf("%s: %d of %d keys not decided: %s", why, len(undecided), len(keys), linList(undecided)))
	}
	if len(uninterpretable) > 0 {
		reasons = append(reasons, fmt.Sprintf("%d keys could not be checked with the %s model: %s", len(uninterpretable), model, linList(uninterpretable)))
	}
	if len(notes) > 0 {
		reasons = append(reasons, linList(notes))
	}
	res.Reason = strings.Join(reasons, "; ")
	if res.Verdict != Invalid && (len(undecided) > 0 || len(uninterpretable) > 0) {
		res.Verdict = Unknown
	}
	if res.Verdict == Valid && known == 0 {
		res.Verdict = Unknown
		res.Reason = strings.Join(append(reasons, "no client operation has a known effect (all failed, or were reads of unknown outcome), so nothing was checked"), "; ")
	}
	return res
}

// linErrText renders a possibly nil error.
func linErrText(err error) string {
	if err == nil {
		return "stopped"
	}
	return err.Error()
}

// linList joins items, keeping at most linMaxListed of them.
func linList(items []string) string {
	if len(items) <= linMaxListed {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:linMaxListed], ", ") + fmt.Sprintf(" and %d more", len(items)-linMaxListed)
}

// checkKey decides one key.
//
// vizMu serialises the visualizations: each holds porcupine's rendering of
// the whole key in memory (hundreds of megabytes on a long run), and two
// at once would double the checker's peak.
func (l Linearizable) checkKey(model Model, key string, h *history.History, pairs []history.Pair, idx []int32, stop *atomic.Bool, onInvalid func(), vizMu *sync.Mutex) (r linKeyResult) {
	defer func() {
		if p := recover(); p != nil {
			r = linKeyResult{verdict: Unknown, reason: fmt.Sprintf("key %s: internal error: %v", history.Quote(key), p)}
		}
	}()
	ops := make([]linOp, 0, len(idx))
	for _, i := range idx {
		var o linOp
		keep, err := model.interpretPair(h, pairs[i], &o)
		if err != nil {
			return linKeyResult{verdict: Unknown, reason: fmt.Sprintf("key %s: %v", history.Quote(key), err)}
		}
		if keep {
			ops = append(ops, o)
			if !o.unknown {
				r.known++
			}
		}
	}
	k := buildLinKey(model, key, ops)
	r.searched = len(k.ops)
	// A refutation without a search (linKey.refute) decides the verdict;
	// otherwise the search does.
	var static *Anomaly
	if model != ModelKV {
		if a, refuted := k.refute(); refuted {
			static = &a
		}
	}
	if static == nil {
		if len(k.ops) == 0 || k.check(stop) {
			r.verdict = Valid
			return r
		}
		if stop.Load() {
			r.verdict, r.undecided = Unknown, true
			return r
		}
	}
	// Not linearizable. Search again with porcupine, keeping the partial
	// linearizations that name the witnesses (and make the
	// visualization). A stop during this second search leaves fewer of
	// them, but the verdict is already decided.
	onInvalid()
	if static != nil && l.VisualizeDir == "" {
		r.verdict, r.anomaly = Invalid, static
		return r
	}
	linearizable, w := k.checkVerbose(stop)
	if linearizable {
		return linKeyResult{verdict: Unknown, searched: len(k.ops), known: r.known, reason: fmt.Sprintf("key %s: the checker found it non-linearizable and porcupine linearizable", history.Quote(key))}
	}
	a := linWitness(k, w.partials, stop.Load())
	if static != nil {
		a = *static
	}
	r.verdict, r.anomaly = Invalid, &a
	if l.VisualizeDir != "" {
		file := VisualizationFile(key)
		err := os.MkdirAll(l.VisualizeDir, 0o755)
		var skipped string
		if err == nil {
			vizMu.Lock()
			skipped, err = k.visualizeBounded(w, filepath.Join(l.VisualizeDir, file))
			vizMu.Unlock()
		}
		switch {
		case err != nil:
			r.note = fmt.Sprintf("could not write the visualization of key %s: %v", history.Quote(key), err)
		case skipped != "":
			r.note = fmt.Sprintf("no visualization of key %s: %s", history.Quote(key), skipped)
		default:
			r.artifact = file
		}
	}
	return r
}

// linDecidedGrace is how long the keys still being searched may run once a
// key is found non-linearizable: the verdict is then decided, and
// porcupine can take exponential time and memory on a hard key. Keys not
// decided by then count as unknown and are named in the Reason.
const linDecidedGrace = 5 * time.Second

// Witness selection limits.
const (
	linMaxTail       = 6 // operations of the prefix: the state setter and the last ones
	linMaxCandidates = 8 // unplaced operations listed besides the stuck one
	linMaxStateChars = 80
)

// linWitness builds the anomaly of a non-linearizable key from porcupine's
// partial linearizations (ids into k.ops). See Linearizable.Check.
//
// cut says that the witness search was stopped before it finished: the
// prefix is then only the longest found, and the message says so.
func linWitness(k *linKey, partials [][]int, cut bool) Anomaly {
	prefix, placed, stuck := linFirstFailure(k, partials)
	state, setter, _ := k.replay(prefix)

	// The other unplaced operations invoked before X returned.
	var known, unknownOps []int
	if stuck >= 0 {
		for id := range k.ops {
			if placed[id] || id == stuck || k.ops[id].call > k.ops[stuck].ret {
				continue
			}
			if k.ops[id].unknown {
				unknownOps = append(unknownOps, id)
			} else {
				known = append(known, id)
			}
		}
	}
	slices.Reverse(unknownOps) // most recent first
	candidates := append(known, unknownOps...)
	nCandidates := len(candidates)
	if len(candidates) > linMaxCandidates {
		candidates = candidates[:linMaxCandidates]
	}

	// The tail of P.
	var tail []int
	switch {
	case len(prefix) <= linMaxTail:
		tail = prefix
	case setter >= 0 && setter < len(prefix)-linMaxTail+1:
		tail = append([]int{prefix[setter]}, prefix[len(prefix)-linMaxTail+1:]...)
	default:
		tail = prefix[len(prefix)-linMaxTail:]
	}

	var ops []int
	add := func(id int) {
		o := &k.ops[id]
		ops = append(ops, o.invoke)
		if !o.open {
			ops = append(ops, o.complete)
		}
	}
	for _, id := range tail {
		add(id)
	}
	if stuck >= 0 {
		add(stuck)
	}
	for _, id := range candidates {
		add(id)
	}
	slices.Sort(ops)
	ops = slices.Compact(ops)

	var b strings.Builder
	fmt.Fprintf(&b, "no order of the %d operations on key %s is consistent with %s: ", len(k.ops), history.Quote(k.key), k.model.describeObject())
	switch {
	case cut:
		fmt.Fprintf(&b, "(the search for witnesses was stopped before it finished) the longest linearizable prefix found has %d of them and leaves the state at %s", len(prefix), linClip(state))
		if setter >= 0 {
			fmt.Fprintf(&b, " (set by the %s)", k.ops[prefix[setter]].describe())
		}
		if stuck >= 0 {
			fmt.Fprintf(&b, "; the search was trying to place the %s", k.ops[stuck].describe())
		}
		return Anomaly{Kind: KindNonLinearizable, Key: k.key, Ops: ops, Message: b.String()}
	case len(prefix) == 0:
		fmt.Fprintf(&b, "not even a first operation can be placed from the initial state %s", linClip(state))
	default:
		fmt.Fprintf(&b, "the longest linearizable prefix has %d of them, ends with the %s and leaves the state at %s", len(prefix), k.ops[prefix[len(prefix)-1]].describe(), linClip(state))
		if setter >= 0 {
			fmt.Fprintf(&b, " (set by the %s)", k.ops[prefix[setter]].describe())
		} else {
			b.WriteString(" (the initial state)")
		}
	}
	if stuck < 0 {
		b.WriteString("; porcupine named no operation that cannot be placed")
		return Anomaly{Kind: KindNonLinearizable, Key: k.key, Ops: ops, Message: b.String()}
	}
	fmt.Fprintf(&b, "; after it, the %s cannot be placed", k.ops[stuck].describe())
	if nCandidates == 0 {
		b.WriteString(", and no other operation was invoked before it returned")
	} else {
		descs := make([]string, len(candidates))
		for n, id := range candidates {
			descs[n] = k.ops[id].describe()
		}
		more := ""
		if nCandidates > len(candidates) {
			more = fmt.Sprintf(" and %d more", nCandidates-len(candidates))
		}
		if nCandidates == 1 {
			fmt.Fprintf(&b, ", with or without the other operation invoked before it returned (the %s) placed before it", descs[0])
		} else {
			fmt.Fprintf(&b, ", whichever of the %d other operations invoked before it returned (%s%s) are placed before it", nCandidates, strings.Join(descs, ", "), more)
		}
	}
	return Anomaly{Kind: KindNonLinearizable, Key: k.key, Ops: ops, Message: b.String()}
}

// linFirstFailure returns P, porcupine's longest partial linearization
// (the smallest sequence of ids on ties, so the choice is deterministic),
// which ids it placed, and X, the operation not in P with the earliest
// return (-1 when every operation is in P).
func linFirstFailure(k *linKey, partials [][]int) (prefix []int, placed []bool, stuck int) {
	for _, p := range partials {
		if len(p) > len(prefix) || (len(p) == len(prefix) && slices.Compare(p, prefix) < 0) {
			prefix = p
		}
	}
	placed = make([]bool, len(k.ops))
	for _, id := range prefix {
		if id >= 0 && id < len(placed) {
			placed[id] = true
		}
	}
	stuck = -1
	for id := range k.ops {
		if placed[id] {
			continue
		}
		if stuck < 0 || k.ops[id].ret < k.ops[stuck].ret || (k.ops[id].ret == k.ops[stuck].ret && k.ops[id].call < k.ops[stuck].call) {
			stuck = id
		}
	}
	return prefix, placed, stuck
}

// linClip shortens a state description for a message.
func linClip(s string) string {
	if len(s) <= linMaxStateChars {
		return s
	}
	return s[:linMaxStateChars] + "…"
}

// VisualizationFile is the name of the visualization file the
// Linearizable checker writes for key: "linearizable-<key>.html" with
// every character outside [A-Za-z0-9._-] replaced by '_'. When the key had
// to be changed, is empty (the register of a single-register history) or
// is long, the FNV-1a hash of the original key is appended
// ("linearizable-a_b-1a2b3c4d.html"), so that distinct keys never share a
// file.
func VisualizationFile(key string) string {
	var b strings.Builder
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s != key || key == "" || len(s) > 64 {
		if len(s) > 64 {
			s = s[:64]
		}
		f := fnv.New32a()
		f.Write([]byte(key))
		s = fmt.Sprintf("%s-%08x", s, f.Sum32())
	}
	return "linearizable-" + s + ".html"
}
