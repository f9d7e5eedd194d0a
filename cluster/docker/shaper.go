//go:build linux

package docker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/local"
)

// Delay and loss on the docker runtime.
//
// The containers sit on a bridge in the host's namespace, which other
// containers and dockerd share: nothing is changed there. Each node's
// own network namespace (entered from the host through
// /proc/<container pid>/ns/net, as the partition rules are) gets the
// shaping of the packets it receives, and of those it sends to the
// controller (the host's end of the bridge, which has no namespace of
// the run's own):
//
//   - delay: an iptables raw table whose PREROUTING chain (OUTPUT, for
//     the pairs towards the controller) sends each delayed (source,
//     destination) pair to netfilter queue 0 with --queue-bypass, read
//     by a packet delayer (cluster/local.PacketDelayer) inside this
//     process, one per node, bound in the node's namespace: it holds each
//     packet for its pair's delay and accepts it;
//   - loss: an nft table inet chaoscheck-shape (apart from the partition
//     table, which Partition and HealNetwork replace and delete) whose
//     input chain drops a share of each lossy pair's packets (numgen
//     random), and whose output chain does it for the pairs towards the
//     controller.
//
// Delaying and dropping at the receiver keeps the sender's socket
// unaware (a drop at the sender's output hook is an error to it) and its
// send queue unthrottled (a locally sent packet held in a queue still
// counts against its socket).
//
// Journal: the rules live in the containers' namespaces, which die with
// the containers; the containers carry the run's labels before they
// exist, so chaoscheck heal (and the next Up) removes the rules with
// them. The queues are sockets of this process: when it dies they close
// and, with --queue-bypass, packets pass undelayed (fail open) until the
// heal. No shaper process is ever started. A node restarted gets the
// shaping in force in its new namespace before Restart returns, as it
// gets the partition; the delayer of its old namespace is closed when
// its process exits.

// shapeTable is the nft table (family inet) of the loss rules in each
// node's namespace.
const shapeTable = "chaoscheck-shape"

// shaperQueue is the netfilter queue number in every node's namespace.
const shaperQueue = 0

var _ cluster.Shaper = (*Cluster)(nil)

// ProbeShaper says whether delay and loss can work on the docker runtime:
// the netfilter queue, the NFQUEUE target and an iptables binary
// (local.ProbeQueue). nil: they can.
func ProbeShaper() error {
	if err := local.ProbeQueue(); err != nil {
		return fmt.Errorf("delay and loss need a userspace shaper on a netfilter queue: %w", err)
	}
	return nil
}

// shaper is a cluster's delay and loss: the layers, their combination,
// and each node's delayer. Its mutex serialises changes.
type shaper struct {
	mu     sync.Mutex
	layers map[string][]cluster.LinkShape
	pairs  map[local.Pair]local.LinkParams
	ipt    string // iptables binary
	nodes  map[string]*nodeShaper
	rates  map[string]int64 // bandwidth limits by node (throttle.go)
	closed bool
}

// nodeShaper is the shaping in one node's namespace: the container
// process it was set up for and its delayer (nil: none opened yet).
type nodeShaper struct {
	pid int
	d   *local.PacketDelayer
}

// shaperOf returns the cluster's shaper, creating it on first use.
func (c *Cluster) shaperOf() *shaper {
	c.shapeMu.Lock()
	defer c.shapeMu.Unlock()
	if c.sh == nil {
		c.sh = &shaper{layers: map[string][]cluster.LinkShape{}, nodes: map[string]*nodeShaper{}}
	}
	return c.sh
}

// Shape replaces the links of layer and applies the combination of every
// layer in each running node's namespace (one node after another; in
// each, the delayer's pair table first, then the queue rules and the
// loss rules, each replaced in one transaction). Nodes not running yet
// get it when they start: a standing layer (regions) may be shaped
// before the first Start.
func (c *Cluster) Shape(ctx context.Context, layer string, links []cluster.LinkShape) error {
	if layer == "" {
		return errors.New("docker: shape: empty layer name")
	}
	for _, l := range links {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("docker: shape: %w", err)
		}
		for _, ns := range [][]string{l.From, l.To} {
			for _, n := range ns {
				if !c.Addr(n).IsValid() {
					return fmt.Errorf("docker: shape: unknown node %q", n)
				}
			}
		}
	}
	if err := ProbeShaper(); err != nil {
		return fmt.Errorf("docker: shape: %w", err)
	}
	sh := c.shaperOf()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	next := make(map[string][]cluster.LinkShape, len(sh.layers)+1)
	for k, v := range sh.layers {
		next[k] = v
	}
	next[layer] = append([]cluster.LinkShape(nil), links...)
	if err := c.applyShaping(ctx, sh, next); err != nil {
		return fmt.Errorf("docker: shape %s: %w", layer, err)
	}
	return nil
}

