package sidebyside

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestMeasureInterleaves checks the order of the rounds (a warm-up of
// each, then A B B A ...), that each side gets its own rounds, and that an
// error of a side stops the measurement.
func TestMeasureInterleaves(t *testing.T) {
	var order []string
	side := func(name string, ops int64) Contender {
		return Contender{Name: name, Run: func(ctx context.Context, d time.Duration) (int64, error) {
			order = append(order, name)
			return ops, nil
		}}
	}
	res, err := Measure(context.Background(), 4, time.Millisecond, side("a", 100), side("b", 50))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ""); got != "ab"+"abba"+"abba" {
		t.Errorf("order %q, want warm-up ab then abbaabba", got)
	}
	if len(res.Base.Rounds) != 4 || len(res.Harness.Rounds) != 4 {
		t.Fatalf("rounds %d and %d, want 4 each", len(res.Base.Rounds), len(res.Harness.Rounds))
	}
	for _, r := range res.Harness.Rounds {
		if r.Ops != 50 {
			t.Errorf("harness round with %d ops", r.Ops)
		}
	}
	fixed := Result{
		Base:    Side{Rounds: []Round{{Ops: 100, Elapsed: time.Second, Mallocs: 700, CPU: time.Millisecond}, {Ops: 300, Elapsed: time.Second, Mallocs: 2100, CPU: 3 * time.Millisecond}}},
		Harness: Side{Rounds: []Round{{Ops: 100, Elapsed: time.Second, Mallocs: 800, CPU: 2 * time.Millisecond}, {Ops: 100, Elapsed: time.Second, Mallocs: 800, CPU: 2 * time.Millisecond}}},
	}
	if r := fixed.Ratio(); r != 0.5 {
		t.Errorf("ratio %v, want 100 ops/s over 200 ops/s = 0.5", r)
	}
	if pr := fixed.PairRatios(); len(pr) != 2 || pr[0] != 1.0/3 || pr[1] != 1 {
		t.Errorf("pair ratios %v, want [1/3 1]", pr)
	}
	if a := fixed.Base.AllocsPerOp(); a != 7 {
		t.Errorf("allocs/op %v, want 7", a)
	}
	if c := fixed.Harness.CPUPerOp(); c != 20*time.Microsecond {
		t.Errorf("CPU/op %v, want 20µs", c)
	}
	boom := errors.New("boom")
	_, err = Measure(context.Background(), 2, time.Millisecond, side("a", 1), Contender{Name: "b", Run: func(context.Context, time.Duration) (int64, error) { return 0, boom }})
	if !errors.Is(err, boom) {
		t.Errorf("error %v, want boom", err)
	}
	if _, err := Measure(context.Background(), 0, time.Second, side("a", 1), side("b", 1)); err == nil {
		t.Error("zero rounds accepted")
	}
}
