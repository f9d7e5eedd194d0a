// Package readpolicy is what the PostgreSQL and Redis targets share to
// act on replication lag (--read-from replica --max-replica-lag D):
//
//   - Ring, the primary's positions (WAL LSN, replication offset) over
//     the last sampling rounds, from which a replica's time lag is
//     derived when the database reports only a position (lag.Sample
//     Derived);
//   - Policy, the deployment's latest lag samples, stored with one
//     atomic pointer so that a read never waits for the sampler, and the
//     choice of the node that serves a read, with the reason (recorded in
//     the history: op Extra["route"]).
//
// # The policy
//
// A read goes to a replica only while that replica's last sampled lag
// (lag.Sample.LagNS) is below D and the sample is fresh; otherwise it
// goes to the primary. Among the replicas that qualify, one is picked at
// random.
//
// Fresh means: not older than one sampling interval, where the interval
// is the smaller of the last two gaps between sampling rounds as the
// deployment saw them (the runner's --lag-interval, measured, so that a
// target needs no flag of the runner's). One interval, not a few,
// because of what the policy promises: a read served by a replica at
// time r on a sample taken (sent) at s, with lag L < D, misses at most
// what the replica lacked at s plus what it failed to apply since, so it
// is stale by less than L + (r - s) + the read's own duration, and with
// r - s <= one interval that is below D + one interval + the read's
// duration. A sample older than that could hide a replica that stopped
// right after it. The price: between the moment a sample expires and the
// next round's answer (the round's own latency plus the ticker's
// jitter, about 1% of an interval on an idle machine), reads go to the
// primary, with the reason "no fresh sample".
//
// A sample with Err, or without LagNS, never qualifies. Nothing is ever
// read from a replica before two rounds have been sampled (the interval
// is unknown until then).
package readpolicy

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/measures"
)

// RouteKey is the history op Extra key that says why a read went to the
// node that served it (op Node), with --max-replica-lag; the
// measurements count the reads by it (measures.ReadRoutes), so each
// Reason starts with the kind of node that served the read.
const RouteKey = measures.RouteKey

// Reason is why a read went where it went.
type Reason string

const (
	// ToReplica: the replica's last sample was fresh and its lag below
	// the bound.
	ToReplica Reason = "replica: fresh lag below bound"
	// OverBound: a fresh sample of every live replica said its lag was at
	// or above the bound (or had no lag figure, or an error), so the read
	// went to the primary.
	OverBound Reason = "primary: replica lag at or over bound"
	// NoFreshSample: no live replica had a fresh sample (none yet, the
	// sampler is late or stopped), so the read went to the primary.
	NoFreshSample Reason = "primary: no fresh lag sample"
	// NoLiveReplica: no replica was live.
	NoLiveReplica Reason = "primary: no live replica"
)

// Reasons are every Reason, in order.
var Reasons = []Reason{ToReplica, OverBound, NoFreshSample, NoLiveReplica}

// Policy holds a deployment's latest lag samples and picks the node of
// each read. Record is called by the sampler (one goroutine; it is safe
// for more), Choose by any number of clients at once without a lock.
type Policy struct {
	max time.Duration

	latest atomic.Pointer[snapshot]

	mu   sync.Mutex // Record
	prev time.Time  // when the previous round was taken
	gaps [2]time.Duration

	extras map[Reason]map[string]string // immutable after New
}

// snapshot is one sampling round as the policy uses it.
type snapshot struct {
	at    time.Time        // when the round was taken (its query sent)
	fresh time.Duration    // how long it is trusted; 0: not at all
	lag   map[string]int64 // replica -> LagNS, only replicas with a usable figure
}

// New returns a policy with bound max (> 0).
func New(max time.Duration) *Policy {
	p := &Policy{max: max, extras: map[Reason]map[string]string{}}
	for _, r := range Reasons {
		p.extras[r] = map[string]string{RouteKey: string(r)}
	}
	return p
}

// Max returns the bound.
func (p *Policy) Max() time.Duration { return p.max }

// Record stores one sampling round's samples, taken at at (the local
// time its query was sent, so that the sample's age counts the query's
// latency).
func (p *Policy) Record(at time.Time, samples []lag.Sample) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var fresh time.Duration
	if !p.prev.IsZero() && at.After(p.prev) {
		p.gaps[0], p.gaps[1] = p.gaps[1], at.Sub(p.prev)
		fresh = p.gaps[1]
		if p.gaps[0] > 0 {
			fresh = min(p.gaps[0], p.gaps[1])
		}
	}
	if at.After(p.prev) {
		p.prev = at
	}
	s := &snapshot{at: at, fresh: fresh, lag: make(map[string]int64, len(samples))}
	for _, sm := range samples {
		if sm.Err == "" && sm.LagNS != nil {
			s.lag[sm.Node] = *sm.LagNS
		}
	}
	p.latest.Store(s)
}

// Choose picks the node of a read at now among the live replicas: a
// replica whose last sample is fresh and below the bound, at random, or
// "" (the primary), with the reason.
func (p *Policy) Choose(now time.Time, live []string, rng *rand.Rand) (string, Reason) {
	if len(live) == 0 {
		return "", NoLiveReplica
	}
	s := p.latest.Load()
	if s == nil || s.fresh <= 0 || now.Sub(s.at) > s.fresh {
		return "", NoFreshSample
	}
	var ok [16]string
	cand := ok[:0]
	for _, n := range live {
		if l, found := s.lag[n]; found && l >= 0 && l < p.max.Nanoseconds() {
			cand = append(cand, n)
		}
	}
	if len(cand) == 0 {
		return "", OverBound
	}
	return cand[rng.IntN(len(cand))], ToReplica
}

// Extra returns the history op Extra of reason: one immutable map per
// reason and policy, shared by every op (the history writer copies what
// it keeps).
func (p *Policy) Extra(r Reason) map[string]string { return p.extras[r] }
