//go:build linux

// Package local runs a cluster's nodes as network namespaces on this
// machine.
//
// Layout: a dedicated "switch" namespace holds a bridge; every node is a
// namespace with lo up and one veth leg to the bridge, an address
// Subnet.(10+i), IPv6 disabled and no default route, so nothing a node does
// can leak off the machine. The controller (the process calling this
// package, and its clients) sits in the root namespace on one more veth leg
// with address Subnet.1. The bridge lives in its own namespace rather than
// the root one so that the root iptables FORWARD chain (DROP when dockerd is
// installed) never sees node-to-node traffic.
//
// Processes are started as direct children of the controller, inside the
// node's namespace, in their own process group and their own cgroup v2
// (below a per-node cgroup), with stdout and stderr to a log file. Faults:
// Kill/Restart (cgroup.kill plus SIGKILL to the process group), Pause/Resume
// (cgroup v2 freezer), Partition/HealNetwork (one nftables bridge table in
// the switch namespace), Shape/Unshape (delay by a userspace shaper on a
// netfilter queue, loss by nft numgen; see shaper.go) and SetClockOffset
// (libfaketime, optional).
//
// Every resource is written to a journal before it is created, so that
// HealAll can remove whatever a crashed controller left behind.
//
// It needs root, iproute2, nftables and a cgroup v2 mount; Probe says what
// is missing.
//
// Runtime and Hosts make it a cluster.Runtime, the seam targets deploy
// through: targets never import this package (only the wiring layer,
// cluster/runtimes and cmd/chaoscheck, and tests do). ProcessSpec is
// cluster.NodeSpec and Command is cluster.Command.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/internal/scratch"
)

// DefaultSubnet is the private /24 used between the namespaces when
// Config.Subnet is not set.
var DefaultSubnet = netip.MustParsePrefix("10.77.0.0/24")

// DefaultJournalDir is where journals are written when Config.JournalDir is
// empty; HealAll reads it when given an empty directory.
const DefaultJournalDir = scratch.DefaultJournalDir

// MaxNodes is the largest node count: node addresses are .11 to .(10+n) of a
// /24.
const MaxNodes = 200

// Timeouts bounding the waits of this package. Each is also bounded by the
// caller's context.
const (
	// CleanupTimeout bounds Down and HealAll, which run even when the
	// caller's context is already cancelled.
	CleanupTimeout = cluster.CloseTimeout
	// CommandTimeout bounds a single ip or nft invocation.
	CommandTimeout = 10 * time.Second
	// KillTimeout bounds waiting for killed processes to be gone.
	KillTimeout = 10 * time.Second
	// FreezeTimeout bounds waiting for cgroup.events to confirm a freeze or
	// thaw.
	FreezeTimeout = 5 * time.Second
)

// Config describes a local cluster.
type Config struct {
	// Prefix starts the name of every namespace, veth, cgroup and journal
	// of this cluster, so that a leftover is recognisable and two runs never
	// clash. 1 to 8 characters of [a-z0-9]. Empty: "cc" and 4 random hex
	// digits.
	Prefix string
	// Nodes is the number of nodes, named n1..nN (1 to MaxNodes).
	Nodes int
	// Subnet is the IPv4 /24 used between the namespaces. It must not be
	// used on this machine already, so two clusters running at the same
	// time need different subnets. Zero: DefaultSubnet.
	Subnet netip.Prefix
	// StateDir holds process logs, per-node clock files and whatever the
	// target keeps there (data directories). Empty: a new directory
	// chaoscheck-<Target>-<Prefix> under os.TempDir(). A directory that Up
	// creates is journaled before it exists and removed by Down (and by
	// HealAll after a crash) unless KeepStateDir; one that existed already
	// is never removed.
	StateDir string
	// KeepStateDir keeps the state directory Up creates after Down and
	// HealAll (chaoscheck test --keep-data).
	KeepStateDir bool
	// Target names the default state directory (empty: "local").
	Target string
	// ServerUID is the user the target's servers run as: when not 0, every
	// ancestor of the state directory must be searchable by others, which
	// Up checks.
	ServerUID uint32
	// JournalDir holds the journal of created resources. Empty:
	// DefaultJournalDir.
	JournalDir string
}

