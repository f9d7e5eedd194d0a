package checkers

import (
	"slices"
	"strings"
	"testing"
)

// TestRegistry: every row builds a checker of its name, names are
// unique, and Build refuses unknown names and an empty list, and reports
// the options the chosen checkers read.
func TestRegistry(t *testing.T) {
	r := Checkers()
	seen := map[string]bool{}
	for _, c := range r {
		if seen[c.Name] || c.Summary == "" {
			t.Errorf("%s: duplicate or without summary", c.Name)
		}
		seen[c.Name] = true
		if got := c.New(Options{}).Name(); got != c.Name {
			t.Errorf("row %s builds checker %s", c.Name, got)
		}
	}
	cs, reads, err := r.Build([]string{"set", " linearizable"}, Options{Model: ModelRegister, OutDir: "/x"})
	if err != nil || len(cs) != 2 || !reads[OptModel] || !reads[OptTimeLimit] {
		t.Fatalf("Build = %v %v %v", cs, reads, err)
	}
	if l := cs[1].(*Linearizable); l.Model != ModelRegister || l.VisualizeDir != "/x" {
		t.Errorf("linearizable options %+v", l)
	}
	if _, reads, _ := r.Build([]string{"counter"}, Options{}); reads[OptModel] {
		t.Error("counter reads --model")
	}
	if _, _, err := r.Build([]string{"nope"}, Options{}); err == nil || !strings.Contains(err.Error(), strings.Join(r.Names(), ", ")) {
		t.Errorf("unknown checker: %v", err)
	}
	if _, _, err := r.Build(nil, Options{}); err == nil {
		t.Error("empty list accepted")
	}
	if !slices.Contains(r.Names(), "lost-update") || !strings.Contains(r.Help(), "session (") {
		t.Errorf("names %v help %q", r.Names(), r.Help())
	}
}
