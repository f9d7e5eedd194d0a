//go:build linux

package cassandra

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/targets"
)

// Replication lag, as Cassandra 5.0 reports it without JMX: each node's
// virtual table system_views.pending_hints lists, per node it holds hints
// for, the hint files queued for dispatch (files) and the timestamps of
// the oldest and newest. A node lags while hints for it are pending anywhere: its
// sample adds up the files the others hold for it (HintFiles) and gives
// the age of the oldest (LagNS: the holder's clock now minus the file's
// stamp, both read from the holder in one round, so a skewed holder
// clock cancels out).
//
// What this source does not see, and why the figure is weak:
//
//   - Cassandra lists a hint file only once it is closed. While the
//     target is down its hints go to an open file (flushed from memory
//     every hints_flush_period, 10 s); the file is closed, and listed,
//     when the dispatch trigger (every 10 s) sees the target up again,
//     or when it reaches max_hints_file_size. The figure therefore rises
//     after a node comes back, while its hints are replayed, not during
//     the outage.
//   - A file is stamped when it is created, at the first flush of the
//     hints buffered for it (every hints_flush_period, 10 s), so the age
//     may be up to that much younger than the oldest hint in it. In the
//     integration test, a file for a node killed 86 s earlier (and
//     restarted, which takes a JVM start) was 78 s old.
//   - It counts files, not hints: no virtual table gives the number of
//     hints (the StorageMetrics TotalHints and HintsService metrics are
//     JMX only). Hints stays nil.
//   - A write that produced no hint (hinted handoff off, a node down for
//     longer than max_hint_window, a dropped mutation) is missed until a
//     repair, and is not counted.
//   - The digest-mismatch and read-repair rates are JMX metrics
//     (ReadRepair), not in any 5.0 virtual table: not sampled.
//   - The hints a node holds while it does not answer are not counted
//     (they cannot be replayed before it is up either).
//
// nodetool (listpendinghints, tpstats) would give the same figures and
// more, but starts a JVM per call (seconds): far too slow for a 100 ms
// period. The CQL query is cheap (a local virtual table, a millisecond),
// so Cassandra is sampled at the runner's interval.
type lagSampler struct {
	mu       sync.Mutex
	sessions map[string]*gocql.Session // node -> a session to it alone
}

var (
	_ targets.LagSampler = (*Deployment)(nil)
	_ targets.LagSampler = (*view)(nil)
)

// holderAnswer is what one node said about the hints it holds.
type holderAnswer struct {
	hostID string
	now    int64 // the node's clock, ms since the epoch
	hints  []pendingHints
	err    error
}

type pendingHints struct {
	target string // host id
	files  int64
	oldest int64 // ms since the epoch, on the holder's clock
}

// SampleLag gives every node's pending hints (targets.LagSampler); see
// lagSampler for what the figures mean and miss.
func (d *Deployment) SampleLag(ctx context.Context) ([]lag.Sample, error) {
	nodes := d.lc.Nodes()
	answers := make([]holderAnswer, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = d.askHints(ctx, n)
		}()
	}
	wg.Wait()
	byHost := map[string]string{}
	answered := 0
	for i, a := range answers {
		if a.err == nil {
			byHost[a.hostID] = nodes[i]
			answered++
		}
	}
	if answered == 0 {
		return nil, fmt.Errorf("cassandra: pending hints: no node answered: %w", answers[0].err)
	}
	files := map[string]int64{}
	age := map[string]int64{}
	var unknown []string
	for _, a := range answers {
		for _, h := range a.hints {
			t, ok := byHost[h.target]
			if !ok {
				unknown = append(unknown, h.target)
				continue
			}
			files[t] += h.files
			if ms := a.now - h.oldest; ms > 0 {
				age[t] = max(age[t], ms*int64(time.Millisecond))
			} else {
				age[t] = max(age[t], 0)
			}
		}
	}
	out := make([]lag.Sample, len(nodes))
	for i, n := range nodes {
		s := lag.Sample{Node: n, HintFiles: lag.Int64(files[n]), LagNS: lag.Int64(age[n])}
		if len(unknown) > 0 && answers[i].err != nil {
			// A node that did not answer has no host id here: hints for
			// an unknown host may be for it.
			s = lag.Sample{Node: n, Err: fmt.Sprintf("hints are pending for host ids %v, and %s, whose host id is not known yet, did not answer: %v", unknown, n, answers[i].err)}
		}
		out[i] = s
	}
	return out, nil
}

// askHints asks node for its clock, its host id and the hints it holds.
func (d *Deployment) askHints(ctx context.Context, node string) holderAnswer {
	s, err := d.lagSession(ctx, node)
	if err != nil {
		return holderAnswer{err: err}
	}
	var a holderAnswer
	var id gocql.UUID
	var now int64
	if err := s.Query("SELECT host_id, toUnixTimestamp(now()) FROM system.local").WithContext(ctx).Consistency(gocql.One).Scan(&id, &now); err != nil {
		d.dropLagSession(node, s)
		return holderAnswer{err: fmt.Errorf("cassandra: %s: %w", node, err)}
	}
	a.hostID, a.now = id.String(), now
	iter := s.Query("SELECT host_id, files, oldest FROM system_views.pending_hints").WithContext(ctx).Consistency(gocql.One).Iter()
	var target gocql.UUID
	var n int
	var oldest time.Time
	for iter.Scan(&target, &n, &oldest) {
		a.hints = append(a.hints, pendingHints{target: target.String(), files: int64(n), oldest: oldest.UnixMilli()})
	}
	if err := iter.Close(); err != nil {
		d.dropLagSession(node, s)
		return holderAnswer{err: fmt.Errorf("cassandra: %s: pending_hints: %w", node, err)}
	}
	return a
}

// lagSession returns the sampler's session to node, opening it within
// ctx.
func (d *Deployment) lagSession(ctx context.Context, node string) (*gocql.Session, error) {
	d.lag.mu.Lock()
	s := d.lag.sessions[node]
	d.lag.mu.Unlock()
	if s != nil {
		return s, nil
	}
	host := d.lc.Addr(node).String()
	c := gocql.NewCluster(host)
	c.HostFilter = gocql.WhiteListHostFilter(host)
	c.ConnectTimeout = time.Second
	c.Timeout = time.Second
	c.NumConns = 1
	c.RetryPolicy = nil
	c.DisableInitialHostLookup = true
	c.Logger = nopLogger{}
	s, err := createSession(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("cassandra: lag session to %s: %w", node, err)
	}
	d.lag.mu.Lock()
	defer d.lag.mu.Unlock()
	if d.lag.sessions == nil {
		d.lag.sessions = map[string]*gocql.Session{}
	}
	if old := d.lag.sessions[node]; old != nil {
		s.Close()
		return old, nil
	}
	d.lag.sessions[node] = s
	return s, nil
}

// dropLagSession closes a session that failed, so that the next round
// opens a new one (to a restarted node).
func (d *Deployment) dropLagSession(node string, s *gocql.Session) {
	d.lag.mu.Lock()
	if d.lag.sessions[node] == s {
		delete(d.lag.sessions, node)
	}
	d.lag.mu.Unlock()
	s.Close()
}

// closeLag closes the sampler's sessions.
func (d *Deployment) closeLag() {
	d.lag.mu.Lock()
	defer d.lag.mu.Unlock()
	for _, s := range d.lag.sessions {
		s.Close()
	}
	d.lag.sessions = nil
}

// SampleLag is the deployment's (targets.LagSampler).
func (v *view) SampleLag(ctx context.Context) ([]lag.Sample, error) { return v.d.SampleLag(ctx) }
