package cluster

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
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

// hostsOnly is a runtime's Hosts with nodes and nothing else (calling
// any other method panics): no Partitioner, no ClockSkewer.
type hostsOnly struct {
	Hosts
	nodes []string
}

func (h hostsOnly) Nodes() []string { return h.nodes }

// A Deployed over a runtime without partitions or clock offsets does not
// claim them, whatever the target declared: PlanOf (what the nemesis
// checks after deploying) and the forwarded calls say unsupported, with
// why; what the runtime lacks is never silently a no-op.
func TestDeployedPlan(t *testing.T) {
	declared := Plan{Nodes: 2}.With(CanPartition, CanKill, CanPause, CanSkewClock)
	d := NewDeployed(hostsOnly{nodes: []string{"n1", "n2"}}, declared)
	p := PlanOf(d)
	if p.Nodes != 2 {
		t.Errorf("nodes %d", p.Nodes)
	}
	for _, c := range []Capability{CanPartition, CanSkewClock} {
		if err := p.Supports(c); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "does not implement") {
			t.Errorf("PlanOf: %s: %v", c, err)
		}
	}
	for _, c := range []Capability{CanKill, CanPause} {
		if err := p.Supports(c); err != nil {
			t.Errorf("PlanOf: %s: %v", c, err)
		}
	}
	if err := d.Partition(t.Context(), Bidirectional([]string{"n1"}, []string{"n2"})); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Partition: %v", err)
	}
	if err := d.SetClockOffset(t.Context(), "n1", time.Second); !errors.Is(err, ErrUnsupported) {
		t.Errorf("SetClockOffset: %v", err)
	}
	if err := d.HealNetwork(t.Context()); err != nil {
		t.Errorf("HealNetwork with no partitions: %v", err)
	}
	// A capability the target took away stays away although the runtime
	// has it.
	p = PlanOf(NewDeployed(hostsOnly{nodes: []string{"n1"}}, declared.Without(CanKill, "no")))
	if p.Supports(CanKill) == nil {
		t.Error("kill declared away but in PlanOf")
	}
}
