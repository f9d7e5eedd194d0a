//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
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

// ProbeShaper says whether delay and loss can work on this machine: the
// netfilter queue, the NFQUEUE target and an iptables binary
// (ProbeQueue), and br_netfilter. nil: they can.
func ProbeShaper() error {
	errs := []error{ProbeQueue()}
	if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil {
		errs = append(errs, errors.New("the kernel has no br_netfilter (bridged packets cannot reach iptables)"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delay and loss need a userspace shaper on a netfilter queue: %w", err)
	}
	return nil
}

// LinkParams is the combined shaping of one direction of one pair: the
// delays and jitters of every layer added, the losses combined as
// independent drops.
type LinkParams struct {
	Delay, Jitter time.Duration
	Loss          float64
}

// shaper is the state of a cluster's delay and loss. Its mutex serialises
// changes; the packet path is the delayer's.
type shaper struct {
	mu      sync.Mutex
	layers  map[string][]cluster.LinkShape
	ipt     string         // iptables binary, chosen at start
	d       *PacketDelayer // nil until started
	stopped bool
}

// ShaperStats returns the shaper's counters (zero when it never ran).
func (c *Cluster) ShaperStats() ShaperStats {
	c.shapeMu.Lock()
	sh := c.sh
	c.shapeMu.Unlock()
	if sh == nil {
		return ShaperStats{}
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.d == nil {
		return ShaperStats{}
	}
	return sh.d.Stats()
}

// shaperOf returns the cluster's shaper, creating its state (not yet the
// queue) on first use.
func (c *Cluster) shaperOf() *shaper {
	c.shapeMu.Lock()
	defer c.shapeMu.Unlock()
	if c.sh == nil {
		c.sh = &shaper{layers: make(map[string][]cluster.LinkShape)}
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
func (c *Cluster) combine(layers map[string][]cluster.LinkShape) (map[Pair]LinkParams, error) {
	return CombineLayers(layers, c.names, c.Addr)
}

func (c *Cluster) applyShaping(ctx context.Context, sh *shaper, layers map[string][]cluster.LinkShape) error {
	pairs, err := c.combine(layers)
	if err != nil {
		return err
	}
	var delayed []Pair
	lossBy := make(map[int][]Pair) // loss in parts per million -> pairs
	for p, lp := range pairs {
		if lp.Delay > 0 || lp.Jitter > 0 {
			delayed = append(delayed, p)
		}
		if ppm := int(math.Round(lp.Loss * 1e6)); ppm > 0 {
			lossBy[ppm] = append(lossBy[ppm], p)
		}
	}
	SortPairs(delayed)
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
		SortPairs(ps)
		elems := make([]string, len(ps))
		for i, p := range ps {
			elems[i] = p.Src.String() + " . " + p.Dst.String()
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
	if sh.d != nil {
		sh.d.SetPairs(pairs)
	}
	if sh.ipt != "" || len(delayed) > 0 {
		if err := c.iptablesRestore(ctx, sh.ipt, delayed); err != nil {
			return fmt.Errorf("delay rules: %w", err)
		}
	}
	return nil
}

// iptablesRestore replaces the switch namespace's filter table with one
// queue rule per delayed pair, in one transaction.
func (c *Cluster) iptablesRestore(ctx context.Context, ipt string, delayed []Pair) error {
	var b strings.Builder
	b.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	for _, p := range delayed {
		fmt.Fprintf(&b, "-A FORWARD -s %s/32 -d %s/32 -j NFQUEUE --queue-num %d --queue-bypass\n", p.Src, p.Dst, shaperQueue)
	}
	b.WriteString("COMMIT\n")
	return runIn(ctx, c.switchNS, b.String(), ipt+"-restore")
}

// startShaper journals the iptables table, enables br_netfilter's
// iptables call in the switch namespace, binds the queue and starts the
// delayer. It does nothing when already started.
func (c *Cluster) startShaper(ctx context.Context, sh *shaper) error {
	if sh.stopped {
		return errors.New("the shaper is stopped (cluster closing)")
	}
	if sh.d != nil {
		if err := sh.d.Err(); err != nil {
			return fmt.Errorf("the shaper stopped: %w", err)
		}
		return nil
	}
	if err := ProbeShaper(); err != nil {
		return err
	}
	ipt := IptablesBinary()
	if err := c.jr.update(func(j *journalData) {
		j.Iptables = append(j.Iptables, iptablesRef{NS: c.switchNS, Binary: ipt, Table: "filter"})
	}); err != nil {
		return err
	}
	if err := runIn(ctx, c.switchNS, "", "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1"); err != nil {
		return err
	}
	d, err := OpenPacketDelayer("/run/netns/"+c.switchNS, shaperQueue, rand.Uint64())
	if err != nil {
		return err
	}
	sh.ipt = ipt
	sh.d = d
	return nil
}

// stopShaper closes the queue (the kernel drops the packets still held;
// new ones bypass the queue until the namespace goes) and waits for the
// delayer's goroutines. Down calls it.
func (c *Cluster) stopShaper() {
	c.shapeMu.Lock()
	sh := c.sh
	c.shapeMu.Unlock()
	if sh == nil {
		return
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.stopped = true
	if sh.d != nil {
		sh.d.Close()
	}
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
	r, err := MeasureRTTFrom(ctx, ns, dst)
	if err != nil {
		return r, fmt.Errorf("local: rtt %s->%s: %w", a, b, err)
	}
	return r, nil
}
