package reports

import (
	"math"
	"sort"
	"strings"

	"github.com/chaoscheck/chaoscheck/history"
)

// Limits that keep a report fast and small whatever the history's size.
const (
	// maxLanes caps the rows of the timeline.
	maxLanes = 300
	// maxBars caps the bars of the timeline: up to this many client
	// operations are drawn one by one; beyond, each row is drawn at pixel
	// resolution (every pixel coloured by the worst outcome it covers).
	maxBars = 20000
	// maxPoints caps the points of the latency plot.
	maxPoints = 20000
	// maxBuckets caps the buckets of the throughput plot.
	maxBuckets = 1800
	// maxFaultRows caps the fault table (bands are all drawn).
	maxFaultRows = 500
	// maxNodes caps the per-node table.
	maxNodes = 64
	// plotW is the width, in SVG units and raster pixels, of the time
	// axis of every time chart, so that their fault bands line up.
	plotW = 1000
	// latCellPx is the size of a latency raster cell.
	latCellPx = 2
	// latBinsPerDecade is the resolution of the latency axis before it is
	// scaled to the plot; latDecades covers 1 ns to 10^13 ns (2.8 h).
	latBinsPerDecade = 64
	latDecades       = 13
)

// outcome bits, in increasing order of interest: a raster pixel covered by
// several outcomes shows the highest.
const (
	oOK uint8 = 1 << iota
	oOpen
	oInfo
	oFail
)

// worst returns the most interesting outcome bit of a set.
func worst(bits uint8) uint8 {
	for _, o := range []uint8{oFail, oInfo, oOpen, oOK} {
		if bits&o != 0 {
			return o
		}
	}
	return 0
}

// outcomeClass is the CSS class of an outcome bit.
func outcomeClass(o uint8) string {
	switch o {
	case oOK:
		return "ok"
	case oFail:
		return "fail"
	case oInfo:
		return "info"
	case oOpen:
		return "open"
	}
	return ""
}

// outcomeOf maps a completion type to its bit.
func outcomeOf(t history.Type) uint8 {
	switch t {
	case history.OK:
		return oOK
	case history.Fail:
		return oFail
	}
	return oInfo
}

// fault is one fault band: from the completion of start-X to the
// completion of stop-X.
type fault struct {
	Name, Desc string
	Start, End int64
	StartOp    int
	StopOp     int // -1: never stopped
	HealErr    string
}

// failedFault is a start-X whose completion carries an error.
type failedFault struct {
	Name, Err string
	Time      int64
	Op        int
}

// exactBar is one operation of the timeline, drawn individually.
type exactBar struct {
	lane       int32
	inv, cmp   int32 // history indexes; cmp -1 when open
	start, end int64
	out        uint8
}

// procState is what the analysis keeps per client process.
type procState struct {
	proc    history.Process
	lane    int32 // -1: beyond maxLanes
	pending int32 // index of the pending invocation, -1 if none
	freed   bool  // ended info: its lane went to the next process
}

// laneInfo describes one timeline row.
type laneInfo struct {
	procs []history.Process // the first few processes of the lane
	nproc int
}

// nodeCount counts completions by node.
type nodeCount struct {
	Node                string
	OK, Fail, Info, All int
}

// analysis is everything the charts need, gathered in one pass.
type analysis struct {
	end      int64 // time of the last event, at least 1
	invokes  int
	exact    bool
	lanes    []laneInfo
	byProc   map[history.Process]int32 // process -> index in procs
	small    []int32                   // fast path of byProc: process -> index+1 (0: unseen)
	procs    []procState
	freeLane []int32

	bars    []exactBar // exact mode
	raster  [][]uint8  // raster mode: per lane, plotW pixels of outcome bits
	dropped int        // operations of processes beyond maxLanes

	faults       []fault
	failedFaults []failedFault
	active       int   // faults active now, during the pass
	lastStop     int64 // time of the latest stop during the pass, or -1

	latGrid          []uint8 // (plotW/latCellPx) x (latDecades*latBinsPerDecade)
	latMin, latMax   int64
	latCount         int
	bucketNS         int64
	tput             [3][]int32 // ok, fail, info completions per bucket
	nodes            map[string]*nodeCount
	unavail          int
	unavailDuring    int
	unavailSample    string
	completions      int
	failsDuringFault int
	fails            int
}

