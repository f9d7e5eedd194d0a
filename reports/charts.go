package reports

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Geometry shared by the time charts, so that their time axes and fault
// bands line up on the page.
const (
	svgW      = 1140.0
	plotX0    = 120.0
	faultKind = 6 // fault band colours (CSS classes f0..f5)
)

// frame is the common part of a time chart.
type frame struct {
	W, H, X0, Y0, PW, PH float64
	XTicks, YTicks       []tick
	Bands                []bandView
	XLabel, YLabel       string
}

// Bottom is the y of the x axis.
func (f frame) Bottom() float64 { return f.Y0 + f.PH }

// Right is the x of the right edge of the plot.
func (f frame) Right() float64 { return f.X0 + f.PW }

// bandView is a fault band of a time chart.
type bandView struct {
	X, W             float64
	Label, Title     string
	Class            string
	ShowLabel, Broke bool
}

// pathView is an SVG path of one outcome class.
type pathView struct {
	Class, D string
}

// rowView labels a timeline row.
type rowView struct {
	Y            float64
	Label, Title string
}

// barView is one operation of the timeline.
type barView struct {
	X, Y, W, H   float64
	Class, Title string
}

// markView marks a witness operation on the timeline.
type markView struct {
	X, Y  float64
	Title string
}

// timelineView is the timeline chart.
type timelineView struct {
	Frame     frame
	RowH      float64
	Rows      []rowView
	Bars      []barView
	Paths     []pathView
	Marks     []markView
	Notes     []string
	Processes int
}

// latencyView is the latency scatter plot.
type latencyView struct {
	Frame frame
	Paths []pathView
	Notes []string
}

// lineView is one series of the throughput chart.
type lineView struct {
	Class, Label, Points string
}

// throughputView is the throughput chart.
type throughputView struct {
	Frame  frame
	Lines  []lineView
	Bucket string
	Notes  []string
}

// nodesView is the per-node chart and table.
type nodesView struct {
	Rows     []nodeRow
	More     int
	H        float64
	Total    int
	OverTime *nodesOverTime
}

// nodeRow is one node of the per-node chart.
type nodeRow struct {
	nodeCount
	Y                   float64
	OKW, FailW, InfoW   float64
	FailX, InfoX, Share string
}

// newFrame lays out a time chart of plot height ph.
func newFrame(a *analysis, y0, ph float64, bands []bandView) frame {
	f := frame{W: svgW, X0: plotX0, Y0: y0, PW: plotW, PH: ph, Bands: bands}
	f.H = y0 + ph + 36
	f.XTicks = timeTicks(linScale{lo: 0, hi: float64(a.end) / 1e9, a: plotX0, b: plotX0 + plotW}, 10)
	f.XLabel = "time since the start of the test"
	return f
}

// xOf maps a history time to the time axis.
func xOf(a *analysis, t int64) float64 {
	return plotX0 + float64(t)/float64(a.end)*plotW
}

// faultLegend gives each fault name a colour class, in order of first
// appearance.
func faultLegend(a *analysis) []legendItem {
	var out []legendItem
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			out = append(out, legendItem{Name: name, Class: "f" + strconv.Itoa(len(out)%faultKind)})
		}
	}
	for k := range a.faults {
		add(a.faults[k].Name)
	}
	for _, f := range a.failedFaults {
		add(f.Name)
	}
	return out
}

func classOf(legend []legendItem, name string) string {
	for _, l := range legend {
		if l.Name == name {
			return l.Class
		}
	}
	return "f0"
}

// faultRows is the fault table.
func faultRows(a *analysis, legend []legendItem) ([]faultRow, int) {
	var rows []faultRow
	for k := range a.faults {
		f := &a.faults[k]
		r := faultRow{
			Name:     f.Name,
			Desc:     f.Desc,
			Start:    fmtSec(f.Start),
			End:      fmtSec(f.End),
			Duration: fmtDuration(f.End - f.Start),
			Class:    classOf(legend, f.Name),
		}
		switch {
		case f.HealErr != "":
			r.Note = "heal failed: " + f.HealErr + " (the fault may have lasted to the end)"
			r.Failed = true
		case f.StopOp < 0:
			r.Note = "never stopped: active until the end of the history"
		}
		rows = append(rows, r)
	}
	for _, f := range a.failedFaults {
		rows = append(rows, faultRow{Name: f.Name, Start: fmtSec(f.Time), Note: "failed to start: " + f.Err, Failed: true, Class: classOf(legend, f.Name)})
	}
	more := 0
	if len(rows) > maxFaultRows {
		more = len(rows) - maxFaultRows
		rows = rows[:maxFaultRows]
	}
	return rows, more
}