var prefixRE = regexp.MustCompile(`^[a-z0-9]{1,8}$`)

// Cluster is a running local cluster. Its methods are safe for concurrent
// use. It implements cluster.Cluster, cluster.Killer, cluster.Pauser,
// cluster.Partitioner and cluster.ClockSkewer.
type Cluster struct {
	cfg      Config
	names    []string
	nodes    map[string]*node
	switchNS string
	rootVeth string
	ctrlAddr netip.Addr
	cgRoot   string // cgroup2 mount point
	cgDir    string // this cluster's cgroup: cgRoot/prefix
	faketime string // libfaketime path, "" if missing
	jr       *journal
	release  func() // drops the claim on an automatically chosen subnet
	// removeDir: Up created the state dir and Down removes it.
	removeDir bool
	// execSeq numbers the cgroups of Exec.
	execSeq atomic.Int64

	// shapeMu guards sh, the delay and loss shaper (nil until first
	// used).
	shapeMu sync.Mutex
	sh      *shaper

	mu     sync.Mutex
	closed bool
}

type node struct {
	name  string
	ns    string
	addr  netip.Addr
	cg    string // node cgroup directory
	clock string // libfaketime timestamp file

	mu     sync.Mutex
	procs  []*Process
	paused bool
}

var (
	_ cluster.Cluster     = (*Cluster)(nil)
	_ cluster.Killer      = (*Cluster)(nil)
	_ cluster.Pauser      = (*Cluster)(nil)
	_ cluster.Partitioner = (*Cluster)(nil)
	_ cluster.ClockSkewer = (*Cluster)(nil)
	_ cluster.Shaper      = (*Cluster)(nil)
)

// RandomPrefix returns "cc" followed by 4 random hex digits.
func RandomPrefix() string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return "cc" + hex.EncodeToString(b[:])
}

// Up creates the cluster. On error, everything it created is removed.
func Up(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = RandomPrefix()
	}
	if !prefixRE.MatchString(cfg.Prefix) {
		return nil, fmt.Errorf("local: prefix %q: want 1 to 8 characters of [a-z0-9]", cfg.Prefix)
	}
	if cfg.Nodes < 1 || cfg.Nodes > MaxNodes {
		return nil, fmt.Errorf("local: %d nodes: want 1 to %d", cfg.Nodes, MaxNodes)
	}
	autoSubnet := !cfg.Subnet.IsValid()
	if autoSubnet {
		cfg.Subnet = DefaultSubnet
	}
	if !cfg.Subnet.Addr().Is4() || cfg.Subnet.Bits() != 24 {
		return nil, fmt.Errorf("local: subnet %v: want an IPv4 /24", cfg.Subnet)
	}
	cfg.Subnet = cfg.Subnet.Masked()
	if cfg.JournalDir == "" {
		cfg.JournalDir = DefaultJournalDir
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("local: must run as root (network namespaces, nftables, cgroups)")
	}
	release := func() {}
	if autoSubnet {
		p, rel, err := claimSubnet(cfg.JournalDir)
		if err != nil {
			return nil, err
		}
		cfg.Subnet, release = p, rel
	} else if err := subnetFree(cfg.Subnet); err != nil {
		return nil, err
	}
	cgRoot, err := cgroup2Mount()
	if err != nil {
		release()
		return nil, err
	}
	jr, err := newJournal(cfg.JournalDir, cfg.Prefix)
	if err != nil {
		release()
		return nil, err
	}
	// The state directory is the first resource: journaled, then created.
	dir, removeDir, err := createStateDir(jr, cfg)
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
		defer cancel()
		_, herr := healJournal(cctx, jr.path, true)
		release()
		return nil, errors.Join(fmt.Errorf("local: %w", err), herr)
	}
	cfg.StateDir = dir
	c := &Cluster{
		cfg:      cfg,
		nodes:    make(map[string]*node),
		switchNS: cfg.Prefix + "-sw",
		rootVeth: cfg.Prefix + "-c",
		ctrlAddr: addrAt(cfg.Subnet, 1),
		cgRoot:   cgRoot,
		cgDir:    filepath.Join(cgRoot, cfg.Prefix),
		faketime: findFaketime(),
		jr:       jr,
		release:  release,
	}
	c.removeDir = removeDir
	for i := 1; i <= cfg.Nodes; i++ {
		n := &node{
			name:  fmt.Sprintf("n%d", i),
			ns:    fmt.Sprintf("%s-n%d", cfg.Prefix, i),
			addr:  addrAt(cfg.Subnet, 10+i),
			clock: filepath.Join(cfg.StateDir, "clock", fmt.Sprintf("n%d", i)),
		}
		n.cg = filepath.Join(c.cgDir, n.name)
		c.names = append(c.names, n.name)
		c.nodes[n.name] = n
	}
	if err := c.up(ctx); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
		defer cancel()
		_, herr := healJournal(cctx, jr.path, true)
		release()
		return nil, errors.Join(fmt.Errorf("local: up: %w", err), herr)
	}
	return c, nil
}

