//go:build linux

package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/lag"
)

// applyDelay sets recovery_min_apply_delay on one standby (ALTER SYSTEM,
// reloaded: the setting is reloadable): it replays each commit that long
// after the primary wrote it. This is how these tests make replication
// lag real on a loopback network, where a standby is otherwise a
// millisecond behind: a controlled, genuine lag that PostgreSQL itself
// reports in pg_stat_replication, nothing faked.
func applyDelay(t *testing.T, ctx context.Context, d *Deployment, node string, delay time.Duration) {
	t.Helper()
	if err := d.srv.exec(ctx, node,
		fmt.Sprintf("ALTER SYSTEM SET recovery_min_apply_delay = '%dms'", delay.Milliseconds()),
		"SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
}

// writeLoop writes to the primary until ctx ends, one statement at a
// time, on a client of the deployment.
func writeLoop(ctx context.Context, t *testing.T, d *Deployment, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		cw, err := d.NewClient(ctx, 99)
		if err != nil {
			t.Error(err)
			return
		}
		c := cw.(*Client)
		defer c.Close()
		for i := int64(0); ctx.Err() == nil; i++ {
			octx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_ = c.Write(octx, fmt.Sprintf("w%d", i%10), i)
			cancel()
		}
	}()
}

func lagByNode(ss []lag.Sample) map[string]lag.Sample {
	out := map[string]lag.Sample{}
	for _, s := range ss {
		out[s.Node] = s
	}
	return out
}

func ns(p *int64) string {
	if p == nil {
		return "nil"
	}
	return time.Duration(*p).String()
}

func num(p *int64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

// TestSampleLag: SampleLag on a real cluster under writes, with n3
// replaying 300 ms late (recovery_min_apply_delay): n3's replay_lag is
// about the delay and bytes are behind; n2's lag is small; a killed
// standby gets a Sample with Err (it leaves pg_stat_replication); after
// a failover the new primary is asked. About 15 s.
func TestSampleLag(t *testing.T) {
	requireEnv(t)
	tg, err := New(newConfig(t, Config{ReadFrom: Replica}))
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
	const delay = 300 * time.Millisecond
	applyDelay(t, ctx, d, "n3", delay)

	// Idle and caught up: no lag figure is NULL-as-unknown, LagNS is 0
	// or PostgreSQL's last figure. A standby's row has no replay position
	// until its first status reply (seen in CI right after deploy: LagNS
	// and Bytes nil, which is the sampler saying "unknown"), so the test
	// waits for both standbys' first replies, up to 10 s.
	var ss []lag.Sample
	for start := time.Now(); ; {
		if ss, err = d.SampleLag(ctx); err != nil {
			t.Fatal(err)
		}
		if len(ss) != 2 {
			t.Fatalf("samples %+v, want n2 and n3", ss)
		}
		replied := true
		for _, s := range ss {
			replied = replied && s.Bytes != nil
		}
		if replied || time.Since(start) > 10*time.Second {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, s := range ss {
		if s.Err != "" || s.LagNS == nil || s.Bytes == nil || s.Of != "n1" || s.Time != 0 {
			t.Fatalf("idle sample %+v", s)
		}
	}

	wctx, wcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	writeLoop(wctx, t, d, &wg)
	var maxN2, maxN3 int64
	var bytesN3 bool
	tick := time.NewTicker(50 * time.Millisecond)
	for i := 0; i < 40; i++ {
		<-tick.C
		sctx, scancel := context.WithTimeout(ctx, 50*time.Millisecond)
		ss, err := d.SampleLag(sctx)
		scancel()
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		by := lagByNode(ss)
		for _, n := range []string{"n2", "n3"} {
			s := by[n]
			if s.Err != "" {
				t.Fatalf("round %d: %s: %s", i, n, s.Err)
			}
			if i%10 == 0 {
				t.Logf("round %d %s: lag %s (derived %v) write %s flush %s replay %s bytes %s", i, n, ns(s.LagNS), s.Derived, ns(s.WriteLagNS), ns(s.FlushLagNS), ns(s.ReplayLagNS), num(s.Bytes))
			}
		}
		// The first rounds may still show the figures PostgreSQL measured
		// before the writes began (it displays them for a while).
		if l := by["n2"].LagNS; l != nil && i >= 10 {
			maxN2 = max(maxN2, *l)
		}
		if l := by["n3"].LagNS; l != nil && i >= 20 {
			maxN3 = max(maxN3, *l)
		}
		if b := by["n3"].Bytes; b != nil && *b > 0 {
			bytesN3 = true
		}
	}
	tick.Stop()
	t.Logf("max lag under writes: n2 %v, n3 %v", time.Duration(maxN2), time.Duration(maxN3))
	if maxN3 < int64(delay)*8/10 || maxN3 > int64(delay)*3 {
		t.Errorf("n3 replays %v late, sampled lag up to %v", delay, time.Duration(maxN3))
	}
	if maxN2 >= int64(delay)/2 {
		t.Errorf("n2 (no delay) sampled up to %v", time.Duration(maxN2))
	}
	if !bytesN3 {
		t.Errorf("n3 never had bytes behind")
	}
	wcancel()
	wg.Wait()

	// A killed standby leaves pg_stat_replication: Err.
	pc := d.PG()
	if err := pc.Kill(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ss, err := d.SampleLag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s := lagByNode(ss)["n3"]
		if s.Err != "" {
			if s.LagNS != nil || s.Bytes != nil {
				t.Errorf("a sample with Err has figures: %+v", s)
			}
			t.Logf("killed n3: %s", s.Err)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("killed n3 still sampled: %+v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Failover: n2 becomes the primary; the sampler follows it.
	if err := pc.Kill(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	promoted, err := pc.Promote(ctx, []string{"n1", "n3"})
	if err != nil {
		t.Fatal(err)
	}
	ss, err = d.SampleLag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if s.Of != promoted || s.Node == promoted || s.Err == "" || !strings.Contains(s.Err, "pg_stat_replication of "+promoted) {
			t.Errorf("after promoting %s: %+v", promoted, s)
		}
	}
	if err := pc.Rejoin(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	// Its replay position shows once it has reported one.
	deadline = time.Now().Add(10 * time.Second)
	for {
		ss, err = d.SampleLag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s := lagByNode(ss)["n1"]
		if s.Err == "" && s.LagNS != nil && s.Of == promoted {
			t.Logf("n1 rejoined: lag %s, bytes %s", ns(s.LagNS), num(s.Bytes))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n1 rejoined as a standby of %s: %+v", promoted, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