// bands are the fault intervals as drawn on every time chart.
func bands(a *analysis, legend []legendItem) []bandView {
	out := make([]bandView, 0, len(a.faults))
	labelEnd := 0.0 // right end of the last label shown
	for k := range a.faults {
		f := &a.faults[k]
		x0, x1 := xOf(a, f.Start), xOf(a, f.End)
		w := math.Max(x1-x0, 1)
		// A label shows when it fits before the next band and after the
		// previous label.
		lw := 6.3*float64(utf8.RuneCountInString(f.Name)) + 6
		limit := plotX0 + plotW + 10
		if k+1 < len(a.faults) {
			limit = xOf(a, a.faults[k+1].Start)
		}
		show := x0 >= labelEnd && x0+lw <= limit
		if show {
			labelEnd = x0 + lw
		}
		b := bandView{
			X: x0, W: w, Label: f.Name, Class: classOf(legend, f.Name),
			ShowLabel: show,
			Broke:     f.HealErr != "",
		}
		b.Title = fmt.Sprintf("%s from %s s to %s s", faultLabel(f), fmtSec(f.Start), fmtSec(f.End))
		if f.HealErr != "" {
			b.Title += "; heal failed: " + f.HealErr
		}
		out = append(out, b)
	}
	return out
}

// buildTimeline draws one row per lane of processes, one bar per
// operation from invocation to completion.
func buildTimeline(a *analysis, cards []card, legend []legendItem) *timelineView {
	lanes := len(a.lanes)
	if lanes == 0 {
		return nil
	}
	rowH := math.Min(math.Max(math.Floor(560/float64(lanes)), 3), 18)
	t := &timelineView{
		Frame:     newFrame(a, 22, rowH*float64(lanes), bands(a, legend)),
		RowH:      rowH,
		Processes: len(a.procs),
	}
	every := int(math.Ceil(11 / rowH))
	for l := range a.lanes {
		li := &a.lanes[l]
		label := "p" + li.procs[0].String()
		if li.nproc > 1 {
			label += " +" + strconv.Itoa(li.nproc-1)
		}
		names := make([]string, len(li.procs))
		for i, p := range li.procs {
			names[i] = p.String()
		}
		title := "process " + names[0]
		if li.nproc > 1 {
			title = "processes " + strings.Join(names, ", ")
			if li.nproc > len(li.procs) {
				title += ", …"
			}
			title += fmt.Sprintf(" (%d in all: a client continues under a new process after an operation of unknown outcome)", li.nproc)
		}
		if l%every != 0 {
			label = ""
		}
		t.Rows = append(t.Rows, rowView{Y: t.Frame.Y0 + float64(l)*rowH, Label: label, Title: title})
	}
	gap := 0.3
	if rowH > 6 {
		gap = 1.5
	}
	if a.exact {
		t.Bars = make([]barView, 0, len(a.bars))
		for _, b := range a.bars {
			x0 := xOf(a, b.start)
			title := b.title
			t.Bars = append(t.Bars, barView{
				X: x0, Y: t.Frame.Y0 + float64(b.lane)*rowH + gap, W: math.Max(xOf(a, b.end)-x0, 0.8), H: rowH - 2*gap,
				Class: outcomeClass(b.out), Title: title,
			})
		}
	} else {
		t.Paths, t.Notes = rasterPaths(a, rowH, gap, t.Frame.Y0)
	}
	if d := countDropped(a); d > 0 {
		t.Notes = append(t.Notes, fmt.Sprintf("Only the first %d rows are drawn: %d operations of %d later processes are not shown.", maxLanes, a.dropped, d))
	}
	// Mark the smallest witness of each anomaly.
	for _, c := range cards {
		if c.Witness == nil {
			continue
		}
		for _, r := range c.Witness.Ops {
			if len(t.Marks) >= 400 {
				break
			}
			op, ok := a.picked[r.Index]
			if !ok || !op.IsClient() {
				continue
			}
			l := a.laneOf(op.Process)
			if l < 0 {
				continue
			}
			t.Marks = append(t.Marks, markView{
				X: xOf(a, op.Time), Y: t.Frame.Y0 + (float64(l)+0.5)*rowH,
				Title: fmt.Sprintf("%s witness: #%d p%s %s %s", c.Title, op.Index, op.Process, op.Type, op.F),
			})
		}
	}
	return t
}

func countDropped(a *analysis) int {
	n := 0
	for k := range a.procs {
		if a.procs[k].lane < 0 {
			n++
		}
	}
	return n
}

