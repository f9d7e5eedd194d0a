package suite

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/internal/junit"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// Files of the suite directory.
const (
	ResultsFile = "results.json"
	JUnitFile   = "junit.xml"
	SummaryFile = rundir.SuiteSummaryFile
)

// SchemaVersion of the suite's results.json.
const SchemaVersion = 1

// Results is the suite's results.json.
type Results struct {
	SchemaVersion int       `json:"schema_version"`
	Suite         string    `json:"suite"`
	Description   string    `json:"description,omitempty"`
	File          string    `json:"file"`
	Start         time.Time `json:"start"`
	DurationNS    int64     `json:"duration_ns"`
	// Dir is the suite directory (not in the file: cells' directories
	// are relative to it).
	Dir     string       `json:"-"`
	Held    int          `json:"held"`
	NotHeld int          `json:"not_held"`
	NotRun  int          `json:"not_run"`
	Cells   []CellResult `json:"cells"`
}

// CellResult is one cell's run and its expectations.
type CellResult struct {
	Name    string           `json:"name"`
	Case    string           `json:"case"`
	Row     string           `json:"row"`
	Column  string           `json:"column"`
	Args    []string         `json:"args"`
	Status  Status           `json:"status"`
	Held    bool             `json:"held"`
	Verdict checkers.Verdict `json:"verdict,omitempty"`
	// Anomalies are the run's anomaly counts by kind.
	Anomalies map[string]int `json:"anomalies,omitempty"`
	// AvailabilityPct is the ok share of client operations invoked
	// during faults (absent without a fault or such operation);
	// P50ReadNS, P50WriteNS, P99ReadNS, P99WriteNS the latency of ok
	// operations (0: none).
	AvailabilityPct *float64       `json:"availability_pct,omitempty"`
	P50ReadNS       int64          `json:"p50_read_ns"`
	P50WriteNS      int64          `json:"p50_write_ns"`
	P99ReadNS       int64          `json:"p99_read_ns"`
	P99WriteNS      int64          `json:"p99_write_ns"`
	OK              int            `json:"ok_ops"`
	Expectations    []ExpectResult `json:"expectations"`
	// Deployment says how the cell got its cluster: deployed, reused
	// the cluster of another cell (data reset), or redeployed and why.
	Deployment string `json:"deployment,omitempty"`
	// Dir is the run's directory, relative to the suite directory.
	Dir        string   `json:"dir,omitempty"`
	Errors     []string `json:"errors,omitempty"`
	DurationNS int64    `json:"duration_ns"`
}

// Status of a cell.
type Status string

// Statuses.
const (
	StatusHeld    Status = "held"
	StatusNotHeld Status = "not-held"
	StatusNotRun  Status = "not-run"
)

// ExpectResult is one expectation's judgement.
type ExpectResult struct {
	Expected string `json:"expected"`
	Held     bool   `json:"held"`
	Seen     string `json:"seen"`
}

func newCellResult(c *Cell) CellResult {
	return CellResult{Name: c.Name, Case: c.Case, Row: c.Row, Column: c.Column, Args: c.Args}
}

// notRun marks the cell as not run, each expectation not held.
func (cr *CellResult) notRun(why string) {
	cr.Status, cr.Held = StatusNotRun, false
	cr.Errors = append(cr.Errors, why)
	cr.Expectations = nil
}

// judge checks the cell's expectations on the run's results.
func (cr *CellResult) judge(c *Cell, r *rundir.Results) {
	cr.Verdict = r.Verdict
	cr.Anomalies = Anomalies(r)
	if len(cr.Anomalies) == 0 {
		cr.Anomalies = nil
	}
	if v, why := faultAvailability(r); why == "" {
		cr.AvailabilityPct = &v
	}
	cr.P50ReadNS = r.Measurements.Latency.Read.P50NS
	cr.P50WriteNS = r.Measurements.Latency.Write.P50NS
	cr.P99ReadNS = r.Measurements.Latency.Read.P99NS
	cr.P99WriteNS = r.Measurements.Latency.Write.P99NS
	cr.OK = r.Stats.OK
	cr.Errors = append(cr.Errors, r.Errors...)
	cr.Held = true
	for _, e := range c.Expect {
		s := e.Check(r)
		cr.Expectations = append(cr.Expectations, ExpectResult{Expected: e.String(), Held: s.Held, Seen: s.Seen})
		cr.Held = cr.Held && s.Held
	}
	cr.Status = StatusHeld
	if !cr.Held {
		cr.Status = StatusNotHeld
	}
}

// tally counts the cells by status.
func (r *Results) tally() {
	r.Held, r.NotHeld, r.NotRun = 0, 0, 0
	for _, c := range r.Cells {
		switch c.Status {
		case StatusHeld:
			r.Held++
		case StatusNotHeld:
			r.NotHeld++
		default:
			r.NotRun++
		}
	}
}

// write writes results.json, junit.xml and summary.html.
func (r *Results) write() error {
	if err := rundir.WriteJSON(filepath.Join(r.Dir, ResultsFile), r); err != nil {
		return err
	}
	j, err := r.junit()
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(r.Dir, JUnitFile), j); err != nil {
		return err
	}
	page, err := r.Summary()
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(r.Dir, SummaryFile), page)
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// junit is the suite's JUnit XML: one testsuite, one testcase per cell,
// a failure per cell whose expectations did not hold (expected vs seen)
// and an error per cell that could not run.
func (r *Results) junit() ([]byte, error) {
	s := junit.Suite{Name: r.Suite, Tests: len(r.Cells), Time: junit.Seconds(r.DurationNS)}
	for _, c := range r.Cells {
		jc := junit.Case{Classname: r.Suite + "." + c.Case, Name: c.Name, Time: junit.Seconds(c.DurationNS)}
		var lines []string
		for _, e := range c.Expectations {
			mark := "held"
			if !e.Held {
				mark = "NOT HELD"
			}
			lines = append(lines, fmt.Sprintf("%s: expected %s; seen %s", mark, e.Expected, e.Seen))
		}
		detail := strings.Join(append(lines, "chaoscheck test "+strings.Join(c.Args, " "), "run directory: "+c.Dir), "\n")
		switch c.Status {
		case StatusNotHeld:
			var msgs []string
			for _, e := range c.Expectations {
				if !e.Held {
					msgs = append(msgs, fmt.Sprintf("expected %s; seen %s", e.Expected, e.Seen))
				}
			}
			jc.Failure = &junit.Problem{Message: strings.Join(msgs, " | "), Type: "expectation", Text: detail}
			s.Failures++
		case StatusNotRun:
			jc.Error = &junit.Problem{Message: strings.Join(c.Errors, "; "), Type: "not-run", Text: detail}
			s.Errors++
		default:
			jc.SystemOut = detail
		}
		s.Cases = append(s.Cases, jc)
	}
	var buf bytes.Buffer
	if err := junit.Write(&buf, junit.Of(s)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
