package readpolicy

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/lag"
)

func TestRingBehind(t *testing.T) {
	var r Ring
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	if lo, _, ok := r.Behind(5, at(0)); lo != 0 || ok {
		t.Fatalf("empty ring: lower %v, hasUpper %v", lo, ok)
	}
	// The primary at 100, 200, 300, 300 (idle), 400 every 100 ms.
	for i, p := range []int64{100, 200, 300, 300, 400} {
		r.Add(at(100*i), p)
	}
	now := at(450)
	for _, c := range []struct {
		pos          int64
		lower, upper time.Duration
		hasUpper     bool
	}{
		{400, 0, 50 * time.Millisecond, true},                       // caught up with the last round
		{450, 0, 50 * time.Millisecond, true},                       // ahead of it (asked later)
		{350, 50 * time.Millisecond, 150 * time.Millisecond, true},  // between rounds 3 and 4
		{300, 50 * time.Millisecond, 150 * time.Millisecond, true},  // at the idle rounds' position: the latest of them
		{250, 250 * time.Millisecond, 350 * time.Millisecond, true}, // lacks what the primary had at round 2
		{50, 450 * time.Millisecond, 0, false},                      // behind the oldest round
	} {
		lo, up, ok := r.Behind(c.pos, now)
		if lo != c.lower || up != c.upper || ok != c.hasUpper {
			t.Errorf("Behind(%d) = %v, %v, %v; want %v, %v, %v", c.pos, lo, up, ok, c.lower, c.upper, c.hasUpper)
		}
	}
	// A smaller position: a new primary; the old positions are dropped.
	r.Add(at(500), 10)
	if r.Len() != 1 {
		t.Fatalf("after a smaller position: %d entries, want 1", r.Len())
	}
	// Constant memory: the ring wraps and keeps the newest RingSize.
	for i := range 3 * RingSize {
		r.Add(at(600+i), int64(100+i))
	}
	if r.Len() != RingSize {
		t.Fatalf("%d entries, want %d", r.Len(), RingSize)
	}
	last := at(600 + 3*RingSize - 1)
	if lo, up, ok := r.Behind(int64(100+3*RingSize-2), last); lo != 0 || up != time.Millisecond || !ok {
		t.Errorf("after wrapping: %v %v %v", lo, up, ok)
	}
	if _, _, ok := r.Behind(100, last); ok {
		t.Errorf("a position older than the ring has an upper bound")
	}
}

func sample(node string, lagNS int64) lag.Sample {
	return lag.Sample{Node: node, LagNS: lag.Int64(lagNS)}
}

func TestPolicyChoose(t *testing.T) {
	p := New(10 * time.Millisecond)
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Unix(1000, 0)
	live := []string{"n2", "n3"}
	if n, why := p.Choose(t0, live, rng); n != "" || why != NoFreshSample {
		t.Fatalf("before any sample: %q %q", n, why)
	}
	if n, why := p.Choose(t0, nil, rng); n != "" || why != NoLiveReplica {
		t.Fatalf("no live replica: %q %q", n, why)
	}
	p.Record(t0, []lag.Sample{sample("n2", 1e6), sample("n3", 50e6)})
	if n, why := p.Choose(t0.Add(time.Millisecond), live, rng); n != "" || why != NoFreshSample {
		t.Fatalf("one round only (interval unknown): %q %q", n, why)
	}
	t1 := t0.Add(100 * time.Millisecond)
	p.Record(t1, []lag.Sample{sample("n2", 1e6), sample("n3", 50e6), {Node: "n4", Err: "down"}})
	for range 50 {
		if n, why := p.Choose(t1.Add(99*time.Millisecond), append(live, "n4"), rng); n != "n2" || why != ToReplica {
			t.Fatalf("fresh round: %q %q, want n2 (n3 over the bound, n4 in error)", n, why)
		}
	}
	if n, why := p.Choose(t1.Add(101*time.Millisecond), live, rng); n != "" || why != NoFreshSample {
		t.Fatalf("older than one interval: %q %q", n, why)
	}
	if n, why := p.Choose(t1, []string{"n3"}, rng); n != "" || why != OverBound {
		t.Fatalf("only n3 live: %q %q", n, why)
	}
	// A late round (the runner skipped a tick): the interval is the
	// smaller of the last two gaps, so it stays 100 ms.
	t2 := t1.Add(300 * time.Millisecond)
	p.Record(t2, []lag.Sample{sample("n2", 9_999_999), sample("n3", 10e6)})
	if n, _ := p.Choose(t2.Add(150*time.Millisecond), live, rng); n != "" {
		t.Fatalf("150 ms after a round, interval 100 ms: %q", n)
	}
	if n, _ := p.Choose(t2.Add(50*time.Millisecond), live, rng); n != "n2" {
		t.Fatalf("lag 9.999 ms < 10 ms qualifies, 10 ms does not: %q", n)
	}
	if got := p.Extra(OverBound)[RouteKey]; got != string(OverBound) {
		t.Fatalf("extra: %q", got)
	}
}

// BenchmarkChoose: the read path takes no lock and allocates nothing.
func BenchmarkChoose(b *testing.B) {
	p := New(10 * time.Millisecond)
	t0 := time.Now()
	p.Record(t0.Add(-time.Second), []lag.Sample{sample("n2", 1e6), sample("n3", 1e6)})
	p.Record(t0, []lag.Sample{sample("n2", 1e6), sample("n3", 1e6)})
	rng := rand.New(rand.NewPCG(1, 2))
	live := []string{"n2", "n3"}
	b.ReportAllocs()
	for b.Loop() {
		p.Choose(t0, live, rng)
	}
}
