package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// Bad input gets exit code 254 and never a panic.
func TestBadInputExitCodes(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.txt")
	os.WriteFile(garbage, []byte("this is not a history\n"), 0o644)
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o644)
	for _, args := range [][]string{
		{"test", "--no-such-flag"},
		{"test", "--cl", "TWELVE"},
		{"test", "--target", "oracle"},
		{"test", "--target", "mongodb"},
		{"test", "--target", "cassandra", "--cl", "SOMETIMES"},
		{"test", "--workload", "bank"},
		{"test", "--nemesis", "meteor"},
		{"test", "--nemesis-nodes", "-3", "--nemesis", "kill"},
		{"test", "--time-limit", "soon"},
		{"test", "--concurrency", "0"},
		{"test", "--expect", "maybe"},
		{"test", "--name", "../../etc", "--store", dir},
		{"test", "--nodes", "3", "--r", "5"},
		{"check"},
		{"check", filepath.Join(dir, "missing.jsonl")},
		{"check", garbage},
		{"check", empty},
		{"check", "--format", "xml", garbage},
		{"check", "--model", "queue", garbage},
		{"check", "--checker", "bank", garbage},
		{"export", "--format", "csv", garbage},
		{"nonsense"},
	} {
		if code := run(args); code != exitBadInput {
			t.Errorf("%v: exit %d, want %d", args, code, exitBadInput)
		}
	}
}

// check agrees with the known verdicts of real Jepsen histories and exits
// 0 for valid, 1 for invalid.
func TestCheckExitCodes(t *testing.T) {
	out := t.TempDir()
	data := filepath.Join("..", "..", "testdata", "porcupine")
	if code := run([]string{"check", "--out", out, filepath.Join(data, "etcd", "etcd_002.log")}); code != exitValid {
		t.Errorf("etcd_002 (linearizable): exit %d", code)
	}
	if code := run([]string{"check", "--out", out, filepath.Join(data, "etcd", "etcd_000.log")}); code != exitInvalid {
		t.Errorf("etcd_000 (not linearizable): exit %d", code)
	}
	if code := run([]string{"check", "--out", out, "--model", "kv", filepath.Join(data, "kv", "c10-bad.txt")}); code != exitInvalid {
		t.Errorf("kv c10-bad: exit %d", code)
	}
	var res rundir.Results
	if err := rundir.ReadJSON(filepath.Join(out, rundir.ResultsFile), &res); err != nil || res.Verdict != "invalid" {
		t.Errorf("results.json: %v %+v", err, res.Verdict)
	}
}

// Issue 10, case 1: `check` never says valid when nothing was decided: a
// history of two nemesis events only, and one whose only write failed,
// exit 2 (unknown) with the reason in results.json.
func TestCheckNothingDecidedIsUnknown(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"nemesis-only.jsonl": `{"index":0,"time":10,"type":"invoke","process":"nemesis","f":"start-partition","value":null}
{"index":1,"time":20,"type":"info","process":"nemesis","f":"start-partition","value":"halves"}
`,
		"write-failed.jsonl": `{"index":0,"time":10,"type":"invoke","process":0,"f":"write","key":"k","value":1}
{"index":1,"time":20,"type":"fail","process":0,"f":"write","key":"k","value":1}
{"index":2,"time":30,"type":"invoke","process":1,"f":"read","key":"k","value":null}
{"index":3,"time":40,"type":"ok","process":1,"f":"read","key":"k","value":null}
`,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, name+".out")
		if code := run([]string{"check", "--out", out, path}); code != exitUnknown {
			t.Errorf("%s: exit %d, want %d (unknown)", name, code, exitUnknown)
		}
		var res rundir.Results
		if err := rundir.ReadJSON(filepath.Join(out, rundir.ResultsFile), &res); err != nil || res.Verdict != "unknown" {
			t.Errorf("%s: results.json: %v verdict %q", name, err, res.Verdict)
		}
		reasons := ""
		for _, c := range res.Checks {
			reasons += c.Reason
		}
		if reasons == "" {
			t.Errorf("%s: no reason given", name)
		}
	}
}

// buildBinary compiles chaoscheck once for the tests that need a real
// process (signals).
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chaoscheck")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// Ctrl-C during a fault: the process heals the fault (the history records
// its stop), writes a history that `check` reads, marks the results
// interrupted, and exits with a verdict code, not a crash.
func TestInterruptDuringFaultHealsAndKeepsHistory(t *testing.T) {
	bin := buildBinary(t)
	st := t.TempDir()
	cmd := exec.Command(bin, "test", "--store", st, "--name", "sigint", "--time-limit", "2m",
		"--nemesis", "partition,kill,pause,clock", "--nemesis-interval", "200ms", "--seed", "9")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()

	// Wait until a fault is in force: a start event is the last nemesis
	// event in the streamed history.
	hist := filepath.Join(st, "sigint", "latest", rundir.HistoryFile)
	deadline := time.Now().Add(30 * time.Second)
	for !faultActive(hist) {
		if time.Now().After(deadline) {
			t.Fatal("no fault became active within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("chaoscheck did not exit within 60s of SIGINT")
	}
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	if code != exitInvalid && code != exitUnknown {
		t.Fatalf("exit %d after SIGINT (%v), want 1 or 2", code, err)
	}
	h, info, err := history.Load(hist, history.FormatAuto)
	if err != nil || info.Truncated {
		t.Fatalf("history after SIGINT: %v %+v", err, info)
	}
	starts, stops := 0, 0
	for _, op := range h.Ops {
		if op.Process == history.Nemesis && op.Type == history.Info && op.Error == "" {
			if strings.HasPrefix(op.F, "start-") {
				starts++
			} else if strings.HasPrefix(op.F, "stop-") {
				stops++
			}
		}
	}
	if starts == 0 || starts != stops {
		t.Fatalf("%d faults started, %d healed", starts, stops)
	}
	var res rundir.Results
	if err := rundir.ReadJSON(filepath.Join(st, "sigint", "latest", rundir.ResultsFile), &res); err != nil || !res.Interrupted {
		t.Fatalf("results: %v interrupted=%v", err, res.Interrupted)
	}
	if code := run([]string{"check", "--out", t.TempDir(), hist}); code == exitBadInput || code == exitCrashed {
		t.Fatalf("check of the interrupted history: exit %d", code)
	}
}

// faultActive reports whether the last nemesis event in the history file
// is a successful start.
func faultActive(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	last := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, `"process":"nemesis"`) && strings.Contains(line, `"type":"info"`) {
			last = line
		}
	}
	return strings.Contains(last, `"f":"start-`) && !strings.Contains(last, `"error"`)
}
