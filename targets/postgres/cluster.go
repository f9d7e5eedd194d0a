//go:build linux

package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// RepointTimeout bounds waiting for a standby re-pointed at a new primary
// (primary_conninfo + reload) to stream from it; past it the standby is
// re-cloned instead.
const RepointTimeout = 10 * time.Second

// Cluster is a deployed PostgreSQL cluster as the nemesis sees it: the
// runtime's faults (Kill, Restart, Pause, Partition, SetClockOffset of
// the embedded cluster.Deployed) plus cluster.Failoverer. Clients read
// the current primary from it on every request.
//
// A former primary that was replaced by Promote is fenced: it must not
// come back as a second primary, so Restart of a fenced node rejoins it
// as a standby (Rejoin) instead of restarting its old data directory.
type Cluster struct {
	cluster.Deployed
	srv *server

	primary atomic.Pointer[string]

	// mu serializes Promote and Rejoin.
	mu sync.Mutex

	fencedMu sync.Mutex
	fenced   map[string]bool
}

var (
	_ cluster.Failoverer  = (*Cluster)(nil)
	_ cluster.Killer      = (*Cluster)(nil)
	_ cluster.Pauser      = (*Cluster)(nil)
	_ cluster.Partitioner = (*Cluster)(nil)
	_ cluster.ClockSkewer = (*Cluster)(nil)
)

func newCluster(srv *server, plan cluster.Plan, primary string) *Cluster {
	c := &Cluster{Deployed: cluster.NewDeployed(srv.lc, plan), srv: srv, fenced: map[string]bool{}}
	c.primary.Store(&primary)
	return c
}

// Primary names the current primary.
func (c *Cluster) Primary() string { return *c.primary.Load() }

// Replicas returns the nodes that are not the current primary.
func (c *Cluster) Replicas() []string {
	p := c.Primary()
	var out []string
	for _, n := range c.Nodes() {
		if n != p {
			out = append(out, n)
		}
	}
	return out
}

// Fenced reports whether node is a former primary awaiting Rejoin.
func (c *Cluster) Fenced(node string) bool {
	c.fencedMu.Lock()
	defer c.fencedMu.Unlock()
	return c.fenced[node]
}

func (c *Cluster) setFenced(node string, f bool) {
	c.fencedMu.Lock()
	defer c.fencedMu.Unlock()
	if f {
		c.fenced[node] = true
	} else {
		delete(c.fenced, node)
	}
}

// Live reports whether node's server process is running and the node is
// not fenced. It says nothing of partitions or pauses.
func (c *Cluster) Live(node string) bool {
	if c.Fenced(node) {
		return false
	}
	for _, p := range c.Processes(node) {
		if p.Name() == "postgres" {
			return p.Running()
		}
	}
	return false
}

// serverPid returns the pid of the current (or last) run of node's
// server, 0 if it has none.
func (c *Cluster) serverPid(node string) int {
	for _, p := range c.Processes(node) {
		if p.Name() == "postgres" {
			return p.Pid()
		}
	}
	return 0
}

// Restart starts the node's server again with its data, except for a
// fenced former primary, which is rejoined as a standby of the current
// primary (see Rejoin): restarting its old data directory would make a
// second primary.
func (c *Cluster) Restart(ctx context.Context, node string) error {
	if c.Fenced(node) {
		return c.Rejoin(ctx, node)
	}
	return c.Deployed.Restart(ctx, node)
}

