package nemesis

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/history"
)

// shapeCluster models a network whose RTT is 1ms plus the delays of the
// layers both ways; with broken set, Shape does nothing (a shaper that
// silently fails).
type shapeCluster struct {
	mu     sync.Mutex
	names  []string
	layers map[string][]cluster.LinkShape
	broken bool
}

func (s *shapeCluster) Nodes() []string { return s.names }
func (s *shapeCluster) Shape(_ context.Context, layer string, l []cluster.LinkShape) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.broken {
		s.layers[layer] = l
	}
	return nil
}
func (s *shapeCluster) Unshape(_ context.Context, layer string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.layers, layer)
	return nil
}
func (s *shapeCluster) oneWay(a, b string) time.Duration {
	var d time.Duration
	in := func(ns []string, x string) bool { return len(ns) == 0 || contains(ns, x) }
	for _, ls := range s.layers {
		for _, l := range ls {
			if in(l.From, a) && in(l.To, b) {
				d += l.Delay
			}
		}
	}
	return d
}
func (s *shapeCluster) MeasureRTT(_ context.Context, a, b string) (cluster.RTT, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := time.Millisecond + s.oneWay(a, b) + s.oneWay(b, a)
	return cluster.RTT{Sent: 10, Received: 10, Min: d, Median: d, Max: d}, nil
}

// A delay fault records the RTT before and after in its start event and
// the RTT after healing in its stop event; it leaves other layers alone.
func TestDelayFaultMeasuresAndHeals(t *testing.T) {
	sc := &shapeCluster{names: nodes(4), layers: map[string][]cluster.LinkShape{"regions": {{From: []string{"n1"}, To: []string{"n4"}, Delay: 5 * time.Millisecond}}}}
	rec := history.NewRecorder(nil)
	f := &Delay{Targets: One, Delay: 50 * time.Millisecond}
	n, err := New(sc, []Fault{f}, time.Hour, rand.New(rand.NewPCG(3, 3)), rec)
	if err != nil {
		t.Fatal(err)
	}
	n.start(t.Context(), f)
	if len(n.Active()) != 1 {
		t.Fatalf("delay not active: %v", rec.History().Ops)
	}
	ops := rec.History().Ops
	start := ops[len(ops)-1]
	if start.Extra["rtt_before"] == "" || !strings.Contains(start.Extra["rtt_after"], "rtt 101ms") && !strings.Contains(start.Extra["rtt_after"], "rtt 106ms") {
		t.Errorf("start event: %v %v", start.Value, start.Extra)
	}
	if err := n.Heal(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, ok := sc.layers[DelayLayer]; ok || len(sc.layers["regions"]) != 1 {
		t.Errorf("layers after heal: %v", sc.layers)
	}
	ops = rec.History().Ops
	stop := ops[len(ops)-1]
	if stop.F != "stop-delay" || !strings.Contains(stop.Extra["healed"], "after heal") {
		t.Errorf("stop event: %v %v", stop.Value, stop.Extra)
	}
	t.Logf("start: %v\nstop: %v", start.Value, stop.Value)
}

// A shaper that does nothing is caught: the fault is recorded as failed,
// not started.
func TestDelayThatDoesNotTakeEffectIsRefused(t *testing.T) {
	sc := &shapeCluster{names: nodes(3), layers: map[string][]cluster.LinkShape{}, broken: true}
	rec := history.NewRecorder(nil)
	f := &Delay{Targets: All, Delay: 50 * time.Millisecond}
	n, err := New(sc, []Fault{f}, time.Hour, rand.New(rand.NewPCG(3, 3)), rec)
	if err != nil {
		t.Fatal(err)
	}
	n.start(t.Context(), f)
	ops := rec.History().Ops
	if last := ops[len(ops)-1]; !strings.Contains(last.Error, "did not take effect") || len(n.Active()) != 0 {
		t.Errorf("want a failed start, got %v (active %v)", last, n.Active())
	}
}

func TestLinkFaultChecks(t *testing.T) {
	p := cluster.Plan{Nodes: 3}.With(cluster.CanShape)
	for _, c := range []struct {
		f  Fault
		ok bool
	}{
		{&Delay{Targets: One, Delay: time.Millisecond}, true},
		{&Delay{Targets: All, Delay: time.Millisecond}, true},
		{&Delay{Targets: "3", Delay: time.Millisecond}, false}, // every node but not "all": no link left between groups
		{&Delay{Targets: One, Delay: -time.Millisecond}, false},
		{&Loss{Targets: One, Loss: 0.1}, true},
		{&Loss{Targets: One, Loss: 0}, false},
		{&Loss{Targets: One, Loss: 1.5}, false},
	} {
		if err := c.f.Check(p); (err == nil) != c.ok {
			t.Errorf("%s %+v: Check = %v", c.f.Name(), c.f, err)
		}
	}
	noShape := cluster.Plan{Nodes: 3}.Without(cluster.CanShape, "no netfilter queue")
	if err := (&Delay{Targets: One}).Check(noShape); err == nil || !strings.Contains(err.Error(), "no netfilter queue") {
		t.Errorf("delay on a plan without shaping: %v", err)
	}
}
