// Package measures turns a checked history into the numbers a reader of a
// run wants next to the verdicts: what a failover cost (acknowledged writes
// lost, the window they were lost in, the time without a successful
// write), how stale the stale reads were, and how available the database
// stayed during each kind of fault.
//
// Measurements never judge: verdicts come from the checkers. They are
// derived from the history (controller times only) and from the checkers'
// anomalies, so `chaoscheck check` on a saved history recomputes the same
// numbers.
package measures

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
)

// Measurements of one run.
type Measurements struct {
	// Latency is always there (zero counts when nothing succeeded), so
	// that CI can compare runs.
	Latency      Latency        `json:"latency"`
	Load         *Load          `json:"load,omitempty"`
	Failovers    []Failover     `json:"failovers,omitempty"`
	Staleness    *Distribution  `json:"staleness,omitempty"`
	Availability []Availability `json:"availability,omitempty"`
	// Quorum sets the availability seen with 0, 1, 2... replicas down
	// (killed or paused) next to what the quorum arithmetic predicts.
	Quorum []QuorumAvailability `json:"quorum,omitempty"`
}

// QuorumAvailability is the outcome of reads and writes invoked while
// Down of N replicas were killed or paused.
type QuorumAvailability struct {
	Down   int      `json:"down"`
	Reads  Outcomes `json:"reads"`
	Writes Outcomes `json:"writes"`
	// ReadsPredicted and WritesPredicted say what N - Down >= R (or W)
	// predicts: "available" or "unavailable".
	ReadsPredicted  string `json:"reads_predicted"`
	WritesPredicted string `json:"writes_predicted"`
}

// Options give Compute what the history cannot say.
type Options struct {
	// N, R and W of a Dynamo-style target (0: not one).
	N, R, W int
	// Regions maps each node to its region, for a multi-region topology
	// (nil: one region); latency is then also given per region of the
	// node that served each operation.
	Regions map[string]string
}

// Latency is how long the ok client operations took, from invocation to
// completion on the controller's clock: reads apart from writes (write,
// add, cas, rmw). Failed and indeterminate operations are not in it.
type Latency struct {
	Read  LatencyStats `json:"read"`
	Write LatencyStats `json:"write"`
	// Regions breaks them down by the region of the node that served
	// each operation (multi-region topologies only), in region order.
	Regions []RegionLatency `json:"regions,omitempty"`
}

// LatencyStats summarises the latencies of Count operations (all zero
// when Count is 0). Percentiles are nearest-rank.
type LatencyStats struct {
	Count int   `json:"count"`
	P50NS int64 `json:"p50_ns"`
	P99NS int64 `json:"p99_ns"`
	MaxNS int64 `json:"max_ns"`
}

// RegionLatency is the latency of the operations a region's nodes served.
type RegionLatency struct {
	Region string       `json:"region"`
	Read   LatencyStats `json:"read"`
	Write  LatencyStats `json:"write"`
}

