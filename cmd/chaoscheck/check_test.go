package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// checkInput is the part of results.json that describes the input.
type checkInput struct {
	Input struct {
		Model     string   `json:"model"`
		ModelFrom string   `json:"model_from"`
		Warnings  []string `json:"warnings"`
		Read      struct {
			Format          string `json:"format"`
			Truncated       bool   `json:"truncated"`
			TimeRegressions int    `json:"time_regressions"`
		} `json:"read"`
	} `json:"input"`
	Checks []struct {
		Reason string `json:"reason"`
	} `json:"checks"`
}

func readCheckInput(t *testing.T, dir string) checkInput {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, rundir.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	var in checkInput
	if err := json.Unmarshal(data, &in); err != nil {
		t.Fatal(err)
	}
	return in
}

// Issue 10 case 12: without --model, the model comes from the history's
// operations, and results.json says which was used.
func TestCheckChoosesModelFromHistory(t *testing.T) {
	data := filepath.Join("..", "..", "testdata", "porcupine")
	for _, tc := range []struct {
		file, model string
		code        int
	}{
		{filepath.Join("kv", "c10-bad.txt"), "kv", exitInvalid},
		{filepath.Join("kv", "c10-ok.txt"), "kv", exitValid},
		{filepath.Join("etcd", "etcd_000.log"), "cas-register", exitInvalid},
	} {
		out := t.TempDir()
		if code := run([]string{"check", "--out", out, filepath.Join(data, tc.file)}); code != tc.code {
			t.Errorf("%s: exit %d, want %d", tc.file, code, tc.code)
			continue
		}
		in := readCheckInput(t, out)
		if in.Input.Model != tc.model || in.Input.ModelFrom != "history" {
			t.Errorf("%s: input %+v, want model %s from the history", tc.file, in.Input, tc.model)
		}
	}
	// --model still wins, and is recorded as such.
	out := t.TempDir()
	if code := run([]string{"check", "--out", out, "--model", "register", filepath.Join(data, "kv", "c10-bad.txt")}); code != exitUnknown {
		t.Errorf("--model register on a kv history: exit %d, want %d", code, exitUnknown)
	}
	if in := readCheckInput(t, out); in.Input.Model != "register" || in.Input.ModelFrom != "flag" {
		t.Errorf("--model register: input %+v", in.Input)
	}
}

// Issue 10 cases 9 and 10: a history whose times go back and whose last
// line is cut is checked, and both facts are in results.json.
func TestCheckReportsInputWarnings(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "history.edn")
	edn := `{:type :invoke, :f :write, :value 1, :process 0, :time 1000}
{:type :invoke, :f :read, :value nil, :process 1, :time 900}
{:type :ok, :f :write, :value 1, :process 0, :time 1500}
{:type :ok, :f :read, :value 1, :process 1, :time 1600}
{:type :invoke, :f :read, :value nil, :process 1, :time 1700}
{:type :ok, :f :read, :value 1`
	if err := os.WriteFile(path, []byte(edn), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"check", path}); code != exitValid {
		t.Fatalf("exit %d, want %d", code, exitValid)
	}
	in := readCheckInput(t, dir)
	if !in.Input.Read.Truncated || in.Input.Read.TimeRegressions != 1 || in.Input.Read.Format != "edn" || len(in.Input.Warnings) != 2 {
		t.Fatalf("input %+v", in.Input)
	}
}

