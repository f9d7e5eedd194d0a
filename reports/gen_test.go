package reports

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// genOpts shapes a synthetic register history.
type genOpts struct {
	Events     int           // stop after about this many events
	Procs      int           // concurrent client threads
	Nodes      int           // nodes n1..nN
	Keys       int           // keys r0..r(K-1)
	Latency    time.Duration // mean latency
	FaultEvery time.Duration // a fault starts every FaultEvery...
	FaultLen   time.Duration // ...and lasts FaultLen
	Seed       uint64
}

// genHistory simulates clients of a register store: each thread invokes,
// waits a random latency and completes ok, fail (unavailable, mostly
// during faults) or info (then continues under a new process), while a
// nemesis partitions and kills nodes on a schedule. The history keeps the
// package's invariants (validated by the tests that write it to disk).
func genHistory(o genOpts) *history.History {
	r := rand.New(rand.NewPCG(o.Seed, 7))
	h := &history.History{Ops: make([]history.Op, 0, o.Events+o.Procs+8)}
	type thread struct {
		proc    history.Process
		next    int64 // time of its next event
		pending bool
		f       string
		key     string
		val     int64
	}
	ths := make([]thread, o.Procs)
	for i := range ths {
		ths[i] = thread{proc: history.Process(i), next: int64(r.IntN(1000))}
	}
	nextProc := o.Procs
	var written int64
	faultNames := []string{"partition", "kill"}
	faultN := 0
	nextFault, faultOn := int64(o.FaultEvery), false
	add := func(op history.Op) {
		op.Index = len(h.Ops)
		h.Ops = append(h.Ops, op)
	}
	lat := func(scale float64) int64 {
		return int64(float64(o.Latency)*(0.2+r.ExpFloat64())*scale) + 1
	}
	for len(h.Ops) < o.Events {
		k := 0
		for i := range ths {
			if ths[i].next < ths[k].next {
				k = i
			}
		}
		th := &ths[k]
		now := th.next
		if o.FaultEvery > 0 && now >= nextFault {
			name := faultNames[faultN%len(faultNames)]
			if !faultOn {
				add(history.Op{Time: nextFault, Type: history.Invoke, Process: history.Nemesis, F: "start-" + name})
				add(history.Op{Time: nextFault, Type: history.Info, Process: history.Nemesis, F: "start-" + name, Value: history.Str("isolated n" + strconv.Itoa(1+faultN%o.Nodes))})
				nextFault += int64(o.FaultLen)
			} else {
				add(history.Op{Time: nextFault, Type: history.Invoke, Process: history.Nemesis, F: "stop-" + name})
				add(history.Op{Time: nextFault, Type: history.Info, Process: history.Nemesis, F: "stop-" + name, Value: history.Str("isolated n" + strconv.Itoa(1+faultN%o.Nodes))})
				nextFault += int64(o.FaultEvery - o.FaultLen)
				faultN++
			}
			faultOn = !faultOn
			continue
		}
		node := "n" + strconv.Itoa(1+int(th.proc)%o.Nodes)
		if !th.pending {
			th.key = "r" + strconv.Itoa(r.IntN(o.Keys))
			op := history.Op{Time: now, Type: history.Invoke, Process: th.proc, Key: th.key, Node: node}
			if r.IntN(2) == 0 {
				th.f = "read"
			} else {
				written++
				th.f, th.val = "write", written
				op.Value = history.Int(written)
			}
			op.F = th.f
			add(op)
			th.pending = true
			scale := 1.0
			if faultOn {
				scale = 3
			}
			th.next = now + lat(scale)
			continue
		}
		op := history.Op{Time: now, Type: history.OK, Process: th.proc, F: th.f, Key: th.key, Node: node}
		p := r.Float64()
		switch {
		case faultOn && p < 0.25, p < 0.004:
			op.Type, op.Error = history.Fail, "sim: unavailable: "+th.f+" needs 2 replicas, coordinator "+node+" sees 1 of 3 up"
		case faultOn && p < 0.30, p < 0.006:
			op.Type, op.Error = history.Info, "sim: timed out: no answer from coordinator "+node
		}
		if op.Type != history.Fail {
			if th.f == "write" {
				op.Value = history.Int(th.val)
			} else if op.Type == history.OK {
				op.Value = history.Int(max(written-int64(r.IntN(3)), 0))
			}
		}
		add(op)
		th.pending = false
		th.next = now + int64(r.IntN(int(o.Latency)+1))
		if op.Type == history.Info {
			th.proc = history.Process(nextProc)
			nextProc++
		}
	}
	return h
}

// fixture is a synthetic run directory with anomalies and hostile data.
type fixture struct {
	Dir     string
	History *history.History
	Results rundir.Results
	Test    *rundir.TestInfo
	// XSSValue and XSSError are the ops carrying hostile strings.
	XSSValue, XSSError int
	// Witness is the stale-read witness.
	Witness []int
}

const (
	xssValue = `<script>alert(1)</script>`
	xssError = `<img src=x onerror=alert(1)>`
)

