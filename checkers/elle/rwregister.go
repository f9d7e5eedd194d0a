package elle

import (
	"fmt"
	"slices"

	"github.com/chaoscheck/chaoscheck/history"
)

// nilVersion is the initial (nil) version of a register.
const nilVersion = noElem

// extView is what a transaction shows outside on one key: its first
// read before any write of it (Elle's ext-reads) and its last write
// (ext-writes).
type extView struct {
	key            int32
	read, write    int64
	hasRead, hasWr bool
}

// rwAnalysis holds what rw-register inference built, for explanations.
type rwAnalysis struct {
	t     *txns
	ext   [][]extView                // per txn
	vg    []map[int64]map[int64]bool // per key: version -> later versions
	label []rel
}

func extViews(tx *txn) []extView {
	var out []extView
	find := func(k int32) *extView {
		for i := range out {
			if out[i].key == k {
				return &out[i]
			}
		}
		out = append(out, extView{key: k})
		return &out[len(out)-1]
	}
	for _, m := range tx.mops {
		e := find(m.key)
		switch m.f {
		case fWrite:
			e.write, e.hasWr = m.v, true
		case fRead:
			if !e.hasRead && !e.hasWr {
				e.read, e.hasRead = m.v, true
				if m.nilRead {
					e.read = nilVersion
				}
			}
		}
	}
	return out
}

// analyzeRWRegister infers the wr edges of an rw-register history from
// unique writes, its version orders (nil first; and with the options,
// writes-follow-reads, process order and real-time order per key, each
// dropped when it would make a version order cyclic, which is reported as
// cyclic-versions), the ww and rw edges along those orders, and the
// non-cycle anomalies, as Elle's elle.rw-register.
func analyzeRWRegister(t *txns, o Options, eb *edgeBuf, f *findings) (*rwAnalysis, error) {
	a := &rwAnalysis{t: t, ext: make([][]extView, len(t.ts))}
	for i := range t.ts {
		a.ext[i] = extViews(&t.ts[i])
	}
	nk := len(t.keys)
	// wr: ok ops only, one writer per (key, value).
	writers := make([]map[int64][]int32, nk)
	readers := make([]map[int64][]int32, nk)
	for i := range t.ts {
		if t.ts[i].typ != history.OK {
			continue
		}
		for _, e := range a.ext[i] {
			if e.hasWr {
				if writers[e.key] == nil {
					writers[e.key] = make(map[int64][]int32)
				}
				writers[e.key][e.write] = append(writers[e.key][e.write], int32(i))
			}
			if e.hasRead {
				if readers[e.key] == nil {
					readers[e.key] = make(map[int64][]int32)
				}
				readers[e.key][e.read] = append(readers[e.key][e.read], int32(i))
			}
		}
	}
	for k := 0; k < nk; k++ {
		for v, rs := range readers[k] {
			ws := writers[k][v]
			switch len(ws) {
			case 0:
			case 1:
				for _, r := range rs {
					eb.add(ws[0], r, relWR)
				}
			default:
				return nil, fmt.Errorf("key %s had value %s written by more than one op (%s): writes must be unique per key", t.keyString(int32(k)), t.vs(v), t.names(ws))
			}
		}
	}
	// Version graphs.
	vg := make([]map[int64]map[int64]bool, nk)
	link := func(g []map[int64]map[int64]bool, k int32, x, y int64) {
		if x == y {
			return
		}
		if g[k] == nil {
			g[k] = make(map[int64]map[int64]bool)
		}
		if g[k][x] == nil {
			g[k][x] = make(map[int64]bool)
		}
		g[k][x][y] = true
	}
	for i := range t.ts {
		tx := &t.ts[i]
		if tx.typ == history.Fail {
			continue
		}
		for _, e := range a.ext[i] {
			if e.hasWr && e.write != nilVersion {
				link(vg, e.key, nilVersion, e.write)
			}
			if tx.typ == history.OK && e.hasRead && e.read != nilVersion {
				link(vg, e.key, nilVersion, e.read)
			}
		}
	}
	type stage struct {
		name  string
		build func(g []map[int64]map[int64]bool) error
	}
	var stages []stage
	if o.WFRKeys {
		stages = append(stages, stage{"wfr-keys", func(g []map[int64]map[int64]bool) error {
			for i := range t.ts {
				if t.ts[i].typ != history.OK {
					continue
				}
				for _, e := range a.ext[i] {
					if e.hasRead && e.read != nilVersion && e.hasWr {
						link(g, e.key, e.read, e.write)
					}
				}
			}
			return nil
		}})
	}
	if o.SequentialKeys {
		stages = append(stages, stage{"sequential-keys", func(g []map[int64]map[int64]bool) error {
			a.processVersions(g, link)
			return nil
		}})
	}
	if o.LinearizableKeys {
		stages = append(stages, stage{"linearizable-keys", func(g []map[int64]map[int64]bool) error {
			var re edgeBuf
			realtimeEdges(t, &re)
			return a.orderVersions(re.build(len(t.ts)), g, link)
		}})
	}
	sources := []string{"initial-state"}
	for _, st := range stages {
		g := cloneVG(vg)
		if err := st.build(g); err != nil {
			return nil, err
		}
		cyc := false
		for k := range g {
			for _, scc := range versionSCCs(g[k]) {
				cyc = true
				k, scc, src := int32(k), scc, append(slices.Clone(sources), st.name)
				f.add("cyclic-versions", t.keyString(k), a.touching(k, scc), func() string {
					names := make([]string, len(scc))
					for i, v := range scc {
						names[i] = t.vs(v)
					}
					return fmt.Sprintf("the version order of key %s inferred from %v is cyclic over versions %v: no order of writes explains what was read", t.keyString(k), src, names)
				})
			}
		}
		if !cyc {
			vg = g
			sources = append(sources, st.name)
		}
	}
	a.vg = vg
	// ww and rw along each version edge, ok ops only.
	for k := 0; k < nk; k++ {
		for v1, nexts := range vg[k] {
			for v2 := range nexts {
				for _, w2 := range writers[k][v2] {
					for _, w1 := range writers[k][v1] {
						eb.add(w1, w2, relWW)
					}
					for _, r1 := range readers[k][v1] {
						eb.add(r1, w2, relRW)
					}
				}
			}
		}
	}
	rwNonCycle(t, f)
	return a, nil
}