// Issue 10 case 13: a huge input value is never echoed whole, neither in
// the one-line error on stderr nor in results.json.
func TestCheckBoundsQuotedInput(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("x", 1<<20)
	// A write of a huge string: the cas-register model cannot interpret it.
	path := filepath.Join(dir, "history.jsonl")
	jsonl := `{"index":0,"time":1,"type":"invoke","process":0,"f":"write","value":"` + big + `"}` + "\n" +
		`{"index":1,"time":2,"type":"ok","process":0,"f":"write","value":"` + big + `"}` + "\n"
	if err := os.WriteFile(path, []byte(jsonl), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"check", "--model", "cas-register", path}); code != exitUnknown {
		t.Fatalf("exit %d, want %d", code, exitUnknown)
	}
	res, err := os.ReadFile(filepath.Join(dir, rundir.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) > 20000 {
		t.Errorf("results.json of %d bytes for a 2 MiB history", len(res))
	}

	// A console log whose value is a huge unterminated string: bad input.
	bin := buildBinary(t)
	log := filepath.Join(dir, "console.log")
	if err := os.WriteFile(log, []byte("0\t:invoke\t:write\t\""+big+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "check", "--format", "jepsen-log", log)
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitBadInput {
		t.Fatalf("exit: %v, want %d", err, exitBadInput)
	}
	if n := stderr.Len(); n > 1000 || strings.Count(stderr.String(), "\n") != 1 {
		t.Fatalf("stderr of %d bytes: %.300s", n, stderr.String())
	}
}

// `chaoscheck report` of a run directory whose history.jsonl breaks the
// history's invariants (the report streams it) is bad input: exit 254,
// with the line named, and no report.html is left.
func TestReportOfABadHistoryIsBadInput(t *testing.T) {
	dir := t.TempDir()
	lines := `{"index":0,"time":1,"type":"invoke","process":1,"f":"read","value":null}
{"index":1,"time":2,"type":"invoke","process":1,"f":"read","value":null}
`
	if err := os.WriteFile(filepath.Join(dir, "history.jsonl"), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), []byte(`{"schema_version":1,"verdict":"unknown","history":"history.jsonl"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"report", dir}); code != exitBadInput {
		t.Fatalf("exit %d, want %d", code, exitBadInput)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err == nil {
		t.Error("report.html was written for a bad history")
	}
}

// A chaoscheck JSONL history is checked streamed (key by key, measured in
// passes over the file), everything else loaded whole; both ways give the
// same results. The Jepsen etcd log is read whole, exported to JSONL, and
// the two checks are compared field by field.
func TestCheckStreamsJSONL(t *testing.T) {
	data := filepath.Join("..", "..", "testdata", "porcupine")
	src := filepath.Join(data, "etcd", "etcd_000.log")
	whole, err := openHistory(src, history.FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	if whole.file != nil || whole.h == nil {
		t.Fatalf("a Jepsen log must be loaded whole")
	}
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "history.jsonl")
	fh, err := os.Create(jsonl)
	if err != nil {
		t.Fatal(err)
	}
	if err := history.WriteJSONL(fh, whole.h); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	streamed, err := openHistory(jsonl, history.FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	if streamed.file == nil || streamed.h != nil {
		t.Fatalf("a JSONL history must be streamed")
	}
	if strings.Join(streamed.fs, ",") != strings.Join(whole.fs, ",") {
		t.Errorf("operations seen: streamed %v, whole %v", streamed.fs, whole.fs)
	}
	outW, outS := t.TempDir(), t.TempDir()
	cw := run([]string{"check", "--out", outW, src})
	cs := run([]string{"check", "--out", outS, jsonl})
	if cw != exitInvalid || cs != cw {
		t.Fatalf("exit: whole %d, streamed %d; want both %d", cw, cs, exitInvalid)
	}
	var rw, rs rundir.Results
	for p, r := range map[string]*rundir.Results{outW: &rw, outS: &rs} {
		b, err := os.ReadFile(filepath.Join(p, rundir.ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, r); err != nil {
			t.Fatal(err)
		}
	}
	jw, _ := json.Marshal([]any{rw.Verdict, rw.Stats, rw.Checks, rw.Measurements})
	js, _ := json.Marshal([]any{rs.Verdict, rs.Stats, rs.Checks, rs.Measurements})
	if !bytes.Equal(jw, js) {
		t.Errorf("results differ:\nwhole    %s\nstreamed %s", jw, js)
	}
	// A bad JSONL file still gets the loader's error (exit 254).
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"index":0,"time":1,"type":"invoke","process":0,"f":"read"}`+"\n"+`{"index":5}`+"\n"), 0o644)
	if code := run([]string{"check", "--out", t.TempDir(), bad}); code != exitBadInput {
		t.Errorf("bad JSONL: exit %d, want %d", code, exitBadInput)
	}
}
