//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// ProcessSpec says how to start a process on a node: the runtime's
// cluster.NodeSpec. On this runtime Env nil inherits the controller's
// environment (the libfaketime variables are appended when available),
// Dir empty is the controller's working directory, Files and DataDir are
// paths of this machine (the nodes share its filesystem), Ports are only
// documentation (each node has its own network namespace), and LogFile
// empty is StateDir/logs/<node>-<name>.log.
type ProcessSpec = cluster.NodeSpec

var procNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// Process is a process started on a node. It survives Kill and Restart as
// a handle: after Restart it refers to the new run.
type Process struct {
	node *node
	spec ProcessSpec
	cg   string

	mu   sync.Mutex
	pid  int
	done chan struct{}
	err  error
}

// LogFile returns the file receiving the process's stdout and stderr.
func (p *Process) LogFile() string { return p.spec.LogFile }

// Node returns the node the process runs on.
func (p *Process) Node() string { return p.node.name }

// Name returns the spec's name.
func (p *Process) Name() string { return p.spec.Name }

// Pid returns the pid of the current (or last) run.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// Done returns a channel closed when the current run exits.
func (p *Process) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Running reports whether the current run has not exited.
func (p *Process) Running() bool {
	select {
	case <-p.Done():
		return false
	default:
		return true
	}
}

// Err returns the exit error of the last run once it has exited (nil for
// a clean exit, or while running).
func (p *Process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Start starts a process on node, as a direct child of the controller, in
// the node's network namespace, its own process group and its own cgroup
// (<cgroup2 mount>/<prefix>/<node>/<name>). A goroutine waits
// for it and records its exit. The process is registered with the node:
// Kill, Restart, Pause and Resume act on it.
func (c *Cluster) Start(ctx context.Context, nodeName string, spec ProcessSpec) (*Process, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	n, err := c.node(nodeName)
	if err != nil {
		return nil, err
	}
	if !procNameRE.MatchString(spec.Name) {
		return nil, fmt.Errorf("local: process name %q: want 1 to 32 characters of [A-Za-z0-9_.-]", spec.Name)
	}
	if spec.Path == "" {
		return nil, fmt.Errorf("local: process %s/%s: empty Path", nodeName, spec.Name)
	}
	if spec.LogFile == "" {
		spec.LogFile = filepath.Join(c.cfg.StateDir, "logs", nodeName+"-"+spec.Name+".log")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.procs {
		if p.spec.Name == spec.Name {
			return nil, fmt.Errorf("local: node %s already has a process named %q", nodeName, spec.Name)
		}
	}
	if err := placeFiles(spec); err != nil {
		return nil, fmt.Errorf("local: process %s/%s: %w", nodeName, spec.Name, err)
	}
	p := &Process{node: n, spec: spec, cg: filepath.Join(n.cg, spec.Name)}
	if err := c.jr.update(func(j *journalData) { j.Cgroups = append(j.Cgroups, p.cg) }); err != nil {
		return nil, err
	}
	if err := os.Mkdir(p.cg, 0o755); err != nil {
		return nil, fmt.Errorf("local: cgroup %s: %w", p.cg, err)
	}
	if err := c.run(ctx, p); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
		defer cancel()
		return nil, errors.Join(err, removeCgroup(cctx, p.cg))
	}
	n.procs = append(n.procs, p)
	return p, nil
}

// run starts one run of p. The caller holds p.node.mu.
func (c *Cluster) run(ctx context.Context, p *Process) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: start %s/%s: %w", p.node.name, p.spec.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(p.spec.LogFile), 0o755); err != nil {
		return fmt.Errorf("local: log dir: %w", err)
	}
	logf, err := os.OpenFile(p.spec.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("local: log file: %w", err)
	}
	defer logf.Close() // the child has its own copy
	cgfd, err := os.Open(p.cg)
	if err != nil {
		return fmt.Errorf("local: open cgroup %s: %w", p.cg, err)
	}
	defer cgfd.Close()

	// Not exec.CommandContext: the process outlives the start call.
	cmd := exec.Command(p.spec.Path, p.spec.Args...)
	cmd.Dir = p.spec.Dir
	env := p.spec.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(append([]string(nil), env...), c.faketimeEnv(p.node)...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// Born in its cgroup (clone3 CLONE_INTO_CGROUP): nothing it forks
		// can escape before we could move it.
		UseCgroupFD: true,
		CgroupFD:    int(cgfd.Fd()),
	}
	if p.spec.UID != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: p.spec.UID, Gid: p.spec.GID, Groups: []uint32{}}
	}
	if err := startInNetns(p.node.ns, cmd); err != nil {
		return fmt.Errorf("local: start %s/%s (%s): %w", p.node.name, p.spec.Name, p.spec.Path, err)
	}
	pid := cmd.Process.Pid
	st, serr := procStart(pid)
	done := make(chan struct{})
	p.mu.Lock()
	p.pid, p.done, p.err = pid, done, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	// The process is in a journaled cgroup already, so HealAll could kill
	// it even if this record were lost; the record lets it kill the
	// process group too.
	if serr == nil {
		if err := c.jr.update(func(j *journalData) {
			j.Procs = append(j.Procs, journalProc{Node: p.node.name, Name: p.spec.Name, PID: pid, Start: st})
		}); err != nil {
			return err
		}
	}
	return nil
}

// Processes returns the processes registered on node.
func (c *Cluster) Processes(nodeName string) []*Process {
	n, ok := c.nodes[nodeName]
	if !ok {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Process(nil), n.procs...)
}

