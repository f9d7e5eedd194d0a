// Package reports turns a test run into files people and CI read:
// report.html, one self-contained page (inline CSS, inline SVG charts, no
// JavaScript, no network fetch) that explains the verdict, and junit.xml,
// one test case per check. It also serves a store of runs over HTTP
// (NewServer).
//
// Every value that comes from the database or the history (values, errors,
// keys, node names, fault descriptions, checker messages) is rendered by
// html/template, which escapes it for its context, and the page carries a
// Content-Security-Policy that forbids scripts, so data can never execute.
//
// The report stays fast and small for large histories: it reads the
// history in one pass, keeps no per-operation state, and caps what it
// draws (maxLanes timeline rows, maxBars timeline bars, maxPoints latency
// points, maxBuckets throughput buckets), saying so on the page when it
// had to.
package reports

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/measures"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// Input is what a report is made of.
type Input struct {
	// Test is test.json; nil for a bare history checked offline.
	Test *rundir.TestInfo
	// Results is results.json.
	Results rundir.Results
	// History is the history the results judge: in memory, or a JSONL
	// file streamed (history.OpenJSONL), which the report reads in one
	// pass without holding its ops. nil when it could not be read (the
	// report then shows the verdicts without operations).
	History history.Source
	// Dir, when set, is the directory the report is written to: the
	// artifacts of Results (porcupine visualizations) are linked relative
	// to it, and only when they exist there.
	Dir string
	// Title overrides the page title (default: the test's name, or the
	// directory's).
	Title string
	// Notes are problems met while loading the inputs, shown on the page.
	Notes []string
}

// Write reads the run directory dir (test.json if present, results.json,
// and the history results.json names, history.jsonl by default) and writes
// report.html and junit.xml into it.
func Write(dir string) error {
	in, err := LoadRun(dir)
	if err != nil {
		return err
	}
	return WriteFiles(dir, in)
}

// LoadRun reads the inputs of a report from the run directory dir.
// results.json is required; a missing test.json gives a nil Test, and a
// missing history a nil History with a note.
func LoadRun(dir string) (Input, error) {
	return loadRun(dir, "", false)
}

// LoadChecked reads the inputs of a report on a history file checked
// offline (chaoscheck check FILE): the history from historyPath, in any
// format the history package reads, and results.json (required) and
// test.json (optional) from dir, where check wrote them.
func LoadChecked(dir, historyPath string) (Input, error) {
	in, err := loadRun(dir, historyPath, false)
	if err == nil && in.Test == nil {
		in.Title = filepath.Base(historyPath)
	}
	return in, err
}

// loadRun is LoadRun, with the history read from historyPath when not
// empty. When confined, a history that results.json names outside the run
// directory is not read (the server serves only the store).
func loadRun(dir, historyPath string, confined bool) (Input, error) {
	in := Input{Dir: dir}
	var res rundir.Results
	if err := rundir.ReadJSON(filepath.Join(dir, rundir.ResultsFile), &res); err != nil {
		return in, fmt.Errorf("read results: %w", err)
	}
	in.Results = res
	var ti rundir.TestInfo
	switch err := rundir.ReadJSON(filepath.Join(dir, rundir.TestFile), &ti); {
	case err == nil:
		in.Test = &ti
	case errors.Is(err, fs.ErrNotExist):
	default:
		return in, fmt.Errorf("read test description: %w", err)
	}
	hpath := res.History
	if hpath == "" {
		hpath = rundir.HistoryFile
	}
	switch {
	case historyPath != "":
		hpath = historyPath
	case confined && !filepath.IsLocal(hpath):
		in.Notes = append(in.Notes, fmt.Sprintf("the history %q is outside the run directory and is not read", hpath))
		return in, nil
	case !filepath.IsAbs(hpath):
		hpath = filepath.Join(dir, hpath)
	}
	src, note, err := openHistory(hpath)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return in, err
		}
		note = fmt.Sprintf("history %s not found: operations cannot be shown", hpath)
	}
	if src != nil {
		in.History = src
	}
	if note != "" {
		in.Notes = append(in.Notes, note)
	}
	return in, nil
}