func cloneVG(g []map[int64]map[int64]bool) []map[int64]map[int64]bool {
	out := make([]map[int64]map[int64]bool, len(g))
	for k, m := range g {
		if m == nil {
			continue
		}
		out[k] = make(map[int64]map[int64]bool, len(m))
		for x, ys := range m {
			c := make(map[int64]bool, len(ys))
			for y := range ys {
				c[y] = true
			}
			out[k][x] = c
		}
	}
	return out
}

// versionSCCs returns the cycles (components of more than one version)
// of one key's version graph, each sorted.
func versionSCCs(m map[int64]map[int64]bool) [][]int64 {
	if len(m) == 0 {
		return nil
	}
	ids := make(map[int64]int32)
	var vals []int64
	id := func(v int64) int32 {
		if i, ok := ids[v]; ok {
			return i
		}
		ids[v] = int32(len(vals))
		vals = append(vals, v)
		return ids[v]
	}
	var eb edgeBuf
	keys := make([]int64, 0, len(m))
	for x := range m {
		keys = append(keys, x)
	}
	slices.Sort(keys)
	for _, x := range keys {
		ys := make([]int64, 0, len(m[x]))
		for y := range m[x] {
			ys = append(ys, y)
		}
		slices.Sort(ys)
		for _, y := range ys {
			eb.add(id(x), id(y), relWW)
		}
	}
	g := eb.build(len(vals))
	var out [][]int64
	for _, c := range g.sccs(nil, relWW, nil) {
		vs := make([]int64, len(c))
		for i, x := range c {
			vs[i] = vals[x]
		}
		slices.Sort(vs)
		out = append(out, vs)
	}
	return out
}

// maxDownEntries bounds the downstream sets of orderVersions.
const maxDownEntries = 20_000_000

