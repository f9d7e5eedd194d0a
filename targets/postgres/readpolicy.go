//go:build linux

package postgres

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/chaoscheck/chaoscheck/targets/readpolicy"
)

// validateMaxReplicaLag checks Config.MaxReplicaLag: it needs reads from
// replicas (--read-from replica) and a positive bound.
func (c Config) validateMaxReplicaLag() error {
	switch {
	case c.MaxReplicaLag < 0:
		return fmt.Errorf("postgres: max replica lag %v: want a positive duration", c.MaxReplicaLag)
	case c.MaxReplicaLag > 0 && c.ReadFrom != Replica:
		return fmt.Errorf("postgres: --max-replica-lag needs --read-from replica (reads go to %s)", c.ReadFrom)
	}
	return nil
}

// newPolicy is the deployment's read policy, nil without MaxReplicaLag.
func newPolicy(cfg Config) *readpolicy.Policy {
	if cfg.MaxReplicaLag <= 0 {
		return nil
	}
	return readpolicy.New(cfg.MaxReplicaLag)
}

// readNodeWhy picks the node serving a read and, with MaxReplicaLag, the
// history op Extra that says why (readpolicy.RouteKey); nil otherwise.
// The policy reads the latest lag sample without a lock: a read never
// waits for the sampler.
func (d *Deployment) readNodeWhy(rng *rand.Rand) (string, map[string]string) {
	if d.policy == nil {
		return d.readNode(rng), nil
	}
	var live []string
	for _, n := range d.cl.Replicas() {
		if d.cl.Live(n) {
			live = append(live, n)
		}
	}
	n, why := d.policy.Choose(time.Now(), live, rng)
	if n == "" {
		n = d.cl.Primary()
	}
	return n, d.policy.Extra(why)
}

// LastExtra returns the history op Extra of the last request: why a read
// went where it went under --max-replica-lag, nil otherwise
// (workloads.ExtraReporter).
func (c *Client) LastExtra() map[string]string { return c.extra }

// describeReadFrom is the "read from" setting: --read-from, and the
// policy when there is one.
func (d *Deployment) describeReadFrom() string {
	if d.policy == nil {
		return d.cfg.ReadFrom.String()
	}
	return fmt.Sprintf("a replica while its lag (pg_stat_replication replay_lag plus the age of its last reply, sampled every --lag-interval) is below %v and the sample is at most one interval old, else the primary (--max-replica-lag; why: history op extra %q)", d.policy.Max(), readpolicy.RouteKey)
}