// openHistory opens the history file at path for the report: a JSONL
// file (detected from its first bytes) is streamed when the report is
// rendered (its reader's warnings are then added to the notes), any other
// format is loaded by LoadHistory.
func openHistory(path string) (history.Source, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("read history: %w", err)
	}
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	f.Close()
	if format, err := history.DetectFormat(head[:n]); err == nil && format == history.FormatJSONL {
		src, err := history.OpenJSONL(path)
		if err != nil {
			return nil, "", fmt.Errorf("read history: %w", err)
		}
		return src, "", nil
	}
	h, note, err := LoadHistory(path)
	if err != nil {
		return nil, "", err
	}
	return h, note, nil
}

// ErrHistory is matched (errors.Is) by the error of Render and WriteFiles
// when the history, streamed while the report is rendered, cannot be
// read or breaks the invariants of the history package.
var ErrHistory = errors.New("read history")

// LoadHistory reads the history file at path in any format the history
// package detects. An empty file gives an empty history. The note, when
// not empty, says what the reader noticed (history.ReadInfo.Warnings: a
// last line cut short by a crash, times that go back).
func LoadHistory(path string) (*history.History, string, error) {
	h, info, err := history.Load(path, history.FormatAuto)
	switch {
	case errors.Is(err, history.ErrEmptyHistory):
		return &history.History{}, "", nil
	case err != nil:
		return nil, "", fmt.Errorf("read history: %w", err)
	}
	note := ""
	if w := info.Warnings(); len(w) > 0 {
		note = filepath.Base(path) + ": " + strings.Join(w, "; ")
	}
	return h, note, nil
}

// WriteFiles renders in into dir/report.html and dir/junit.xml, each
// written to a temporary file first and renamed, so that a reader never
// sees half a report.
func WriteFiles(dir string, in Input) error {
	if in.Dir == "" {
		in.Dir = dir
	}
	if err := writeAtomic(filepath.Join(dir, rundir.ReportFile), func(w io.Writer) error { return Render(w, in) }); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, rundir.JUnitFile), func(w io.Writer) error { return WriteJUnit(w, in.Results) })
}