// rasterPaths draws each row at pixel resolution, as runs of pixels of one
// outcome, merging pixels pairwise until there are at most maxBars runs.
func rasterPaths(a *analysis, rowH, gap, y0 float64) ([]pathView, []string) {
	px := 1
	var segs int
	count := func(scale int) int {
		n := 0
		for _, row := range a.raster {
			var prev uint8
			for x := 0; x < plotW; x += scale {
				o := worst(orRange(row, x, scale))
				if o != 0 && o != prev {
					n++
				}
				prev = o
			}
		}
		return n
	}
	for segs = count(px); segs > maxBars && px < plotW; segs = count(px) {
		px *= 2
	}
	paths := map[uint8][]byte{}
	for l, row := range a.raster {
		y := y0 + float64(l)*rowH + gap
		start, prev := 0, uint8(0)
		flush := func(end int) {
			if prev != 0 {
				paths[prev] = appendRect(paths[prev], plotX0+float64(start), y, float64(end-start), rowH-2*gap)
			}
		}
		for x := 0; x < plotW; x += px {
			o := worst(orRange(row, x, px))
			if o != prev {
				flush(x)
				start, prev = x, o
			}
		}
		flush(plotW)
	}
	var out []pathView
	for _, o := range []uint8{oOK, oOpen, oInfo, oFail} {
		if d, ok := paths[o]; ok {
			out = append(out, pathView{Class: outcomeClass(o), D: string(d)})
		}
	}
	note := fmt.Sprintf("%d operations are too many to draw one by one: each row is drawn at %d-pixel resolution, every pixel showing the most notable outcome of the operations it covers (fail, then info, then never completed, then ok), in %d segments.",
		a.invokes, px, segs)
	return out, []string{note}
}

// orRange ORs row[x : x+n].
func orRange(row []uint8, x, n int) uint8 {
	var o uint8
	for i := x; i < x+n && i < len(row); i++ {
		o |= row[i]
	}
	return o
}

// buildLatency draws latency against invocation time on a log scale.
func buildLatency(a *analysis, legend []legendItem) *latencyView {
	if a.latCount == 0 {
		return nil
	}
	const ph = 240.0
	lo := int(math.Floor(math.Log10(float64(a.latMin))))
	hi := int(math.Ceil(math.Log10(float64(a.latMax))))
	if hi <= lo {
		hi = lo + 1
	}
	v := &latencyView{Frame: newFrame(a, 22, ph, bands(a, legend))}
	v.Frame.YLabel = "latency (log scale)"
	ys := linScale{lo: float64(lo), hi: float64(hi), a: v.Frame.Y0 + ph, b: v.Frame.Y0}
	step := 1
	if hi-lo > 7 {
		step = 2
	}
	for e := lo; e <= hi; e += step {
		v.Frame.YTicks = append(v.Frame.YTicks, tick{Pos: ys.at(float64(e)), Label: decadeLabel(e)})
	}

	// Rebin the fixed-resolution grid onto the plot's cells.
	cell := latCellPx
	xc, yc := plotW/cell, int(ph)/cell
	cells := make([]uint8, xc*yc)
	const ybins = latDecades * latBinsPerDecade
	for cx := 0; cx < plotW/latCellPx; cx++ {
		col := a.latGrid[cx*ybins : (cx+1)*ybins]
		for yb, ob := range col {
			if ob == 0 {
				continue
			}
			py := ys.at((float64(yb)+0.5)/latBinsPerDecade) - v.Frame.Y0
			cy := min(max(int(py)/cell, 0), yc-1)
			cells[cx*yc+cy] |= ob
		}
	}
	// Marks: one per outcome present in a cell.
	marks := func() int {
		n := 0
		for _, c := range cells {
			n += bits.OnesCount8(c &^ oOpen)
		}
		return n
	}
	n := marks()
	for n > maxPoints && xc > 1 && yc > 1 {
		// Merge 2x2 cells.
		nxc, nyc := (xc+1)/2, (yc+1)/2
		merged := make([]uint8, nxc*nyc)
		for x := 0; x < xc; x++ {
			for y := 0; y < yc; y++ {
				merged[(x/2)*nyc+y/2] |= cells[x*yc+y]
			}
		}
		cells, xc, yc, cell = merged, nxc, nyc, cell*2
		n = marks()
	}
	// ok fills its cells; info and fail are drawn on top, as smaller
	// squares when cells are coarse, so that a cell holding both shows
	// both.
	paths := map[uint8][]byte{}
	for x := 0; x < xc; x++ {
		for y := 0; y < yc; y++ {
			c := cells[x*yc+y]
			for _, o := range []uint8{oOK, oInfo, oFail} {
				if c&o == 0 {
					continue
				}
				size, off := float64(cell), 0.0
				if cell == latCellPx {
					size = 2.4 // a touch larger than the cell, so points read as dots
				} else if o != oOK && c&oOK != 0 {
					size, off = float64(cell)/2, float64(cell)/4
				}
				paths[o] = appendRect(paths[o], plotX0+float64(x*cell)+off, v.Frame.Y0+float64(y*cell)+off, size, size)
			}
		}
	}
	for _, o := range []uint8{oOK, oInfo, oFail} {
		if d, ok := paths[o]; ok {
			v.Paths = append(v.Paths, pathView{Class: outcomeClass(o), D: string(d)})
		}
	}
	if a.latCount > maxPoints || cell > latCellPx {
		v.Notes = append(v.Notes, fmt.Sprintf("%d completed operations drawn as %d points: operations of one outcome falling in the same %d×%d-pixel cell share a point (fail and info drawn over ok).", a.latCount, n, cell, cell))
	}
	return v
}

