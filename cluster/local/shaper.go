//go:build linux

package local

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
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

// Delay and loss on the local runtime.
//
// This kernel (and many like it) has no netem qdisc and no nft queue
// statement, so delay is done in userspace: in the switch namespace,
// bridged IPv4 packets go through the iptables FORWARD chain
// (br_netfilter, bridge-nf-call-iptables=1 there), where one rule per
// delayed (source, destination) pair sends them to netfilter queue 0
// with --queue-bypass. The shaper, inside the controller process, reads
// the queue, holds each packet for its pair's delay (plus a uniformly
// random jitter, never reordering a pair's packets) and accepts it. It
// fails open: when the controller dies, the socket closes and, with
// --queue-bypass, packets pass undelayed; when the queue overflows, the
// kernel accepts them (NFQA_CFG_F_FAIL_OPEN). Loss is an nft rule per
// loss figure in the switch namespace's bridge table (numgen random),
// needing no userspace at all.
//
// Resolution: the releaser sleeps on a Go timer, which an idle Go
// process serves in whole milliseconds (the runtime's netpoller waits in
// ms), so a held packet is released up to about 1 ms late, never early:
// measured, 100 µs asked each way gave a 2.9 ms round trip
// (BenchmarkShaperPingPong), 30 ms one way gave 30.3-31.6 ms. Region
// delays of tens of milliseconds are within a few percent.
//
// Nothing of it outlives the cluster: the queue is a socket of this
// process; the rules live in the switch namespace, are journaled (the
// iptables table) and go with it; HealAll flushes the table before it
// deletes the namespace.

// Shaping limits.
const (
	// MaxDelay bounds a pair's total one-way delay (all layers).
	MaxDelay = 10 * time.Second
	// RTTProbes is how many ICMP echoes MeasureRTT sends.
	RTTProbes = 10
	// RTTTimeout bounds MeasureRTT's wait for answers after the last
	// probe.
	RTTTimeout   = 2 * time.Second
	shaperQueue  = 0
	nftLossChain = "loss"
)

var _ cluster.Shaper = (*Cluster)(nil)

// iptablesBinaries are tried in order: the first present is used (both
// have the xtables NFQUEUE target).
var iptablesBinaries = []string{"iptables-legacy", "iptables-nft", "iptables"}

