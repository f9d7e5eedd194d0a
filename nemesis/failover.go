package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// Failover crashes the primary of a primary/replica target and promotes a
// replica, as an operator or an orchestrator (Patroni, Sentinel) would.
//
// With Isolate > 0 the primary is first cut off from its replicas (not
// from clients) for that long: it keeps acknowledging writes that no
// replica receives, which makes the data-loss window of asynchronous
// replication reliable instead of a race against replication lag. Then
// the primary is killed, the network healed, and the most advanced
// replica promoted. Heal rejoins the old primary as a replica.
type Failover struct {
	Isolate time.Duration
}

func (f *Failover) Name() string { return "failover" }

func (f *Failover) Check(p cluster.Plan) error {
	if err := p.Supports(cluster.CanFailover); err != nil {
		var ue *cluster.UnsupportedError
		if errors.As(err, &ue) && ue.Why == "" {
			ue.Why = "the target has no primary to fail over (primary/replica targets: postgres, redis --redis-mode replication)"
		}
		return err
	}
	if err := p.Supports(cluster.CanKill); err != nil {
		return fmt.Errorf("failover kills the primary: %w", err)
	}
	if f.Isolate > 0 {
		if err := p.Supports(cluster.CanPartition); err != nil {
			return fmt.Errorf("failover isolates the primary before the kill: %w", err)
		}
	}
	if p.Nodes < 2 {
		return fmt.Errorf("failover needs at least 2 nodes, the cluster has %d (raise --nodes)", p.Nodes)
	}
	return nil
}

func (f *Failover) Apply(ctx context.Context, c cluster.Cluster, _ *rand.Rand) (Applied, error) {
	fo := c.(cluster.Failoverer)
	killer := c.(cluster.Killer)
	old := fo.Primary()
	if f.Isolate > 0 {
		pc := c.(cluster.Partitioner)
		var others []string
		for _, n := range c.Nodes() {
			if n != old {
				others = append(others, n)
			}
		}
		if err := pc.Partition(ctx, cluster.Bidirectional([]string{old}, others)); err != nil {
			return Applied{}, fmt.Errorf("failover: isolate primary %s: %w", old, err)
		}
		t := time.NewTimer(f.Isolate)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	// From here on, finish the failover even if the test is being
	// stopped: a half-done failover (primary dead, nobody promoted) is
	// worse than a complete one, and it is bounded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), HealTimeout)
	defer cancel()
	if err := killer.Kill(ctx, old); err != nil {
		if pc, ok := c.(cluster.Partitioner); ok && f.Isolate > 0 {
			_ = pc.HealNetwork(ctx)
		}
		return Applied{}, fmt.Errorf("failover: kill primary %s: %w", old, err)
	}
	if pc, ok := c.(cluster.Partitioner); ok && f.Isolate > 0 {
		if err := pc.HealNetwork(ctx); err != nil {
			return Applied{}, fmt.Errorf("failover: heal network after killing %s: %w", old, err)
		}
	}
	promoted, err := fo.Promote(ctx, []string{old})
	if err != nil {
		// Leave the cluster whole: restart the old primary as primary.
		_ = killer.Restart(ctx, old)
		return Applied{}, fmt.Errorf("failover: promote a replica of %s: %w", old, err)
	}
	desc := fmt.Sprintf("primary %s killed, %s promoted", old, promoted)
	if f.Isolate > 0 {
		desc = fmt.Sprintf("primary %s isolated for %v, killed, %s promoted", old, f.Isolate, promoted)
	}
	return Applied{
		Description: desc,
		Nodes:       []string{old, promoted},
		Heal:        func(ctx context.Context) error { return fo.Rejoin(ctx, old) },
	}, nil
}
