//go:build linux

package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chaoscheck/chaoscheck/targets"
)

var _ targets.Resetter = (*Deployment)(nil)

// ResetTimeout bounds waiting, in Reset, for every node to hold no key.
const ResetTimeout = 30 * time.Second

// Reset empties the deployment's data while its servers stay up, so that
// a suite runs its next case on the same cluster: every node must answer
// and every replica's link to its master be up (in cluster mode, every
// node reports cluster_state:ok), else it returns an error and the
// suite redeploys. Then FLUSHALL runs on every master, Reset waits
// until every node, replicas included, holds no key, and the server-side
// operation counts (NodeOps) start again from zero. It implements
// targets.Resetter.
func (d *Deployment) Reset(ctx context.Context) error {
	if err := d.reset(ctx); err != nil {
		return fmt.Errorf("redis: reset: %w", err)
	}
	return nil
}

func (d *Deployment) reset(ctx context.Context) error {
	srv := d.srv
	nodes := srv.lc.Nodes()
	if d.cfg.Mode == Cluster {
		if err := srv.waitClusterOK(ctx); err != nil {
			return err
		}
	}
	var masters []string
	for _, n := range nodes {
		rep, err := srv.info(ctx, n, "replication")
		if err != nil {
			return err
		}
		switch rep["role"] {
		case "master":
			masters = append(masters, n)
		case "slave":
			if rep["master_link_status"] != "up" {
				return fmt.Errorf("%s: replica with master link %s", n, rep["master_link_status"])
			}
		default:
			return fmt.Errorf("%s: role %q", n, rep["role"])
		}
	}
	if d.cfg.Mode == Replication && len(masters) != 1 {
		return fmt.Errorf("replication mode with %d masters (%v): the topology did not recover", len(masters), masters)
	}
	for _, n := range masters {
		if err := srv.admin(ctx, n, func(ctx context.Context, c *goredis.Client) error {
			return c.FlushAll(ctx).Err()
		}); err != nil {
			return fmt.Errorf("FLUSHALL: %w", err)
		}
	}
	err := pollUntil(ctx, ResetTimeout, "no key on any node", func(ctx context.Context) error {
		var errs []error
		for _, n := range nodes {
			var size int64
			err := srv.admin(ctx, n, func(ctx context.Context, c *goredis.Client) error {
				var err error
				size, err = c.DBSize(ctx).Result()
				return err
			})
			if err != nil {
				errs = append(errs, err)
			} else if size != 0 {
				errs = append(errs, fmt.Errorf("%s holds %d keys", n, size))
			}
		}
		return errors.Join(errs...)
	})
	if err != nil {
		return err
	}
	base, err := d.commandCounts(ctx)
	if err != nil {
		return fmt.Errorf("commandstats baseline: %w", err)
	}
	d.baseline = base
	return nil
}
