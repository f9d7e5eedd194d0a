//go:build linux

package redis

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/lag"
)

func lagByNode(ss []lag.Sample) map[string]lag.Sample {
	out := map[string]lag.Sample{}
	for _, s := range ss {
		out[s.Node] = s
	}
	return out
}

func fig(p *int64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

// writeLoop SETs keys on the primary until ctx ends.
func writeLoop(ctx context.Context, t *testing.T, d *Deployment, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := newClient(d, 99)
		defer c.Close()
		for i := int64(0); ctx.Err() == nil; i++ {
			octx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_ = c.Write(octx, fmt.Sprintf("w%d", i%10), i)
			cancel()
		}
	}()
}

// TestSampleLag: SampleLag on a real replication-mode deployment under
// writes. Loopback replication is fast, so the test makes lag real by
// cutting n3 off from the primary (a network partition: n3 still answers
// the controller, its offset stops): n2's lag stays small, n3's derived
// lag grows with the partition's age and its bytes behind grow; when the
// partition heals n3 catches up. A paused replica (SIGSTOP) cannot
// answer: its Sample has Err. After a failover the new primary is asked.
// About 10 s.
func TestSampleLag(t *testing.T) {
	requireEnv(t)
	tg, err := New(newConfig(t, Config{Mode: Replication, Nodes: 3, ReadFrom: Replica}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dep, err := tg.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := dep.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	d := dep.(*Deployment)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	var wg sync.WaitGroup
	writeLoop(wctx, t, d, &wg)

	round := func(i int) map[string]lag.Sample {
		t.Helper()
		// The runner bounds a round by one interval; a loaded machine
		// (two cores shared by the tests) misses that now and then, so
		// the test gives 200 ms and counts the timeouts.
		sctx, scancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer scancel()
		ss, err := d.SampleLag(sctx)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		by := lagByNode(ss)
		if len(by) != 2 {
			t.Fatalf("round %d: %+v, want n2 and n3", i, ss)
		}
		return by
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var maxN2 int64
	timeouts := 0
	for i := 0; i < 10; i++ {
		<-tick.C
		by := round(i)
		for _, n := range []string{"n2", "n3"} {
			s := by[n]
			if strings.Contains(s.Err, "timeout") {
				timeouts++
				continue
			}
			if s.Err != "" || s.LagNS == nil || !s.Derived || s.Bytes == nil || s.Of != "n1" {
				t.Fatalf("round %d %s: %+v", i, n, s)
			}
			if n == "n2" {
				maxN2 = max(maxN2, *s.LagNS)
			}
		}
	}
	if timeouts > 5 {
		t.Fatalf("%d of 20 samples timed out", timeouts)
	}
	t.Logf("streaming: max lag of n2 %v", time.Duration(maxN2))

	// Cut n3 off from the primary for a second.
	if err := d.repl.Partition(ctx, cluster.Bidirectional([]string{"n1", "n2"}, []string{"n3"})); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	var lastN3 int64
	var bytesN3 int64
	for i := 0; time.Since(cut) < time.Second; i++ {
		<-tick.C
		by := round(i)
		s := by["n3"]
		if strings.Contains(s.Err, "timeout") {
			continue
		}
		if s.Err != "" || s.LagNS == nil {
			t.Fatalf("partitioned n3 answers the controller: %+v", s)
		}
		if *s.LagNS < lastN3 {
			t.Errorf("partitioned n3: lag went from %v to %v", time.Duration(lastN3), time.Duration(*s.LagNS))
		}
		lastN3, bytesN3 = *s.LagNS, *s.Bytes
		if l := by["n2"].LagNS; l != nil {
			maxN2 = max(maxN2, *l)
		}
	}
	age := time.Since(cut)
	t.Logf("partitioned for %v: n3 lag %v, %d bytes behind; n2 max lag %v", age.Round(time.Millisecond), time.Duration(lastN3), bytesN3, time.Duration(maxN2))
	if lastN3 < int64(age)-int64(200*time.Millisecond) || lastN3 > int64(age)+int64(100*time.Millisecond) {
		t.Errorf("n3 cut off for %v, derived lag %v", age, time.Duration(lastN3))
	}
	if bytesN3 == 0 {
		t.Errorf("n3 cut off: 0 bytes behind")
	}
	// n2's derived lag is an upper bound with the interval's resolution:
	// a replica a few bytes short of the master's offset is bounded by the
	// previous round (50 ms ago), and a loaded machine adds its delays.
	if maxN2 > int64(age)/2 {
		t.Errorf("n2 streaming: lag up to %v, as much as partitioned n3's", time.Duration(maxN2))
	}
	if err := d.repl.HealNetwork(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		<-tick.C
		if s := round(i)["n3"]; s.Err == "" && s.LagNS != nil && *s.LagNS < int64(100*time.Millisecond) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n3 did not catch up after the heal")
		}
	}

	// A paused replica does not answer.
	if err := d.repl.Pause(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	s := round(0)["n2"]
	if err := d.repl.Resume(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if s.Err == "" || s.LagNS != nil || s.Bytes != nil {
		t.Errorf("paused n2: %+v, want Err and no figures", s)
	} else {
		t.Logf("paused n2: %s", s.Err)
	}
	wcancel()
	wg.Wait()

	// Failover: the sampler asks the new primary.
	if err := d.repl.Kill(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	promoted, err := d.repl.Promote(ctx, []string{"n1"})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := d.SampleLag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if s.Of != promoted || s.Node == promoted {
			t.Errorf("after promoting %s: %+v", promoted, s)
		}
		if s.Node == "n1" && s.Err == "" {
			t.Errorf("killed n1 sampled: %+v", s)
		}
		if s.Node != "n1" && (s.Err != "" || s.LagNS == nil) {
			t.Errorf("replica of the new primary: %+v", s)
		}
		t.Logf("after failover to %s: %s lag %s bytes %s err %q", promoted, s.Node, fig(s.LagNS), fig(s.Bytes), s.Err)
	}
}

// TestSampleLagCluster: in Cluster mode with a replica per master, each
// replica is sampled against its own master (CLUSTER SLOTS). About 10 s.
func TestSampleLagCluster(t *testing.T) {
	requireEnv(t)
	tg, err := New(newConfig(t, Config{Mode: Cluster, ReplicasPerMaster: 1}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dep, err := tg.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := dep.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	d := dep.(*Deployment)
	// The replicas show in CLUSTER SLOTS once the cluster's configuration
	// has spread; the sampler asks every round.
	var ss []lag.Sample
	deadline := time.Now().Add(20 * time.Second)
	for {
		ss, err = d.SampleLag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) == Masters || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(ss) != Masters {
		t.Fatalf("samples %+v, want one per master's replica", ss)
	}
	masters := map[string]bool{}
	for _, s := range ss {
		masters[s.Of] = true
		if s.Err != "" || s.Bytes == nil || s.Of == s.Node {
			t.Errorf("sample %+v", s)
		}
		t.Logf("%s of %s: lag %s, %s bytes", s.Node, s.Of, fig(s.LagNS), fig(s.Bytes))
	}
	if len(masters) != Masters {
		t.Errorf("replicas of %v, want %d masters", masters, Masters)
	}
}