// up creates the resources, journaling each before creating it.
func (c *Cluster) up(ctx context.Context) error {
	jr := c.jr
	if err := jr.update(func(j *journalData) {
		j.Subnet = c.cfg.Subnet.String()
		j.CgroupDir = c.cgDir
	}); err != nil {
		return err
	}
	// Switch namespace with the bridge.
	if err := jr.update(func(j *journalData) { j.Namespaces = append(j.Namespaces, c.switchNS) }); err != nil {
		return err
	}
	if err := ip(ctx, "netns", "add", c.switchNS); err != nil {
		return err
	}
	if err := ip(ctx, "-n", c.switchNS, "link", "add", "br0", "type", "bridge"); err != nil {
		return err
	}
	if err := ip(ctx, "-n", c.switchNS, "link", "set", "br0", "up"); err != nil {
		return err
	}
	if err := ip(ctx, "-n", c.switchNS, "link", "set", "lo", "up"); err != nil {
		return err
	}
	// Controller leg: root side in the root namespace, peer on the bridge.
	if err := jr.update(func(j *journalData) { j.RootVeths = append(j.RootVeths, c.rootVeth) }); err != nil {
		return err
	}
	if err := ip(ctx, "link", "add", c.rootVeth, "type", "veth", "peer", "name", c.cfg.Prefix+"-cs", "netns", c.switchNS); err != nil {
		return err
	}
	if err := c.attach(ctx, c.cfg.Prefix+"-cs"); err != nil {
		return err
	}
	if err := ip(ctx, "addr", "add", prefixString(c.ctrlAddr), "dev", c.rootVeth); err != nil {
		return err
	}
	if err := ip(ctx, "link", "set", c.rootVeth, "up"); err != nil {
		return err
	}
	// Nodes.
	for i, name := range c.names {
		n := c.nodes[name]
		if err := jr.update(func(j *journalData) { j.Namespaces = append(j.Namespaces, n.ns) }); err != nil {
			return err
		}
		if err := ip(ctx, "netns", "add", n.ns); err != nil {
			return err
		}
		if err := c.disableIPv6(ctx, n.ns); err != nil {
			return err
		}
		if err := ip(ctx, "-n", n.ns, "link", "set", "lo", "up"); err != nil {
			return err
		}
		br := fmt.Sprintf("%s-%d", c.cfg.Prefix, i+1)
		if err := ip(ctx, "-n", n.ns, "link", "add", "eth0", "type", "veth", "peer", "name", br, "netns", c.switchNS); err != nil {
			return err
		}
		if err := c.attach(ctx, br); err != nil {
			return err
		}
		if err := ip(ctx, "-n", n.ns, "addr", "add", prefixString(n.addr), "dev", "eth0"); err != nil {
			return err
		}
		if err := ip(ctx, "-n", n.ns, "link", "set", "eth0", "up"); err != nil {
			return err
		}
	}
	// Partition table.
	if err := jr.update(func(j *journalData) {
		j.NftTables = append(j.NftTables, nftTableRef{NS: c.switchNS, Family: "bridge", Name: nftTable})
	}); err != nil {
		return err
	}
	if err := c.nft(ctx, nftInitScript()); err != nil {
		return err
	}
	// Cgroups and clock files.
	if err := jr.update(func(j *journalData) {
		j.Cgroups = append(j.Cgroups, c.cgDir)
		for _, name := range c.names {
			j.Cgroups = append(j.Cgroups, c.nodes[name].cg)
		}
	}); err != nil {
		return err
	}
	if err := os.Mkdir(c.cgDir, 0o755); err != nil {
		return fmt.Errorf("cgroup %s: %w", c.cgDir, err)
	}
	if err := os.MkdirAll(filepath.Join(c.cfg.StateDir, "clock"), 0o755); err != nil {
		return fmt.Errorf("clock dir: %w", err)
	}
	for _, name := range c.names {
		n := c.nodes[name]
		if err := os.Mkdir(n.cg, 0o755); err != nil {
			return fmt.Errorf("cgroup %s: %w", n.cg, err)
		}
		if err := writeFileAtomic(n.clock, []byte("+0\n")); err != nil {
			return fmt.Errorf("clock file: %w", err)
		}
	}
	return nil
}

