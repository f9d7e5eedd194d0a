package elle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// cycle is a cycle of the dependency graph: txns[i] precedes
// txns[(i+1)%n] by steps[i].
type cycle struct {
	txns  []int32
	steps []rel
}

// classify names a cycle as Elle's cycle explainer does, by the
// relationships of its steps: one rw edge is G-single-item, several with
// none adjacent (cyclically) G-nonadjacent-item, several with two
// adjacent G2-item; without rw, G1c when a wr edge is in it, else G0; and
// -realtime when a step is real-time order, else -process when one is
// process order.
func (c *cycle) classify() string {
	var ww, wr, rw, proc, rt int
	adj := false
	n := len(c.steps)
	for i, s := range c.steps {
		switch s {
		case relWW:
			ww++
		case relWR:
			wr++
		case relRW:
			rw++
			if n > 1 && c.steps[(i+1)%n] == relRW {
				adj = true
			}
		case relProcess:
			proc++
		case relRealtime:
			rt++
		}
	}
	var base string
	switch {
	case rw == 1:
		base = "G-single-item"
	case rw > 1 && adj:
		base = "G2-item"
	case rw > 1:
		base = "G-nonadjacent-item"
	case wr > 0:
		base = "G1c"
	default:
		base = "G0"
	}
	switch {
	case rt > 0:
		return base + "-realtime"
	case proc > 0:
		return base + "-process"
	}
	return base
}

// spec is Elle's specification of a cycle anomaly (elle.txn's
// cycle-anomaly-specs): free relationships usable anywhere; a special
// relationship (rw) that must occur exactly once (single), at least twice
// (multiple), or at least twice and never on two adjacent steps
// (nonadjacent); and required relationships that must each occur.
type spec struct {
	name     string
	free     rel
	special  rel
	mode     int
	required []rel
}

const (
	modeNone = iota
	modeSingle
	modeMultiple
	modeNonadjacent
)

// cycleSpecs are Elle's cycle anomaly specs without predicates (our
// histories have none: G-single, G-nonadjacent and G2 proper need
// predicate edges, and a search for them would find only the -item forms,
// which Elle then discards), with their -process and -realtime variants.
var cycleSpecs = func() []spec {
	base := []spec{
		{name: "G0", free: relWW},
		{name: "G1c", free: relWW | relWR, required: []rel{relWR}},
		{name: "G-single-item", free: relWW | relWR, special: relRW, mode: modeSingle},
		{name: "G-nonadjacent-item", free: relWW | relWR, special: relRW, mode: modeNonadjacent},
		{name: "G2-item", free: relWW | relWR, special: relRW, mode: modeMultiple},
	}
	var out []spec
	for _, s := range base {
		out = append(out, s)
		for _, v := range []struct {
			suffix string
			r      rel
		}{{"-process", relProcess}, {"-realtime", relRealtime}} {
			sv := s
			sv.name = s.name + v.suffix
			sv.free |= v.r
			sv.required = append(slices.Clone(s.required), v.r)
			out = append(out, sv)
		}
	}
	slices.SortStableFunc(out, func(a, b spec) int {
		if da, db := anomalyDepth[a.name], anomalyDepth[b.name]; da != db {
			return da - db
		}
		return strings.Compare(a.name, b.name)
	})
	return out
}()

var cycleTypes = func() map[string]bool {
	m := make(map[string]bool)
	for _, s := range cycleSpecs {
		m[s.name] = true
	}
	for _, b := range []string{"G-single", "G-nonadjacent", "G2"} {
		for _, v := range []string{"", "-process", "-realtime"} {
			m[b+v] = true
		}
	}
	return m
}()

// existsSpec is one of Elle's cycle-exists-specs: a model and the
// subgraph that must be acyclic for it to hold; ext, when not zero, is
// the relationship of a sequential extension (base edges, optionally
// followed by one ext edge).
type existsSpec struct {
	model string
	base  rel
	ext   rel
}

