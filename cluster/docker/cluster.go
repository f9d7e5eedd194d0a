//go:build linux

package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/local"
)

// MaxNodes is the largest cluster Up brings up (addresses .11 to .210).
const MaxNodes = 200

// DefaultSubnets is where New looks for a /24 that no interface of this
// machine uses and the daemon accepts, when Spec.Subnet is not set (the
// local runtime uses 10.77.0.0/16).
var DefaultSubnets = netip.MustParsePrefix("10.78.0.0/16")

// Cluster is one run's nodes: containers on the run's internal network.
// Its methods are safe for concurrent use.
type Cluster struct {
	cli      *client.Client
	id       string // run id: network name, container name prefix
	netID    string
	subnet   netip.Prefix
	ctrl     netip.Addr // the bridge's address on the host: the controller
	image    string
	hostBins bool   // the image is this package's: mount HostMounts
	faketime string // the host's libfaketime ("": none, no clock skew)
	stateDir string
	ownDir   bool // Up created stateDir
	keepDir  bool
	labels   map[string]string
	names    []string

	mu     sync.Mutex
	nodes  map[string]*node
	grudge cluster.Grudge // the current partition, re-applied on Restart
	closed bool

	// shapeMu guards sh, the delay and loss (shaper.go; nil until the
	// first Shape).
	shapeMu sync.Mutex
	sh      *shaper
}

// node is one node: its address and, once started, its container.
type node struct {
	name string
	addr netip.Addr
	proc *Process // nil before Start
}

// Process is a node's main process: its container's. It stays valid
// across Kill and Restart.
type Process struct {
	c       *Cluster
	node    string
	spec    cluster.NodeSpec
	ctrID   string
	logFile string

	mu      sync.Mutex
	pid     int
	done    chan struct{}
	err     error
	logDone chan struct{}
}

// Node is the node the process runs on; Name its spec's name.
func (p *Process) Node() string { return p.node }
func (p *Process) Name() string { return p.spec.Name }

// Pid is the host pid of the current (or last) run.
func (p *Process) Pid() int { p.mu.Lock(); defer p.mu.Unlock(); return p.pid }

// Done is closed when the current run exits.
func (p *Process) Done() <-chan struct{} { p.mu.Lock(); defer p.mu.Unlock(); return p.done }

// Running reports whether the current run has not exited.
func (p *Process) Running() bool {
	select {
	case <-p.Done():
		return false
	default:
		return true
	}
}

// Err is the exit error of the current run once it has exited.
func (p *Process) Err() error { p.mu.Lock(); defer p.mu.Unlock(); return p.err }

// ContainerID is the process's container.
func (p *Process) ContainerID() string { return p.ctrID }

// newRunID returns a run id: "cc-<target>-<6 hex>".
func newRunID(target string) (string, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	t := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, strings.ToLower(target))
	if len(t) > 16 {
		t = t[:16]
	}
	if t == "" {
		t = "run"
	}
	return "cc-" + t + "-" + hex.EncodeToString(b), nil
}

// controllerLabel is LabelController's value for this process.
func controllerLabel() (string, error) {
	st, err := local.ProcStart(os.Getpid())
	if err != nil {
		return "", fmt.Errorf("docker: own start time: %w", err)
	}
	return fmt.Sprintf("%d:%d", os.Getpid(), st), nil
}

// addrAt is the address with last byte i in the /24 p.
func addrAt(p netip.Prefix, i int) netip.Addr {
	a := p.Addr().As4()
	a[3] = byte(i)
	return netip.AddrFrom4(a)
}

