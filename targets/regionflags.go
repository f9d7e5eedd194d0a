package targets

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// RegionFlags are the standing conditions between regions, as flags that
// a target with --regions registers: --region-rtt, --region-jitter and
// --region-loss.
type RegionFlags struct {
	rtt, jitter time.Duration
	lossPct     float64
}

// Define registers the flags on fs; between names what the regions are
// ("regions", "datacenters").
func (r *RegionFlags) Define(fs *pflag.FlagSet, between string) {
	fs.DurationVar(&r.rtt, "region-rtt", 0, "standing round-trip time between two "+between+" (needs --regions 2 or more)")
	fs.DurationVar(&r.jitter, "region-jitter", 0, "jitter of that round trip: up to this much more, at random (half each way)")
	fs.Float64Var(&r.lossPct, "region-loss", 0, "percent of packets lost on each direction of each link between "+between)
}

// Link returns the conditions the flags on fs give, refusing them with
// fewer than 2 regions and out-of-range figures.
func (r *RegionFlags) Link(fs *pflag.FlagSet, regions int) (cluster.RegionLink, error) {
	for _, f := range []string{"region-rtt", "region-jitter", "region-loss"} {
		if fs.Changed(f) && regions < 2 {
			return cluster.RegionLink{}, fmt.Errorf("--%s applies between regions: give --regions 2 or more", f)
		}
	}
	switch {
	case r.rtt < 0:
		return cluster.RegionLink{}, fmt.Errorf("--region-rtt must not be negative, got %v", r.rtt)
	case r.rtt > 10*time.Second:
		return cluster.RegionLink{}, fmt.Errorf("--region-rtt %v: at most 10s", r.rtt)
	case r.jitter < 0 || r.jitter > 10*time.Second:
		return cluster.RegionLink{}, fmt.Errorf("--region-jitter must be within 0 and 10s, got %v", r.jitter)
	case r.lossPct < 0 || r.lossPct >= 100:
		return cluster.RegionLink{}, fmt.Errorf("--region-loss is a percentage of packets, from 0 to less than 100, got %g", r.lossPct)
	}
	return cluster.RegionLink{RTT: r.rtt, Jitter: r.jitter, Loss: r.lossPct / 100}, nil
}