// Promote makes the most advanced reachable standby the primary: among the
// nodes that are neither the current primary nor in exclude nor fenced, it
// asks each (bounded by AdminTimeout) for its last received (or replayed)
// WAL position and promotes the one furthest ahead with pg_promote, then
// waits until it accepts writes. In sync mode it sets the new primary's
// synchronous_standby_names to 'ANY 1 (<every other node>)' before clients
// are pointed at it: while none of those is streaming, commits wait (and
// time out as info) rather than silently becoming asynchronous. Clients
// follow the new primary from their next request. The former primary is
// fenced (see Restart). The other reachable standbys are re-pointed at the
// new primary (primary_conninfo + reload, the standby follows the new
// timeline), or re-cloned when they do not stream within RepointTimeout;
// a standby that fails both, or did not answer at all, is fenced too
// (no reads go to it; Restart or Rejoin re-clones it). Only a failure to
// establish a writable new primary is an error.
func (c *Cluster) Promote(ctx context.Context, exclude []string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, PromoteTimeout+StreamTimeout)
	defer cancel()
	old := c.Primary()
	skip := map[string]bool{old: true}
	for _, e := range exclude {
		skip[e] = true
	}
	best, bestLSN := "", int64(-1)
	var standbys, unreachable []string
	var errs []error
	for _, n := range c.Nodes() {
		if skip[n] || c.Fenced(n) {
			continue
		}
		unreachable = append(unreachable, n) // removed below if it answers
		var inRecovery bool
		var lsn int64
		err := c.srv.admin(ctx, n, func(ctx context.Context, conn *pgx.Conn) error {
			return conn.QueryRow(ctx, `SELECT pg_is_in_recovery(),
				COALESCE(pg_wal_lsn_diff(GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), '0/0'), 0)::bigint`).
				Scan(&inRecovery, &lsn)
		})
		switch {
		case err != nil:
			errs = append(errs, err)
		case !inRecovery:
			errs = append(errs, fmt.Errorf("%s is not a standby", n))
		default:
			unreachable = unreachable[:len(unreachable)-1]
			standbys = append(standbys, n)
			if lsn > bestLSN {
				best, bestLSN = n, lsn
			}
		}
	}
	if best == "" {
		return "", fmt.Errorf("postgres: promote: no reachable standby (excluding %s): %w", strings.Join(slices.Sorted(maps.Keys(skip)), ","), errors.Join(errs...))
	}
	pctx, pcancel := context.WithTimeout(ctx, PromoteTimeout)
	defer pcancel()
	if err := c.promote(pctx, best); err != nil {
		return "", fmt.Errorf("postgres: promote %s: %w", best, err)
	}
	if c.srv.cfg.Replication == Sync {
		if err := c.setSyncStandbys(pctx, best); err != nil {
			return "", fmt.Errorf("postgres: promote %s: %w", best, err)
		}
	}
	c.primary.Store(&best)
	c.setFenced(old, true)
	// A standby that did not answer still follows the old primary: keep
	// reads off it until it is rejoined.
	for _, n := range unreachable {
		c.setFenced(n, true)
	}
	for _, n := range standbys {
		if n == best {
			continue
		}
		if err := c.repoint(ctx, n, best); err != nil {
			// Leave it for Rejoin: it cannot follow the new primary.
			c.setFenced(n, true)
		}
	}
	return best, nil
}

// promote asks node to promote (pg_promote without waiting) and waits,
// within ctx, until it takes writes. The wait is ctx's, not
// pg_promote's own: the end of recovery (a new timeline, its history
// file, the checkpoint) took 9 s on a loaded CI machine, past the 4 s
// pg_promote was given before.
func (c *Cluster) promote(ctx context.Context, node string) error {
	var ok bool
	err := c.srv.admin(ctx, node, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT pg_promote(false)").Scan(&ok)
	})
	if err != nil {
		return fmt.Errorf("pg_promote: %w", err)
	}
	if !ok {
		return errors.New("pg_promote: the promotion could not be signalled")
	}
	if err := c.waitWritable(ctx, node); err != nil {
		return fmt.Errorf("promoted %s: not taking writes: %w", node, err)
	}
	return nil
}

// waitWritable polls until a transaction on node can take a transaction
// id and commit. The probe commits with synchronous_commit=local so that
// it does not wait for standbys that are not streaming yet.
func (c *Cluster) waitWritable(ctx context.Context, node string) error {
	for {
		err := c.srv.admin(ctx, node, func(ctx context.Context, conn *pgx.Conn) error {
			tx, err := conn.Begin(ctx)
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback(ctx) }()
			if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = local"); err != nil {
				return err
			}
			var xid int64
			if err := tx.QueryRow(ctx, "SELECT txid_current()").Scan(&xid); err != nil {
				return err
			}
			return tx.Commit(ctx)
		})
		if err == nil {
			return nil
		}
		if !sleep(ctx, pollEvery) {
			return fmt.Errorf("%s does not take writes: %w", node, err)
		}
	}
}

