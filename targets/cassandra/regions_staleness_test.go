//go:build linux

package cassandra

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/measures"
)

// crossRegionRounds is how many write-then-read rounds
// testCrossRegionStaleness runs per consistency level.
const crossRegionRounds = 30

// crossRegionSession is one session whose writes go through a client of
// region r1 and whose reads go through a client of region r2 (a user
// routed to another region between two requests), at consistency level
// cl both ways: each round writes a new value to one of 3 keys, and as
// soon as it is acknowledged reads the key back in the other region. The
// operations are recorded as one process's, on the controller's clock,
// and checked by the session checker; measurements are computed from
// the history and the result, as a run's are.
func crossRegionSession(t *testing.T, ctx context.Context, d *Deployment, cl string) (checkers.Result, measures.Measurements) {
	t.Helper()
	o := ClientOptions{ReadCL: cl, WriteCL: cl, KeyPrefix: "xdc-" + cl + "-"}
	w, err := d.NewClientWith(ctx, 0, o)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := d.NewClientWith(ctx, 1, o)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if hw, hr := dcName(d.cfg.homeRegion(0)), dcName(d.cfg.homeRegion(1)); hw == hr {
		t.Fatalf("writer and reader both in %s", hw)
	}
	var h history.History
	t0 := time.Now()
	var proc history.Process // a new session after an operation of unknown outcome, as a run does
	rec := func(op history.Op) {
		op.Index, op.Time, op.Process = len(h.Ops), time.Since(t0).Nanoseconds(), proc
		h.Ops = append(h.Ops, op)
	}
	// A request that times out (seen in CI: a QUORUM write with 0 of 3
	// acks on a loaded machine) is recorded info and its session ends;
	// the test needs two thirds of the rounds to complete.
	var failed []string
	unknown := func(op history.Op, err error) {
		op.Type, op.Error = history.Info, err.Error()
		rec(op)
		proc++
		failed = append(failed, err.Error())
		if len(failed) > crossRegionRounds/3 {
			t.Fatalf("%s across datacenters: %d of %d rounds failed: %v", cl, len(failed), crossRegionRounds, failed)
		}
	}
	for i := range crossRegionRounds {
		key := fmt.Sprintf("k%d", i%3)
		v := int64(i + 1)
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rec(history.Op{Type: history.Invoke, F: "write", Key: key, Value: history.Int(v)})
		err := w.Write(octx, key, v)
		if err != nil {
			cancel()
			unknown(history.Op{F: "write", Key: key, Value: history.Int(v)}, fmt.Errorf("write in r1: %w", err))
			continue
		}
		rec(history.Op{Type: history.OK, F: "write", Key: key, Value: history.Int(v), Node: w.LastNode()})
		rec(history.Op{Type: history.Invoke, F: "read", Key: key, Value: history.Nil()})
		got, found, err := r.Read(octx, key)
		cancel()
		if err != nil {
			unknown(history.Op{F: "read", Key: key, Value: history.Nil()}, fmt.Errorf("read in r2: %w", err))
			continue
		}
		val := history.Nil()
		if found {
			val = history.Int(got)
		}
		rec(history.Op{Type: history.OK, F: "read", Key: key, Value: val, Node: r.LastNode()})
		if d.Regions()[w.LastNode()] != "r1" || d.Regions()[r.LastNode()] != "r2" {
			t.Fatalf("write served by %s, read by %s: want r1 and r2", w.LastNode(), r.LastNode())
		}
	}
	if len(failed) > 0 {
		t.Logf("%s across datacenters: %d rounds of %d failed (recorded info): %v", cl, len(failed), crossRegionRounds, failed)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	res := checkers.Session{}.Check(ctx, &h)
	m, err := measures.Compute(&h, []checkers.Result{res}, measures.Options{Regions: d.Regions()})
	if err != nil {
		t.Fatal(err)
	}
	return res, m
}

// testCrossRegionStaleness (issue 14): LOCAL_QUORUM writes in r1, read at
// LOCAL_QUORUM in r2 right after they are acknowledged, miss them: the
// session checker proves read-your-writes violations, and the
// measurements give their staleness distribution. QUORUM both ways (3
// of the 4 replicas: the read quorum in r2 overlaps the write quorum)
// shows none.
func testCrossRegionStaleness(t *testing.T, ctx context.Context, d *Deployment) {
	lres, lm := crossRegionSession(t, ctx, d, "LOCAL_QUORUM")
	stale := lres.AnomalyCounts[checkers.KindReadYourWrites] + lres.AnomalyCounts[checkers.KindReadYourWritesRealtime]
	st := lm.WitnessStaleness // the staleness of the checker's witnesses
	if st == nil {
		t.Fatalf("LOCAL_QUORUM across datacenters: no staleness measured (session checker %s, %v; %s)", lres.Verdict, lres.AnomalyCounts, lres.Reason)
	}
	t.Logf("LOCAL_QUORUM write in r1, read in r2: session checker %s, %d of %d reads stale %v; staleness p50 %v p90 %v max %v (of %s)",
		lres.Verdict, stale, crossRegionRounds, lres.AnomalyCounts, time.Duration(st.P50NS), time.Duration(st.P90NS), time.Duration(st.MaxNS), st.Of)
	if rs := lm.Staleness; rs != nil {
		t.Logf("staleness over every read: %d of %d stale, p50 %v p99 %v max %v", rs.Stale, rs.Reads, time.Duration(rs.P50NS), time.Duration(rs.P99NS), time.Duration(rs.MaxNS))
	}
	if lres.Verdict != checkers.Invalid || stale == 0 {
		t.Errorf("LOCAL_QUORUM across datacenters: verdict %s, %d stale reads: want read-your-writes violations", lres.Verdict, stale)
	}
	if st.Count < stale || st.P50NS <= 0 || st.MaxNS < st.P50NS {
		t.Errorf("staleness %+v: want at least the %d reads that missed their session's write, p50 > 0 and max >= p50", st, stale)
	}
	qres, qm := crossRegionSession(t, ctx, d, "QUORUM")
	t.Logf("QUORUM write in r1, read in r2: session checker %s %v (latency: write p50 %v, read p50 %v)", qres.Verdict, qres.AnomalyCounts,
		time.Duration(qm.Latency.Write.P50NS), time.Duration(qm.Latency.Read.P50NS))
	if qres.Verdict != checkers.Valid || len(qres.AnomalyCounts) != 0 || qm.WitnessStaleness != nil || qm.Staleness == nil || qm.Staleness.Stale != 0 {
		t.Errorf("QUORUM across datacenters: verdict %s, anomalies %v, staleness %+v, witness staleness %+v: want valid, no stale read", qres.Verdict, qres.AnomalyCounts, qm.Staleness, qm.WitnessStaleness)
	}
}