// ProbeShaper says whether delay and loss can work on this machine: the
// netfilter queue (CONFIG_NETFILTER_NETLINK_QUEUE), the xtables NFQUEUE
// target, br_netfilter, and an iptables binary. nil: they can.
func ProbeShaper() error {
	var errs []error
	if _, err := os.Stat("/proc/net/netfilter/nfnetlink_queue"); err != nil {
		errs = append(errs, errors.New("the kernel has no netfilter queue (CONFIG_NETFILTER_NETLINK_QUEUE)"))
	}
	if b, err := os.ReadFile("/proc/net/ip_tables_targets"); err != nil || !slices.Contains(strings.Fields(string(b)), "NFQUEUE") {
		errs = append(errs, errors.New("the kernel has no xtables NFQUEUE target (/proc/net/ip_tables_targets)"))
	}
	if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil {
		errs = append(errs, errors.New("the kernel has no br_netfilter (bridged packets cannot reach iptables)"))
	}
	if iptablesBinary() == "" {
		errs = append(errs, errors.New("no iptables binary (install Debian package iptables)"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delay and loss need a userspace shaper on a netfilter queue: %w", err)
	}
	return nil
}

func iptablesBinary() string {
	for _, b := range iptablesBinaries {
		if p, err := exec.LookPath(b); err == nil {
			return p
		}
	}
	return ""
}

// linkParams is the combined shaping of one direction of one pair.
type linkParams struct {
	delay, jitter time.Duration
	loss          float64
}

// shaper is the state of a cluster's delay and loss. Its mutex serialises
// changes; the packet path reads the pair table through an atomic
// pointer.
type shaper struct {
	mu      sync.Mutex
	layers  map[string][]cluster.LinkShape
	ipt     string // iptables binary, chosen at start
	q       *nfQueue
	pairs   atomic.Pointer[map[addrPair]linkParams]
	wake    chan struct{}
	done    chan struct{}
	stopped chan struct{} // closed when both goroutines ended
	readErr atomic.Pointer[error]

	hmu  sync.Mutex
	held releaseHeap
	last map[addrPair]time.Time // latest release per pair, to keep order

	// Counters, for ShaperStats.
	queued, delayed atomic.Int64
}

// ShaperStats counts the packets the shaper saw.
type ShaperStats struct {
	// Queued packets reached the shaper; Delayed were held (the others
	// belonged to a pair no longer delayed and passed at once).
	Queued, Delayed int64
}

// ShaperStats returns the shaper's counters (zero when it never ran).
func (c *Cluster) ShaperStats() ShaperStats {
	c.shapeMu.Lock()
	sh := c.sh
	c.shapeMu.Unlock()
	if sh == nil {
		return ShaperStats{}
	}
	return ShaperStats{Queued: sh.queued.Load(), Delayed: sh.delayed.Load()}
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

// shaperOf returns the cluster's shaper, creating its state (not yet the
// queue) on first use.
func (c *Cluster) shaperOf() *shaper {
	c.shapeMu.Lock()
	defer c.shapeMu.Unlock()
	if c.sh == nil {
		c.sh = &shaper{layers: make(map[string][]cluster.LinkShape), last: make(map[addrPair]time.Time)}
		empty := map[addrPair]linkParams{}
		c.sh.pairs.Store(&empty)
	}
	return c.sh
}

// Shape replaces the links of layer and applies the combined shaping of
// every layer: nft loss rules and iptables queue rules, each replaced in
// one transaction, the shaper's pair table updated before the queue
// rules so that no queued packet misses its delay.
func (c *Cluster) Shape(ctx context.Context, layer string, links []cluster.LinkShape) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	if layer == "" {
		return errors.New("local: shape: empty layer name")
	}
	for _, l := range links {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("local: shape: %w", err)
		}
		for _, ns := range [][]string{l.From, l.To} {
			for _, n := range ns {
				if !c.Addr(n).IsValid() {
					return fmt.Errorf("local: shape: unknown node %q", n)
				}
			}
		}
	}
	sh := c.shaperOf()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	next := make(map[string][]cluster.LinkShape, len(sh.layers)+1)
	for k, v := range sh.layers {
		next[k] = v
	}
	next[layer] = slices.Clone(links)
	if err := c.applyShaping(ctx, sh, next); err != nil {
		return fmt.Errorf("local: shape %s: %w", layer, err)
	}
	sh.layers = next
	return nil
}

// Unshape removes layer and applies what the other layers leave.
func (c *Cluster) Unshape(ctx context.Context, layer string) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	sh := c.shaperOf()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.layers[layer]; !ok {
		return nil
	}
	next := make(map[string][]cluster.LinkShape, len(sh.layers))
	for k, v := range sh.layers {
		if k != layer {
			next[k] = v
		}
	}
	if err := c.applyShaping(ctx, sh, next); err != nil {
		return fmt.Errorf("local: unshape %s: %w", layer, err)
	}
	sh.layers = next
	return nil
}

// combine folds the layers into per-pair parameters.
func (c *Cluster) combine(layers map[string][]cluster.LinkShape) (map[addrPair]linkParams, error) {
	out := make(map[addrPair]linkParams)
	names := make([]string, 0, len(layers))
	for k := range layers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, l := range layers[name] {
			from, to := l.From, l.To
			if len(from) == 0 {
				from = c.names
			}
			if len(to) == 0 {
				to = c.names
			}
			for _, f := range from {
				for _, t := range to {
					sa, da := c.Addr(f), c.Addr(t)
					if sa == da {
						continue
					}
					p := addrPair{sa, da}
					lp := out[p]
					lp.delay += l.Delay
					lp.jitter += l.Jitter
					lp.loss = 1 - (1-lp.loss)*(1-l.Loss)
					if lp.delay+lp.jitter > MaxDelay {
						return nil, fmt.Errorf("%s->%s: delay %v+%v exceeds %v", f, t, lp.delay, lp.jitter, MaxDelay)
					}
					out[p] = lp
				}
			}
		}
	}
	return out, nil
}

