//go:build linux

package etcd

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/lag"
)

// A follower cut off from the rest falls behind the leader's applied
// index while writes go on, by a growing number of entries and a growing
// derived time; after the heal it catches up.
func TestSampleLagFollowerPartitioned(t *testing.T) {
	requireEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tg, err := New(newConfig(t, Config{}))
	if err != nil {
		t.Fatal(err)
	}
	dep, err := tg.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := dep.(*Deployment)
	defer func() {
		if err := dep.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	sample := func() map[string]lag.Sample {
		t.Helper()
		sctx, scancel := context.WithTimeout(ctx, time.Second)
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
	first := sample()
	var leader string
	for _, s := range first {
		if s.Err != "" || s.Entries == nil || s.LagNS == nil || !s.Derived {
			t.Fatalf("healthy cluster: sample %+v", s)
		}
		if s.Of != "" {
			leader = s.Of
		}
	}
	if s := first[leader]; s.Of != "" || *s.Entries != 0 {
		t.Errorf("the leader's own sample: %+v", s)
	}
	if leader == "" {
		t.Fatalf("no leader named: %+v", first)
	}
	follower := "n1"
	if leader == follower {
		follower = "n2"
	}
	var others []string
	for _, n := range d.Nodes() {
		if n != follower {
			others = append(others, n)
		}
	}

	// Writes through the leader, until the test ends.
	wctx, wstop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { wstop(); wg.Wait() }()
	cli, err := newClient([]string{d.Endpoint(leader)})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; wctx.Err() == nil; i++ {
			pctx, pcancel := context.WithTimeout(wctx, time.Second)
			_, _ = cli.Put(pctx, "lag", fmt.Sprint(i))
			pcancel()
		}
	}()

	if err := d.Cluster().(cluster.Partitioner).Partition(ctx, cluster.Bidirectional([]string{follower}, others)); err != nil {
		t.Fatal(err)
	}
	var cut1, cut2 lag.Sample
	if err := poll(ctx, 20*time.Second, func(context.Context) error {
		cut1 = sample()[follower]
		if cut1.Entries == nil || *cut1.Entries < 20 || cut1.LagNS == nil {
			return fmt.Errorf("cut-off %s: %+v", follower, cut1)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, 20*time.Second, func(context.Context) error {
		cut2 = sample()[follower]
		if cut2.Entries == nil || *cut2.Entries <= *cut1.Entries || cut2.LagNS == nil || *cut2.LagNS < *cut1.LagNS+int64(200*time.Millisecond) {
			return fmt.Errorf("cut-off %s does not fall further behind: %+v then %+v", follower, cut1, cut2)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("cut off: %s %d entries, %v behind, then %d entries, %v", follower, *cut1.Entries, time.Duration(*cut1.LagNS), *cut2.Entries, time.Duration(*cut2.LagNS))
	if s := sample()[others[0]]; s.Entries == nil || *s.Entries > *cut2.Entries/2 {
		t.Errorf("a connected member lags as much as the cut-off one: %+v", s)
	}
	if err := d.Cluster().(cluster.Partitioner).HealNetwork(ctx); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, 20*time.Second, func(context.Context) error {
		s := sample()[follower]
		if s.Entries == nil || *s.Entries > 10 || s.LagNS == nil || *s.LagNS > int64(time.Second) {
			return fmt.Errorf("healed %s still behind: %+v", follower, s)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
