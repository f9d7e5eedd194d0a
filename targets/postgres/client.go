//go:build linux

package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/chaoscheck/chaoscheck/workloads"
)

// SQLSTATEs that prove the statement (or transaction) had no effect: the
// server answered with an error and rolled it back.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeUniqueViolation      = "23505"
	codeReadOnlyTransaction  = "25006"
)

// Classify maps the error of a write to the workloads error rule:
//
//   - nil stays nil (ok);
//   - a server error (pgconn.PgError) with SQLSTATE 40001
//     serialization_failure, 40P01 deadlock_detected, 23505
//     unique_violation or 25006 read_only_sql_transaction (a write sent
//     to a standby or a demoted node) is wrapped with workloads.Definite
//     (fail): the server rolled the statement back;
//   - 57P01 admin_shutdown stays unknown: the termination can be
//     handled after the commit record was written (before the backend
//     reaches ReadyForQuery), so the write or COMMIT that reads it may
//     have committed; only a statement never sent is sure to have not;
//   - an error pgx guarantees happened before anything was sent
//     (pgconn.SafeToRetry: a context already done, a failed dial) is
//     Definite too;
//   - anything else (a connection lost or a deadline hit after the
//     request was sent, any other server error) is returned as is:
//     unknown (info).
//
// Failures to connect are marked Definite where the connection is made.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	if workloads.IsDefinite(err) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case codeSerializationFailure, codeDeadlockDetected, codeUniqueViolation, codeReadOnlyTransaction:
			return workloads.Definite(err)
		}
		return err
	}
	if pgconn.SafeToRetry(err) {
		return workloads.Definite(err)
	}
	return err
}

// Client is one process's connection to the cluster. It implements
// workloads.RegisterClient, SetClient, CounterClient, RMWClient and
// NodeReporter. It is used by one goroutine at a time.
//
// It keeps one pgx connection per node it has talked to (writes follow the
// primary, reads may go elsewhere), opened on first use with a
// ConnectTimeout, and drops a connection after any error that closed it,
// so the next request reconnects. Statement time is bounded by the
// operation's context only. pgx's default context handling is kept on
// purpose: a cancelled context closes the connection rather than sending
// a cancel request, because cancelling a commit that waits for a
// synchronous standby makes PostgreSQL report success for a commit that
// exists only on the primary.
type Client struct {
	d     *Deployment
	rng   *rand.Rand
	conns map[string]*pgx.Conn
	// pids holds, per connection, the pid of the server run it was opened
	// to: a connection to a server that was killed and restarted since is
	// dead, and is dropped before use.
	pids  map[string]int
	last  string
	extra map[string]string // why the last read went to last (LastExtra)
}

var (
	_ workloads.RegisterClient = (*Client)(nil)
	_ workloads.SetClient      = (*Client)(nil)
	_ workloads.CounterClient  = (*Client)(nil)
	_ workloads.RMWClient      = (*Client)(nil)
	_ workloads.NodeReporter   = (*Client)(nil)
	_ workloads.ExtraReporter  = (*Client)(nil)
)

// LastNode returns the node that served the last request.
func (c *Client) LastNode() string { return c.last }

// Close closes every connection, bounded by a second.
func (c *Client) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var errs []error
	for n, conn := range c.conns {
		if err := conn.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close connection to %s: %w", n, err))
		}
		delete(c.conns, n)
	}
	return errors.Join(errs...)
}

// conn returns the connection to node, opening it if needed. A failure to
// connect is Definite: nothing was sent.
func (c *Client) conn(ctx context.Context, node string) (*pgx.Conn, error) {
	c.last = node
	pid := c.d.cl.serverPid(node)
	if conn, ok := c.conns[node]; ok {
		if !conn.IsClosed() && c.pids[node] == pid {
			return conn, nil
		}
		c.discard(node)
	}
	conn, err := c.d.srv.connect(ctx, node)
	if err != nil {
		return nil, workloads.Definite(fmt.Errorf("postgres: %w", err))
	}
	c.conns[node] = conn
	c.pids[node] = pid
	return conn, nil
}

// done forgets node's connection if err closed it.
func (c *Client) done(node string, err error) {
	if err == nil {
		return
	}
	if conn, ok := c.conns[node]; ok && conn.IsClosed() {
		delete(c.conns, node)
	}
}

// discard closes and forgets node's connection (its state is unknown).
func (c *Client) discard(node string) {
	if conn, ok := c.conns[node]; ok {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_ = conn.Close(ctx)
		cancel()
		delete(c.conns, node)
		delete(c.pids, node)
	}
}

// write runs one autocommit statement on the primary and returns the rows
// it affected.
func (c *Client) write(ctx context.Context, what, key, sql string, args ...any) (int64, error) {
	node := c.d.cl.Primary()
	c.extra = nil
	conn, err := c.conn(ctx, node)
	if err != nil {
		return 0, err
	}
	tag, err := conn.Exec(ctx, sql, args...)
	c.done(node, err)
	if err != nil {
		return 0, Classify(fmt.Errorf("postgres: %s %s on %s: %w", what, key, node, err))
	}
	return tag.RowsAffected(), nil
}

