//go:build linux

package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/chaoscheck/chaoscheck/isolation"
	"github.com/chaoscheck/chaoscheck/targets"
)

// IsolationTimeout bounds a whole run of the isolation probes once the
// server is up.
const IsolationTimeout = 2 * time.Minute

// ProbeIsolation deploys one PostgreSQL server (a primary with no
// standby: the probes are about one server's concurrency control) on
// cfg's runtime, runs the Hermitage probes at each level of levels on it
// and removes it. Everything the deployment creates is journaled by the
// runtime, as for a test.
func ProbeIsolation(ctx context.Context, cfg Config, levels []isolation.Level) (*isolation.Report, error) {
	cfg.defaults()
	cfg.Nodes = 2 // validated as a cluster, deployed as one server
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Nodes = 1
	t := &Target{cfg: cfg}
	start := time.Now()
	dep, err := t.Deploy(ctx)
	if err != nil {
		return nil, err
	}
	deployed := time.Since(start)
	d := dep.(*Deployment)
	defer func() { _ = d.Close(ctx) }()
	b := &pgBackend{srv: d.srv, node: d.cl.Primary(), version: d.version}
	if err := b.openAdmin(ctx); err != nil {
		return nil, err
	}
	defer b.closeAdmin()
	rctx, cancel := context.WithTimeout(ctx, IsolationTimeout)
	defer cancel()
	start = time.Now()
	tab, err := isolation.Run(rctx, b, levels)
	if err != nil {
		return nil, err
	}
	return &isolation.Report{Database: b.Name(), Table: tab, Deploy: deployed, Probes: time.Since(start)}, nil
}

// isolationProber is the registry's hook: the probes on the runtime of c.
func isolationProber(ctx context.Context, c targets.Common, levels []isolation.Level) (*isolation.Report, error) {
	return ProbeIsolation(ctx, Config{Runtime: c.Runtime, Seed: c.Seed}, levels)
}

// pgBackend is isolation.Backend on one server.
type pgBackend struct {
	srv     *server
	node    string
	version string
	admin   *pgx.Conn
}

var _ isolation.Backend = (*pgBackend)(nil)

func (b *pgBackend) Name() string { return "PostgreSQL " + b.version }

func (b *pgBackend) openAdmin(ctx context.Context) error {
	c, err := b.srv.connect(ctx, b.node)
	if err != nil {
		return fmt.Errorf("postgres: isolation: %w", err)
	}
	b.admin = c
	return nil
}

func (b *pgBackend) closeAdmin() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = b.admin.Close(ctx)
}

// Reset recreates the test table on the admin connection (autocommit).
func (b *pgBackend) Reset(ctx context.Context) error {
	for _, st := range []string{
		"DROP TABLE IF EXISTS test",
		"CREATE TABLE test (id int PRIMARY KEY, value int)",
		"INSERT INTO test (id, value) VALUES (1, 10), (2, 20)",
	} {
		if _, err := b.admin.Exec(ctx, st); err != nil {
			return fmt.Errorf("postgres: %s: %w", st, err)
		}
	}
	return nil
}

func (b *pgBackend) Open(ctx context.Context) (isolation.Session, error) {
	c, err := b.srv.connect(ctx, b.node)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &pgSession{c: c, pid: c.PgConn().PID()}, nil
}

// Blocked asks the server whether the session's backend waits for a lock
// another backend holds (pg_blocking_pids).
func (b *pgBackend) Blocked(ctx context.Context, s isolation.Session) (bool, error) {
	pid := s.(*pgSession).pid
	var n int
	if err := b.admin.QueryRow(ctx, "SELECT cardinality(pg_blocking_pids($1))", pid).Scan(&n); err != nil {
		return false, fmt.Errorf("postgres: pg_blocking_pids(%d): %w", pid, err)
	}
	return n > 0, nil
}

// Refusal is SQLSTATE 40001 (serialization_failure) or 40P01
// (deadlock_detected).
func (b *pgBackend) Refusal(err error) (string, bool) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return "", false
	}
	switch pgErr.Code {
	case codeSerializationFailure, codeDeadlockDetected:
		return fmt.Sprintf("%s (SQLSTATE %s)", pgErr.Message, pgErr.Code), true
	}
	return "", false
}

func (b *pgBackend) Final(ctx context.Context) ([]isolation.Row, error) {
	rows, err := b.admin.Query(ctx, "SELECT id, value FROM test ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("postgres: final read: %w", err)
	}
	return collect(rows)
}

// pgSession is one probe connection.
type pgSession struct {
	c   *pgx.Conn
	pid uint32
}

func (s *pgSession) Exec(ctx context.Context, sql string) ([]isolation.Row, string, error) {
	rows, err := s.c.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, "", err
	}
	var out []isolation.Row
	if len(rows.FieldDescriptions()) == 2 {
		out, err = collect(rows)
		if err != nil {
			return nil, "", err
		}
		return out, rows.CommandTag().String(), nil
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	return nil, rows.CommandTag().String(), nil
}

func (s *pgSession) Close(ctx context.Context) error { return s.c.Close(ctx) }

func collect(rows pgx.Rows) ([]isolation.Row, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (isolation.Row, error) {
		var row isolation.Row
		err := r.Scan(&row.ID, &row.Value)
		return row, err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []isolation.Row{}
	}
	return out, nil
}
