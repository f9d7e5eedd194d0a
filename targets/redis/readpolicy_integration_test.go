//go:build linux

package redis

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/nemesis"
	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/targets/readpolicy"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// policyRun is one run of the read-policy scenario and what the test
// reads of it.
type policyRun struct {
	h        *history.History
	session  checkers.Result
	maxLag   map[string]int64 // node -> max sampled LagNS
	samples  int
	routes   map[string]int64 // ok reads by Extra route ("" without)
	maxRead  int64            // the longest ok read
	interval time.Duration
	faults   []string
}

// runPolicy runs ryw (a third of the operations are writes, every read
// checked for read-your-writes and monotonic reads) on a primary and two
// replicas, reads from replicas, lag sampled every 100 ms, while the
// nemesis cuts one node off from the others for 2 s every 4 s; maxLag >
// 0 turns the policy on.
func runPolicy(t *testing.T, maxLag time.Duration) policyRun {
	t.Helper()
	tg, err := New(newConfig(t, Config{Mode: Replication, Nodes: 3, ReadFrom: Replica, MaxReplicaLag: maxLag, Seed: 5}))
	if err != nil {
		t.Fatal(err)
	}
	w, err := workloads.New("ryw", workloads.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const interval = 100 * time.Millisecond
	start := time.Now()
	out, err := runner.Run(ctx, runner.Config{
		Name: "redis-lag", StoreRoot: t.TempDir(), Target: tg, Workloads: []workloads.Workload{w},
		Faults:      []nemesis.Fault{&nemesis.Partition{Shapes: []nemesis.Shape{nemesis.OneNode}}},
		Concurrency: 10, Rate: 1000, TimeLimit: 8 * time.Second, NemesisInterval: 2 * time.Second,
		RecoveryTime: time.Second, CheckTimeLimit: 30 * time.Second, Seed: 5, DeployTimeout: time.Minute,
		LagInterval: interval,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("run with max replica lag %v: %v", maxLag, time.Since(start).Round(time.Millisecond))
	pr := policyRun{maxLag: map[string]int64{}, routes: map[string]int64{}, interval: interval}
	pr.h = loadHistory(t, out)
	pr.session = (&checkers.Session{}).Check(ctx, pr.h)
	if err := lag.ScanFile(filepath.Join(out.Dir, lag.File), func(s *lag.Sample) error {
		pr.samples++
		if s.LagNS != nil {
			pr.maxLag[s.Node] = max(pr.maxLag[s.Node], *s.LagNS)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	inv := map[history.Process]int64{}
	byNode := map[string]int64{}
	for _, op := range pr.h.Ops {
		if !op.IsClient() {
			if op.Type != history.Invoke && strings.HasPrefix(op.F, "start") {
				s, _ := op.Value.AsString()
				pr.faults = append(pr.faults, s)
			}
			continue
		}
		if op.F != "read" {
			continue
		}
		if op.Type == history.Invoke {
			inv[op.Process] = op.Time
			continue
		}
		if op.Type == history.OK {
			pr.routes[op.Extra[readpolicy.RouteKey]]++
			byNode[op.Node]++
			pr.maxRead = max(pr.maxRead, op.Time-inv[op.Process])
		}
	}
	var maxStale int64
	n := 0
	if st := pr.session.Staleness; st != nil {
		n = len(st.NS)
		for _, s := range st.NS {
			maxStale = max(maxStale, s)
		}
	}
	t.Logf("  faults %v; %d lag samples, max lag by node %v; session %s %v; %d stale reads, max staleness %v; ok reads by node %v, by route %v; longest read %v",
		pr.faults, pr.samples, durations(pr.maxLag), pr.session.Verdict, pr.session.AnomalyCounts, n, time.Duration(maxStale), byNode, pr.routes, time.Duration(pr.maxRead))
	return pr
}

func durations(m map[string]int64) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+time.Duration(v).Round(time.Microsecond).String())
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// readDuration is the time from r's invocation to its completion.
func readDuration(h *history.History, r history.Op) int64 {
	for i := r.Index - 1; i >= 0; i-- {
		if op := h.Ops[i]; op.Process == r.Process && op.Type == history.Invoke {
			return r.Time - op.Time
		}
	}
	return 0
}

// TestReadPolicyBoundsStaleness is the read policy's proof on real Redis
// in replication mode. Replicas on loopback are a fraction of a
// millisecond behind, so the lag is made real by the nemesis: a one-node
// partition (2 s every 4 s) cuts a node off from the others (not from the
// controller): a cut-off replica keeps answering reads while its offset
// stands still, or, with the primary cut off, both replicas do. Nothing
// is faked: the lag is what the replicas' own offsets say.
//
//   - --read-from replica alone: the lag is sampled (a cut-off replica's
//     derived lag grows to about the partition's length), stale reads are
//     found, and some are older than 10 ms + one sampling interval;
//   - with --max-replica-lag 10ms: no stale read is older than the bound
//     plus one sampling interval plus the read's own duration, every read
//     carries its route, and some went back to the primary.
//
// Two runs of 8 s plus deploys: about 25 s.
func TestReadPolicyBoundsStaleness(t *testing.T) {
	requireEnv(t)
	const bound = 10 * time.Millisecond

	free := runPolicy(t, 0)
	var maxLag int64
	for _, l := range free.maxLag {
		maxLag = max(maxLag, l)
	}
	if free.samples == 0 || maxLag < int64(time.Second) {
		t.Errorf("without the policy: %d samples, max lag %s: want a cut-off replica near the partition's 2 s", free.samples, durations(free.maxLag))
	}
	st := free.session.Staleness
	if st == nil || len(st.NS) == 0 {
		t.Fatalf("without the policy: no stale read (%s %v)", free.session.Verdict, free.session.AnomalyCounts)
	}
	over := 0
	for _, s := range st.NS {
		if s > int64(bound+free.interval) {
			over++
		}
	}
	if over == 0 {
		t.Errorf("without the policy no stale read is older than %v + %v: the bounded run proves nothing", bound, free.interval)
	}
	t.Logf("without the policy: %d of %d stale reads older than %v", over, len(st.NS), bound+free.interval)

	bounded := runPolicy(t, bound)
	limit := int64(bound + bounded.interval)
	witnesses := 0
	for _, a := range bounded.session.Anomalies {
		if a.StalenessNS == 0 {
			continue
		}
		r := bounded.h.Ops[a.Ops[len(a.Ops)-1]] // the offending read completes last
		dur := readDuration(bounded.h, r)
		witnesses++
		if a.StalenessNS > limit+dur {
			t.Errorf("stale read #%d on %s (%s): %v stale, over %v + %v + its %v", r.Index, r.Node, r.Extra[readpolicy.RouteKey], time.Duration(a.StalenessNS), bound, bounded.interval, time.Duration(dur))
		}
	}
	if s := bounded.session.Staleness; s != nil {
		for _, ns := range s.NS {
			if ns > limit+bounded.maxRead {
				t.Errorf("a stale read %v stale, over %v + %v + the longest read %v", time.Duration(ns), bound, bounded.interval, time.Duration(bounded.maxRead))
			}
		}
	}
	var reads, toPrimary int64
	for r, n := range bounded.routes {
		if r == "" {
			t.Errorf("%d ok reads without a route under the policy", n)
		}
		reads += n
		if strings.HasPrefix(r, "primary") {
			toPrimary += n
		}
	}
	if bounded.routes[string(readpolicy.ToReplica)] == 0 || bounded.routes[string(readpolicy.OverBound)] == 0 {
		t.Errorf("routes %v: want reads on replicas, and reads sent back to the primary for lag over the bound", bounded.routes)
	}
	t.Logf("with --max-replica-lag %v: %d witnesses checked, %.1f%% of %d reads went back to the primary (%v)", bound, witnesses, 100*float64(toPrimary)/float64(max(reads, 1)), reads, bounded.routes)
}