// writeAtomic writes path through fill, via a temporary file.
func writeAtomic(path string, fill func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	if err := fill(bw); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// Render writes the HTML report of in to w.
func Render(w io.Writer, in Input) error {
	t, err := reportTmpl()
	if err != nil {
		return err
	}
	v, err := buildView(in)
	if err != nil {
		return err
	}
	if err := t.Execute(w, v); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return nil
}

// view is the data of the report template.
type view struct {
	Title        string
	Test         *testView
	Verdict      string
	VerdictClass string
	VerdictText  string
	Interrupted  bool
	RunErrors    []string
	Notes        []string
	Stats        rundir.Stats
	Duration     string
	Checks       []checkRow
	Cards        []card
	HasHistory   bool
	Faults       []faultRow
	FaultsMore   int
	FaultNames   []legendItem
	Timeline     *timelineView
	Latency      *latencyView
	Throughput   *throughputView
	Nodes        *nodesView
	Lag          *lagView
	Measures     *measuresView
	// NodeLogs are the node logs the runner copied into the run
	// directory (nodes/<node>.log), relative to it.
	NodeLogs []string
}

// measuresView shows results.json's measurements.
type measuresView struct {
	Latency      []opLatencyRow
	Quorum       []measures.QuorumAvailability
	Failovers    []failoverRow
	Staleness    *stalenessRow
	Availability []availabilityRow
	Routes       *routesView
}

// routesView is measurements.read_routes: where the read policy sent the
// reads.
type routesView struct {
	Reads, ToPrimary int64
	Share            string
	Rows             []routeRow
}

type routeRow struct {
	Route string
	Reads int64
}

// opLatencyRow is the latency of the ok reads or writes of all nodes or
// of one region (measurements.latency).
type opLatencyRow struct {
	Where, Kind      string
	Count            int
	P50, P99, MaxDur string
}

type failoverRow struct {
	Desc, Start, Downtime, Window, Elements string
	Lost                                    int
}

type stalenessRow struct {
	Source, Of            string
	Count                 int
	P50, P90, P99, MaxDur string
}

type availabilityRow struct {
	Fault                 string
	During, Outside       measures.Outcomes
	DuringPct, OutsidePct string
}

// testView is the header's description of the test (test.json).
type testView struct {
	Name, Start, Target, Workloads, Nemesis, Seed, Command string
	Settings                                               []settingRow
	Config, Versions                                       []rundir.Setting
	ServerConfig                                           *serverConfigView
	// FactsMissing: test.json has no typed target facts (an older
	// chaoscheck), so the explanations are not made concrete.
	FactsMissing bool
	// Topology is the regions of a multi-region deployment (nil: one).
	Topology *topologyView
}

// serverConfigView is the user's --server-config: the file verbatim and
// the effective settings.
type serverConfigView struct {
	File, Format, Text string
	Rows               []serverConfigRow
}

// serverConfigRow is one effective setting; User marks the user's.
type serverConfigRow struct {
	Name, Value, From string
	User              bool
}

// serverConfigOf renders sc (nil: nil).
func serverConfigOf(sc *rundir.ServerConfig) *serverConfigView {
	if sc == nil {
		return nil
	}
	v := &serverConfigView{File: sc.File, Format: sc.Format, Text: sc.Text}
	for _, e := range sc.Effective {
		r := serverConfigRow{Name: e.Name, Value: e.Value, From: "chaoscheck"}
		if e.Source == rundir.FromUser {
			r.User = true
			r.From = "your file, line " + strconv.Itoa(e.Line)
			if e.Default != "" {
				r.From += " (chaoscheck's: " + e.Default + ")"
			}
		}
		v.Rows = append(v.Rows, r)
	}
	return v
}

// settingRow is a target setting; Weak marks one that says reads and
// writes need not overlap ("W + R > N: false").
type settingRow struct {
	Name, Value string
	Weak        bool
}

// checkRow is one line of the checks table.
type checkRow struct {
	Workload, Checker, Verdict, Anomalies, Reason, Counts string
}

// card explains one finding: an anomaly class, unavailability, or a
// checker that could not decide.
type card struct {
	ID       string
	Class    string // anomaly, unavail, unknown
	Kind     string
	Title    string
	Count    int
	FoundBy  string
	What     string
	Cause    string
	Concrete []string
	Witness  *witnessView
	Others   []otherView
	OthersOf int
	Links    []linkView
	Missing  []string
	Reason   string
	Unavail  *unavailView
	// Drawings are the cycle drawings (SVG) of a transactional anomaly
	// class, inlined as data URLs so that the report stays one file.
	Drawings []drawingView
}

// drawingView is one inlined drawing.
type drawingView struct {
	Src   template.URL
	Label string
}

// witnessView is the smallest witness of an anomaly class: its message
// and its operations, with the faults active around them.
type witnessView struct {
	Checker, Key, Message, Staleness string
	Viz                              *linkView // visualization of Key
	Ops                              []opRow
	Faults                           []string
	Span                             string
	Unresolved                       []int
}

// opRow is one history op, rendered for a table.
type opRow struct {
	Index                                           int
	Process, Node, Type, F, Key, Value, Error, Time string
	Faults                                          string
}

// otherView is another case of an anomaly class, in one line.
type otherView struct {
	Key, Message, Ops string
}

// linkView is a link relative to the report.
type linkView struct {
	Href, Label string
}

// unavailView counts the operations that failed as unavailable.
type unavailView struct {
	Total, During, Outside, Fails int
	Percent, Sample               string
}

// faultRow is one line of the fault table.
type faultRow struct {
	Name, Desc, Start, End, Duration, Note string
	Failed                                 bool
	Class                                  string
}

// legendItem names the colour class of a fault.
type legendItem struct {
	Name, Class string
}

// buildView turns the inputs into the template's data. Its error is one
// of reading the history (wrapping ErrHistory).
func buildView(in Input) (*view, error) {
	if h, ok := in.History.(*history.History); ok && h == nil {
		in.History = nil // a nil *History is no history, not an empty one
	}
	res := in.Results
	v := &view{
		Title:       in.Title,
		Verdict:     strings.ToUpper(string(res.Verdict)),
		Interrupted: res.Interrupted,
		RunErrors:   res.Errors,
		Notes:       append([]string(nil), in.Notes...),
		Stats:       res.Stats,
		Duration:    fmtDuration(res.Stats.DurationNS),
		HasHistory:  in.History != nil,
	}
	if v.Verdict == "" {
		v.Verdict = "UNKNOWN"
	}
	v.Measures = buildMeasures(res.Measurements)
	if in.Dir != "" {
		logs, _ := filepath.Glob(filepath.Join(in.Dir, "nodes", "*.log"))
		for _, l := range logs {
			v.NodeLogs = append(v.NodeLogs, "nodes/"+filepath.Base(l))
		}
	}
	switch res.Verdict {
	case checkers.Valid:
		v.VerdictClass, v.VerdictText = "valid", "every checker decided, and found no anomaly"
	case checkers.Invalid:
		v.VerdictClass, v.VerdictText = "invalid", "anomalies found: the database broke a guarantee the workload checks"
	default:
		v.VerdictClass, v.VerdictText = "unknown", "not every checker could decide: this is not a pass"
	}
	if in.Test != nil {
		t := in.Test
		v.Test = &testView{
			Name:      t.Name,
			Target:    t.Target,
			Workloads: strings.Join(t.Workloads, ", "),
			Nemesis:   strings.Join(t.Nemesis, ", "),
			Seed:      strconv.FormatInt(t.Seed, 10),
			Command:   shellJoin(t.CommandLine),
			Config:    t.Config,
			Versions:  t.Versions,

			ServerConfig: serverConfigOf(t.ServerConfig),
			FactsMissing: t.Facts == nil,
			Topology:     topologyOf(t.Facts),
		}
		for _, st := range t.TargetSettings {
			weak := strings.Contains(strings.ReplaceAll(st.Name, " ", ""), "W+R>N") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(st.Value)), "false")
			v.Test.Settings = append(v.Test.Settings, settingRow{Name: st.Name, Value: st.Value, Weak: weak})
		}
		if !t.Start.IsZero() {
			v.Test.Start = t.Start.Format("2006-01-02 15:04:05 MST")
		}
		if v.Title == "" {
			v.Title = t.Name
		}
	}
	if v.Title == "" && in.Dir != "" {
		v.Title = filepath.Base(filepath.Clean(in.Dir))
	}
	if v.Title == "" {
		v.Title = "chaoscheck run"
	}
	for _, c := range res.Checks {
		v.Checks = append(v.Checks, checkRow{
			Workload:  orDash(c.Workload),
			Checker:   c.Checker,
			Verdict:   string(c.Verdict),
			Anomalies: countsSummary(c.AnomalyCounts),
			Reason:    c.Reason,
			Counts:    tallySummary(c.Counts),
		})
	}

	var a *analysis
	if in.History != nil {
		var err error
		if a, err = analyze(in.History, witnessOps(res)); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrHistory, err)
		}
		if f, ok := in.History.(*history.JSONLFile); ok {
			if w := f.Info().Warnings(); len(w) > 0 {
				v.Notes = append(v.Notes, filepath.Base(f.Path())+": "+strings.Join(w, "; "))
			}
		}
		if v.Stats.Invocations == 0 && a.invokes > 0 {
			// Results without statistics: count from the history.
			v.Stats = a.stats
			v.Duration = fmtDuration(v.Stats.DurationNS)
		}
	}
	facts := readFacts(in.Test)
	v.Cards = anomalyCards(in, a, facts)
	if a != nil {
		if c := unavailableCard(a, facts); c != nil {
			v.Cards = append(v.Cards, *c)
		}
	}
	v.Cards = append(v.Cards, unknownCards(res)...)
	if a != nil {
		v.FaultNames = faultLegend(a)
		v.Faults, v.FaultsMore = faultRows(a, v.FaultNames)
		v.Timeline = buildTimeline(a, v.Cards, v.FaultNames)
		v.Latency = buildLatency(a, v.FaultNames)
		v.Throughput = buildThroughput(a, v.FaultNames)
		v.Nodes = buildNodes(a)
		if v.Nodes != nil {
			v.Nodes.OverTime = buildNodesOverTime(a, v.FaultNames, v.Nodes.Rows)
		}
		lv, err := buildLag(in, a, v.FaultNames)
		if err != nil {
			v.Notes = append(v.Notes, "replication lag not shown: "+err.Error())
		}
		v.Lag = lv
	}
	return v, nil
}

