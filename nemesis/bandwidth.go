package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// DefaultRate is the bandwidth fault's default limit: 1 Mbit/s, in bytes
// per second.
const DefaultRate = 125_000

// Bandwidth limits the links of the selected nodes to Rate bytes per
// second (what each sends, and what it receives where the runtime can:
// cluster.Throttler). It measures the throughput of one TCP connection
// from a limited node to another node before and after, records both in
// the start event, and refuses to count as started when the measured
// rate is above 1.5 times the limit (a token bucket holds its rate to a
// few percent). Healing removes the limits and measures again.
type Bandwidth struct {
	Targets Targets
	Rate    int64
}

func (b *Bandwidth) Name() string { return "bandwidth" }

// Selection returns the node selection.
func (b *Bandwidth) Selection() Targets { return b.Targets }

func (b *Bandwidth) Check(p cluster.Plan) error {
	if err := p.Supports(cluster.CanThrottle); err != nil {
		return err
	}
	if p.Nodes < 2 {
		return fmt.Errorf("bandwidth needs at least 2 nodes, the cluster has %d", p.Nodes)
	}
	if _, err := b.Targets.Count(p.Nodes); err != nil {
		return fmt.Errorf("bandwidth: %w", err)
	}
	if b.Rate <= 0 {
		return fmt.Errorf("bandwidth: rate %d bytes/s: want more than 0", b.Rate)
	}
	return nil
}

func (b *Bandwidth) Apply(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Applied, error) {
	th := c.(cluster.Throttler)
	nodes := c.Nodes()
	picked, err := b.Targets.pick(nodes, rng)
	if err != nil {
		return Applied{}, err
	}
	picked = sortedCopy(picked)
	var rest []string
	for _, n := range nodes {
		if !contains(picked, n) {
			rest = append(rest, n)
		}
	}
	src, dst := picked[0], ""
	if len(rest) > 0 {
		dst = rest[0]
	} else {
		dst = picked[1]
	}
	desc := fmt.Sprintf("bandwidth %s on %s", cluster.FormatRate(float64(b.Rate)), strings.Join(picked, ","))
	before, err := th.MeasureThroughput(ctx, src, dst)
	if err != nil {
		return Applied{}, fmt.Errorf("%s: measure before: %w", desc, err)
	}
	unthrottle := func(ctx context.Context, ns []string) error {
		var errs []error
		for _, n := range ns {
			if err := th.Unthrottle(ctx, n); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for i, n := range picked {
		if err := th.Throttle(ctx, n, b.Rate); err != nil {
			_ = unthrottle(context.WithoutCancel(ctx), picked[:i+1])
			return Applied{}, fmt.Errorf("%s: %w", desc, err)
		}
	}
	after, err := th.MeasureThroughput(ctx, src, dst)
	if err == nil && after.BytesPerSecond() > 1.5*float64(b.Rate) {
		err = fmt.Errorf("%s->%s still runs at %v", src, dst, after)
	}
	if err != nil {
		_ = unthrottle(context.WithoutCancel(ctx), picked)
		return Applied{}, fmt.Errorf("%s: did not take effect: %w", desc, err)
	}
	probe := src + "->" + dst
	healed := ""
	return Applied{
		Description: fmt.Sprintf("%s; %s %v before, %v after", desc, probe, before, after),
		Nodes:       picked,
		Extra: map[string]string{
			"probe":             probe,
			"rate_bytes_per_s":  strconv.FormatInt(b.Rate, 10),
			"throughput_before": before.String(),
			"throughput_after":  after.String(),
		},
		Heal: func(ctx context.Context) error {
			if err := unthrottle(ctx, picked); err != nil {
				return err
			}
			r, err := th.MeasureThroughput(ctx, src, dst)
			if err != nil {
				return fmt.Errorf("measure after heal: %w", err)
			}
			healed = r.String()
			return nil
		},
		HealNote: func() string { return probe + " " + healed + " after heal" },
	}, nil
}

// SetBandwidth sets the limit of the bandwidth faults among faults and
// reports whether there was one.
func SetBandwidth(faults []Fault, rate int64) bool {
	has := false
	for _, f := range faults {
		if b, ok := f.(*Bandwidth); ok {
			b.Rate = rate
			has = true
		}
	}
	return has
}

// ParseRate reads a rate as tc writes it, in bits per second: a number
// with the unit bit, kbit, mbit or gbit (case-insensitive, "/s"
// optional), e.g. "1mbit", "500kbit", "2.5Mbit/s"; it returns bytes per
// second.
func ParseRate(s string) (int64, error) {
	t := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "/s")
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}} {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || v <= 0 {
				break
			}
			bytes := int64(v * u.mult / 8)
			if bytes < 1 {
				return 0, fmt.Errorf("rate %q: below 8 bit/s", s)
			}
			return bytes, nil
		}
	}
	return 0, fmt.Errorf("rate %q: want a positive number of bit, kbit, mbit or gbit (per second), e.g. 1mbit", s)
}