// read runs a query on the node ReadFrom picks.
func (c *Client) read(ctx context.Context, what, key string, f func(conn *pgx.Conn) error) error {
	node, extra := c.d.readNodeWhy(c.rng)
	c.extra = extra
	conn, err := c.conn(ctx, node)
	if err != nil {
		return err
	}
	err = f(conn)
	c.done(node, err)
	if err != nil {
		return Classify(fmt.Errorf("postgres: %s %s on %s: %w", what, key, node, err))
	}
	return nil
}

// Read returns the register's value; found=false when it was never
// written.
func (c *Client) Read(ctx context.Context, key string) (int64, bool, error) {
	var v int64
	found := true
	err := c.read(ctx, "read", key, func(conn *pgx.Conn) error {
		err := conn.QueryRow(ctx, "SELECT value FROM kv WHERE key = $1", key).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			found = false
			return nil
		}
		return err
	})
	if err != nil {
		return 0, false, err
	}
	return v, found, nil
}

// Write sets the register (an upsert on the primary).
func (c *Client) Write(ctx context.Context, key string, value int64) error {
	_, err := c.write(ctx, "write", key,
		"INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", key, value)
	return err
}

// CAS sets key to new iff it holds old, in one UPDATE on the primary;
// swapped says whether a row was updated.
func (c *Client) CAS(ctx context.Context, key string, old, new int64) (bool, error) {
	n, err := c.write(ctx, "cas", key, "UPDATE kv SET value = $3 WHERE key = $1 AND value = $2", key, old, new)
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// Add inserts element into the set. An element already present is not an
// error (ON CONFLICT DO NOTHING): elements are unique per add, so it can
// only be present because this very add took effect, and the set then
// holds it, which is what an ok add promises. (Reported as a Definite
// unique violation it would contradict the set.)
func (c *Client) Add(ctx context.Context, key string, element int64) error {
	_, err := c.write(ctx, "add to", key,
		"INSERT INTO sets (key, elem) VALUES ($1, $2) ON CONFLICT DO NOTHING", key, element)
	return err
}

// ReadSet returns the set's elements in ascending order.
func (c *Client) ReadSet(ctx context.Context, key string) ([]int64, error) {
	out := []int64{}
	err := c.read(ctx, "read set", key, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, "SELECT elem FROM sets WHERE key = $1 ORDER BY elem", key)
		if err != nil {
			return err
		}
		es, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		out = append(out, es...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Increment adds delta to the counter atomically, in one upsert on the
// primary (value = value + delta: no update can be lost).
func (c *Client) Increment(ctx context.Context, key string, delta int64) error {
	_, err := c.write(ctx, "increment", key,
		"INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = kv.value + EXCLUDED.value", key, delta)
	return err
}

// ReadCounter returns the counter (0 when never incremented).
func (c *Client) ReadCounter(ctx context.Context, key string) (int64, error) {
	v, _, err := c.Read(ctx, key)
	return v, err
}

// ReadModifyWrite runs, on the primary, BEGIN ISOLATION LEVEL <Isolation>;
// SELECT the value (no FOR UPDATE: the isolation level alone decides
// whether a concurrent update can be lost); upsert next(value); COMMIT.
//
// Any error before COMMIT is sent is Definite: the transaction never
// committed, and PostgreSQL rolls it back (explicitly here, or when the
// connection closes). The COMMIT's own error is classified by Classify: a
// serialization failure at commit is Definite, a lost connection is
// unknown. A COMMIT answered with ROLLBACK is Definite.
func (c *Client) ReadModifyWrite(ctx context.Context, key string, next func(old int64, found bool) int64) (int64, bool, int64, error) {
	node := c.d.cl.Primary()
	c.extra = nil
	conn, err := c.conn(ctx, node)
	if err != nil {
		return 0, false, 0, err
	}
	fail := func(step string, err error) (int64, bool, int64, error) {
		c.rollback(node, conn)
		return 0, false, 0, workloads.Definite(fmt.Errorf("postgres: rmw %s on %s: %s: %w", key, node, step, err))
	}
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL "+c.d.cfg.Isolation.SQL()); err != nil {
		return fail("begin", err)
	}
	var old int64
	found := true
	if err := conn.QueryRow(ctx, "SELECT value FROM kv WHERE key = $1", key).Scan(&old); err != nil {
		if !errors.Is(err, pgx.ErrNoRows) {
			return fail("select", err)
		}
		found = false
	}
	n := next(old, found)
	if _, err := conn.Exec(ctx,
		"INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", key, n); err != nil {
		return fail("write", err)
	}
	tag, err := conn.Exec(ctx, "COMMIT")
	c.done(node, err)
	if err != nil {
		return 0, false, 0, Classify(fmt.Errorf("postgres: rmw %s on %s: commit: %w", key, node, err))
	}
	if tag.String() != "COMMIT" {
		return 0, false, 0, workloads.Definite(fmt.Errorf("postgres: rmw %s on %s: commit answered %q: rolled back", key, node, tag.String()))
	}
	return old, found, n, nil
}

// rollback ends a failed transaction, or drops the connection when that
// is not possible quickly (the server then rolls back).
func (c *Client) rollback(node string, conn *pgx.Conn) {
	if conn.IsClosed() {
		delete(c.conns, node)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
		c.discard(node)
	}
}