// witnessOps are the indexes of the operations the anomalies of res name:
// those the report may show, which the pass over the history keeps.
func witnessOps(res rundir.Results) map[int]bool {
	want := map[int]bool{}
	for _, c := range res.Checks {
		for _, an := range c.Anomalies {
			for _, i := range an.Ops {
				want[i] = true
			}
		}
	}
	return want
}

// anomalyCards makes one card per anomaly kind found by any check.
func anomalyCards(in Input, a *analysis, facts targetFacts) []card {
	type group struct {
		count   int
		by      []string
		best    *checkers.Anomaly
		bestBy  string
		all     []*checkers.Anomaly
		results []*checkers.Result
	}
	groups := map[string]*group{}
	var kinds []string
	res := in.Results
	for ci := range res.Checks {
		c := &res.Checks[ci]
		seen := map[string]bool{}
		add := func(kind string) *group {
			g := groups[kind]
			if g == nil {
				g = &group{}
				groups[kind] = g
				kinds = append(kinds, kind)
			}
			if !seen[kind] {
				seen[kind] = true
				g.by = append(g.by, checkName(c))
				g.results = append(g.results, &c.Result)
			}
			return g
		}
		for kind, n := range c.AnomalyCounts {
			add(kind).count += n
		}
		for ai := range c.Anomalies {
			an := &c.Anomalies[ai]
			g := add(an.Kind)
			if c.AnomalyCounts[an.Kind] == 0 {
				g.count++ // a result without counts: count what it lists
			}
			g.all = append(g.all, an)
			if g.best == nil || len(an.Ops) < len(g.best.Ops) {
				g.best, g.bestBy = an, checkName(c)
			}
		}
	}
	sort.Slice(kinds, func(i, j int) bool {
		if groups[kinds[i]].count != groups[kinds[j]].count {
			return groups[kinds[i]].count > groups[kinds[j]].count
		}
		return kinds[i] < kinds[j]
	})
	var cards []card
	for n, kind := range kinds {
		g := groups[kind]
		e := explain(kind)
		sort.Strings(g.by)
		c := card{
			ID:       "anomaly-" + strconv.Itoa(n+1),
			Class:    "anomaly",
			Kind:     kind,
			Title:    e.Title,
			Count:    g.count,
			FoundBy:  strings.Join(g.by, ", "),
			What:     e.What,
			Cause:    e.Cause,
			Concrete: facts.sentences(e.Facts),
		}
		if g.best != nil {
			c.Witness = witness(a, g.best, g.bestBy)
			for _, o := range g.all {
				if o == g.best || len(c.Others) >= 10 {
					continue
				}
				c.Others = append(c.Others, otherView{Key: o.Key, Message: o.Message, Ops: opList(o.Ops)})
			}
			c.OthersOf = g.count - 1
		}
		for _, r := range g.results {
			for _, art := range r.Artifacts {
				if !filepath.IsLocal(art) {
					continue
				}
				if isCycleDrawing(art) {
					if !strings.HasPrefix(filepath.Base(art), kind+"-") {
						continue // another class's drawing
					}
					if in.Dir != "" {
						if data, err := os.ReadFile(filepath.Join(in.Dir, art)); err == nil && len(c.Drawings) < 10 {
							c.Drawings = append(c.Drawings, drawingView{
								Src:   template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(data)),
								Label: art,
							})
							continue
						}
						c.Missing = append(c.Missing, art)
						continue
					}
				}
				if in.Dir != "" {
					if _, err := os.Stat(filepath.Join(in.Dir, art)); err != nil {
						c.Missing = append(c.Missing, art)
						continue
					}
				}
				l := linkView{Href: filepath.ToSlash(art), Label: art}
				c.Links = append(c.Links, l)
				if c.Witness != nil && art == checkers.VisualizationFile(c.Witness.Key) {
					c.Witness.Viz = &l
				}
			}
		}
		cards = append(cards, c)
	}
	return cards
}

