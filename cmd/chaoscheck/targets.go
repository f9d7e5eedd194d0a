package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/cluster/runtimes"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/targets/all"
)

// targetFlags are --target and the flags of every target's group (from
// the registry, targets/all): the command line parses any of them, and
// build refuses those that the chosen target does not read.
type targetFlags struct {
	reg  targets.Registry
	name string
	fs   *pflag.FlagSet
	err  error // a registry inconsistency, reported by build
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
		usage += "; real servers run in network namespaces and need root"
	}
	fs.StringVar(&t.name, "target", def, usage)
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
	rt, err := runtimes.Default()
	if err != nil {
		return nil, err
	}
	return t.reg.Build(t.name, t.fs, targets.Common{Seed: seed, Runtime: rt})
}

// anyTarget keeps every registered target.
func anyTarget(targets.Registration) string { return "" }
