//go:build linux

package cassandra

import (
	"context"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/internal/testenv/dockerenv"
	"github.com/chaoscheck/chaoscheck/internal/testenv/layoutimage"
)

// TestDockerOfficialLayout deploys Cassandra on an image laid out as the
// official cassandra:5.0 is (its own JVM in /opt/java/openjdk, which its
// PATH names; no /usr/bin/java; this machine's OpenJDK 17 copied there,
// under a test-only tag, as no registry is reachable), as the target's
// default image: every node's JVM is the image's /opt/java/openjdk/bin/java
// (the server's jars are chaoscheck's, from its cache, as on every
// image), the ring forms, and the clock shim, preloaded into the image's
// JVM, moves a node's now() by a +3 s skew; sessions open while a node
// is killed (assertOpensWhileKilled).
func TestDockerOfficialLayout(t *testing.T) {
	env.Require(t)
	rt, tag := dockerenv.OfficialLayout(t, "cassandra", layoutimage.Cassandra(), Registration().NodeNeeds)
	ctx, cancel := context.WithTimeout(context.Background(), DefaultStartTimeout+MavenTimeout)
	defer cancel()
	if ch, err := rt.ChooseImage(ctx); err != nil || ch.Ref != tag || ch.Reason != cluster.ImageDefault {
		t.Fatalf("image choice %+v %v, want %s as the default", ch, err, tag)
	}
	tg, err := New(Config{Nodes: 3, Heap: "512m", Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d, err := tg.DeployCassandra(ctx)
	if err != nil {
		t.Fatalf("deploy after %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), cluster.CloseTimeout)
		defer ccancel()
		if err := d.Close(cctx); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	t.Logf("deployed in %v (%+v), version %s", time.Since(start).Round(time.Millisecond), d.Timings(), d.Version())
	dockerenv.CheckProcesses(t, d.Hosts(), "/opt/java/openjdk/bin/java", 0)
	if d.clock != clockShim || d.cl.clockErr != nil {
		t.Fatalf("nodes without the clock shim: mode %d, %v, %v", d.clock, d.shimErr, d.cl.clockErr)
	}
	assertClockSkewReachesJVM(t, d)
	assertOpensWhileKilled(t, d)
}
