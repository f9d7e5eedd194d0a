// Package isolation runs scripted isolation probes in the style of
// Hermitage (github.com/ept/hermitage, Martin Kleppmann): the classic two-
// and three-session interleavings that show, on a real database, which
// anomalies each isolation level prevents.
//
// Every probe starts from the same table, test(id int primary key, value
// int) holding (1, 10) and (2, 20), opens its sessions, begins one
// transaction per session at the level under test, and runs its steps in
// a fixed order. After each step the probe waits, bounded by StepTimeout,
// until every statement in flight has either finished or is waiting for
// a lock held by another session (Backend.Blocked): that is what makes a
// probe deterministic, with no sleeps. A statement that waits is resumed
// when its session's next step comes (or at the end of the script).
//
// Outcomes:
//   - "allowed": the anomaly was observed: every transaction it needs
//     committed and the values read show it;
//   - "prevented": it was not, either because the values read rule it
//     out, or because the database refused a transaction (a serialization
//     failure or deadlock, Backend.Refusal); Why says which.
//
// Any other error (a lost connection, a statement that still waits at
// the end of the script, an unexpected result) is an error of the probe,
// never "prevented".
package isolation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Level is an isolation level, by its ANSI name in lower case with dashes.
type Level string

// The levels the probes run at.
const (
	ReadCommitted  Level = "read-committed"
	RepeatableRead Level = "repeatable-read"
	Serializable   Level = "serializable"
)

// Levels are the levels probed, weakest first.
var Levels = []Level{ReadCommitted, RepeatableRead, Serializable}

// SQL is the level as written after ISOLATION LEVEL.
func (l Level) SQL() string { return strings.ToUpper(strings.ReplaceAll(string(l), "-", " ")) }

// Outcome of one probe at one level.
type Outcome string

const (
	// Allowed: the anomaly happened.
	Allowed Outcome = "allowed"
	// Prevented: it did not (the reads rule it out, or the database
	// aborted a transaction that would have made it).
	Prevented Outcome = "prevented"
)

// Row is one row of the test table.
type Row struct{ ID, Value int64 }

// Rows renders rows as Hermitage does: "1 => 10, 2 => 20", or "nothing".
func Rows(rs []Row) string {
	if len(rs) == 0 {
		return "nothing"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%d => %d", r.ID, r.Value)
	}
	return strings.Join(parts, ", ")
}

// Session is one connection, used by one probe step at a time (a step
// may run in its own goroutine while it waits for a lock).
type Session interface {
	// Exec runs one statement. For a query it returns the rows, each
	// with two integer columns (id, value); otherwise nil. tag is the
	// command tag ("COMMIT", "ROLLBACK", "UPDATE 1", ...).
	Exec(ctx context.Context, sql string) (rows []Row, tag string, err error)
	// Close ends the session (an open transaction is rolled back).
	Close(ctx context.Context) error
}

// Backend is a database the probes run against.
type Backend interface {
	// Name names the database, e.g. "PostgreSQL 15.5".
	Name() string
	// Reset recreates the table test(id int primary key, value int)
	// holding exactly (1, 10) and (2, 20), outside any probe session.
	Reset(ctx context.Context) error
	// Open opens a session.
	Open(ctx context.Context) (Session, error)
	// Blocked reports whether s's statement in flight waits for a lock
	// that another session holds.
	Blocked(ctx context.Context, s Session) (bool, error)
	// Refusal says whether err is the database refusing a transaction to
	// keep its isolation level (PostgreSQL: SQLSTATE 40001
	// serialization_failure, 40P01 deadlock_detected), with a short
	// description.
	Refusal(err error) (string, bool)
	// Final reads the whole table, ordered by id, outside any probe
	// session.
	Final(ctx context.Context) ([]Row, error)
}

// StepTimeout bounds the wait for one step to finish or block, and for a
// blocked statement to finish once its session needs it.
const StepTimeout = 10 * time.Second

// pollEvery is the period of the wait for a step to finish or block.
const pollEvery = 2 * time.Millisecond

// Result is the outcome of one probe at one level, and why.
type Result struct {
	Outcome Outcome `json:"outcome"`
	Why     string  `json:"why"`
}