var existsSpecs = []existsSpec{
	{"PL-1", relWW, 0},
	{"PL-2", relWW | relWR, 0},
	{"PL-SI", relWW | relWR, relRW},
	{"PL-3", relWW | relWR | relRW, 0},
	{"strong-session-PL-1", relWW | relProcess, 0},
	{"strong-session-PL-2", relWW | relWR | relProcess, 0},
	{"strong-session-snapshot-isolation", relWW | relWR | relProcess, relRW},
	{"strong-session-serializable", relWW | relWR | relRW | relProcess, 0},
	{"strong-PL-1", relWW | relRealtime, 0},
	{"strong-PL-2", relWW | relWR | relRealtime, 0},
	{"strong-snapshot-isolation", relWW | relWR | relRealtime, relRW},
	{"PL-SS", relWW | relWR | relRW | relRealtime, 0},
}

// errBudget: the search of one component ran out of its step budget.
var errBudget = errors.New("cycle search budget exhausted")

// searcher finds cycles in one strongly connected component.
type searcher struct {
	ctx    context.Context
	g      *graph
	in     []bool   // membership of the component (shared, set and cleared by the caller)
	seen   []uint32 // per vertex, the BFS states visited
	touch  []int32
	budget int64 // steps left
	comp   []int32
	// order is the order in which a step's relationships explain it (the
	// workload's explainers, as Elle combines them): a found cycle is
	// relabelled by it and classified by those labels.
	order []rel
}

// relsOf returns the relationships of the edge a -> b (0: none).
func (g *graph) relsOf(a, b int32) rel {
	lo, hi := g.off[a], g.off[a+1]
	i, ok := slices.BinarySearch(g.to[lo:hi], b)
	if !ok {
		return 0
	}
	return g.rels[lo+int32(i)]
}

// relabel sets each step of c to the first relationship of its edge in
// s.order, as Elle's explainer names it.
func (s *searcher) relabel(c *cycle) {
	n := len(c.txns)
	for i := range c.steps {
		r := s.g.relsOf(c.txns[i], c.txns[(i+1)%n])
		for _, x := range s.order {
			if r&x != 0 {
				c.steps[i] = x
				break
			}
		}
	}
}

// Explanation orders of the two workloads (elle.list-append combines ww,
// wr, rw; elle.rw-register wr, then ww and rw), then process or
// real-time order.
var (
	laOrder = []rel{relWW, relWR, relRW, relProcess, relRealtime}
	rwOrder = []rel{relWR, relWW, relRW, relProcess, relRealtime}
)

type node struct {
	v      int32
	st     uint8
	lab    rel
	parent int32
}

// state bits: 0-1 required rels satisfied, 2-3 special count (0..2),
// 4 last step special.
func stCount(st uint8) int { return int(st>>2) & 3 }
func stLast(st uint8) bool { return st&16 != 0 }
func stReq(st uint8) uint8 { return st & 3 }
func mkSt(req uint8, count int, last bool) uint8 {
	s := req | uint8(min(count, 2))<<2
	if last {
		s |= 16
	}
	return s
}