// Stats summarises ds (nanoseconds; sorted in place).
func Stats(ds []int64) LatencyStats {
	if len(ds) == 0 {
		return LatencyStats{}
	}
	slices.Sort(ds)
	rank := func(p float64) int64 {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	return LatencyStats{Count: len(ds), P50NS: rank(0.5), P99NS: rank(0.99), MaxNS: ds[len(ds)-1]}
}

// latency computes Latency from the ok pairs.
func latency(h *history.History, pairs []history.Pair, regions map[string]string) Latency {
	var reads, writes []int64
	type rw struct{ r, w []int64 }
	byRegion := map[string]*rw{}
	for _, p := range pairs {
		c := h.Completion(p)
		if c == nil || c.Type != history.OK {
			continue
		}
		inv := &h.Ops[p.Invoke]
		d := c.Time - inv.Time
		read, write := inv.F == "read", isWrite(inv.F)
		if !read && !write {
			continue
		}
		var g *rw
		if regions != nil {
			node := c.Node
			if node == "" {
				node = inv.Node
			}
			if r, ok := regions[node]; ok {
				if byRegion[r] == nil {
					byRegion[r] = &rw{}
				}
				g = byRegion[r]
			}
		}
		if read {
			reads = append(reads, d)
			if g != nil {
				g.r = append(g.r, d)
			}
		} else {
			writes = append(writes, d)
			if g != nil {
				g.w = append(g.w, d)
			}
		}
	}
	l := Latency{Read: Stats(reads), Write: Stats(writes)}
	names := slices.Sorted(maps.Keys(byRegion))
	for _, r := range names {
		l.Regions = append(l.Regions, RegionLatency{Region: r, Read: Stats(byRegion[r].r), Write: Stats(byRegion[r].w)})
	}
	return l
}

// Failover is what one failover (a start-failover nemesis event) cost.
type Failover struct {
	Description string `json:"description"`
	// StartNS is when the nemesis began the failover; EndNS when it
	// reported the new primary (ns since the test start).
	StartNS int64 `json:"start_ns"`
	EndNS   int64 `json:"end_ns"`
	// DowntimeNS is the longest stretch with no successful write that
	// overlaps the failover.
	DowntimeNS int64 `json:"downtime_ns"`
	// LostWrites counts acknowledged writes (set adds) that completed
	// before this failover finished (the old primary may have acknowledged
	// them while it was isolated) and are missing from the final read of
	// their key; LostElements lists them (at most MaxListed).
	LostWrites   int     `json:"lost_writes"`
	LostElements []int64 `json:"lost_elements,omitempty"`
	// LossWindowNS is the time from the completion of the earliest lost
	// write to the end of the failover (the promotion): writes
	// acknowledged in that window were lost.
	LossWindowNS int64 `json:"loss_window_ns,omitempty"`
}

// Load is how client operations spread over the nodes that served them
// (Op.Node of completions): the hot-partition measure.
type Load struct {
	// Nodes lists per-node counts, busiest first.
	Nodes []NodeLoad `json:"nodes"`
	// Hottest is the busiest node.
	Hottest string `json:"hottest"`
	// Imbalance is the busiest node's count over the mean count (1: even;
	// N: one node of N serves everything).
	Imbalance float64 `json:"imbalance"`
	// ServerSide are per-node counts reported by the servers themselves
	// (e.g. Redis INFO commandstats), when the target can say.
	ServerSide map[string]int64 `json:"server_side,omitempty"`
}

// NodeLoad is one node's share.
type NodeLoad struct {
	Node string `json:"node"`
	Ops  int    `json:"ops"`
}

// Distribution summarises durations.
type Distribution struct {
	// Source says what was measured.
	Source string `json:"source"`
	// Of names what Count counts, plural (e.g. "stale reads").
	Of    string `json:"of,omitempty"`
	Count int    `json:"count"`
	// Anomalies is how many anomalies those observations make, when more
	// than Count (a read that violates two guarantees counts once).
	Anomalies int   `json:"anomalies,omitempty"`
	P50NS     int64 `json:"p50_ns"`
	P90NS     int64 `json:"p90_ns"`
	P99NS     int64 `json:"p99_ns"`
	MaxNS     int64 `json:"max_ns"`
}

// Outcomes counts completions by type.
type Outcomes struct {
	OK   int `json:"ok"`
	Fail int `json:"fail"`
	Info int `json:"info"`
}

// Availability compares the outcomes of client operations invoked while a
// kind of fault was active with those invoked while no fault was.
type Availability struct {
	Fault   string   `json:"fault"`
	During  Outcomes `json:"during"`
	Outside Outcomes `json:"outside"`
}

// window is a fault in force from start to end.
type window struct {
	fault, desc string
	nodes       []string
	start, end  int64
	invokedAt   int64
}

// faultWindows pairs start-X completions with the next stop-X completion;
// a fault never stopped lasts to the end of the history.
func faultWindows(h *history.History) []window {
	var out []window
	open := map[string]int{}
	var lastInvoke = map[string]int64{}
	var end int64
	if n := len(h.Ops); n > 0 {
		end = h.Ops[n-1].Time
	}
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.IsClient() {
			continue
		}
		kind, isStart := strings.CutPrefix(op.F, "start-")
		if !isStart {
			var isStop bool
			if kind, isStop = strings.CutPrefix(op.F, "stop-"); !isStop {
				continue
			}
			if op.Type == history.Info {
				if w, ok := open[kind]; ok {
					out[w].end = op.Time
					delete(open, kind)
				}
			}
			continue
		}
		if op.Type == history.Invoke {
			lastInvoke[kind] = op.Time
			continue
		}
		if op.Error != "" {
			continue
		}
		desc, _ := op.Value.AsString()
		var nodes []string
		if ns := op.Extra["nodes"]; ns != "" {
			nodes = strings.Split(ns, ",")
		}
		open[kind] = len(out)
		out = append(out, window{fault: kind, desc: desc, nodes: nodes, start: op.Time, end: end, invokedAt: lastInvoke[kind]})
	}
	return out
}

