//go:build linux

package local

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// The pieces of the delay shaper that do not depend on where the queue
// rules live: the probe of the kernel's netfilter queue, the folding of
// shaping layers into per-pair figures, the packet delayer reading one
// queue, and the ICMP round-trip probe. The local runtime runs one
// delayer in its switch namespace; the docker runtime (cluster/docker)
// one in each container's network namespace.

// iptablesBinaries are tried in order: the first present is used (both
// have the xtables NFQUEUE target).
var iptablesBinaries = []string{"iptables-legacy", "iptables-nft", "iptables"}

// ProbeQueue says whether a packet delayer can work on this machine: the
// netfilter queue (CONFIG_NETFILTER_NETLINK_QUEUE), the xtables NFQUEUE
// target and an iptables binary to send packets to it. nil: it can.
func ProbeQueue() error {
	var errs []error
	if _, err := os.Stat("/proc/net/netfilter/nfnetlink_queue"); err != nil {
		errs = append(errs, errors.New("the kernel has no netfilter queue (CONFIG_NETFILTER_NETLINK_QUEUE)"))
	}
	if b, err := os.ReadFile("/proc/net/ip_tables_targets"); err != nil || !slices.Contains(strings.Fields(string(b)), "NFQUEUE") {
		errs = append(errs, errors.New("the kernel has no xtables NFQUEUE target (/proc/net/ip_tables_targets)"))
	}
	if IptablesBinary() == "" {
		errs = append(errs, errors.New("no iptables binary (install Debian package iptables)"))
	}
	return errors.Join(errs...)
}

// IptablesBinary is the iptables binary the shapers use (the first of
// iptables-legacy, iptables-nft, iptables in PATH), "" when none is.
func IptablesBinary() string {
	for _, b := range iptablesBinaries {
		if p, err := exec.LookPath(b); err == nil {
			return p
		}
	}
	return ""
}

// CombineLayers folds shaping layers into per-pair figures: for every
// (source, destination) pair of node addresses (addr names them; an
// empty From or To is every node of nodes), the delays and jitters of
// every layer add and the losses combine as independent drops. A pair's
// total delay is bounded by MaxDelay. Pairs of one address are skipped.
func CombineLayers(layers map[string][]cluster.LinkShape, nodes []string, addr func(string) netip.Addr) (map[Pair]LinkParams, error) {
	out := make(map[Pair]LinkParams)
	names := make([]string, 0, len(layers))
	for k := range layers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, l := range layers[name] {
			from, to := l.From, l.To
			if len(from) == 0 {
				from = nodes
			}
			if len(to) == 0 {
				to = nodes
			}
			for _, f := range from {
				for _, t := range to {
					sa, da := addr(f), addr(t)
					if !sa.IsValid() || !da.IsValid() {
						return nil, fmt.Errorf("%s->%s: unknown node", f, t)
					}
					if sa == da {
						continue
					}
					p := Pair{sa, da}
					lp := out[p]
					lp.Delay += l.Delay
					lp.Jitter += l.Jitter
					lp.Loss = 1 - (1-lp.Loss)*(1-l.Loss)
					if lp.Delay+lp.Jitter > MaxDelay {
						return nil, fmt.Errorf("%s->%s: delay %v+%v exceeds %v", f, t, lp.Delay, lp.Jitter, MaxDelay)
					}
					out[p] = lp
				}
			}
		}
	}
	return out, nil
}

// SortPairs sorts pairs by source, then destination.
func SortPairs(ps []Pair) {
	slices.SortFunc(ps, func(a, b Pair) int {
		if r := a.Src.Compare(b.Src); r != 0 {
			return r
		}
		return a.Dst.Compare(b.Dst)
	})
}

// PacketDelayer reads one netfilter queue of one network namespace and
// holds each IPv4 packet of a delayed (source, destination) pair for its
// delay, plus a uniformly random 0..jitter, never reordering a pair's
// packets, then accepts it; a packet of any other pair is accepted at
// once. The queue is a socket of this process: when the process dies it
// closes, and rules with --queue-bypass let packets pass (fail open);
// when the queue overflows, the kernel accepts them
// (NFQA_CFG_F_FAIL_OPEN). Its methods are safe for concurrent use.
type PacketDelayer struct {
	q       *nfQueue
	pairs   atomic.Pointer[map[Pair]LinkParams]
	wake    chan struct{}
	done    chan struct{}
	stopped chan struct{} // closed when both goroutines ended
	readErr atomic.Pointer[error]
	once    sync.Once

	hmu  sync.Mutex
	held releaseHeap
	last map[Pair]time.Time // latest release per pair, to keep order

	queued, delayed atomic.Int64
}

