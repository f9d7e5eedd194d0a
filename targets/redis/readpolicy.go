//go:build linux

package redis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chaoscheck/chaoscheck/targets/readpolicy"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// ReadFrom says which node serves reads in Replication mode (writes
// always go to the primary; Cluster mode reads from masters only).
type ReadFrom int

const (
	// Primary: reads go to the current primary (the default).
	Primary ReadFrom = iota
	// Replica: reads go to a random live replica (the primary when none
	// is live), or, with Config.MaxReplicaLag, to one whose sampled lag is
	// below it.
	Replica
)

// String returns "primary" or "replica".
func (r ReadFrom) String() string {
	switch r {
	case Primary:
		return "primary"
	case Replica:
		return "replica"
	}
	return fmt.Sprintf("ReadFrom(%d)", int(r))
}

// ParseReadFrom parses "primary" or "replica".
func ParseReadFrom(s string) (ReadFrom, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "primary":
		return Primary, nil
	case "replica":
		return Replica, nil
	}
	return 0, fmt.Errorf("redis: read-from %q: want primary or replica", s)
}

// validateReadPolicy checks ReadFrom and MaxReplicaLag: reads from
// replicas are a Replication-mode setting, and the bound needs them.
func (c Config) validateReadPolicy() error {
	switch {
	case c.ReadFrom != Primary && c.ReadFrom != Replica:
		return fmt.Errorf("redis: unknown read-from %d", int(c.ReadFrom))
	case c.ReadFrom == Replica && c.Mode != Replication:
		return fmt.Errorf("redis: --read-from replica applies to --redis-mode replication (cluster mode reads from each slot's master)")
	case c.MaxReplicaLag < 0:
		return fmt.Errorf("redis: max replica lag %v: want a positive duration", c.MaxReplicaLag)
	case c.MaxReplicaLag > 0 && c.Mode != Replication:
		return fmt.Errorf("redis: --max-replica-lag applies to --redis-mode replication (cluster mode reads from each slot's master)")
	case c.MaxReplicaLag > 0 && c.ReadFrom != Replica:
		return fmt.Errorf("redis: --max-replica-lag needs --read-from replica (reads go to the %s)", c.ReadFrom)
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

// live reports whether node's server runs and the node is not fenced.
func (r *Replicated) live(node string) bool {
	if r.Fenced(node) {
		return false
	}
	for _, p := range r.lc.Processes(node) {
		if p.Name() == "redis" {
			return p.Running()
		}
	}
	return false
}

// readNode picks the node serving a read in Replication mode and, with
// MaxReplicaLag, the history op Extra saying why (nil otherwise). The
// policy reads the latest lag sample without a lock.
func (d *Deployment) readNode(rng *rand.Rand) (string, map[string]string) {
	primary := d.repl.Primary()
	if d.cfg.ReadFrom != Replica {
		return primary, nil
	}
	var live []string
	for _, n := range d.repl.Nodes() {
		if n != primary && d.repl.live(n) {
			live = append(live, n)
		}
	}
	if d.policy == nil {
		if len(live) == 0 {
			return primary, nil
		}
		return live[rng.IntN(len(live))], nil
	}
	n, why := d.policy.Choose(time.Now(), live, rng)
	if n == "" {
		n = primary
	}
	return n, d.policy.Extra(why)
}

// readRoute returns the client of the node serving a read of key and
// records the node (and why, LastExtra). Cluster mode and reads from the
// primary route as writes do.
func (c *Client) readRoute(ctx context.Context, key string) (*goredis.Client, string, error) {
	c.extra = nil
	if c.cc != nil || c.d.cfg.ReadFrom == Primary {
		return c.route(ctx, key)
	}
	node, extra := c.d.readNode(c.rng)
	c.last, c.extra = node, extra
	return c.nodeClient(node), node, nil
}

// nodeClient is the client's connection pool to node (Replication mode).
func (c *Client) nodeClient(node string) *goredis.Client {
	nc, ok := c.nodes[node]
	if !ok {
		nc = goredis.NewClient(clientOptions(c.d.srv.addr(node), poolSize, c.d.readTimeout()))
		c.nodes[node] = nc
	}
	return nc
}

// LastExtra returns the history op Extra of the last request: why a read
// went where it went under --max-replica-lag, nil otherwise
// (workloads.ExtraReporter).
func (c *Client) LastExtra() map[string]string { return c.extra }

var _ workloads.ExtraReporter = (*Client)(nil)

// describeReadFrom is the "reads" setting of Replication mode.
func (d *Deployment) describeReadFrom() string {
	switch {
	case d.policy != nil:
		return fmt.Sprintf("a replica while its lag (derived from its INFO replication offset and the primary's offsets sampled every --lag-interval) is below %v and the sample is at most one interval old, else the primary (--max-replica-lag; why: history op extra %q); writes to the current primary", d.policy.Max(), readpolicy.RouteKey)
	case d.cfg.ReadFrom == Replica:
		return "a random live replica (the primary when none is live); writes to the current primary"
	}
	return "the current primary"
}
