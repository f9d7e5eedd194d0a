//go:build linux

package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/isolation"
)

// TestIsolationHermitage runs the Hermitage probes on a real PostgreSQL 15
// and asserts every cell of Hermitage's table for PostgreSQL: read
// committed prevents G0 G1a G1b G1c OTV and allows PMP P4 G-single
// G2-item G2; repeatable read prevents all but G2-item and G2;
// serializable prevents all. A prevented cell must say why (a read or a
// refusal).
func TestIsolationHermitage(t *testing.T) {
	requireEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := newConfig(t, Config{})
	rep, err := ProbeIsolation(ctx, cfg, isolation.Levels)
	if err != nil {
		t.Fatal(err)
	}
	tab, db := rep.Table, rep.Database
	t.Logf("%s: deploy %v, probes %v", db, rep.Deploy, rep.Probes)
	if !strings.HasPrefix(db, "PostgreSQL 15") {
		t.Errorf("probed %q, want PostgreSQL 15", db)
	}
	for _, d := range isolation.Diff(tab.Outcomes(), isolation.HermitagePostgres()) {
		t.Error(d)
	}
	for l, m := range tab {
		for a, r := range m {
			if r.Why == "" {
				t.Errorf("%s %s: %s with no reason", l, a, r.Outcome)
			}
		}
	}
	// The refusals are PostgreSQL's: repeatable read aborts the lost
	// update with a serialization failure, serializable the write skew.
	if w := tab[isolation.RepeatableRead]["P4"].Why; !strings.Contains(w, "40001") {
		t.Errorf("repeatable-read P4 prevented by %q, want a serialization failure", w)
	}
	if w := tab[isolation.Serializable]["G2-item"].Why; !strings.Contains(w, "40001") {
		t.Errorf("serializable G2-item prevented by %q, want a serialization failure", w)
	}
}