// makeRun writes a run directory with test.json, history.jsonl and
// results.json: a register test under partitions and kills, with a
// non-linearizable key (with a porcupine artifact), stale reads, a checker
// that could not decide, many unavailable failures, and a value and an
// error holding HTML.
func makeRun(t testing.TB, dir string) *fixture {
	t.Helper()
	h := genHistory(genOpts{Events: 3000, Procs: 8, Nodes: 3, Keys: 4, Latency: 8 * time.Millisecond, FaultEvery: 900 * time.Millisecond, FaultLen: 450 * time.Millisecond, Seed: 1})
	fx := &fixture{Dir: dir, History: h, XSSValue: -1, XSSError: -1}
	// Hostile data: a read returning a script, a failure whose error is an
	// image tag.
	var reads, fails []int
	for i := range h.Ops {
		op := &h.Ops[i]
		switch {
		case op.Type == history.OK && op.F == "read":
			reads = append(reads, i)
		case op.Type == history.Fail:
			fails = append(fails, i)
		}
	}
	if len(reads) < 10 || len(fails) < 1 {
		t.Fatalf("generated history has %d ok reads and %d fails", len(reads), len(fails))
	}
	fx.XSSValue = reads[len(reads)/2]
	h.Ops[fx.XSSValue].Value = history.Str(xssValue)
	fx.XSSError = fails[0]
	h.Ops[fx.XSSError].Error = xssError

	inv := func(c int) int {
		for i := c - 1; i >= 0; i-- {
			if h.Ops[i].Process == h.Ops[c].Process && h.Ops[i].Type == history.Invoke {
				return i
			}
		}
		return c
	}
	a, b := reads[len(reads)/2], reads[len(reads)/3]
	fx.Witness = []int{inv(b), b, inv(a), a}
	big := []int{inv(fails[0]), fails[0], inv(reads[1]), reads[1], inv(reads[2]), reads[2], inv(reads[3]), reads[3]}

	lin := checkers.Result{Checker: "linearizable", Artifacts: []string{"linearizable-r1.html", "linearizable-missing.html"}}
	lin.AddAnomaly(checkers.Anomaly{Kind: checkers.KindNonLinearizable, Key: "r1", Ops: big, Message: "no linearization of key \"r1\" explains read #" + strconv.Itoa(reads[3])})
	sess := checkers.Result{Checker: "session"}
	sess.AddAnomaly(checkers.Anomaly{Kind: "stale-read", Key: h.Ops[a].Key, Ops: big[:6], Message: "a bigger witness"})
	sess.AddAnomaly(checkers.Anomaly{Kind: "stale-read", Key: h.Ops[a].Key, Ops: fx.Witness, Message: "read " + xssValue + " missed the write", StalenessNS: 12_500_000})
	sess.AddAnomaly(checkers.Anomaly{Kind: "brand-new-kind", Ops: []int{fx.XSSError}, Message: "an anomaly class the report does not know"})
	und := checkers.Result{Checker: "counter", Verdict: checkers.Unknown, Reason: "time limit of 1s ran out <b>before</b> deciding"}
	checks := []rundir.Check{{Workload: "register", Result: lin}, {Workload: "register", Result: sess}, {Workload: "counter", Result: und}}
	fx.Results = rundir.Results{
		SchemaVersion: rundir.SchemaVersion,
		Verdict:       rundir.Verdict(checks),
		Stats:         historyStats(h),
		Checks:        checks,
		History:       rundir.HistoryFile,
		Errors:        []string{"healing faults: " + xssError},
	}
	fx.Test = &rundir.TestInfo{
		Name:        "sim-register",
		Start:       time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC),
		CommandLine: []string{"chaoscheck", "test", "--target", "sim", "--read-cl", "ONE", "--name", "it's"},
		Seed:        42,
		Target:      "sim",
		TargetSettings: []rundir.Setting{
			{Name: "nodes", Value: "3 (n1 n2 n3)"},
			{Name: "replication factor", Value: "3 (every key on every node)"},
			{Name: "read consistency", Value: "ONE (R=1)"},
			{Name: "write consistency", Value: "ONE (W=1)"},
			{Name: "W + R > N", Value: "false (1 + 1 <= 3: a read may miss the latest acknowledged write)"},
			{Name: "replication", Value: "synchronous to W=1 replicas, asynchronous to the other 2 after 50ms"},
			{Name: "conflict resolution", Value: "last write wins, by coordinator clock"},
			{Name: "coordinator", Value: "random node per request"},
			{Name: "read repair", Value: "off"},
		},
		Facts: &rundir.Facts{
			Nodes: 3, ReplicationFactor: 3, ReadLevel: "ONE", WriteLevel: "ONE", ReadReplicas: 1, WriteReplicas: 1,
			Replication: rundir.Quorum, ReplicationDetail: "synchronous to W=1 replicas, asynchronous to the other 2 after 50ms",
			Conflict: "last write wins, by coordinator clock", ConflictByClock: true,
			Coordinator: rundir.RandomCoordinator, CoordinatorDetail: "random node per request",
			ReadRepair: rundir.Bool(false), HintedHandoff: rundir.Bool(true),
		},
		Workloads: []string{"register", "counter"},
		Nemesis:   []string{"partition", "kill"},
		Config:    []rundir.Setting{{Name: "concurrency", Value: "8"}},
		Versions:  []rundir.Setting{{Name: "go", Value: "go1.26"}},
	}
	if dir != "" {
		writeRun(t, dir, fx)
	}
	return fx
}

// writeRun writes the fixture's files into dir.
func writeRun(t testing.TB, dir string, fx *fixture) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if fx.Test != nil {
		if err := rundir.WriteJSON(filepath.Join(dir, rundir.TestFile), fx.Test); err != nil {
			t.Fatal(err)
		}
	}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.ResultsFile), fx.Results); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, rundir.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	w := history.NewWriter(f)
	for i := range fx.History.Ops {
		if err := w.Write(&fx.History.Ops[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "linearizable-r1.html"), []byte("<html><body>porcupine</body></html>"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// historyStats counts the operations of h, as the report does.
func historyStats(h *history.History) rundir.Stats {
	a, err := analyze(h, nil)
	if err != nil {
		panic(err)
	}
	return a.stats
}

// mustAnalyze is analyze of an in-memory history, which cannot fail.
func mustAnalyze(t *testing.T, h history.Source) *analysis {
	t.Helper()
	a, err := analyze(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
