//go:build linux

package postgres

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
	"github.com/chaoscheck/chaoscheck/runner"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/readpolicy"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// delayedTarget deploys the cluster, then makes one standby replay
// commits late (applyDelay): the run's replication lag is real, reported
// by PostgreSQL, and on one replica only.
type delayedTarget struct {
	*Target
	node  string
	delay time.Duration
	t     *testing.T
}

func (dt *delayedTarget) Deploy(ctx context.Context) (targets.Deployment, error) {
	dep, err := dt.Target.Deploy(ctx)
	if err != nil {
		return nil, err
	}
	applyDelay(dt.t, ctx, dep.(*Deployment), dt.node, dt.delay)
	return dep, nil
}

// policyRun is one run of the read-policy scenario and what the test
// reads of it.
type policyRun struct {
	out      *runner.Outcome
	h        *history.History
	session  checkers.Result
	maxLag   map[string]int64 // node -> max sampled LagNS
	samples  int
	routes   map[string]int64 // ok reads by Extra route ("" without)
	byNode   map[string]int64 // ok reads by serving node
	maxRead  int64            // the longest ok read
	interval time.Duration
}

// runPolicy runs ryw (a write, then two reads, per client: a third of
// the operations are writes, and every read is checked for
// read-your-writes and monotonic reads) with reads from replicas, n3
// replaying 300 ms late, lag sampled every 100 ms; maxLag > 0 turns the
// policy on.
func runPolicy(t *testing.T, maxLag time.Duration) policyRun {
	t.Helper()
	tg, err := New(newConfig(t, Config{ReadFrom: Replica, MaxReplicaLag: maxLag, Seed: 7}))
	if err != nil {
		t.Fatal(err)
	}
	w, err := workloads.New("ryw", workloads.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const interval = 100 * time.Millisecond
	start := time.Now()
	out, err := runner.Run(ctx, runner.Config{
		Name: "pg-lag", StoreRoot: t.TempDir(), Target: &delayedTarget{Target: tg, node: "n3", delay: 300 * time.Millisecond, t: t},
		Workloads: []workloads.Workload{w}, Concurrency: 10, Rate: 1000, TimeLimit: 6 * time.Second,
		RecoveryTime: time.Second, CheckTimeLimit: 30 * time.Second, Seed: 7, DeployTimeout: time.Minute,
		LagInterval: interval,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("run with max replica lag %v: %v", maxLag, time.Since(start).Round(time.Millisecond))
	pr := policyRun{out: out, maxLag: map[string]int64{}, routes: map[string]int64{}, byNode: map[string]int64{}, interval: interval}
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
	for _, op := range pr.h.Ops {
		if !op.IsClient() || op.F != "read" {
			continue
		}
		if op.Type == history.Invoke {
			inv[op.Process] = op.Time
			continue
		}
		if op.Type == history.OK {
			pr.routes[op.Extra[readpolicy.RouteKey]]++
			pr.byNode[op.Node]++
			pr.maxRead = max(pr.maxRead, op.Time-inv[op.Process])
		}
	}
	st := pr.session.Staleness
	var maxStale int64
	for _, s := range st.NS {
		maxStale = max(maxStale, s)
	}
	t.Logf("  %d lag samples, max lag by node %v; session %s %v; %d stale reads, max staleness %v; ok reads by node %v, by route %v; longest read %v",
		pr.samples, durations(pr.maxLag), pr.session.Verdict, pr.session.AnomalyCounts, len(st.NS), time.Duration(maxStale), pr.byNode, pr.routes, time.Duration(pr.maxRead))
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

// TestReadPolicyBoundsStaleness is the read policy's proof on real
// PostgreSQL. Replication lag is made real by recovery_min_apply_delay =
// 300ms on n3 (n2 streams as fast as the machine lets it; see
// applyDelay): nothing is faked, PostgreSQL reports the lag itself.
//
//   - --read-from replica alone: the lag is sampled (lag.jsonl has n3
//     near 300 ms), stale reads are found, and some are older than
//     10 ms + one sampling interval (the reads n3 served): the bound
//     below is not met by chance.
//   - with --max-replica-lag 10ms: no stale read is older than the
//     bound plus one sampling interval plus the read's own duration
//     (the policy's promise, see package readpolicy: the staleness is
//     measured from the missed write's completion to the read's), every
//     read carries its route, and the share of reads sent back to the
//     primary is reported.
//
// Two runs of 6 s plus deploys: about 40 s.
func TestReadPolicyBoundsStaleness(t *testing.T) {
	requireEnv(t)
	const bound = 10 * time.Millisecond

	free := runPolicy(t, 0)
	if free.samples == 0 || free.maxLag["n3"] < int64(200*time.Millisecond) {
		t.Errorf("without the policy: %d samples, max lag %s: want n3 sampled near its 300 ms apply delay", free.samples, durations(free.maxLag))
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
	if len(free.routes) != 1 || free.routes[""] == 0 {
		t.Errorf("without the policy reads carry a route: %v", free.routes)
	}
	t.Logf("without the policy: %d of %d stale reads older than %v", over, len(st.NS), bound+free.interval)

	bounded := runPolicy(t, bound)
	if bounded.samples == 0 || bounded.maxLag["n3"] < int64(200*time.Millisecond) {
		t.Errorf("with the policy: %d samples, max lag %s", bounded.samples, durations(bounded.maxLag))
	}
	limit := int64(bound + bounded.interval)
	// Each stale read the checker kept as a witness, with its own
	// duration...
	inv := map[int]int64{}
	for _, op := range bounded.h.Ops {
		if op.IsClient() && op.Type == history.Invoke {
			inv[op.Index] = op.Time
		}
	}
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
	// ...and every stale read, witness or not, with the longest read.
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
	if bounded.routes[string(readpolicy.ToReplica)] == 0 || toPrimary == 0 {
		t.Errorf("routes %v: want reads on replicas and reads sent back to the primary", bounded.routes)
	}
	// n3 is 300 ms behind from its first writes on: it serves only the
	// reads of the first rounds.
	if free.byNode["n3"] > 0 && bounded.byNode["n3"]*10 > free.byNode["n3"] {
		t.Errorf("n3 served %d reads with the policy, %d without", bounded.byNode["n3"], free.byNode["n3"])
	}
	t.Logf("with --max-replica-lag %v: %d witnesses checked, %.1f%% of %d reads went back to the primary (%v)", bound, witnesses, 100*float64(toPrimary)/float64(max(reads, 1)), reads, bounded.routes)
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