// syncStandbyNames is synchronous_standby_names for primary: any one of
// the other nodes.
func (c *Cluster) syncStandbyNames(primary string) string {
	var others []string
	for _, n := range c.Nodes() {
		if n != primary {
			others = append(others, n)
		}
	}
	return fmt.Sprintf("ANY 1 (%s)", strings.Join(others, ", "))
}

// setSyncStandbys sets primary's synchronous_standby_names and waits until
// the server reports the new value.
func (c *Cluster) setSyncStandbys(ctx context.Context, primary string) error {
	want := c.syncStandbyNames(primary)
	if err := c.srv.exec(ctx, primary,
		"ALTER SYSTEM SET synchronous_standby_names = "+quoteLiteral(want),
		"SELECT pg_reload_conf()"); err != nil {
		return err
	}
	for {
		var got string
		err := c.srv.admin(ctx, primary, func(ctx context.Context, conn *pgx.Conn) error {
			return conn.QueryRow(ctx, "SHOW synchronous_standby_names").Scan(&got)
		})
		if err == nil && got == want {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("synchronous_standby_names is %q, want %q", got, want)
		}
		if !sleep(ctx, pollEvery) {
			return fmt.Errorf("set synchronous_standby_names on %s: %w", primary, err)
		}
	}
}

// conninfo is a standby's primary_conninfo for following primary.
func (c *Cluster) conninfo(standby, primary string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres application_name=%s connect_timeout=1", c.Addr(primary), Port, standby)
}

// repoint makes a running standby follow primary (primary_conninfo is
// reloadable since PostgreSQL 13), falling back to a re-clone when it
// does not stream within RepointTimeout.
func (c *Cluster) repoint(ctx context.Context, standby, primary string) error {
	err := c.srv.exec(ctx, standby,
		"ALTER SYSTEM SET primary_conninfo = "+quoteLiteral(c.conninfo(standby, primary)),
		"SELECT pg_reload_conf()")
	if err == nil {
		rctx, cancel := context.WithTimeout(ctx, RepointTimeout)
		err = c.srv.waitStreaming(rctx, primary, []string{standby})
		cancel()
		if err == nil {
			return nil
		}
	}
	if rerr := c.reclone(ctx, standby, primary); rerr != nil {
		return fmt.Errorf("repoint %s at %s: %w; re-clone: %w", standby, primary, err, rerr)
	}
	return nil
}

// reclone kills node's server, replaces its data directory with a base
// backup of primary, starts it as a standby and waits until it streams.
func (c *Cluster) reclone(ctx context.Context, node, primary string) error {
	if err := c.Deployed.Kill(ctx, node); err != nil {
		return err
	}
	if err := c.srv.cloneFrom(ctx, node, primary); err != nil {
		return err
	}
	if err := c.Deployed.Restart(ctx, node); err != nil {
		return err
	}
	return c.srv.waitStreaming(ctx, primary, []string{node})
}

// Rejoin brings node (normally a former primary) back as a standby of the
// current primary. It does not rewind: it kills the node's server, wipes
// its data directory, clones the current primary with pg_basebackup,
// starts it and waits until it streams (bounded by StreamTimeout plus the
// clone's ToolTimeout). Whatever the old primary had acknowledged but not
// replicated is discarded, as pg_rewind would discard it too. Rejoining
// the current primary is a no-op (a failed failover restarted it).
func (c *Cluster) Rejoin(ctx context.Context, node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	primary := c.Primary()
	if node == primary {
		return nil
	}
	if !slices.Contains(c.Nodes(), node) {
		return fmt.Errorf("postgres: rejoin: unknown node %q", node)
	}
	ctx, cancel := context.WithTimeout(ctx, ToolTimeout+StreamTimeout)
	defer cancel()
	if err := c.reclone(ctx, node, primary); err != nil {
		return fmt.Errorf("postgres: rejoin %s to %s: %w", node, primary, err)
	}
	c.setFenced(node, false)
	return nil
}
