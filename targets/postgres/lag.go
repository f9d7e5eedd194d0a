//go:build linux

package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/readpolicy"
)

var _ targets.LagSampler = (*Deployment)(nil)

// lagQuery is one sampling round, on the primary: its current WAL
// position, and per standby row of pg_stat_replication the write, flush
// and replay lag (ns), how far its replay position is behind, and the age
// of its last reply (ns, the primary's clock against the standby's send
// stamp). It returns one row even without any standby (the LEFT JOIN).
const lagQuery = `SELECT pg_wal_lsn_diff(c.lsn, '0/0')::bigint,
	r.application_name, r.state,
	(EXTRACT(EPOCH FROM r.write_lag) * 1000000000)::bigint,
	(EXTRACT(EPOCH FROM r.flush_lag) * 1000000000)::bigint,
	(EXTRACT(EPOCH FROM r.replay_lag) * 1000000000)::bigint,
	pg_wal_lsn_diff(c.lsn, r.replay_lsn)::bigint,
	(EXTRACT(EPOCH FROM clock_timestamp() - r.reply_time) * 1000000000)::bigint
FROM (SELECT pg_current_wal_lsn() AS lsn) c LEFT JOIN pg_stat_replication r ON true`

// lagSampler is the state of SampleLag: its own connection to the
// primary (never a client's) and the primary's WAL positions over the
// last rounds.
type lagSampler struct {
	mu   sync.Mutex
	node string // the primary conn is connected to
	pid  int    // its server's pid when connected
	conn *pgx.Conn
	ring readpolicy.Ring
	// ringOf is the primary whose positions ring holds.
	ringOf string
}

// standbyRow is one row of lagQuery.
type standbyRow struct {
	state                      string
	write, flush, replay, back *int64
	replyAge                   *int64
}

// SampleLag asks the current primary, in one query on a connection of
// its own, for every standby's lag (targets.LagSampler):
//
//   - WriteLagNS, FlushLagNS, ReplayLagNS: pg_stat_replication's
//     write_lag, flush_lag and replay_lag, nil when NULL (PostgreSQL
//     sets them NULL when the standby is idle and caught up, and before
//     it has measured anything);
//   - Bytes: pg_current_wal_lsn() - replay_lsn;
//   - LagNS: how far behind the standby may be now. PostgreSQL measures
//     replay_lag when a reply of the standby comes in, so LagNS is
//     replay_lag plus the age of that reply (clock_timestamp() -
//     reply_time: the primary's clock against the standby's send stamp,
//     the same clock on the local and docker runtimes; a clock fault
//     skews it): a standby that stopped replying (frozen, cut off) does
//     not keep its old small figure. When Bytes is 0 the standby has
//     replayed everything: 0 is then honest, whatever replay_lag says.
//     When replay_lag is NULL and Bytes > 0 (the standby said it had
//     caught up, and WAL was written since), LagNS is the age of its
//     last reply. Without reply_time, LagNS is derived from the
//     primary's WAL positions of the last rounds (Derived): the time
//     since the latest round whose position the standby had replayed,
//     an upper bound with the sampling interval's resolution (nil when
//     it is behind every round held). And when the time since the
//     oldest round whose position the standby had not replayed is
//     longer than the figure (the clocks disagree), that lower bound is
//     LagNS (Derived).
//
// Every node other than the current primary gets a Sample: one missing
// from pg_stat_replication (disconnected, fenced, being re-cloned) gets
// Err. After a failover the new primary is asked (Cluster.Primary is read
// every round) and the positions of the old one are dropped. A failure
// to reach the primary fails the round (the runner records it for every
// replica).
func (d *Deployment) SampleLag(ctx context.Context) ([]lag.Sample, error) {
	s := d.lag
	s.mu.Lock()
	defer s.mu.Unlock()
	primary := d.cl.Primary()
	at := time.Now()
	cur, rows, err := s.query(ctx, d, primary)
	if err != nil {
		return nil, fmt.Errorf("postgres: lag of the standbys of %s: %w", primary, err)
	}
	s.ring.Add(at, cur)
	out := make([]lag.Sample, 0, len(d.cl.Nodes())-1)
	for _, n := range d.cl.Replicas() {
		sm := lag.Sample{Node: n, Of: primary}
		r, ok := rows[n]
		switch {
		case !ok:
			sm.Err = fmt.Sprintf("not in pg_stat_replication of %s (disconnected)", primary)
			if d.cl.Fenced(n) {
				sm.Err += "; fenced, awaiting rejoin"
			}
		default:
			sm.WriteLagNS, sm.FlushLagNS, sm.ReplayLagNS, sm.Bytes = r.write, r.flush, r.replay, r.back
			sm.LagNS, sm.Derived = s.lagOf(r, cur, at)
		}
		out = append(out, sm)
	}
	if d.policy != nil {
		d.policy.Record(at, out)
	}
	return out, nil
}

