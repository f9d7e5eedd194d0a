package runner

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/targets"
)

// lagTarget deploys a noop store that reports the lag of two replicas,
// r1 and r2: r1's lag is the round number in ms, r2 says it cannot be
// asked. Every 4th round fails as a whole; every 7th hangs until its
// timeout.
type lagTarget struct{ d *lagDeployment }

func (t lagTarget) Name() string { return "lagfake" }
func (t lagTarget) Deploy(context.Context) (targets.Deployment, error) {
	return t.d, nil
}

type lagDeployment struct {
	noopDeployment
	inFlight   atomic.Int32
	concurrent atomic.Bool // two calls overlapped
	mu         sync.Mutex
	calls      int
	deadlines  int // calls that came with no deadline
	last       []lag.Sample
}

func (d *lagDeployment) SampleLag(ctx context.Context) ([]lag.Sample, error) {
	if d.inFlight.Add(1) > 1 {
		d.concurrent.Store(true)
	}
	defer d.inFlight.Add(-1)
	d.mu.Lock()
	d.calls++
	n := d.calls
	if _, ok := ctx.Deadline(); !ok {
		d.deadlines++
	}
	d.mu.Unlock()
	switch {
	case n%7 == 0:
		<-ctx.Done()
		return nil, ctx.Err()
	case n%4 == 0:
		return nil, errors.New("primary unreachable")
	}
	out := []lag.Sample{{Node: "r1", Of: "p", LagNS: lag.Int64(int64(n) * 1e6)}, {Node: "r2", Of: "p", Err: "connection refused"}}
	d.mu.Lock()
	d.last = out // kept, as a read policy would: the runner must not stamp it
	d.mu.Unlock()
	return out, nil
}

// The runner samples a LagSampler from one goroutine, each call with a
// deadline, stamps the samples with the history's clock, records a
// failed or timed-out round as one error sample per known replica, and
// streams them to lag.jsonl.
func TestLagLoop(t *testing.T) {
	d := &lagDeployment{noopDeployment: noopDeployment{data: map[string]int64{}}}
	out, err := Run(context.Background(), Config{
		Name: "lag", StoreRoot: t.TempDir(), Target: lagTarget{d},
		Workloads:   mustWorkloads(t, "register"),
		Concurrency: 4, Rate: 500, TimeLimit: 1500 * time.Millisecond, Seed: 1,
		LagInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.concurrent.Load() {
		t.Error("SampleLag was called concurrently")
	}
	if d.deadlines > 0 {
		t.Errorf("%d SampleLag calls without a deadline", d.deadlines)
	}
	var ok, failed, timedOut, replicaErr int
	var prev int64 = -1
	var last int64
	err = lag.ScanFile(filepath.Join(out.Dir, lag.File), func(s *lag.Sample) error {
		if s.Time < prev {
			return fmt.Errorf("time went back: %d after %d", s.Time, prev)
		}
		prev, last = s.Time, s.Time
		switch {
		case s.Node == "r1" && s.Err == "" && s.LagNS != nil && *s.LagNS > 0:
			ok++
		case s.Node == "r2" && s.Err == "connection refused":
			replicaErr++
		case strings.Contains(s.Err, "primary unreachable") && s.LagNS == nil:
			failed++
		case strings.Contains(s.Err, "no answer within the sampling interval (20ms)"):
			timedOut++
		default:
			return fmt.Errorf("unexpected sample %+v", *s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	calls := d.calls
	for _, s := range d.last {
		if s.Time != 0 {
			t.Errorf("the runner stamped the deployment's own sample: %+v", s)
		}
	}
	d.mu.Unlock()
	if calls < 10 {
		t.Fatalf("only %d rounds", calls)
	}
	// A whole failed round names both replicas known from earlier rounds.
	if ok == 0 || replicaErr != ok || failed == 0 || failed%2 != 0 || timedOut == 0 || timedOut%2 != 0 {
		t.Fatalf("ok %d, replica errors %d, failed-round samples %d, timed-out samples %d", ok, replicaErr, failed, timedOut)
	}
	if got, want := ok+failed/2+timedOut/2, calls; got != want {
		t.Errorf("%d rounds recorded, %d calls made", got, want)
	}
	// The samples span the clients' run on the history's clock.
	if limit := int64(1500 * time.Millisecond); last < limit/2 {
		t.Errorf("last sample at %v, time limit %v", time.Duration(last), time.Duration(limit))
	}
}

// A write of lag.jsonl that fails stops the run at once, as a failed
// history write does: an error naming it (exit 255), no results.
func TestLagWriteFailureStopsRun(t *testing.T) {
	root := t.TempDir()
	disk := &fullDisk{limit: 300}
	d := &lagDeployment{noopDeployment: noopDeployment{data: map[string]int64{}}}
	cfg := Config{
		Name: "lagfull", StoreRoot: root, Target: lagTarget{d},
		Workloads:   mustWorkloads(t, "register"),
		Concurrency: 4, Rate: 500, TimeLimit: time.Minute, Seed: 3,
		LagInterval: 10 * time.Millisecond,
	}
	cfg.lagWriter = func(string) (*lag.Writer, error) { return lag.NewWriter(disk), nil }
	start := time.Now()
	out, err := Run(context.Background(), cfg)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("a failed lag write gave no error (verdict %s after %v)", out.Results.Verdict, took)
	}
	if !errors.Is(err, ErrSetup) || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), "replication lag") {
		t.Fatalf("error %q: want ErrSetup naming the lag write failure", err)
	}
	if took > cfg.TimeLimit/2 {
		t.Fatalf("the run went on for %v after lag.jsonl could not be written", took)
	}
	checkFailedRunDir(t, root)
}

func TestLagIntervalRefused(t *testing.T) {
	for _, d := range []time.Duration{-time.Millisecond, time.Microsecond, 2 * time.Minute} {
		_, err := Run(context.Background(), Config{Name: "x", StoreRoot: t.TempDir(), Target: noopTarget{}, Workloads: mustWorkloads(t, "register"), Concurrency: 1, TimeLimit: time.Second, LagInterval: d})
		if err == nil || !strings.Contains(err.Error(), "lag interval") {
			t.Errorf("lag interval %v: %v", d, err)
		}
	}
}
