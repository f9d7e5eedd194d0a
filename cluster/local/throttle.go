//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"golang.org/x/sys/unix"
)

// Bandwidth on the local runtime: a token bucket (tbf) on both ends of
// the node's veth, eth0 in its namespace (what it sends) and its port in
// the switch namespace (what it receives). The qdiscs live on the veth,
// which goes with the namespaces: nothing to journal beyond them.

var _ cluster.Throttler = (*Cluster)(nil)

// ProbeThrottle says whether bandwidth limits can work: the tc command
// (the kernel's tbf is checked when a limit is set). nil: they can.
func ProbeThrottle() error {
	if _, err := exec.LookPath("tc"); err != nil {
		return errors.New("bandwidth limits need the tc command (install Debian package iproute2)")
	}
	return nil
}

// TbfArgs are the tc arguments that replace dev's root qdisc with a
// token bucket of rate bytes per second: a burst of 10 ms of the rate (at
// least 2 full-size packets) and a queue of 200 ms at the rate (at least
// the burst and 2 packets more), which TCP's congestion control keeps
// from overflowing.
func TbfArgs(dev string, rate int64) []string {
	burst := max(rate/100, 2*1514)
	limit := max(rate/5, burst+2*1514)
	return []string{"qdisc", "replace", "dev", dev, "root", "tbf",
		"rate", strconv.FormatInt(rate*8, 10) + "bit", "burst", strconv.FormatInt(burst, 10), "limit", strconv.FormatInt(limit, 10)}
}

// TcDelArgs remove dev's root qdisc.
func TcDelArgs(dev string) []string { return []string{"qdisc", "del", "dev", dev, "root"} }

// switchPort is the switch-side end of node's veth.
func (c *Cluster) switchPort(node string) (string, error) {
	for i, n := range c.names {
		if n == node {
			return fmt.Sprintf("%s-%d", c.cfg.Prefix, i+1), nil
		}
	}
	return "", fmt.Errorf("local: unknown node %q", node)
}

// Throttle limits what node sends and receives to rate bytes per second
// (a tbf on each end of its veth), replacing a previous limit.
func (c *Cluster) Throttle(ctx context.Context, node string, rate int64) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	if rate <= 0 {
		return fmt.Errorf("local: throttle %s: rate %d: want more than 0 bytes/s", node, rate)
	}
	n, err := c.node(node)
	if err != nil {
		return err
	}
	port, err := c.switchPort(node)
	if err != nil {
		return err
	}
	if err := runIn(ctx, n.ns, "", "tc", TbfArgs("eth0", rate)...); err != nil {
		return fmt.Errorf("local: throttle %s: %w", node, err)
	}
	if err := runIn(ctx, c.switchNS, "", "tc", TbfArgs(port, rate)...); err != nil {
		return fmt.Errorf("local: throttle %s: %w", node, err)
	}
	return nil
}

// Unthrottle removes node's limit (both ends).
func (c *Cluster) Unthrottle(ctx context.Context, node string) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	n, err := c.node(node)
	if err != nil {
		return err
	}
	port, err := c.switchPort(node)
	if err != nil {
		return err
	}
	var errs []error
	for _, x := range []struct{ ns, dev string }{{n.ns, "eth0"}, {c.switchNS, port}} {
		if err := unthrottleDev(ctx, "/run/netns/"+x.ns, x.dev); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("local: unthrottle %s: %w", node, err)
	}
	return nil
}

// unthrottleDev removes dev's root qdisc in the namespace at nsPath, and
// checks that none is left (deleting a default qdisc fails: that is
// nothing to remove).
func unthrottleDev(ctx context.Context, nsPath, dev string) error {
	_, delErr := RunInNetns(ctx, nsPath, Command{Path: "tc", Args: TcDelArgs(dev)})
	out, err := RunInNetns(ctx, nsPath, Command{Path: "tc", Args: []string{"qdisc", "show", "dev", dev, "root"}})
	if err != nil {
		return err
	}
	if s := string(out); len(s) > 0 && containsWord(s, "tbf") {
		return fmt.Errorf("%s: tbf still there after delete (%v): %s", dev, delErr, s)
	}
	return nil
}

func containsWord(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i:i+len(w)] == w && (i == 0 || s[i-1] == ' ') && (i+len(w) == len(s) || s[i+len(w)] == ' ') {
			return true
		}
	}
	return false
}