// Compute derives the measurements of h from it and its check results.
func Compute(h *history.History, results []checkers.Result, o Options) Measurements {
	var m Measurements
	windows := faultWindows(h)
	pairs, err := h.Pairs()
	if err != nil {
		return m
	}
	m.Latency = latency(h, pairs, o.Regions)
	m.Load = load(h)
	m.Availability = availability(h, pairs, windows)
	m.Staleness = staleness(results)
	m.Failovers = failovers(h, pairs, windows)
	if o.N > 0 {
		m.Quorum = quorum(h, pairs, windows, o)
	}
	return m
}

func availability(h *history.History, pairs []history.Pair, windows []window) []Availability {
	if len(windows) == 0 {
		return nil
	}
	byFault := map[string]*Availability{}
	var order []string
	for _, w := range windows {
		if byFault[w.fault] == nil {
			byFault[w.fault] = &Availability{Fault: w.fault}
			order = append(order, w.fault)
		}
	}
	var outside Outcomes
	for _, p := range pairs {
		t := h.Ops[p.Invoke].Time
		hit := false
		for _, w := range windows {
			if t >= w.start && t < w.end {
				count(&byFault[w.fault].During, h.Outcome(p))
				hit = true
			}
		}
		if !hit {
			count(&outside, h.Outcome(p))
		}
	}
	out := make([]Availability, len(order))
	for i, f := range order {
		out[i] = *byFault[f]
		out[i].Outside = outside
	}
	return out
}

func count(o *Outcomes, t history.Type) {
	switch t {
	case history.OK:
		o.OK++
	case history.Fail:
		o.Fail++
	default:
		o.Info++
	}
}

