//go:build linux

package docker

import (
	"context"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/local"
)

// Runtime is the Docker runtime as a cluster.Runtime. The zero value
// runs every node from BaseImage (built when missing) with the host's
// binaries.
type Runtime struct {
	// Image is the image of every node (empty: BaseImage).
	Image string
}

var (
	_ cluster.Runtime     = Runtime{}
	_ cluster.Hosts       = (*Cluster)(nil)
	_ cluster.Partitioner = (*Cluster)(nil)
	_ cluster.Process     = (*Process)(nil)
)

// Registration is the Docker runtime's row in the runtime registry
// (cluster/runtimes).
func Registration() cluster.RuntimeRegistration {
	return cluster.RuntimeRegistration{
		Name:    "docker",
		Summary: "containers on an internal bridge network, through the Docker Engine API (needs root and dockerd)",
		New:     func() (cluster.Runtime, error) { return Runtime{}, nil },
	}
}

// Name returns "docker".
func (Runtime) Name() string { return "docker" }

// MaxNodes returns MaxNodes.
func (Runtime) MaxNodes() int { return MaxNodes }

// Plan returns Plan(n).
func (Runtime) Plan(n int) cluster.Plan { return Plan(n) }

// Plan is what a Docker cluster of n nodes can do: partitions (nft in
// each container's netns), kill and restart (SIGKILL through the API),
// pause (the API's pause). Clock skew is not implemented on this
// runtime yet.
func Plan(n int) cluster.Plan {
	return cluster.Plan{Nodes: n}.With(cluster.CanPartition, cluster.CanKill, cluster.CanPause).
		Without(cluster.CanSkewClock, "the docker runtime does not mount the clock preload into containers yet; use --runtime local")
}

// Probe is the package's Probe.
func (Runtime) Probe(ctx context.Context) error { return Probe(ctx) }

// RunCommand runs a helper on the controller: this machine, as the
// local runtime does.
func (Runtime) RunCommand(ctx context.Context, cmd cluster.Command) ([]byte, error) {
	return local.RunCommand(ctx, local.Command(cmd)) // an identity conversion once local.Command is cluster.Command
}

// Up is New with the runtime's image.
func (r Runtime) Up(ctx context.Context, spec cluster.Spec) (cluster.Hosts, error) {
	c, err := New(ctx, spec, r.Image)
	if err != nil {
		return nil, err
	}
	return c, nil
}
