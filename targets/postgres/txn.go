//go:build linux

package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/chaoscheck/chaoscheck/workloads"
)

var _ workloads.TxnClient = (*Client)(nil)

// Txn runs ops as one transaction on the primary: BEGIN ISOLATION LEVEL
// <Isolation>; one statement per micro-op; COMMIT. Lists are bigint[]
// rows of txn_lists, appended in place (INSERT ... ON CONFLICT DO UPDATE
// SET vals = txn_lists.vals || EXCLUDED.vals, so the append applies to the
// row's current version, as Jepsen's PostgreSQL tests do); registers are
// rows of txn_registers, written by upsert. A read is a SELECT of the
// key's row (none: never written). Reads go to the primary too, whatever
// ReadFrom says: a transaction runs on one server.
//
// Errors, as for ReadModifyWrite: anything before COMMIT is sent is
// Definite (the transaction is rolled back, explicitly or when the
// connection closes); the COMMIT's own error goes through Classify (a
// serialization failure, 40001, is Definite: fail; a connection lost
// while COMMIT was in flight is unknown: info); a COMMIT answered with
// ROLLBACK is Definite.
func (c *Client) Txn(ctx context.Context, kind workloads.TxnKind, ops []workloads.MicroOp) error {
	node := c.d.cl.Primary()
	conn, err := c.conn(ctx, node)
	if err != nil {
		return err
	}
	fail := func(step string, err error) error {
		c.rollback(node, conn)
		return workloads.Definite(fmt.Errorf("postgres: txn on %s: %s: %w", node, step, err))
	}
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL "+c.d.cfg.Isolation.SQL()); err != nil {
		return fail("begin", err)
	}
	for i := range ops {
		op := &ops[i]
		step := fmt.Sprintf("%s %d", op.F, op.Key)
		var err error
		switch {
		case op.F == "r" && kind == workloads.Lists:
			var vals []int64
			err = conn.QueryRow(ctx, "SELECT vals FROM txn_lists WHERE key = $1", op.Key).Scan(&vals)
			op.Read, op.Found = vals, err == nil
		case op.F == "r":
			var v int64
			err = conn.QueryRow(ctx, "SELECT value FROM txn_registers WHERE key = $1", op.Key).Scan(&v)
			op.Read, op.Found = []int64{v}, err == nil
		case op.F == "append" && kind == workloads.Lists:
			_, err = conn.Exec(ctx, "INSERT INTO txn_lists (key, vals) VALUES ($1, ARRAY[$2::bigint]) ON CONFLICT (key) DO UPDATE SET vals = txn_lists.vals || EXCLUDED.vals", op.Key, op.Value)
		case op.F == "w" && kind == workloads.Registers:
			_, err = conn.Exec(ctx, "INSERT INTO txn_registers (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", op.Key, op.Value)
		default:
			return fail(step, fmt.Errorf("micro-op %q on %s", op.F, kind))
		}
		if errors.Is(err, pgx.ErrNoRows) {
			op.Read, op.Found, err = nil, false, nil
		}
		if err != nil {
			return fail(step, err)
		}
	}
	tag, err := conn.Exec(ctx, "COMMIT")
	c.done(node, err)
	if err != nil {
		return Classify(fmt.Errorf("postgres: txn on %s: commit: %w", node, err))
	}
	if tag.String() != "COMMIT" {
		return workloads.Definite(fmt.Errorf("postgres: txn on %s: commit answered %q: rolled back", node, tag.String()))
	}
	return nil
}
