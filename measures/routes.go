package measures

import "strings"

// RouteKey is the history op Extra key in which a read policy says why a
// read went to the node that served it (--max-replica-lag: see package
// targets/readpolicy). Its values start with the kind of node that
// served the read, "replica" or "primary", then ": " and why.
const RouteKey = "route"

// ReadRoutes counts the ok operations that carry a route (reads under a
// read policy), by route: what the policy did over the run.
type ReadRoutes struct {
	// Reads is the number of ok reads with a route.
	Reads int64 `json:"reads"`
	// ToPrimary is how many of them the policy sent to the primary, and
	// PrimaryShare their share of Reads.
	ToPrimary    int64   `json:"to_primary"`
	PrimaryShare float64 `json:"primary_share"`
	// ByRoute counts the reads per route value.
	ByRoute map[string]int64 `json:"by_route"`
}

// routes accumulates ReadRoutes.
type routes map[string]int64

// add counts one completion, if it is ok and has a route (only reads
// have one).
func (r routes) add(route string, ok bool) {
	if ok && route != "" {
		r[route]++
	}
}

// result is the measurement; nil when no read had a route.
func (r routes) result() *ReadRoutes {
	if len(r) == 0 {
		return nil
	}
	out := &ReadRoutes{ByRoute: map[string]int64(r)}
	for k, n := range r {
		out.Reads += n
		if strings.HasPrefix(k, "primary") {
			out.ToPrimary += n
		}
	}
	out.PrimaryShare = float64(out.ToPrimary) / float64(out.Reads)
	return out
}
