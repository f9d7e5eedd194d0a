//go:build linux

package docker

import (
	"context"
	"fmt"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/local"
)

// Runtime is the Docker runtime as a cluster.Runtime. The zero value
// runs every node from BaseImage (built when missing) with the host's
// binaries.
type Runtime struct {
	// Target names the target whose nodes it runs (the Spec's target
	// when empty): its local image is LocalImage(Target).
	Target string
	// Image (--image) replaces LocalImage(Target); it must be on this
	// machine and have what Needs asks for (checked by Probe, before
	// anything is deployed).
	Image string
	// Needs is what the target's node specs need in the image.
	Needs cluster.NodeNeeds
}

var (
	_ cluster.Runtime     = Runtime{}
	_ cluster.Hosts       = (*Cluster)(nil)
	_ cluster.Partitioner = (*Cluster)(nil)
	_ cluster.ClockSkewer = (*Cluster)(nil)
	_ cluster.Shaper      = (*Cluster)(nil)
	_ cluster.Process     = (*Process)(nil)
)

// Registration is the Docker runtime's row in the runtime registry
// (cluster/runtimes).
func Registration() cluster.RuntimeRegistration {
	return cluster.RuntimeRegistration{
		Name:    "docker",
		Summary: "containers on an internal bridge network, through the Docker Engine API (needs root, dockerd and an image: chaoscheck images build)",
		Images:  true,
		New: func(o cluster.RuntimeOptions) (cluster.Runtime, error) {
			return Runtime{Target: o.Target, Image: o.Image, Needs: o.Needs}, nil
		},
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
// pause (the API's pause), delay and loss where ProbeShaper finds a
// netfilter queue (shaper.go), bandwidth limits of what a node sends
// (throttle.go), and clock skew when the host has libfaketime
// (mounted into every container and preloaded, as on the local
// runtime; targets take it away for servers it cannot reach).
func Plan(n int) cluster.Plan {
	p := cluster.Plan{Nodes: n}.With(cluster.CanPartition, cluster.CanKill, cluster.CanPause)
	if err := ProbeShaper(); err != nil {
		p = p.Without(cluster.CanShape, err.Error())
	} else {
		p = p.With(cluster.CanShape)
	}
	if err := local.ProbeThrottle(); err != nil {
		p = p.Without(cluster.CanThrottle, err.Error())
	} else {
		p = p.With(cluster.CanThrottle)
	}
	if local.FindFaketime() == "" {
		return p.Without(cluster.CanSkewClock, errNoFaketime.Error())
	}
	return p.With(cluster.CanSkewClock)
}

// Probe is the package's Probe, and then, for a runtime that names a
// target or an image, that the image is on this machine (see
// resolveImage: the error says to run chaoscheck images build) and, for
// an image named by --image, that it has the executables and users of
// Needs (checkImage: the error names what is missing).
func (r Runtime) Probe(ctx context.Context) error {
	if err := Probe(ctx); err != nil {
		return err
	}
	if r.Target == "" && r.Image == "" {
		return nil
	}
	cli, err := Connect(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	img, labels, err := resolveImage(ctx, cli, r.Target, r.Image)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	if r.Image != "" {
		if err := checkImage(ctx, cli, img, labels, r.Needs); err != nil {
			return fmt.Errorf("probe: %w", err)
		}
	}
	return nil
}

// RunCommand runs a helper on the controller: this machine, as the
// local runtime does.
func (Runtime) RunCommand(ctx context.Context, cmd cluster.Command) ([]byte, error) {
	return local.RunCommand(ctx, cmd)
}

// Up resolves the image (resolveImage: --image, else the target's local
// image) and is New with it.
func (r Runtime) Up(ctx context.Context, spec cluster.Spec) (cluster.Hosts, error) {
	target := r.Target
	if target == "" {
		target = spec.Target
	}
	cli, err := Connect(ctx)
	if err != nil {
		return nil, err
	}
	img, _, err := resolveImage(ctx, cli, target, r.Image)
	cli.Close()
	if err != nil {
		return nil, err
	}
	c, err := New(ctx, spec, img)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Describe names the runtime and the image its nodes will run, for
// test.json: "docker, image chaoscheck/redis:host (sha256:…; host
// packages redis-server=…)". It resolves the image as Up does.
func (r Runtime) Describe(ctx context.Context) (string, error) {
	cli, err := Connect(ctx)
	if err != nil {
		return "", err
	}
	defer cli.Close()
	img, labels, err := resolveImage(ctx, cli, r.Target, r.Image)
	if err != nil {
		return "", err
	}
	ictx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	in, err := cli.ImageInspect(ictx, img)
	if err != nil {
		return "", fmt.Errorf("docker: inspect image %s: %w", img, err)
	}
	s := "docker, image " + img + " (" + in.ID
	if p := labels[LabelPackages]; p != "" {
		s += "; host packages " + p
	}
	return s + ")", nil
}
