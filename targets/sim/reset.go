package sim

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chaoscheck/chaoscheck/targets"
)

var _ targets.Resetter = (*Deployment)(nil)

// Reset empties the simulated cluster's data, so that a suite runs its
// next case on the same deployment: every message still in flight
// (replication beyond W, hints, answers nobody waits for) is dropped,
// Reset waits until no message is being handled, and then every node
// forgets its records, hints and unflushed writes and starts a new life
// (work begun before the reset is dropped). It refuses, with an error, a
// cluster where a fault is in force: a node down or paused, a clock
// skewed, a partition or a shaped link other than the standing regions.
// It implements targets.Resetter.
func (d *Deployment) Reset(ctx context.Context) error { return d.cluster.reset(ctx) }

// resetPoll is how often reset looks again for messages being handled
// (a coordinator waiting for answers that were dropped gives up within
// its request timeout).
const resetPoll = 2 * time.Millisecond

func (c *Cluster) reset(ctx context.Context) error {
	if err := c.faultsInForce(); err != nil {
		return fmt.Errorf("sim: reset: %w", err)
	}
	tick := time.NewTicker(resetPoll)
	defer tick.Stop()
	for !c.net.dropInFlight() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("sim: reset: messages still being handled: %w", ctx.Err())
		}
	}
	now := time.Now()
	for _, n := range c.nodes {
		n.reset(now)
	}
	return nil
}

// faultsInForce says which fault is in force, nil for none.
func (c *Cluster) faultsInForce() error {
	var errs []error
	for _, n := range c.nodes {
		n.mu.Lock()
		switch {
		case !n.up:
			errs = append(errs, fmt.Errorf("node %s is down", n.name))
		case n.paused:
			errs = append(errs, fmt.Errorf("node %s is paused", n.name))
		case n.offset != 0:
			errs = append(errs, fmt.Errorf("node %s's clock is skewed by %v", n.name, n.offset))
		}
		n.mu.Unlock()
	}
	c.net.mu.Lock()
	if len(c.net.grudge) > 0 {
		errs = append(errs, errors.New("a partition is in force"))
	}
	for layer := range c.net.layers {
		if layer != RegionsLayer {
			errs = append(errs, fmt.Errorf("links are shaped (%s)", layer))
		}
	}
	closed := c.net.closed
	c.net.mu.Unlock()
	if closed {
		errs = append(errs, errors.New("the cluster is closed"))
	}
	return errors.Join(errs...)
}

// dropInFlight stops every message not yet delivered, and reports
// whether none is left and none is being handled.
func (nw *network) dropInFlight() bool {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	for id, t := range nw.timers {
		if t.Stop() {
			// It will never run, so it will never call Done.
			delete(nw.timers, id)
			nw.wg.Done()
		}
	}
	return len(nw.timers) == 0 && nw.running == 0
}

// reset empties the node's storage and starts a new life.
func (n *node) reset(now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.life++
	n.data = make(map[string]*record)
	n.durable = make(map[string]*record)
	n.unflushed = nil
	n.held = nil
	n.hints = nil
	n.flushBase = now
}
