package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// Cluster is the simulated cluster: the nodes and the network between
// them and the controller. It is the Deployment's cluster.Cluster and
// implements every fault: cluster.Killer, cluster.Pauser,
// cluster.Partitioner and cluster.ClockSkewer. Its methods are safe for
// concurrent use and take effect at once; ctx is only checked on entry.
type Cluster struct {
	cfg    Config // with defaults
	nodes  []*node
	byName map[string]*node
	names  []string
	net    *network
}

var (
	_ cluster.Cluster     = (*Cluster)(nil)
	_ cluster.Killer      = (*Cluster)(nil)
	_ cluster.Pauser      = (*Cluster)(nil)
	_ cluster.Partitioner = (*Cluster)(nil)
	_ cluster.ClockSkewer = (*Cluster)(nil)
)

// newCluster starts cfg's nodes; cfg has its defaults and is valid.
func newCluster(cfg Config) *Cluster {
	c := &Cluster{
		cfg:    cfg,
		byName: make(map[string]*node, cfg.Nodes),
		net:    newNetwork(cfg.Seed, cfg.NetworkLatency),
	}
	now := time.Now()
	for i := range cfg.Nodes {
		n := newNode(fmt.Sprintf("n%d", i+1), i, cfg, now)
		c.nodes = append(c.nodes, n)
		c.byName[n.name] = n
		c.names = append(c.names, n.name)
	}
	if cfg.Regions > 1 && !cfg.regionLink().IsZero() {
		c.net.setLayer(RegionsLayer, c.regionLinks(cfg.regionLink()), c.names)
	}
	return c
}

// Nodes returns n1..nN.
func (c *Cluster) Nodes() []string { return append([]string(nil), c.names...) }

// node finds a node by name, after checking ctx.
func (c *Cluster) node(ctx context.Context, name string) (*node, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := c.byName[name]
	if n == nil {
		return nil, fmt.Errorf("sim: unknown node %q (nodes are %v)", name, c.names)
	}
	return n, nil
}

// seesUp reports whether observer's failure detector considers peer up:
// peer is running and its messages reach observer.
func (c *Cluster) seesUp(observer, peer *node) bool {
	return peer.isUp() && !c.net.drops(peer.name, observer.name)
}

// Kill crashes node: it stops answering, every message it held or that is
// on its way to it is lost, requests it was coordinating never answer,
// and, with LoseUnflushedOnKill, it forgets the writes it had not flushed.
// Clients whose coordinator it is get ErrConnectionRefused. Killing a dead
// node does nothing.
func (c *Cluster) Kill(ctx context.Context, name string) error {
	n, err := c.node(ctx, name)
	if err != nil {
		return err
	}
	n.kill(time.Now())
	return nil
}

// Restart starts a killed node again with the data it kept. Restarting a
// running node does nothing.
func (c *Cluster) Restart(ctx context.Context, name string) error {
	n, err := c.node(ctx, name)
	if err != nil {
		return err
	}
	if n.restart(time.Now()) {
		c.replayHints()
	}
	return nil
}

// Pause freezes node (SIGSTOP): it keeps every message it receives or
// would send until resumed, so requests involving it time out while other
// nodes still believe it is up. Pausing a killed node is an error.
func (c *Cluster) Pause(ctx context.Context, name string) error {
	n, err := c.node(ctx, name)
	if err != nil {
		return err
	}
	if !n.pause() {
		return fmt.Errorf("sim: cannot pause %s: it is down", name)
	}
	return nil
}

// Resume thaws a paused node, which then processes the messages it held:
// requests whose clients have long given up may take effect now. Resuming
// a node that is not paused does nothing.
func (c *Cluster) Resume(ctx context.Context, name string) error {
	n, err := c.node(ctx, name)
	if err != nil {
		return err
	}
	for _, f := range n.resume() {
		c.net.after(0, f)
	}
	c.replayHints()
	return nil
}

// Partition replaces the current partition with g: a message from src to
// dst is dropped, silently, when g.Drops(src, dst). cluster.Controller may
// appear in g to cut clients off from nodes.
func (c *Cluster) Partition(ctx context.Context, g cluster.Grudge) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cp := make(cluster.Grudge, len(g))
	for dst, srcs := range g {
		for _, name := range append([]string{dst}, srcs...) {
			if name != cluster.Controller && c.byName[name] == nil {
				return fmt.Errorf("sim: partition %v names unknown node %q (nodes are %v)", g, name, c.names)
			}
		}
		cp[dst] = append([]string(nil), srcs...)
	}
	c.net.setGrudge(cp)
	c.replayHints()
	return nil
}

// HealNetwork removes every partition.
func (c *Cluster) HealNetwork(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.net.setGrudge(cluster.Grudge{})
	c.replayHints()
	return nil
}

// SetClockOffset sets node's clock to real time plus offset. The clock
// stamps the writes the node coordinates, so a node whose clock is behind
// writes values that lose, under last-write-wins, to earlier writes.
func (c *Cluster) SetClockOffset(ctx context.Context, name string, offset time.Duration) error {
	n, err := c.node(ctx, name)
	if err != nil {
		return err
	}
	n.setOffset(offset)
	return nil
}

// replayHints has every running, unpaused node send the hints it holds
// for replicas it now sees up. A hint is sent once; if the partition
// drops it on the way, it is lost (anti-entropy is not simulated).
func (c *Cluster) replayHints() {
	for _, n := range c.nodes {
		hs, life := n.takeHints()
		var keep []hint
		for _, h := range hs {
			target := c.byName[h.target]
			if !c.seesUp(n, target) {
				keep = append(keep, h)
				continue
			}
			c.send(sender{n, life}, target.name, 0, func(life uint64) {
				target.apply(life, h.key, h.delta)
			})
		}
		if len(keep) > 0 {
			n.putHints(keep)
		}
	}
}

// close stops the cluster; see Deployment.Close.
func (c *Cluster) close(ctx context.Context) error { return c.net.close(ctx) }
