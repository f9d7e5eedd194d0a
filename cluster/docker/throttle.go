//go:build linux

package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/local"
)

// Bandwidth on the docker runtime: a token bucket (tbf) on eth0 in the
// node's network namespace, which limits what the node sends (what it
// receives would need the host-side end of its veth, in the host's
// namespace, which this runtime leaves alone). The qdisc dies with the
// container; a restarted node gets its limit in its new namespace before
// Restart returns.

var _ cluster.Throttler = (*Cluster)(nil)

// Throttle limits what node sends to rate bytes per second, replacing a
// previous limit; a node not running gets it when it starts.
func (c *Cluster) Throttle(ctx context.Context, node string, rate int64) error {
	if rate <= 0 {
		return fmt.Errorf("docker: throttle %s: rate %d: want more than 0 bytes/s", node, rate)
	}
	p, err := c.proc(node)
	if err != nil {
		return err
	}
	sh := c.shaperOf()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.rates == nil {
		sh.rates = map[string]int64{}
	}
	sh.rates[node] = rate
	if !p.Running() || p.Pid() == 0 {
		return nil
	}
	if _, err := local.RunInNetns(ctx, netns(p.Pid()), local.Command{Path: "tc", Args: local.TbfArgs("eth0", rate)}); err != nil && !gone(p.Pid()) {
		return fmt.Errorf("docker: throttle %s: %w", node, err)
	}
	return nil
}

// Unthrottle removes node's limit and checks that it is gone.
func (c *Cluster) Unthrottle(ctx context.Context, node string) error {
	p, err := c.proc(node)
	if err != nil {
		return err
	}
	sh := c.shaperOf()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.rates[node]; !ok {
		return nil
	}
	delete(sh.rates, node)
	if !p.Running() || p.Pid() == 0 {
		return nil
	}
	pid := p.Pid()
	_, delErr := local.RunInNetns(ctx, netns(pid), local.Command{Path: "tc", Args: local.TcDelArgs("eth0")})
	out, err := local.RunInNetns(ctx, netns(pid), local.Command{Path: "tc", Args: []string{"qdisc", "show", "dev", "eth0", "root"}})
	if err != nil {
		if gone(pid) {
			return nil
		}
		return fmt.Errorf("docker: unthrottle %s: %w", node, err)
	}
	if strings.Contains(string(out), "tbf") {
		return fmt.Errorf("docker: unthrottle %s: tbf still there after delete (%v): %s", node, delErr, out)
	}
	return nil
}

// rethrottle applies node p's limit, if any, to its (new) namespace;
// sh.mu is held (reshape calls it).
func (c *Cluster) rethrottle(ctx context.Context, sh *shaper, p *Process) error {
	rate, ok := sh.rates[p.node]
	if !ok {
		return nil
	}
	if _, err := local.RunInNetns(ctx, netns(p.Pid()), local.Command{Path: "tc", Args: local.TbfArgs("eth0", rate)}); err != nil {
		return fmt.Errorf("bandwidth limit: %w", err)
	}
	return nil
}

// MeasureThroughput sends data from node a to node b over one TCP
// connection for cluster.ThroughputProbe (sockets of this process made
// in the two containers' namespaces).
func (c *Cluster) MeasureThroughput(ctx context.Context, a, b string) (cluster.Throughput, error) {
	ns := func(n string) (string, error) {
		p, err := c.proc(n)
		if err != nil {
			return "", err
		}
		if !p.Running() || p.Pid() == 0 {
			return "", fmt.Errorf("%s is not running", n)
		}
		return netns(p.Pid()), nil
	}
	na, errA := ns(a)
	nb, errB := ns(b)
	if err := errors.Join(errA, errB); err != nil {
		return cluster.Throughput{}, fmt.Errorf("docker: throughput %s->%s: %w", a, b, err)
	}
	t, err := local.MeasureThroughputBetween(ctx, na, nb, c.Addr(b), cluster.ThroughputProbe)
	if err != nil {
		return t, fmt.Errorf("docker: throughput %s->%s: %w", a, b, err)
	}
	return t, nil
}