// staleness summarises how stale the stale observations were: every
// entry of each result's uncapped Staleness sample, or, for a result that
// has none, the StalenessNS of its witnesses (capped at MaxAnomalies per
// kind, and Source then says so).
func staleness(results []checkers.Result) *Distribution {
	var ds []int64
	var parts, units []string
	anomalies := 0
	for _, r := range results {
		if r.Staleness != nil {
			n := 0
			for _, ns := range r.Staleness.NS {
				if ns > 0 {
					ds = append(ds, ns)
					n++
				}
			}
			if n > 0 {
				part := fmt.Sprintf("%s: every one of %d %s", r.Checker, n, r.Staleness.Of)
				if a := r.Staleness.Anomalies; a > len(r.Staleness.NS) {
					part += fmt.Sprintf(", which make %d anomalies: a read that violates two guarantees counts once, with the longer staleness", a)
				}
				parts = append(parts, part)
				units = append(units, r.Staleness.Of)
				anomalies += max(r.Staleness.Anomalies, n)
			}
			continue
		}
		n := 0
		kinds := map[string]bool{}
		for _, a := range r.Anomalies {
			if a.StalenessNS > 0 {
				ds = append(ds, a.StalenessNS)
				kinds[a.Kind] = true
				n++
			}
		}
		if n > 0 {
			names := make([]string, 0, len(kinds))
			for k := range kinds {
				names = append(names, k)
			}
			slices.Sort(names)
			parts = append(parts, fmt.Sprintf("%s: the %d witnesses of %s only (at most %d per kind)", r.Checker, n, strings.Join(names, ", "), checkers.MaxAnomalies))
			units = append(units, "stale reads")
			anomalies += n
		}
	}
	if len(ds) == 0 {
		return nil
	}
	slices.Sort(ds)
	units = slices.Compact(slices.Sorted(slices.Values(units)))
	of := strings.Join(units, " and ")
	q := func(p float64) int64 { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	if anomalies <= len(ds) {
		anomalies = 0
	}
	return &Distribution{
		Anomalies: anomalies,
		Source:    "how long after the missed write completed the stale read returned (" + strings.Join(parts, "; ") + ")",
		Of:        of,
		Count:     len(ds), P50NS: q(0.5), P90NS: q(0.9), P99NS: q(0.99), MaxNS: ds[len(ds)-1],
	}
}

// isWrite reports whether f changes the database.
func isWrite(f string) bool {
	switch f {
	case "write", "add", "cas", "rmw":
		return true
	}
	return false
}

// MaxListed bounds the lost elements listed per failover (all are counted).
const MaxListed = 1000

type lostAdd struct {
	element int64
	acked   int64 // completion time
}

// lostAdds returns the acknowledged set adds missing from their key's
// final read (the last ok read, by invocation), counting only adds
// acknowledged before that read was invoked: the set checker's "lost",
// without its refinements (an element it proves present by an earlier
// read is not needed here).
func lostAdds(h *history.History, pairs []history.Pair) []lostAdd {
	final := map[string]history.Pair{}
	for _, p := range pairs {
		inv := &h.Ops[p.Invoke]
		if inv.F == "read" && h.Outcome(p) == history.OK {
			final[inv.Key] = p
		}
	}
	present := map[string]map[int64]bool{}
	for k, p := range final {
		es, _ := h.Ops[p.Complete].Value.AsInts()
		m := make(map[int64]bool, len(es))
		for _, e := range es {
			m[e] = true
		}
		present[k] = m
	}
	var out []lostAdd
	for _, p := range pairs {
		inv := &h.Ops[p.Invoke]
		fp, ok := final[inv.Key]
		if inv.F != "add" || !ok || h.Outcome(p) != history.OK || p.Complete > fp.Invoke {
			continue
		}
		if e, ok := inv.Value.AsInt(); ok && !present[inv.Key][e] {
			out = append(out, lostAdd{element: e, acked: h.Ops[p.Complete].Time})
		}
	}
	return out
}

func failovers(h *history.History, pairs []history.Pair, windows []window) []Failover {
	var out []Failover
	for _, w := range windows {
		if w.fault != "failover" {
			continue
		}
		out = append(out, Failover{Description: w.desc, StartNS: w.invokedAt, EndNS: w.start})
	}
	if len(out) == 0 {
		return nil
	}
	// Ok write completions, in time order (completions are recorded in
	// time order, and pairs are in invocation order: sort).
	var oks []int64
	for _, p := range pairs {
		if c := h.Completion(p); c != nil && c.Type == history.OK && isWrite(c.F) {
			oks = append(oks, c.Time)
		}
	}
	slices.Sort(oks)
	var last int64
	if n := len(h.Ops); n > 0 {
		last = h.Ops[n-1].Time
	}
	for i := range out {
		out[i].DowntimeNS = longestGap(oks, out[i].StartNS, out[i].EndNS, last)
	}
	// Lost acknowledged writes, charged to the first failover that
	// finished after the add was acknowledged.
	earliest := make([]int64, len(out))
	for _, l := range lostAdds(h, pairs) {
		for i := range out {
			if l.acked <= out[i].EndNS {
				out[i].LostWrites++
				if len(out[i].LostElements) < MaxListed {
					out[i].LostElements = append(out[i].LostElements, l.element)
				}
				if earliest[i] == 0 || l.acked < earliest[i] {
					earliest[i] = l.acked
				}
				break
			}
		}
	}
	for i := range out {
		if earliest[i] > 0 {
			out[i].LossWindowNS = out[i].EndNS - earliest[i]
		}
		slices.Sort(out[i].LostElements)
	}
	return out
}

// longestGap is the longest interval between consecutive ok write
// completions (or the history's end) that overlaps [from, to].
func longestGap(oks []int64, from, to, end int64) int64 {
	var best int64
	prev := int64(0)
	for _, t := range append(oks, end) {
		if t >= from && prev <= to && t-prev > best {
			best = t - prev
		}
		prev = t
		if prev > to && t > to {
			break
		}
	}
	return best
}

// load counts completed client operations per serving node; nil when no
// operation names its node.
func load(h *history.History) *Load {
	counts := map[string]int{}
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.IsClient() && op.Type != history.Invoke && op.Node != "" {
			counts[op.Node]++
		}
	}
	if len(counts) == 0 {
		return nil
	}
	l := &Load{}
	total := 0
	for n, c := range counts {
		l.Nodes = append(l.Nodes, NodeLoad{Node: n, Ops: c})
		total += c
	}
	slices.SortFunc(l.Nodes, func(a, b NodeLoad) int {
		if a.Ops != b.Ops {
			return b.Ops - a.Ops
		}
		return strings.Compare(a.Node, b.Node)
	})
	l.Hottest = l.Nodes[0].Node
	mean := float64(total) / float64(len(l.Nodes))
	l.Imbalance = float64(l.Nodes[0].Ops) / mean
	return l
}

