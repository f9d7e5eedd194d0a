package elle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
)

// DefaultCycleSearchSteps bounds the cycle search of one strongly
// connected component (edge visits); Elle bounds it by time (1 s). A
// search that runs out reports cycle-search-timeout, which makes the
// verdict unknown unless an anomaly proves invalid.
const DefaultCycleSearchSteps = 200_000_000

// maxDrawings bounds the SVG drawings written per anomaly type.
const maxDrawings = 10

// maxListed bounds the transactions an anomaly about a whole component
// (cycle-exists, cycle-search-timeout) lists as witnesses.
const maxListed = 100

// Checker is Elle's list-append or rw-register checker.
type Checker struct {
	opts Options
	// prohibited: anomaly types that make the history invalid;
	// reportable: those and the types that make it unknown.
	prohibited, reportable map[string]bool
	needRealtime, needProc bool
	err                    error
}

// New returns the checker for opts.Workload. Options that Elle would
// refuse (an unknown model or anomaly) make every Check unknown, with the
// reason; use ValidateOptions to refuse them before a run.
func New(opts Options) checkers.Checker {
	c := &Checker{opts: opts, err: ValidateOptions(opts)}
	models := opts.ConsistencyModels
	if len(models) == 0 && len(opts.Anomalies) == 0 {
		models = []string{"strict-serializable"}
	}
	c.prohibited = allAnomaliesImplying(opts.Anomalies)
	for a := range anomaliesProhibitedBy(models) {
		c.prohibited[a] = true
	}
	c.reportable = make(map[string]bool)
	for a := range c.prohibited {
		c.reportable[a] = true
	}
	c.reportable["empty-transaction-graph"] = true
	c.reportable["cycle-search-timeout"] = true
	for a := range c.reportable {
		if cycleTypes[a] && strings.HasSuffix(a, "-realtime") {
			c.needRealtime = true
		}
		if cycleTypes[a] && strings.HasSuffix(a, "-process") {
			c.needProc = true
		}
	}
	return c
}

// Name is elle-list-append or elle-rw-register.
func (c *Checker) Name() string { return "elle-" + string(c.opts.Workload) }

// Check judges h. The verdict follows Elle's result map: invalid when an
// anomaly the requested models (or anomalies) prohibit is present;
// unknown when only empty-transaction-graph or cycle-search-timeout is;
// valid otherwise. Reason lists the models ruled out (Elle's :not and
// :also-not) and anomalies found that the request does not prohibit.
func (c *Checker) Check(ctx context.Context, h *history.History) checkers.Result {
	res := checkers.Result{Checker: c.Name(), Verdict: checkers.Unknown}
	if c.err != nil {
		res.Reason = c.err.Error()
		return res
	}
	t, err := parseTxns(h, c.opts.Workload)
	if err != nil {
		res.Reason = "not a " + string(c.opts.Workload) + " history: " + err.Error()
		return res
	}
	res.Count("transactions", int64(len(t.ts)))
	res.Count("keys", int64(len(t.keys)))
	for i := range t.ts {
		res.Count("txns-"+t.ts[i].typ.String(), 1)
	}
	f := newFindings()
	eb := edgeBuf{es: make([]edge, 0, 3*len(t.keyRefs)+len(t.ts))}
	var explain func(a, b int32, r rel, an, bn string) string
	switch c.opts.Workload {
	case ListAppend:
		err = analyzeListAppend(t, &eb, f)
		explain = func(a, b int32, r rel, an, bn string) string { return explainLA(t, a, b, r, an, bn) }
	case RWRegister:
		var rw *rwAnalysis
		rw, err = analyzeRWRegister(t, c.opts, &eb, f)
		explain = func(a, b int32, r rel, an, bn string) string { return rw.explain(a, b, r, an, bn) }
	}
	if err != nil {
		res.Reason = "cannot check: " + err.Error()
		return res
	}
	if err := ctx.Err(); err != nil {
		res.Reason = "cancelled: " + err.Error()
		return res
	}
	// Real-time order covers process order (a process runs one
	// transaction at a time), so Elle adds only one of them.
	switch {
	case c.needRealtime:
		realtimeEdges(t, &eb)
	case c.needProc:
		processEdges(t, &eb)
	}
	g := eb.build(len(t.ts))
	res.Count("edges", int64(g.edgeCount()))
	if g.edgeCount() == 0 {
		f.flag("empty-transaction-graph", "no transaction's effects were observed by another: the dependency graph has no edges, so nothing about isolation was decided")
	}
	comps := g.sccs(nil, relWW|relWR|relRW|relProcess|relRealtime, nil)
	res.Count("sccs", int64(len(comps)))
	steps := c.opts.CycleSearchSteps
	if steps <= 0 {
		steps = DefaultCycleSearchSteps
	}
	s := &searcher{ctx: ctx, g: g, in: make([]bool, g.n), seen: make([]uint32, g.n), comp: make([]int32, g.n), order: laOrder}
	if c.opts.Workload == RWRegister {
		s.order = rwOrder
	}
	var cycles []*cycle
	for _, comp := range comps {
		if err := ctx.Err(); err != nil {
			res.Reason = "cancelled during the cycle search: " + err.Error()
			return res
		}
		s.budget = steps
		r := s.searchSCC(comp)
		for _, e := range r.exists {
			e := e
			ops := e.scc
			listed := ""
			if len(ops) > maxListed {
				ops = ops[:maxListed]
				listed = fmt.Sprintf(" (the first %d are listed)", maxListed)
			}
			f.add(e.typ, "", ops, func() string {
				return fmt.Sprintf("a cycle that %s forbids exists among %d transactions%s, a strongly connected component of the dependency graph; no specific cycle was named for it", e.not, len(e.scc), listed)
			})
		}
		cycles = append(cycles, r.cycles...)
		if r.timeout != nil {
			to := r.timeout
			if ctx.Err() != nil {
				res.Reason = "cancelled during the cycle search: " + ctx.Err().Error()
				return res
			}
			f.add("cycle-search-timeout", "", comp[:min(len(comp), maxListed)], func() string {
				return fmt.Sprintf("the search for %s in a strongly connected component of %d transactions ran out of its budget (%d steps); stronger anomalies were searched first", to.specType, to.sccSize, steps)
			})
			if to.fallback != nil {
				cycles = append(cycles, to.fallback)
			}
		}
	}
	drawn := make(map[string]int)
	for _, cy := range cycles {
		kind := cy.classify()
		cy := cy
		f.add(kind, "", cy.txns, func() string { return explainCycle(t, cy, kind, explain) })
		if c.opts.OutDir != "" && drawn[kind] < maxDrawings && f.count[kind] <= checkers.MaxAnomalies {
			drawn[kind]++
			name := filepath.Join("elle", fmt.Sprintf("%s-%d.svg", kind, drawn[kind]))
			if err := writeSVG(filepath.Join(c.opts.OutDir, name), t, cy, kind); err == nil {
				res.Artifacts = append(res.Artifacts, name)
			}
		}
	}
	c.result(&res, t, f)
	return res
}