// orderVersions is Elle's transaction-graph->version-graphs over the
// order og (process or real-time order, a DAG along history order): for
// each transaction a and key k, the nearest transactions b after a that
// touch k (along paths through transactions that do not) have a first
// version of k that follows a's last.
//
// Like Elle's, the search is quadratic at worst (every transaction may
// reach every key downstream): past maxDownEntries entries it stops with
// an error, and the check is unknown rather than slow or out of memory.
func (a *rwAnalysis) orderVersions(og *graph, g []map[int64]map[int64]bool, link func([]map[int64]map[int64]bool, int32, int64, int64)) error {
	t := a.t
	touches := func(i int32) []int32 {
		tx := &t.ts[i]
		var ks []int32
		for _, e := range a.ext[i] {
			switch tx.typ {
			case history.OK:
				if e.hasRead || e.hasWr {
					ks = append(ks, e.key)
				}
			case history.Info:
				if e.hasWr {
					ks = append(ks, e.key)
				}
			}
		}
		return ks
	}
	// down[a][k]: nearest k-touching transactions after a; computed in
	// reverse history order (every edge goes forward in it).
	order := make([]int32, len(t.ts))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(x, y int32) int { return int(t.ts[y].op - t.ts[x].op) })
	down := make([]map[int32][]int32, len(t.ts))
	entries := 0
	for _, x := range order {
		d := make(map[int32][]int32)
		for e := og.off[x]; e < og.off[x+1]; e++ {
			n := og.to[e]
			tk := touches(n)
			for k, bs := range down[n] {
				if !slices.Contains(tk, k) {
					d[k] = appendUnique(d[k], bs...)
				}
			}
			for _, k := range tk {
				d[k] = appendUnique(d[k], n)
			}
		}
		down[x] = d
		for _, bs := range d {
			entries += len(bs)
		}
		if entries > maxDownEntries {
			return fmt.Errorf("the version orders that the assumed process or real-time order implies are too large to infer (over %d entries); check without --sequential-keys / --linearizable-keys", maxDownEntries)
		}
	}
	last := func(i int32, k int32) (int64, bool) {
		tx := &t.ts[i]
		for _, e := range a.ext[i] {
			if e.key != k {
				continue
			}
			switch tx.typ {
			case history.OK:
				if e.hasWr {
					return e.write, true
				}
				if e.hasRead {
					return e.read, true
				}
			case history.Info:
				if e.hasWr {
					return e.write, true
				}
				return 0, false
			}
			return 0, false
		}
		if tx.typ == history.OK {
			return nilVersion, true
		}
		return 0, false
	}
	first := func(i int32, k int32) (int64, bool) {
		tx := &t.ts[i]
		for _, e := range a.ext[i] {
			if e.key != k {
				continue
			}
			switch tx.typ {
			case history.OK:
				if e.hasRead {
					return e.read, true
				}
				if e.hasWr {
					return e.write, true
				}
			case history.Info:
				if e.hasWr {
					return e.write, true
				}
			}
		}
		return 0, false
	}
	for x := range down {
		for k, bs := range down[x] {
			v1, ok := last(int32(x), k)
			if !ok {
				continue
			}
			for _, b := range bs {
				if v2, ok := first(b, k); ok && v2 != v1 {
					link(g, k, v1, v2)
				}
			}
		}
	}
	return nil
}

// processVersions is orderVersions over process order, which is a chain
// of committed transactions per process: the nearest later transaction
// of a's process touching k is simply the next one to touch k. Linear.
func (a *rwAnalysis) processVersions(g []map[int64]map[int64]bool, link func([]map[int64]map[int64]bool, int32, int64, int64)) {
	t := a.t
	order := make([]int32, 0, len(t.ts))
	for i := range t.ts {
		if t.ts[i].typ == history.OK {
			order = append(order, int32(i))
		}
	}
	slices.SortFunc(order, func(x, y int32) int { return int(t.ts[x].op - t.ts[y].op) })
	type pk struct {
		p history.Process
		k int32
	}
	lastVal := make(map[pk]int64) // final version of k in the process's last txn touching it
	for _, i := range order {
		p := t.ts[i].proc
		for _, e := range a.ext[i] {
			if !e.hasRead && !e.hasWr {
				continue
			}
			first := e.write
			if e.hasRead {
				first = e.read
			}
			if v1, ok := lastVal[pk{p, e.key}]; ok && v1 != first {
				link(g, e.key, v1, first)
			}
			final := e.read
			if e.hasWr {
				final = e.write
			}
			lastVal[pk{p, e.key}] = final
		}
	}
}

func appendUnique(s []int32, xs ...int32) []int32 {
	for _, x := range xs {
		if !slices.Contains(s, x) {
			s = append(s, x)
		}
	}
	return s
}

