//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// Runtime is the local runtime as a cluster.Runtime: network namespaces
// on this machine, journaled in DefaultJournalDir. The zero value is
// ready to use.
type Runtime struct{}

var _ cluster.Runtime = Runtime{}

// Registration is the local runtime's row in the runtime registry
// (cluster/runtimes).
func Registration() cluster.RuntimeRegistration {
	return cluster.RuntimeRegistration{
		Name:    "local",
		Summary: "network namespaces on this machine, needs root",
		New:     func(cluster.RuntimeOptions) (cluster.Runtime, error) { return Runtime{}, nil },
	}
}

// Name returns "local".
func (Runtime) Name() string { return "local" }

// MaxNodes returns MaxNodes.
func (Runtime) MaxNodes() int { return MaxNodes }

// Plan returns Plan(n).
func (Runtime) Plan(n int) cluster.Plan { return Plan(n) }

// Probe is ProbeRequired: a missing libfaketime only takes clock skew out
// of the plan.
func (Runtime) Probe(ctx context.Context) error { return ProbeRequired(ctx) }

// RunCommand is the package's RunCommand.
func (Runtime) RunCommand(ctx context.Context, cmd cluster.Command) ([]byte, error) {
	return RunCommand(ctx, cmd)
}

// Up is Fresh: it heals what crashed runs left (HealAll, which also
// removes live local clusters of this very process), then brings the
// cluster up with a random prefix.
func (Runtime) Up(ctx context.Context, spec cluster.Spec) (cluster.Hosts, error) {
	c, err := Fresh(ctx, spec.Target, spec.ServerUID, Config{
		Nodes:        spec.Nodes,
		Subnet:       spec.Subnet,
		StateDir:     spec.StateDir,
		KeepStateDir: spec.KeepStateDir,
	})
	if err != nil {
		return nil, err
	}
	return Hosts{c}, nil
}

// Hosts is a local Cluster as cluster.Hosts: the Cluster's methods, with
// Start and Processes returning the runtime-neutral Process, Name the
// prefix and Close Down. It implements cluster.Partitioner and
// cluster.ClockSkewer too (the embedded Cluster's).
type Hosts struct {
	*Cluster
}

var (
	_ cluster.Hosts       = Hosts{}
	_ cluster.Partitioner = Hosts{}
	_ cluster.ClockSkewer = Hosts{}
	_ cluster.Shaper      = Hosts{}
	_ cluster.Throttler   = Hosts{}
)

// Name returns the prefix of every resource name of the cluster.
func (h Hosts) Name() string { return h.Prefix() }

// Start is Cluster.Start.
func (h Hosts) Start(ctx context.Context, node string, spec cluster.NodeSpec) (cluster.Process, error) {
	p, err := h.Cluster.Start(ctx, node, spec)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Processes is Cluster.Processes.
func (h Hosts) Processes(node string) []cluster.Process {
	ps := h.Cluster.Processes(node)
	out := make([]cluster.Process, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}

// Close is Down.
func (h Hosts) Close(ctx context.Context) error { return h.Down(ctx) }

// CopyIn copies the file or directory tree src to dst on node: the nodes
// share this machine's filesystem, so it is a copy on it. An existing
// file at dst is replaced.
func (c *Cluster) CopyIn(ctx context.Context, node, src, dst string) error {
	if _, err := c.node(node); err != nil {
		return err
	}
	if err := copyPath(ctx, src, dst); err != nil {
		return fmt.Errorf("local: copy %s to %s:%s: %w", src, node, dst, err)
	}
	return nil
}

// CopyOut copies node's file or directory tree src to dst.
func (c *Cluster) CopyOut(ctx context.Context, node, src, dst string) error {
	if _, err := c.node(node); err != nil {
		return err
	}
	if err := copyPath(ctx, src, dst); err != nil {
		return fmt.Errorf("local: copy %s:%s to %s: %w", node, src, dst, err)
	}
	return nil
}

// copyPath copies a regular file, or a directory tree (regular files and
// directories only; a symlink or device is an error), from src to dst,
// keeping permission bits.
func copyPath(ctx context.Context, src, dst string) error {
	if !filepath.IsAbs(src) || !filepath.IsAbs(dst) {
		return errors.New("paths must be absolute")
	}
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return copyFile(src, dst, st.Mode().Perm())
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(to, 0o755); err != nil {
				return err
			}
			return os.Chmod(to, info.Mode().Perm())
		case info.Mode().IsRegular():
			return copyFile(path, to, info.Mode().Perm())
		default:
			return fmt.Errorf("%s: not a regular file or directory", path)
		}
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, cerr := io.Copy(out, in)
	if err := errors.Join(cerr, out.Close()); err != nil {
		return err
	}
	return os.Chmod(dst, perm)
}
