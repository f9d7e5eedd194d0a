// Package rundir owns the on-disk layout of test runs and the schemas of the
// files in it, so that the runner writes, and `check`, `report` and `serve`
// read, one definition:
//
//	store/<name>/<YYYYMMDDTHHMMSS>/
//	    test.json       the full configuration, seed and versions
//	    history.jsonl   the history, streamed while the test runs
//	    results.json    verdicts and anomalies (schema: Results)
//	    report.html     the human report
//	store/<name>/latest -> <YYYYMMDDTHHMMSS>
//	store/latest        -> <name>/<YYYYMMDDTHHMMSS>
package rundir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/measures"
)

// File names inside a run directory.
const (
	TestFile    = "test.json"
	HistoryFile = "history.jsonl"
	ResultsFile = "results.json"
	ReportFile  = "report.html"
	JUnitFile   = "junit.xml"
)

// SuiteSummaryFile is the page of a suite directory
// (<store>/<suite>/<timestamp>/, beside the suite's results.json and
// junit.xml), which holds its cells' run directories; a suite directory
// has no test.json.
const SuiteSummaryFile = "summary.html"

// SchemaVersion of results.json; bumped on incompatible changes.
const SchemaVersion = 1

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ValidateName checks a test name: it becomes a directory name.
func ValidateName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("bad test name %q: use up to 100 letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
	return nil
}

// NewRunDir creates store/<name>/<timestamp>/ under root and points the
// latest links at it. A second run in the same second gets a suffix.
func NewRunDir(root, name string, now time.Time) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	base := now.Format("20060102T150405")
	parent := filepath.Join(root, name)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("create store directory: %w", err)
	}
	stamp := base
	for i := 1; ; i++ {
		err := os.Mkdir(filepath.Join(parent, stamp), 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return "", fmt.Errorf("create run directory: %w", err)
		}
		stamp = fmt.Sprintf("%s-%d", base, i)
	}
	if err := relink(filepath.Join(parent, "latest"), stamp); err != nil {
		return "", err
	}
	if err := relink(filepath.Join(root, "latest"), filepath.Join(name, stamp)); err != nil {
		return "", err
	}
	return filepath.Join(parent, stamp), nil
}

// relink atomically points the symlink at link to target.
func relink(link, target string) error {
	tmp := link + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		return fmt.Errorf("link %s: %w", link, err)
	}
	return nil
}

// Setting is one named configuration value, in display order.
type Setting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TestInfo is test.json: everything needed to understand and rerun a test.
type TestInfo struct {
	Name        string    `json:"name"`
	Start       time.Time `json:"start"`
	CommandLine []string  `json:"command_line"`
	Seed        int64     `json:"seed"`
	Target      string    `json:"target"`
	// TargetSettings are the target's own description (topology,
	// consistency levels...).
	TargetSettings []Setting `json:"target_settings"`
	// Facts are the target's typed facts (N, R, W, replication mode...),
	// which the report's explanations read. Absent in test.json files of
	// older versions, and for targets that record none.
	Facts *Facts `json:"facts,omitempty"`
	// KeptData is the target's state directory (data directories, full
	// node logs) when it stays after the run (--keep-data); absent when
	// it was removed at the end of the run.
	KeptData string `json:"kept_data,omitempty"`
	// ServerConfig is the user's server configuration (--server-config),
	// verbatim, with the effective merged settings; absent without one.
	ServerConfig *ServerConfig `json:"server_config,omitempty"`
	// Image is the container image the nodes ran, and why; absent for
	// runtimes that run no images.
	Image     *Image   `json:"image,omitempty"`
	Workloads []string `json:"workloads"`
	Nemesis   []string `json:"nemesis"`
	// Lag is how replication lag was sampled and judged (--lag-interval,
	// --lag-alert); absent in test.json files of older versions.
	Lag *LagConfig `json:"lag,omitempty"`
	// Quorums are N, R and W as the measurements used them (the
	// availability predicted with d replicas down), for a target whose
	// operations need a number of replicas; absent otherwise.
	Quorums *QuorumConfig `json:"quorums,omitempty"`
	// Config is the full runner configuration, flattened.
	Config   []Setting `json:"config"`
	Versions []Setting `json:"versions"`
}

// LagConfig is the replication-lag sampling of a run (package lag).
type LagConfig struct {
	// IntervalNS is the sampling period.
	IntervalNS int64 `json:"interval_ns"`
	// AlertNS is the alert threshold: the measurements count the time
	// each replica's lag spent over it.
	AlertNS int64 `json:"alert_ns"`
}

// QuorumConfig is N, the replicas of each key, R the answers a read
// needs and W the acknowledgements a write needs.
type QuorumConfig struct {
	N int `json:"n"`
	R int `json:"r"`
	W int `json:"w"`
}

// Check is one checker's result on one workload's operations.
type Check struct {
	Workload string `json:"workload"`
	checkers.Result
}

// Stats counts the operations of a run.
type Stats struct {
	Invocations int `json:"invocations"`
	OK          int `json:"ok"`
	Fail        int `json:"fail"`
	Info        int `json:"info"`
	// Open invocations never completed (the run ended first).
	Open          int   `json:"open"`
	NemesisEvents int   `json:"nemesis_events"`
	DurationNS    int64 `json:"duration_ns"`
}

// Results is results.json.
type Results struct {
	SchemaVersion int              `json:"schema_version"`
	Verdict       checkers.Verdict `json:"verdict"`
	// Interrupted runs (Ctrl-C) are checked as far as they got.
	Interrupted bool `json:"interrupted,omitempty"`
	// Errors are problems of the run itself (a fault that failed to
	// heal...), which make a valid verdict untrustworthy.
	Errors []string `json:"errors,omitempty"`
	Stats  Stats    `json:"stats"`
	Checks []Check  `json:"checks"`
	// Measurements are numbers derived from the history and the checks
	// (failover cost, staleness, availability during faults).
	Measurements measures.Measurements `json:"measurements"`
	// History is the history file the checks judged, relative to the
	// results file when it is in the same directory.
	History string `json:"history"`
	// Input describes how `check` read History (nil for runs).
	Input *Input `json:"input,omitempty"`
}

// CheckResults returns the checker results of checks.
func CheckResults(checks []Check) []checkers.Result {
	out := make([]checkers.Result, len(checks))
	for i, c := range checks {
		out[i] = c.Result
	}
	return out
}

// Verdict merges the verdicts of checks: Invalid if any anomaly, Unknown if
// any checker could not decide or there were no checks.
func Verdict(checks []Check) checkers.Verdict {
	vs := make([]checkers.Verdict, len(checks))
	for i, c := range checks {
		vs[i] = c.Verdict
	}
	return checkers.Merge(vs...)
}

// WriteJSON writes v as indented JSON to path, atomically.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		_ = os.Remove(tmp) // no half-written file left behind (a full disk)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadJSON reads path into v.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