// isCycleDrawing reports whether an artifact is a cycle drawing of the
// transactional checkers (elle/<kind>-<n>.svg).
func isCycleDrawing(art string) bool {
	return strings.HasPrefix(filepath.ToSlash(art), "elle/") && strings.HasSuffix(art, ".svg")
}

func checkName(c *rundir.Check) string {
	if c.Workload == "" {
		return c.Checker
	}
	return c.Workload + " / " + c.Checker
}

// witness shows an anomaly's operations (a: the history's analysis, nil
// without a history).
func witness(a *analysis, an *checkers.Anomaly, by string) *witnessView {
	w := &witnessView{Checker: by, Key: an.Key, Message: an.Message}
	if an.StalenessNS > 0 {
		w.Staleness = fmtDuration(an.StalenessNS)
	}
	if a == nil {
		w.Unresolved = an.Ops
		return w
	}
	lo, hi := int64(-1), int64(-1)
	ops := append([]int(nil), an.Ops...)
	sort.Ints(ops)
	for _, idx := range ops {
		op, ok := a.picked[idx]
		if idx < 0 || idx >= a.n || !ok {
			w.Unresolved = append(w.Unresolved, idx)
			continue
		}
		if lo < 0 || op.Time < lo {
			lo = op.Time
		}
		if op.Time > hi {
			hi = op.Time
		}
		w.Ops = append(w.Ops, opRowOf(&op, a))
	}
	if lo >= 0 {
		w.Span = fmtSec(lo) + "–" + fmtSec(hi) + " s"
		seen := map[string]bool{}
		for k := range a.faults {
			f := &a.faults[k]
			if f.Start <= hi && lo <= f.End {
				s := faultLabel(f)
				if !seen[s] {
					seen[s] = true
					w.Faults = append(w.Faults, s)
				}
			}
		}
	}
	return w
}

