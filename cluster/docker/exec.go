//go:build linux

package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/local"
)

// CommandTimeout is Exec's default timeout.
const CommandTimeout = 2 * time.Minute

// ExecError is a command run by Exec that failed or timed out; Output is
// the end of what it wrote.
type ExecError struct {
	Node   string
	Name   string
	Err    error
	Output string
}

func (e *ExecError) Error() string {
	msg := fmt.Sprintf("docker: exec %s on %s: %v", e.Name, e.Node, e.Err)
	if e.Output != "" {
		msg += ": " + e.Output
	}
	return msg
}

func (e *ExecError) Unwrap() error { return e.Err }

// Exec runs cmd inside node's running container (its network, its files,
// the user cmd names) and returns its standard output. The node's
// address is the command's source address. When the command exits, when
// ctx ends or when the timeout passes, its process group (everything it
// started, unless that left the group with setsid) is SIGKILLed from the
// host, so nothing it started outlives Exec.
//
// With node "" (a command of the whole cluster, e.g. redis-cli --cluster
// create) it runs on the controller, this host, which reaches every
// node's address from the run's bridge, as a helper that dies with the
// controller (local.RunCommand).
func (c *Cluster) Exec(ctx context.Context, nodeName string, cmd cluster.Command) ([]byte, error) {
	if nodeName == "" {
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return nil, errors.New("docker: cluster closed")
		}
		return local.RunCommand(ctx, cmd)
	}
	p, err := c.proc(nodeName)
	if err != nil {
		return nil, err
	}
	name := cmd.Name
	if name == "" {
		name = cmd.Path
	}
	fail := func(err error, out string) error {
		out = strings.TrimSpace(out)
		if len(out) > 2000 {
			out = "..." + out[len(out)-2000:]
		}
		return &ExecError{Node: nodeName, Name: name, Err: err, Output: out}
	}
	timeout := cmd.Timeout
	if timeout <= 0 {
		timeout = CommandTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	opts := container.ExecOptions{
		Cmd: append([]string{cmd.Path}, cmd.Args...), Env: cmd.Env, WorkingDir: cmd.Dir,
		AttachStdout: true, AttachStderr: true, AttachStdin: cmd.Stdin != nil,
	}
	if cmd.UID != 0 {
		opts.User = fmt.Sprintf("%d:%d", cmd.UID, cmd.GID)
	}
	ex, err := c.cli.ContainerExecCreate(ctx, p.ctrID, opts)
	if err != nil {
		return nil, fail(err, "")
	}
	att, err := c.cli.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, fail(err, "")
	}
	defer att.Close()
	// The exec'd process leads its own session and process group (runc
	// makes it so): whatever it started and left behind is SIGKILLed
	// with the group when Exec returns, from the host, where the group
	// id (the process's host pid) is visible.
	if pid := c.execPid(ctx, ex.ID); pid > 0 {
		defer func() { _ = syscall.Kill(-pid, syscall.SIGKILL) }()
	}
	if cmd.Stdin != nil {
		go func() {
			_, _ = io.Copy(att.Conn, cmd.Stdin)
			_ = att.CloseWrite()
		}()
	}
	var stdout, all bytes.Buffer
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(io.MultiWriter(&stdout, &all), &all, att.Reader)
		copied <- err
	}()
	select {
	case err = <-copied:
	case <-ctx.Done():
		// The daemon has no exec kill: the process is killed from the
		// host, where its pid is visible.
		if pid := c.execPid(ctx, ex.ID); pid > 0 {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		att.Close()
		<-copied
		err = ctx.Err()
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %v: %w", timeout, err)
		}
		return stdout.Bytes(), fail(err, all.String())
	}
	if err != nil {
		return stdout.Bytes(), fail(err, all.String())
	}
	ictx, icancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
	defer icancel()
	in, err := c.cli.ContainerExecInspect(ictx, ex.ID)
	if err != nil {
		return stdout.Bytes(), fail(err, all.String())
	}
	if in.ExitCode != 0 {
		return stdout.Bytes(), fail(fmt.Errorf("exit status %d", in.ExitCode), all.String())
	}
	return stdout.Bytes(), nil
}

// execPid returns the host pid of exec id's process (0 if the daemon does
// not say within a second: the exec ended before it started, or failed).
func (c *Cluster) execPid(ctx context.Context, id string) int {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	deadline := time.Now().Add(time.Second)
	for {
		in, err := c.cli.ContainerExecInspect(ctx, id)
		if err != nil {
			return 0
		}
		if in.Pid > 0 || time.Now().After(deadline) {
			return in.Pid
		}
		time.Sleep(5 * time.Millisecond)
	}
}