// rwNonCycle finds G1a, G1b, internal and lost-update in an rw-register
// history.
func rwNonCycle(t *txns, f *findings) {
	type kv struct {
		k int32
		v int64
	}
	failed := make(map[kv]int32)
	inter := make(map[kv]int32)
	for i := range t.ts {
		tx := &t.ts[i]
		final := make(map[int32]int64)
		for _, m := range tx.mops {
			if m.f != fWrite {
				continue
			}
			if tx.typ == history.Fail {
				failed[kv{m.key, m.v}] = int32(i)
			}
			if e, ok := final[m.key]; ok {
				inter[kv{m.key, e}] = int32(i)
			}
			final[m.key] = m.v
		}
	}
	lost := make(map[kv][]int32)
	var lostOrder []kv
	for i := range t.ts {
		tx := &t.ts[i]
		if tx.typ != history.OK {
			continue
		}
		id := int32(i)
		state := make(map[int32]int64)
		internalDone := false
		reads := make(map[int32]int64)
		wrote := make(map[int32]bool)
		for _, m := range tx.mops {
			v := m.v
			if m.nilRead {
				v = nilVersion
			}
			switch m.f {
			case fWrite:
				state[m.key] = m.v
				if r, ok := reads[m.key]; ok && !wrote[m.key] {
					wrote[m.key] = true
					x := kv{m.key, r}
					if lost[x] == nil {
						lostOrder = append(lostOrder, x)
					}
					lost[x] = append(lost[x], id)
				}
			case fRead:
				if _, ok := reads[m.key]; !ok {
					reads[m.key] = v
				}
				if w, ok := failed[kv{m.key, v}]; ok && !m.nilRead {
					key, vv := t.keyString(m.key), v
					f.add("G1a", key, []int32{w, id}, func() string {
						return fmt.Sprintf("%s read key %s = %s, written by %s, a transaction that failed (aborted read)", t.name(id), key, t.vs(vv), t.name(w))
					})
				}
				if w, ok := inter[kv{m.key, v}]; ok && w != id && !m.nilRead {
					key, vv := t.keyString(m.key), v
					f.add("G1b", key, []int32{w, id}, func() string {
						return fmt.Sprintf("%s read key %s = %s, an intermediate value of %s, which wrote the key again afterwards (intermediate read)", t.name(id), key, t.vs(vv), t.name(w))
					})
				}
				if s, ok := state[m.key]; ok && s != nilVersion && s != v && !internalDone {
					internalDone = true
					key, exp := t.keyString(m.key), s
					f.add("internal", key, []int32{id}, func() string {
						return fmt.Sprintf("%s read key %s = %s, but its own earlier read or write says it must be %s (internal inconsistency)", t.name(id), key, t.vs(v), t.vs(exp))
					})
				}
				state[m.key] = v
			}
		}
	}
	for _, x := range lostOrder {
		if ts := lost[x]; len(ts) > 1 {
			key, v := t.keyString(x.k), x.v
			f.add("lost-update", key, ts, func() string {
				return fmt.Sprintf("%s all read key %s = %s and each wrote it: all committed, so at most one of their updates can have been based on the value it read (lost update)", t.names(ts), key, t.vs(v))
			})
		}
	}
}

// explain says why a precedes b by r in an rw-register history.
func (a *rwAnalysis) explain(x, y int32, r rel, an, bn string) string {
	t := a.t
	for _, ex := range a.ext[x] {
		for _, ey := range a.ext[y] {
			if ex.key != ey.key {
				continue
			}
			k := t.keyString(ex.key)
			switch r {
			case relWR:
				if ex.hasWr && ey.hasRead && ex.write == ey.read {
					return fmt.Sprintf("%s read %s's write of %s to key %s", bn, an, t.vs(ex.write), k)
				}
			case relWW:
				if ex.hasWr && ey.hasWr && a.vg[ex.key][ex.write][ey.write] {
					return fmt.Sprintf("%s set key %s to %s, and %s set it to %s, which came later in the version order", an, k, t.vs(ex.write), bn, t.vs(ey.write))
				}
			case relRW:
				if ex.hasRead && ey.hasWr && a.vg[ex.key][ex.read][ey.write] {
					if ex.read == nilVersion {
						return fmt.Sprintf("%s read key %s = nil (the initial state), which %s overwrote with %s", an, k, bn, t.vs(ey.write))
					}
					return fmt.Sprintf("%s's read of key %s = %s did not see %s's write of %s, which came later in the version order", an, k, t.vs(ex.read), bn, t.vs(ey.write))
				}
			}
		}
	}
	return ""
}

// touching lists the possible transactions that wrote or read one of
// versions vs of key k.
func (a *rwAnalysis) touching(k int32, vs []int64) []int32 {
	var out []int32
	for i := range a.t.ts {
		if !a.t.ts[i].possible() {
			continue
		}
		for _, e := range a.ext[i] {
			if e.key == k && (e.hasWr && slices.Contains(vs, e.write) || e.hasRead && slices.Contains(vs, e.read)) {
				out = append(out, int32(i))
				break
			}
		}
	}
	return out
}