// analyze gathers the charts' data from h in one pass over its ops (plus
// a count of invocations), with no allocation per op beyond the first
// sighting of a process or a node.
func analyze(h *history.History) *analysis {
	a := &analysis{
		byProc:   make(map[history.Process]int32),
		nodes:    make(map[string]*nodeCount),
		latMin:   math.MaxInt64,
		lastStop: -1,
	}
	ops := h.Ops
	if n := len(ops); n > 0 {
		a.end = ops[n-1].Time
	}
	if a.end < 1 {
		a.end = 1
	}
	for i := range ops {
		if ops[i].Type == history.Invoke && ops[i].Process != history.Nemesis {
			a.invokes++
		}
	}
	a.exact = a.invokes <= maxBars
	if a.exact {
		a.bars = make([]exactBar, 0, a.invokes)
	}
	a.bucketNS = bucketFor(a.end)
	nb := int(a.end/a.bucketNS) + 1
	for k := range a.tput {
		a.tput[k] = make([]int32, nb)
	}
	a.latGrid = make([]uint8, (plotW/latCellPx)*latDecades*latBinsPerDecade)

	lastNem := -1   // index of the previous nemesis event
	lastFault := -1 // fault band the previous nemesis completion touched
	for i := range ops {
		op := &ops[i]
		if op.Process == history.Nemesis {
			lastFault = a.nemesis(ops, i, lastNem, lastFault)
			lastNem = i
			continue
		}
		s := a.proc(op.Process)
		if op.Type == history.Invoke {
			s.pending = int32(i)
			continue
		}
		if s.pending < 0 {
			continue // a completion without invocation: malformed, skip
		}
		inv := &ops[s.pending]
		a.complete(s, inv, op)
		s.pending = -1
		if op.Type == history.Info && s.lane >= 0 && !s.freed {
			// The process never invokes again: its row is free for the
			// process that continues its work.
			a.freeLane = append(a.freeLane, s.lane)
			s.freed = true
		}
	}
	// Operations still open run to the end.
	for k := range a.procs {
		s := &a.procs[k]
		if s.pending >= 0 && s.lane >= 0 {
			a.draw(s.lane, ops[s.pending].Time, a.end, oOpen, s.pending, -1)
		}
	}
	for k := range a.faults {
		if a.faults[k].StopOp < 0 || a.faults[k].HealErr != "" {
			a.faults[k].End = a.end
		}
	}
	return a
}

// bucketFor chooses the throughput bucket: 1 s, finer for short tests and
// coarser for long ones so that there are at most maxBuckets.
func bucketFor(end int64) int64 {
	const sec = int64(1e9)
	if end < 10*sec {
		b := int64(niceStep(float64(end), 50))
		if b < 1 {
			b = 1
		}
		return b
	}
	b := sec
	for end/b >= maxBuckets {
		b = nextNice(b)
	}
	return b
}

// nextNice steps a bucket through 1, 2, 5, 10, 20, 50... seconds.
func nextNice(b int64) int64 {
	for p := int64(1e9); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*p > b {
				return m * p
			}
		}
	}
}

// proc returns the state of process p, creating it (and choosing its
// timeline row) on first sight.
func (a *analysis) proc(p history.Process) *procState {
	if p >= 0 && int(p) < 1<<20 {
		if int(p) < len(a.small) && a.small[p] > 0 {
			return &a.procs[a.small[p]-1]
		}
	} else if k, ok := a.byProc[p]; ok {
		return &a.procs[k]
	}
	lane := int32(-1)
	switch {
	case len(a.freeLane) > 0:
		lane = a.freeLane[len(a.freeLane)-1]
		a.freeLane = a.freeLane[:len(a.freeLane)-1]
	case len(a.lanes) < maxLanes:
		lane = int32(len(a.lanes))
		a.lanes = append(a.lanes, laneInfo{})
		if !a.exact {
			a.raster = append(a.raster, make([]uint8, plotW))
		}
	}
	if lane >= 0 {
		l := &a.lanes[lane]
		if len(l.procs) < 4 {
			l.procs = append(l.procs, p)
		}
		l.nproc++
	}
	a.procs = append(a.procs, procState{proc: p, lane: lane, pending: -1})
	k := int32(len(a.procs) - 1)
	if p >= 0 && int(p) < 1<<20 {
		for int(p) >= len(a.small) {
			a.small = append(a.small, make([]int32, len(a.small)+64)...)
		}
		a.small[p] = k + 1
	} else {
		a.byProc[p] = k
	}
	return &a.procs[k]
}

// complete accounts for one completed client operation.
func (a *analysis) complete(s *procState, inv, op *history.Op) {
	a.completions++
	o := outcomeOf(op.Type)
	if s.lane >= 0 {
		a.draw(s.lane, inv.Time, op.Time, o, int32(inv.Index), int32(op.Index))
	} else {
		a.dropped++
	}

	// Latency.
	lat := op.Time - inv.Time
	if lat < 1 {
		lat = 1
	}
	if lat < a.latMin {
		a.latMin = lat
	}
	if lat > a.latMax {
		a.latMax = lat
	}
	a.latCount++
	cx := int(float64(inv.Time) / float64(a.end) * (plotW / latCellPx))
	cx = min(max(cx, 0), plotW/latCellPx-1)
	cy := int(math.Log10(float64(lat)) * latBinsPerDecade)
	cy = min(max(cy, 0), latDecades*latBinsPerDecade-1)
	a.latGrid[cx*latDecades*latBinsPerDecade+cy] |= o

	// Throughput, by completion time.
	b := int(op.Time / a.bucketNS)
	if b >= 0 && b < len(a.tput[0]) {
		switch o {
		case oOK:
			a.tput[0][b]++
		case oFail:
			a.tput[1][b]++
		default:
			a.tput[2][b]++
		}
	}

	// Nodes.
	node := op.Node
	if node == "" {
		node = inv.Node
	}
	nc := a.nodes[node]
	if nc == nil {
		nc = &nodeCount{Node: node}
		a.nodes[node] = nc
	}
	nc.All++
	switch o {
	case oOK:
		nc.OK++
	case oFail:
		nc.Fail++
	default:
		nc.Info++
	}

	// Failures, and whether a fault was active at any moment of the
	// operation: one is active now, or one stopped after the invocation.
	if o == oFail {
		during := a.active > 0 || a.lastStop >= inv.Time
		a.fails++
		if during {
			a.failsDuringFault++
		}
		if containsFold(op.Error, "unavailable") {
			a.unavail++
			if during {
				a.unavailDuring++
			}
			if a.unavailSample == "" {
				a.unavailSample = op.Error
			}
		}
	}
}