// Unshape removes layer and applies what the other layers leave.
func (c *Cluster) Unshape(ctx context.Context, layer string) error {
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
		return fmt.Errorf("docker: unshape %s: %w", layer, err)
	}
	return nil
}

// applyShaping combines layers and applies the result to every running
// node; the layers are kept (for the nodes that start later) even when a
// node failed.
func (c *Cluster) applyShaping(ctx context.Context, sh *shaper, layers map[string][]cluster.LinkShape) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed || sh.closed {
		return errors.New("cluster closed")
	}
	pairs, err := local.CombineLayers(layers, c.names, c.Addr)
	if err != nil {
		return err
	}
	if sh.ipt == "" {
		sh.ipt = local.IptablesBinary()
	}
	sh.layers, sh.pairs = layers, pairs
	var errs []error
	for _, n := range c.names {
		p, err := c.proc(n)
		if err != nil || !p.Running() || p.Pid() == 0 {
			continue
		}
		if err := c.shapeNode(ctx, sh, p); err != nil && !gone(p.Pid()) {
			errs = append(errs, fmt.Errorf("node %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// reshape applies the shaping and the bandwidth limit in force, if any,
// to p's (new) namespace: startContainer calls it.
func (c *Cluster) reshape(ctx context.Context, p *Process) error {
	c.shapeMu.Lock()
	sh := c.sh
	c.shapeMu.Unlock()
	if sh == nil {
		return nil
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return nil
	}
	if err := c.rethrottle(ctx, sh, p); err != nil {
		return err
	}
	if sh.pairs == nil {
		return nil
	}
	return c.shapeNode(ctx, sh, p)
}

// shapeRules are what one node holds of the pairs: the delayed and
// the lossy pairs it receives (by source), and those it sends to the
// controller.
type shapeRules struct {
	delayIn, delayOut []netip.Addr         // sources delayed on the way in; the controller on the way out
	lossIn, lossOut   map[int][]netip.Addr // loss in parts per million -> sources / destinations
	anyDelay          bool                 // the node's delayer is needed
}

// nodeShapeRules picks, from the combined pairs, those the node at
// address a shapes.
func (c *Cluster) nodeShapeRules(a netip.Addr, pairs map[local.Pair]local.LinkParams) shapeRules {
	r := shapeRules{lossIn: map[int][]netip.Addr{}, lossOut: map[int][]netip.Addr{}}
	for p, lp := range pairs {
		var in bool
		switch {
		case p.Dst == a:
			in = true
		case p.Src == a && p.Dst == c.ctrl:
			in = false
		default:
			continue
		}
		if lp.Delay > 0 || lp.Jitter > 0 {
			r.anyDelay = true
			if in {
				r.delayIn = append(r.delayIn, p.Src)
			} else {
				r.delayOut = append(r.delayOut, p.Dst)
			}
		}
		if ppm := int(math.Round(lp.Loss * 1e6)); ppm > 0 {
			if in {
				r.lossIn[ppm] = append(r.lossIn[ppm], p.Src)
			} else {
				r.lossOut[ppm] = append(r.lossOut[ppm], p.Dst)
			}
		}
	}
	sortAddrs := func(as []netip.Addr) { sort.Slice(as, func(i, j int) bool { return as[i].Less(as[j]) }) }
	sortAddrs(r.delayIn)
	sortAddrs(r.delayOut)
	for _, m := range []map[int][]netip.Addr{r.lossIn, r.lossOut} {
		for _, as := range m {
			sortAddrs(as)
		}
	}
	return r
}

// iptablesScript is the raw table of node a for r (iptables-restore
// input: it replaces the table in one transaction). The queue rules are
// in the raw table's PREROUTING and OUTPUT chains, which come before
// connection tracking: a packet held after conntrack saw it would leave
// its connection unconfirmed, and the next packet of the same flow
// (ping's echoes, a UDP stream) would make a second entry that clashes
// and is dropped when both are released (measured: 2 of 10 echoes 10 ms
// apart lost with a 30 ms delay in the filter table's INPUT chain).
func (r shapeRules) iptablesScript(a netip.Addr) string {
	var b strings.Builder
	b.WriteString("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	for _, s := range r.delayIn {
		fmt.Fprintf(&b, "-A PREROUTING -s %s/32 -d %s/32 -j NFQUEUE --queue-num %d --queue-bypass\n", s, a, shaperQueue)
	}
	for _, d := range r.delayOut {
		fmt.Fprintf(&b, "-A OUTPUT -s %s/32 -d %s/32 -j NFQUEUE --queue-num %d --queue-bypass\n", a, d, shaperQueue)
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// nftScript replaces the loss table with r's rules in one transaction
// (creating the table first makes the delete valid when it is absent).
func (r shapeRules) nftScript() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {}\ndelete table inet %s\ntable inet %s {\n", shapeTable, shapeTable, shapeTable)
	chain := func(name, hook, field string, m map[int][]netip.Addr) {
		fmt.Fprintf(&b, "\tchain %s {\n\t\ttype filter hook %s priority 0; policy accept;\n", name, hook)
		ppms := make([]int, 0, len(m))
		for ppm := range m {
			ppms = append(ppms, ppm)
		}
		sort.Ints(ppms)
		for _, ppm := range ppms {
			es := make([]string, len(m[ppm]))
			for i, a := range m[ppm] {
				es[i] = a.String()
			}
			if ppm >= 1e6 {
				fmt.Fprintf(&b, "\t\tip %s { %s } drop\n", field, strings.Join(es, ", "))
				continue
			}
			fmt.Fprintf(&b, "\t\tip %s { %s } numgen random mod 1000000 < %d drop\n", field, strings.Join(es, ", "), ppm)
		}
		b.WriteString("\t}\n")
	}
	chain("input", "input", "saddr", r.lossIn)
	chain("output", "output", "daddr", r.lossOut)
	b.WriteString("}\n")
	return b.String()
}

// shapeNode sets p's namespace to the shaping in force: it (re)opens the
// node's delayer when a pair needs it (closing the one of a previous
// run), gives it the pair table, then replaces the queue rules and the
// loss table. sh.mu is held.
func (c *Cluster) shapeNode(ctx context.Context, sh *shaper, p *Process) error {
	pid := p.Pid()
	a := c.Addr(p.node)
	r := c.nodeShapeRules(a, sh.pairs)
	ns := sh.nodes[p.node]
	if ns != nil && ns.pid != pid {
		if ns.d != nil {
			ns.d.Close()
		}
		ns = nil
		delete(sh.nodes, p.node)
	}
	if ns == nil {
		ns = &nodeShaper{pid: pid}
		sh.nodes[p.node] = ns
		// The delayer of this run goes when the run does (its
		// namespace would otherwise live on, held by the socket).
		done := p.Done()
		go func() {
			<-done
			sh.mu.Lock()
			defer sh.mu.Unlock()
			if cur := sh.nodes[p.node]; cur == ns {
				if ns.d != nil {
					ns.d.Close()
				}
				delete(sh.nodes, p.node)
			}
		}()
	}
	if r.anyDelay && ns.d == nil {
		d, err := local.OpenPacketDelayer(netns(pid), shaperQueue, rand.Uint64())
		if err != nil {
			return err
		}
		ns.d = d
	}
	if ns.d != nil {
		if err := ns.d.Err(); err != nil {
			return fmt.Errorf("the delayer stopped: %w", err)
		}
		ns.d.SetPairs(sh.pairs)
	}
	if _, err := local.RunInNetns(ctx, netns(pid), local.Command{Path: sh.ipt + "-restore", Stdin: strings.NewReader(r.iptablesScript(a))}); err != nil {
		return fmt.Errorf("delay rules: %w", err)
	}
	if _, err := nft(ctx, pid, r.nftScript(), "-f", "-"); err != nil {
		return fmt.Errorf("loss rules: %w", err)
	}
	return nil
}

// closeShaper closes every delayer (Close calls it before it removes the
// containers).
func (c *Cluster) closeShaper() {
	c.shapeMu.Lock()
	sh := c.sh
	c.shapeMu.Unlock()
	if sh == nil {
		return
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.closed = true
	for n, ns := range sh.nodes {
		if ns.d != nil {
			ns.d.Close()
		}
		delete(sh.nodes, n)
	}
}

// ShaperStats sums the counters of the nodes' delayers open now.
func (c *Cluster) ShaperStats() local.ShaperStats {
	c.shapeMu.Lock()
	sh := c.sh
	c.shapeMu.Unlock()
	var st local.ShaperStats
	if sh == nil {
		return st
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, ns := range sh.nodes {
		if ns.d != nil {
			s := ns.d.Stats()
			st.Queued += s.Queued
			st.Delayed += s.Delayed
		}
	}
	return st
}

// MeasureRTT sends local.RTTProbes ICMP echoes from node a's namespace
// (the host's, for cluster.Controller) to node b and measures their round
// trips.
func (c *Cluster) MeasureRTT(ctx context.Context, a, b string) (cluster.RTT, error) {
	dst := c.Addr(b)
	if !c.Addr(a).IsValid() || !dst.IsValid() {
		return cluster.RTT{}, fmt.Errorf("docker: rtt %s->%s: unknown node", a, b)
	}
	ns := ""
	if a != cluster.Controller {
		p, err := c.proc(a)
		if err != nil {
			return cluster.RTT{}, fmt.Errorf("docker: rtt %s->%s: %w", a, b, err)
		}
		if !p.Running() || p.Pid() == 0 {
			return cluster.RTT{}, fmt.Errorf("docker: rtt %s->%s: %s is not running", a, b, a)
		}
		ns = netns(p.Pid())
	}
	r, err := local.MeasureRTTFrom(ctx, ns, dst)
	if err != nil {
		return r, fmt.Errorf("docker: rtt %s->%s: %w", a, b, err)
	}
	return r, nil
}
