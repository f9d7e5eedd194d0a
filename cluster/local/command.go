//go:build linux

package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// Command is a short-lived helper process that chaoscheck runs and waits
// for (the runtime's cluster.Command): initdb, pg_basebackup, redis-cli,
// a compiler, ip, nft... Every such process of this module is started by
// RunCommand or Cluster.Exec, never by os/exec directly, so that none can
// outlive the controller unseen. Timeout 0 is CommandTimeout.
type Command = cluster.Command

// CommandError is the error of a command that could not start, failed or
// timed out. Output holds the end of what it wrote (stdout and stderr).
type CommandError struct {
	Name   string
	Args   []string
	Err    error
	Output string
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("%s %s: %v", e.Name, strings.Join(e.Args, " "), e.Err)
	if e.Output != "" {
		msg += ": " + e.Output
	}
	return msg
}

func (e *CommandError) Unwrap() error { return e.Err }

// maxErrOutput bounds the output kept in a CommandError.
const maxErrOutput = 2000

// waitDelay bounds waiting for output pipes that a command's leftover
// children hold open after it exited (or was killed).
const waitDelay = 2 * time.Second

// RunCommand runs cmd in the controller's namespace, outside any cluster
// (for work done before a cluster exists, such as filling a cache), and
// returns its standard output. The command runs in its own process group
// with a parent-death signal (SIGKILL), so it dies with the controller
// even on SIGKILL; when ctx ends or the timeout passes, its whole process
// group is SIGKILLed. Its children are not in a cgroup: a child that
// leaves the process group and survives the command is not tracked, so
// use Cluster.Exec for anything that writes into a cluster's state.
func RunCommand(ctx context.Context, cmd Command) ([]byte, error) {
	return runCommand(ctx, cmd, "", nil)
}

// toolCgroup is where Cluster.Exec puts a command: a cgroup journaled
// before it is created and removed (emptied first) after the command.
type toolCgroup struct {
	c    *Cluster
	node string
	dir  string
	fd   *os.File
}

// Exec runs cmd on behalf of node (or of the whole cluster when node is
// ""), in the controller's network namespace (the controller leg reaches
// every node), and returns its standard output. The command is born in
// its own cgroup (<cluster cgroup>/<node>/x-<name>-<n>, or
// <cluster cgroup>/x-<name>-<n>), journaled before it is created, and its
// pid is journaled once it runs, so HealAll finds it and everything it
// forked after a crash of the controller; it also gets a parent-death
// signal (SIGKILL). When the command exits, is cancelled (ctx) or times
// out, every process left in its cgroup is killed and the cgroup removed,
// so nothing a command started outlives Exec. Kill and Pause of node act
// on its running commands too.
func (c *Cluster) Exec(ctx context.Context, node string, cmd Command) ([]byte, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	parent := c.cgDir
	if node != "" {
		n, err := c.node(node)
		if err != nil {
			return nil, err
		}
		parent = n.cg
	}
	name := cmd.Name
	if name == "" {
		name = filepath.Base(cmd.Path)
	}
	if !procNameRE.MatchString(name) {
		return nil, fmt.Errorf("local: command name %q: want 1 to 32 characters of [A-Za-z0-9_.-]", name)
	}
	cmd.Name = name
	cg := &toolCgroup{c: c, node: node, dir: filepath.Join(parent, fmt.Sprintf("x-%s-%d", name, c.execSeq.Add(1)))}
	if err := c.jr.update(func(j *journalData) { j.Cgroups = append(j.Cgroups, cg.dir) }); err != nil {
		return nil, err
	}
	out, err := func() ([]byte, error) {
		if err := os.Mkdir(cg.dir, 0o755); err != nil {
			return nil, fmt.Errorf("local: cgroup %s: %w", cg.dir, err)
		}
		fd, err := os.Open(cg.dir)
		if err != nil {
			return nil, fmt.Errorf("local: open cgroup %s: %w", cg.dir, err)
		}
		cg.fd = fd
		defer fd.Close()
		return runCommand(ctx, cmd, "", cg)
	}()
	// Whatever the command left in its cgroup dies with it.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
	defer cancel()
	if rerr := removeCgroup(cctx, cg.dir); rerr != nil {
		return out, errors.Join(err, fmt.Errorf("local: %s: %w", name, rerr))
	}
	jerr := c.jr.update(func(j *journalData) {
		j.Cgroups = slicesDelete(j.Cgroups, func(s string) bool { return s == cg.dir })
	})
	if errors.Is(jerr, errJournalClosed) {
		jerr = nil // Down removed everything, the journal too
	}
	return out, errors.Join(err, jerr)
}

