package reports

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/checkers/elle"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// A report of a transactional check explains each Elle anomaly class by
// what it means and which levels forbid it, and inlines the drawing of
// its cycle.
func TestReportElleCards(t *testing.T) {
	dir := t.TempDir()
	h, _, err := history.Load(filepath.Join("..", "testdata", "elle", "la-041-g-nonadjacent.edn"), history.FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, rundir.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := history.WriteJSONL(f, h); err != nil {
		t.Fatal(err)
	}
	f.Close()
	res := elle.New(elle.Options{Workload: elle.ListAppend, OutDir: dir}).Check(context.Background(), h)
	if len(res.Artifacts) != 1 {
		t.Fatalf("artifacts %v", res.Artifacts)
	}
	checks := []rundir.Check{{Workload: "list-append", Result: res}}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.ResultsFile), rundir.Results{SchemaVersion: rundir.SchemaVersion, Verdict: rundir.Verdict(checks), Checks: checks, History: rundir.HistoryFile}); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, rundir.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Non-adjacent anti-dependency cycle (G-nonadjacent)",
		"Forbidden by repeatable-read and snapshot-isolation and every stronger level",
		`<img src="data:image/svg&#43;xml;base64,`,
		"T1 &lt; T2 because",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// Every Elle anomaly class has its own card text and says which levels
// forbid it.
func TestElleExplanations(t *testing.T) {
	for _, k := range []string{"G0", "G1a", "G1b", "G1c", "G1c-process", "G-single-item", "G-single-item-realtime", "G-nonadjacent-item",
		"G2-item", "G2-item-process", "internal", "dirty-update", "duplicate-elements", "incompatible-order", "future-read", "cyclic-versions"} {
		e := explain(k)
		if strings.Contains(e.What, "has no specific explanation") || !strings.Contains(e.What, "Forbidden by") {
			t.Errorf("%s: %q", k, e.What)
		}
	}
	if e := explain("G-single-item"); !strings.Contains(e.What, "Forbidden by consistent-view and repeatable-read") {
		t.Errorf("G-single-item: %q", e.What)
	}
	if e := explain("G2-item"); !strings.Contains(e.What, "Forbidden by repeatable-read and") || strings.Contains(e.What, "snapshot-isolation and") {
		t.Errorf("G2-item must be forbidden by repeatable read, not snapshot isolation: %q", e.What)
	}
	if e := explain("empty-transaction-graph"); !strings.Contains(e.What, "No isolation level forbids it") {
		t.Errorf("empty-transaction-graph: %q", e.What)
	}
}