func (c *Cluster) applyShaping(ctx context.Context, sh *shaper, layers map[string][]cluster.LinkShape) error {
	pairs, err := c.combine(layers)
	if err != nil {
		return err
	}
	var delayed []addrPair
	lossBy := make(map[int][]addrPair) // loss in parts per million -> pairs
	for p, lp := range pairs {
		if lp.delay > 0 || lp.jitter > 0 {
			delayed = append(delayed, p)
		}
		if ppm := int(math.Round(lp.loss * 1e6)); ppm > 0 {
			lossBy[ppm] = append(lossBy[ppm], p)
		}
	}
	sortPairs(delayed)
	if len(delayed) > 0 {
		if err := c.startShaper(ctx, sh); err != nil {
			return err
		}
	}
	// Loss: one nft transaction replacing the loss chain.
	var b strings.Builder
	fmt.Fprintf(&b, "flush chain bridge %s %s\n", nftTable, nftLossChain)
	ppms := make([]int, 0, len(lossBy))
	for ppm := range lossBy {
		ppms = append(ppms, ppm)
	}
	sort.Ints(ppms)
	for _, ppm := range ppms {
		ps := lossBy[ppm]
		sortPairs(ps)
		elems := make([]string, len(ps))
		for i, p := range ps {
			elems[i] = p.src.String() + " . " + p.dst.String()
		}
		if ppm >= 1e6 {
			fmt.Fprintf(&b, "add rule bridge %s %s ip saddr . ip daddr { %s } drop\n",
				nftTable, nftLossChain, strings.Join(elems, ", "))
			continue
		}
		fmt.Fprintf(&b, "add rule bridge %s %s ip saddr . ip daddr { %s } numgen random mod 1000000 < %d drop\n",
			nftTable, nftLossChain, strings.Join(elems, ", "), ppm)
	}
	if err := c.nft(ctx, b.String()); err != nil {
		return fmt.Errorf("loss rules: %w", err)
	}
	// Delay: the pair table first, then the queue rules.
	sh.pairs.Store(&pairs)
	if sh.ipt != "" || len(delayed) > 0 {
		if err := c.iptablesRestore(ctx, sh.ipt, delayed); err != nil {
			return fmt.Errorf("delay rules: %w", err)
		}
	}
	return nil
}

func sortPairs(ps []addrPair) {
	slices.SortFunc(ps, func(a, b addrPair) int {
		if r := a.src.Compare(b.src); r != 0 {
			return r
		}
		return a.dst.Compare(b.dst)
	})
}

// iptablesRestore replaces the switch namespace's filter table with one
// queue rule per delayed pair, in one transaction.
func (c *Cluster) iptablesRestore(ctx context.Context, ipt string, delayed []addrPair) error {
	var b strings.Builder
	b.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	for _, p := range delayed {
		fmt.Fprintf(&b, "-A FORWARD -s %s/32 -d %s/32 -j NFQUEUE --queue-num %d --queue-bypass\n", p.src, p.dst, shaperQueue)
	}
	b.WriteString("COMMIT\n")
	return runIn(ctx, c.switchNS, b.String(), ipt+"-restore")
}

