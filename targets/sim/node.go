package sim

import (
	"sync"
	"time"
)

// node is one simulated database process with its storage.
//
// A node is up or killed, and an up node may be paused. Its life counts
// its kills: work a node began (a coordination, a reply) carries the life
// it began in, and is dropped if the node has been killed since, so a
// request cannot outlive the crash of the process that was serving it.
type node struct {
	name  string
	index int // position on the ring, 0-based

	loseUnflushed bool
	flushInterval time.Duration

	mu     sync.Mutex
	up     bool
	paused bool
	life   uint64
	offset time.Duration // clock skew: the node's clock is real time + offset

	data map[string]*record // what the node serves

	// Durability, only tracked when loseUnflushed: durable is what
	// survives a kill, unflushed the writes applied since the last flush,
	// oldest first. Flushes happen every flushInterval from flushBase (the
	// node's start); they are computed lazily, not run by a goroutine.
	durable   map[string]*record
	unflushed []unflushedWrite
	flushBase time.Time

	held  []func() // messages in and out, held while paused
	hints []hint   // writes this node coordinated for replicas it saw down

	owed map[string][]owedWrite // writes applied elsewhere, not here yet (lag.go)
}

type unflushedWrite struct {
	at    time.Time
	key   string
	delta *record
}

// hint is a write kept for a replica that was down (hinted handoff).
type hint struct {
	target string
	key    string
	delta  *record
}

func newNode(name string, index int, cfg Config, now time.Time) *node {
	return &node{
		name:          name,
		index:         index,
		loseUnflushed: cfg.LoseUnflushedOnKill,
		flushInterval: cfg.FlushInterval,
		up:            true,
		data:          make(map[string]*record),
		durable:       make(map[string]*record),
		flushBase:     now,
	}
}

// canSend reports whether the node, in the given life, may send a message
// now. A paused node keeps retry and runs it when resumed.
func (n *node) canSend(life uint64, retry func()) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.up || n.life != life {
		return false
	}
	if n.paused {
		n.held = append(n.held, retry)
		return false
	}
	return true
}

// receive reports whether the node handles a message arriving now, and in
// which life. A paused node keeps retry and runs it when resumed.
func (n *node) receive(retry func()) (life uint64, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.up {
		return 0, false
	}
	if n.paused {
		n.held = append(n.held, retry)
		return 0, false
	}
	return n.life, true
}

// isUp reports whether the process is running (paused counts as running:
// nothing outside it can tell a paused process from a slow one).
func (n *node) isUp() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.up
}

// currentLife returns the node's life and whether it is up.
func (n *node) currentLife() (uint64, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.life, n.up
}

// update applies to key, in the given life, the delta that mk builds from
// the node's current record (never nil; mk must not keep it) and the
// node's clock. It returns the delta, or false when the node is down or
// has been killed since that life.
func (n *node) update(life uint64, key string, mk func(local *record, now int64) *record) (*record, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.up || n.life != life {
		return nil, false
	}
	cur := n.data[key]
	if cur == nil {
		cur = &record{}
		n.data[key] = cur
	}
	now := time.Now()
	delta := mk(cur, now.Add(n.offset).UnixNano())
	if cur.merge(delta) {
		if n.loseUnflushed {
			n.flushLocked(now)
			n.unflushed = append(n.unflushed, unflushedWrite{at: now, key: key, delta: delta})
		}
		n.paidLocked(key, cur)
	}
	return delta, true
}

// apply merges delta into key, in the given life.
func (n *node) apply(life uint64, key string, delta *record) bool {
	_, ok := n.update(life, key, func(*record, int64) *record { return delta })
	return ok
}

// snapshot returns a copy of key's record, in the given life.
func (n *node) snapshot(life uint64, key string) (*record, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.up || n.life != life {
		return nil, false
	}
	return n.data[key].clone(), true
}

// flushLocked makes durable every write applied up to the last flush tick
// before now.
func (n *node) flushLocked(now time.Time) {
	tick := n.flushBase.Add(now.Sub(n.flushBase).Truncate(n.flushInterval))
	i := 0
	for ; i < len(n.unflushed) && !n.unflushed[i].at.After(tick); i++ {
		w := n.unflushed[i]
		d := n.durable[w.key]
		if d == nil {
			d = &record{}
			n.durable[w.key] = d
		}
		d.merge(w.delta)
	}
	n.unflushed = append([]unflushedWrite(nil), n.unflushed[i:]...)
}

// kill stops the node. With loseUnflushed, its data falls back to what
// was flushed. It reports false if the node was already down.
func (n *node) kill(now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.up {
		return false
	}
	n.up, n.paused, n.held = false, false, nil
	n.life++
	if n.loseUnflushed {
		n.flushLocked(now)
		n.data = make(map[string]*record, len(n.durable))
		for k, r := range n.durable {
			n.data[k] = r.clone()
		}
		n.unflushed = nil
	}
	return true
}

// restart starts a killed node with its data; it reports false if the
// node was up.
func (n *node) restart(now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.up {
		return false
	}
	n.up = true
	n.flushBase = now
	return true
}

// pause freezes the node; it reports false if the node is down.
func (n *node) pause() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.up {
		return false
	}
	n.paused = true
	return true
}

// resume thaws the node and returns the messages it held, to be run again.
func (n *node) resume() []func() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.paused = false
	held := n.held
	n.held = nil
	return held
}

// setOffset skews the node's clock.
func (n *node) setOffset(d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.offset = d
}

// addHint keeps a write for target, in the given life.
func (n *node) addHint(life uint64, h hint) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.up && n.life == life {
		n.hints = append(n.hints, h)
	}
}

// takeHints removes and returns the node's hints, with its life, when it
// is up and not paused (a paused node replays its hints when resumed).
func (n *node) takeHints() ([]hint, uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.up || n.paused {
		return nil, 0
	}
	hs := n.hints
	n.hints = nil
	return hs, n.life
}

// putHints gives back hints that could not be replayed yet.
func (n *node) putHints(hs []hint) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hints = append(n.hints, hs...)
}
