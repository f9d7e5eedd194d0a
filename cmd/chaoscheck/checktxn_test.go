package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/chaoscheck/chaoscheck/rundir"
)

// A transactional history is judged by Elle's checker, picked from its
// micro-ops, with Elle's options; results.json names every anomaly type.
func TestCheckTransactional(t *testing.T) {
	data := filepath.Join("..", "..", "testdata", "elle")
	for _, tc := range []struct {
		name  string
		args  []string
		file  string
		code  int
		kinds []string
	}{
		{"list-append default strict-serializable", nil, "la-041-g-nonadjacent.edn", exitInvalid, []string{"G-nonadjacent-item"}},
		{"list-append anomalies G2", []string{"--anomalies", "G2"}, "la-022-g2-anomalies-g2.edn", exitInvalid, []string{"G2-item"}},
		{"list-append read-committed allows G2-item", []string{"--consistency-models", "read-committed"}, "la-021-g2-read-committed.edn", exitValid, nil},
		{"rw-register wfr off", []string{"--consistency-models", "serializable"}, "rw-022-wfr-off.edn", exitValid, nil},
		{"rw-register wfr on", []string{"--consistency-models", "serializable", "--wfr-keys"}, "rw-023-wfr-on.edn", exitInvalid, []string{"G-single-item"}},
		{"rw-register lost update", nil, "rw-025-lost-update.edn", exitInvalid, []string{"lost-update"}},
		{"empty graph is unknown", []string{"--consistency-models", "read-uncommitted"}, "la-004-g1a-read-uncommitted.edn", exitUnknown, []string{"empty-transaction-graph"}},
		{"rw flag on list-append", []string{"--wfr-keys"}, "la-041-g-nonadjacent.edn", exitBadInput, nil},
		{"unknown model", []string{"--consistency-models", "serialisable"}, "la-041-g-nonadjacent.edn", exitBadInput, nil},
		{"unknown anomaly", []string{"--anomalies", "G3"}, "la-041-g-nonadjacent.edn", exitBadInput, nil},
		{"checker flag on txn history", []string{"--checker", "linearizable"}, "la-041-g-nonadjacent.edn", exitBadInput, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			args := append([]string{"check", "--out", out}, tc.args...)
			if code := run(append(args, filepath.Join(data, tc.file))); code != tc.code {
				t.Fatalf("exit %d, want %d", code, tc.code)
			}
			if tc.code == exitBadInput {
				return
			}
			raw, err := os.ReadFile(filepath.Join(out, rundir.ResultsFile))
			if err != nil {
				t.Fatal(err)
			}
			var res struct {
				Checks []struct {
					Checker       string         `json:"checker"`
					AnomalyCounts map[string]int `json:"anomaly_counts"`
				} `json:"checks"`
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				t.Fatal(err)
			}
			c := res.Checks[0]
			if c.Checker != "elle-"+map[byte]string{'l': "list-append", 'r': "rw-register"}[tc.file[0]] {
				t.Fatalf("checker %s", c.Checker)
			}
			if len(c.AnomalyCounts) != len(tc.kinds) {
				t.Fatalf("anomaly_counts %v, want %v", c.AnomalyCounts, tc.kinds)
			}
			for _, k := range tc.kinds {
				if c.AnomalyCounts[k] == 0 {
					t.Fatalf("anomaly_counts %v lacks %s", c.AnomalyCounts, k)
				}
			}
		})
	}
}

// Elle's flags are refused on a history that is not transactional.
func TestCheckTxnFlagsRefused(t *testing.T) {
	file := filepath.Join("..", "..", "testdata", "porcupine", "kv", "c10-ok.txt")
	for _, f := range [][]string{{"--anomalies", "G2"}, {"--consistency-models", "serializable"}, {"--linearizable-keys"}, {"--sequential-keys"}, {"--wfr-keys"}} {
		args := append(append([]string{"check", "--out", t.TempDir()}, f...), file)
		if code := run(args); code != exitBadInput {
			t.Errorf("%v: exit %d, want %d", f, code, exitBadInput)
		}
	}
}