func faultLabel(f *fault) string {
	s := f.Name
	if f.Desc != "" {
		s += " (" + f.Desc + ")"
	}
	return s
}

// opRowOf renders one history op for a table.
func opRowOf(op *history.Op, a *analysis) opRow {
	r := opRow{
		Index:   op.Index,
		Process: op.Process.String(),
		Node:    op.Node,
		Type:    op.Type.String(),
		F:       op.F,
		Key:     op.Key,
		Value:   boundedValue(op.Value, 300),
		Error:   op.Error,
		Time:    fmtSec(op.Time),
	}
	if a != nil {
		r.Faults = strings.Join(a.activeAt(op.Time), "; ")
	}
	return r
}

// unavailableCard reports client operations that failed as unavailable,
// when there are many.
func unavailableCard(a *analysis, facts targetFacts) *card {
	if a.unavail == 0 || (a.unavail*100 < a.completions && a.unavail < 100) {
		return nil
	}
	u := &unavailView{
		Total:   a.unavail,
		During:  a.unavailDuring,
		Outside: a.unavail - a.unavailDuring,
		Fails:   a.fails,
		Percent: strconv.FormatFloat(100*float64(a.unavail)/float64(max(a.completions, 1)), 'f', 1, 64),
		Sample:  a.unavailSample,
	}
	c := &card{
		ID:    "unavailable",
		Class: "unavail",
		Kind:  "unavailable",
		Title: "Unavailable",
		Count: a.unavail,
		What: "Client operations failed because the database refused them, typically because the coordinator could not reach enough replicas for the requested consistency level. " +
			"A definite failure is correct behaviour (nothing was applied): it is the availability a consistency level costs under faults.",
		Cause: "Consistency levels that need many replicas (QUORUM with a majority cut off, ALL with any node down) during faults. " +
			"Failures outside faults point to a cluster that is undersized for the level, or slow to recover after healing.",
		Unavail: u,
	}
	if s := facts.sentence(factAvailability); s != "" {
		c.Concrete = append(c.Concrete, s)
	}
	return c
}

// unknownCards makes one card per check that could not decide.
func unknownCards(res rundir.Results) []card {
	var out []card
	for i := range res.Checks {
		c := &res.Checks[i]
		if c.Verdict == checkers.Valid || c.Verdict == checkers.Invalid {
			continue
		}
		reason := c.Reason
		if reason == "" {
			reason = "the checker gave no reason"
		}
		out = append(out, card{
			ID:      "unknown-" + strconv.Itoa(i+1),
			Class:   "unknown",
			Kind:    "unknown",
			Title:   "Undecided: " + checkName(c),
			FoundBy: checkName(c),
			What: "This checker could not decide whether the history has anomalies of its kind. Unknown is not valid: " +
				"the guarantee was not verified. The usual causes are a time limit too short for the search, or operations the checker cannot interpret.",
			Reason: reason,
		})
	}
	return out
}

// boundedValue renders v like Value.String, cut at about limit bytes so
// that a huge set read stays readable (and the page small).
func boundedValue(v history.Value, limit int) string {
	var b strings.Builder
	writeBounded(&b, v, limit)
	return b.String()
}

