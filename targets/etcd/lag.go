//go:build linux

package etcd

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/targets"
)

// maxLeaderHistory bounds the leader positions kept to derive the time
// lag (at one a round of 100 ms, 27 minutes).
const maxLeaderHistory = 1 << 14

// lagSampler asks every member for its status (the maintenance Status
// API) in one round: its raft applied index, and the leader it knows.
type lagSampler struct {
	mu      sync.Mutex
	clients map[string]*clientv3.Client // member -> a client on it alone
	ids     map[uint64]string           // raft member id -> node
	// history is the leader's applied index over time (increasing), to
	// derive a time lag from a follower's position.
	history []leaderPos
}

type leaderPos struct {
	at      time.Time
	applied uint64
}

var _ targets.LagSampler = (*Deployment)(nil)

// SampleLag gives every member's lag behind the leader
// (targets.LagSampler). Entries is the leader's raft applied index minus
// the member's, both from the maintenance Status API, asked of every
// member at once; 0 when the member's answer is as far as the leader's
// or farther (they are asked at slightly different instants). The leader
// is the one named by the member of the highest term; its own sample has
// Entries 0 and no Of.
//
// LagNS is derived (Derived): the member is at the position the leader
// had applied at the earliest sampling round that reached it, and its lag
// is the time since that round. It has the sampling interval's
// resolution, and it is a lower bound: the leader may have reached the
// position at any time after the round before. It is absent when the
// position is older than the first round kept.
//
// A member that does not answer within ctx gets a sample with Err; so do
// all members when no leader is known or the leader does not answer.
func (d *Deployment) SampleLag(ctx context.Context) ([]lag.Sample, error) {
	s := &d.lag
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clients == nil {
		s.clients = map[string]*clientv3.Client{}
		s.ids = map[uint64]string{}
	}
	type answer struct {
		st  *clientv3.StatusResponse
		err error
	}
	answers := make([]answer, len(d.nodes))
	var wg sync.WaitGroup
	for i, n := range d.nodes {
		cli := s.clients[n]
		if cli == nil {
			var err error
			if cli, err = newClient([]string{d.endpoints[n]}); err != nil {
				answers[i].err = err
				continue
			}
			s.clients[n] = cli
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i].st, answers[i].err = cli.Status(ctx, d.endpoints[n])
		}()
	}
	wg.Wait()
	now := time.Now()

	var term, leaderID uint64
	for i, a := range answers {
		if a.err != nil {
			continue
		}
		s.ids[a.st.Header.MemberId] = d.nodes[i]
		if a.st.RaftTerm > term || (a.st.RaftTerm == term && leaderID == 0) {
			term, leaderID = a.st.RaftTerm, a.st.Leader
		}
	}
	leader := s.ids[leaderID]
	var ref *clientv3.StatusResponse
	var refErr string
	for i, a := range answers {
		if d.nodes[i] == leader && leader != "" {
			if a.err != nil {
				refErr = fmt.Sprintf("the leader %s did not answer: %v", leader, a.err)
			} else {
				ref = a.st
			}
		}
	}
	switch {
	case leaderID == 0:
		refErr = "no member knows a leader"
	case leader == "":
		refErr = fmt.Sprintf("the leader (member %x) is not one of the members that answered", leaderID)
	}
	if ref != nil {
		s.remember(now, ref.RaftAppliedIndex)
	}
	out := make([]lag.Sample, len(d.nodes))
	for i, a := range answers {
		smp := lag.Sample{Node: d.nodes[i], Of: leader}
		if d.nodes[i] == leader {
			smp.Of = "" // the leader lags behind no one
		}
		switch {
		case a.err != nil:
			smp.Err = a.err.Error()
		case ref == nil:
			smp.Err = refErr
		default:
			behind := int64(0)
			if ref.RaftAppliedIndex > a.st.RaftAppliedIndex {
				behind = int64(ref.RaftAppliedIndex - a.st.RaftAppliedIndex)
			}
			smp.Entries = lag.Int64(behind)
			if ns, ok := s.timeBehind(now, a.st.RaftAppliedIndex, ref.RaftAppliedIndex); ok {
				smp.LagNS, smp.Derived = lag.Int64(ns), true
			}
		}
		out[i] = smp
	}
	return out, nil
}

// remember adds the leader's applied index at now to the history.
func (s *lagSampler) remember(now time.Time, applied uint64) {
	if n := len(s.history); n > 0 && s.history[n-1].applied >= applied {
		return
	}
	if len(s.history) >= maxLeaderHistory {
		s.history = append(s.history[:0], s.history[len(s.history)/2:]...)
	}
	s.history = append(s.history, leaderPos{at: now, applied: applied})
}

// timeBehind is the derived lag of a member at applied when the leader
// is at ref: the time since the earliest remembered round at which the
// leader had applied that far.
func (s *lagSampler) timeBehind(now time.Time, applied, ref uint64) (int64, bool) {
	if applied >= ref {
		return 0, true
	}
	i := sort.Search(len(s.history), func(i int) bool { return s.history[i].applied >= applied })
	if i == len(s.history) || (i == 0 && s.history[0].applied > applied) {
		return 0, false // older than what is remembered
	}
	return int64(now.Sub(s.history[i].at)), true
}

// closeLag closes the sampler's clients.
func (d *Deployment) closeLag() {
	d.lag.mu.Lock()
	defer d.lag.mu.Unlock()
	for _, c := range d.lag.clients {
		_ = c.Close()
	}
	d.lag.clients = nil
}