// startShaper journals the iptables table, enables br_netfilter's
// iptables call in the switch namespace, binds the queue and starts the
// reader and the releaser. It does nothing when already started.
func (c *Cluster) startShaper(ctx context.Context, sh *shaper) error {
	if sh.q != nil {
		if p := sh.readErr.Load(); p != nil {
			return fmt.Errorf("the shaper stopped: %w", *p)
		}
		return nil
	}
	if err := ProbeShaper(); err != nil {
		return err
	}
	ipt := iptablesBinary()
	if err := c.jr.update(func(j *journalData) {
		j.Iptables = append(j.Iptables, iptablesRef{NS: c.switchNS, Binary: ipt, Table: "filter"})
	}); err != nil {
		return err
	}
	if err := runIn(ctx, c.switchNS, "", "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1"); err != nil {
		return err
	}
	q, err := openNFQueue("/run/netns/"+c.switchNS, shaperQueue)
	if err != nil {
		return err
	}
	sh.ipt = ipt
	sh.q = q
	sh.wake = make(chan struct{}, 1)
	sh.done = make(chan struct{})
	sh.stopped = make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	seed := rand.Uint64()
	go func() {
		defer wg.Done()
		sh.readLoop(rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
	}()
	go func() {
		defer wg.Done()
		sh.releaseLoop()
	}()
	go func() { wg.Wait(); close(sh.stopped) }()
	return nil
}

// readLoop takes queued packets, computes each one's release time and
// hands it to the releaser.
func (sh *shaper) readLoop(rng *rand.Rand) {
	err := sh.q.Read(func(p nfPacket) {
		sh.queued.Add(1)
		pl := p.Payload
		var lp linkParams
		var pair addrPair
		ok := false
		if len(pl) >= 20 && pl[0]>>4 == 4 {
			pair = addrPair{netip.AddrFrom4([4]byte(pl[12:16])), netip.AddrFrom4([4]byte(pl[16:20]))}
			lp, ok = (*sh.pairs.Load())[pair]
		}
		if !ok || (lp.delay <= 0 && lp.jitter <= 0) {
			_ = sh.q.Accept(p.ID)
			return
		}
		d := lp.delay
		if lp.jitter > 0 {
			d += time.Duration(rng.Int64N(int64(lp.jitter) + 1))
		}
		at := time.Now().Add(d)
		sh.hmu.Lock()
		if l := sh.last[pair]; at.Before(l) {
			at = l
		}
		sh.last[pair] = at
		first := len(sh.held) == 0 || at.Before(sh.held[0].at)
		heap.Push(&sh.held, heldPacket{at: at, id: p.ID})
		sh.hmu.Unlock()
		sh.delayed.Add(1)
		if first {
			select {
			case sh.wake <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		sh.readErr.Store(&err)
	}
}

// releaseLoop accepts held packets when their time comes.
func (sh *shaper) releaseLoop() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var due []uint32
	for {
		sh.hmu.Lock()
		now := time.Now()
		due = due[:0]
		for len(sh.held) > 0 && !sh.held[0].at.After(now) {
			due = append(due, heap.Pop(&sh.held).(heldPacket).id)
		}
		wait := time.Hour
		if len(sh.held) > 0 {
			wait = sh.held[0].at.Sub(now)
		}
		sh.hmu.Unlock()
		for _, id := range due {
			_ = sh.q.Accept(id)
		}
		t.Reset(wait)
		select {
		case <-sh.done:
			return
		case <-sh.wake:
		case <-t.C:
		}
	}
}

// stopShaper closes the queue (the kernel drops the packets still held;
// new ones bypass the queue until the namespace goes) and waits for the
// goroutines. Down calls it.
func (c *Cluster) stopShaper() {
	c.shapeMu.Lock()
	sh := c.sh
	c.shapeMu.Unlock()
	if sh == nil {
		return
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.q == nil {
		return
	}
	close(sh.done)
	_ = sh.q.Close()
	<-sh.stopped
	sh.q = nil
}

// MeasureRTT sends RTTProbes ICMP echoes, 10 ms apart, from node a's
// namespace (the root namespace for cluster.Controller) to node b, and
// returns the spread of the answers received within RTTTimeout of the
// last one.
func (c *Cluster) MeasureRTT(ctx context.Context, a, b string) (cluster.RTT, error) {
	if err := c.checkOpen(); err != nil {
		return cluster.RTT{}, err
	}
	dst := c.Addr(b)
	if !c.Addr(a).IsValid() || !dst.IsValid() {
		return cluster.RTT{}, fmt.Errorf("local: rtt %s->%s: unknown node", a, b)
	}
	ns := ""
	if a != cluster.Controller {
		ns = "/run/netns/" + c.nodes[a].ns
	}
	r, err := pingFrom(ctx, ns, dst, RTTProbes, 10*time.Millisecond, RTTTimeout)
	if err != nil {
		return r, fmt.Errorf("local: rtt %s->%s: %w", a, b, err)
	}
	return r, nil
}
