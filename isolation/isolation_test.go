package isolation

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeDB is a store with no isolation at all: every write is visible at
// once to every session, nothing locks, and an abort undoes the session's
// writes. Every probe's anomaly but OTV shows on it (OTV needs a writer
// that waits for another's lock).
type fakeDB struct {
	mu   sync.Mutex
	rows map[int64]int64
	// fail, when set, makes every statement containing it fail with an
	// error that is not a refusal.
	fail string
}

type fakeSession struct {
	db   *fakeDB
	undo []func()
}

var (
	reUpdate = regexp.MustCompile(`^UPDATE test SET value = (\d+) WHERE id = (\d+)$`)
	reInsert = regexp.MustCompile(`^INSERT INTO test \(id, value\) VALUES \((\d+), (\d+)\)$`)
	reSelect = regexp.MustCompile(`^SELECT id, value FROM test(?: WHERE (.*))? ORDER BY id$`)
)

func num(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

func (s *fakeSession) Exec(_ context.Context, sql string) ([]Row, string, error) {
	db := s.db
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.fail != "" && strings.Contains(sql, db.fail) {
		return nil, "", errors.New("connection reset by peer")
	}
	switch {
	case strings.HasPrefix(sql, "BEGIN"):
		return nil, "BEGIN", nil
	case sql == "COMMIT":
		s.undo = nil
		return nil, "COMMIT", nil
	case sql == "ABORT" || sql == "ROLLBACK":
		for i := len(s.undo) - 1; i >= 0; i-- {
			s.undo[i]()
		}
		s.undo = nil
		return nil, "ROLLBACK", nil
	}
	if m := reUpdate.FindStringSubmatch(sql); m != nil {
		id, v := num(m[2]), num(m[1])
		old := db.rows[id]
		db.rows[id] = v
		s.undo = append(s.undo, func() { db.rows[id] = old })
		return nil, "UPDATE 1", nil
	}
	if m := reInsert.FindStringSubmatch(sql); m != nil {
		id := num(m[1])
		db.rows[id] = num(m[2])
		s.undo = append(s.undo, func() { delete(db.rows, id) })
		return nil, "INSERT 0 1", nil
	}
	if m := reSelect.FindStringSubmatch(sql); m != nil {
		match := func(Row) bool { return true }
		switch w := m[1]; {
		case w == "":
		case strings.HasPrefix(w, "id = "):
			match = func(r Row) bool { return r.ID == num(w[5:]) }
		case w == "id IN (1, 2)":
			match = func(r Row) bool { return r.ID == 1 || r.ID == 2 }
		case w == "value = 30":
			match = func(r Row) bool { return r.Value == 30 }
		case w == "value % 3 = 0":
			match = func(r Row) bool { return r.Value%3 == 0 }
		default:
			return nil, "", fmt.Errorf("fake: predicate %q", w)
		}
		out := []Row{}
		for id, v := range db.rows {
			if r := (Row{id, v}); match(r) {
				out = append(out, r)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
		return out, "SELECT " + strconv.Itoa(len(out)), nil
	}
	return nil, "", fmt.Errorf("fake: statement %q", sql)
}

func (s *fakeSession) Close(context.Context) error { return nil }

func (db *fakeDB) Name() string { return "fake" }
func (db *fakeDB) Reset(context.Context) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.rows = map[int64]int64{1: 10, 2: 20}
	return nil
}
func (db *fakeDB) Open(context.Context) (Session, error)          { return &fakeSession{db: db}, nil }
func (db *fakeDB) Blocked(context.Context, Session) (bool, error) { return false, nil }
func (db *fakeDB) Refusal(error) (string, bool)                   { return "", false }
func (db *fakeDB) Final(ctx context.Context) ([]Row, error) {
	rows, _, err := (&fakeSession{db: db}).Exec(ctx, selectAll)
	return rows, err
}

// TestNoIsolationAllowsAnomalies: on a store with no isolation every
// probe sees its anomaly, except OTV (see fakeDB).
func TestNoIsolationAllowsAnomalies(t *testing.T) {
	tab, err := Run(context.Background(), &fakeDB{}, []Level{ReadCommitted})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Probes() {
		want := Allowed
		if p.Name == "OTV" {
			want = Prevented
		}
		if got := tab[ReadCommitted][p.Name]; got.Outcome != want {
			t.Errorf("%s: %s (%s), want %s", p.Name, got.Outcome, got.Why, want)
		}
	}
}

// TestProbeErrorIsNotPrevented: a statement failing with an error that is
// not a refusal makes the run an error, never "prevented".
func TestProbeErrorIsNotPrevented(t *testing.T) {
	_, err := Run(context.Background(), &fakeDB{fail: "value % 3"}, []Level{ReadCommitted})
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Run = %v, want the connection error", err)
	}
}

// TestDiff: the comparison with a reference names every differing cell.
func TestDiff(t *testing.T) {
	want := HermitagePostgres()
	got := HermitagePostgres()
	if d := Diff(got, want); len(d) != 0 {
		t.Fatalf("identical tables differ: %v", d)
	}
	got[Serializable]["G2"] = Allowed
	delete(got[ReadCommitted], "G0")
	d := Diff(got, want)
	if len(d) != 2 || !strings.Contains(d[0], "read-committed G0: missing") || !strings.Contains(d[1], "serializable G2: allowed, want prevented") {
		t.Fatalf("Diff = %v", d)
	}
	if n := len(want[ReadCommitted]); n != 10 {
		t.Fatalf("reference has %d anomalies, want 10", n)
	}
}
