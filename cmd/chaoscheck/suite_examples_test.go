package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/internal/browsertest"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/suite"
)

// requireSuiteTargets probes the targets of the suite file's cells (root,
// packages, runtimes) and skips the test when one is missing, or fails it
// under CI.
func requireSuiteTargets(t *testing.T, file string, only ...string) {
	t.Helper()
	f, err := suite.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := suite.NewPlan(f, buildSuiteCell, suite.PlanOptions{Only: only})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, c := range pl.Cells {
		b := c.Built()
		if c.Group != i || b.Probe == nil {
			continue
		}
		if err := b.Probe(ctx); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s: %s: %v", file, c.Name, err)
			}
			t.Skipf("%s: %s: %v (set CI to make this a failure)", file, c.Name, err)
		}
	}
}

// exampleResults reads the suite's results.json.
func exampleResults(t *testing.T, dir string) suite.Results {
	t.Helper()
	var res suite.Results
	if err := rundir.ReadJSON(filepath.Join(dir, suite.ResultsFile), &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// checkSummaryInBrowser opens the suite's summary page in headless
// chromium: the matrix has a cell per run, each with its status, every
// report link resolves to a file, and no script error occurs. A
// screenshot goes to $CHAOSCHECK_ARTIFACTS (or a temporary directory).
func checkSummaryInBrowser(t *testing.T, dir string, res suite.Results, shot string) {
	t.Helper()
	b := browsertest.New(t)
	b.Open(t, "file://"+filepath.Join(dir, suite.SummaryFile))
	if n := b.Count(t, "#matrix td.cell"); n != len(res.Cells) {
		t.Errorf("summary: %d matrix cells, want %d", n, len(res.Cells))
	}
	for _, c := range res.Cells {
		sel := "#matrix td[id='cell-" + c.Name + "']"
		if n := b.Count(t, sel+"[data-status='"+string(c.Status)+"']"); n != 1 {
			t.Errorf("summary: cell %s with status %s: %d found", c.Name, c.Status, n)
		}
		txt := b.Text(t, sel)
		if c.Verdict != "" && !strings.Contains(txt, string(c.Verdict)) {
			t.Errorf("summary: cell %s does not show its verdict %s: %q", c.Name, c.Verdict, txt)
		}
		if !strings.Contains(txt, "p99 read") || !strings.Contains(txt, "p50 read") || !strings.Contains(txt, "availability in faults") {
			t.Errorf("summary: cell %s lacks availability or latency: %q", c.Name, txt)
		}
	}
	links := b.Eval(t, `Array.from(document.querySelectorAll("#matrix a")).map(a => a.href).join("\n")`)
	n := 0
	for _, l := range strings.Split(links, "\n") {
		if l == "" {
			continue
		}
		n++
		if _, err := os.Stat(strings.TrimPrefix(l, "file://")); err != nil {
			t.Errorf("summary: the link %s leads nowhere: %v", l, err)
		}
	}
	if n != len(res.Cells) {
		t.Errorf("summary: %d report links, want %d", n, len(res.Cells))
	}
	if tally := b.Text(t, "#tally"); !strings.Contains(tally, "held") {
		t.Errorf("summary: tally %q", tally)
	}
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("summary: browser errors: %v", errs)
	}
	art := os.Getenv("CHAOSCHECK_ARTIFACTS")
	if art == "" {
		art = t.TempDir()
	} else if err := os.MkdirAll(art, 0o755); err != nil {
		t.Fatal(err)
	}
	b.Screenshot(t, filepath.Join(art, shot))
}

// The course's suite passes: three labs and three mistakes, on the sim,
// PostgreSQL and Redis (about 2 minutes; needs root, postgresql,
// redis-server, chromium). The cells of a lab that share a deployment
// reuse one cluster (sim, and Redis through its Reset).
func TestExampleDistributedData(t *testing.T) {
	dir, res := runExample(t, "distributed-data.yaml", "distributed-data", 9)
	reused := map[string]string{}
	for _, c := range res.Cells {
		reused[c.Name] = c.Deployment
	}
	for cell, from := range map[string]string{"sharding-10": "sharding-0", "quorums-QUORUM-partition": "quorums-QUORUM-none", "quorums-ONE-partition": "quorums-ONE-none"} {
		if want := "reused the cluster of " + from; reused[cell] != want {
			t.Errorf("%s: deployment %q, want %q", cell, reused[cell], want)
		}
	}
	_, failures := readJUnit(t, dir)
	if len(failures) != 9 {
		t.Errorf("junit: %d test cases, want 9", len(failures))
	}
	for name, msg := range failures {
		if msg != "" {
			t.Errorf("junit: %s failed: %s", name, msg)
		}
	}
	page, err := os.ReadFile(filepath.Join(dir, suite.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"nemesis: failover", "nemesis: partition", "quorums cl=ONE", "sharding salt=10", "imbalance", "lost-acknowledged-writes 0"} {
		if !strings.Contains(string(page), s) {
			t.Errorf("summary.html lacks %q", s)
		}
	}
	checkSummaryInBrowser(t, dir, res, "suite-distributed-data.png")
}

// runExample runs examples/file (the suite named name) and requires exit
// 0 with every one of its held cells held; it returns the suite directory
// and its results.
func runExample(t *testing.T, file, name string, held int) (string, suite.Results) {
	t.Helper()
	path := "../../examples/" + file
	requireSuiteTargets(t, path)
	store := t.TempDir()
	code, out, errOut := runSuite(t, "suite", "run", path, "--store", store)
	if code != exitValid {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	dir := suiteDir(t, store, name)
	res := exampleResults(t, dir)
	if res.Held != held || res.NotHeld != 0 || res.NotRun != 0 {
		t.Errorf("%d held, %d not held, %d not run; want %d held", res.Held, res.NotHeld, res.NotRun, held)
	}
	return dir, res
}

// The PostgreSQL suite passes: replication through a failover (sync
// keeps every acknowledged write, async loses some) and the isolation
// levels under list-append, whose three cells run on the cluster of the
// async cell, after its failover (about 1.5 minutes; root, postgresql,
// chromium).
func TestExamplePostgres(t *testing.T) {
	dir, res := runExample(t, "postgres.yaml", "postgres", 5)
	for _, c := range res.Cells {
		if strings.HasPrefix(c.Name, "isolation-") && c.Deployment != "reused the cluster of replication-async" {
			t.Errorf("%s: deployment %q, want the cluster of replication-async", c.Name, c.Deployment)
		}
	}
	// Each isolation cell ran at its own level: its test.json says so.
	for _, level := range []string{"read-committed", "repeatable-read", "serializable"} {
		var info rundir.TestInfo
		runs, _ := filepath.Glob(filepath.Join(dir, "isolation-"+level, "2*", rundir.TestFile))
		if len(runs) != 1 {
			t.Fatalf("isolation-%s: %d test.json files", level, len(runs))
		}
		if err := rundir.ReadJSON(runs[0], &info); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, s := range info.TargetSettings {
			found = found || (s.Name == "isolation" && strings.HasPrefix(s.Value, level+" "))
		}
		if !found {
			t.Errorf("isolation-%s: test.json target settings %v do not name the level", level, info.TargetSettings)
		}
	}
	checkSummaryInBrowser(t, dir, res, "suite-postgres.png")
}

// The Cassandra consistency-level matrix passes on ONE deployed cluster:
// every cell after the first reuses it (about 3 minutes; root, Java 17,
// chromium).
func TestExampleCassandraCL(t *testing.T) {
	dir, res := runExample(t, "cassandra-cl.yaml", "cassandra-cl", 9)
	for i, c := range res.Cells {
		want := "reused the cluster of cl-ONE-none"
		if i == 0 {
			want = "deployed"
		}
		if c.Deployment != want {
			t.Errorf("%s: deployment %q, want %q", c.Name, c.Deployment, want)
		}
	}
	checkSummaryInBrowser(t, dir, res, "suite-cassandra-cl.png")
}

// The expectations that need a failover to show their value fail when
// inverted on a real one: PostgreSQL with asynchronous replication loses
// acknowledged writes, in a failover that takes more than a millisecond
// (about 25 s; root, postgresql).
func TestSuiteInvertedFailover(t *testing.T) {
	file := writeSuite(t, `suite: inverted-failover
cases:
  - name: async-failover
    target: postgres
    replication: async
    workload: set
    nemesis: failover
    nemesis-interval: 2s
    time-limit: 5s
    concurrency: 5
    recovery-time: 1s
    expect:
      - failover-downtime: "< 1us"
      - lost-writes: "== 0"
      - lost-acknowledged-writes: "== 0"
      - no-anomaly: lost
`)
	requireSuiteTargets(t, file)
	store := t.TempDir()
	code, out, errOut := runSuite(t, "suite", "run", file, "--store", store)
	if code != exitInvalid {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	_, failures := readJUnit(t, suiteDir(t, store, "inverted-failover"))
	msg := failures["async-failover"]
	for _, s := range []string{"expected failover-downtime < 1µs; seen failover-downtime ", "expected lost-writes == 0; seen lost-writes ", "expected lost-acknowledged-writes == 0; seen lost-acknowledged-writes ", "expected no anomaly lost; seen "} {
		if !strings.Contains(msg, s) {
			t.Errorf("failure message %q lacks %q", msg, s)
		}
	}
}

// The TOML example runs as its YAML siblings do: ten sim cells (about 35
// s; no root; chromium), every expectation held, the cells of one level
// sharing a cluster.
func TestExampleQuorumsTOML(t *testing.T) {
	dir, res := runExample(t, "quorums.toml", "quorums", 10)
	for _, c := range res.Cells {
		if c.Name == "wr-ONE-kill" && c.Deployment != "reused the cluster of wr-ONE-none" {
			t.Errorf("%s: deployment %q", c.Name, c.Deployment)
		}
	}
	checkSummaryInBrowser(t, dir, res, "suite-quorums.png")
}

// The regions example sets the levels side by side, with and without the
// region delay and with a region cut off (16 sim cells, about 70 s; no
// root; chromium): every expectation held, and the summary's columns
// name the region partition.
func TestExampleRegionsTOML(t *testing.T) {
	dir, res := runExample(t, "regions.toml", "regions", 16)
	cols := map[string]int{}
	for _, c := range res.Cells {
		cols[c.Column]++
		if c.P50WriteNS <= 0 || c.P50ReadNS <= 0 {
			t.Errorf("%s: no p50 latency (read %d, write %d)", c.Name, c.P50ReadNS, c.P50WriteNS)
		}
	}
	if cols["none"] != 8 || cols["region"] != 8 {
		t.Errorf("columns %v, want 8 none and 8 region", cols)
	}
	checkSummaryInBrowser(t, dir, res, "suite-regions.png")
}
