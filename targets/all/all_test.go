//go:build linux

package all

import (
	"testing"

	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/runtimes"
	"github.com/chaoscheck/chaoscheck/targets"
)

// Every target builds from its defaults (nothing is deployed), declares
// its plan, and says for each capability it lacks why and what would
// work; the registry's flags agree across targets.
func TestRegistry(t *testing.T) {
	r := Registry()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	if err := r.DefineFlags(fs); err != nil {
		t.Fatal(err)
	}
	rt, err := runtimes.Default()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, reg := range r {
		if seen[reg.Name] || reg.Summary == "" {
			t.Errorf("%q: duplicate or without summary", reg.Name)
		}
		seen[reg.Name] = true
		tg, err := r.Build(reg.Name, fs, targets.Common{Seed: 1, Runtime: rt})
		if err != nil {
			t.Errorf("%s from defaults: %v", reg.Name, err)
			continue
		}
		if tg.Name() != reg.Name {
			t.Errorf("registration %s builds target %s", reg.Name, tg.Name())
		}
		p, ok := tg.(targets.Planner)
		if !ok {
			t.Errorf("%s declares no plan", reg.Name)
			continue
		}
		plan := p.Plan()
		if plan.Nodes != 3 {
			t.Errorf("%s plans %d nodes, want the default 3", reg.Name, plan.Nodes)
		}
		for _, c := range cluster.AllCapabilities {
			if plan.Supports(c) != nil && plan.Unsupported[c] == "" {
				t.Errorf("%s lacks %s without saying why", reg.Name, c)
			}
		}
	}
}