// lagOf is LagNS of a standby row (see SampleLag).
func (s *lagSampler) lagOf(r standbyRow, cur int64, at time.Time) (*int64, bool) {
	if r.back == nil {
		// No replay position yet (the standby is starting up).
		return nil, false
	}
	back := max(0, *r.back)
	if back == 0 {
		// It has replayed all the primary has written: 0 is honest,
		// whatever the last measured replay_lag was.
		return lag.Int64(0), false
	}
	lower, upper, hasUpper := s.ring.Behind(cur-back, at)
	var age int64 // since the standby's last reply
	if r.replyAge != nil {
		age = max(0, *r.replyAge)
	}
	var l int64
	switch {
	case r.replay != nil:
		// replay_lag was measured when the last reply came: the standby
		// may have applied nothing since.
		l = *r.replay + age
	case r.replyAge != nil:
		// NULL: the standby said it had caught up, in its last reply;
		// what it lacks was written since.
		l = age
	case hasUpper:
		return lag.Int64(upper.Nanoseconds()), true
	default:
		return nil, false
	}
	if lower.Nanoseconds() > l {
		// Its figures are older than the clocks say (they disagree):
		// the WAL positions' lower bound.
		return lag.Int64(lower.Nanoseconds()), true
	}
	return lag.Int64(l), false
}

// query runs lagQuery on primary over the sampler's connection,
// (re)connecting when the primary changed, its server restarted or the
// connection broke. It returns the primary's WAL position and the rows
// by standby name.
func (s *lagSampler) query(ctx context.Context, d *Deployment, primary string) (int64, map[string]standbyRow, error) {
	pid := d.cl.serverPid(primary)
	if s.conn != nil && (s.node != primary || s.pid != pid || s.conn.IsClosed()) {
		s.close()
	}
	if s.ringOf != primary {
		s.ring.Reset()
		s.ringOf = primary
	}
	if s.conn == nil {
		conn, err := s.connect(ctx, d, primary)
		if err != nil {
			return 0, nil, err
		}
		s.conn, s.node, s.pid = conn, primary, pid
	}
	rows, err := s.conn.Query(ctx, lagQuery)
	if err != nil {
		s.close()
		return 0, nil, err
	}
	var cur int64
	out := map[string]standbyRow{}
	nodes := d.cl.Nodes()
	for rows.Next() {
		var name, state *string
		var r standbyRow
		if err := rows.Scan(&cur, &name, &state, &r.write, &r.flush, &r.replay, &r.back, &r.replyAge); err != nil {
			rows.Close()
			s.close()
			return 0, nil, err
		}
		if name == nil || !slices.Contains(nodes, *name) {
			continue // no standby at all, or a pg_basebackup's sender
		}
		if state != nil {
			r.state = *state
		}
		// A standby that reconnects may briefly have two senders: keep
		// the streaming one, else the one furthest ahead.
		if old, ok := out[*name]; ok && !better(r, old) {
			continue
		}
		out[*name] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		s.close()
		return 0, nil, err
	}
	return cur, out, nil
}

// connect opens the sampler's connection to primary, named
// chaoscheck-lag in pg_stat_activity (clients are chaoscheck).
func (s *lagSampler) connect(ctx context.Context, d *Deployment, primary string) (*pgx.Conn, error) {
	cc, err := d.srv.connConfig(primary)
	if err != nil {
		return nil, err
	}
	cc.RuntimeParams["application_name"] = "chaoscheck-lag"
	ctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", primary, err)
	}
	return c, nil
}

// better reports whether row a should replace row b of the same standby.
func better(a, b standbyRow) bool {
	if (a.state == "streaming") != (b.state == "streaming") {
		return a.state == "streaming"
	}
	if a.back == nil || b.back == nil {
		return b.back == nil && a.back != nil
	}
	return *a.back < *b.back
}

// close drops the sampler's connection.
func (s *lagSampler) close() {
	if s.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = s.conn.Close(ctx)
	s.conn, s.node, s.pid = nil, "", 0
}

// closeLag closes the sampler's connection (Close).
func (d *Deployment) closeLag() {
	d.lag.mu.Lock()
	defer d.lag.mu.Unlock()
	d.lag.close()
}