// result fills res from the findings, as Elle's result-map.
func (c *Checker) result(res *checkers.Result, t *txns, f *findings) {
	found := f.kinds()
	rep := make(map[string]bool)
	for _, k := range found {
		if c.reportable[k] {
			rep[k] = true
		}
	}
	// Drop cycle-exists cases that the other reportable anomalies make
	// redundant (they rule out the model already).
	var others []string
	for k := range rep {
		if !strings.HasSuffix(k, "-cycle-exists") {
			others = append(others, k)
		}
	}
	imp := anomaliesToImpossibleModels(others)
	for _, es := range existsSpecs {
		if imp[es.model] {
			delete(rep, es.model+"-cycle-exists")
		}
	}
	not, alsoNot, _ := boundary(found)
	notRuledOut := possibleMainModels(found)
	var notes []string
	var named []string
	for _, k := range found {
		if !strings.HasSuffix(k, "-cycle-exists") {
			named = append(named, k)
		}
	}
	impNamed := anomaliesToImpossibleModels(named)
	var extra, redundant []string
	for _, k := range found {
		switch {
		case rep[k]:
		case c.reportable[k], strings.HasSuffix(k, "-cycle-exists") && impNamed[strings.TrimSuffix(k, "-cycle-exists")]:
			redundant = append(redundant, k)
		default:
			extra = append(extra, fmt.Sprintf("%s (%d)", k, f.count[k]))
		}
	}
	sort.Strings(extra)
	if len(rep) == 0 {
		res.Verdict = checkers.Valid
		notes = append(notes, "no anomaly that "+c.asked()+" prohibits")
		if len(notRuledOut) > 0 {
			notes = append(notes, "not ruled out: "+strings.Join(notRuledOut, ", "))
		}
		if len(extra) > 0 {
			notes = append(notes, "also found, not prohibited by "+c.asked()+": "+strings.Join(extra, ", "))
		}
		res.Reason = strings.Join(notes, "; ")
		return
	}
	kinds := make([]string, 0, len(rep))
	for k := range rep {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	bad := false
	for _, k := range kinds {
		if c.prohibited[k] {
			bad = true
		}
		for _, fd := range f.byKind[k] {
			res.Anomalies = append(res.Anomalies, toAnomaly(t, fd))
		}
		if res.AnomalyCounts == nil {
			res.AnomalyCounts = make(map[string]int)
		}
		res.AnomalyCounts[k] = f.count[k]
	}
	if bad {
		res.Verdict = checkers.Invalid
	} else {
		res.Verdict = checkers.Unknown
	}
	notes = append(notes, "anomaly types: "+strings.Join(kinds, ", "))
	if len(not) > 0 {
		notes = append(notes, "not "+strings.Join(not, ", "))
	}
	if len(alsoNot) > 0 {
		notes = append(notes, "also not "+strings.Join(alsoNot, ", "))
	}
	if len(notRuledOut) > 0 {
		notes = append(notes, "not ruled out: "+strings.Join(notRuledOut, ", "))
	}
	if len(extra) > 0 {
		notes = append(notes, "also found, not prohibited by "+c.asked()+": "+strings.Join(extra, ", "))
	}
	if len(redundant) > 0 {
		sort.Strings(redundant)
		notes = append(notes, "left out as implied by the cycles named: "+strings.Join(redundant, ", "))
	}
	res.Reason = strings.Join(notes, "; ")
}

// mainModels are the levels of Elle's hierarchy a reader looks for first,
// strongest first.
var mainModels = []string{
	"strict-serializable", "serializable", "strong-snapshot-isolation", "strong-session-snapshot-isolation",
	"snapshot-isolation", "repeatable-read", "strong-read-committed", "strong-session-read-committed",
	"read-committed", "read-uncommitted",
}

// possibleMainModels lists the main levels that the anomalies found do
// not rule out (which is not to say the history proves them).
func possibleMainModels(found []string) []string {
	imp := anomaliesToImpossibleModels(found)
	var out []string
	for _, m := range mainModels {
		if !imp[canonicalModel(m)] {
			out = append(out, m)
		}
	}
	return out
}

// asked names what the check was asked for.
func (c *Checker) asked() string {
	var parts []string
	ms := c.opts.ConsistencyModels
	if len(ms) == 0 && len(c.opts.Anomalies) == 0 {
		ms = []string{"strict-serializable"}
	}
	if len(ms) > 0 {
		parts = append(parts, strings.Join(ms, ", "))
	}
	if len(c.opts.Anomalies) > 0 {
		parts = append(parts, "anomalies "+strings.Join(c.opts.Anomalies, ", "))
	}
	return strings.Join(parts, " and ")
}

// Boundary returns, for the anomaly types of a result, the weakest
// consistency models they rule out, the stronger ones also ruled out, and
// the models of Elle's hierarchy that stay possible.
func Boundary(anomalyTypes []string) (not, alsoNot, possible []string) {
	return boundary(anomalyTypes)
}

func toAnomaly(t *txns, fd finding) checkers.Anomaly {
	ops := make([]int, 0, len(fd.txns))
	for _, i := range fd.txns {
		ops = append(ops, int(t.ts[i].op))
	}
	slices.Sort(ops)
	ops = slices.Compact(ops)
	return checkers.Anomaly{Kind: fd.kind, Key: fd.key, Ops: ops, Message: fd.msg}
}

// processEdges orders the committed transactions of each process (Elle's
// process graph: ok operations only).
func processEdges(t *txns, eb *edgeBuf) {
	last := make(map[history.Process]int32)
	order := make([]int32, 0, len(t.ts))
	for i := range t.ts {
		if t.ts[i].typ == history.OK {
			order = append(order, int32(i))
		}
	}
	slices.SortFunc(order, func(a, b int32) int { return int(t.ts[a].op - t.ts[b].op) })
	for _, i := range order {
		p := t.ts[i].proc
		if prev, ok := last[p]; ok {
			eb.add(prev, i, relProcess)
		}
		last[p] = i
	}
}

// realtimeEdges adds a transitive reduction of real-time order (Elle's
// realtime graph): every committed transaction precedes each transaction
// invoked after it completed. An invocation the importer synthesized
// (Elle's completions-only histories) has no real-time predecessors. A frontier holds the committed transactions
// not yet implied by a later one; each invocation is linked from the
// whole frontier, and a completion removes from it the transactions that
// were linked to it.
func realtimeEdges(t *txns, eb *edgeBuf) {
	var frontier []int32
	// The frontier each transaction was linked from, kept in one arena:
	// predOff/predLen per transaction (predLen -1: none).
	var arena []int32
	predOff := make([]int32, len(t.ts))
	predLen := make([]int32, len(t.ts))
	h := t.h
	for i := range h.Ops {
		ti := t.byOp[i]
		if ti < 0 {
			continue
		}
		tx := &t.ts[ti]
		switch {
		case int32(i) == tx.inv && tx.synth:
			// No invocation in the input: nothing is known to precede
			// it (as in Elle, which sees the completion only).
		case int32(i) == tx.inv:
			predOff[ti], predLen[ti] = int32(len(arena)), int32(len(frontier))
			arena = append(arena, frontier...)
			for _, p := range frontier {
				eb.add(p, ti, relRealtime)
			}
		case int32(i) == tx.op && tx.typ == history.OK:
			if n := predLen[ti]; n > 0 {
				ps := arena[predOff[ti] : predOff[ti]+n]
				frontier = slices.DeleteFunc(frontier, func(x int32) bool { return slices.Contains(ps, x) })
			}
			frontier = append(frontier, ti)
		}
	}
}

// ensureDir makes the directory of path.
func ensureDir(path string) error {
	return os.MkdirAll(filepath.Dir(path), 0o755)
}
