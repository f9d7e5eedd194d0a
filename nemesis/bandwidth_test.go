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

// throttleCluster models links of 100 MB/s, or a node's limit for what it
// sends; with broken set, Throttle does nothing.
type throttleCluster struct {
	mu     sync.Mutex
	names  []string
	rates  map[string]int64
	broken bool
}

func (c *throttleCluster) Nodes() []string { return c.names }
func (c *throttleCluster) Throttle(_ context.Context, n string, rate int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.broken {
		c.rates[n] = rate
	}
	return nil
}
func (c *throttleCluster) Unthrottle(_ context.Context, n string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.rates, n)
	return nil
}
func (c *throttleCluster) MeasureThroughput(_ context.Context, a, b string) (cluster.Throughput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := int64(100e6)
	if x, ok := c.rates[a]; ok {
		r = x
	}
	return cluster.Throughput{Bytes: r, Elapsed: time.Second}, nil
}

// A bandwidth fault limits the chosen nodes, records the throughput
// before and after in its start event and after healing in its stop
// event, and removes every limit; a limit that does not take effect is a
// failed start.
func TestBandwidthFaultMeasuresAndHeals(t *testing.T) {
	tc := &throttleCluster{names: nodes(3), rates: map[string]int64{}}
	rec := history.NewRecorder(nil)
	f := &Bandwidth{Targets: One, Rate: 125_000}
	n, err := New(tc, []Fault{f}, time.Hour, rand.New(rand.NewPCG(1, 1)), rec)
	if err != nil {
		t.Fatal(err)
	}
	n.start(t.Context(), f)
	if len(n.Active()) != 1 || len(tc.rates) != 1 {
		t.Fatalf("bandwidth not active (limits %v): %v", tc.rates, rec.History().Ops)
	}
	ops := rec.History().Ops
	start := ops[len(ops)-1]
	if !strings.Contains(start.Extra["throughput_before"], "800 Mbit/s") || !strings.Contains(start.Extra["throughput_after"], "1 Mbit/s") {
		t.Errorf("start event: %v %v", start.Value, start.Extra)
	}
	if err := n.Heal(t.Context()); err != nil {
		t.Fatal(err)
	}
	ops = rec.History().Ops
	if stop := ops[len(ops)-1]; stop.F != "stop-bandwidth" || !strings.Contains(stop.Extra["healed"], "800 Mbit/s") || len(tc.rates) != 0 {
		t.Errorf("stop event %v %v, limits left %v", stop.Value, stop.Extra, tc.rates)
	}

	broken := &throttleCluster{names: nodes(3), rates: map[string]int64{}, broken: true}
	rec = history.NewRecorder(nil)
	f = &Bandwidth{Targets: All, Rate: 125_000}
	n, err = New(broken, []Fault{f}, time.Hour, rand.New(rand.NewPCG(1, 1)), rec)
	if err != nil {
		t.Fatal(err)
	}
	n.start(t.Context(), f)
	ops = rec.History().Ops
	if last := ops[len(ops)-1]; !strings.Contains(last.Error, "did not take effect") || len(n.Active()) != 0 {
		t.Errorf("want a failed start, got %v (active %v)", last, n.Active())
	}
}

func TestBandwidthChecksAndRates(t *testing.T) {
	p := cluster.Plan{Nodes: 3}.With(cluster.CanThrottle)
	if err := (&Bandwidth{Targets: One, Rate: 1}).Check(p); err != nil {
		t.Error(err)
	}
	if err := (&Bandwidth{Targets: One, Rate: 1}).Check(cluster.Plan{Nodes: 3}.Without(cluster.CanThrottle, "no tc")); err == nil || !strings.Contains(err.Error(), "no tc") {
		t.Errorf("without the capability: %v", err)
	}
	if err := (&Bandwidth{Targets: One, Rate: 0}).Check(p); err == nil {
		t.Error("rate 0 accepted")
	}
	for in, want := range map[string]int64{"1mbit": 125_000, "500kbit": 62_500, "2.5Mbit/s": 312_500, "1gbit": 125_000_000, "800bit": 100} {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1", "1mb", "-1mbit", "0kbit", "4bit", "xmbit"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
}
