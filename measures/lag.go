package measures

import (
	"errors"
	"slices"
	"strings"

	"github.com/chaoscheck/chaoscheck/lag"
)

// ReplicaLag summarises one replica's samples of lag.jsonl (package lag):
// the database's own account of how far behind the replica was, sampled
// every --lag-interval by the runner.
type ReplicaLag struct {
	Node string `json:"node"`
	// Of is the node it lagged behind in its last sample that names one.
	Of string `json:"of,omitempty"`
	// Samples counts the replica's samples, Failed those with an error
	// (the replica or the round could not be sampled).
	Samples int `json:"samples"`
	Failed  int `json:"failed"`
	// Lag is the distribution of LagNS over the samples that have it.
	Lag *LatencyStats `json:"lag,omitempty"`
	// Derived: some of those figures were derived from positions by the
	// deployment (lag.Sample.Derived), with the sampling resolution.
	Derived bool `json:"derived,omitempty"`
	// AlertNS is the threshold (--lag-alert); OverAlertNS the time the
	// replica's lag spent over it: every sample over it counts until the
	// replica's next sample (the last one counts for nothing).
	AlertNS     int64 `json:"alert_ns"`
	OverAlertNS int64 `json:"over_alert_ns"`
	// The other figures, where the database gives them (lag.Sample).
	WriteLag  *LatencyStats `json:"write_lag,omitempty"`
	FlushLag  *LatencyStats `json:"flush_lag,omitempty"`
	ReplayLag *LatencyStats `json:"replay_lag,omitempty"`
	Bytes     *FigureStats  `json:"bytes,omitempty"`
	Entries   *FigureStats  `json:"entries,omitempty"`
	Hints     *FigureStats  `json:"hints,omitempty"`
	HintFiles *FigureStats  `json:"hint_files,omitempty"`
}

// FigureStats summarises a count (bytes, entries, hints) over Count
// samples; nearest-rank percentiles.
type FigureStats struct {
	Count int   `json:"count"`
	P50   int64 `json:"p50"`
	P99   int64 `json:"p99"`
	Max   int64 `json:"max"`
}

// replicaAcc gathers one replica's figures (8 bytes a figure a sample:
// samples are bounded by the run's length over the interval, not by its
// operations).
type replicaAcc struct {
	r        ReplicaLag
	lagAt    int64 // time of the last sample with a figure over the alert, -1: none
	lastTime int64
	figs     [8][]int64 // lag, write, flush, replay, bytes, entries, hints, hint files
}

// ReplicationLag summarises the samples that scan gives (lag.ScanFile),
// per replica in node order, against the alert threshold alertNS. No
// samples (lag.ErrNoSamples): nil.
func ReplicationLag(scan func(func(*lag.Sample) error) error, alertNS int64) ([]ReplicaLag, error) {
	accs := map[string]*replicaAcc{}
	err := scan(func(s *lag.Sample) error {
		a := accs[s.Node]
		if a == nil {
			a = &replicaAcc{r: ReplicaLag{Node: s.Node, AlertNS: alertNS}, lagAt: -1}
			accs[s.Node] = a
		}
		if a.lagAt >= 0 && s.Time > a.lagAt {
			a.r.OverAlertNS += s.Time - a.lagAt
		}
		a.lagAt = -1
		a.r.Samples++
		if s.Of != "" {
			a.r.Of = s.Of
		}
		if s.Err != "" {
			a.r.Failed++
			return nil
		}
		for i, p := range []*int64{s.LagNS, s.WriteLagNS, s.FlushLagNS, s.ReplayLagNS, s.Bytes, s.Entries, s.Hints, s.HintFiles} {
			if p != nil {
				a.figs[i] = append(a.figs[i], *p)
			}
		}
		if s.LagNS != nil {
			a.r.Derived = a.r.Derived || s.Derived
			if *s.LagNS > alertNS {
				a.lagAt = s.Time
			}
		}
		return nil
	})
	if errors.Is(err, lag.ErrNoSamples) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(accs))
	for n := range accs {
		names = append(names, n)
	}
	slices.SortFunc(names, nodeOrder)
	out := make([]ReplicaLag, 0, len(names))
	for _, n := range names {
		a := accs[n]
		lat := func(i int) *LatencyStats {
			if len(a.figs[i]) == 0 {
				return nil
			}
			s := Stats(a.figs[i])
			return &s
		}
		fig := func(i int) *FigureStats {
			if len(a.figs[i]) == 0 {
				return nil
			}
			s := Stats(a.figs[i])
			return &FigureStats{Count: s.Count, P50: s.P50NS, P99: s.P99NS, Max: s.MaxNS}
		}
		a.r.Lag, a.r.WriteLag, a.r.FlushLag, a.r.ReplayLag = lat(0), lat(1), lat(2), lat(3)
		a.r.Bytes, a.r.Entries, a.r.Hints, a.r.HintFiles = fig(4), fig(5), fig(6), fig(7)
		out = append(out, a.r)
	}
	return out, nil
}

// nodeOrder sorts node names n2 before n10.
func nodeOrder(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}