// quorum groups client operations by how many replicas were down (killed
// or paused) when they were invoked. Operations invoked while another kind
// of fault (a partition) was active are left out: the arithmetic of down
// replicas does not describe them.
func quorum(h *history.History, pairs []history.Pair, windows []window, o Options) []QuorumAvailability {
	if !slices.ContainsFunc(windows, func(w window) bool { return w.fault == "kill" || w.fault == "pause" }) {
		return nil // no replica was ever down: nothing to set against the arithmetic
	}
	byDown := map[int]*QuorumAvailability{}
	for _, p := range pairs {
		inv := &h.Ops[p.Invoke]
		down := map[string]bool{}
		other := false
		for _, w := range windows {
			if inv.Time < w.start || inv.Time >= w.end {
				continue
			}
			if w.fault == "kill" || w.fault == "pause" {
				for _, n := range w.nodes {
					down[n] = true
				}
			} else {
				other = true
			}
		}
		if other {
			continue
		}
		q := byDown[len(down)]
		if q == nil {
			q = &QuorumAvailability{Down: len(down), ReadsPredicted: predict(o.N, len(down), o.R), WritesPredicted: predict(o.N, len(down), o.W)}
			byDown[len(down)] = q
		}
		if inv.F == "read" {
			count(&q.Reads, h.Outcome(p))
		} else {
			count(&q.Writes, h.Outcome(p))
		}
	}
	out := make([]QuorumAvailability, 0, len(byDown))
	for _, q := range byDown {
		out = append(out, *q)
	}
	slices.SortFunc(out, func(a, b QuorumAvailability) int { return a.Down - b.Down })
	return out
}

func predict(n, down, need int) string {
	if n-down >= need {
		return fmt.Sprintf("available (%d of %d replicas up >= %d needed)", n-down, n, need)
	}
	return fmt.Sprintf("unavailable (%d of %d replicas up < %d needed)", n-down, n, need)
}
