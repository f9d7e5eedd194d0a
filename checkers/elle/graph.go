package elle

import (
	"slices"
)

// rel is a set of dependency relationships (Elle's BitRels): an edge
// a -> b carries every relationship that orders a before b.
type rel uint8

const (
	relWW rel = 1 << iota
	relWR
	relRW
	relProcess
	relRealtime
)

// relOrder is the order in which a step of a cycle is explained when its
// edge carries several relationships, as Elle's combined explainer tries
// them.
var relOrder = [...]rel{relWW, relWR, relRW, relProcess, relRealtime}

func (r rel) String() string {
	switch r {
	case relWW:
		return "ww"
	case relWR:
		return "wr"
	case relRW:
		return "rw"
	case relProcess:
		return "process"
	case relRealtime:
		return "realtime"
	}
	return "?"
}

// edge is one dependency, before the graph is built.
type edge struct {
	a, b int32
	r    rel
}

// graph is a directed graph over transactions 0..n-1 in compressed
// sparse rows. Invariant: the targets of each vertex are sorted and
// distinct, and no edge is a self-loop; rels[i] is never empty.
type graph struct {
	n    int
	off  []int32 // edges of v are to[off[v]:off[v+1]]
	to   []int32
	rels []rel
	ts   *tarjanState // tarjan's scratch, made on first use
}

// edgeBuf accumulates edges.
type edgeBuf struct{ es []edge }

func (e *edgeBuf) add(a, b int32, r rel) {
	if a != b && a >= 0 && b >= 0 {
		e.es = append(e.es, edge{a, b, r})
	}
}

// build makes the graph of n vertices from the edges, merging parallel
// edges into one carrying the union of their relationships. Edges are
// bucketed by source (counting sort), then each vertex's few targets are
// sorted in place.
func (e *edgeBuf) build(n int) *graph {
	es := e.es
	off := make([]int32, n+1)
	for _, x := range es {
		off[x.a+1]++
	}
	for v := 0; v < n; v++ {
		off[v+1] += off[v]
	}
	to := make([]int32, len(es))
	rels := make([]rel, len(es))
	fill := make([]int32, n)
	copy(fill, off[:n])
	for _, x := range es {
		to[fill[x.a]], rels[fill[x.a]] = x.b, x.r
		fill[x.a]++
	}
	e.es = nil
	// Sort and merge each vertex's targets, compacting in place.
	w := int32(0)
	for v := 0; v < n; v++ {
		lo, hi := off[v], off[v+1]
		if hi-lo > 32 {
			sortTargets(to[lo:hi], rels[lo:hi])
		}
		// insertion sort: out-degrees are mostly small
		for i := lo + 1; i < hi; i++ {
			for j := i; j > lo && to[j] < to[j-1]; j-- {
				to[j], to[j-1] = to[j-1], to[j]
				rels[j], rels[j-1] = rels[j-1], rels[j]
			}
		}
		off[v] = w
		for i := lo; i < hi; i++ {
			if w > off[v] && to[w-1] == to[i] {
				rels[w-1] |= rels[i]
				continue
			}
			to[w], rels[w] = to[i], rels[i]
			w++
		}
	}
	off[n] = w
	return &graph{n: n, off: off, to: to[:w:w], rels: rels[:w:w]}
}

// sortTargets sorts a vertex's targets with their relationships.
func sortTargets(to []int32, rels []rel) {
	type tr struct {
		b int32
		r rel
	}
	tmp := make([]tr, len(to))
	for i := range to {
		tmp[i] = tr{to[i], rels[i]}
	}
	slices.SortFunc(tmp, func(x, y tr) int { return int(x.b - y.b) })
	for i := range tmp {
		to[i], rels[i] = tmp[i].b, tmp[i].r
	}
}

// edgeCount is the number of (merged) edges.
func (g *graph) edgeCount() int { return len(g.to) }

// sccs returns the strongly connected components of g restricted to the
// vertices with in[v] (nil: all) and to edges carrying a relationship of
// mask, with more than one vertex each. Each component is sorted;
// components are in no particular order. comp, when not nil, receives for
// each vertex its component's number (-1 when in none).
func (g *graph) sccs(in []bool, mask rel, comp []int32) [][]int32 {
	roots := make([]int32, 0, g.n)
	for v := range g.n {
		if in == nil || in[v] {
			roots = append(roots, int32(v))
		}
	}
	return g.tarjan(in, roots, mask, comp)
}

// tarjanState is Tarjan's per-vertex scratch, dense over the graph's
// vertices and kept between calls, so that the many small searches of
// one check (one per component and cycle spec) cost their own size, not
// the graph's. Between calls, index is -1 and onStack false everywhere.
type tarjanState struct {
	index, low []int32
	onStack    []bool
}

// tarjan is Tarjan's algorithm, iterative (a chain of a million
// transactions needs no deep stack), from roots in their order, along
// edges carrying mask to vertices with in[w] (nil: all); every root must
// have in[root] (or in nil). It returns the components of more than one
// vertex, each sorted; comp, when not nil, is set for every vertex
// reached (-1 outside every component). Not safe for concurrent use: it
// uses g's scratch.
func (g *graph) tarjan(in []bool, roots []int32, mask rel, comp []int32) [][]int32 {
	if g.ts == nil {
		g.ts = &tarjanState{index: make([]int32, g.n), low: make([]int32, g.n), onStack: make([]bool, g.n)}
		for i := range g.ts.index {
			g.ts.index[i] = -1
		}
	}
	index, low, onStack := g.ts.index, g.ts.low, g.ts.onStack
	var seen []int32 // every vertex given an index, to restore the scratch
	defer func() {
		for _, v := range seen {
			index[v] = -1
		}
	}()
	var stack []int32
	type frame struct {
		v int32
		e int32 // next edge to look at
	}
	var call []frame
	var out [][]int32
	next := int32(0)
	visit := func(v int32) {
		index[v], low[v] = next, next
		next++
		seen = append(seen, v)
		stack = append(stack, v)
		onStack[v] = true
		call = append(call, frame{v, g.off[v]})
		if comp != nil {
			comp[v] = -1
		}
	}
	for _, root := range roots {
		if index[root] >= 0 {
			continue
		}
		visit(root)
		for len(call) > 0 {
			f := &call[len(call)-1]
			v := f.v
			if f.e < g.off[v+1] {
				e := f.e
				f.e++
				if g.rels[e]&mask == 0 {
					continue
				}
				w := g.to[e]
				if in != nil && !in[w] {
					continue
				}
				if index[w] < 0 {
					visit(w)
				} else if onStack[w] && index[w] < low[v] {
					low[v] = index[w]
				}
				continue
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].v
				if low[v] < low[p] {
					low[p] = low[v]
				}
			}
			if low[v] == index[v] {
				k := len(stack) - 1
				for stack[k] != v {
					k--
				}
				members := stack[k:]
				for _, w := range members {
					onStack[w] = false
				}
				if len(members) > 1 {
					c := slices.Clone(members)
					slices.Sort(c)
					if comp != nil {
						for _, w := range c {
							comp[w] = int32(len(out))
						}
					}
					out = append(out, c)
				}
				stack = stack[:k]
			}
		}
	}
	return out
}
