package reports

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/rundir"
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
	start, end int64
	out        uint8
	title      string // what hovering the bar shows
}

// pendingInv is what the analysis keeps of an invocation until its
// completion.
type pendingInv struct {
	index  int
	time   int64
	f, key string
	node   string
}

// procState is what the analysis keeps per client process.
type procState struct {
	proc    history.Process
	lane    int32 // -1: beyond maxLanes
	pending bool  // inv is an invocation not yet completed
	inv     pendingInv
	freed   bool // ended info: its lane went to the next process
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
	n        int   // ops in the history
	invokes  int
	stats    rundir.Stats
	picked   map[int]history.Op // the ops asked for by index (witnesses)
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
	nodeTput         map[string][]int32 // completions per node per bucket (ops per node over time)
	unavail          int
	unavailDuring    int
	unavailSample    string
	completions      int
	failsDuringFault int
	fails            int
}

// analyze gathers the charts' data from h in one pass over its ops (a
// file is streamed, not loaded), with no allocation per op beyond the
// first sighting of a process or a node: memory is bounded by the
// processes, the caps of the charts and the ops of want (which it keeps,
// by index, in picked: the witnesses the report shows), whatever the
// length of the history. The time axis is known before the pass from the
// last op (Source.Last). The timeline is drawn bar by bar while there are
// at most maxBars invocations; past that it switches to pixel resolution,
// redrawing the bars so far.
func analyze(h history.Source, want map[int]bool) (*analysis, error) {
	a := &analysis{
		byProc:   make(map[history.Process]int32),
		nodes:    make(map[string]*nodeCount),
		nodeTput: make(map[string][]int32),
		picked:   make(map[int]history.Op, len(want)),
		latMin:   math.MaxInt64,
		lastStop: -1,
		exact:    true,
	}
	last, ok, err := h.Last()
	if err != nil {
		return nil, err
	}
	if ok {
		a.end = last.Time
	}
	if a.end < 1 {
		a.end = 1
	}
	a.bucketNS = bucketFor(a.end)
	nb := int(a.end/a.bucketNS) + 1
	for k := range a.tput {
		a.tput[k] = make([]int32, nb)
	}
	a.latGrid = make([]uint8, (plotW/latCellPx)*latDecades*latBinsPerDecade)

	var prevNem *history.Op // the previous nemesis event (a copy)
	var prevNemOp history.Op
	lastFault := -1 // fault band the previous nemesis completion touched
	err = h.Scan(func(op *history.Op) error {
		i := a.n
		a.n++
		a.count(op)
		if want[op.Index] {
			a.picked[op.Index] = *op
		}
		if op.Process == history.Nemesis {
			lastFault = a.nemesis(op, i, prevNem, lastFault)
			prevNemOp = *op
			prevNem = &prevNemOp
			return nil
		}
		s := a.proc(op.Process)
		if op.Type == history.Invoke {
			a.invokes++
			if a.exact && a.invokes > maxBars {
				a.toRaster()
			}
			s.pending = true
			s.inv = pendingInv{index: op.Index, time: op.Time, f: op.F, key: op.Key, node: op.Node}
			return nil
		}
		if !s.pending {
			return nil // a completion without invocation: malformed, skip
		}
		a.complete(s, op)
		s.pending = false
		if op.Type == history.Info && s.lane >= 0 && !s.freed {
			// The process never invokes again: its row is free for the
			// process that continues its work.
			a.freeLane = append(a.freeLane, s.lane)
			s.freed = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Operations still open run to the end.
	for k := range a.procs {
		s := &a.procs[k]
		if s.pending && s.lane >= 0 {
			a.draw(s.lane, s.inv.time, a.end, oOpen, s, nil)
		}
	}
	for k := range a.faults {
		if a.faults[k].StopOp < 0 || a.faults[k].HealErr != "" {
			a.faults[k].End = a.end
		}
	}
	a.stats.Open = max(a.stats.Invocations-a.stats.OK-a.stats.Fail-a.stats.Info, 0)
	a.stats.DurationNS = last.Time
	return a, nil
}

// count adds op to the statistics, as the runner counts them.
func (a *analysis) count(op *history.Op) {
	s := &a.stats
	if !op.IsClient() {
		s.NemesisEvents++
		return
	}
	switch op.Type {
	case history.Invoke:
		s.Invocations++
	case history.OK:
		s.OK++
	case history.Fail:
		s.Fail++
	case history.Info:
		s.Info++
	}
}

// toRaster switches the timeline from bars to pixel resolution, redrawing
// the bars drawn so far.
func (a *analysis) toRaster() {
	a.exact = false
	a.raster = make([][]uint8, len(a.lanes))
	for l := range a.raster {
		a.raster[l] = make([]uint8, plotW)
	}
	for _, b := range a.bars {
		a.rasterize(b.lane, b.start, b.end, b.out)
	}
	a.bars = nil
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
	a.procs = append(a.procs, procState{proc: p, lane: lane})
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

// complete accounts for one completed client operation: op completes the
// invocation s.inv.
func (a *analysis) complete(s *procState, op *history.Op) {
	a.completions++
	inv := &s.inv
	o := outcomeOf(op.Type)
	if s.lane >= 0 {
		a.draw(s.lane, inv.time, op.Time, o, s, op)
	} else {
		a.dropped++
	}

	// Latency.
	lat := op.Time - inv.time
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
	cx := int(float64(inv.time) / float64(a.end) * (plotW / latCellPx))
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
		node = inv.node
	}
	nc := a.nodes[node]
	if nc == nil {
		nc = &nodeCount{Node: node}
		a.nodes[node] = nc
	}
	if node != "" && b >= 0 && b < len(a.tput[0]) {
		nt := a.nodeTput[node]
		if nt == nil && len(a.nodeTput) < maxNodes {
			nt = make([]int32, len(a.tput[0]))
			a.nodeTput[node] = nt
		}
		if nt != nil {
			nt[b]++
		}
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
		during := a.active > 0 || a.lastStop >= inv.time
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

// draw records a bar of the timeline: the operation invoked as s.inv and
// completed by cmp (nil: never).
func (a *analysis) draw(lane int32, start, end int64, o uint8, s *procState, cmp *history.Op) {
	if a.exact {
		a.bars = append(a.bars, exactBar{lane: lane, start: start, end: end, out: o, title: barTitle(s, cmp)})
		return
	}
	a.rasterize(lane, start, end, o)
}

// barTitle describes the operation of a timeline bar.
func barTitle(s *procState, cmp *history.Op) string {
	inv := &s.inv
	title := fmt.Sprintf("#%d p%s %s", inv.index, s.proc, inv.f)
	if inv.key != "" {
		title += " " + strconv.Quote(inv.key)
	}
	if cmp != nil {
		title += fmt.Sprintf(" → #%d %s in %s", cmp.Index, cmp.Type, fmtDuration(cmp.Time-inv.time))
		if cmp.Error != "" {
			title += ": " + cmp.Error
		}
	} else {
		title += " → never completed"
	}
	return title
}

// rasterize colours the pixels of a row from start to end.
func (a *analysis) rasterize(lane int32, start, end int64, o uint8) {
	row := a.raster[lane]
	x0 := int(float64(start) / float64(a.end) * plotW)
	x1 := int(float64(end) / float64(a.end) * plotW)
	x0 = min(max(x0, 0), plotW-1)
	x1 = min(max(x1, x0), plotW-1)
	for x := x0; x <= x1; x++ {
		row[x] |= o
	}
}

// nemesis accounts for the nemesis event op, at position i, and returns
// the index of the fault band it touched, or -1; prev is the nemesis
// event before it (nil: none). Jepsen records a nemesis operation as two
// info events (no invoke): the second of two consecutive completions of
// the same f completes the first, so it moves the band edge the first one
// set.
func (a *analysis) nemesis(op *history.Op, i int, prev *history.Op, lastFault int) int {
	if op.Type == history.Invoke {
		return -1
	}
	pairedWithPrev := prev != nil && prev.Type != history.Invoke && prev.F == op.F && lastFault >= 0
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