// MeasureThroughput sends data from node a to node b over one TCP
// connection for cluster.ThroughputProbe (MeasureThroughputBetween).
func (c *Cluster) MeasureThroughput(ctx context.Context, a, b string) (cluster.Throughput, error) {
	if err := c.checkOpen(); err != nil {
		return cluster.Throughput{}, err
	}
	na, err := c.node(a)
	if err != nil {
		return cluster.Throughput{}, err
	}
	nb, err := c.node(b)
	if err != nil {
		return cluster.Throughput{}, err
	}
	t, err := MeasureThroughputBetween(ctx, "/run/netns/"+na.ns, "/run/netns/"+nb.ns, nb.addr, cluster.ThroughputProbe)
	if err != nil {
		return t, fmt.Errorf("local: throughput %s->%s: %w", a, b, err)
	}
	return t, nil
}

// MeasureThroughputBetween listens on dst (port chosen by the kernel) in
// the network namespace at nsB, connects to it from one at nsA, sends for
// d (at most cluster.ThroughputProbeBytes), and returns what the listener received in the time from the first
// byte sent to the last received. The sockets are this process's, made
// in the namespaces; the connection is closed before it returns.
func MeasureThroughputBetween(ctx context.Context, nsA, nsB string, dst netip.Addr, d time.Duration) (cluster.Throughput, error) {
	lfd, err := socketIn(nsB, unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return cluster.Throughput{}, fmt.Errorf("listen socket: %w", err)
	}
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: dst.As4()}); err != nil {
		unix.Close(lfd)
		return cluster.Throughput{}, fmt.Errorf("bind %v: %w", dst, err)
	}
	if err := unix.Listen(lfd, 1); err != nil {
		unix.Close(lfd)
		return cluster.Throughput{}, err
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		unix.Close(lfd)
		return cluster.Throughput{}, err
	}
	port := sa.(*unix.SockaddrInet4).Port
	lf := os.NewFile(uintptr(lfd), "throughput-listener")
	ln, err := net.FileListener(lf)
	lf.Close()
	if err != nil {
		return cluster.Throughput{}, err
	}
	defer ln.Close()

	cfd, err := socketIn(nsA, unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return cluster.Throughput{}, fmt.Errorf("dial socket: %w", err)
	}
	// A small send buffer, so that what is still queued when the sending
	// stops drains in well under a second at a throttled rate.
	_ = unix.SetsockoptInt(cfd, unix.SOL_SOCKET, unix.SO_SNDBUF, 64<<10)
	// A blocking connect, bounded by a send timeout on the socket.
	tv := unix.NsecToTimeval((5 * time.Second).Nanoseconds())
	_ = unix.SetsockoptTimeval(cfd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	if err := unix.Connect(cfd, &unix.SockaddrInet4{Addr: dst.As4(), Port: port}); err != nil {
		unix.Close(cfd)
		return cluster.Throughput{}, fmt.Errorf("connect %v:%d: %w", dst, port, err)
	}
	_ = unix.SetsockoptTimeval(cfd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &unix.Timeval{})
	cf := os.NewFile(uintptr(cfd), "throughput-sender")
	conn, err := net.FileConn(cf)
	cf.Close()
	if err != nil {
		return cluster.Throughput{}, err
	}
	defer conn.Close()

	type result struct {
		n    int64
		last time.Time
		err  error
	}
	deadline := time.Now().Add(d + 5*time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = ln.(*net.TCPListener).SetDeadline(deadline)
	got := make(chan result, 1)
	go func() {
		rc, err := ln.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer rc.Close()
		_ = rc.SetReadDeadline(deadline)
		buf := make([]byte, 64<<10)
		var r result
		for {
			k, err := rc.Read(buf)
			if k > 0 {
				r.n += int64(k)
				r.last = time.Now()
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					r.err = err
				}
				got <- r
				return
			}
		}
	}()
	buf := make([]byte, 16<<10)
	start := time.Now()
	stop := start.Add(d)
	_ = conn.SetWriteDeadline(stop)
	for sent := 0; sent < cluster.ThroughputProbeBytes && time.Now().Before(stop) && ctx.Err() == nil; sent += len(buf) {
		if _, err := conn.Write(buf); err != nil {
			break // the deadline: what is queued still arrives
		}
	}
	// Let what was sent arrive, then end the stream.
	_ = conn.SetWriteDeadline(time.Time{})
	_ = conn.(*net.TCPConn).CloseWrite()
	var r result
	select {
	case r = <-got:
	case <-ctx.Done():
		return cluster.Throughput{}, ctx.Err()
	}
	if r.err != nil && r.n == 0 {
		return cluster.Throughput{}, r.err
	}
	if r.n == 0 {
		return cluster.Throughput{}, nil
	}
	return cluster.Throughput{Bytes: r.n, Elapsed: r.last.Sub(start)}, nil
}
