//go:build linux

package local

import (
	"testing"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// A bandwidth limit on a local node holds what it sends and what it
// receives to the rate (within 25%), leaves the other nodes' links alone,
// and goes with Unthrottle.
func TestThrottle(t *testing.T) {
	requireTools(t)
	if err := ProbeThrottle(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	c, cfg := up(t, 3, "10.78.41.0/24")
	defer func() {
		if err := c.Down(ctx); err != nil {
			t.Error(err)
		}
		checkNoLeftovers(t, cfg)
	}()
	tp := func(a, b string) cluster.Throughput {
		t.Helper()
		r, err := c.MeasureThroughput(ctx, a, b)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s->%s %v", a, b, r)
		return r
	}
	const rate = 250_000 // 2 Mbit/s
	before := tp("n1", "n2")
	if err := c.Throttle(ctx, "n1", rate); err != nil {
		t.Fatal(err)
	}
	out, in, other := tp("n1", "n2"), tp("n2", "n1"), tp("n2", "n3")
	for _, r := range []cluster.Throughput{out, in} {
		if v := r.BytesPerSecond(); v > 1.25*rate || v < 0.5*rate {
			t.Errorf("n1's link limited to %s: %v", cluster.FormatRate(rate), r)
		}
	}
	if before.BytesPerSecond() < 4*rate || other.BytesPerSecond() < 4*rate {
		t.Errorf("unlimited links measured %v and %v: want well above %s", before, other, cluster.FormatRate(rate))
	}
	if err := c.Unthrottle(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if r := tp("n1", "n2"); r.BytesPerSecond() < 4*rate {
		t.Errorf("after unthrottle: %v", r)
	}
}
