package measures

import (
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
)

func TestReadRoutes(t *testing.T) {
	toReplica := map[string]string{RouteKey: "replica: fresh lag below bound"}
	toPrimary := map[string]string{RouteKey: "primary: replica lag at or over bound"}
	var ops []history.Op
	add := func(p history.Process, f string, typ history.Type, node string, extra map[string]string) {
		ops = append(ops, history.Op{Index: len(ops), Time: int64(len(ops)), Type: history.Invoke, Process: p, F: f, Value: history.Nil()})
		ops = append(ops, history.Op{Index: len(ops), Time: int64(len(ops)), Type: typ, Process: p, F: f, Node: node, Extra: extra, Value: history.Int(1)})
	}
	add(0, "write", history.OK, "n1", nil)
	add(0, "read", history.OK, "n2", toReplica)
	add(0, "read", history.OK, "n3", toReplica)
	add(0, "read", history.OK, "n1", toPrimary)
	add(0, "read", history.Fail, "n1", toPrimary) // not ok: not counted
	m, err := Compute(&history.History{Ops: ops}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := m.ReadRoutes
	if r == nil || r.Reads != 3 || r.ToPrimary != 1 || r.ByRoute[toReplica[RouteKey]] != 2 || r.PrimaryShare < 0.33 || r.PrimaryShare > 0.34 {
		t.Fatalf("routes %+v", r)
	}
	// No route anywhere: no measurement.
	m, err = Compute(&history.History{Ops: ops[:2]}, nil, Options{})
	if err != nil || m.ReadRoutes != nil {
		t.Fatalf("without routes: %+v %v", m.ReadRoutes, err)
	}
}
