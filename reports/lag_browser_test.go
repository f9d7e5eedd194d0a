package reports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/measures"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// addLag gives the fixture run in dir a lag.jsonl (two replicas sampled
// every 50 ms: n2 behind by 20 ms outside the faults and 300 ms during
// them, n3 with a failed sample in each fault) and the measurements
// computed from it and from the history.
func addLag(t *testing.T, dir string, fx *fixture) {
	t.Helper()
	a := mustAnalyze(t, fx.History)
	w, err := lag.Create(filepath.Join(dir, lag.File))
	if err != nil {
		t.Fatal(err)
	}
	inFault := func(at int64) bool {
		for _, f := range a.faults {
			if at >= f.Start && at < f.End {
				return true
			}
		}
		return false
	}
	for at := int64(0); at <= a.end; at += 50e6 {
		n2, n3 := lag.Sample{Time: at, Node: "n2", Of: "n1", LagNS: lag.Int64(20e6), Bytes: lag.Int64(100)}, lag.Sample{Time: at, Node: "n3", Of: "n1", LagNS: lag.Int64(5e6)}
		if inFault(at) {
			n2.LagNS, n2.Bytes = lag.Int64(300e6), lag.Int64(90000)
			n3 = lag.Sample{Time: at, Node: "n3", Err: "no answer within the sampling interval (50ms)"}
		}
		if err := w.Write([]lag.Sample{n2, n3}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	m, err := measures.Compute(fx.History, rundir.CheckResults(fx.Results.Checks), measures.Options{LagFile: filepath.Join(dir, lag.File), LagAlertNS: 100e6})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ReplicationLag) != 2 || m.ReplicationLag[0].OverAlertNS == 0 || m.Staleness == nil || m.Staleness.Reads == 0 {
		t.Fatalf("fixture measurements: lag %+v, staleness %+v", m.ReplicationLag, m.Staleness)
	}
	fx.Results.Measurements = m
	fx.Test.Lag = &rundir.LagConfig{IntervalNS: 50e6, AlertNS: 100e6}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.ResultsFile), fx.Results); err != nil {
		t.Fatal(err)
	}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.TestFile), fx.Test); err != nil {
		t.Fatal(err)
	}
}

// The replication-lag section in a browser: a chart per replica with
// the fault bands, the lag line and the dashed alert line; the failed
// samples at the foot; the time over the alert stated; the staleness
// chart; and the operations per node over time.
func TestBrowserLagSection(t *testing.T) {
	b := newBrowser(t)
	dir := t.TempDir()
	fx := makeRun(t, dir)
	addLag(t, dir, fx)
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	b.open(t, "file://"+filepath.Join(dir, "report.html"))
	if n := b.count(t, "section#lag svg.chart.lag"); n != 2 {
		t.Fatalf("%d lag charts, want 2 (n2, n3)", n)
	}
	if n := b.count(t, "svg.chart.lag path.lagline"); n != 2 {
		t.Errorf("%d lag lines, want 2", n)
	}
	if n := b.count(t, "svg.chart.lag rect.band"); n == 0 {
		t.Error("the lag charts have no fault band")
	}
	if n := b.count(t, "section#lag line.alert"); n != 3 {
		t.Errorf("%d alert lines, want 3 (two replicas and the staleness chart)", n)
	}
	if n := b.count(t, "svg.chart.lag path.lagfail"); n != 1 {
		t.Errorf("%d failed-sample marks, want 1 (n3)", n)
	}
	// The lag line is drawn: n2's path has segments up to the fault level
	// (the highest point of the plot is near its top).
	segs, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelector("svg.chart.lag path.lagline").getAttribute("d").split("L").length`))
	if err != nil || segs < 50 {
		t.Errorf("n2's lag line has %d segments (%v)", segs, err)
	}
	if s := b.text(t, "section#lag p.lagsum"); !strings.Contains(s, "over the 100 ms alert for") || !strings.Contains(s, "samples, 0 failed") {
		t.Errorf("n2 summary %q", s)
	}
	if n := b.count(t, "section#lag svg.chart.staleness polyline.staleline"); n != 1 {
		t.Errorf("%d staleness lines, want 1", n)
	}
	if s := b.text(t, "section#lag p.stalesum"); !strings.Contains(s, "reads stale") {
		t.Errorf("staleness summary %q", s)
	}
	if n := b.count(t, "section#nodes svg.chart.nodes-over-time polyline"); n != 3 {
		t.Errorf("%d node lines over time, want 3", n)
	}
	shot(t, b, "section#lag", filepath.Join(artifactDir(t), "lag.png"))
	if errs := b.errs(); len(errs) > 0 {
		t.Errorf("JavaScript or console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// shot writes a PNG of the first element matching sel.
func shot(t *testing.T, b *browser, sel, path string) {
	t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("screenshot of %s: %v", sel, err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// TestBrowserLagScreenshot makes docs/lag.png from a real run:
// CHAOSCHECK_LAG_RUN=<run directory> CHAOSCHECK_ARTIFACTS=<dir> writes
// <dir>/lag.png, the report's replication-lag section. Skipped without
// the variable.
func TestBrowserLagScreenshot(t *testing.T) {
	dir := os.Getenv("CHAOSCHECK_LAG_RUN")
	if dir == "" {
		t.Skip("CHAOSCHECK_LAG_RUN names no run directory")
	}
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	b.open(t, "file://"+filepath.Join(dir, "report.html"))
	if n := b.count(t, "section#lag svg.chart.lag"); n == 0 {
		t.Fatal("the run's report has no lag chart")
	}
	shot(t, b, "section#lag", filepath.Join(artifactDir(t), "lag.png"))
}
