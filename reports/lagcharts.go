package reports

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/measures"
)

// lagCol is the width, in plot units, of a column of the lag charts: each
// column shows the highest sample that falls in it.
const lagCol = 2

// lagView is the replication-lag section: a chart per replica of what
// the database said (lag.jsonl), and the staleness the clients saw.
type lagView struct {
	Charts    []lagChart
	Staleness *staleChart
	Alert     string
	Interval  string
	Column    string
	Notes     []string
}

// lagChart is one replica's lag over time.
type lagChart struct {
	Frame   frame
	Node    string
	Of      string
	Figure  string // what is plotted
	Path    string
	Failed  string // ticks at the foot of the plot, one per failed sample column
	AlertY  float64
	Alert   bool
	Summary string
}

// staleChart is the client-observed staleness over time.
type staleChart struct {
	Frame   frame
	Points  string // max staleness per bucket, as steps
	Marks   string // stale buckets, a dot each
	AlertY  float64
	Alert   bool
	Bucket  string
	Summary string
	ByNode  []staleNodeRow
}

type staleNodeRow struct {
	Node, Reads, Stale, Share, P50, P99, Max string
}

// lagSeries is one replica's samples, reduced to the plot's columns.
type lagSeries struct {
	node, of    string
	figs        [5][]int64 // lag, bytes, entries, hint files, hints: max per column (-1 none)
	failed      []bool
	samples     int
	first, last int64
}

var lagFigures = [5]string{"lag", "bytes behind", "entries behind", "hint files pending", "hints pending"}

// readLag streams dir's lag.jsonl into per-replica columns (memory per
// replica: the plot's width, whatever the run's length). Nil when the
// run has no samples.
func readLag(dir string, a *analysis) (map[string]*lagSeries, error) {
	cols := plotW / lagCol
	out := map[string]*lagSeries{}
	err := lag.ScanFile(filepath.Join(dir, lag.File), func(s *lag.Sample) error {
		ls := out[s.Node]
		if ls == nil {
			ls = &lagSeries{node: s.Node, failed: make([]bool, cols), first: s.Time}
			out[s.Node] = ls
		}
		ls.samples++
		ls.last = s.Time
		if s.Of != "" {
			ls.of = s.Of
		}
		c := min(max(int(float64(s.Time)/float64(a.end)*float64(cols)), 0), cols-1)
		if s.Err != "" {
			ls.failed[c] = true
			return nil
		}
		for i, p := range []*int64{s.LagNS, s.Bytes, s.Entries, s.HintFiles, s.Hints} {
			if p == nil {
				continue
			}
			if ls.figs[i] == nil {
				ls.figs[i] = make([]int64, cols)
				for k := range ls.figs[i] {
					ls.figs[i][k] = -1
				}
			}
			ls.figs[i][c] = max(ls.figs[i][c], *p)
		}
		return nil
	})
	if errors.Is(err, lag.ErrNoSamples) {
		return nil, nil
	}
	return out, err
}

// buildLag draws the lag section; nil when there is neither a lag sample
// nor a staleness measure.
func buildLag(in Input, a *analysis, legend []legendItem) (*lagView, error) {
	var series map[string]*lagSeries
	if in.Dir != "" {
		var err error
		if series, err = readLag(in.Dir, a); err != nil {
			return nil, err
		}
	}
	m := in.Results.Measurements
	if len(series) == 0 && m.Staleness == nil {
		return nil, nil
	}
	alert := int64(0)
	for _, r := range m.ReplicationLag {
		alert = r.AlertNS
	}
	interval := ""
	if t := in.Test; t != nil && t.Lag != nil {
		if alert == 0 {
			alert = t.Lag.AlertNS
		}
		interval = fmtDuration(t.Lag.IntervalNS)
	}
	v := &lagView{Alert: fmtDuration(alert), Interval: interval, Column: fmtDuration(a.end * lagCol / plotW)}
	names := make([]string, 0, len(series))
	for n := range series {
		names = append(names, n)
	}
	slices.SortFunc(names, func(x, y string) int {
		if len(x) != len(y) {
			return len(x) - len(y)
		}
		return strings.Compare(x, y)
	})
	for _, n := range names {
		v.Charts = append(v.Charts, lagChartOf(a, legend, series[n], replicaOf(m.ReplicationLag, n), alert))
	}
	if m.Staleness != nil && m.Staleness.OverTime != nil {
		v.Staleness = staleChartOf(a, legend, m.Staleness, alert)
	}
	if len(series) == 0 {
		v.Notes = append(v.Notes, "No replication lag was sampled in this run (the target reports none, or the run predates lag sampling).")
	}
	return v, nil
}

