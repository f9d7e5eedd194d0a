package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/runtimes"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/all"
)

// targetFlags are --target, --runtime and the flags of every target's
// group (from the registries, targets/all and cluster/runtimes): the
// command line parses any of them, and build refuses those that the
// chosen target does not read.
type targetFlags struct {
	reg  targets.Registry
	name string
	// runtime is --runtime, a name of rts (default its first).
	runtime string
	// image is --image (runtimes that run images only).
	image string
	rts   cluster.RuntimeRegistry
	// rt is the runtime build made (nil for in-process targets).
	rt  cluster.Runtime
	fs  *pflag.FlagSet
	err error // a registry inconsistency, reported by build
	// left are the registered targets that keep refused, with why.
	left map[string]string
}

// define adds --target (default def) and the flags of the targets that
// keep accepts to fs. Call it after the command's own flags, so that a
// target flag clashing with one of them is a registry error (reported by
// build) rather than a redefinition panic. keep returns "" for a target the command takes, or
// why it does not.
func (t *targetFlags) define(fs *pflag.FlagSet, def string, keep func(targets.Registration) string) {
	t.left = map[string]string{}
	for _, r := range all.Registry() {
		if why := keep(r); why != "" {
			t.left[r.Name] = why
			continue
		}
		t.reg = append(t.reg, r)
	}
	lines := make([]string, len(t.reg))
	real := false
	for i, r := range t.reg {
		lines[i] = r.Name + " (" + r.Summary + ")"
		real = real || !r.InProcess
	}
	usage := "database: " + strings.Join(lines, ", ")
	if real {
		usage += "; real servers run on the --runtime (local: network namespaces, needs root)"
	}
	fs.StringVar(&t.name, "target", def, usage)
	t.rts = runtimes.Registry()
	rtLines := make([]string, len(t.rts))
	for i, r := range t.rts {
		rtLines[i] = r.Name + " (" + r.Summary + ")"
	}
	fs.StringVar(&t.runtime, "runtime", t.rts.Default(), "where the nodes of real targets run: "+strings.Join(rtLines, ", "))
	fs.StringVar(&t.image, "image", "", "container image of every node, for runtimes that run images (default: the target's official image when it is on this machine, else its local image made by chaoscheck images build; chaoscheck never pulls; the image's paths and users are read from it before anything is deployed)")
	t.err = t.reg.DefineFlags(fs)
	t.fs = fs
}

// build builds the chosen target from its flags, refusing flags given
// that belong only to other targets.
func (t *targetFlags) build(seed int64) (targets.Target, error) {
	if t.err != nil {
		return nil, fmt.Errorf("target registry: %w", t.err)
	}
	if why, ok := t.left[t.name]; ok {
		return nil, fmt.Errorf("--target %s: %s (here: %s)", t.name, why, strings.Join(t.reg.Names(), ", "))
	}
	rt, err := t.buildRuntime()
	if err != nil {
		return nil, err
	}
	t.rt = rt
	return t.reg.Build(t.name, t.fs, targets.Common{Seed: seed, Runtime: rt})
}

// buildRuntime builds the --runtime for the chosen target: none for a
// target whose nodes live in-process (where --runtime is refused), and
// an unknown name is refused naming the runtimes there are.
func (t *targetFlags) buildRuntime() (cluster.Runtime, error) {
	reg, ok := t.reg.Lookup(t.name)
	if !ok {
		return nil, nil // Build refuses the target
	}
	if reg.InProcess {
		if t.fs.Changed("image") {
			return nil, fmt.Errorf("--image applies to targets whose nodes run outside chaoscheck, not %s", t.name)
		}
		if t.fs.Changed("runtime") {
			var real []string
			for _, r := range t.reg {
				if !r.InProcess {
					real = append(real, r.Name)
				}
			}
			return nil, fmt.Errorf("--runtime applies to targets whose nodes run outside chaoscheck (%s), not %s", strings.Join(real, ", "), t.name)
		}
		return nil, nil
	}
	if len(reg.Runtimes) > 0 && !contains(reg.Runtimes, t.runtime) {
		return nil, fmt.Errorf("--runtime %s: not for --target %s: %s", t.runtime, t.name, reg.NotOnOthers)
	}
	if t.fs.Changed("image") && t.image == "" {
		return nil, fmt.Errorf("--image: empty image name")
	}
	rt, err := t.rts.New(t.runtime, cluster.RuntimeOptions{Target: reg.Name, Needs: reg.NodeNeeds, Image: t.image, DefaultImage: reg.Image})
	if err != nil {
		return nil, fmt.Errorf("--runtime: %w", err)
	}
	return rt, nil
}

// anyTarget keeps every registered target.
func anyTarget(targets.Registration) string { return "" }

// probeTarget runs the target's probe (its runtime's, then its own
// tools'), bounded, before anything is deployed or stored: a missing
// daemon, image, privilege or package is a one-line error (exit 255),
// and an --image that is not on this machine or lacks what the nodes
// run is bad input (exit 254). Targets without a probe pass.
func probeTarget(ctx context.Context, target targets.Target) error {
	p, ok := target.(interface{ Probe(context.Context) error })
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if err := p.Probe(ctx); err != nil {
		err = flatError{err}
		if errors.Is(err, cluster.ErrBadImage) {
			return badInput(err)
		}
		return couldNotRun(err)
	}
	return nil
}

// flatError is an error on one line (its lines joined by "; "), wrapping
// the original.
type flatError struct{ err error }

func (e flatError) Error() string { return strings.ReplaceAll(e.err.Error(), "\n", "; ") }
func (e flatError) Unwrap() error { return e.err }

// chooseImage is the image the nodes will run, for runtimes that run
// images (nil otherwise), for test.json. When the target's default
// image is not on this machine and the runtime falls back to the local
// image, it says so in one line on errOut.
func (t *targetFlags) chooseImage(ctx context.Context, errOut io.Writer) (*rundir.Image, error) {
	ic, ok := t.rt.(cluster.ImageChooser)
	if t.rt == nil || !ok {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	c, err := ic.ChooseImage(ctx)
	if err != nil {
		return nil, err
	}
	if c.Reason == cluster.ImageFallback {
		pk := ""
		if len(c.HostPackages) > 0 {
			pk = ", " + strings.Join(c.HostPackages, " ")
		}
		fmt.Fprintf(errOut, "chaoscheck: %s: %s; running the local image %s (this machine's packages%s) instead\n", t.name, c.Why, c.Ref, pk)
	}
	return &rundir.Image{Runtime: t.rt.Name(), Ref: c.Ref, ID: c.ID, Reason: string(c.Reason), Default: c.Default, Why: c.Why, HostPackages: c.HostPackages}, nil
}

// probeTimeout bounds probeTarget.
const probeTimeout = 30 * time.Second

// describeRuntime is the test.json line of the runtime the target
// deploys on ("" for in-process targets): its name, or what it says of
// itself (docker: the image it resolved).
func (t *targetFlags) describeRuntime(ctx context.Context) (string, error) {
	if t.rt == nil {
		return "", nil
	}
	if d, ok := t.rt.(interface {
		Describe(context.Context) (string, error)
	}); ok {
		ctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		return d.Describe(ctx)
	}
	return t.rt.Name(), nil
}