func writeBounded(b *strings.Builder, v history.Value, limit int) {
	if b.Len() > limit {
		return
	}
	switch v.Kind() {
	case history.KindNil:
		b.WriteString("nil")
	case history.KindInt:
		i, _ := v.AsInt()
		b.WriteString(strconv.FormatInt(i, 10))
	case history.KindString:
		s, _ := v.AsString()
		if len(s) > limit {
			s = s[:limit] + "…"
		}
		b.WriteString(strconv.Quote(s))
	case history.KindList:
		l, _ := v.AsList()
		b.WriteByte('[')
		for i, e := range l {
			if b.Len() > limit {
				fmt.Fprintf(b, " … %d more of %d", len(l)-i, len(l))
				break
			}
			if i > 0 {
				b.WriteByte(' ')
			}
			writeBounded(b, e, limit)
		}
		b.WriteByte(']')
	}
}

// shellJoin quotes args for a POSIX shell.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// countsSummary renders anomaly counts as "kind=n kind=n".
func countsSummary(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Itoa(m[k])
	}
	return strings.Join(parts, " ")
}

func tallySummary(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + strconv.FormatInt(m[k], 10)
	}
	return strings.Join(parts, ", ")
}

// opList renders witness indexes as "#1 #2 #3".
func opList(ops []int) string {
	parts := make([]string, 0, len(ops))
	for i, o := range ops {
		if i == 12 {
			parts = append(parts, fmt.Sprintf("… (%d ops)", len(ops)))
			break
		}
		parts = append(parts, "#"+strconv.Itoa(o))
	}
	return strings.Join(parts, " ")
}

// buildMeasures formats the measurements; nil when there are none.
func buildMeasures(m measures.Measurements) *measuresView {
	lat := m.Latency
	if len(m.Failovers) == 0 && m.WitnessStaleness == nil && m.Staleness == nil && len(m.ReplicationLag) == 0 && len(m.Availability) == 0 && len(m.Quorum) == 0 &&
		lat.Read.Count == 0 && lat.Write.Count == 0 && m.ReadRoutes == nil {
		return nil
	}
	mv := &measuresView{Quorum: m.Quorum}
	addLat := func(where, kind string, s measures.LatencyStats) {
		if s.Count == 0 {
			return
		}
		mv.Latency = append(mv.Latency, opLatencyRow{Where: where, Kind: kind, Count: s.Count,
			P50: fmtDuration(s.P50NS), P99: fmtDuration(s.P99NS), MaxDur: fmtDuration(s.MaxNS)})
	}
	addLat("all nodes", "read", lat.Read)
	addLat("all nodes", "write", lat.Write)
	for _, rl := range lat.Regions {
		addLat("served in "+rl.Region, "read", rl.Read)
		addLat("served in "+rl.Region, "write", rl.Write)
	}
	for _, f := range m.Failovers {
		els := make([]string, len(f.LostElements))
		for i, e := range f.LostElements {
			els[i] = strconv.FormatInt(e, 10)
		}
		row := failoverRow{
			Desc: f.Description, Start: fmt.Sprintf("%.3f", float64(f.StartNS)/1e9),
			Downtime: fmtDuration(f.DowntimeNS), Lost: f.LostWrites, Elements: strings.Join(els, " "),
		}
		if f.LossWindowNS > 0 {
			row.Window = fmtDuration(f.LossWindowNS)
		}
		mv.Failovers = append(mv.Failovers, row)
	}
	if d := m.WitnessStaleness; d != nil {
		of := d.Of
		if of == "" {
			of = "stale reads"
		}
		mv.Staleness = &stalenessRow{Source: d.Source, Of: of, Count: d.Count, P50: fmtDuration(d.P50NS), P90: fmtDuration(d.P90NS), P99: fmtDuration(d.P99NS), MaxDur: fmtDuration(d.MaxNS)}
	}
	pct := func(o measures.Outcomes) string {
		n := o.OK + o.Fail + o.Info
		if n == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(o.OK)/float64(n))
	}
	for _, a := range m.Availability {
		mv.Availability = append(mv.Availability, availabilityRow{Fault: a.Fault, During: a.During, Outside: a.Outside, DuringPct: pct(a.During), OutsidePct: pct(a.Outside)})
	}
	if r := m.ReadRoutes; r != nil {
		rv := &routesView{Reads: r.Reads, ToPrimary: r.ToPrimary, Share: fmt.Sprintf("%.1f%%", 100*r.PrimaryShare)}
		for _, k := range slices.Sorted(maps.Keys(r.ByRoute)) {
			rv.Rows = append(rv.Rows, routeRow{Route: k, Reads: r.ByRoute[k]})
		}
		mv.Routes = rv
	}
	return mv
}
