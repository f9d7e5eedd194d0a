//go:build linux

package cassandra

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/targets"
)

var (
	_ targets.Resetter = (*Deployment)(nil)
	_ targets.Rebinder = (*Target)(nil)
	_ targets.Quorums  = (*suiteView)(nil)
)

// Bounds of Reset.
const (
	ResetReadyTimeout    = 2 * time.Minute
	ResetTruncateTimeout = time.Minute
)

// Reset empties the data tables while the cluster stays up, so that a
// suite runs its next case on the same nodes: every node's JVM must be
// running (a killed node is an error, and the suite redeploys), and the
// ring whole (a write at ALL through every node succeeds, as after
// Deploy); then TRUNCATE runs on every data table (Cassandra needs every
// node up for it), retried within ResetTruncateTimeout. Views made by Rebind after a reset also store their keys under a
// new prefix, so that no row of an earlier case (a hint replayed after
// the TRUNCATE) is ever read again. It implements targets.Resetter.
func (d *Deployment) Reset(ctx context.Context) error {
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return errors.New("cassandra: reset: the deployment is closed")
	}
	if n := d.downNodes(); n > 0 {
		return fmt.Errorf("cassandra: reset: %d nodes are down", n)
	}
	// A node restarted after a kill takes a while to rejoin the ring:
	// TRUNCATE needs all of them.
	if err := d.WaitReady(ctx, ResetReadyTimeout); err != nil {
		return fmt.Errorf("cassandra: reset: %w", err)
	}
	// TRUNCATE flushes every node; under a loaded machine one may outlast
	// the admin session's timeout. It is idempotent: try again, bounded.
	deadline := time.Now().Add(ResetTruncateTimeout)
	for {
		err := d.Truncate(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) || !sleepCtx(ctx, pollInterval) {
			return fmt.Errorf("cassandra: reset: %w", err)
		}
	}
	d.mu.Lock()
	d.resets++
	d.mu.Unlock()
	return nil
}

// deployConfig is cfg without what only clients read (consistency
// levels, coordinator choice, client timestamps) and without the seed;
// the runtime is compared by name.
func deployConfig(cfg Config) (Config, string) {
	cfg.ReadCL, cfg.WriteCL, cfg.SerialCL = "", "", ""
	cfg.Sticky, cfg.ClientTimestamps = false, false
	cfg.Seed = 0
	rt := ""
	if cfg.Runtime != nil {
		rt = cfg.Runtime.Name()
	}
	cfg.Runtime = nil
	return cfg, rt
}

// SameDeployment reports whether a deployment of t can serve to: the
// same nodes, keyspace, server configuration and runtime, whatever the
// client settings. It implements targets.Rebinder.
func (t *Target) SameDeployment(to targets.Target) error {
	o, ok := to.(*Target)
	if !ok {
		return fmt.Errorf("cassandra: %s is not a cassandra target", to.Name())
	}
	a, art := deployConfig(t.cfg)
	b, brt := deployConfig(o.cfg)
	if art != brt {
		return fmt.Errorf("cassandra: runtime %s, not %s", brt, art)
	}
	if !reflect.DeepEqual(a, b) {
		return errors.New("cassandra: the clusters differ (nodes, replication, server configuration, regions or JVM settings)")
	}
	return nil
}

// Rebind returns a view of dep with to's client settings; its keys live
// under a namespace of dep's current reset. It implements
// targets.Rebinder.
func (t *Target) Rebind(dep targets.Deployment, to targets.Target) (targets.Deployment, error) {
	d, ok := dep.(*Deployment)
	if !ok {
		return nil, fmt.Errorf("cassandra: rebind: not a cassandra deployment")
	}
	if err := t.SameDeployment(to); err != nil {
		return nil, err
	}
	o := to.(*Target).cfg.clientOptions()
	if err := o.validate(d.cfg.ReplicationFactor); err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.resets > 0 {
		o.KeyPrefix = fmt.Sprintf("r%d-", d.resets)
	}
	d.mu.Unlock()
	return &suiteView{view: view{d: d, o: o}}, nil
}

// suiteView is a view for a suite: besides the view's clients,
// description and facts, it states the quorums of its own levels and the
// deployment's regions and logs. Close does nothing.
type suiteView struct{ view }

func (v *suiteView) Cluster() cluster.Cluster { return v.d.cl }

// Quorums returns N, R and W of the view's consistency levels.
func (v *suiteView) Quorums() (n, r, w int) {
	if v.d.cfg.Regions > 1 {
		return 0, 0, 0
	}
	rf := v.d.cfg.ReplicationFactor
	return rf, replicasFor(v.o.ReadCL, rf), replicasFor(v.o.WriteCL, rf)
}

// Regions returns the deployment's regions.
func (v *suiteView) Regions() map[string]string { return v.d.Regions() }

// SampleLag samples the deployment's lag (targets.LagSampler): the view
// shares its nodes, so a suite's cells see the hints as a test does.
func (v *suiteView) SampleLag(ctx context.Context) ([]lag.Sample, error) { return v.d.SampleLag(ctx) }
