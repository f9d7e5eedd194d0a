//go:build linux

package etcd

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/chaoscheck/chaoscheck/targets"
)

var _ targets.Resetter = (*Deployment)(nil)

// ResetTimeout bounds Reset's waits.
const ResetTimeout = time.Minute

// Reset deletes every key while the cluster stays up, so that a suite
// runs its next case on the same members: every member must be running
// and healthy (a leader, a read answered), else it returns an error and
// the suite redeploys. One DeleteRange over the whole key space goes
// through the cluster (Raft), and Reset waits until every member answers
// a local (serializable) read at or past its revision with no key left.
// It implements targets.Resetter.
func (d *Deployment) Reset(ctx context.Context) error {
	if err := d.reset(ctx); err != nil {
		return fmt.Errorf("etcd: reset: %w", err)
	}
	return nil
}

func (d *Deployment) reset(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, ResetTimeout)
	defer cancel()
	for _, n := range d.nodes {
		if p := d.procs[n]; p == nil || !p.Running() {
			return fmt.Errorf("%s is down", n)
		}
	}
	if err := d.waitHealthy(ctx); err != nil {
		return err
	}
	var eps []string
	for _, n := range d.nodes {
		eps = append(eps, d.endpoints[n])
	}
	cli, err := newClient(eps)
	if err != nil {
		return err
	}
	defer cli.Close()
	dctx, dcancel := context.WithTimeout(ctx, 10*ProbeTimeout)
	del, err := cli.Delete(dctx, "\x00", clientv3.WithFromKey())
	dcancel()
	if err != nil {
		return fmt.Errorf("delete every key: %w", err)
	}
	rev := del.Header.Revision
	for _, n := range d.nodes {
		if err := d.waitEmpty(ctx, n, rev); err != nil {
			return err
		}
	}
	return nil
}

// waitEmpty polls node until its local state is at revision rev or later
// and holds no key.
func (d *Deployment) waitEmpty(ctx context.Context, node string, rev int64) error {
	cli, err := newClient([]string{d.endpoints[node]})
	if err != nil {
		return err
	}
	defer cli.Close()
	var last error
	for {
		gctx, gcancel := context.WithTimeout(ctx, ProbeTimeout)
		r, err := cli.Get(gctx, "\x00", clientv3.WithFromKey(), clientv3.WithCountOnly(), clientv3.WithSerializable())
		gcancel()
		switch {
		case err != nil:
			last = err
		case r.Header.Revision < rev:
			last = fmt.Errorf("at revision %d, the delete is %d", r.Header.Revision, rev)
		case r.Count != 0:
			last = fmt.Errorf("%d keys left at revision %d", r.Count, r.Header.Revision)
		default:
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("%s did not apply the delete", node), last, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}
