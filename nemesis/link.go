package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// The shaping layers of the link faults (cluster.Shaper): they add up with
// the standing layers of a topology (regions), which they leave alone.
const (
	DelayLayer = "nemesis-delay"
	LossLayer  = "nemesis-loss"
)

// Defaults of the link faults.
const (
	DefaultDelay  = 100 * time.Millisecond
	DefaultJitter = 10 * time.Millisecond
	DefaultLoss   = 0.1
)

// Delay slows the links of the selected nodes to the others, both ways,
// by Delay plus a random 0..Jitter a packet (with Targets all: every
// link between nodes). It measures the round-trip time between two of
// the nodes it slows before and after, records both in the start event,
// and refuses to count as started when the RTT did not grow by at least
// twice Delay (a delay is never shorter than asked, so that bound is
// exact). Healing measures the RTT again and records it in the stop
// event.
type Delay struct {
	Targets       Targets
	Delay, Jitter time.Duration
}

// Loss drops Loss (0 to 1) of the packets on the links of the selected
// nodes to the others, both ways (Targets all: every link). It records
// the RTT probes answered before and after in the start event; with
// loss, their share is a measurement, not a check.
type Loss struct {
	Targets Targets
	Loss    float64
}

func (d *Delay) Name() string { return "delay" }
func (l *Loss) Name() string  { return "loss" }

// Selection returns the node selection.
func (d *Delay) Selection() Targets { return d.Targets }

// Selection returns the node selection.
func (l *Loss) Selection() Targets { return l.Targets }

func (d *Delay) Check(p cluster.Plan) error {
	if err := checkLinkFault(p, d.Name(), d.Targets); err != nil {
		return err
	}
	return cluster.LinkShape{Delay: d.Delay, Jitter: d.Jitter}.Validate()
}

func (l *Loss) Check(p cluster.Plan) error {
	if err := checkLinkFault(p, l.Name(), l.Targets); err != nil {
		return err
	}
	if l.Loss <= 0 || l.Loss > 1 {
		return fmt.Errorf("loss %g: want more than 0 and at most 1 (100%%)", l.Loss)
	}
	return nil
}

func checkLinkFault(p cluster.Plan, name string, t Targets) error {
	if err := p.Supports(cluster.CanShape); err != nil {
		return err
	}
	if p.Nodes < 2 {
		return fmt.Errorf("%s needs at least 2 nodes, the cluster has %d", name, p.Nodes)
	}
	if k, err := t.Count(p.Nodes); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	} else if k == p.Nodes && t != All {
		return fmt.Errorf("%s: --nemesis-nodes %s selects every node: use all to slow every link", name, t)
	}
	return nil
}

// linkGroups picks the slowed nodes and the links between them and the
// rest (every link for All), and a pair to probe across them.
func linkGroups(c cluster.Cluster, t Targets, rng *rand.Rand) (links []cluster.LinkShape, desc string, a, b string, err error) {
	nodes := c.Nodes()
	picked, err := t.pick(nodes, rng)
	if err != nil {
		return nil, "", "", "", err
	}
	picked = sortedCopy(picked)
	if len(picked) == len(nodes) {
		return []cluster.LinkShape{{}}, "every link", picked[0], picked[1], nil
	}
	var rest []string
	for _, n := range nodes {
		if !contains(picked, n) {
			rest = append(rest, n)
		}
	}
	links = []cluster.LinkShape{{From: picked, To: rest}, {From: rest, To: picked}}
	return links, strings.Join(picked, ",") + " <-> " + strings.Join(rest, ","), picked[0], rest[0], nil
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

func (d *Delay) Apply(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Applied, error) {
	links, where, a, b, err := linkGroups(c, d.Targets, rng)
	if err != nil {
		return Applied{}, err
	}
	for i := range links {
		links[i].Delay, links[i].Jitter = d.Delay, d.Jitter
	}
	what := "delay " + d.Delay.String()
	if d.Jitter > 0 {
		what += "±" + d.Jitter.String()
	}
	return applyLinks(ctx, c, DelayLayer, links, what+" "+where, a, b, func(before, after cluster.RTT) error {
		if after.Received == 0 {
			return fmt.Errorf("no probe answered after the delay (%v)", after)
		}
		if after.Min < before.Min+2*d.Delay {
			return fmt.Errorf("the round trip %s->%s did not grow by 2x%v: before %v, after %v", a, b, d.Delay, before, after)
		}
		return nil
	})
}

func (l *Loss) Apply(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Applied, error) {
	links, where, a, b, err := linkGroups(c, l.Targets, rng)
	if err != nil {
		return Applied{}, err
	}
	for i := range links {
		links[i].Loss = l.Loss
	}
	return applyLinks(ctx, c, LossLayer, links, fmt.Sprintf("loss %g%% %s", l.Loss*100, where), a, b, nil)
}

// applyLinks measures a->b, shapes layer, measures again, checks with
// verify (nil: no check), and heals by removing the layer and measuring
// once more.
func applyLinks(ctx context.Context, c cluster.Cluster, layer string, links []cluster.LinkShape, desc, a, b string,
	verify func(before, after cluster.RTT) error) (Applied, error) {
	sh := c.(cluster.Shaper)
	before, err := sh.MeasureRTT(ctx, a, b)
	if err != nil {
		return Applied{}, fmt.Errorf("%s: measure before: %w", desc, err)
	}
	if err := sh.Shape(ctx, layer, links); err != nil {
		return Applied{}, fmt.Errorf("%s: %w", desc, err)
	}
	after, err := sh.MeasureRTT(ctx, a, b)
	if err == nil && verify != nil {
		err = verify(before, after)
	}
	if err != nil {
		_ = sh.Unshape(context.WithoutCancel(ctx), layer)
		return Applied{}, fmt.Errorf("%s: did not take effect: %w", desc, err)
	}
	probe := a + "->" + b
	healed := ""
	return Applied{
		Description: fmt.Sprintf("%s; %s %v before, %v after", desc, probe, before, after),
		Nodes:       sortedCopy(c.Nodes()),
		Extra: map[string]string{
			"probe":      probe,
			"rtt_before": before.String(),
			"rtt_after":  after.String(),
		},
		Heal: func(ctx context.Context) error {
			if err := sh.Unshape(ctx, layer); err != nil {
				return err
			}
			r, err := sh.MeasureRTT(ctx, a, b)
			if err != nil {
				return fmt.Errorf("measure after heal: %w", err)
			}
			healed = r.String()
			return nil
		},
		HealNote: func() string { return probe + " " + healed + " after heal" },
	}, nil
}