// attach puts a switch-side veth on the bridge and brings it up.
func (c *Cluster) attach(ctx context.Context, dev string) error {
	if err := ip(ctx, "-n", c.switchNS, "link", "set", dev, "master", "br0"); err != nil {
		return err
	}
	return ip(ctx, "-n", c.switchNS, "link", "set", dev, "up")
}

// disableIPv6 turns IPv6 off in a node namespace, so that IPv4 partition
// rules cover all of its traffic.
func (c *Cluster) disableIPv6(ctx context.Context, ns string) error {
	return runIn(ctx, ns, "", "sysctl", "-q", "-w",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
}

// Nodes returns the node names n1..nN.
func (c *Cluster) Nodes() []string { return append([]string(nil), c.names...) }

// Addr returns the node's address, or the invalid Addr for an unknown node.
// Addr(cluster.Controller) is the controller leg's address.
func (c *Cluster) Addr(name string) netip.Addr {
	if name == cluster.Controller {
		return c.ctrlAddr
	}
	if n, ok := c.nodes[name]; ok {
		return n.addr
	}
	return netip.Addr{}
}

// Namespace returns the name of the node's network namespace (usable with
// `ip netns exec`), or "" for an unknown node.
func (c *Cluster) Namespace(name string) string {
	if n, ok := c.nodes[name]; ok {
		return n.ns
	}
	return ""
}

// Prefix returns the prefix of every resource name of this cluster.
func (c *Cluster) Prefix() string { return c.cfg.Prefix }

// StateDir returns the directory holding logs and clock files.
func (c *Cluster) StateDir() string { return c.cfg.StateDir }

// KeptStateDir returns the state directory if it stays after Down
// (Config.KeepStateDir, or a directory that existed before Up), "" if
// Down removes it.
func (c *Cluster) KeptStateDir() string {
	if c.removeDir {
		return ""
	}
	return c.cfg.StateDir
}

// DescribeStateDir is the state directory for a report: its path and
// whether it stays after Down.
func (c *Cluster) DescribeStateDir() string {
	if c.removeDir {
		return c.cfg.StateDir + " (removed when the cluster is taken down; logs are copied into the run directory)"
	}
	return c.cfg.StateDir + " (kept after the run)"
}

// Down kills every process (helper commands too) and removes every
// namespace, veth, nft table and cgroup, checks that no process still
// uses the state directory, removes the state directory unless it is kept
// (see KeptStateDir), then deletes the journal. It runs under
// context.WithoutCancel bounded by CleanupTimeout, so it completes after
// a cancellation too. Copy what you need out of the state dir (logs)
// before.
func (c *Cluster) Down(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
	defer cancel()
	var errs []error
	// Kill first so that Wait goroutines reap the children and close logs.
	for _, name := range c.names {
		if err := c.Kill(ctx, name); err != nil {
			errs = append(errs, err)
		}
	}
	// Release the held packets and the queue before the namespaces go.
	c.stopShaper()
	// From here on nothing may be created, and the journal file is never
	// written again (it is deleted below).
	c.jr.close()
	_, err := healJournal(ctx, c.jr.path, true)
	errs = append(errs, err)
	c.release()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("local: down %s: %w", c.cfg.Prefix, err)
	}
	return nil
}