func (s *searcher) step() error {
	s.budget--
	if s.budget < 0 {
		return errBudget
	}
	if s.budget&0xffff == 0 {
		if err := s.ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (s *searcher) reset() {
	for _, v := range s.touch {
		s.seen[v] = 0
	}
	s.touch = s.touch[:0]
}

func (s *searcher) visit(v int32, st uint8) bool {
	bit := uint32(1) << st
	if s.seen[v]&bit != 0 {
		return false
	}
	if s.seen[v] == 0 {
		s.touch = append(s.touch, v)
	}
	s.seen[v] |= bit
	return true
}

// find searches the component for a shortest cycle matching sp, in the
// subgraph of its relationships restricted to members. It returns nil
// when there is none.
func (s *searcher) find(members []int32, sp spec) (*cycle, error) {
	all := sp.free | sp.special
	g := s.g
	// Only vertices in a component of the projection can be on a cycle.
	sub := g.sccsWithin(s.in, members, all, s.comp)
	if len(sub) == 0 {
		return nil, nil
	}
	for _, req := range sp.required {
		if !g.hasRel(sub, req, s.comp) {
			return nil, nil
		}
	}
	reqAll := uint8(1)<<len(sp.required) - 1
	reqBits := func(r rel) uint8 {
		var b uint8
		for i, q := range sp.required {
			if r&q != 0 {
				b |= 1 << i
			}
		}
		return b
	}
	// Start edges: the special one (rw) when the spec has one, else the
	// first required one, else any vertex.
	type start struct {
		a, b int32
		lab  rel
		st   uint8
	}
	var q []node
	try := func(st start) (*cycle, error) {
		s.reset()
		q = q[:0]
		q = append(q, node{v: st.b, st: st.st, lab: st.lab, parent: -1})
		s.visit(st.b, st.st)
		for h := 0; h < len(q); h++ {
			cur := q[h]
			for e := g.off[cur.v]; e < g.off[cur.v+1]; e++ {
				if err := s.step(); err != nil {
					return nil, err
				}
				w := g.to[e]
				if s.comp[w] != s.comp[st.a] {
					continue
				}
				r := g.rels[e] & all
				if r == 0 {
					continue
				}
				// Move along a free relationship. A walk never passes
				// through its start: it closes there or not at all.
				if fr := r & sp.free; fr != 0 {
					nb := reqBits(fr)
					lab := pickLabel(fr, sp.required, stReq(cur.st))
					nst := mkSt(stReq(cur.st)|nb, stCount(cur.st), false)
					if w == st.a {
						if s.accept(sp, nst, reqAll) {
							return s.path(q, h, lab, st.a), nil
						}
					} else if s.visit(w, nst) {
						q = append(q, node{v: w, st: nst, lab: lab, parent: int32(h)})
					}
				}
				if sp.special != 0 && r&sp.special != 0 {
					if sp.mode == modeSingle || sp.mode == modeNonadjacent && stLast(cur.st) {
						continue
					}
					nst := mkSt(stReq(cur.st), stCount(cur.st)+1, true)
					if w == st.a {
						if s.accept(sp, nst, reqAll) {
							return s.path(q, h, sp.special, st.a), nil
						}
					} else if s.visit(w, nst) {
						q = append(q, node{v: w, st: nst, lab: sp.special, parent: int32(h)})
					}
				}
			}
		}
		return nil, nil
	}
	for _, scc := range sub {
		for _, a := range scc {
			if sp.special == 0 && len(sp.required) == 0 {
				// Any cycle through a will do.
				c, err := try(start{a: a, b: a, lab: 0, st: 0})
				if c != nil || err != nil {
					return c, err
				}
				continue
			}
			for e := g.off[a]; e < g.off[a+1]; e++ {
				b := g.to[e]
				if s.comp[b] != s.comp[a] {
					continue
				}
				r := g.rels[e] & all
				var st start
				switch {
				case sp.special != 0 && r&sp.special != 0:
					st = start{a: a, b: b, lab: sp.special, st: mkSt(0, 1, true)}
				case sp.special == 0 && r&sp.required[0] != 0:
					st = start{a: a, b: b, lab: sp.required[0], st: mkSt(reqBits(r&sp.free), 0, false)}
				default:
					continue
				}
				c, err := try(st)
				if c != nil || err != nil {
					if c != nil {
						c.txns = append([]int32{a}, c.txns...)
						c.steps = append([]rel{st.lab}, c.steps...)
					}
					return c, err
				}
			}
		}
	}
	return nil, nil
}

// accept reports whether a walk closing in state st matches sp. The
// first step of a walk started on a special edge was special, so for
// nonadjacent the closing step must not be (st's last bit).
func (s *searcher) accept(sp spec, st uint8, reqAll uint8) bool {
	if stReq(st) != reqAll {
		return false
	}
	switch sp.mode {
	case modeSingle:
		return stCount(st) == 1
	case modeMultiple:
		return stCount(st) >= 2
	case modeNonadjacent:
		return stCount(st) >= 2 && !stLast(st)
	}
	return true
}

// path rebuilds the walk ending with the step lab from q[h] to the start
// vertex: the txns after the start (the start edge's target first) and
// the steps between them, closing step included.
func (s *searcher) path(q []node, h int, lab rel, _ int32) *cycle {
	var vs []int32
	var ls []rel
	ls = append(ls, lab)
	for i := int32(h); i >= 0; i = q[i].parent {
		vs = append(vs, q[i].v)
		if q[i].parent >= 0 {
			ls = append(ls, q[i].lab)
		}
	}
	slices.Reverse(vs)
	slices.Reverse(ls)
	// A walk started at a vertex (no start edge) has the start vertex as
	// q[0]: rotate so that the cycle is vs with steps ls.
	return &cycle{txns: vs, steps: ls}
}

// pickLabel chooses which of the relationships r of a step to explain it
// by: a required one not yet satisfied first, else Elle's order.
func pickLabel(r rel, required []rel, have uint8) rel {
	for i, q := range required {
		if have&(1<<i) == 0 && r&q != 0 {
			return q
		}
	}
	for _, x := range relOrder {
		if r&x != 0 {
			return x
		}
	}
	return r
}

// sccsWithin returns the components (size > 1) of the subgraph of
// members along mask, numbering them in comp.
func (g *graph) sccsWithin(in []bool, members []int32, mask rel, comp []int32) [][]int32 {
	return g.sccsOf(in, members, mask, comp)
}

// hasRel reports whether an edge carrying r joins two vertices of one of
// the components.
func (g *graph) hasRel(sub [][]int32, r rel, comp []int32) bool {
	for _, c := range sub {
		for _, v := range c {
			for e := g.off[v]; e < g.off[v+1]; e++ {
				if g.rels[e]&r != 0 && comp[g.to[e]] == comp[v] {
					return true
				}
			}
		}
	}
	return false
}

// sccsOf is Tarjan restricted to members (whose in[] is true), along mask.
// comp is set for the members reached (-1 outside every component).
func (g *graph) sccsOf(in []bool, members []int32, mask rel, comp []int32) [][]int32 {
	for _, v := range members {
		comp[v] = -1
	}
	return g.tarjan(in, members, mask, comp)
}

// existsCase is one cycle-exists finding: a cycle violating model exists
// among scc.
type existsCase struct {
	typ, not string
	scc      []int32
}

// cycleExists is Elle's cycle-exists-cases over one component: for each
// spec whose model is not already ruled out by an earlier finding, whether
// its subgraph has a cycle, and the smallest component of it.
func (s *searcher) cycleExists(members []int32) []existsCase {
	var out []existsCase
	redundant := make(map[string]bool)
	for _, es := range existsSpecs {
		if redundant[es.model] {
			continue
		}
		var sub [][]int32
		if es.ext == 0 {
			sub = s.g.sccsOf(s.in, members, es.base, s.comp)
		} else {
			sub = s.g.extensionSCCs(s.in, members, es.base, es.ext)
		}
		if len(sub) == 0 {
			continue
		}
		best := sub[0]
		for _, c := range sub[1:] {
			if len(c) < len(best) {
				best = c
			}
		}
		out = append(out, existsCase{typ: es.model + "-cycle-exists", not: friendlyModel(es.model), scc: best})
		for m := range allImpossibleModels([]string{es.model}) {
			redundant[m] = true
		}
	}
	return out
}

// extensionSCCs finds the components of the sequential extension of base
// by ext (base edges, and a base edge followed by an ext edge, as one),
// through the product graph of (vertex, came by ext): a cycle there is a
// cycle of the extension. Components are returned as sets of original
// vertices.
func (g *graph) extensionSCCs(in []bool, members []int32, base, ext rel) [][]int32 {
	idx := make(map[int32]int32, len(members))
	for i, v := range members {
		idx[v] = int32(i)
	}
	n := len(members)
	var eb edgeBuf
	for i, v := range members {
		for e := g.off[v]; e < g.off[v+1]; e++ {
			w := g.to[e]
			j, ok := idx[w]
			if !ok || !in[w] {
				continue
			}
			if g.rels[e]&base != 0 {
				eb.add(int32(i), j, relWW)   // v0 -> w0
				eb.add(int32(i+n), j, relWW) // v1 -> w0
			}
			if g.rels[e]&ext != 0 {
				eb.add(int32(i), j+int32(n), relWW) // v0 -> w1
			}
		}
	}
	pg := eb.build(2 * n)
	comps := pg.sccs(nil, relWW, nil)
	out := make([][]int32, 0, len(comps))
	for _, c := range comps {
		set := make(map[int32]bool)
		for _, x := range c {
			set[members[int(x)%n]] = true
		}
		vs := make([]int32, 0, len(set))
		for v := range set {
			vs = append(vs, v)
		}
		slices.Sort(vs)
		out = append(out, vs)
	}
	return out
}

// sccResult is what the search of one component found.
type sccResult struct {
	exists  []existsCase
	cycles  []*cycle
	timeout *timeoutCase
}

type timeoutCase struct {
	specType string
	sccSize  int
	fallback *cycle
	err      error
}

// searchSCC is Elle's cycle-cases-in-scc: cycle-exists cases first, then
// a search for each cycle type in depth order that is neither implied by
// one found nor impossible by the cycle-exists cases.
func (s *searcher) searchSCC(members []int32) sccResult {
	for _, v := range members {
		s.in[v] = true
	}
	defer func() {
		for _, v := range members {
			s.in[v] = false
		}
	}()
	var res sccResult
	res.exists = s.cycleExists(members)
	impossible := make(map[string]bool)
	var nots []string
	for _, c := range res.exists {
		nots = append(nots, c.not)
	}
	imp := allImpossibleModels(nots)
	var possible []string
	for _, es := range existsSpecs {
		if !imp[es.model] {
			possible = append(possible, es.model)
		}
	}
	for a := range anomaliesProhibitedBy(possible) {
		if cycleTypes[a] {
			impossible[a] = true
		}
	}
	redundant := impossible
	for _, sp := range cycleSpecs {
		if redundant[sp.name] {
			continue
		}
		c, err := s.find(members, sp)
		if err != nil {
			fb, _ := s.fallback(members)
			if fb != nil {
				s.relabel(fb)
			}
			res.timeout = &timeoutCase{specType: sp.name, sccSize: len(members), fallback: fb, err: err}
			return res
		}
		if c == nil {
			continue
		}
		s.relabel(c)
		if c.classify() != sp.name {
			continue
		}
		res.cycles = append(res.cycles, c)
		for a := range allImpliedAnomalies([]string{sp.name}) {
			redundant[a] = true
		}
	}
	return res
}

// fallback finds some cycle of the component (every relationship), with
// a fresh budget of its own.
func (s *searcher) fallback(members []int32) (*cycle, error) {
	s.budget = int64(len(members))*64 + 1<<20
	sp := spec{name: "any", free: relWW | relWR | relRW | relProcess | relRealtime}
	for _, a := range members {
		s.reset()
		q := []node{{v: a, parent: -1}}
		s.visit(a, 0)
		for h := 0; h < len(q); h++ {
			cur := q[h]
			for e := s.g.off[cur.v]; e < s.g.off[cur.v+1]; e++ {
				if err := s.step(); err != nil {
					return nil, err
				}
				w := s.g.to[e]
				if !s.in[w] {
					continue
				}
				lab := pickLabel(s.g.rels[e]&sp.free, nil, 0)
				if w == a {
					c := s.path(q, h, lab, a)
					return c, nil
				}
				if s.visit(w, 0) {
					q = append(q, node{v: w, lab: lab, parent: int32(h)})
				}
			}
		}
	}
	return nil, fmt.Errorf("no cycle in a strongly connected component")
}
