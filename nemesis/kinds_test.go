package nemesis

import (
	"slices"
	"testing"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// TestKindNeeds: each row's Needs are exactly what its fault's Check
// asks of a plan: with all of them (and 5 nodes in 2 regions) it passes, and without
// any one of them it fails; capabilities it does not list are not asked.
func TestKindNeeds(t *testing.T) {
	for _, k := range Kinds() {
		if k.Summary == "" || len(k.Needs) == 0 {
			t.Errorf("%s: no summary or no needs", k.Name)
		}
		f := k.New(One)
		full := cluster.Plan{Nodes: 5, Regions: 2, Supported: slices.Clone(k.Needs)}
		if err := f.Check(full); err != nil {
			t.Errorf("%s: refused with its needs %v: %v", k.Name, k.Needs, err)
		}
		for _, c := range k.Needs {
			p := cluster.Plan{Nodes: 5, Regions: 2, Supported: slices.DeleteFunc(slices.Clone(k.Needs), func(x cluster.Capability) bool { return x == c })}
			if err := f.Check(p); err == nil {
				t.Errorf("%s: accepted a plan without %s", k.Name, c)
			}
		}
		if _, ok := f.(NodeSelector); ok != k.Nodes {
			t.Errorf("%s: Nodes %v, but the fault selects nodes: %v", k.Name, k.Nodes, ok)
		}
		if f.Name() != k.Name && !slices.Contains(Shapes, Shape(k.Name)) && k.Name != string(Region) && k.Name != "kill-primary" {
			t.Errorf("%s builds a fault named %s", k.Name, f.Name())
		}
	}
}