// New removes what dead runs left (HealAll), builds BaseImage if it is
// the image (image "") and missing, creates the run's internal network
// (on spec.Subnet, or the first free /24 of DefaultSubnets) and the state
// directory, and returns the cluster: nodes n1..nN with addresses
// Subnet.(10+i), the controller (this host) at Subnet.1. Containers are
// created by Start. On error, everything New created is removed.
func New(ctx context.Context, spec cluster.Spec, image string) (_ *Cluster, err error) {
	if spec.Nodes < 1 || spec.Nodes > MaxNodes {
		return nil, fmt.Errorf("docker: %d nodes: want 1 to %d", spec.Nodes, MaxNodes)
	}
	if spec.Subnet.IsValid() && (!spec.Subnet.Addr().Is4() || spec.Subnet.Bits() != 24) {
		return nil, fmt.Errorf("docker: subnet %v: want an IPv4 /24", spec.Subnet)
	}
	cli, err := Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			cli.Close()
		}
	}()
	if _, err := healAll(ctx, cli); err != nil {
		return nil, fmt.Errorf("docker: removing what dead runs left: %w", err)
	}
	img := image
	if img == "" {
		img = BaseImage
		if err := EnsureBaseImage(ctx, cli); err != nil {
			return nil, err
		}
	}
	ictx, icancel := context.WithTimeout(ctx, apiTimeout)
	in, err := cli.ImageInspect(ictx, img)
	icancel()
	if err != nil {
		return nil, fmt.Errorf("docker: image %s: %w", img, err)
	}
	hostBins := in.Config != nil && hostMounted(in.Config.Labels)
	id, err := newRunID(spec.Target)
	if err != nil {
		return nil, err
	}
	ctl, err := controllerLabel()
	if err != nil {
		return nil, err
	}
	c := &Cluster{cli: cli, id: id, image: img, hostBins: hostBins, faketime: local.FindFaketime(), keepDir: spec.KeepStateDir,
		labels: map[string]string{LabelRun: id, LabelController: ctl}, nodes: make(map[string]*node)}
	c.stateDir = spec.StateDir
	if c.stateDir == "" {
		c.stateDir = filepath.Join(os.TempDir(), "chaoscheck-"+id)
		c.ownDir = true
	}
	netLabels := map[string]string{LabelRun: id, LabelController: ctl}
	if c.ownDir && !c.keepDir {
		netLabels[LabelStateDir] = c.stateDir // named before it exists
	}
	if err := c.createNetwork(ctx, spec.Subnet, netLabels); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = c.Close(context.WithoutCancel(ctx))
		}
	}()
	if c.ownDir {
		if err := os.Mkdir(c.stateDir, 0o755); err != nil {
			return nil, fmt.Errorf("docker: state dir: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(c.stateDir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("docker: state dir: %w", err)
	}
	// In the containers the state dir's ancestors are the daemon's mount
	// points (mode 0755): only the directory itself can stop a server
	// that does not run as root.
	if st, err := os.Stat(c.stateDir); err != nil {
		return nil, fmt.Errorf("docker: state dir: %w", err)
	} else if spec.ServerUID != 0 && st.Mode().Perm()&0o001 == 0 {
		return nil, fmt.Errorf("docker: state dir %s (mode %v) is not searchable by uid %d, which the servers run as", c.stateDir, st.Mode().Perm(), spec.ServerUID)
	}
	for i := 1; i <= spec.Nodes; i++ {
		n := &node{name: "n" + strconv.Itoa(i), addr: addrAt(c.subnet, 10+i)}
		c.nodes[n.name] = n
		c.names = append(c.names, n.name)
	}
	return c, nil
}

// createNetwork creates the run's internal bridge network on subnet, or
// on the first /24 of DefaultSubnets the daemon accepts.
func (c *Cluster) createNetwork(ctx context.Context, subnet netip.Prefix, labels map[string]string) error {
	try := func(p netip.Prefix) error {
		cctx, cancel := context.WithTimeout(ctx, apiTimeout)
		defer cancel()
		resp, err := c.cli.NetworkCreate(cctx, c.id, network.CreateOptions{
			Driver:   "bridge",
			Internal: true,
			Labels:   labels,
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{
				Subnet: p.String(), Gateway: addrAt(p, 1).String(),
			}}},
		})
		if err != nil {
			return err
		}
		c.netID, c.subnet, c.ctrl = resp.ID, p, addrAt(p, 1)
		return nil
	}
	if subnet.IsValid() {
		if err := local.SubnetFree(subnet.Masked()); err != nil {
			return fmt.Errorf("docker: network %s: %w", c.id, err)
		}
		if err := try(subnet.Masked()); err != nil {
			return fmt.Errorf("docker: network %s on %v: %w", c.id, subnet, err)
		}
		return nil
	}
	base := DefaultSubnets.Addr().As4()
	var last error
	for i := 0; i < 256; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{base[0], base[1], byte(i), 0}), 24)
		if local.SubnetFree(p) != nil {
			continue // an address of this machine is in it
		}
		err := try(p)
		if err == nil {
			return nil
		}
		last = err
		if !strings.Contains(err.Error(), "overlaps") {
			return fmt.Errorf("docker: network %s on %v: %w", c.id, p, err)
		}
	}
	return fmt.Errorf("docker: no free /24 in %v for network %s: %w", DefaultSubnets, c.id, last)
}

