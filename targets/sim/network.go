package sim

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// network carries messages between nodes and the controller (where
// clients run). A message is a function run at its destination after a
// random latency. The network never reports an error: a message cut by the
// current Grudge, or sent to or from a dead node, is silently dropped, and
// its sender only ever notices a missing answer, as over a real network.
//
// Every message in flight is a registered timer, so Close can stop them
// all and wait for the ones already running.
type network struct {
	mu         sync.Mutex
	grudge     cluster.Grudge
	rng        *rand.Rand // latencies; guarded by mu
	maxLatency time.Duration
	timers     map[uint64]*time.Timer
	// layers are the shaping layers (cluster.Shaper); shape is their
	// combination per (src, dst) name pair. Guarded by mu.
	layers    map[string][]cluster.LinkShape
	shape     map[[2]string]linkShape
	nextTimer uint64
	closed    bool
	// running counts the message callbacks running now (reset waits
	// for none).
	running int

	wg   sync.WaitGroup // running timer callbacks
	done chan struct{}  // closed by close
}

func newNetwork(seed int64, maxLatency time.Duration) *network {
	return &network{
		grudge:     cluster.Grudge{},
		rng:        rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
		maxLatency: maxLatency,
		timers:     make(map[uint64]*time.Timer),
		layers:     make(map[string][]cluster.LinkShape),
		done:       make(chan struct{}),
	}
}

// after runs f in its own goroutine after d, unless the network is closed
// first.
func (nw *network) after(d time.Duration, f func()) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if nw.closed {
		return
	}
	id := nw.nextTimer
	nw.nextTimer++
	nw.wg.Add(1)
	// The callback locks mu before it looks itself up, and we hold mu
	// until the timer is registered, so it always finds itself.
	nw.timers[id] = time.AfterFunc(d, func() {
		defer nw.wg.Done()
		nw.mu.Lock()
		delete(nw.timers, id)
		closed := nw.closed
		if !closed {
			nw.running++
		}
		nw.mu.Unlock()
		if !closed {
			f()
			nw.mu.Lock()
			nw.running--
			nw.mu.Unlock()
		}
	})
}

// latency draws one message's delay.
func (nw *network) latency() time.Duration {
	if nw.maxLatency <= 0 {
		return 0
	}
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return time.Duration(nw.rng.Int64N(int64(nw.maxLatency) + 1))
}

// setLayer replaces (nil: removes) a shaping layer and recombines the
// layers over nodes (the names an empty From or To stands for).
func (nw *network) setLayer(layer string, links []cluster.LinkShape, nodes []string) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if links == nil {
		delete(nw.layers, layer)
	} else {
		nw.layers[layer] = links
	}
	shape := make(map[[2]string]linkShape)
	for _, ls := range nw.layers {
		for _, l := range ls {
			from, to := l.From, l.To
			if len(from) == 0 {
				from = nodes
			}
			if len(to) == 0 {
				to = nodes
			}
			for _, f := range from {
				for _, t := range to {
					if f == t {
						continue
					}
					k := [2]string{f, t}
					s := shape[k]
					s.delay += l.Delay
					s.jitter += l.Jitter
					s.loss = 1 - (1-s.loss)*(1-l.Loss)
					shape[k] = s
				}
			}
		}
	}
	nw.shape = shape
}

// shaped draws the extra delay of one message from src to dst, and
// whether the shaping drops it.
func (nw *network) shaped(src, dst string) (time.Duration, bool) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	s, ok := nw.shape[[2]string{src, dst}]
	if !ok {
		return 0, false
	}
	d := s.delay
	if s.jitter > 0 {
		d += time.Duration(nw.rng.Int64N(int64(s.jitter) + 1))
	}
	return d, s.loss > 0 && nw.rng.Float64() < s.loss
}

// drops reports whether the current partition drops messages from src to
// dst.
func (nw *network) drops(src, dst string) bool {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.grudge.Drops(src, dst)
}

// setGrudge replaces the partition; g must not be modified afterwards.
func (nw *network) setGrudge(g cluster.Grudge) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.grudge = g
}

// close drops every message in flight, wakes everyone waiting on done and
// waits, within ctx, for running callbacks to return.
func (nw *network) close(ctx context.Context) error {
	nw.mu.Lock()
	if !nw.closed {
		nw.closed = true
		close(nw.done)
		for id, t := range nw.timers {
			if t.Stop() {
				// It will never run, so it will never call Done.
				delete(nw.timers, id)
				nw.wg.Done()
			}
		}
	}
	nw.mu.Unlock()

	finished := make(chan struct{})
	go func() {
		nw.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		return errors.Join(errors.New("sim: close: requests still running"), ctx.Err())
	}
}

// sender is the origin of a message: a node in one of its lives, or the
// controller (the zero sender).
type sender struct {
	n    *node
	life uint64
}

func (s sender) name() string {
	if s.n == nil {
		return cluster.Controller
	}
	return s.n.name
}

// send carries a message from src to the node or controller named dst and
// runs handle there, with the receiving node's life. extra is added to the
// network latency. A paused sender holds the message until it resumes; a
// dead sender, a dead receiver and the partition drop it; a paused
// receiver holds it until it resumes.
func (c *Cluster) send(src sender, dst string, extra time.Duration, handle func(life uint64)) {
	if src.n != nil && !src.n.canSend(src.life, func() { c.send(src, dst, extra, handle) }) {
		return
	}
	delay, lost := c.net.shaped(src.name(), dst)
	if lost {
		return
	}
	c.net.after(extra+delay+c.net.latency(), func() {
		if c.net.drops(src.name(), dst) {
			return
		}
		c.deliver(dst, handle)
	})
}

// deliver runs handle at dst, which received a message.
func (c *Cluster) deliver(dst string, handle func(life uint64)) {
	if dst == cluster.Controller {
		handle(0)
		return
	}
	n := c.byName[dst]
	if n == nil {
		return
	}
	if life, ok := n.receive(func() { c.deliver(dst, handle) }); ok {
		handle(life)
	}
}
