package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/history"
)

// Recorder receives nemesis events; *history.Recorder implements it.
type Recorder interface {
	Record(op history.Op) history.Op
}

// HealTimeout bounds healing at stop, which runs even after the test's
// context was cancelled (Ctrl-C).
const HealTimeout = 30 * time.Second

// Nemesis applies faults on a schedule: wait an interval, start a fault
// drawn at random, wait an interval, heal it, repeat. Every start and stop
// is a history event of process Nemesis: an invoke, then an info completion
// carrying the description (or the error). Faults are applied one at a
// time, so a fault band in the report is exactly one fault.
type Nemesis struct {
	cluster  cluster.Cluster
	faults   []Fault
	interval time.Duration
	rng      *rand.Rand
	rec      Recorder

	mu     sync.Mutex
	active []active
}

type active struct {
	fault   string
	applied Applied
}

// CheckPlan reports the first fault that a cluster of plan p cannot take.
// Call it before deploying, with the plan the target declares
// (targets.Planner), so that a test that cannot work is refused before
// anything runs; New calls it again on the deployed cluster.
func CheckPlan(faults []Fault, p cluster.Plan) error {
	for _, f := range faults {
		if err := f.Check(p); err != nil {
			return err
		}
	}
	return nil
}

// New checks that c supports every fault and returns a nemesis. rng must
// not be shared with other goroutines.
func New(c cluster.Cluster, faults []Fault, interval time.Duration, rng *rand.Rand, rec Recorder) (*Nemesis, error) {
	if interval <= 0 && len(faults) > 0 {
		return nil, fmt.Errorf("nemesis interval must be positive, got %v", interval)
	}
	if err := CheckPlan(faults, cluster.PlanOf(c)); err != nil {
		return nil, err
	}
	return &Nemesis{cluster: c, faults: faults, interval: interval, rng: rng, rec: rec}, nil
}

// Run applies and heals faults until ctx is done. It leaves any fault
// active at that moment in place: call Heal afterwards, always.
func (n *Nemesis) Run(ctx context.Context) {
	if len(n.faults) == 0 {
		return
	}
	t := time.NewTimer(n.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n.activeCount() > 0 {
			_ = n.Heal(ctx)
		} else {
			n.start(ctx, n.faults[n.rng.IntN(len(n.faults))])
		}
		t.Reset(n.interval)
	}
}

func (n *Nemesis) activeCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.active)
}

// start applies one fault and records it.
func (n *Nemesis) start(ctx context.Context, f Fault) {
	name := "start-" + f.Name()
	n.rec.Record(history.Op{Process: history.Nemesis, Type: history.Invoke, F: name})
	applied, err := f.Apply(ctx, n.cluster, n.rng)
	if err != nil {
		n.rec.Record(history.Op{Process: history.Nemesis, Type: history.Info, F: name, Error: err.Error()})
		return
	}
	n.mu.Lock()
	n.active = append(n.active, active{fault: f.Name(), applied: applied})
	n.mu.Unlock()
	extra := map[string]string{"nodes": strings.Join(applied.Nodes, ",")}
	for k, v := range applied.Extra {
		extra[k] = v
	}
	n.rec.Record(history.Op{Process: history.Nemesis, Type: history.Info, F: name, Value: history.Str(applied.Description),
		Extra: extra})
}

// Active describes the faults in force now.
func (n *Nemesis) Active() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, len(n.active))
	for i, a := range n.active {
		out[i] = a.fault + " " + a.applied.Description
	}
	return out
}

// Heal undoes every active fault and records the stops. It runs under
// context.WithoutCancel bounded by HealTimeout, so it completes after a
// Ctrl-C too. Then, as a safety net, it heals the whole network and resets
// every clock the faults may have touched.
func (n *Nemesis) Heal(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), HealTimeout)
	defer cancel()
	n.mu.Lock()
	todo := n.active
	n.active = nil
	n.mu.Unlock()
	var errs []error
	for i := len(todo) - 1; i >= 0; i-- {
		a := todo[i]
		name := "stop-" + a.fault
		n.rec.Record(history.Op{Process: history.Nemesis, Type: history.Invoke, F: name})
		if err := a.applied.Heal(ctx); err != nil {
			errs = append(errs, fmt.Errorf("heal %s (%s): %w", a.fault, a.applied.Description, err))
			n.rec.Record(history.Op{Process: history.Nemesis, Type: history.Info, F: name, Value: history.Str(a.applied.Description), Error: err.Error()})
			continue
		}
		op := history.Op{Process: history.Nemesis, Type: history.Info, F: name, Value: history.Str(a.applied.Description)}
		if a.applied.HealNote != nil {
			note := a.applied.HealNote()
			op.Value = history.Str(a.applied.Description + "; healed: " + note)
			op.Extra = map[string]string{"healed": note}
		}
		n.rec.Record(op)
	}
	return errors.Join(append(errs, n.sweep(ctx))...)
}

// sweep heals what no fault should have left but a bug might: partitions,
// clock offsets, delay, loss and bandwidth limits, when the faults in
// use can cause them.
func (n *Nemesis) sweep(ctx context.Context) error {
	var errs []error
	for _, f := range n.faults {
		switch f.(type) {
		case *Partition:
			if p, ok := n.cluster.(cluster.Partitioner); ok {
				errs = append(errs, p.HealNetwork(ctx))
			}
		case *Clock:
			if cs, ok := n.cluster.(cluster.ClockSkewer); ok {
				errs = append(errs, resetClocks(ctx, cs, n.cluster.Nodes()))
			}
		case *Delay:
			if s, ok := n.cluster.(cluster.Shaper); ok {
				errs = append(errs, s.Unshape(ctx, DelayLayer))
			}
		case *Loss:
			if s, ok := n.cluster.(cluster.Shaper); ok {
				errs = append(errs, s.Unshape(ctx, LossLayer))
			}
		case *Bandwidth:
			if th, ok := n.cluster.(cluster.Throttler); ok {
				for _, node := range n.cluster.Nodes() {
					errs = append(errs, th.Unthrottle(ctx, node))
				}
			}
		}
	}
	return errors.Join(errs...)
}