func (c *Cluster) node(name string) (*node, error) {
	n, ok := c.nodes[name]
	if !ok {
		return nil, fmt.Errorf("local: unknown node %q", name)
	}
	return n, nil
}

func (c *Cluster) checkOpen() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("local: cluster is down")
	}
	return nil
}

// addrAt returns the host'th address of a /24.
func addrAt(p netip.Prefix, host int) netip.Addr {
	b := p.Addr().As4()
	b[3] = byte(host)
	return netip.AddrFrom4(b)
}

func prefixString(a netip.Addr) string { return netip.PrefixFrom(a, 24).String() }

// subnetFree fails if an interface of the root namespace already has an
// address in p: the connected route of the controller leg would clash.
func subnetFree(p netip.Prefix) error {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return fmt.Errorf("local: list addresses: %w", err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if ad, ok := netip.AddrFromSlice(ipn.IP); ok && p.Contains(ad.Unmap()) {
			return fmt.Errorf("local: subnet %v is already in use on this machine (address %v): choose another Config.Subnet", p, ad)
		}
	}
	return nil
}

// ip runs the ip command with a bounded time.
func ip(ctx context.Context, args ...string) error {
	return run(ctx, "", "ip", args...)
}

// run runs a command in the current (root) namespace with a bounded time
// and returns an error carrying its output on failure.
func run(ctx context.Context, stdin, name string, args ...string) error {
	return runIn(ctx, "", stdin, name, args...)
}

// output runs a command in namespace ns ("" for the current one) and
// returns its standard output.
func output(ctx context.Context, ns, name string, args ...string) ([]byte, error) {
	out, err := runCommand(ctx, Command{Path: name, Args: args}, ns, nil)
	if err != nil {
		return nil, nsError(ns, err)
	}
	return out, nil
}

// runIn runs a command inside network namespace ns ("" for the current
// one), feeding it stdin, with a bounded time.
func runIn(ctx context.Context, ns, stdin, name string, args ...string) error {
	cmd := Command{Path: name, Args: args}
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	_, err := runCommand(ctx, cmd, ns, nil)
	return nsError(ns, err)
}

// nsError adds the namespace to a command's error.
func nsError(ns string, err error) error {
	if err == nil || ns == "" {
		return err
	}
	return fmt.Errorf("netns %s: %w", ns, err)
}

// startInNetns starts cmd inside the named network namespace: it enters
// the namespace on a locked OS thread and forks from there, so the child
// (and only it) is in the namespace and its pid is the command's own.
// The thread is never unlocked: it dies with its goroutine instead of going
// back to the scheduler in the wrong namespace. cmd must not use Pdeathsig,
// which would fire when that thread exits.
func startInNetns(ns string, cmd *exec.Cmd) error {
	f, err := os.Open(filepath.Join("/run/netns", ns))
	if err != nil {
		return fmt.Errorf("open netns %s: %w", ns, err)
	}
	defer f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if _, _, e := syscall.RawSyscall(sysSetns, f.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
			errc <- fmt.Errorf("setns %s: %w", ns, e)
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// writeFileAtomic replaces path's content so a reader sees the old or the
// new content, never a mix.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
