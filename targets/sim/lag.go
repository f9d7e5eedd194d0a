package sim

import (
	"context"
	"time"

	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/targets"
)

// The sim's replication lag is the age of each replica's replication
// queue: every write a coordinator applies is owed to every other
// replica (synchronously to W-1 of them, ReplicationLag later to the
// rest, or as a hint, or never when it is dropped), and a replica is
// behind from the moment the coordinator applied the write until it has
// applied it, or a write that covers it (a newer register value, by last
// write wins; a set that holds the element). A write dropped by a
// partition and never handed off stays owed until something covers it:
// read repair, or a later write of the key.
//
// What is not counted: the writes a killed node forgets
// (LoseUnflushedOnKill) after it had applied them.

// maxOwedPerKey bounds the owed writes kept per replica and key: past it
// the newest owed write is merged into the one before, which keeps the
// older time, so the lag may then be overstated by the time between the
// two until both are applied. It happens only when a replica misses many
// writes of one key (a long partition).
const maxOwedPerKey = 64

// owedWrite is a write applied elsewhere that a node has not applied.
type owedWrite struct {
	since  time.Time // when the coordinator applied it
	delta  *record
	writes int64 // writes merged into delta
}

// owe records that delta, applied by a coordinator at since, is owed to
// n for key, unless n already has it.
func (n *node) owe(key string, delta *record, since time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if cur := n.data[key]; cur != nil && cur.covers(delta) {
		return
	}
	if n.owed == nil {
		n.owed = make(map[string][]owedWrite)
	}
	ws := n.owed[key]
	if len(ws) >= maxOwedPerKey {
		last := &ws[len(ws)-1]
		merged := last.delta.clone()
		merged.merge(delta)
		last.delta = merged
		last.writes++
		return
	}
	n.owed[key] = append(ws, owedWrite{since: since, delta: delta, writes: 1})
}

// paidLocked drops the owed writes of key that cur now covers.
func (n *node) paidLocked(key string, cur *record) {
	ws := n.owed[key]
	if len(ws) == 0 {
		return
	}
	kept := ws[:0]
	for _, w := range ws {
		if !cur.covers(w.delta) {
			kept = append(kept, w)
		}
	}
	clear(ws[len(kept):])
	if len(kept) == 0 {
		delete(n.owed, key)
		return
	}
	n.owed[key] = kept
}

// behind returns the time of the oldest write n owes (zero when none) and
// how many writes it owes.
func (n *node) behind() (oldest time.Time, writes int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ws := range n.owed {
		for _, w := range ws {
			if oldest.IsZero() || w.since.Before(oldest) {
				oldest = w.since
			}
			writes += w.writes
		}
	}
	return oldest, writes
}

var _ targets.LagSampler = (*Deployment)(nil)

// SampleLag gives every node's lag (targets.LagSampler): LagNS is the age
// of the oldest write the node has not applied (0 when it owes none) and
// Entries the number of writes it owes. The sim is leaderless: a node
// lags behind the coordinators of the writes it misses, so Of is empty.
// A killed node is still sampled, from the outside: the writes it owes
// keep ageing.
func (d *Deployment) SampleLag(ctx context.Context) ([]lag.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]lag.Sample, len(d.cluster.nodes))
	for i, n := range d.cluster.nodes {
		oldest, writes := n.behind()
		var ns int64
		if !oldest.IsZero() {
			ns = int64(now.Sub(oldest))
		}
		out[i] = lag.Sample{Node: n.name, LagNS: lag.Int64(ns), Entries: lag.Int64(writes)}
	}
	return out, nil
}
