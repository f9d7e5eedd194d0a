package elle

import (
	"github.com/chaoscheck/chaoscheck/checkers"
)

// finding is one anomaly case: its Elle type, the transactions that
// witness it, and its explanation in plain words.
type finding struct {
	kind string
	key  string
	txns []int32
	msg  string
	// cyc is the cycle of a cycle anomaly (txns in cycle order, steps[i]
	// orders cyc[i] before cyc[i+1 mod n]).
	cyc *cycle
}

// findings collects cases by type, counting all and keeping at most
// checkers.MaxAnomalies of each type.
type findings struct {
	byKind map[string][]finding
	count  map[string]int
}

func newFindings() *findings {
	return &findings{byKind: make(map[string][]finding), count: make(map[string]int)}
}

// add records one case; msg is called only when the case is kept.
func (f *findings) add(kind, key string, txns []int32, msg func() string) {
	f.count[kind]++
	if f.count[kind] > checkers.MaxAnomalies {
		return
	}
	f.byKind[kind] = append(f.byKind[kind], finding{kind: kind, key: key, txns: txns, msg: msg()})
}

// flag records a type with no case of its own (empty-transaction-graph).
func (f *findings) flag(kind, msg string) {
	f.add(kind, "", nil, func() string { return msg })
}

func (f *findings) merge(o *findings) {
	for k, n := range o.count {
		f.count[k] += n
	}
	for k, fs := range o.byKind {
		room := checkers.MaxAnomalies - len(f.byKind[k])
		if room > len(fs) {
			room = len(fs)
		}
		if room > 0 {
			f.byKind[k] = append(f.byKind[k], fs[:room]...)
		}
	}
}

func (f *findings) kinds() []string {
	out := make([]string, 0, len(f.count))
	for k, n := range f.count {
		if n > 0 {
			out = append(out, k)
		}
	}
	return out
}
