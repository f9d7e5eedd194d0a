//go:build linux

package local

import (
	"testing"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// The local runtime declares clock skew exactly when libfaketime is
// there (SetClockOffset refuses otherwise).
func TestPlanDeclaresClockWithFaketime(t *testing.T) {
	p := Plan(3)
	for _, c := range []cluster.Capability{cluster.CanPartition, cluster.CanKill, cluster.CanPause} {
		if err := p.Supports(c); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
	if err := p.Supports(cluster.CanSkewClock); (err == nil) != (findFaketime() != "") {
		t.Errorf("clock: %v with libfaketime at %q", err, findFaketime())
	}
	if p.Supports(cluster.CanFailover) == nil {
		t.Error("the runtime alone declares failover")
	}
}
