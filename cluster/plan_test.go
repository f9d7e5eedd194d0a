package cluster

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestPlanWithWithout(t *testing.T) {
	p := Plan{Nodes: 3}.With(CanPartition, CanKill)
	q := p.Without(CanKill, "no processes to kill; use --target x")
	if p.Supports(CanKill) != nil {
		t.Error("Without changed the plan it was called on")
	}
	err := q.Supports(CanKill)
	var ue *UnsupportedError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "use --target x") {
		t.Errorf("Supports of a removed capability: %v", err)
	}
	if r := q.With(CanKill); r.Supports(CanKill) != nil || r.Unsupported[CanKill] != "" {
		t.Errorf("With after Without: %+v", r)
	}
	if err := p.Supports(CanSkewClock); !errors.Is(err, ErrUnsupported) {
		t.Errorf("capability never declared: %v", err)
	}
}

func TestPlanOf(t *testing.T) {
	p := PlanOf(nodesOnly{"a", "b"})
	if p.Nodes != 2 || len(p.Supported) != 0 {
		t.Errorf("PlanOf a bare cluster: %+v", p)
	}
	if got := Capabilities(nodesOnly{}); !slices.Equal(got, nil) {
		t.Errorf("Capabilities of a bare cluster: %v", got)
	}
}

type nodesOnly []string

func (n nodesOnly) Nodes() []string { return n }
