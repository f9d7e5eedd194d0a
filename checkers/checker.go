// Package checkers turns a history into verdicts.
//
// Every checker judges the history alone (never the database), and keeps
// the two rules that make its verdict worth reading:
//
//   - Valid is said only when the checker decided. A time limit, a
//     malformed history or an operation it cannot interpret gives Unknown,
//     with the reason in Result.Reason.
//   - Every anomaly names the history operations (indexes) that prove it,
//     so a person can open the history and see it.
package checkers

import (
	"context"

	"github.com/chaoscheck/chaoscheck/history"
)

// Verdict is a checker's answer.
type Verdict string

const (
	// Valid: the checker decided that the history has no anomaly of its
	// kind.
	Valid Verdict = "valid"
	// Invalid: at least one anomaly, with witnesses.
	Invalid Verdict = "invalid"
	// Unknown: the checker could not decide (time limit, unusable input).
	Unknown Verdict = "unknown"
)

// Checker judges a history.
type Checker interface {
	// Name is a short stable identifier, such as "linearizable" or "set".
	Name() string
	// Check judges h. It must honour ctx: a cancelled context gives
	// Unknown, never Valid.
	Check(ctx context.Context, h *history.History) Result
}

// Anomaly is one proven violation.
type Anomaly struct {
	// Kind is a stable class name, e.g. "lost-write", "stale-read",
	// "read-your-writes", "non-linearizable". Reports explain each class.
	Kind string `json:"kind"`
	// Key the anomaly is about, if any.
	Key string `json:"key,omitempty"`
	// Ops are the indexes of the history operations that witness it, in
	// history order.
	Ops []int `json:"ops"`
	// Message says in plain words what the witnesses show.
	Message string `json:"message"`
	// StalenessNS, for staleness anomalies, is how long after the
	// completion of the missed write the offending read returned.
	StalenessNS int64 `json:"staleness_ns,omitempty"`
}

// Result is a checker's verdict on one history.
type Result struct {
	Checker string  `json:"checker"`
	Verdict Verdict `json:"verdict"`
	// Reason explains an Unknown verdict (or anything notable about a
	// decided one).
	Reason string `json:"reason,omitempty"`
	// Anomalies holds witnesses, possibly capped at MaxAnomalies per kind;
	// AnomalyCounts always has the full count per kind.
	Anomalies     []Anomaly      `json:"anomalies,omitempty"`
	AnomalyCounts map[string]int `json:"anomaly_counts,omitempty"`
	// Counts are checker-specific tallies (ops checked, keys, acknowledged
	// adds, ...).
	Counts map[string]int64 `json:"counts,omitempty"`
	// Artifacts are files the checker wrote (e.g. porcupine's
	// visualization), relative to the output directory.
	Artifacts []string `json:"artifacts,omitempty"`
	// Staleness, for checkers that measure staleness, holds the staleness
	// of every stale observation they found: uncapped, unlike Anomalies,
	// whose witnesses stop at MaxAnomalies per kind. It is not written to
	// results.json: package measures summarises it into the run's
	// staleness distribution.
	Staleness *StalenessSample `json:"-"`
}

// StalenessSample is the staleness of every stale observation of one
// check, 8 bytes each.
type StalenessSample struct {
	// Of names what one entry measures, plural: "stale reads" (one per
	// read that missed a write), or "stale elements" (the set checker:
	// one per element, its last stale read).
	Of string
	// NS holds one staleness per observation, in nanoseconds (the time
	// from the completion of the missed write to the stale read's), in
	// the order found.
	NS []int64
	// Anomalies is how many anomalies the observations make: more than
	// len(NS) when one read violates two guarantees (it is one stale
	// read, with the longer staleness).
	Anomalies int
}

// Add records one observation, the witness of n anomalies.
func (s *StalenessSample) Add(ns int64, n int) {
	s.NS = append(s.NS, ns)
	s.Anomalies += n
}

// MaxAnomalies is how many witnesses of one kind a Result keeps.
const MaxAnomalies = 100

// AddAnomaly records a, keeping at most MaxAnomalies of its kind and
// counting all, and marks the result Invalid.
func (r *Result) AddAnomaly(a Anomaly) {
	if r.AnomalyCounts == nil {
		r.AnomalyCounts = make(map[string]int)
	}
	r.AnomalyCounts[a.Kind]++
	if r.AnomalyCounts[a.Kind] <= MaxAnomalies {
		r.Anomalies = append(r.Anomalies, a)
	}
	r.Verdict = Invalid
}

// Count adds n to the tally name.
func (r *Result) Count(name string, n int64) {
	if r.Counts == nil {
		r.Counts = make(map[string]int64)
	}
	r.Counts[name] += n
}

// unknown builds an Unknown result.
func unknown(name, reason string) Result {
	return Result{Checker: name, Verdict: Unknown, Reason: reason}
}

// Merge combines verdicts: Invalid wins over Unknown, which wins over
// Valid. An empty list is Unknown: nothing was decided.
func Merge(vs ...Verdict) Verdict {
	if len(vs) == 0 {
		return Unknown
	}
	out := Valid
	for _, v := range vs {
		switch v {
		case Invalid:
			return Invalid
		case Unknown:
			out = Unknown
		case Valid:
		default:
			out = Unknown
		}
	}
	return out
}