// draw records a bar of the timeline.
func (a *analysis) draw(lane int32, start, end int64, o uint8, inv, cmp int32) {
	if a.exact {
		a.bars = append(a.bars, exactBar{lane: lane, inv: inv, cmp: cmp, start: start, end: end, out: o})
		return
	}
	row := a.raster[lane]
	x0 := int(float64(start) / float64(a.end) * plotW)
	x1 := int(float64(end) / float64(a.end) * plotW)
	x0 = min(max(x0, 0), plotW-1)
	x1 = min(max(x1, x0), plotW-1)
	for x := x0; x <= x1; x++ {
		row[x] |= o
	}
}

// nemesis accounts for the nemesis event ops[i] and returns the index of
// the fault band it touched, or -1. Jepsen records a nemesis operation as
// two info events (no invoke): the second of two consecutive completions
// of the same f completes the first, so it moves the band edge the first
// one set.
func (a *analysis) nemesis(ops []history.Op, i, lastNem, lastFault int) int {
	op := &ops[i]
	if op.Type == history.Invoke {
		return -1
	}
	pairedWithPrev := lastNem >= 0 && ops[lastNem].Type != history.Invoke && ops[lastNem].F == op.F && lastFault >= 0
	desc, _ := op.Value.AsString()
	if desc == "" && !op.Value.IsNil() {
		desc = boundedValue(op.Value, 200)
	}
	switch {
	case strings.HasPrefix(op.F, "start"):
		name := faultName(op.F, "start")
		if pairedWithPrev {
			f := &a.faults[lastFault]
			f.Start, f.StartOp = op.Time, i
			if desc != "" {
				f.Desc = desc
			}
			return lastFault
		}
		if op.Error != "" {
			a.failedFaults = append(a.failedFaults, failedFault{Name: name, Err: op.Error, Time: op.Time, Op: i})
			return -1
		}
		a.faults = append(a.faults, fault{Name: name, Desc: desc, Start: op.Time, StartOp: i, StopOp: -1})
		a.active++
		return len(a.faults) - 1
	case strings.HasPrefix(op.F, "stop"):
		name := faultName(op.F, "stop")
		if pairedWithPrev {
			f := &a.faults[lastFault]
			f.End, f.StopOp = op.Time, i
			if op.Error != "" {
				f.HealErr = op.Error
			}
			a.lastStop = op.Time
			return lastFault
		}
		for k := range a.faults {
			f := &a.faults[k]
			if f.StopOp < 0 && (f.Name == name || name == "fault") {
				f.End, f.StopOp = op.Time, i
				if op.Error != "" {
					// The heal failed: the fault may persist to the end.
					f.HealErr = op.Error
					return k
				}
				a.active--
				a.lastStop = op.Time
				return k
			}
		}
	}
	return -1
}

// faultName is the X of "start-X" / "stop-X", or "fault" for a bare
// "start" / "stop".
func faultName(f, prefix string) string {
	name := strings.TrimLeft(strings.TrimPrefix(f, prefix), "-_:")
	if name == "" {
		return "fault"
	}
	return name
}

// activeAt names the faults active at time t.
func (a *analysis) activeAt(t int64) []string {
	var out []string
	for k := range a.faults {
		f := &a.faults[k]
		if f.Start <= t && t <= f.End {
			s := f.Name
			if f.Desc != "" {
				s += " (" + f.Desc + ")"
			}
			out = append(out, s)
		}
	}
	return out
}

// nodeRows returns the per-node counts, busiest first, capped.
func (a *analysis) nodeRows() (rows []nodeCount, more int) {
	for _, n := range a.nodes {
		rows = append(rows, *n)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].All != rows[j].All {
			return rows[i].All > rows[j].All
		}
		return rows[i].Node < rows[j].Node
	})
	if len(rows) > maxNodes {
		more = len(rows) - maxNodes
		rows = rows[:maxNodes]
	}
	return rows, more
}

// laneOf returns the timeline row of process p, or -1.
func (a *analysis) laneOf(p history.Process) int32 {
	if p >= 0 && int(p) < len(a.small) {
		if k := a.small[p]; k > 0 {
			return a.procs[k-1].lane
		}
		return -1
	}
	if k, ok := a.byProc[p]; ok {
		return a.procs[k].lane
	}
	return -1
}

// containsFold reports whether s contains the lower-case ASCII word sub,
// ignoring ASCII case, without allocating.
func containsFold(s, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}
