package reports

import (
	"bytes"
	"encoding/xml"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// writeReport makes a run directory and writes its report.
func writeReport(t *testing.T) (*fixture, string) {
	t.Helper()
	dir := t.TempDir()
	fx := makeRun(t, dir)
	if err := Write(dir); err != nil {
		t.Fatalf("Write: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, rundir.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if dst := os.Getenv("CHAOSCHECK_ARTIFACTS"); dst != "" {
		_ = os.MkdirAll(dst, 0o755)
		_ = os.WriteFile(filepath.Join(dst, "report-"+t.Name()+".html"), b, 0o644)
	}
	return fx, string(b)
}

func TestReportSections(t *testing.T) {
	fx, page := writeReport(t)
	mustContain := []string{
		// Header.
		"sim-register", "INVALID", "ONE (R=1)", "register, counter", "partition, kill",
		`chaoscheck test --target sim --read-cl ONE --name &#39;it&#39;\&#39;&#39;s&#39;`,
		// Cards.
		`id="anomaly-1"`, "Stale read", "Not linearizable", "brand-new-kind", "no specific explanation",
		"W + R = 1 + 1 = 2 ≤ N = 3", "Conflict resolution: last write wins", "Coordinator: random node per request",
		"Unavailable", "while a fault was active", "Undecided: counter / counter", "time limit of 1s ran out &lt;b&gt;before&lt;/b&gt; deciding",
		"staleness 12.5 ms",
		`<a href="linearizable-r1.html">linearizable-r1.html</a>`, `<a href="linearizable-r1.html">porcupine's visualization</a>`, "Listed but missing beside this report: linearizable-missing.html",
		// Charts.
		`id="timeline"`, `class="chart timeline"`, `class="chart latency"`, `class="chart throughput"`, `class="chart nodes"`,
		`class="band f0"`, `class="band f1"`, "fault: partition", "fault: kill", `class="mark"`,
		// Faults and checks.
		"isolated n1", `<span class="pill unknown">unknown</span>`,
	}
	text := html.UnescapeString(page)
	for _, s := range mustContain {
		if !strings.Contains(page, s) && !strings.Contains(text, s) {
			t.Errorf("report lacks %q", s)
		}
	}
	// The stale-read card shows its smallest witness (4 ops, not 6).
	card := section(t, page, `<article class="card anomaly" id="anomaly-`, "Stale read")
	for _, idx := range fx.Witness {
		row := `<tr class="ty-` + fx.History.Ops[idx].Type.String() + `"><td class="num">` + strconv.Itoa(idx) + `</td>`
		if !strings.Contains(card, row) {
			t.Errorf("stale-read card lacks witness op #%d (%s)", idx, row)
		}
	}
	if got := strings.Count(card, `<tr class="ty-`); got != len(fx.Witness) {
		t.Errorf("stale-read card shows %d ops, want the smallest witness's %d", got, len(fx.Witness))
	}
	// The witness rows name the faults active at their time.
	a := mustAnalyze(t, fx.History)
	for _, idx := range fx.Witness {
		for _, f := range a.activeAt(fx.History.Ops[idx].Time) {
			if !strings.Contains(card, html.EscapeString(f)) {
				t.Errorf("witness op #%d: active fault %q not shown", idx, f)
			}
		}
	}
	// Every fault band is drawn: one rect per fault per time chart.
	if n := len(a.faults); n == 0 {
		t.Fatal("fixture has no fault")
	} else if got := strings.Count(page, `<rect class="band `); got != 4*n {
		t.Errorf("%d fault band rects, want %d (4 charts x %d faults: timeline, latency, throughput, operations per node)", got, 4*n, n)
	}
	if !regexp.MustCompile(`<title>partition \(isolated n\d\) from \d+\.\d{3} s to \d+\.\d{3} s</title>`).MatchString(page) {
		t.Error("fault band has no title")
	}
}

// section returns the card whose opening tag starts with open and that
// contains marker.
func section(t *testing.T, page, open, marker string) string {
	t.Helper()
	for _, part := range strings.Split(page, open)[1:] {
		end := strings.Index(part, "</article>")
		if end < 0 {
			continue
		}
		if strings.Contains(part[:end], marker) {
			return part[:end]
		}
	}
	t.Fatalf("no card with %q", marker)
	return ""
}

func TestReportEscapesData(t *testing.T) {
	fx, page := writeReport(t)
	for _, raw := range []string{xssValue, xssError, "<b>before</b>"} {
		if strings.Contains(page, raw) {
			t.Errorf("report contains the raw string %q", raw)
		}
	}
	for _, esc := range []string{
		`&#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;`, // the value, quoted
		`&lt;img src=x onerror=alert(1)&gt;`,
	} {
		if !strings.Contains(page, esc) {
			t.Errorf("report lacks the escaped form %q", esc)
		}
	}
	// No script element and no inline event handler anywhere: the page
	// uses no JavaScript at all.
	if regexp.MustCompile(`(?i)<script`).MatchString(page) {
		t.Error("report has a <script tag")
	}
	if m := regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=`).FindString(page); m != "" {
		t.Errorf("report has an event handler attribute: %s", m)
	}
	if !strings.Contains(page, `Content-Security-Policy" content="default-src 'none'`) {
		t.Error("report has no Content-Security-Policy")
	}
	// The hostile ops are in a witness table, so they were rendered.
	if !strings.Contains(page, `<td class="num">`+strconv.Itoa(fx.XSSError)+`</td>`) {
		t.Errorf("the op with the hostile error (#%d) is not shown", fx.XSSError)
	}
	// Self-contained: nothing fetched.
	for _, ref := range []string{"http://", "https://", "src=", "@import", "url("} {
		if strings.Contains(strings.ReplaceAll(page, "src=x", ""), ref) {
			t.Errorf("report references %q", ref)
		}
	}
}

func TestReportBareHistoryAndMissingParts(t *testing.T) {
	// No test.json, no history: still a report, saying what is missing.
	dir := t.TempDir()
	res := rundir.Results{Verdict: checkers.Valid, Checks: []rundir.Check{{Result: checkers.Result{Checker: "set", Verdict: checkers.Valid}}}, History: "gone.jsonl"}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.ResultsFile), res); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir); err != nil {
		t.Fatalf("Write: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, rundir.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, s := range []string{"VALID", "No anomaly found", "not found: operations cannot be shown"} {
		if !strings.Contains(page, s) {
			t.Errorf("report lacks %q", s)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, rundir.JUnitFile)); err != nil {
		t.Errorf("junit.xml not written: %v", err)
	}

	// No results: an error naming the file.
	err = Write(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "results") {
		t.Errorf("Write without results.json: err = %v", err)
	}
}

func TestRenderEmptyAndNilHistory(t *testing.T) {
	for name, h := range map[string]*history.History{"nil": nil, "empty": {}, "nemesis only": {Ops: []history.Op{
		{Index: 0, Type: history.Invoke, Process: history.Nemesis, F: "start-partition"},
		{Index: 1, Time: 5, Type: history.Info, Process: history.Nemesis, F: "start-partition", Error: "no nodes"},
	}}} {
		var buf bytes.Buffer
		if err := Render(&buf, Input{History: h}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !strings.Contains(buf.String(), "UNKNOWN") {
			t.Errorf("%s: no verdict", name)
		}
	}
}

func TestFaultBands(t *testing.T) {
	s := func(i int) history.Value { return history.Str("d" + strconv.Itoa(i)) }
	h := &history.History{Ops: []history.Op{
		{Time: 0, Type: history.Invoke, Process: 0, F: "read"},
		{Time: 10, Type: history.Invoke, Process: history.Nemesis, F: "start-partition"},
		{Time: 20, Type: history.Info, Process: history.Nemesis, F: "start-partition", Value: s(1)},
		{Time: 30, Type: history.OK, Process: 0, F: "read"},
		{Time: 40, Type: history.Invoke, Process: history.Nemesis, F: "stop-partition"},
		{Time: 50, Type: history.Info, Process: history.Nemesis, F: "stop-partition", Value: s(1)},
		// Jepsen style: info, info.
		{Time: 60, Type: history.Info, Process: history.Nemesis, F: "start"},
		{Time: 70, Type: history.Info, Process: history.Nemesis, F: "start", Value: s(2)},
		{Time: 80, Type: history.Info, Process: history.Nemesis, F: "stop"},
		{Time: 90, Type: history.Info, Process: history.Nemesis, F: "stop"},
		// A failed start, a failed heal.
		{Time: 100, Type: history.Info, Process: history.Nemesis, F: "start-kill", Error: "boom"},
		{Time: 110, Type: history.Info, Process: history.Nemesis, F: "start-pause", Value: s(3)},
		{Time: 120, Type: history.Info, Process: history.Nemesis, F: "stop-pause", Error: "cannot resume"},
		{Time: 200, Type: history.Invoke, Process: 1, F: "read"},
	}}
	h.Reindex()
	a := mustAnalyze(t, h)
	want := []fault{
		{Name: "partition", Desc: "d1", Start: 20, End: 50, StartOp: 2, StopOp: 5},
		{Name: "fault", Desc: "d2", Start: 70, End: 90, StartOp: 7, StopOp: 9},
		{Name: "pause", Desc: "d3", Start: 110, End: 200, StartOp: 11, StopOp: 12, HealErr: "cannot resume"},
	}
	if len(a.faults) != len(want) {
		t.Fatalf("faults = %+v, want %+v", a.faults, want)
	}
	for i := range want {
		if a.faults[i] != want[i] {
			t.Errorf("fault %d = %+v, want %+v", i, a.faults[i], want[i])
		}
	}
	if len(a.failedFaults) != 1 || a.failedFaults[0].Name != "kill" {
		t.Errorf("failed faults = %+v", a.failedFaults)
	}
	if got := a.activeAt(25); len(got) != 1 || got[0] != "partition (d1)" {
		t.Errorf("activeAt(25) = %q", got)
	}
	if got := a.activeAt(55); len(got) != 0 {
		t.Errorf("activeAt(55) = %q", got)
	}
	// The open read of process 1 runs to the end.
	if n := len(a.bars); n != 2 || a.bars[1].out != oOpen {
		t.Errorf("bars = %+v", a.bars)
	}
}

func TestLanesReuseAfterInfo(t *testing.T) {
	h := &history.History{}
	add := func(p history.Process, ty history.Type, tm int64) {
		h.Ops = append(h.Ops, history.Op{Index: len(h.Ops), Time: tm, Type: ty, Process: p, F: "read"})
	}
	add(0, history.Invoke, 0)
	add(1, history.Invoke, 1)
	add(0, history.Info, 2)
	add(2, history.Invoke, 3) // continues thread 0
	add(2, history.OK, 4)
	add(1, history.OK, 5)
	a := mustAnalyze(t, h)
	if len(a.lanes) != 2 {
		t.Fatalf("lanes = %d, want 2", len(a.lanes))
	}
	if a.laneOf(2) != a.laneOf(0) || a.laneOf(1) == a.laneOf(0) {
		t.Errorf("lanes: p0 %d, p1 %d, p2 %d", a.laneOf(0), a.laneOf(1), a.laneOf(2))
	}
}

func TestDownsampling(t *testing.T) {
	h := genHistory(genOpts{Events: 200_000, Procs: 400, Nodes: 5, Keys: 10, Latency: time.Millisecond, FaultEvery: 2 * time.Second, FaultLen: time.Second, Seed: 3})
	var buf bytes.Buffer
	if err := Render(&buf, Input{History: h, Results: rundir.Results{Verdict: checkers.Valid}}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, s := range []string{"too many to draw one by one", "Only the first 300 rows are drawn", "share a point"} {
		if !strings.Contains(page, s) {
			t.Errorf("page does not say %q", s)
		}
	}
	if n := strings.Count(page, "<rect class=\"o-"); n > 100 {
		t.Errorf("%d individual bars in down-sampled mode", n)
	}
	if len(page) > 5<<20 {
		t.Errorf("page is %d bytes", len(page))
	}
}

func TestExplanationsAndFacts(t *testing.T) {
	kinds := []string{"non-linearizable", "lost", "unexpected", "stale-read", "read-your-writes", "monotonic-reads",
		"monotonic-writes", "phantom-read", "counter-out-of-bounds", "lost-update", "fail-add-present"}
	for _, k := range kinds {
		e, ok := explanations[k]
		if !ok || e.Title == "" || e.What == "" || e.Cause == "" {
			t.Errorf("kind %q has no full explanation", k)
		}
	}
	if e := explain("zzz"); !strings.Contains(e.What, `"zzz"`) {
		t.Errorf("generic explanation: %q", e.What)
	}
	// Facts come typed from test.json; the settings' names and texts
	// play no part (an older test.json with the same settings but no
	// facts gets no concrete sentence).
	settings := []rundir.Setting{{Name: "Nodes", Value: "5"}, {Name: "Read CL", Value: "QUORUM"}, {Name: "write_consistency_level", Value: "ALL"}}
	tf := readFacts(&rundir.TestInfo{TargetSettings: settings, Facts: &rundir.Facts{
		Nodes: 5, ReplicationFactor: 5, ReadLevel: "QUORUM", WriteLevel: "ALL", ReadReplicas: 3, WriteReplicas: 5,
	}})
	if !tf.Known || tf.n() != 5 {
		t.Errorf("facts = %+v", tf)
	}
	if s := tf.sentence(factQuorum); !strings.Contains(s, "writes at ALL and reads at QUORUM: W + R = 5 + 3 = 8 > N = 5") {
		t.Errorf("quorum sentence: %q", s)
	}
	if s := tf.sentence(factAvailability); !strings.Contains(s, "tolerate no node down") {
		t.Errorf("availability sentence: %q", s)
	}
	if old := readFacts(&rundir.TestInfo{TargetSettings: settings}); old.Known || len(old.sentences([]fact{factQuorum, factConflict, factAvailability})) != 0 {
		t.Errorf("facts from settings alone: %+v", old)
	}
	if s := (targetFacts{}).sentences([]fact{factQuorum, factConflict}); len(s) != 0 {
		t.Errorf("sentences without settings: %q", s)
	}
	weak := targetFacts{Facts: rundir.Facts{Nodes: 3, ReadLevel: "ONE", WriteLevel: "ONE", ReadReplicas: 1, WriteReplicas: 1,
		Replication: rundir.Asynchronous, ReplicationDetail: "--replication sync, but synchronous_commit=off",
		Coordinator: rundir.RandomCoordinator, CoordinatorDetail: "random node per request",
		Conflict: "last write wins, by coordinator clock", ConflictByClock: true,
		DurabilityLosesAcked: true, Durability: "periodic fsync", ReadRepair: rundir.Bool(false), HintedHandoff: rundir.Bool(false)},
		Known: true, Faults: []string{"clock", "kill"}}
	for f, want := range map[fact]string{
		factQuorum:      "writes and reads at ONE: W + R = 1 + 1 = 2 ≤ N = 3",
		factCoordinator: "Coordinator: random node per request, so",
		factConflict:    "This test skews clocks",
		factReplication: "Replication: --replication sync, but synchronous_commit=off.",
		factDurability:  "Durability: periodic fsync. This test kills nodes",
		factReadRepair:  "Read repair is off and so is hinted handoff",
	} {
		if s := weak.sentence(f); !strings.Contains(s, want) {
			t.Errorf("sentence %d = %q, want %q", f, s, want)
		}
	}
	strong := targetFacts{Facts: rundir.Facts{Nodes: 3, Replication: rundir.Synchronous, Coordinator: rundir.PrimaryCoordinator, Conflict: "none: one primary orders every write"}, Known: true}
	if s := strong.sentences([]fact{factReplication, factCoordinator, factConflict, factDurability, factReadRepair}); len(s) != 0 {
		t.Errorf("sentences for a synchronous primary: %q", s)
	}
}

// TestReportServerConfigAndMissingFacts: the user's --server-config is
// shown verbatim (escaped) with its effective settings and where each
// comes from; a test.json without typed facts (an older chaoscheck) still
// renders, says that the facts are missing, and makes no sentence
// concrete.
func TestReportServerConfigAndMissingFacts(t *testing.T) {
	dir := t.TempDir()
	fx := makeRun(t, "")
	fx.Dir = dir
	fx.Test.ServerConfig = &rundir.ServerConfig{
		File: "team.conf", Format: "postgresql.conf", Text: "# <ours>\nsynchronous_commit = off\n",
		Effective: []rundir.ConfigSetting{
			{Name: "fsync", Value: "on", Source: rundir.FromChaoscheck},
			{Name: "synchronous_commit", Value: "off", Source: rundir.FromUser, Line: 2, Default: "on"},
		},
	}
	writeRun(t, dir, fx)
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, rundir.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{`id="server-config"`, "# &lt;ours&gt;\nsynchronous_commit = off", "your file, line 2 (chaoscheck&#39;s: on)", `<tr class="user"><th>synchronous_commit</th>`, "W + R = 1 + 1 = 2 ≤ N = 3"} {
		if !strings.Contains(page, want) && !strings.Contains(html.UnescapeString(page), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(page, `id="facts-missing"`) {
		t.Error("facts said missing although test.json has them")
	}

	old := t.TempDir()
	fx = makeRun(t, "")
	fx.Dir = old
	fx.Test.Facts = nil
	writeRun(t, old, fx)
	if err := Write(old); err != nil {
		t.Fatalf("an old test.json without facts: %v", err)
	}
	b, err = os.ReadFile(filepath.Join(old, rundir.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	page = string(b)
	if !strings.Contains(page, `id="facts-missing"`) || !strings.Contains(page, "records no typed target facts") {
		t.Error("the report does not say that the facts are missing")
	}
	if strings.Contains(html.UnescapeString(page), "W + R = ") || strings.Contains(page, `id="server-config"`) {
		t.Error("concrete sentences or a server configuration without facts")
	}
	if !strings.Contains(page, "ONE (R=1)") || !strings.Contains(page, "Stale read") {
		t.Error("the old report lost its settings or cards")
	}
}

func TestShellQuote(t *testing.T) {
	got := shellJoin([]string{"chaoscheck", "test", "--name", "a b", "it's", "", "--x=1,2"})
	want := `chaoscheck test --name 'a b' 'it'\''s' '' --x=1,2`
	if got != want {
		t.Errorf("shellJoin = %s, want %s", got, want)
	}
}

func TestBoundedValue(t *testing.T) {
	big := make([]int64, 100_000)
	for i := range big {
		big[i] = int64(i)
	}
	s := boundedValue(history.Ints(big...), 300)
	if len(s) > 400 || !strings.Contains(s, "more of 100000") {
		t.Errorf("boundedValue = %q (%d bytes)", s, len(s))
	}
	if got := boundedValue(history.List(history.Nil(), history.Str("a"), history.Int(3)), 300); got != `[nil "a" 3]` {
		t.Errorf("boundedValue = %q", got)
	}
}

func TestJUnit(t *testing.T) {
	fx := makeRun(t, "")
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, fx.Results); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName xml.Name `xml:"testsuites"`
		Suites  []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Errors   int `xml:"errors,attr"`
			Cases    []struct {
				Classname string `xml:"classname,attr"`
				Name      string `xml:"name,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				Error *struct {
					Message string `xml:"message,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
			SystemErr string `xml:"system-err"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("junit.xml does not parse: %v\n%s", err, buf.String())
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("%d suites", len(doc.Suites))
	}
	s := doc.Suites[0]
	if len(s.Cases) != len(fx.Results.Checks) || s.Tests != len(fx.Results.Checks) {
		t.Fatalf("%d testcases (tests=%d), want one per check (%d)", len(s.Cases), s.Tests, len(fx.Results.Checks))
	}
	for i, c := range s.Cases {
		chk := fx.Results.Checks[i]
		if c.Classname != chk.Workload || c.Name != chk.Checker {
			t.Errorf("case %d = %s.%s, want %s.%s", i, c.Classname, c.Name, chk.Workload, chk.Checker)
		}
		switch chk.Verdict {
		case checkers.Invalid:
			if c.Failure == nil || !strings.Contains(c.Failure.Message, "=") {
				t.Errorf("case %d: invalid check without failure summary: %+v", i, c.Failure)
			}
		case checkers.Unknown:
			if c.Error == nil || !strings.Contains(c.Error.Message, "time limit") {
				t.Errorf("case %d: unknown check without error reason: %+v", i, c.Error)
			}
		}
	}
	if s.Failures != 2 || s.Errors != 1 {
		t.Errorf("failures=%d errors=%d, want 2 and 1", s.Failures, s.Errors)
	}
	// Messages are XML-escaped on disk and round-trip intact.
	found := false
	for _, c := range s.Cases {
		if c.Failure != nil && strings.Contains(c.Failure.Text, "read "+xssValue+" missed the write") {
			found = true
		}
	}
	if !found {
		t.Error("no failure text carries the anomaly message")
	}
	if strings.Contains(buf.String(), xssValue) {
		t.Error("junit.xml holds the raw markup")
	}
	if !strings.Contains(s.SystemErr, "healing faults") {
		t.Errorf("system-err = %q", s.SystemErr)
	}
}

func TestWriteIsAtomicAndRepeatable(t *testing.T) {
	dir := t.TempDir()
	makeRun(t, dir)
	for i := 0; i < 2; i++ {
		if err := Write(dir); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestRenderTimeIsBounded(t *testing.T) {
	h := genHistory(genOpts{Events: 100_000, Procs: 20, Nodes: 3, Keys: 10, Latency: time.Millisecond, FaultEvery: time.Second, FaultLen: 400 * time.Millisecond, Seed: 9})
	start := time.Now()
	var buf bytes.Buffer
	if err := Render(&buf, Input{History: h}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("rendering 100k events took %v", d)
	}
}

// Issue 10, case 3: each session anomaly kind has its own explanation,
// and those that rest on the real-time order of writes say so.
func TestSessionKindsExplained(t *testing.T) {
	for _, k := range []string{checkers.KindReadYourWrites, checkers.KindReadYourWritesRealtime, checkers.KindMonotonicReads, checkers.KindMonotonicReadsRealtime} {
		e, ok := explanations[k]
		if !ok || e.Title == "" || e.What == "" || e.Cause == "" {
			t.Errorf("kind %q has no full explanation", k)
			continue
		}
		realtime := strings.HasSuffix(k, "-realtime")
		if got := strings.Contains(e.What, "rests on one assumption"); got != realtime {
			t.Errorf("kind %q: explanation names an assumption: %v, want %v: %q", k, got, realtime, e.What)
		}
		if realtime && !strings.Contains(e.What, "real time") {
			t.Errorf("kind %q: the explanation does not name the real-time order: %q", k, e.What)
		}
	}
	if explanations[checkers.KindReadYourWrites].Title == explanations[checkers.KindReadYourWritesRealtime].Title {
		t.Error("the two read-your-writes kinds share a title")
	}
}
