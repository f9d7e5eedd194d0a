//go:build linux

package redis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// RepointTimeout bounds waiting, in Promote, for a replica pointed at the
// new primary to report its link up; past it the replica is fenced and
// left to Restart or Rejoin.
const RepointTimeout = 10 * time.Second

// Servers is a deployed Redis as the nemesis sees it in Cluster mode: the
// runtime's kill, pause and partition faults, and deliberately not its
// clock skew (cluster.ClockSkewer): libfaketime hangs or kills Debian's
// redis-server, so clock faults are refused up front with
// cluster.ErrUnsupported instead of being applied to a hung server. Its
// plan (cluster.Declarer) is the target's, narrowed to what the runtime
// implements (a runtime without partitions: Partition is refused).
type Servers struct {
	lc  cluster.Hosts
	srv *server
	dep cluster.Deployed // lc with the target's plan: partitions, Plan
}

var (
	_ cluster.Killer      = (*Servers)(nil)
	_ cluster.Pauser      = (*Servers)(nil)
	_ cluster.Partitioner = (*Servers)(nil)
	_ cluster.Declarer    = (*Servers)(nil)
)

func newServers(lc cluster.Hosts, srv *server, plan cluster.Plan) *Servers {
	return &Servers{lc: lc, srv: srv, dep: cluster.NewDeployed(lc, plan)}
}

// Plan is the target's plan, without what the runtime lacks.
func (c *Servers) Plan() cluster.Plan { return c.dep.Plan() }

// Nodes returns the node names n1..nN.
func (c *Servers) Nodes() []string { return c.lc.Nodes() }

