//go:build linux

package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
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
// On a node whose container is not running (not started yet, killed or
// stopped) the command runs in a helper container of its own
// (execHelper): same image, mounts and address, so that tools that
// prepare a node's data before its server starts (initdb,
// pg_basebackup, pg_rewind) run where the node's files are.
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
	n, err := c.node(nodeName)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	p := n.proc
	c.mu.Unlock()
	if p == nil || !p.Running() {
		return c.execHelper(ctx, n, cmd)
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
	// An exec'd process inherits the container's environment: the clock
	// preload is for the node's server, not for helper commands (as on
	// the local runtime), so it is emptied.
	env := cmd.Env
	if c.faketime != "" {
		env = append(append([]string(nil), env...), "LD_PRELOAD=")
	}
	opts := container.ExecOptions{
		Cmd: append([]string{cmd.Path}, cmd.Args...), Env: env, WorkingDir: cmd.Dir,
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

// execHelper runs cmd in a one-shot helper container for node n, whose
// own container is not running: the node's image, mounts (the state
// directory, the host's directories for this package's images) and
// address, the run's labels (so heal removes it after a crash). It
// returns the command's standard output once the container exits, and
// removes the container in every case; past the timeout or when ctx
// ends the container is killed. Standard input is not supported. The
// current partition is not applied to it: helpers prepare data, they
// are not the node under test.
func (c *Cluster) execHelper(ctx context.Context, n *node, cmd cluster.Command) (_ []byte, err error) {
	name := cmd.Name
	if name == "" {
		name = cmd.Path
	}
	fail := func(err error, out string) error {
		out = strings.TrimSpace(out)
		if len(out) > 2000 {
			out = "..." + out[len(out)-2000:]
		}
		return &ExecError{Node: n.name, Name: name, Err: err, Output: out}
	}
	if cmd.Stdin != nil {
		return nil, fail(errors.New("standard input is not supported on a node that is not running"), "")
	}
	timeout := cmd.Timeout
	if timeout <= 0 {
		timeout = CommandTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	env := cmd.Env
	if env == nil {
		env = []string{defaultPath}
	}
	labels := map[string]string{LabelNode: n.name, LabelHelper: name}
	for k, v := range c.labels {
		labels[k] = v
	}
	cfg := &container.Config{
		Hostname:   n.name,
		Entrypoint: []string{cmd.Path},
		Cmd:        cmd.Args,
		Env:        env,
		WorkingDir: cmd.Dir,
		Image:      c.image,
		Labels:     labels,
	}
	if cmd.UID != 0 {
		cfg.User = fmt.Sprintf("%d:%d", cmd.UID, cmd.GID)
	}
	hc := &container.HostConfig{
		Binds:       c.binds(),
		NetworkMode: container.NetworkMode(c.id),
		Sysctls:     map[string]string{"net.ipv6.conf.all.disable_ipv6": "1"},
		LogConfig:   container.LogConfig{Type: "json-file"},
	}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		c.id: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: n.addr.String()}},
	}}
	var rb [3]byte
	_, _ = rand.Read(rb[:])
	resp, err := c.cli.ContainerCreate(ctx, cfg, hc, nc, nil, c.id+"-"+n.name+"-exec-"+hex.EncodeToString(rb[:]))
	if err != nil {
		return nil, fail(fmt.Errorf("create helper container: %w", err), "")
	}
	defer func() {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
		defer rcancel()
		if rerr := c.cli.ContainerRemove(rctx, resp.ID, container.RemoveOptions{Force: true}); rerr != nil && err == nil {
			err = fail(fmt.Errorf("remove helper container: %w", rerr), "")
		}
	}()
	wc, errc := c.cli.ContainerWait(ctx, resp.ID, container.WaitConditionNextExit)
	if err := c.cli.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		return nil, fail(fmt.Errorf("start helper container: %w", err), "")
	}
	var code int64
	select {
	case r := <-wc:
		if r.Error != nil {
			return nil, fail(errors.New(r.Error.Message), "")
		}
		code = r.StatusCode
	case werr := <-errc:
		kctx, kcancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
		_ = c.cli.ContainerKill(kctx, resp.ID, "KILL")
		kcancel()
		if errors.Is(werr, context.DeadlineExceeded) {
			werr = fmt.Errorf("timed out after %v: %w", timeout, werr)
		}
		out, all := c.helperLogs(ctx, resp.ID)
		return out, fail(werr, all)
	}
	out, all := c.helperLogs(ctx, resp.ID)
	if code != 0 {
		return out, fail(fmt.Errorf("exit status %d", code), all)
	}
	return out, nil
}

// helperLogs returns the standard output, and all the output, of the
// exited helper container id.
func (c *Cluster) helperLogs(ctx context.Context, id string) (stdout []byte, all string) {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
	defer cancel()
	rc, err := c.cli.ContainerLogs(lctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return nil, "(logs: " + err.Error() + ")"
	}
	defer rc.Close()
	var so, both bytes.Buffer
	_, _ = stdcopy.StdCopy(io.MultiWriter(&so, &both), &both, rc)
	return so.Bytes(), both.String()
}
