package runner_test

// The lessons of the simulated cluster, each a full test run (runner, sim
// target, workloads, nemesis, checkers) whose verdict is asserted. These
// are the claims the README makes; if the sim or a checker regresses, one
// of them fails.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/targets/sim"
	"github.com/chaoscheck/chaoscheck/workloads"
)

type lesson struct {
	sim         sim.Config
	workloads   []string
	opts        workloads.Options
	faults      []nemesis.Fault
	interval    time.Duration
	concurrency int
	rate        float64
	timeLimit   time.Duration
	seed        int64
}

func runLesson(t *testing.T, l lesson) *runner.Outcome {
	t.Helper()
	l.sim.Seed = l.seed
	target, err := sim.New(l.sim)
	if err != nil {
		t.Fatal(err)
	}
	if l.opts.Keys == 0 {
		l.opts = workloads.DefaultOptions()
	}
	var ws []workloads.Workload
	for _, n := range l.workloads {
		w, err := workloads.New(n, l.opts)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	if l.interval == 0 {
		l.interval = 700 * time.Millisecond
	}
	out, err := runner.Run(context.Background(), runner.Config{
		Name: "lesson", StoreRoot: t.TempDir(), Target: target, Workloads: ws,
		Faults: l.faults, NemesisInterval: l.interval,
		Concurrency: l.concurrency, Rate: l.rate, TimeLimit: l.timeLimit,
		RecoveryTime: time.Second, CheckTimeLimit: time.Minute, Seed: l.seed,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// check returns the named check of a workload.
func check(t *testing.T, out *runner.Outcome, workload, checker string) rundir.Check {
	t.Helper()
	for _, c := range out.Results.Checks {
		if c.Workload == workload && c.Checker == checker {
			return c
		}
	}
	t.Fatalf("no %s/%s check in %+v", workload, checker, out.Results.Checks)
	return rundir.Check{}
}

func loadHistory(t *testing.T, out *runner.Outcome) *history.History {
	t.Helper()
	h, _, err := history.Load(out.Dir+"/"+rundir.HistoryFile, history.FormatJSONL)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Lesson: at CL ONE (W + R = 2 <= N = 3) with a random coordinator, a
// client does not read its own writes, and registers are not
// linearizable; partitions make it worse.
func TestLessonONEIsNotReadYourWrites(t *testing.T) {
	out := runLesson(t, lesson{
		sim:       sim.Config{ReadCL: sim.One, WriteCL: sim.One, Coordinator: sim.Random},
		workloads: []string{"register", "ryw"}, faults: []nemesis.Fault{&nemesis.Partition{}},
		concurrency: 8, rate: 400, timeLimit: 4 * time.Second, seed: 1,
	})
	s := check(t, out, "ryw", "session")
	if s.AnomalyCounts["read-your-writes"] == 0 {
		t.Errorf("CL ONE: no read-your-writes violation found: %+v", s.Result)
	}
	for _, a := range s.Anomalies {
		if len(a.Ops) < 2 || a.Message == "" {
			t.Errorf("anomaly without witnesses or message: %+v", a)
		}
	}
	if v := check(t, out, "register", "linearizable").Verdict; v != checkers.Invalid {
		t.Errorf("CL ONE register: linearizable verdict %s, want invalid", v)
	}
	if out.Results.Verdict != checkers.Invalid {
		t.Errorf("overall verdict %s", out.Results.Verdict)
	}
}

// Lesson: QUORUM reads and writes (W + R = 4 > N = 3) read your writes,
// under the same partitions: every read quorum overlaps the write quorum
// of the session's last acknowledged write. The session checker must say
// valid (no session anomaly of any kind, and decided), and so must the
// per-key linearizability check (each key has one writer, whose ops are
// serial).
func TestLessonQuorumReadsYourWrites(t *testing.T) {
	for _, seed := range []int64{1, 2} {
		out := runLesson(t, lesson{
			sim:       sim.Config{ReadCL: sim.Quorum, WriteCL: sim.Quorum, Coordinator: sim.Random},
			workloads: []string{"ryw"}, faults: []nemesis.Fault{&nemesis.Partition{}},
			concurrency: 8, rate: 400, timeLimit: 4 * time.Second, seed: seed,
		})
		for _, name := range []string{"session", "linearizable"} {
			if c := check(t, out, "ryw", name); c.Verdict != checkers.Valid {
				t.Errorf("seed %d: QUORUM: ryw/%s verdict %s %v %s, want valid", seed, name, c.Verdict, c.AnomalyCounts, c.Reason)
				for _, a := range c.Anomalies[:min(2, len(c.Anomalies))] {
					t.Logf("  %s: %s %v", a.Kind, a.Message, a.Ops)
				}
			}
		}
		if out.Results.Stats.OK < 500 {
			t.Errorf("seed %d: only %d ok ops", seed, out.Results.Stats.OK)
		}
	}
}

// faultWindowOutcomes counts completions of client ops invoked while a
// fault was active (between a start's completion and the stop's invoke).
func faultWindowOutcomes(h *history.History, f func(op *history.Op) bool) map[history.Type]int {
	pairs, _ := h.Pairs()
	var windows [][2]int64
	var open int64 = -1
	for _, op := range h.Ops {
		if op.IsClient() || op.Type == history.Invoke {
			continue
		}
		if strings.HasPrefix(op.F, "start-") && op.Error == "" {
			open = op.Time
		} else if strings.HasPrefix(op.F, "stop-") && open >= 0 {
			windows = append(windows, [2]int64{open, op.Time})
			open = -1
		}
	}
	counts := map[history.Type]int{}
	for _, p := range pairs {
		inv := &h.Ops[p.Invoke]
		if !f(inv) {
			continue
		}
		end := int64(1 << 62)
		if c := h.Completion(p); c != nil {
			end = c.Time
		}
		for _, w := range windows {
			if inv.Time >= w[0] && end <= w[1] {
				counts[h.Outcome(p)]++
			}
		}
	}
	return counts
}

// Lesson: with 2 of 3 replicas down, QUORUM cannot be met, so operations
// fail as unavailable (nothing written: fail, not info); CL ONE keeps
// answering.
func TestLessonQuorumUnavailableWithTwoDown(t *testing.T) {
	kill2 := []nemesis.Fault{&nemesis.Kill{Targets: "2"}}
	q := runLesson(t, lesson{
		sim:       sim.Config{ReadCL: sim.Quorum, WriteCL: sim.Quorum, Coordinator: sim.Random},
		workloads: []string{"register"}, faults: kill2,
		concurrency: 6, rate: 300, timeLimit: 3 * time.Second, seed: 3, interval: time.Second,
	})
	qh := loadHistory(t, q)
	during := faultWindowOutcomes(qh, func(*history.Op) bool { return true })
	if during[history.OK] != 0 || during[history.Fail] == 0 {
		t.Errorf("QUORUM with 2 of 3 down: %v during the kill; want only failures", during)
	}
	unavailable := 0
	for _, op := range qh.Ops {
		if op.Type == history.Fail && strings.Contains(op.Error, "unavailable") {
			unavailable++
		}
	}
	if unavailable == 0 {
		t.Error("QUORUM with 2 of 3 down: no failure says unavailable")
	}

	one := runLesson(t, lesson{
		sim:       sim.Config{ReadCL: sim.One, WriteCL: sim.One, Coordinator: sim.Sticky},
		workloads: []string{"register"}, faults: kill2,
		concurrency: 6, rate: 300, timeLimit: 3 * time.Second, seed: 3, interval: time.Second,
	})
	reads := faultWindowOutcomes(loadHistory(t, one), func(op *history.Op) bool { return op.F == "read" })
	if reads[history.OK] == 0 {
		t.Errorf("CL ONE with 2 of 3 down: no read succeeded during the kill: %v", reads)
	}
}

// Lesson: last-write-wins on node clocks loses acknowledged writes when a
// clock is skewed. One client, so no two adds ever race: without skew
// nothing is lost; with it, adds coordinated by a node whose clock is
// behind lose to older writes.
func TestLessonClockSkewLosesWritesUnderLWW(t *testing.T) {
	base := lesson{
		sim:       sim.Config{ReadCL: sim.Quorum, WriteCL: sim.Quorum, Coordinator: sim.Random, SetMode: sim.SetLWW},
		workloads: []string{"set"}, concurrency: 1, rate: 200, timeLimit: 4 * time.Second, seed: 4,
	}
	control := runLesson(t, base)
	if c := check(t, control, "set", "set"); c.Verdict != checkers.Valid {
		t.Fatalf("no skew: set verdict %s %v, want valid", c.Verdict, c.AnomalyCounts)
	}
	skewed := base
	skewed.faults = []nemesis.Fault{&nemesis.Clock{Targets: nemesis.One, MaxOffset: 5 * time.Second}}
	skewed.interval = 500 * time.Millisecond
	out := runLesson(t, skewed)
	c := check(t, out, "set", "set")
	if c.AnomalyCounts["lost"] == 0 {
		t.Fatalf("clock skew under LWW: no acknowledged add lost: %s %v", c.Verdict, c.AnomalyCounts)
	}
}

// Lesson: with ALL/ALL and no faults, the simulated store is correct for
// reads, writes and set adds: the checkers must say valid (no false
// alarm).
func TestLessonAllWithoutFaultsIsValid(t *testing.T) {
	opts := workloads.DefaultOptions()
	opts.CAS = false // the sim's CAS is a read then a write: never atomic
	out := runLesson(t, lesson{
		sim:       sim.Config{ReadCL: sim.All, WriteCL: sim.All, Coordinator: sim.Random},
		workloads: []string{"register", "ryw", "set"}, opts: opts,
		concurrency: 9, rate: 600, timeLimit: 3 * time.Second, seed: 5,
	})
	for _, c := range out.Results.Checks {
		if c.Verdict != checkers.Valid {
			t.Errorf("%s/%s: %s %v %s", c.Workload, c.Checker, c.Verdict, c.AnomalyCounts, c.Reason)
			for _, a := range c.Anomalies[:min(3, len(c.Anomalies))] {
				t.Logf("  %s: %s %v", a.Kind, a.Message, a.Ops)
			}
		}
	}
}