func replicaOf(rs []measures.ReplicaLag, node string) *measures.ReplicaLag {
	for i := range rs {
		if rs[i].Node == node {
			return &rs[i]
		}
	}
	return nil
}

// lagChartOf draws one replica's lag: its time lag when the database
// gives one (with the alert line), otherwise the first position figure
// it gives.
func lagChartOf(a *analysis, legend []legendItem, s *lagSeries, r *measures.ReplicaLag, alert int64) lagChart {
	const ph = 110.0
	c := lagChart{Frame: newFrame(a, 22, ph, bands(a, legend)), Node: s.node, Of: s.of}
	k := -1
	for i, f := range s.figs {
		if f != nil {
			k = i
			break
		}
	}
	var top int64 = 1
	if k >= 0 {
		for _, v := range s.figs[k] {
			top = max(top, v)
		}
	}
	isTime := k == 0
	if isTime {
		top = max(top, alert+alert/4)
	}
	step := niceStep(float64(top), 3)
	hi := math.Ceil(float64(top)/step) * step
	ys := linScale{lo: 0, hi: hi, a: c.Frame.Y0 + ph, b: c.Frame.Y0}
	label := fmtCount
	if isTime {
		label = func(v float64) string { return fmtDuration(int64(v)) }
	}
	c.Frame.YTicks = linTicks(ys, 3, label)
	if k >= 0 {
		c.Figure = lagFigures[k]
		c.Frame.YLabel = lagFigures[k]
		b := make([]byte, 0, len(s.figs[k])*12)
		prev := false
		// Columns without a sample are bridged (at this resolution most
		// columns have none); a failed sample breaks the line.
		for i, v := range s.figs[k] {
			if s.failed[i] {
				prev = false
			}
			if v < 0 {
				continue
			}
			if prev {
				b = append(b, 'L')
			} else {
				b = append(b, 'M')
			}
			b = appendNum(b, plotX0+float64(i*lagCol)+lagCol/2)
			b = append(b, ' ')
			b = appendNum(b, ys.at(float64(v)))
			prev = true
		}
		c.Path = string(b)
	}
	if isTime && alert > 0 {
		c.Alert, c.AlertY = true, ys.at(float64(alert))
	}
	var fb []byte
	for i, f := range s.failed {
		if f {
			fb = appendRect(fb, plotX0+float64(i*lagCol), c.Frame.Y0+ph-6, lagCol, 6)
		}
	}
	c.Failed = string(fb)
	var parts []string
	if r != nil {
		if r.Lag != nil {
			d := ""
			if r.Derived {
				d = " (derived by the deployment from positions)"
			}
			parts = append(parts, fmt.Sprintf("over the %s alert for %s of the %s sampled; p50 %s, p99 %s, max %s%s",
				fmtDuration(r.AlertNS), fmtDuration(r.OverAlertNS), fmtDuration(s.last-s.first), fmtDuration(r.Lag.P50NS), fmtDuration(r.Lag.P99NS), fmtDuration(r.Lag.MaxNS), d))
		} else if k >= 0 {
			parts = append(parts, "no time lag reported: "+lagFigures[k]+" shown")
		}
		parts = append(parts, fmt.Sprintf("%d samples, %d failed", r.Samples, r.Failed))
	} else {
		parts = append(parts, fmt.Sprintf("%d samples", s.samples))
	}
	c.Summary = strings.Join(parts, "; ")
	return c
}

