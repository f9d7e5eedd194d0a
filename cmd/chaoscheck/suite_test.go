package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/suite"
)

// runSuite runs chaoscheck with args and returns the exit code, the
// standard output and the standard error.
func runSuite(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runWith(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// suiteDir is the only suite directory under store/<name>.
func suiteDir(t *testing.T, store, name string) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(filepath.Join(store, name, "latest"))
	if err != nil {
		t.Fatalf("suite directory: %v", err)
	}
	return d
}

type junitDoc struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Suites   []struct {
		Cases []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, dir string) (junitDoc, map[string]string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, suite.JUnitFile))
	if err != nil {
		t.Fatal(err)
	}
	var j junitDoc
	if err := xml.Unmarshal(b, &j); err != nil {
		t.Fatalf("junit.xml: %v", err)
	}
	failures := map[string]string{}
	for _, s := range j.Suites {
		for _, c := range s.Cases {
			switch {
			case c.Failure != nil:
				failures[c.Name] = c.Failure.Message
			case c.Error != nil:
				failures[c.Name] = "ERROR " + c.Error.Message
			default:
				failures[c.Name] = ""
			}
		}
	}
	return j, failures
}

func writeSuite(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "suite.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A bad suite file is refused before anything runs, with the file and
// line, and exit 254; so is a setting that chaoscheck test refuses.
func TestSuiteBadFileExit254(t *testing.T) {
	store := t.TempDir()
	for _, tc := range []struct{ body, want string }{
		{"suite: s\ncases:\n  - name: async-failover\n    target: sim\n    nemesis: partitoin\n    expect: valid\n",
			`suite.yaml:5: case "async-failover": unknown nemesis "partitoin"`},
		{"suite: s\ncases:\n  - name: a\n    target: sim\n    replication: sync\n    expect: valid\n",
			`suite.yaml:5: case "a": --replication applies to --target postgres`},
		{"suite: s\ncases:\n  - name: a\n    no-such-flag: 1\n    expect: valid\n",
			`suite.yaml:4: case "a": unknown flag: --no-such-flag`},
		{"suite: s\ncases:\n  - name: a\n    matrix:\n      cl: [ONE, TWELVE]\n    expect: valid\n",
			`suite.yaml:5: case "a": --cl: `},
		{"suite: s\ncases:\n  - name: a\n    time-limit: soon\n    expect: valid\n",
			`suite.yaml:4: case "a": invalid argument "soon" for "--time-limit"`},
		{"suite: s\ncases:\n  - name: a\n    expect: {p99-write-latency: \"< fast\"}\n",
			`suite.yaml:4: case "a": expect: p99-write-latency: "fast" is not a duration`},
	} {
		code, _, errOut := runSuite(t, "suite", "run", writeSuite(t, tc.body), "--store", store)
		if code != exitBadInput || !strings.Contains(errOut, tc.want) {
			t.Errorf("exit %d, stderr %q; want 254 and %q", code, errOut, tc.want)
		}
	}
	if entries, _ := os.ReadDir(store); len(entries) != 0 {
		t.Errorf("a refused suite wrote to the store: %v", entries)
	}
	if code, _, _ := runSuite(t, "suite", "run", filepath.Join(t.TempDir(), "missing.yaml")); code != exitBadInput {
		t.Errorf("missing file: exit %d", code)
	}
	if code, _, errOut := runSuite(t, "suite", "run", writeSuite(t, "suite: s\ncases:\n  - name: a\n    expect: valid\n"), "--only", "b"); code != exitBadInput || !strings.Contains(errOut, "--only b") {
		t.Errorf("--only of no case: exit %d %s", code, errOut)
	}
}

// invertedSuite holds, for every expectation kind, a cell whose
// expectation is the opposite of what its run shows (the runs are the
// sim lessons). Each must fail, saying what was expected and seen.
const invertedSuite = `suite: inverted
defaults:
  time-limit: 1500ms
  concurrency: 4
  rate: 300
  recovery-time: 200ms
  nemesis: none
cases:
  - name: one-is-valid
    cl: ONE
    workload: ryw
    expect: valid
  - name: one-has-no-ryw-anomaly
    cl: ONE
    workload: ryw
    expect: {no-anomaly: read-your-writes}
  - name: all-is-invalid
    cl: ALL
    workload: [register, ryw]
    cas: false
    expect: invalid
  - name: all-is-unknown
    cl: ALL
    workload: ryw
    expect: unknown
  - name: quorum-has-ryw-anomaly
    cl: QUORUM
    workload: ryw
    nemesis: partition
    nemesis-interval: 400ms
    expect: {anomaly: read-your-writes}
  - name: undecided-is-valid
    cl: ALL
    workload: register
    cas: false
    concurrency: 8
    rate: 2000
    check-time-limit: 1ns
    expect:
      - valid
      - no-anomaly: non-linearizable
  - name: latency-is-tiny
    cl: ALL
    workload: register
    expect:
      - p99-write-latency: "< 1us"
      - p99-read-latency: "< 1us"
      - p50-write-latency: "< 1us"
      - p50-read-latency: "< 1us"
  - name: fewer-than-one-ok
    cl: ALL
    workload: register
    expect: {ok-operations: "< 1"}
  - name: even-load-is-hot
    cl: ONE
    workload: register
    expect: {imbalance: ">= 2"}
  - name: quorum-two-down-available
    cl: QUORUM
    workload: register
    nemesis: kill
    nemesis-nodes: 2
    nemesis-interval: 500ms
    expect:
      - availability: ">= 99%"
      - availability-2-down: ">= 50%"
  - name: quorum-one-down-unavailable
    cl: QUORUM
    workload: register
    nemesis: kill
    nemesis-nodes: 1
    nemesis-interval: 500ms
    expect: {availability-1-down: "< 50%"}
  - name: lww-skew-loses-nothing
    cl: QUORUM
    workload: set
    set-mode: lww
    concurrency: 1
    time-limit: 2s
    nemesis: clock
    nemesis-interval: 400ms
    expect: {lost-writes: "== 0"}
  - name: no-failover-downtime
    cl: QUORUM
    workload: register
    expect:
      - failover-downtime: "< 1s"
      - lost-acknowledged-writes: "== 0"
`

// Every expectation kind is shown to fail: each cell of invertedSuite
// expects the opposite of what its run shows, and the suite exits 1 with
// a junit failure per cell naming what was expected and what was seen.
func TestSuiteInvertedExpectationsFail(t *testing.T) {
	store := t.TempDir()
	code, out, errOut := runSuite(t, "suite", "run", writeSuite(t, invertedSuite), "--store", store)
	if code != exitInvalid {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	dir := suiteDir(t, store, "inverted")
	j, failures := readJUnit(t, dir)
	want := map[string][]string{
		"one-is-valid":                {"expected verdict valid; seen verdict invalid (", "read-your-writes: "},
		"one-has-no-ryw-anomaly":      {"expected no anomaly read-your-writes; seen "},
		"all-is-invalid":              {"expected verdict invalid; seen verdict valid"},
		"all-is-unknown":              {"expected verdict unknown; seen verdict valid"},
		"quorum-has-ryw-anomaly":      {"expected anomaly read-your-writes; seen 0 read-your-writes anomalies; verdict valid"},
		"undecided-is-valid":          {"expected verdict valid; seen verdict unknown", "expected no anomaly non-linearizable; seen 0 non-linearizable anomalies; verdict unknown; undecided: register/linearizable"},
		"latency-is-tiny":             {"expected p99-write-latency < 1µs; seen p99-write-latency ", "expected p99-read-latency < 1µs", "expected p50-write-latency < 1µs", "expected p50-read-latency < 1µs"},
		"fewer-than-one-ok":           {"expected ok-operations < 1; seen ok-operations "},
		"even-load-is-hot":            {"expected imbalance >= 2; seen imbalance 1."},
		"quorum-two-down-available":   {"expected availability >= 99%; seen availability ", "expected availability-2-down >= 50%; seen availability-2-down "},
		"quorum-one-down-unavailable": {"expected availability-1-down < 50%; seen availability-1-down "},
		"lww-skew-loses-nothing":      {"expected lost-writes == 0; seen lost-writes "},
		"no-failover-downtime":        {"expected failover-downtime < 1s; seen failover-downtime unknown: no failover happened", "expected lost-acknowledged-writes == 0; seen lost-acknowledged-writes unknown: no failover happened"},
	}
	if j.Tests != len(want) || j.Failures != len(want) || j.Errors != 0 {
		t.Errorf("junit: %d tests, %d failures, %d errors; want %d, %d, 0", j.Tests, j.Failures, j.Errors, len(want), len(want))
	}
	for cell, subs := range want {
		msg, ok := failures[cell]
		if !ok {
			t.Errorf("%s: no test case in junit.xml", cell)
			continue
		}
		for _, s := range subs {
			if !strings.Contains(msg, s) {
				t.Errorf("%s: failure message %q lacks %q", cell, msg, s)
			}
		}
	}
	var res suite.Results
	if err := rundir.ReadJSON(filepath.Join(dir, suite.ResultsFile), &res); err != nil {
		t.Fatal(err)
	}
	if res.NotHeld != len(want) || res.Held != 0 || res.NotRun != 0 {
		t.Errorf("results.json: %d held, %d not held, %d not run", res.Held, res.NotHeld, res.NotRun)
	}
	for _, c := range res.Cells {
		if _, err := os.Stat(filepath.Join(dir, c.Dir, rundir.ReportFile)); err != nil {
			t.Errorf("%s: no report in its run directory %q: %v", c.Name, c.Dir, err)
		}
	}
	if !strings.Contains(errOut, "[13/13] no-failover-downtime (0 left after it,") {
		t.Errorf("progress lacks the last cell:\n%s", errOut)
	}
}

// --list prints every cell with its command line, expectations and
// shared deployment, and runs nothing; --only selects cases or cells;
// --set overrides a setting of every cell.
func TestSuiteListOnlySet(t *testing.T) {
	store := t.TempDir()
	code, out, errOut := runSuite(t, "suite", "run", "../../examples/distributed-data.yaml", "--list", "--only", "quorums,mistake-async-failover", "--set", "time-limit=2s", "--store", store)
	if code != exitValid {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{
		"suite distributed-data (../../examples/distributed-data.yaml): 5 cells",
		" 1. mistake-async-failover  [mistake-async-failover | nemesis failover]  deploys its cluster",
		"chaoscheck test --time-limit=2s --concurrency=6 --rate=300 --recovery-time=1s --target=postgres --replication=async --workload=set --nemesis=failover --nemesis-interval=2s\n",
		"expect: anomaly lost; lost-acknowledged-writes > 0",
		" 3. quorums-QUORUM-partition  [quorums cl=QUORUM | nemesis partition]  shares the cluster of quorums-QUORUM-none (data reset)",
		"expect: anomaly read-your-writes",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("--list output lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "sharding") {
		t.Errorf("--only listed a case it did not name:\n%s", out)
	}
	if entries, _ := os.ReadDir(store); len(entries) != 0 {
		t.Errorf("--list wrote to the store: %v", entries)
	}
	if code, _, errOut := runSuite(t, "suite", "run", "../../examples/distributed-data.yaml", "--list", "--set", "store=/tmp"); code != exitBadInput || !strings.Contains(errOut, "--set store") {
		t.Errorf("--set store: exit %d %s", code, errOut)
	}
}
