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
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/lag"
)

// Measurements of one run.
type Measurements struct {
	// Latency is always there (zero counts when nothing succeeded), so
	// that CI can compare runs.
	Latency   Latency    `json:"latency"`
	Load      *Load      `json:"load,omitempty"`
	Failovers []Failover `json:"failovers,omitempty"`
	// Staleness is measured over every register read (ReadStaleness).
	Staleness *ReadStaleness `json:"staleness,omitempty"`
	// WitnessStaleness is how stale the checkers' stale observations
	// were (their anomalies, or their uncapped samples).
	WitnessStaleness *Distribution `json:"witness_staleness,omitempty"`
	// ReplicationLag is the database's own account of each replica's
	// lag, from the samples of lag.jsonl (targets with replicas).
	ReplicationLag []ReplicaLag   `json:"replication_lag,omitempty"`
	Availability   []Availability `json:"availability,omitempty"`
	// Quorum sets the availability seen with 0, 1, 2... replicas down
	// (killed or paused) next to what the quorum arithmetic predicts.
	Quorum []QuorumAvailability `json:"quorum,omitempty"`
	// ReadRoutes counts the reads by where a read policy sent them and
	// why (--max-replica-lag), with the share sent back to the primary.
	ReadRoutes *ReadRoutes `json:"read_routes,omitempty"`
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
	// LagFile is the run's lag.jsonl ("": none), summarised against
	// LagAlertNS (ReplicationLag).
	LagFile    string
	LagAlertNS int64
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

// latencies accumulates the durations of ok reads and writes, overall
// and by the region of the serving node (8 bytes per ok operation: the
// percentiles are exact nearest-rank figures).
type latencies struct {
	reads, writes []int64
	byRegion      map[string]*regionDurations
}

type regionDurations struct{ r, w []int64 }

// add counts the ok operation invoked as inv and completed by cmp.
func (l *latencies) add(inv *pending, cmp *history.Op, regions map[string]string) {
	read, write := inv.f == "read", isWrite(inv.f)
	if !read && !write {
		return
	}
	d := cmp.Time - inv.time
	var g *regionDurations
	if regions != nil {
		node := cmp.Node
		if node == "" {
			node = inv.node
		}
		if r, ok := regions[node]; ok {
			if l.byRegion == nil {
				l.byRegion = map[string]*regionDurations{}
			}
			if g = l.byRegion[r]; g == nil {
				g = &regionDurations{}
				l.byRegion[r] = g
			}
		}
	}
	if read {
		l.reads = append(l.reads, d)
		if g != nil {
			g.r = append(g.r, d)
		}
		return
	}
	l.writes = append(l.writes, d)
	if g != nil {
		g.w = append(g.w, d)
	}
}

// result summarises the durations.
func (l *latencies) result() Latency {
	out := Latency{Read: Stats(l.reads), Write: Stats(l.writes)}
	for _, r := range slices.Sorted(maps.Keys(l.byRegion)) {
		out.Regions = append(out.Regions, RegionLatency{Region: r, Read: Stats(l.byRegion[r].r), Write: Stats(l.byRegion[r].w)})
	}
	return out
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

// faultWindows pairs start-X completions with the next stop-X completion
// among the nemesis events nem, in history order; a fault never stopped
// lasts to end, the time of the history's last op.
func faultWindows(nem []history.Op, end int64) []window {
	var out []window
	open := map[string]int{}
	var lastInvoke = map[string]int64{}
	for i := range nem {
		op := &nem[i]
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

// pending is what a pass keeps of an invocation until its completion.
type pending struct {
	index int
	time  int64
	f     string
	key   string
	node  string
	value history.Value
}

// Compute derives the measurements of the history h from it and its check
// results, in two passes over h that keep none of its ops: the first
// gathers the nemesis events (the fault windows), the second pairs each
// invocation with its completion and counts it, holding one pending
// invocation per process. Only the failover measures keep a few bytes per
// operation (the times of ok writes, and the acknowledged set adds), and
// only when the history has a failover. A history that breaks the
// one-op-in-flight rule gives no measurements (nil error); an error is
// one of reading h.
func Compute(h history.Source, results []checkers.Result, o Options) (Measurements, error) {
	var m Measurements
	var nem []history.Op
	var end int64
	regKeys := map[string]bool{}
	if err := h.Scan(func(op *history.Op) error {
		end = op.Time
		if !op.IsClient() {
			nem = append(nem, *op)
		} else if registerKey(op) {
			regKeys[op.Key] = true
		}
		return nil
	}); err != nil {
		return m, err
	}
	windows := faultWindows(nem, end)
	nem = nil
	c := newCounter(windows, o)
	c.stale = newStaleCounter(regKeys, 0, end) // buckets from the test's start
	err := pairs(h, c.pair, c.completion)
	if errors.Is(err, errPairs) {
		return Measurements{}, nil
	}
	if err != nil {
		return m, err
	}
	m.Latency = c.lat.result()
	m.Load = c.loadResult()
	m.Availability = c.availabilityResult()
	m.Staleness = c.stale.result()
	m.WitnessStaleness = staleness(results)
	m.ReadRoutes = c.routes.result()
	if o.LagFile != "" {
		path := o.LagFile
		if m.ReplicationLag, err = ReplicationLag(func(fn func(*lag.Sample) error) error { return lag.ScanFile(path, fn) }, o.LagAlertNS); err != nil {
			return m, err
		}
	}
	m.Failovers = c.failoversResult(end)
	if o.N > 0 {
		m.Quorum = c.quorumResult()
	}
	return m, nil
}

// errPairs marks a history that breaks the one-op-in-flight rule.
var errPairs = errors.New("measures: malformed history")

// pairs streams the client operations of h to fn, each when it completes
// (cmp is nil for an operation never completed, given at the end), and
// every client completion to each (nil: none). Operations are given in
// completion order; invIndex orders them by invocation.
func pairs(h history.Source, fn func(inv *pending, cmp *history.Op), each func(op *history.Op)) error {
	open := map[history.Process]*pending{}
	var free []*pending
	err := h.Scan(func(op *history.Op) error {
		if !op.IsClient() {
			return nil
		}
		if op.Type == history.Invoke {
			if _, ok := open[op.Process]; ok {
				return errPairs
			}
			var p *pending
			if n := len(free); n > 0 {
				p, free = free[n-1], free[:n-1]
			} else {
				p = &pending{}
			}
			*p = pending{index: op.Index, time: op.Time, f: op.F, key: op.Key, node: op.Node, value: op.Value}
			open[op.Process] = p
			return nil
		}
		if each != nil {
			each(op)
		}
		p, ok := open[op.Process]
		if !ok {
			return errPairs
		}
		delete(open, op.Process)
		fn(p, op)
		free = append(free, p)
		return nil
	})
	if err != nil {
		return err
	}
	// Never completed: outcome unknown (info), in invocation order.
	left := make([]*pending, 0, len(open))
	for _, p := range open {
		left = append(left, p)
	}
	slices.SortFunc(left, func(a, b *pending) int { return a.index - b.index })
	for _, p := range left {
		fn(p, nil)
	}
	return nil
}

// outcome is the effective completion type of an operation completed by
// cmp (nil: never completed, so info).
func outcome(cmp *history.Op) history.Type {
	if cmp == nil {
		return history.Info
	}
	return cmp.Type
}

// counter accumulates the measurements over one pass of operations.
type counter struct {
	windows []window
	o       Options

	nodes map[string]int // load: completions per serving node

	byFault map[string]*Availability // availability
	order   []string
	outside Outcomes

	byDown  map[int]*QuorumAvailability // quorum
	quorums bool

	lat latencies // latency of the ok reads and writes

	stale  *staleCounter // staleness of every register read (nil: no register key)
	routes routes        // ok reads by Extra[RouteKey]

	failover bool    // the history has a failover: keep what failovers need
	oks      []int64 // completion times of ok writes
	adds     []ackedAdd
	final    map[string]finalRead // key -> last ok read by invocation
}

// ackedAdd is an ok set add: its key, element, completion index and time.
type ackedAdd struct {
	key      string
	element  int64
	complete int
	acked    int64
}

// finalRead is the ok read of a key invoked last (so far).
type finalRead struct {
	invoke int
	value  history.Value
}

func newCounter(windows []window, o Options) *counter {
	c := &counter{windows: windows, o: o, nodes: map[string]int{}, routes: routes{}, byFault: map[string]*Availability{}, byDown: map[int]*QuorumAvailability{}, final: map[string]finalRead{}}
	for _, w := range windows {
		if c.byFault[w.fault] == nil {
			c.byFault[w.fault] = &Availability{Fault: w.fault}
			c.order = append(c.order, w.fault)
		}
		if w.fault == "failover" {
			c.failover = true
		}
		if w.fault == "kill" || w.fault == "pause" {
			c.quorums = o.N > 0
		}
	}
	return c
}

// completion counts one client completion for the load.
func (c *counter) completion(op *history.Op) {
	if op.Node != "" {
		c.nodes[op.Node]++
	}
	if op.Extra != nil {
		c.routes.add(op.Extra[RouteKey], op.Type == history.OK)
	}
}

// pair counts one client operation, invoked as inv and completed by cmp
// (nil: never).
func (c *counter) pair(inv *pending, cmp *history.Op) {
	out := outcome(cmp)
	if cmp != nil && out == history.OK {
		c.lat.add(inv, cmp, c.o.Regions)
	}
	if c.stale != nil {
		c.stale.pair(inv, cmp)
	}
	if len(c.windows) > 0 {
		hit := false
		for _, w := range c.windows {
			if inv.time >= w.start && inv.time < w.end {
				count(&c.byFault[w.fault].During, out)
				hit = true
			}
		}
		if !hit {
			count(&c.outside, out)
		}
	}
	if c.quorums {
		c.quorum(inv, out)
	}
	if !c.failover || cmp == nil || out != history.OK {
		return
	}
	if isWrite(cmp.F) {
		c.oks = append(c.oks, cmp.Time)
	}
	switch inv.f {
	case "read":
		if f, ok := c.final[inv.key]; !ok || inv.index > f.invoke {
			c.final[inv.key] = finalRead{invoke: inv.index, value: cmp.Value}
		}
	case "add":
		if e, ok := inv.value.AsInt(); ok {
			c.adds = append(c.adds, ackedAdd{key: inv.key, element: e, complete: cmp.Index, acked: cmp.Time})
		}
	}
}

func (c *counter) availabilityResult() []Availability {
	if len(c.windows) == 0 {
		return nil
	}
	out := make([]Availability, len(c.order))
	for i, f := range c.order {
		out[i] = *c.byFault[f]
		out[i].Outside = c.outside
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
func (c *counter) lostAdds() []lostAdd {
	present := map[string]map[int64]bool{}
	for k, f := range c.final {
		es, _ := f.value.AsInts()
		m := make(map[int64]bool, len(es))
		for _, e := range es {
			m[e] = true
		}
		present[k] = m
	}
	// In invocation order of the adds is not needed: the result is
	// counted, and its listed elements sorted.
	var out []lostAdd
	for _, a := range c.adds {
		fp, ok := c.final[a.key]
		if !ok || a.complete > fp.invoke {
			continue
		}
		if !present[a.key][a.element] {
			out = append(out, lostAdd{element: a.element, acked: a.acked})
		}
	}
	return out
}

func (c *counter) failoversResult(last int64) []Failover {
	var out []Failover
	for _, w := range c.windows {
		if w.fault != "failover" {
			continue
		}
		out = append(out, Failover{Description: w.desc, StartNS: w.invokedAt, EndNS: w.start})
	}
	if len(out) == 0 {
		return nil
	}
	// Ok write completions, in time order (completions are recorded in
	// time order, but imported histories may go back: sort).
	oks := c.oks
	slices.Sort(oks)
	for i := range out {
		out[i].DowntimeNS = longestGap(oks, out[i].StartNS, out[i].EndNS, last)
	}
	// Lost acknowledged writes, charged to the first failover that
	// finished after the add was acknowledged.
	earliest := make([]int64, len(out))
	for _, l := range c.lostAdds() {
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

// loadResult is the load of the completed client operations per serving
// node; nil when no operation names its node.
func (c *counter) loadResult() *Load {
	if len(c.nodes) == 0 {
		return nil
	}
	l := &Load{}
	total := 0
	for n, k := range c.nodes {
		l.Nodes = append(l.Nodes, NodeLoad{Node: n, Ops: k})
		total += k
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

// quorum counts one client operation by how many replicas were down
// (killed or paused) when it was invoked. Operations invoked while another
// kind of fault (a partition) was active are left out: the arithmetic of
// down replicas does not describe them.
func (c *counter) quorum(inv *pending, out history.Type) {
	var down map[string]bool
	other := false
	for _, w := range c.windows {
		if inv.time < w.start || inv.time >= w.end {
			continue
		}
		if w.fault == "kill" || w.fault == "pause" {
			if down == nil {
				down = map[string]bool{}
			}
			for _, n := range w.nodes {
				down[n] = true
			}
		} else {
			other = true
		}
	}
	if other {
		return
	}
	o := c.o
	q := c.byDown[len(down)]
	if q == nil {
		q = &QuorumAvailability{Down: len(down), ReadsPredicted: predict(o.N, len(down), o.R), WritesPredicted: predict(o.N, len(down), o.W)}
		c.byDown[len(down)] = q
	}
	if inv.f == "read" {
		count(&q.Reads, out)
	} else {
		count(&q.Writes, out)
	}
}

// quorumResult is the quorum table; nil when no replica was ever down.
func (c *counter) quorumResult() []QuorumAvailability {
	if !c.quorums {
		return nil // no replica was ever down: nothing to set against the arithmetic
	}
	out := make([]QuorumAvailability, 0, len(c.byDown))
	for _, q := range c.byDown {
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
