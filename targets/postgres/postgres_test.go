//go:build linux

package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/chaoscheck/chaoscheck/workloads"
)

// safeErr mimics pgx's internal errors that say whether they happened
// before anything was sent.
type safeErr struct{ safe bool }

func (e safeErr) Error() string     { return fmt.Sprintf("safe=%v", e.safe) }
func (e safeErr) SafeToRetry() bool { return e.safe }

func TestClassify(t *testing.T) {
	pg := func(code, sev string) error {
		return fmt.Errorf("postgres: write k on n1: %w", &pgconn.PgError{Severity: sev, Code: code, Message: "m"})
	}
	cases := []struct {
		name string
		err  error
		want string // "nil", "definite", "unknown"
	}{
		{"nil", nil, "nil"},
		{"serialization failure", pg("40001", "ERROR"), "definite"},
		{"deadlock", pg("40P01", "ERROR"), "definite"},
		{"unique violation", pg("23505", "ERROR"), "definite"},
		{"admin shutdown stays unknown (may follow a local commit)", pg("57P01", "FATAL"), "unknown"},
		{"read-only transaction (standby)", pg("25006", "ERROR"), "definite"},
		{"other server error stays unknown", pg("XX000", "ERROR"), "unknown"},
		{"query canceled stays unknown", pg("57014", "ERROR"), "unknown"},
		{"before sending", fmt.Errorf("wrap: %w", safeErr{safe: true}), "definite"},
		{"after sending", fmt.Errorf("wrap: %w", safeErr{safe: false}), "unknown"},
		{"connection reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, "unknown"},
		{"unexpected EOF", io.ErrUnexpectedEOF, "unknown"},
		{"deadline after sending", context.DeadlineExceeded, "unknown"},
		{"already definite", workloads.Definite(errors.New("connect: refused")), "definite"},
	}
	for _, c := range cases {
		got := Classify(c.err)
		var kind string
		switch {
		case got == nil:
			kind = "nil"
		case workloads.IsDefinite(got):
			kind = "definite"
		default:
			kind = "unknown"
		}
		if kind != c.want {
			t.Errorf("%s: Classify(%v) is %s, want %s", c.name, c.err, kind, c.want)
		}
		if c.err != nil && got != nil && !errors.Is(got, c.err) && got.Error() != c.err.Error() {
			t.Errorf("%s: Classify lost the original error: %v", c.name, got)
		}
		var pgErr *pgconn.PgError
		if errors.As(c.err, &pgErr) && !errors.As(got, &pgErr) {
			t.Errorf("%s: PgError no longer reachable with errors.As", c.name)
		}
	}
}

func TestParse(t *testing.T) {
	for _, s := range []string{"async", "sync"} {
		r, err := ParseReplication(s)
		if err != nil || r.String() != s {
			t.Errorf("ParseReplication(%q) = %v, %v", s, r, err)
		}
	}
	for _, s := range []string{"read-committed", "repeatable-read", "serializable"} {
		i, err := ParseIsolation(s)
		if err != nil || i.String() != s {
			t.Errorf("ParseIsolation(%q) = %v, %v", s, i, err)
		}
	}
	for _, s := range []string{"primary", "replica", "any"} {
		r, err := ParseReadFrom(s)
		if err != nil || r.String() != s {
			t.Errorf("ParseReadFrom(%q) = %v, %v", s, r, err)
		}
	}
	if _, err := ParseReplication("semi"); err == nil {
		t.Error("ParseReplication accepted semi")
	}
	if _, err := ParseIsolation("snapshot"); err == nil {
		t.Error("ParseIsolation accepted snapshot")
	}
	if _, err := ParseReadFrom("leader"); err == nil {
		t.Error("ParseReadFrom accepted leader")
	}
	if got := Serializable.SQL(); got != "SERIALIZABLE" {
		t.Errorf("Serializable.SQL() = %q", got)
	}
}

func TestValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
	bad := []Config{
		{Nodes: 1},
		{Nodes: MaxNodes + 1},
		{Replication: Replication(7)},
		{Isolation: Isolation(-1)},
		{ReadFrom: ReadFrom(3)},
		{User: "root"},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: Validate accepted it", c)
		}
		if _, err := New(c); err == nil {
			t.Errorf("%+v: New accepted it", c)
		}
	}
	tg, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if tg.Name() != "postgres" || tg.Config().Nodes != 3 || tg.Config().BinDir != DefaultBinDir {
		t.Errorf("defaults: %s %+v", tg.Name(), tg.Config())
	}
}