// slicesDelete returns s without the elements del reports.
func slicesDelete[T any](s []T, del func(T) bool) []T {
	out := s[:0]
	for _, v := range s {
		if !del(v) {
			out = append(out, v)
		}
	}
	return out
}

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of a
// command's stdout and stderr copiers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runCommand is the one place where helper processes are started: in
// network namespace ns ("" for the controller's; a name of ip netns, or
// an absolute path such as /proc/<pid>/ns/net), in cgroup cg (nil:
// none), in their own process group, with a parent-death signal.
//
// PR_SET_PDEATHSIG fires when the thread that forked the child exits, not
// the process: the fork and the wait happen on one goroutine locked to
// its OS thread, which stays alive until the command has exited (and is
// then discarded, never returned to the scheduler, so a namespace entered
// with setns dies with it).
func runCommand(ctx context.Context, cmd Command, ns string, cg *toolCgroup) ([]byte, error) {
	name := cmd.Name
	if name == "" {
		name = filepath.Base(cmd.Path)
	}
	fail := func(err error, out string) error {
		out = strings.TrimSpace(out)
		if len(out) > maxErrOutput {
			out = "..." + out[len(out)-maxErrOutput:]
		}
		return &CommandError{Name: name, Args: cmd.Args, Err: err, Output: out}
	}
	timeout := cmd.Timeout
	if timeout <= 0 {
		timeout = CommandTimeout
	}
	if err := ctx.Err(); err != nil {
		return nil, fail(err, "")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// Not exec.CommandContext: cancellation kills the process group (and
	// the cgroup), not only the direct child.
	ec := exec.Command(cmd.Path, cmd.Args...)
	ec.Env = cmd.Env
	ec.Dir = cmd.Dir
	ec.Stdin = cmd.Stdin
	var stdout bytes.Buffer
	var all lockedBuffer
	ec.Stdout = io.MultiWriter(&stdout, &all)
	ec.Stderr = &all
	ec.WaitDelay = waitDelay
	ec.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if cg != nil {
		ec.SysProcAttr.UseCgroupFD = true
		ec.SysProcAttr.CgroupFD = int(cg.fd.Fd())
	}
	if cmd.UID != 0 {
		ec.SysProcAttr.Credential = &syscall.Credential{Uid: cmd.UID, Gid: cmd.GID, Groups: []uint32{}}
	}
	var nsf *os.File
	if ns != "" {
		path := ns
		if !filepath.IsAbs(ns) {
			path = filepath.Join("/run/netns", ns) // a name of ip netns
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fail(fmt.Errorf("open netns %s: %w", ns, err), "")
		}
		defer f.Close()
		nsf = f
	}
	started := make(chan error, 1)
	exited := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		if nsf != nil {
			if _, _, e := syscall.RawSyscall(sysSetns, nsf.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
				started <- fmt.Errorf("setns %s: %w", ns, e)
				return
			}
		}
		if err := ec.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- ec.Wait()
	}()
	if err := <-started; err != nil {
		return nil, fail(err, "")
	}
	pid := ec.Process.Pid
	var jp *journalProc
	if cg != nil {
		// The process is in a journaled cgroup already; the record lets
		// HealAll name it and kill its process group too.
		if st, err := procStart(pid); err == nil {
			jp = &journalProc{Node: cg.node, Name: name, PID: pid, Start: st}
			if err := cg.c.jr.update(func(j *journalData) { j.Procs = append(j.Procs, *jp) }); err != nil {
				killCommand(pid, cg)
				<-exited
				return nil, fail(err, all.String())
			}
		}
	}
	var err error
	select {
	case err = <-exited:
	case <-ctx.Done():
		select {
		case err = <-exited: // exited (and reaped) already: its pid may be reused
		default:
			killCommand(pid, cg)
			<-exited // bounded: SIGKILL, then WaitDelay for the pipes
			err = ctx.Err()
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("timed out after %v: %w", timeout, err)
			}
		}
	}
	if jp != nil {
		jerr := cg.c.jr.update(func(j *journalData) {
			j.Procs = slicesDelete(j.Procs, func(p journalProc) bool { return p == *jp })
		})
		if jerr != nil && !errors.Is(jerr, errJournalClosed) && err == nil {
			err = jerr
		}
	}
	if err != nil {
		return stdout.Bytes(), fail(err, all.String())
	}
	return stdout.Bytes(), nil
}

// killCommand SIGKILLs a command's process group and, if it has one, its
// cgroup (the removal of the cgroup afterwards waits for it to empty).
func killCommand(pid int, cg *toolCgroup) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	if cg != nil {
		_ = cgroupWrite(cg.dir, "cgroup.kill", "1")
	}
}
