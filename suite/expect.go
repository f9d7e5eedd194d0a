package suite

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// Expectation is what one run must show. Check judges the run's results
// (nil when the run produced none) and says in a sentence what was seen.
type Expectation interface {
	// String says what is expected, e.g. "verdict valid".
	String() string
	Check(r *rundir.Results) Seen
}

// Seen is an expectation's judgement of one run.
type Seen struct {
	Held bool
	// Seen says what the run showed, e.g. "verdict invalid (lost: 3)".
	Seen string
}

// ExpectKind is a row of the expectation table.
type ExpectKind struct {
	// Name is the kind as written in the file: a word (valid) or the key
	// of a one-key mapping (anomaly: lost).
	Name string
	// Arg says what the value is ("" for a word).
	Arg     string
	Summary string
	Parse   func(arg string) (Expectation, error)
}

// ExpectKinds is the table of expectation kinds: the verdicts, anomalies
// and one bound per measurement (Measures).
func ExpectKinds() []ExpectKind {
	ks := []ExpectKind{
		{Name: "valid", Summary: "every check decided and found no anomaly, as chaoscheck test --expect valid (unknown does not hold; a fault that did not heal makes the verdict unknown)",
			Parse: func(string) (Expectation, error) { return verdictIs{checkers.Valid}, nil }},
		{Name: "invalid", Summary: "some check found an anomaly (unknown does not hold)",
			Parse: func(string) (Expectation, error) { return verdictIs{checkers.Invalid}, nil }},
		{Name: "unknown", Summary: "the checks could not decide",
			Parse: func(string) (Expectation, error) { return verdictIs{checkers.Unknown}, nil }},
		{Name: "anomaly", Arg: "KIND", Summary: "an anomaly of this kind is found (e.g. lost, read-your-writes, G2-item)",
			Parse: func(a string) (Expectation, error) {
				return anomalyIs{kind: a, present: true}, nonEmpty(a, "anomaly kind")
			}},
		{Name: "no-anomaly", Arg: "KIND", Summary: "no anomaly of this kind, and every check decided",
			Parse: func(a string) (Expectation, error) { return anomalyIs{kind: a}, nonEmpty(a, "anomaly kind") }},
	}
	for _, m := range Measures() {
		ks = append(ks, ExpectKind{Name: m.Name, Arg: "OP VALUE (<, <=, >, >=, ==; " + m.Unit.what() + ")", Summary: m.Summary,
			Parse: func(a string) (Expectation, error) { return parseBound(m, a) }})
	}
	return ks
}

func nonEmpty(s, what string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("%s is empty", what)
	}
	return nil
}