// Nodes returns the node names n1..nN.
func (c *Cluster) Nodes() []string { return append([]string(nil), c.names...) }

// Name is the run id: the network's name, the containers' prefix, the
// value of LabelRun.
func (c *Cluster) Name() string { return c.id }

// StateDir is the controller-side state directory; the containers see
// it at the same path.
func (c *Cluster) StateDir() string { return c.stateDir }

// KeptStateDir returns StateDir if it stays after Close, "" if Close
// removes it.
func (c *Cluster) KeptStateDir() string {
	if c.ownDir && !c.keepDir {
		return ""
	}
	return c.stateDir
}

// DescribeStateDir is the state directory and whether it stays.
func (c *Cluster) DescribeStateDir() string {
	if c.KeptStateDir() == "" {
		return c.stateDir + " (removed at the end)"
	}
	return c.stateDir + " (kept)"
}

// Subnet is the run's /24.
func (c *Cluster) Subnet() netip.Prefix { return c.subnet }

// Addr returns a node's address (Addr(cluster.Controller): this host's
// address on the run's bridge), or the invalid Addr for an unknown node.
func (c *Cluster) Addr(name string) netip.Addr {
	if name == cluster.Controller {
		return c.ctrl
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.nodes[name]; ok {
		return n.addr
	}
	return netip.Addr{}
}

func (c *Cluster) node(name string) (*node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("docker: cluster closed")
	}
	n, ok := c.nodes[name]
	if !ok {
		return nil, fmt.Errorf("docker: unknown node %q", name)
	}
	return n, nil
}

