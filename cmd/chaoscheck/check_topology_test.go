package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/chaoscheck/chaoscheck/measures"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// chaoscheck check of a run directory's history gives the latency per
// region, from the typed topology of the test.json beside it, as the run
// did; a history alone gives none.
func TestCheckRegionsFromTopology(t *testing.T) {
	st := t.TempDir()
	if code := run([]string{"test", "--store", st, "--name", "regions", "--nodes", "4", "--regions", "2", "--region-rtt", "20ms",
		"--cl", "LOCAL_QUORUM", "--workload", "register", "--nemesis", "none", "--time-limit", "1s", "--seed", "3"}); code == exitBadInput || code == exitCrashed {
		t.Fatalf("test: exit %d", code)
	}
	dir := filepath.Join(st, "regions", "latest")
	var ti rundir.TestInfo
	if err := rundir.ReadJSON(filepath.Join(dir, rundir.TestFile), &ti); err != nil {
		t.Fatal(err)
	}
	if ti.Facts == nil || ti.Facts.Topology == nil || len(ti.Facts.Topology.Regions) != 2 || ti.Facts.Topology.RegionRTTNS != 20e6 {
		t.Fatalf("test.json facts: %+v", ti.Facts)
	}
	regions := func(path string) []string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Measurements measures.Measurements `json:"measurements"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, rl := range r.Measurements.Latency.Regions {
			out = append(out, rl.Region)
		}
		return out
	}
	want := regions(filepath.Join(dir, rundir.ResultsFile))
	if len(want) != 2 {
		t.Fatalf("the run's results give latency for regions %v, want 2", want)
	}
	out := t.TempDir()
	run([]string{"check", "--out", out, "--checker", "linearizable", filepath.Join(dir, rundir.HistoryFile)})
	if got := regions(filepath.Join(out, rundir.ResultsFile)); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("check of the run's history: latency for regions %v, want %v", got, want)
	}
	// The history alone, away from its test.json: no regions.
	alone := filepath.Join(t.TempDir(), "h.jsonl")
	b, err := os.ReadFile(filepath.Join(dir, rundir.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out2 := t.TempDir()
	run([]string{"check", "--out", out2, "--checker", "linearizable", alone})
	if got := regions(filepath.Join(out2, rundir.ResultsFile)); len(got) != 0 {
		t.Errorf("a history without test.json: regions %v", got)
	}
}

// chaoscheck check of a run directory's history measures what the run
// measured: the replication lag from the lag.jsonl beside it, against
// the run's --lag-alert, and the availability next to the quorum
// arithmetic, from N, R and W in test.json. Before, check gave neither.
func TestCheckMeasuresLagAndQuorumsAsTheRun(t *testing.T) {
	st := t.TempDir()
	if code := run([]string{"test", "--store", st, "--name", "lagq", "--cl", "ONE", "--workload", "register", "--nemesis", "kill",
		"--nemesis-interval", "400ms", "--lag-alert", "30ms", "--time-limit", "2s", "--seed", "5"}); code == exitBadInput || code == exitCrashed {
		t.Fatalf("test: exit %d", code)
	}
	dir := filepath.Join(st, "lagq", "latest")
	type figures struct {
		Lag    []measures.ReplicaLag
		Quorum []measures.QuorumAvailability
	}
	read := func(path string) figures {
		t.Helper()
		var r struct {
			Measurements measures.Measurements `json:"measurements"`
		}
		if err := rundir.ReadJSON(path, &r); err != nil {
			t.Fatal(err)
		}
		return figures{r.Measurements.ReplicationLag, r.Measurements.Quorum}
	}
	want := read(filepath.Join(dir, rundir.ResultsFile))
	if len(want.Lag) == 0 || len(want.Quorum) < 2 {
		t.Fatalf("the run measured %d replicas' lag and %d quorum rows; want both (a kill takes a replica down)", len(want.Lag), len(want.Quorum))
	}
	if want.Lag[0].AlertNS != 30e6 {
		t.Fatalf("the run's lag alert %d, want 30ms", want.Lag[0].AlertNS)
	}
	out := t.TempDir()
	run([]string{"check", "--out", out, filepath.Join(dir, rundir.HistoryFile)})
	got := read(filepath.Join(out, rundir.ResultsFile))
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	if string(wj) != string(gj) {
		t.Errorf("check of the run's history measured\n%s\nthe run measured\n%s", gj, wj)
	}
}
