//go:build linux

package docker

import (
	"context"
	"fmt"
	"strings"

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
	// Default is the target's default image, the one its users run
	// (e.g. "postgres:15"); the nodes run it when it is on this machine,
	// else LocalImage(Target) (see resolveImage). Empty: LocalImage.
	Default string
	// Image (--image) replaces both; it must be on this machine and have
	// what Needs asks for (checked by Probe, before anything is
	// deployed; refusals wrap cluster.ErrBadImage).
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

	_ cluster.LayoutResolver = Runtime{}
	_ cluster.ImageChooser   = Runtime{}
)

// Registration is the Docker runtime's row in the runtime registry
// (cluster/runtimes).
func Registration() cluster.RuntimeRegistration {
	return cluster.RuntimeRegistration{
		Name:    "docker",
		Summary: "containers on an internal bridge network, through the Docker Engine API (needs root and dockerd; nodes run the target's official image when it is on this machine, else the local image of chaoscheck images build)",
		Images:  true,
		New: func(o cluster.RuntimeOptions) (cluster.Runtime, error) {
			return Runtime{Target: o.Target, Default: o.DefaultImage, Image: o.Image, Needs: o.Needs}, nil
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
// target or an image, that the run's image is on this machine
// (resolveImage: the error says to pull or load it, or to run chaoscheck
// images build) and has the programs of Needs (discoverLayout: the error
// names what is missing). For an image named by --image, both refusals
// wrap cluster.ErrBadImage.
func (r Runtime) Probe(ctx context.Context) error {
	if err := Probe(ctx); err != nil {
		return err
	}
	if r.Target == "" && r.Image == "" {
		return nil
	}
	if _, err := r.Layout(ctx, r.Needs); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	return nil
}

// resolve resolves the run's image (resolveImage).
func (r Runtime) resolve(ctx context.Context, target string) (resolved, error) {
	cli, err := Connect(ctx)
	if err != nil {
		return resolved{}, err
	}
	defer cli.Close()
	return resolveImage(ctx, cli, target, r.Image, r.Default)
}

// Layout resolves needs in the run's image (discoverLayout): the paths
// of the programs and the ids of the users the nodes will run. It
// implements cluster.LayoutResolver.
func (r Runtime) Layout(ctx context.Context, needs cluster.NodeNeeds) (cluster.Layout, error) {
	cli, err := Connect(ctx)
	if err != nil {
		return cluster.Layout{}, err
	}
	defer cli.Close()
	img, err := resolveImage(ctx, cli, r.Target, r.Image, r.Default)
	if err != nil {
		return cluster.Layout{}, err
	}
	l, err := discoverLayout(ctx, cli, img, needs)
	if err != nil && img.choice.Reason == cluster.ImageFlag {
		return cluster.Layout{}, cluster.BadImage(err)
	}
	return l, err
}

// ChooseImage is the image Up will run, and why (resolveImage). It
// implements cluster.ImageChooser.
func (r Runtime) ChooseImage(ctx context.Context) (cluster.ImageChoice, error) {
	img, err := r.resolve(ctx, r.Target)
	if err != nil {
		return cluster.ImageChoice{}, err
	}
	return img.choice, nil
}

// RunCommand runs a helper on the controller: this machine, as the
// local runtime does.
func (Runtime) RunCommand(ctx context.Context, cmd cluster.Command) ([]byte, error) {
	return local.RunCommand(ctx, cmd)
}

// Up resolves the image (resolveImage: --image, else the target's
// default, else its local image) and is New with it.
func (r Runtime) Up(ctx context.Context, spec cluster.Spec) (cluster.Hosts, error) {
	target := r.Target
	if target == "" {
		target = spec.Target
	}
	img, err := r.resolve(ctx, target)
	if err != nil {
		return nil, err
	}
	c, err := New(ctx, spec, img.choice.Ref)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Describe names the runtime and the image its nodes will run, for
// test.json's settings: "docker, image chaoscheck/redis:host (sha256:…;
// host packages redis-server=…; the default redis:7 is not on this
// machine)". It resolves the image as Up does.
func (r Runtime) Describe(ctx context.Context) (string, error) {
	c, err := r.ChooseImage(ctx)
	if err != nil {
		return "", err
	}
	s := "docker, image " + c.Ref + " (" + c.ID
	if len(c.HostPackages) > 0 {
		s += "; host packages " + strings.Join(c.HostPackages, ",")
	}
	switch c.Reason {
	case cluster.ImageFlag:
		s += "; --image"
	case cluster.ImageDefault:
		if c.Default != "" {
			s += "; the target's default"
		}
	case cluster.ImageFallback:
		s += "; " + c.Why
	}
	return s + ")", nil
}