// proc returns node's started process.
func (c *Cluster) proc(name string) (*Process, error) {
	n, err := c.node(name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.proc == nil {
		return nil, fmt.Errorf("docker: node %s: nothing started", name)
	}
	return n.proc, nil
}

// Processes returns the process of node (none before Start).
func (c *Cluster) Processes(name string) []cluster.Process {
	p, err := c.proc(name)
	if err != nil {
		return nil
	}
	return []cluster.Process{p}
}

// Log is the controller-side file receiving the logs of node's process
// name ("" for an unknown one).
func (c *Cluster) Log(nodeName, name string) string {
	p, err := c.proc(nodeName)
	if err != nil || p.spec.Name != name {
		return ""
	}
	return p.logFile
}

// Start creates node's container from spec (one process per node: its
// main process; spec.Ports are informative, the node's address is
// reachable from the controller and nothing is published), places
// spec.Files in it, and starts it, then applies the current partition in
// its network namespace. The state directory is bind-mounted read-write
// at the same path, so spec.DataDir (under it) survives Kill and Restart;
// spec.SharedDirs are bind-mounted read-only at their paths.
func (c *Cluster) Start(ctx context.Context, nodeName string, spec cluster.NodeSpec) (cluster.Process, error) {
	n, err := c.node(nodeName)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	busy := n.proc
	c.mu.Unlock()
	if busy != nil {
		return nil, fmt.Errorf("docker: node %s runs %s already: one process per container", nodeName, busy.spec.Name)
	}
	if spec.Name == "" || spec.Path == "" {
		return nil, fmt.Errorf("docker: node %s: spec needs a name and a path", nodeName)
	}
	binds := c.binds()
	if spec.DataDir != "" {
		if !filepath.IsAbs(spec.DataDir) || !strings.HasPrefix(filepath.Clean(spec.DataDir), c.stateDir+string(filepath.Separator)) {
			return nil, fmt.Errorf("docker: node %s: data dir %s is not under the state dir %s", nodeName, spec.DataDir, c.stateDir)
		}
		// Parents 0755 (the server's user must traverse them), the data
		// dir itself 0700.
		if err := os.MkdirAll(filepath.Dir(spec.DataDir), 0o755); err != nil {
			return nil, fmt.Errorf("docker: node %s: data dir: %w", nodeName, err)
		}
		if err := os.Mkdir(spec.DataDir, 0o700); err != nil && !os.IsExist(err) {
			return nil, fmt.Errorf("docker: node %s: data dir: %w", nodeName, err)
		}
		if err := os.Chown(spec.DataDir, int(spec.UID), int(spec.GID)); err != nil {
			return nil, fmt.Errorf("docker: node %s: data dir: %w", nodeName, err)
		}
	}
	for _, d := range spec.SharedDirs {
		if !filepath.IsAbs(d) || strings.ContainsAny(d, ":,") {
			return nil, fmt.Errorf("docker: node %s: shared dir %q: want an absolute path without ':' or ','", nodeName, d)
		}
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("docker: node %s: shared dir %s: not a directory on the controller (%v)", nodeName, d, err)
		}
		binds = append(binds, d+":"+d+":ro")
	}
	env := spec.Env
	if env == nil {
		env = []string{defaultPath}
	}
	if err := c.initClock(nodeName); err != nil {
		return nil, err
	}
	env = append(append([]string(nil), env...), c.faketimeEnv(nodeName)...)
	labels := map[string]string{LabelNode: nodeName}
	for k, v := range c.labels {
		labels[k] = v
	}
	cfg := &container.Config{
		Hostname:   nodeName,
		Entrypoint: []string{spec.Path},
		Cmd:        spec.Args,
		Env:        env,
		WorkingDir: spec.Dir,
		Image:      c.image,
		Labels:     labels,
	}
	if spec.UID != 0 {
		cfg.User = fmt.Sprintf("%d:%d", spec.UID, spec.GID)
	}
	hc := &container.HostConfig{
		Binds:       binds,
		NetworkMode: container.NetworkMode(c.id),
		// IPv4 rules do not cover IPv6: the nodes have none (and no default route: see startContainer).
		Sysctls:   map[string]string{"net.ipv6.conf.all.disable_ipv6": "1"},
		LogConfig: container.LogConfig{Type: "json-file"},
	}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		c.id: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: n.addr.String()}},
	}}
	cctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	resp, err := c.cli.ContainerCreate(cctx, cfg, hc, nc, nil, c.id+"-"+nodeName)
	if err != nil {
		return nil, fmt.Errorf("docker: node %s: create container: %w", nodeName, err)
	}
	p := &Process{c: c, node: nodeName, spec: spec, ctrID: resp.ID, logFile: spec.LogFile}
	if p.logFile == "" {
		p.logFile = filepath.Join(c.stateDir, "logs", nodeName+"-"+spec.Name+".log")
	}
	c.mu.Lock()
	n.proc = p
	c.mu.Unlock()
	if len(spec.Files) > 0 {
		data, err := filesTar(spec.Files, spec.UID, spec.GID)
		if err != nil {
			return nil, fmt.Errorf("docker: node %s: files: %w", nodeName, err)
		}
		if err := c.cli.CopyToContainer(cctx, resp.ID, "/", data, container.CopyToContainerOptions{}); err != nil {
			return nil, fmt.Errorf("docker: node %s: files: %w", nodeName, err)
		}
	}
	if err := c.startContainer(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// defaultPath is the environment of a process whose spec gives none.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// binds are the bind mounts of every container of the run: the host's
// directories (HostMounts, read-only) for this package's images, and the
// state directory, read-write, at the same path.
func (c *Cluster) binds() []string {
	var binds []string
	if c.hostBins {
		for _, m := range HostMounts {
			if _, err := os.Stat(m); err == nil {
				binds = append(binds, m+":"+m+":ro")
			}
		}
	}
	if c.faketime != "" {
		binds = append(binds, c.faketime+":"+FaketimeMount+":ro")
	}
	return append(binds, c.stateDir+":"+c.stateDir+":rw")
}

// startContainer starts p's container, follows its logs into p.logFile,
// watches for its exit, and applies the current partition, delay and
// loss to it.
func (c *Cluster) startContainer(ctx context.Context, p *Process) error {
	cctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	since := time.Now()
	if err := c.cli.ContainerStart(cctx, p.ctrID, container.StartOptions{}); err != nil {
		return fmt.Errorf("docker: node %s: start: %w", p.node, err)
	}
	in, err := c.cli.ContainerInspect(cctx, p.ctrID)
	if err != nil {
		return fmt.Errorf("docker: node %s: inspect: %w", p.node, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.pid, p.done, p.err = in.State.Pid, done, nil
	p.mu.Unlock()
	// The exit watcher's wait ends when the container stops or is
	// removed (Close).
	wc, errc := c.cli.ContainerWait(context.WithoutCancel(ctx), p.ctrID, container.WaitConditionNotRunning)
	go func() {
		var e error
		select {
		case r := <-wc:
			if r.Error != nil {
				e = errors.New(r.Error.Message)
			} else if r.StatusCode != 0 {
				e = fmt.Errorf("exit status %d", r.StatusCode)
			}
		case err := <-errc:
			e = err
		}
		p.mu.Lock()
		p.err = e
		p.mu.Unlock()
		close(done)
	}()
	p.followLogs(since)
	if in.State.Pid == 0 {
		return nil // it exited already: the watcher records how
	}
	// Docker gives a node of an internal network a default route via the
	// bridge (its iptables rules drop what is forwarded, but the host's
	// own addresses answer): the node gets none, only its subnet.
	if _, err := local.RunInNetns(ctx, netns(in.State.Pid), local.Command{Path: "ip", Args: []string{"-4", "route", "flush", "exact", "0.0.0.0/0"}}); err != nil {
		return fmt.Errorf("docker: node %s: remove the default route: %w", p.node, err)
	}
	c.mu.Lock()
	g := c.grudge
	c.mu.Unlock()
	if len(g) > 0 {
		if err := c.applyNode(ctx, p.node, in.State.Pid, g); err != nil {
			return fmt.Errorf("docker: node %s: re-apply partition %v: %w", p.node, g, err)
		}
	}
	if err := c.reshape(ctx, p); err != nil {
		return fmt.Errorf("docker: node %s: re-apply delay and loss: %w", p.node, err)
	}
	return nil
}

// followLogs appends the container's output since since to p.logFile
// until the container stops.
func (p *Process) followLogs(since time.Time) {
	ld := make(chan struct{})
	p.mu.Lock()
	p.logDone = ld
	p.mu.Unlock()
	go func() {
		defer close(ld)
		f, err := os.OpenFile(p.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return
		}
		defer f.Close()
		rc, err := p.c.cli.ContainerLogs(context.Background(), p.ctrID, container.LogsOptions{
			ShowStdout: true, ShowStderr: true, Follow: true,
			// The daemon is on this machine: one clock.
			Since: strconv.FormatFloat(float64(since.UnixNano())/1e9, 'f', 9, 64),
		})
		if err != nil {
			fmt.Fprintf(f, "chaoscheck: logs of %s: %v\n", p.ctrID, err)
			return
		}
		defer rc.Close()
		_, _ = stdcopy.StdCopy(f, f, rc)
	}()
}

// waitStopped waits, bounded by d, for p's current run to exit and its
// log follower to finish.
func (p *Process) waitStopped(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	p.mu.Lock()
	done, ld := p.done, p.logDone
	p.mu.Unlock()
	for _, ch := range []chan struct{}{done, ld} {
		if ch == nil {
			continue
		}
		select {
		case <-ch:
		case <-t.C:
			return fmt.Errorf("docker: node %s: still running %v after the signal", p.node, d)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Kill SIGKILLs node's container through the API and waits for it to
// stop. Its data directory stays; Restart starts it again.
func (c *Cluster) Kill(ctx context.Context, nodeName string) error {
	p, err := c.proc(nodeName)
	if err != nil {
		return err
	}
	if !p.Running() {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	if err := c.cli.ContainerKill(cctx, p.ctrID, "KILL"); err != nil && p.Running() {
		return fmt.Errorf("docker: kill %s: %w", nodeName, err)
	}
	return p.waitStopped(ctx, 10*time.Second)
}

// Stop stops node's container gracefully (SIGTERM, then SIGKILL after
// cluster.StopTimeout).
func (c *Cluster) Stop(ctx context.Context, nodeName string) error {
	p, err := c.proc(nodeName)
	if err != nil {
		return err
	}
	if !p.Running() {
		return nil
	}
	secs := int(cluster.StopTimeout / time.Second)
	cctx, cancel := context.WithTimeout(ctx, cluster.StopTimeout+apiTimeout)
	defer cancel()
	if err := c.cli.ContainerStop(cctx, p.ctrID, container.StopOptions{Timeout: &secs}); err != nil {
		return fmt.Errorf("docker: stop %s: %w", nodeName, err)
	}
	return p.waitStopped(ctx, 10*time.Second)
}

// Restart starts node's stopped or killed container again: same
// container, same data directory; the current partition is applied to its
// new network namespace.
func (c *Cluster) Restart(ctx context.Context, nodeName string) error {
	p, err := c.proc(nodeName)
	if err != nil {
		return err
	}
	if p.Running() {
		return fmt.Errorf("docker: restart %s: still running", nodeName)
	}
	return c.startContainer(ctx, p)
}

// Pause freezes node's container through the API (its cgroup's freezer).
func (c *Cluster) Pause(ctx context.Context, nodeName string) error {
	p, err := c.proc(nodeName)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	if err := c.cli.ContainerPause(cctx, p.ctrID); err != nil {
		return fmt.Errorf("docker: pause %s: %w", nodeName, err)
	}
	return nil
}

// Resume thaws node's paused container.
func (c *Cluster) Resume(ctx context.Context, nodeName string) error {
	p, err := c.proc(nodeName)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	if err := c.cli.ContainerUnpause(cctx, p.ctrID); err != nil {
		return fmt.Errorf("docker: resume %s: %w", nodeName, err)
	}
	return nil
}

// Close removes every container, network and volume of the run (found by
// its label, so also those a failed call left half-made) and the state
// directory if New created it and it is not kept. It completes after a
// cancellation of ctx (bounded by cluster.CloseTimeout); a second call does
// nothing.
func (c *Cluster) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.closeShaper()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cluster.CloseTimeout)
	defer cancel()
	_, err := removeRun(ctx, c.cli, c.id)
	if err == nil && c.ownDir && !c.keepDir {
		err = os.RemoveAll(c.stateDir)
	}
	c.cli.Close()
	if err != nil {
		return fmt.Errorf("docker: close %s: %w", c.id, err)
	}
	return nil
}

// CopyIn copies the controller's file or directory src to dst on node
// (through the API's archive upload).
func (c *Cluster) CopyIn(ctx context.Context, nodeName, src, dst string) error {
	p, err := c.proc(nodeName)
	if err != nil {
		return err
	}
	if !filepath.IsAbs(dst) {
		return fmt.Errorf("docker: copy in to %s: want an absolute path", dst)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarPath(pw, src, filepath.Base(dst))) }()
	cctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	err = c.cli.CopyToContainer(cctx, p.ctrID, filepath.Dir(dst), pr, container.CopyToContainerOptions{})
	pr.CloseWithError(errors.New("upload ended"))
	if err != nil {
		return fmt.Errorf("docker: copy %s to %s:%s: %w", src, nodeName, dst, err)
	}
	return nil
}

// CopyOut copies node's file or directory src to the controller's dst
// (through the API's archive download).
func (c *Cluster) CopyOut(ctx context.Context, nodeName, src, dst string) error {
	p, err := c.proc(nodeName)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	rc, _, err := c.cli.CopyFromContainer(cctx, p.ctrID, src)
	if err != nil {
		return fmt.Errorf("docker: copy %s:%s: %w", nodeName, src, err)
	}
	defer rc.Close()
	if err := untarTo(rc, dst); err != nil {
		return fmt.Errorf("docker: copy %s:%s to %s: %w", nodeName, src, dst, err)
	}
	return nil
}