// ParseExpectation builds the expectation of kind with its argument.
func ParseExpectation(kind, arg string) (Expectation, error) {
	var names []string
	for _, k := range ExpectKinds() {
		names = append(names, k.Name)
		if k.Name != kind {
			continue
		}
		if k.Arg == "" && arg != "" {
			return nil, fmt.Errorf("%s takes no value (write it as a word)", kind)
		}
		if k.Arg != "" && arg == "" {
			return nil, fmt.Errorf("%s needs a value: %s: %s", kind, kind, k.Arg)
		}
		e, err := k.Parse(arg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		return e, nil
	}
	return nil, fmt.Errorf("unknown expectation %q (known: %s)", kind, strings.Join(names, ", "))
}

// verdictIs expects the run's overall verdict.
type verdictIs struct{ want checkers.Verdict }

func (v verdictIs) String() string { return "verdict " + string(v.want) }

func (v verdictIs) Check(r *rundir.Results) Seen {
	if r == nil {
		return Seen{Seen: "no results (the run did not complete)"}
	}
	seen := "verdict " + string(r.Verdict) + anomalySummary(r)
	if r.Interrupted {
		return Seen{Seen: seen + ", interrupted"}
	}
	return Seen{Held: r.Verdict == v.want, Seen: seen}
}

// anomalySummary is " (kind: n, ...)" of the run's anomalies, "" without.
func anomalySummary(r *rundir.Results) string {
	counts := Anomalies(r)
	if len(counts) == 0 {
		return ""
	}
	var parts []string
	for _, k := range sortedKeys(counts) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, counts[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// Anomalies sums the anomaly counts of every check of r by kind.
func Anomalies(r *rundir.Results) map[string]int {
	out := map[string]int{}
	for _, c := range r.Checks {
		for k, n := range c.AnomalyCounts {
			if n > 0 {
				out[k] += n
			}
		}
	}
	return out
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// anomalyIs expects an anomaly kind to appear, or not to.
type anomalyIs struct {
	kind    string
	present bool
}

func (a anomalyIs) String() string {
	if a.present {
		return "anomaly " + a.kind
	}
	return "no anomaly " + a.kind
}

func (a anomalyIs) Check(r *rundir.Results) Seen {
	if r == nil {
		return Seen{Seen: "no results (the run did not complete)"}
	}
	n := Anomalies(r)[a.kind]
	seen := fmt.Sprintf("%d %s anomalies; verdict %s%s", n, a.kind, r.Verdict, anomalySummary(r))
	if a.present {
		return Seen{Held: n > 0, Seen: seen}
	}
	if n > 0 {
		return Seen{Seen: seen}
	}
	// Absence is proven only by checks that decided, over a whole run.
	var undecided []string
	for _, c := range r.Checks {
		if c.Verdict == checkers.Unknown {
			undecided = append(undecided, c.Workload+"/"+c.Checker)
		}
	}
	switch {
	case len(r.Checks) == 0:
		return Seen{Seen: seen + "; no check ran"}
	case len(undecided) > 0:
		return Seen{Seen: seen + "; undecided: " + strings.Join(undecided, ", ")}
	case r.Interrupted:
		return Seen{Seen: seen + "; interrupted"}
	}
	return Seen{Held: true, Seen: seen}
}

// Unit is how a measurement is written and shown.
type Unit int

// Units of measurements.
const (
	// Duration values are written as Go durations (50ms, 1.5s).
	Duration Unit = iota
	// Percent values are written 99% (or 99).
	Percent
	// Count values are plain numbers.
	Count
)

func (u Unit) what() string {
	switch u {
	case Duration:
		return "a duration such as 50ms"
	case Percent:
		return "a percentage such as 99%"
	}
	return "a number"
}

func (u Unit) parse(s string) (float64, error) {
	s = strings.TrimSpace(s)
	switch u {
	case Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration (e.g. 50ms)", s)
		}
		return float64(d), nil
	case Percent:
		v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil || v < 0 || v > 100 {
			return 0, fmt.Errorf("%q is not a percentage within 0 and 100 (e.g. 99%%)", s)
		}
		return v, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

// Format renders a value of the unit.
func (u Unit) Format(v float64) string {
	switch u {
	case Duration:
		d := time.Duration(v)
		if d >= time.Millisecond {
			d = d.Round(10 * time.Microsecond)
		}
		return d.String()
	case Percent:
		return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) + "%"
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// Measure is a number that results.json holds, for bounds.
type Measure struct {
	Name    string
	Unit    Unit
	Summary string
	// Get returns the value, or why the run does not have it.
	Get func(r *rundir.Results) (float64, string)
}

// Measures is the table of measurements a bound can name.
func Measures() []Measure {
	lat := func(name, summary string, get func(r *rundir.Results) (count int, v int64)) Measure {
		return Measure{Name: name, Unit: Duration, Summary: summary, Get: func(r *rundir.Results) (float64, string) {
			n, v := get(r)
			if n == 0 {
				return 0, "no successful operation to time"
			}
			return float64(v), ""
		}}
	}
	return []Measure{
		lat("p99-write-latency", "99th percentile latency of ok writes (write, add, cas, rmw)",
			func(r *rundir.Results) (int, int64) { l := r.Measurements.Latency.Write; return l.Count, l.P99NS }),
		lat("p99-read-latency", "99th percentile latency of ok reads",
			func(r *rundir.Results) (int, int64) { l := r.Measurements.Latency.Read; return l.Count, l.P99NS }),
		lat("p50-write-latency", "median latency of ok writes",
			func(r *rundir.Results) (int, int64) { l := r.Measurements.Latency.Write; return l.Count, l.P50NS }),
		lat("p50-read-latency", "median latency of ok reads",
			func(r *rundir.Results) (int, int64) { l := r.Measurements.Latency.Read; return l.Count, l.P50NS }),
		{Name: "availability", Unit: Percent, Summary: "share of client operations invoked during faults that succeeded (ok)", Get: faultAvailability},
		{Name: "availability-1-down", Unit: Percent, Summary: "share of reads and writes invoked with one replica down (killed or paused) that succeeded", Get: downAvailability(1)},
		{Name: "availability-2-down", Unit: Percent, Summary: "share of reads and writes invoked with two replicas down that succeeded", Get: downAvailability(2)},
		{Name: "lost-writes", Unit: Count, Summary: "set elements missing from the final read although an ok add or an earlier read had made them known (the set checker's lost, as Jepsen's); needs a set check that decided", Get: lostWrites},
		{Name: "lost-acknowledged-writes", Unit: Count, Summary: "acknowledged (ok) set adds missing from the final read, acknowledged before a failover ended (measurements.failovers); needs a failover", Get: func(r *rundir.Results) (float64, string) {
			if len(r.Measurements.Failovers) == 0 {
				return 0, "no failover happened"
			}
			n := 0
			for _, f := range r.Measurements.Failovers {
				n += f.LostWrites
			}
			return float64(n), ""
		}},
		{Name: "imbalance", Unit: Count, Summary: "busiest node's operations over the mean per node (1: even; N: one of N nodes serves everything)", Get: func(r *rundir.Results) (float64, string) {
			if r.Measurements.Load == nil || len(r.Measurements.Load.Nodes) == 0 {
				return 0, "no per-node load was measured"
			}
			return r.Measurements.Load.Imbalance, ""
		}},
		{Name: "failover-downtime", Unit: Duration, Summary: "longest stretch without a successful write around a failover", Get: func(r *rundir.Results) (float64, string) {
			if len(r.Measurements.Failovers) == 0 {
				return 0, "no failover happened"
			}
			var m int64
			for _, f := range r.Measurements.Failovers {
				m = max(m, f.DowntimeNS)
			}
			return float64(m), ""
		}},
		{Name: "ok-operations", Unit: Count, Summary: "client operations that succeeded", Get: func(r *rundir.Results) (float64, string) {
			return float64(r.Stats.OK), ""
		}},
	}
}

// faultAvailability is the ok share of client operations invoked while a
// fault was in force.
func faultAvailability(r *rundir.Results) (float64, string) {
	var ok, all int
	for _, a := range r.Measurements.Availability {
		ok += a.During.OK
		all += a.During.OK + a.During.Fail + a.During.Info
	}
	if all == 0 {
		return 0, "no operation was invoked during a fault"
	}
	return 100 * float64(ok) / float64(all), ""
}

func downAvailability(down int) func(r *rundir.Results) (float64, string) {
	return func(r *rundir.Results) (float64, string) {
		for _, q := range r.Measurements.Quorum {
			if q.Down != down {
				continue
			}
			ok := q.Reads.OK + q.Writes.OK
			all := ok + q.Reads.Fail + q.Reads.Info + q.Writes.Fail + q.Writes.Info
			if all == 0 {
				break
			}
			return 100 * float64(ok) / float64(all), ""
		}
		return 0, fmt.Sprintf("no read or write was invoked with %d replicas down (a target with replica counts and a kill or pause of %d nodes)", down, down)
	}
}

func lostWrites(r *rundir.Results) (float64, string) {
	n, decided := 0, false
	for _, c := range r.Checks {
		if c.Checker != "set" {
			continue
		}
		if c.Verdict == checkers.Unknown {
			return 0, "the set check did not decide (" + c.Reason + ")"
		}
		decided = true
		n += c.AnomalyCounts["lost"]
	}
	if !decided {
		return 0, "no set check ran (--workload set)"
	}
	return float64(n), ""
}

// bound expects a measurement to satisfy a comparison.
type bound struct {
	m     Measure
	op    string
	value float64
}

var boundRE = regexp.MustCompile(`^\s*(<=|>=|==|<|>)\s*(\S.*?)\s*$`)

func parseBound(m Measure, arg string) (Expectation, error) {
	g := boundRE.FindStringSubmatch(arg)
	if g == nil {
		return nil, fmt.Errorf("%q: write an operator and a value, e.g. \"< 50ms\", \">= 99%%\", \"== 0\"", arg)
	}
	v, err := m.Unit.parse(g[2])
	if err != nil {
		return nil, err
	}
	return bound{m: m, op: g[1], value: v}, nil
}

func (b bound) String() string {
	return fmt.Sprintf("%s %s %s", b.m.Name, b.op, b.m.Unit.Format(b.value))
}

func (b bound) Check(r *rundir.Results) Seen {
	if r == nil {
		return Seen{Seen: "no results (the run did not complete)"}
	}
	v, why := b.m.Get(r)
	if why != "" {
		return Seen{Seen: b.m.Name + " unknown: " + why}
	}
	var held bool
	switch b.op {
	case "<":
		held = v < b.value
	case "<=":
		held = v <= b.value
	case ">":
		held = v > b.value
	case ">=":
		held = v >= b.value
	case "==":
		held = v == b.value
	}
	seen := fmt.Sprintf("%s %s", b.m.Name, b.m.Unit.Format(v))
	if r.Interrupted {
		return Seen{Seen: seen + ", interrupted"}
	}
	return Seen{Held: held, Seen: seen}
}