// Report is one run of the probes against a database.
type Report struct {
	// Database names the server probed, with its version.
	Database string
	Table    Table
	// Deploy is how long starting the server took, Probes how long the
	// probes ran.
	Deploy, Probes time.Duration
}

// Table holds each level's results, by anomaly name.
type Table map[Level]map[string]Result

// Outcomes is the table as {"read-committed": {"G0": "prevented", ...}}.
func (t Table) Outcomes() map[Level]map[string]Outcome {
	out := map[Level]map[string]Outcome{}
	for l, m := range t {
		out[l] = map[string]Outcome{}
		for a, r := range m {
			out[l][a] = r.Outcome
		}
	}
	return out
}

// WriteJSON writes the outcomes as one JSON object, level -> anomaly ->
// "allowed" or "prevented".
func (t Table) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(t.Outcomes(), "", "  ")
	if err != nil {
		return fmt.Errorf("isolation: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// WriteText writes the table: one row per anomaly (in probe order), one
// column per level, then each cell's reason.
func (t Table) WriteText(w io.Writer) error {
	var levels []Level
	for _, l := range Levels {
		if _, ok := t[l]; ok {
			levels = append(levels, l)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "anomaly")
	for _, l := range levels {
		fmt.Fprintf(tw, "\t%s", l)
	}
	fmt.Fprintln(tw)
	for _, p := range Probes() {
		fmt.Fprint(tw, p.Name)
		for _, l := range levels {
			r, ok := t[l][p.Name]
			cell := "-"
			if ok {
				cell = string(r.Outcome)
			}
			fmt.Fprintf(tw, "\t%s", cell)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, l := range levels {
		for _, p := range Probes() {
			if r, ok := t[l][p.Name]; ok {
				fmt.Fprintf(w, "%s %s: %s (%s)\n", l, p.Name, r.Outcome, r.Why)
			}
		}
	}
	return nil
}

// Run runs every probe at every level in levels, in order, and returns the
// table. It stops at the first probe error.
func Run(ctx context.Context, b Backend, levels []Level) (Table, error) {
	t := Table{}
	for _, l := range levels {
		t[l] = map[string]Result{}
		for _, p := range Probes() {
			r, err := p.Run(ctx, b, l)
			if err != nil {
				return nil, fmt.Errorf("isolation: probe %s at %s: %w", p.Name, l, err)
			}
			t[l][p.Name] = r
		}
	}
	return t, nil
}

// Diff lists the cells where got differs from want, sorted; empty when
// they agree on every cell of want (and got has no other cell).
func Diff(got, want map[Level]map[string]Outcome) []string {
	var out []string
	for l, m := range want {
		for a, o := range m {
			if g, ok := got[l][a]; !ok {
				out = append(out, fmt.Sprintf("%s %s: missing, want %s", l, a, o))
			} else if g != o {
				out = append(out, fmt.Sprintf("%s %s: %s, want %s", l, a, g, o))
			}
		}
	}
	for l, m := range got {
		for a := range m {
			if _, ok := want[l][a]; !ok {
				out = append(out, fmt.Sprintf("%s %s: not in the reference", l, a))
			}
		}
	}
	sort.Strings(out)
	return out
}

// HermitagePostgres is the table Hermitage published for PostgreSQL
// (github.com/ept/hermitage, README and postgres.md): read committed
// prevents G0, G1a, G1b, G1c and OTV; repeatable read (snapshot
// isolation) prevents everything but G2-item and G2; serializable
// prevents all. It is a reference to compare a run with, never a result.
func HermitagePostgres() map[Level]map[string]Outcome {
	rc := map[string]Outcome{}
	rr := map[string]Outcome{}
	sr := map[string]Outcome{}
	for _, p := range Probes() {
		rc[p.Name], rr[p.Name], sr[p.Name] = Prevented, Prevented, Prevented
	}
	for _, a := range []string{"PMP", "P4", "G-single", "G2-item", "G2"} {
		rc[a] = Allowed
	}
	for _, a := range []string{"G2-item", "G2"} {
		rr[a] = Allowed
	}
	return map[Level]map[string]Outcome{ReadCommitted: rc, RepeatableRead: rr, Serializable: sr}
}

// errProbe marks results a probe cannot interpret.
var errProbe = errors.New("unexpected result")
