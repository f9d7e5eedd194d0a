//go:build linux

package cassandra

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/lag"
)

// Writes at ONE while a node is down leave hints for it on the others;
// once it is back, Cassandra queues the hint files for dispatch, and the
// sampler sees them (system_views.pending_hints) with the age of the
// oldest, until they are replayed.
func TestSampleLagPendingHints(t *testing.T) {
	d := need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	if err := d.WaitReady(ctx, 4*time.Minute); err != nil {
		t.Fatal(err)
	}
	sample := func(timeout time.Duration) map[string]lag.Sample {
		sctx, scancel := context.WithTimeout(ctx, timeout)
		defer scancel()
		ss, err := d.SampleLag(sctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]lag.Sample{}
		for _, s := range ss {
			out[s.Node] = s
		}
		return out
	}
	// The shared cluster may still hold hints from an earlier test's
	// kill (they are dispatched within seconds of the node's return):
	// start once every node answers with none pending.
	for deadline := time.Now().Add(90 * time.Second); ; {
		var pending []string
		for n, s := range sample(5 * time.Second) {
			if s.Err != "" || s.HintFiles == nil || *s.HintFiles != 0 || s.LagNS == nil || *s.LagNS != 0 {
				pending = append(pending, fmt.Sprintf("%s %+v", n, s))
			}
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthy cluster, no hints expected, still after 90 s: %v", pending)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c, err := d.NewClientWith(ctx, 0, ClientOptions{ReadCL: "ONE", WriteCL: "ONE", Sticky: true, KeyPrefix: "laghints"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// One outage: kill n3, write at ONE for 3 s (the coordinators keep
	// hints for it), restart it, and poll for its hint files. They are
	// listed once the dispatch trigger (every 10 s) sees n3 up, and until
	// they are replayed; on a quiet machine the replay can be over
	// between two polls (seen in CI: none seen in 90 s), so up to three
	// outages are tried.
	var seen lag.Sample
	var killed time.Time
	wrote := 0
	outage := func() bool {
		if err := d.Cluster().(interface {
			Kill(context.Context, string) error
		}).Kill(ctx, "n3"); err != nil {
			t.Fatal(err)
		}
		killed = time.Now()
		restarted := false
		defer func() {
			if !restarted {
				_ = d.cl.Restart(context.Background(), "n3")
			}
		}()
		wrote = 0
		for i := 0; time.Since(killed) < 3*time.Second; i++ {
			wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
			if err := c.Write(wctx, fmt.Sprintf("k%d", i%20), int64(i)); err == nil {
				wrote++
			}
			wcancel()
		}
		if wrote < 20 {
			t.Fatalf("only %d writes at ONE with n3 down", wrote)
		}
		if err := d.cl.Restart(ctx, "n3"); err != nil {
			t.Fatal(err)
		}
		restarted = true
		for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); {
			s := sample(time.Second)["n3"]
			if s.HintFiles != nil && *s.HintFiles > 0 {
				seen = s
				return true
			}
			time.Sleep(5 * time.Millisecond)
		}
		return false
	}
	for attempt := 1; !outage(); attempt++ {
		if attempt == 3 {
			t.Fatalf("no pending hint file for n3 within 40 s of its restart, in 3 outages (%d writes at ONE while it was down, the last time)", wrote)
		}
		t.Logf("outage %d: no pending hint file seen for n3 within 40 s of its restart (%d writes at ONE while it was down): replayed between two polls? again", attempt, wrote)
	}
	age := time.Duration(*seen.LagNS)
	t.Logf("n3: %d hint files pending, oldest %v old, %v after the kill", *seen.HintFiles, age, time.Since(killed).Round(time.Millisecond))
	// A hint file may predate this kill: Cassandra lists a file only once
	// it is closed, so hints of an earlier test's outage of n3 can still
	// be queued unseen at the start. The age must be positive, and at
	// least the files of this outage must be there.
	if age <= 0 {
		t.Errorf("oldest hint for n3 is %v old; n3 was killed %v ago", age, time.Since(killed))
	}
	if age > time.Since(killed)+2*time.Second {
		t.Logf("the oldest hint file for n3 predates this kill (%v old, killed %v ago): left by an earlier outage", age, time.Since(killed))
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		s := sample(time.Second)["n3"]
		if s.HintFiles != nil && *s.HintFiles == 0 && *s.LagNS == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hints for n3 still pending a minute later: %+v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
