//go:build linux

package postgres

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chaoscheck/chaoscheck/targets"
)

var (
	_ targets.Resetter = (*Deployment)(nil)
	_ targets.Rebinder = (*Target)(nil)
)

// ResetTimeout bounds waiting, in Reset, for every standby to replay the
// truncation.
const ResetTimeout = 30 * time.Second

// dataTables are the tables of schema, emptied by Reset.
var dataTables = []string{"kv", "sets", "txn_lists", "txn_registers"}

// Reset empties the data tables while the cluster stays up, so that a
// suite runs its next case on the same servers: every node's server must
// run and no former primary wait for its rejoin, every standby must
// stream from the current primary (a failover's new primary is kept),
// else it returns an error and the suite redeploys. Then TRUNCATE runs
// on the primary and Reset waits until every standby has replayed the
// primary's WAL up to it. It implements targets.Resetter.
func (d *Deployment) Reset(ctx context.Context) error {
	if err := d.reset(ctx); err != nil {
		return fmt.Errorf("postgres: reset: %w", err)
	}
	return nil
}

func (d *Deployment) reset(ctx context.Context) error {
	c := d.cl
	primary := c.Primary()
	for _, n := range c.Nodes() {
		if !c.Live(n) {
			return fmt.Errorf("%s is down or awaits its rejoin", n)
		}
	}
	replicas := c.Replicas()
	if err := d.srv.waitStreaming(ctx, primary, replicas); err != nil {
		return err
	}
	var lsn string
	err := d.srv.admin(ctx, primary, func(ctx context.Context, conn *pgx.Conn) error {
		for _, t := range dataTables {
			if _, err := conn.Exec(ctx, "TRUNCATE "+t); err != nil {
				return fmt.Errorf("TRUNCATE %s: %w", t, err)
			}
		}
		return conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn)
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, ResetTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for _, n := range replicas {
		for {
			var caught bool
			err := d.srv.admin(ctx, n, func(ctx context.Context, conn *pgx.Conn) error {
				return conn.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).Scan(&caught)
			})
			if err == nil && caught {
				break
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return errors.Join(fmt.Errorf("standby %s did not replay the truncation (WAL %s)", n, lsn), err, ctx.Err())
			}
		}
	}
	return nil
}

// SameDeployment reports whether a deployment of t can serve to: the
// same nodes, replication and server configuration, whatever the
// isolation level of its transactions (the only client-side setting).
// It implements targets.Rebinder.
func (t *Target) SameDeployment(to targets.Target) error {
	o, ok := to.(*Target)
	if !ok {
		return fmt.Errorf("postgres: %s is not a postgres target", to.Name())
	}
	a, b := t.cfg, o.cfg
	a.Isolation, b.Isolation = 0, 0
	a.Seed, b.Seed = 0, 0
	if (a.Runtime == nil) != (b.Runtime == nil) || (a.Runtime != nil && a.Runtime.Name() != b.Runtime.Name()) {
		return errors.New("postgres: another runtime")
	}
	a.Runtime, b.Runtime = nil, nil
	if !reflect.DeepEqual(a, b) {
		return errors.New("postgres: the clusters differ (nodes, replication, reads, server configuration)")
	}
	return nil
}

// Rebind returns a view of dep whose clients use to's isolation level.
// It implements targets.Rebinder.
func (t *Target) Rebind(dep targets.Deployment, to targets.Target) (targets.Deployment, error) {
	d, ok := dep.(*Deployment)
	if !ok {
		return nil, errors.New("postgres: rebind: not a postgres deployment")
	}
	if err := t.SameDeployment(to); err != nil {
		return nil, err
	}
	nd := *d
	nd.cfg.Isolation = to.(*Target).cfg.Isolation
	nd.cfg.Seed = to.(*Target).cfg.Seed
	return &view{Deployment: &nd}, nil
}

// view is a deployment with its own isolation level; it shares the
// servers, and Close leaves them running (whoever deployed them closes
// them).
type view struct{ *Deployment }

// Close does nothing.
func (v *view) Close(context.Context) error { return nil }