// buildThroughput draws completed operations per second, by outcome.
func buildThroughput(a *analysis, legend []legendItem) *throughputView {
	if a.completions == 0 {
		return nil
	}
	const ph = 200.0
	v := &throughputView{Frame: newFrame(a, 22, ph, bands(a, legend))}
	secs := float64(a.bucketNS) / 1e9
	v.Bucket = fmtDuration(a.bucketNS)
	v.Frame.YLabel = "completions per second"
	maxRate := 0.0
	for k := range a.tput {
		for i, c := range a.tput[k] {
			span := float64(min(int64(i+1)*a.bucketNS, a.end)-int64(i)*a.bucketNS) / 1e9
			if span >= secs/10 {
				maxRate = math.Max(maxRate, float64(c)/span)
			}
		}
	}
	if maxRate <= 0 {
		maxRate = 1
	}
	top := niceStep(maxRate, 4) * math.Ceil(maxRate/niceStep(maxRate, 4))
	ys := linScale{lo: 0, hi: top, a: v.Frame.Y0 + ph, b: v.Frame.Y0}
	v.Frame.YTicks = linTicks(ys, 4, fmtCount)
	names := []struct{ class, label string }{{"ok", "ok"}, {"fail", "fail"}, {"info", "info"}}
	for k := range a.tput {
		series := a.tput[k]
		any := false
		for _, c := range series {
			if c != 0 {
				any = true
				break
			}
		}
		if !any {
			continue
		}
		b := make([]byte, 0, len(series)*12)
		for i, c := range series {
			t0 := int64(i) * a.bucketNS
			t1 := min(t0+a.bucketNS, a.end)
			span := float64(t1-t0) / 1e9
			if span < secs/10 {
				continue // a sliver of a last bucket says nothing
			}
			if i > 0 {
				b = append(b, ' ')
			}
			y := ys.at(float64(c) / span)
			// A step per bucket: flat over the bucket's span.
			b = appendNum(b, xOf(a, t0))
			b = append(b, ',')
			b = appendNum(b, y)
			b = append(b, ' ')
			b = appendNum(b, xOf(a, t1))
			b = append(b, ',')
			b = appendNum(b, y)
		}
		v.Lines = append(v.Lines, lineView{Class: names[k].class, Label: names[k].label, Points: string(b)})
	}
	if a.bucketNS > 1e9 {
		v.Notes = append(v.Notes, fmt.Sprintf("The test is long: buckets are %s wide (at most %d buckets).", v.Bucket, maxBuckets))
	}
	return v
}

// buildNodes is the per-node table and bars.
func buildNodes(a *analysis) *nodesView {
	rows, more := a.nodeRows()
	if len(rows) == 0 {
		return nil
	}
	v := &nodesView{More: more, Total: a.completions}
	maxAll := 1
	for _, r := range rows {
		maxAll = max(maxAll, r.All)
	}
	const barW = 700.0
	for i, r := range rows {
		if r.Node == "" {
			r.Node = "(no node recorded)"
		}
		nr := nodeRow{nodeCount: r, Y: float64(i) * 22}
		scale := barW / float64(maxAll)
		nr.OKW = float64(r.OK) * scale
		nr.FailW = float64(r.Fail) * scale
		nr.InfoW = float64(r.Info) * scale
		nr.FailX = num(150 + nr.OKW)
		nr.InfoX = num(150 + nr.OKW + nr.FailW)
		nr.Share = strconv.FormatFloat(100*float64(r.All)/float64(max(a.completions, 1)), 'f', 1, 64)
		v.Rows = append(v.Rows, nr)
	}
	v.H = float64(len(rows))*22 + 4
	return v
}