// Kill SIGKILLs every process of the node (each process group, then every
// process of the node's cgroup tree while it is frozen) and waits, bounded
// by KillTimeout, until all have been reaped. The node is left thawed (a
// paused node too), so Restart starts processes that run.
func (c *Cluster) Kill(ctx context.Context, nodeName string) error {
	n, err := c.node(nodeName)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	for _, p := range n.procs {
		if p.Running() {
			if err := syscall.Kill(-p.Pid(), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("kill process group %d: %w", p.Pid(), err))
			}
		}
	}
	if err := signalTree(ctx, n.cg); err != nil {
		errs = append(errs, err)
	}
	for _, p := range n.procs {
		if !pollUntil(ctx, KillTimeout, func() bool { return !p.Running() }) {
			errs = append(errs, fmt.Errorf("process %s/%s (pid %d) not reaped after SIGKILL", n.name, p.spec.Name, p.Pid()))
		}
	}
	n.paused = false // signalTree thawed the node
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("local: kill %s: %w", nodeName, err)
	}
	return nil
}

// Restart starts again, with the same spec, every process of the node that
// is not running.
func (c *Cluster) Restart(ctx context.Context, nodeName string) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	n, err := c.node(nodeName)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	for _, p := range n.procs {
		if p.Running() {
			continue
		}
		if err := c.run(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("local: restart %s: %w", nodeName, err)
	}
	return nil
}

// Pause freezes every process of the node (cgroup v2 freezer on the node's
// cgroup) and waits, bounded by FreezeTimeout, for cgroup.events to report
// "frozen 1".
func (c *Cluster) Pause(ctx context.Context, nodeName string) error {
	return c.setPaused(ctx, nodeName, true)
}

// Resume thaws the node's processes and waits for "frozen 0".
func (c *Cluster) Resume(ctx context.Context, nodeName string) error {
	return c.setPaused(ctx, nodeName, false)
}

func (c *Cluster) setPaused(ctx context.Context, nodeName string, paused bool) error {
	n, err := c.node(nodeName)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := setFrozen(ctx, n.cg, paused); err != nil {
		verb := "resume"
		if paused {
			verb = "pause"
		}
		return fmt.Errorf("local: %s %s: %w", verb, nodeName, err)
	}
	n.paused = paused
	return nil
}

// placeFiles creates spec's data directory (mode 0700) when it is missing
// and writes its files, both owned by spec.UID and spec.GID: what Start
// does before the first run of a process (Restart leaves them alone).
func placeFiles(spec ProcessSpec) error {
	own := func(path string) error {
		if spec.UID == 0 && spec.GID == 0 {
			return nil
		}
		if err := os.Chown(path, int(spec.UID), int(spec.GID)); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
		return nil
	}
	if spec.DataDir != "" {
		if !filepath.IsAbs(spec.DataDir) {
			return fmt.Errorf("data dir %q: not an absolute path", spec.DataDir)
		}
		if _, err := os.Stat(spec.DataDir); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(filepath.Dir(spec.DataDir), 0o755); err != nil {
				return fmt.Errorf("data dir: %w", err)
			}
			if err := os.Mkdir(spec.DataDir, 0o700); err != nil {
				return fmt.Errorf("data dir: %w", err)
			}
			if err := own(spec.DataDir); err != nil {
				return err
			}
		} else if err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
	}
	for _, f := range spec.Files {
		if !filepath.IsAbs(f.Path) {
			return fmt.Errorf("file %q: not an absolute path", f.Path)
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
			return fmt.Errorf("file %s: %w", f.Path, err)
		}
		if err := os.WriteFile(f.Path, f.Data, mode); err != nil {
			return fmt.Errorf("file %s: %w", f.Path, err)
		}
		if err := os.Chmod(f.Path, mode); err != nil { // WriteFile keeps an existing file's mode
			return fmt.Errorf("file %s: %w", f.Path, err)
		}
		if err := own(f.Path); err != nil {
			return err
		}
	}
	return nil
}

// Stop sends SIGTERM to every running process group of the node, waits,
// bounded by cluster.StopTimeout, for them to exit, and then kills
// whatever the node still runs (Kill), so that the node is down either
// way. Restart starts the processes again.
func (c *Cluster) Stop(ctx context.Context, nodeName string) error {
	n, err := c.node(nodeName)
	if err != nil {
		return err
	}
	n.mu.Lock()
	var errs []error
	procs := append([]*Process(nil), n.procs...)
	for _, p := range procs {
		if p.Running() {
			if err := syscall.Kill(-p.Pid(), syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("terminate process group %d: %w", p.Pid(), err))
			}
		}
	}
	if n.paused { // a frozen process cannot act on SIGTERM
		if err := setFrozen(ctx, n.cg, false); err != nil {
			errs = append(errs, err)
		}
		n.paused = false
	}
	n.mu.Unlock()
	pollUntil(ctx, cluster.StopTimeout, func() bool {
		for _, p := range procs {
			if p.Running() {
				return false
			}
		}
		return true
	})
	if err := c.Kill(ctx, nodeName); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("local: stop %s: %w", nodeName, err)
	}
	return nil
}

// Log returns the log file of the process named name on node, "" if the
// node has no such process.
func (c *Cluster) Log(nodeName, name string) string {
	for _, p := range c.Processes(nodeName) {
		if p.Name() == name {
			return p.LogFile()
		}
	}
	return ""
}
