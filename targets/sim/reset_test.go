package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// Reset empties every replica, and drops the replication still in flight
// (a lag of an hour: the write would otherwise reach the other replicas
// after the reset).
func TestResetEmptiesEveryReplica(t *testing.T) {
	d, c := deploy(t, Config{ReadCL: One, WriteCL: One, Coordinator: Sticky, ReplicationLag: time.Second})
	w := client(t, d, 0)
	mustWrite(t, w, "k", 7)
	readIs(t, w, "k", 7)
	if err := d.Reset(testCtx(t)); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	// The replication to n2 and n3 was in flight: it was dropped.
	c.net.mu.Lock()
	inFlight := len(c.net.timers)
	c.net.mu.Unlock()
	if inFlight != 0 {
		t.Errorf("%d messages still in flight after Reset", inFlight)
	}
	for _, n := range c.names {
		if len(c.byName[n].data) > 0 {
			t.Errorf("%s still holds data after Reset", n)
		}
	}
	for p := range 3 {
		readIs(t, client(t, d, p+9), "k", -1)
	}
	// The cluster works after the reset.
	mustWrite(t, w, "k", 8)
	readIs(t, w, "k", 8)
}

// Reset refuses a cluster with a fault in force.
func TestResetRefusesFaults(t *testing.T) {
	ctx := testCtx(t)
	for _, tc := range []struct {
		name  string
		fault func(c *Cluster) error
		heal  func(c *Cluster) error
		want  string
	}{
		{"kill", func(c *Cluster) error { return c.Kill(ctx, "n2") }, func(c *Cluster) error { return c.Restart(ctx, "n2") }, "node n2 is down"},
		{"pause", func(c *Cluster) error { return c.Pause(ctx, "n1") }, func(c *Cluster) error { return c.Resume(ctx, "n1") }, "node n1 is paused"},
		{"clock", func(c *Cluster) error { return c.SetClockOffset(ctx, "n3", time.Second) }, func(c *Cluster) error { return c.SetClockOffset(ctx, "n3", 0) }, "clock is skewed"},
		{"partition", func(c *Cluster) error { return c.Partition(ctx, cluster.Grudge{"n1": {"n2"}}) }, func(c *Cluster) error { return c.HealNetwork(ctx) }, "partition"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, c := deploy(t, Config{})
			if err := tc.fault(c); err != nil {
				t.Fatal(err)
			}
			err := d.Reset(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Reset with %s in force: %v, want an error saying %q", tc.name, err, tc.want)
			}
			if err := tc.heal(c); err != nil {
				t.Fatal(err)
			}
			if err := d.Reset(ctx); err != nil {
				t.Fatalf("Reset once healed: %v", err)
			}
		})
	}
}