// OpenPacketDelayer binds netfilter queue num in the network namespace at
// nsPath ("": this process's), with no pair delayed yet, and starts
// reading it; jitter is drawn from a generator seeded with seed.
func OpenPacketDelayer(nsPath string, num uint16, seed uint64) (*PacketDelayer, error) {
	q, err := openNFQueue(nsPath, num)
	if err != nil {
		return nil, err
	}
	d := &PacketDelayer{q: q, wake: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{}),
		last: make(map[Pair]time.Time)}
	empty := map[Pair]LinkParams{}
	d.pairs.Store(&empty)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		d.readLoop(rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
	}()
	go func() {
		defer wg.Done()
		d.releaseLoop()
	}()
	go func() { wg.Wait(); close(d.stopped) }()
	return d, nil
}

// SetPairs replaces the delayed pairs (their Loss is not the delayer's:
// it is ignored). Packets held already keep their release time.
func (d *PacketDelayer) SetPairs(pairs map[Pair]LinkParams) {
	m := make(map[Pair]LinkParams, len(pairs))
	for p, lp := range pairs {
		if lp.Delay > 0 || lp.Jitter > 0 {
			m[p] = LinkParams{Delay: lp.Delay, Jitter: lp.Jitter}
		}
	}
	d.pairs.Store(&m)
}

// Err is why the delayer stopped reading its queue (nil while it reads,
// and after Close).
func (d *PacketDelayer) Err() error {
	if p := d.readErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Stats counts the packets the delayer saw.
func (d *PacketDelayer) Stats() ShaperStats {
	return ShaperStats{Queued: d.queued.Load(), Delayed: d.delayed.Load()}
}

// Close closes the queue (the kernel drops the packets still held; new
// ones bypass the queue) and waits for the goroutines. A second call
// does nothing.
func (d *PacketDelayer) Close() {
	d.once.Do(func() {
		close(d.done)
		_ = d.q.Close()
		<-d.stopped
	})
}

// ShaperStats counts the packets a shaper saw.
type ShaperStats struct {
	// Queued packets reached the shaper; Delayed were held (the others
	// belonged to a pair no longer delayed and passed at once).
	Queued, Delayed int64
}

type heldPacket struct {
	at time.Time
	id uint32
}

type releaseHeap []heldPacket

func (h releaseHeap) Len() int           { return len(h) }
func (h releaseHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h releaseHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *releaseHeap) Push(x any)        { *h = append(*h, x.(heldPacket)) }
func (h *releaseHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// readLoop takes queued packets, computes each one's release time and
// hands it to the releaser.
func (d *PacketDelayer) readLoop(rng *rand.Rand) {
	err := d.q.Read(func(p nfPacket) {
		d.queued.Add(1)
		pl := p.Payload
		var lp LinkParams
		var pair Pair
		ok := false
		if len(pl) >= 20 && pl[0]>>4 == 4 {
			pair = Pair{netip.AddrFrom4([4]byte(pl[12:16])), netip.AddrFrom4([4]byte(pl[16:20]))}
			lp, ok = (*d.pairs.Load())[pair]
		}
		if !ok || (lp.Delay <= 0 && lp.Jitter <= 0) {
			_ = d.q.Accept(p.ID)
			return
		}
		dl := lp.Delay
		if lp.Jitter > 0 {
			dl += time.Duration(rng.Int64N(int64(lp.Jitter) + 1))
		}
		at := time.Now().Add(dl)
		d.hmu.Lock()
		if l := d.last[pair]; at.Before(l) {
			at = l
		}
		d.last[pair] = at
		first := len(d.held) == 0 || at.Before(d.held[0].at)
		heap.Push(&d.held, heldPacket{at: at, id: p.ID})
		d.hmu.Unlock()
		d.delayed.Add(1)
		if first {
			select {
			case d.wake <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		d.readErr.Store(&err)
	}
}

// releaseLoop accepts held packets when their time comes.
func (d *PacketDelayer) releaseLoop() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var due []uint32
	for {
		d.hmu.Lock()
		now := time.Now()
		due = due[:0]
		for len(d.held) > 0 && !d.held[0].at.After(now) {
			due = append(due, heap.Pop(&d.held).(heldPacket).id)
		}
		wait := time.Hour
		if len(d.held) > 0 {
			wait = d.held[0].at.Sub(now)
		}
		d.hmu.Unlock()
		for _, id := range due {
			_ = d.q.Accept(id)
		}
		t.Reset(wait)
		select {
		case <-d.done:
			return
		case <-d.wake:
		case <-t.C:
		}
	}
}

// MeasureRTTFrom sends RTTProbes ICMP echoes, 10 ms apart, from the
// network namespace at nsPath ("": this process's) to dst, and returns
// the spread of the answers received within RTTTimeout of the last one.
func MeasureRTTFrom(ctx context.Context, nsPath string, dst netip.Addr) (cluster.RTT, error) {
	return pingFrom(ctx, nsPath, dst, RTTProbes, 10*time.Millisecond, RTTTimeout)
}
