//go:build linux

package docker

import (
	"context"
	"testing"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/local"
)

// A bandwidth limit on a container, measured: what n1 sends to n2 drops
// to the rate (within 25%), stays so across a kill and restart of n1,
// and comes back after Unthrottle; n2's own sending is not limited.
func TestThrottleContainers(t *testing.T) {
	env.Require(t)
	if err := local.ProbeThrottle(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, _ := upRedis(t, ctx)
	tp := func(a, b string) cluster.Throughput {
		t.Helper()
		r, err := c.MeasureThroughput(ctx, a, b)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	const rate = 250_000 // 2 Mbit/s
	before := tp("n1", "n2")
	if err := c.Throttle(ctx, "n1", rate); err != nil {
		t.Fatal(err)
	}
	after := tp("n1", "n2")
	back := tp("n2", "n1")
	t.Logf("n1->n2 %v before, %v limited to %s; n2->n1 %v", before, after, cluster.FormatRate(rate), back)
	if r := after.BytesPerSecond(); r > 1.25*rate || r < 0.5*rate {
		t.Errorf("n1->n2 limited to %s: %v", cluster.FormatRate(rate), after)
	}
	if before.BytesPerSecond() < 4*rate || back.BytesPerSecond() < 4*rate {
		t.Errorf("unlimited links measured %v and %v: want well above %s", before, back, cluster.FormatRate(rate))
	}
	if err := c.Kill(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if r := tp("n1", "n2"); r.BytesPerSecond() > 1.25*rate {
		t.Errorf("after restart of n1: %v, want the limit still in force", r)
	}
	if err := c.Unthrottle(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if r := tp("n1", "n2"); r.BytesPerSecond() < 4*rate {
		t.Errorf("after unthrottle: %v", r)
	}
}