// Kill SIGKILLs the node's server. Without AppendOnly it restarts empty.
func (c *Servers) Kill(ctx context.Context, node string) error {
	if err := c.lc.Kill(ctx, node); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Restart starts the node's server again from its redis.conf (and, with
// AppendOnly, its data).
func (c *Servers) Restart(ctx context.Context, node string) error {
	if err := c.lc.Restart(ctx, node); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Pause freezes the node's server.
func (c *Servers) Pause(ctx context.Context, node string) error {
	if err := c.lc.Pause(ctx, node); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Resume thaws the node's server.
func (c *Servers) Resume(ctx context.Context, node string) error {
	if err := c.lc.Resume(ctx, node); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Partition replaces the current partition with g.
func (c *Servers) Partition(ctx context.Context, g cluster.Grudge) error {
	if err := c.dep.Partition(ctx, g); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// HealNetwork removes every partition.
func (c *Servers) HealNetwork(ctx context.Context) error {
	if err := c.dep.HealNetwork(ctx); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// serverPid is the pid of node's current (or last) server run, 0 if none.
func (c *Servers) serverPid(node string) int {
	for _, p := range c.lc.Processes(node) {
		if p.Name() == "redis" {
			return p.Pid()
		}
	}
	return 0
}

// Replicated is a Replication-mode deployment as the nemesis sees it:
// the faults of Servers plus cluster.Failoverer. Clients read the current
// primary from it on every request.
//
// A former primary replaced by Promote is fenced: Restart of a fenced
// node rejoins it as a replica (Rejoin) instead of starting it as a second
// primary.
type Replicated struct {
	*Servers

	primary atomic.Pointer[string]

	// mu serializes Promote and Rejoin.
	mu sync.Mutex

	fencedMu sync.Mutex
	fenced   map[string]bool
}

var _ cluster.Failoverer = (*Replicated)(nil)

func newReplicated(n *Servers, primary string) *Replicated {
	r := &Replicated{Servers: n, fenced: map[string]bool{}}
	r.primary.Store(&primary)
	return r
}

// Primary names the current primary.
func (r *Replicated) Primary() string { return *r.primary.Load() }

// Fenced reports whether node is a former primary (or a replica that
// could not follow a promotion) awaiting Rejoin.
func (r *Replicated) Fenced(node string) bool {
	r.fencedMu.Lock()
	defer r.fencedMu.Unlock()
	return r.fenced[node]
}

func (r *Replicated) setFenced(node string, f bool) {
	r.fencedMu.Lock()
	defer r.fencedMu.Unlock()
	if f {
		r.fenced[node] = true
	} else {
		delete(r.fenced, node)
	}
}

// Restart starts the node's server again, except for a fenced node, which
// is rejoined as a replica of the current primary (see Rejoin).
func (r *Replicated) Restart(ctx context.Context, node string) error {
	if r.Fenced(node) {
		return r.Rejoin(ctx, node)
	}
	return r.Servers.Restart(ctx, node)
}

// Promote makes the most advanced reachable replica the primary, as
// Sentinel would: among the nodes that are neither the current primary,
// nor in exclude, nor fenced, it reads each one's INFO replication
// (bounded by AdminTimeout) and picks the replica with the largest
// slave_repl_offset (ties: the first in node order). It sends it
// REPLICAOF NO ONE, waits until it reports role:master, rewrites its
// redis.conf without replicaof, and switches the clients to it (one
// atomic store: every later request goes to the new primary). The old
// primary is fenced. The other reachable replicas get REPLICAOF <new
// primary> (and a redis.conf saying so) and are waited for, bounded by
// RepointTimeout; one that does not follow, or did not answer, is fenced
// too. Only a failure to establish the new primary is an error.
func (r *Replicated) Promote(ctx context.Context, exclude []string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.Primary()
	skip := map[string]bool{old: true}
	for _, e := range exclude {
		skip[e] = true
	}
	best, bestOff := "", int64(-1)
	var replicas, unreachable []string
	var errs []error
	for _, n := range r.Nodes() {
		if skip[n] || r.Fenced(n) {
			continue
		}
		in, err := r.srv.info(ctx, n, "replication")
		if err != nil {
			errs = append(errs, err)
			unreachable = append(unreachable, n)
			continue
		}
		if in["role"] != "slave" {
			errs = append(errs, fmt.Errorf("%s is not a replica (role %s)", n, in["role"]))
			unreachable = append(unreachable, n)
			continue
		}
		off, err := strconv.ParseInt(in["slave_repl_offset"], 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: slave_repl_offset %q: %w", n, in["slave_repl_offset"], err))
			unreachable = append(unreachable, n)
			continue
		}
		replicas = append(replicas, n)
		if off > bestOff {
			best, bestOff = n, off
		}
	}
	if best == "" {
		return "", fmt.Errorf("redis: promote: no reachable replica (excluding %s): %w", strings.Join(slices.Sorted(maps.Keys(skip)), ","), errors.Join(errs...))
	}
	if err := r.promote(ctx, best); err != nil {
		return "", fmt.Errorf("redis: promote %s: %w", best, err)
	}
	r.primary.Store(&best)
	r.setFenced(old, true)
	for _, n := range unreachable {
		r.setFenced(n, true)
		// Its next start follows the new primary.
		_ = r.srv.writeConf(ctx, n, best)
	}
	for _, n := range replicas {
		if n == best {
			continue
		}
		if err := r.repoint(ctx, n, best); err != nil {
			r.setFenced(n, true)
		}
	}
	return best, nil
}

// promote turns replica node into a primary and waits until it says so.
func (r *Replicated) promote(ctx context.Context, node string) error {
	if err := r.srv.writeConf(ctx, node, ""); err != nil {
		return err
	}
	if err := r.srv.admin(ctx, node, func(ctx context.Context, c *goredis.Client) error {
		return c.SlaveOf(ctx, "NO", "ONE").Err()
	}); err != nil {
		return fmt.Errorf("REPLICAOF NO ONE: %w", err)
	}
	return pollUntil(ctx, PromoteTimeout, node+" role:master", func(ctx context.Context) error {
		in, err := r.srv.info(ctx, node, "replication")
		if err != nil {
			return err
		}
		if in["role"] != "master" {
			return fmt.Errorf("role %s", in["role"])
		}
		return nil
	})
}

// repoint makes replica node follow primary and waits for its link.
func (r *Replicated) repoint(ctx context.Context, node, primary string) error {
	if err := r.srv.writeConf(ctx, node, primary); err != nil {
		return err
	}
	if err := r.srv.admin(ctx, node, func(ctx context.Context, c *goredis.Client) error {
		return c.SlaveOf(ctx, r.lc.Addr(primary).String(), strconv.Itoa(Port)).Err()
	}); err != nil {
		return fmt.Errorf("redis: REPLICAOF %s on %s: %w", primary, node, err)
	}
	return r.srv.waitReplicating(ctx, node, primary, RepointTimeout)
}

// Rejoin brings node (normally a former primary) back as a replica of the
// current primary: it kills the node's server, rewrites its redis.conf
// with replicaof <primary>, wipes its data directory (so nothing it
// acknowledged alone survives even with AppendOnly; the full resync would
// replace it anyway), starts it and waits until its link is up (bounded
// by ReadyTimeout plus LinkTimeout). Rejoining the current primary is a
// no-op (a failed failover restarted it).
func (r *Replicated) Rejoin(ctx context.Context, node string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	primary := r.Primary()
	if node == primary {
		return nil
	}
	if !slices.Contains(r.Nodes(), node) {
		return fmt.Errorf("redis: rejoin: unknown node %q", node)
	}
	if err := r.lc.Kill(ctx, node); err != nil {
		return fmt.Errorf("redis: rejoin %s: %w", node, err)
	}
	if err := r.srv.writeConf(ctx, node, primary); err != nil {
		return fmt.Errorf("redis: rejoin %s: %w", node, err)
	}
	if err := r.srv.wipeData(ctx, node); err != nil {
		return fmt.Errorf("redis: rejoin %s: %w", node, err)
	}
	if err := r.lc.Restart(ctx, node); err != nil {
		return fmt.Errorf("redis: rejoin %s: %w", node, err)
	}
	if err := r.srv.waitReady(ctx, node, nil); err != nil {
		return fmt.Errorf("redis: rejoin %s: %w", node, err)
	}
	if err := r.srv.waitReplicating(ctx, node, primary, LinkTimeout); err != nil {
		return fmt.Errorf("redis: rejoin %s to %s: %w", node, primary, err)
	}
	r.setFenced(node, false)
	return nil
}