// staleChartOf draws the highest staleness per bucket of the reads
// invoked in it.
func staleChartOf(a *analysis, legend []legendItem, st *measures.ReadStaleness, alert int64) *staleChart {
	const ph = 110.0
	c := &staleChart{Frame: newFrame(a, 22, ph, bands(a, legend)), Bucket: fmtDuration(st.OverTime.BucketNS)}
	top := max(st.MaxNS, alert+alert/4, 1)
	step := niceStep(float64(top), 3)
	ys := linScale{lo: 0, hi: math.Ceil(float64(top)/step) * step, a: c.Frame.Y0 + ph, b: c.Frame.Y0}
	c.Frame.YTicks = linTicks(ys, 3, func(v float64) string { return fmtDuration(int64(v)) })
	c.Frame.YLabel = "staleness"
	var b, m []byte
	for i, bk := range st.OverTime.Buckets {
		t0 := bk.StartNS
		t1 := min(t0+st.OverTime.BucketNS, a.end)
		if t1 <= t0 {
			continue
		}
		if i > 0 {
			b = append(b, ' ')
		}
		y := ys.at(float64(bk.MaxNS))
		b = appendNum(b, min(xOf(a, t0), plotX0+plotW))
		b = append(b, ',')
		b = appendNum(b, y)
		b = append(b, ' ')
		b = appendNum(b, min(xOf(a, t1), plotX0+plotW))
		b = append(b, ',')
		b = appendNum(b, y)
		if bk.Stale > 0 {
			m = appendRect(m, (xOf(a, t0)+xOf(a, t1))/2-1.5, y-1.5, 3, 3)
		}
	}
	c.Points, c.Marks = string(b), string(m)
	if alert > 0 {
		c.Alert, c.AlertY = true, ys.at(float64(alert))
	}
	share := func(n, of int) string {
		if of == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
	}
	c.Summary = fmt.Sprintf("%d of %d reads stale (%s)", st.Stale, st.Reads, share(st.Stale, st.Reads))
	if st.Stale > 0 {
		c.Summary += fmt.Sprintf(": p50 %s, p99 %s, max %s", fmtDuration(st.P50NS), fmtDuration(st.P99NS), fmtDuration(st.MaxNS))
	}
	for _, n := range st.ByNode {
		row := staleNodeRow{Node: n.Node, Reads: fmt.Sprint(n.Reads), Stale: fmt.Sprint(n.Stale), Share: share(n.Stale, n.Reads), P50: "-", P99: "-", Max: "-"}
		if n.Stale > 0 {
			row.P50, row.P99, row.Max = fmtDuration(n.P50NS), fmtDuration(n.P99NS), fmtDuration(n.MaxNS)
		}
		c.ByNode = append(c.ByNode, row)
	}
	return c
}

// nodeSeriesMax caps the nodes drawn over time (the busiest).
const nodeSeriesMax = 8

// nodesOverTime is the per-node operations-over-time chart.
type nodesOverTime struct {
	Frame  frame
	Lines  []lineView
	Bucket string
}

// buildNodesOverTime draws the completions each node served per second,
// one line per node (the busiest nodeSeriesMax).
func buildNodesOverTime(a *analysis, legend []legendItem, rows []nodeRow) *nodesOverTime {
	if len(rows) < 1 || len(a.nodeTput) == 0 {
		return nil
	}
	const ph = 160.0
	v := &nodesOverTime{Frame: newFrame(a, 22, ph, bands(a, legend)), Bucket: fmtDuration(a.bucketNS)}
	v.Frame.YLabel = "completions per second"
	secs := float64(a.bucketNS) / 1e9
	maxRate := 0.0
	var picked []string
	for _, r := range rows {
		if len(picked) == nodeSeriesMax {
			break
		}
		if _, ok := a.nodeTput[r.Node]; ok {
			picked = append(picked, r.Node)
		}
	}
	rate := func(i int, c int32) (float64, bool) {
		t0 := int64(i) * a.bucketNS
		span := float64(min(t0+a.bucketNS, a.end)-t0) / 1e9
		if span < secs/10 {
			return 0, false
		}
		return float64(c) / span, true
	}
	for _, n := range picked {
		for i, c := range a.nodeTput[n] {
			if r, ok := rate(i, c); ok {
				maxRate = math.Max(maxRate, r)
			}
		}
	}
	if maxRate <= 0 {
		maxRate = 1
	}
	top := niceStep(maxRate, 4) * math.Ceil(maxRate/niceStep(maxRate, 4))
	ys := linScale{lo: 0, hi: top, a: v.Frame.Y0 + ph, b: v.Frame.Y0}
	v.Frame.YTicks = linTicks(ys, 4, fmtCount)
	for k, n := range picked {
		series := a.nodeTput[n]
		b := make([]byte, 0, len(series)*12)
		for i, c := range series {
			r, ok := rate(i, c)
			if !ok {
				continue
			}
			t0 := int64(i) * a.bucketNS
			t1 := min(t0+a.bucketNS, a.end)
			if len(b) > 0 {
				b = append(b, ' ')
			}
			y := ys.at(r)
			b = appendNum(b, xOf(a, t0))
			b = append(b, ',')
			b = appendNum(b, y)
			b = append(b, ' ')
			b = appendNum(b, xOf(a, t1))
			b = append(b, ',')
			b = appendNum(b, y)
		}
		v.Lines = append(v.Lines, lineView{Class: fmt.Sprintf("s%d", k), Label: n, Points: string(b)})
	}
	return v
}
