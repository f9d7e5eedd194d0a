package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/history"
)

func nodes(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("n%d", i+1)
	}
	return out
}

// heard returns the nodes dst hears from (itself included).
func heard(g cluster.Grudge, all []string, dst string) []string {
	var out []string
	for _, src := range all {
		if src == dst || !g.Drops(src, dst) {
			out = append(out, src)
		}
	}
	sort.Strings(out)
	return out
}

func TestGrudgeShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{3, 4, 5, 7} {
		all := nodes(n)
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			g, _, err := Grudge(OneNode, all, rng)
			if err != nil {
				t.Fatal(err)
			}
			isolated := 0
			for _, d := range all {
				if len(heard(g, all, d)) == 1 {
					isolated++
				} else if len(heard(g, all, d)) != n-1 {
					t.Errorf("one-node: %s hears %v", d, heard(g, all, d))
				}
			}
			if isolated != 1 {
				t.Errorf("one-node isolated %d nodes", isolated)
			}

			g, _, _ = Grudge(Halves, all, rng)
			sizes := map[int]int{}
			for _, d := range all {
				sizes[len(heard(g, all, d))]++
			}
			if sizes[n/2] == 0 || sizes[n-n/2] == 0 {
				t.Errorf("halves: component sizes %v", sizes)
			}

			g, _, _ = Grudge(Bridge, all, rng)
			full := 0
			for _, d := range all {
				if len(heard(g, all, d)) == n {
					full++
				}
			}
			if full != 1 {
				t.Errorf("bridge: %d nodes hear everyone, want 1 (the bridge)", full)
			}

			g, _, _ = Grudge(MajoritiesRing, all, rng)
			seen := map[string]bool{}
			for _, d := range all {
				h := heard(g, all, d)
				if len(h) != n/2+1 {
					t.Errorf("majorities-ring: %s hears %v, want a bare majority of %d", d, h, n/2+1)
				}
				seen[strings.Join(h, ",")] = true
			}
			if n >= 4 && len(seen) != n {
				t.Errorf("majorities-ring: %d distinct majorities for %d nodes", len(seen), n)
			}

			g, _, _ = Grudge(OneWay, all, rng)
			deaf := 0
			for _, d := range all {
				if len(heard(g, all, d)) == 1 {
					deaf++
				}
			}
			if deaf != 1 || len(g) != 1 {
				t.Errorf("one-way: grudge %v", g)
			}
			for dst, srcs := range g {
				for _, src := range srcs {
					if g.Drops(dst, src) {
						t.Errorf("one-way: %s also drops %s", src, dst)
					}
				}
			}
		})
	}
}

// fakeCluster records the faults in force.
type fakeCluster struct {
	mu      sync.Mutex
	names   []string
	grudge  cluster.Grudge
	killed  map[string]bool
	paused  map[string]bool
	offsets map[string]time.Duration
	failOn  string
}

func newFake(n int) *fakeCluster {
	return &fakeCluster{names: nodes(n), killed: map[string]bool{}, paused: map[string]bool{}, offsets: map[string]time.Duration{}}
}

func (f *fakeCluster) Nodes() []string { return f.names }
func (f *fakeCluster) Partition(_ context.Context, g cluster.Grudge) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.grudge = g
	return nil
}
func (f *fakeCluster) HealNetwork(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.grudge = nil
	return nil
}
func (f *fakeCluster) Kill(_ context.Context, n string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n == f.failOn {
		return fmt.Errorf("cannot kill %s", n)
	}
	f.killed[n] = true
	return nil
}
func (f *fakeCluster) Restart(_ context.Context, n string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.killed, n)
	return nil
}
func (f *fakeCluster) Pause(_ context.Context, n string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused[n] = true
	return nil
}
func (f *fakeCluster) Resume(_ context.Context, n string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.paused, n)
	return nil
}
func (f *fakeCluster) SetClockOffset(_ context.Context, n string, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d == 0 {
		delete(f.offsets, n)
	} else {
		f.offsets[n] = d
	}
	return nil
}

func (f *fakeCluster) clean() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.grudge == nil && len(f.killed) == 0 && len(f.paused) == 0 && len(f.offsets) == 0
}

// bareCluster has nodes and nothing else.
type bareCluster struct{}

func (bareCluster) Nodes() []string { return nodes(3) }

func TestUnsupportedFaultsAreRefused(t *testing.T) {
	for _, f := range []Fault{&Partition{}, &Kill{}, &Pause{}, &Clock{}} {
		if _, err := New(bareCluster{}, []Fault{f}, time.Second, rand.New(rand.NewPCG(1, 1)), history.NewRecorder(nil)); err == nil {
			t.Errorf("%s accepted on a cluster without the capability", f.Name())
		}
	}
	if _, err := New(newFake(3), []Fault{&Kill{Targets: "4"}}, time.Second, rand.New(rand.NewPCG(1, 1)), history.NewRecorder(nil)); err == nil {
		t.Error("killing 4 of 3 nodes accepted")
	}
}

func TestScheduleRecordsAndHealsEverything(t *testing.T) {
	fc := newFake(5)
	rec := history.NewRecorder(nil)
	faults := []Fault{&Partition{}, &Kill{Targets: Minority}, &Pause{Targets: One}, &Clock{Targets: All, Strobe: true, Period: time.Millisecond}}
	n, err := New(fc, faults, 2*time.Millisecond, rand.New(rand.NewPCG(7, 7)), rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.Run(ctx) }()
	// Wait until a few faults were started, then stop mid-schedule.
	deadline := time.Now().Add(10 * time.Second)
	for countF(rec.History(), "start-") < 6 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if err := n.Heal(ctx); err != nil {
		t.Fatalf("heal: %v", err)
	}
	if !fc.clean() {
		t.Fatalf("faults left after Heal: %+v", fc)
	}
	h := rec.History()
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	starts, stops := countF(h, "start-"), countF(h, "stop-")
	if starts < 6 || starts != stops {
		t.Fatalf("%d start and %d stop events", starts, stops)
	}
	for _, op := range h.Ops {
		if op.Process != history.Nemesis {
			t.Fatalf("non-nemesis event %v", op)
		}
		if op.Type == history.Info && op.Error == "" && op.Value.IsNil() {
			t.Errorf("completion without description: %v", op)
		}
	}
}

func TestFailedApplyIsRecordedAndUndone(t *testing.T) {
	fc := newFake(3)
	fc.failOn = "n3"
	rec := history.NewRecorder(nil)
	n, _ := New(fc, []Fault{&Kill{Targets: All}}, time.Millisecond, rand.New(rand.NewPCG(1, 1)), rec)
	n.start(context.Background(), &Kill{Targets: All})
	if !fc.clean() {
		t.Fatalf("half-applied kill left behind: %+v", fc.killed)
	}
	h := rec.History()
	last := h.Ops[len(h.Ops)-1]
	if last.Error == "" || len(n.Active()) != 0 {
		t.Fatalf("failure not recorded: %v, active %v", last, n.Active())
	}
}

func countF(h *history.History, prefix string) int {
	n := 0
	for _, op := range h.Ops {
		if op.Type == history.Invoke && strings.HasPrefix(op.F, prefix) {
			n++
		}
	}
	return n
}
