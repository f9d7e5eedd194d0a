package readpolicy

import "time"

// RingSize is the number of rounds a Ring keeps: 1024 rounds, 102 s at
// the default 100 ms interval. A replica further behind than the oldest
// round gets a lower bound only (see Ring.Behind).
const RingSize = 1024

// Ring is the primary's position (WAL LSN, replication offset) at the
// last RingSize sampling rounds, in constant memory. It is used by one
// sampler goroutine at a time (the caller locks).
type Ring struct {
	t    [RingSize]time.Time
	pos  [RingSize]int64
	next int // where the next entry goes
	n    int // entries held
}

// Add records that the primary was at pos at time t. Positions only grow
// on one primary; a smaller one (a new primary, a restarted one without
// persistence) drops the history first, as it does not compare.
func (r *Ring) Add(t time.Time, pos int64) {
	if r.n > 0 && pos < r.pos[r.idx(r.n-1)] {
		r.Reset()
	}
	r.t[r.next], r.pos[r.next] = t, pos
	r.next = (r.next + 1) % RingSize
	if r.n < RingSize {
		r.n++
	}
}

// Reset forgets every entry (the primary changed).
func (r *Ring) Reset() { r.next, r.n = 0, 0 }

// Len returns the number of entries held.
func (r *Ring) Len() int { return r.n }

// idx is the array index of the i-th oldest entry.
func (r *Ring) idx(i int) int { return (r.next - r.n + i + RingSize) % RingSize }

// Behind bounds, at time now, the time lag of a replica at position pos:
//
//   - upper: now minus the time of the latest entry whose position is at
//     most pos (an entry is stamped before the primary was asked, so the
//     replica has everything the primary had then); hasUpper is false
//     when no entry is at most pos (the replica is behind the oldest
//     round held, or the ring is empty);
//   - lower: now minus the time of the oldest entry whose position
//     exceeds pos (the primary then had something the replica lacks);
//     0 when no entry exceeds pos.
//
// Both have the resolution of the gap between rounds.
func (r *Ring) Behind(pos int64, now time.Time) (lower, upper time.Duration, hasUpper bool) {
	// Positions grow along the ring: binary search for the first entry
	// whose position exceeds pos.
	lo, hi := 0, r.n
	for lo < hi {
		m := (lo + hi) / 2
		if r.pos[r.idx(m)] > pos {
			hi = m
		} else {
			lo = m + 1
		}
	}
	if lo < r.n {
		lower = max(0, now.Sub(r.t[r.idx(lo)]))
	}
	if lo > 0 {
		return lower, max(0, now.Sub(r.t[r.idx(lo-1)])), true
	}
	return lower, 0, false
}
