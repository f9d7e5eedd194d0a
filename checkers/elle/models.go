package elle

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// This file holds Elle's tables (elle/consistency_model.clj, elle/txn.clj),
// name for name: which anomalies imply which, how consistency models imply
// one another, and which anomalies each model proscribes directly. The
// functions below are Elle's, over these tables.

// dag is a directed acyclic graph of names: out[a] lists b for a -> b.
type dag struct {
	out map[string][]string
	in  map[string][]string
}

func newDAG(m map[string][]string, canon func(string) string) dag {
	d := dag{out: make(map[string][]string), in: make(map[string][]string)}
	for a, bs := range m {
		a = canon(a)
		for _, b := range bs {
			b = canon(b)
			d.out[a] = append(d.out[a], b)
			d.in[b] = append(d.in[b], a)
			if _, ok := d.out[b]; !ok {
				d.out[b] = nil
			}
		}
		if _, ok := d.out[a]; !ok {
			d.out[a] = nil
		}
	}
	return d
}

func ident(s string) string { return s }

// bfs returns every name reachable from start (start included) along next.
func bfs(next map[string][]string, start []string) map[string]bool {
	seen := make(map[string]bool)
	q := append([]string(nil), start...)
	for _, s := range start {
		seen[s] = true
	}
	for len(q) > 0 {
		x := q[0]
		q = q[1:]
		for _, y := range next[x] {
			if !seen[y] {
				seen[y] = true
				q = append(q, y)
			}
		}
	}
	return seen
}

// impliedAnomalies is Elle's implied-anomalies: a -> b when an anomaly a
// is also an anomaly b.
var impliedAnomalies = newDAG(map[string][]string{
	"G0":          {"G1c", "G0-process"},
	"G0-process":  {"G1c-process", "G0-realtime"},
	"G0-realtime": {"G1c-realtime"},

	"G1a":          {"G1"},
	"G1b":          {"G1"},
	"G1c":          {"G1", "G1c-process"},
	"G1c-process":  {"G1c-realtime", "G1-process"},
	"G1c-realtime": {"G1-realtime"},
	"G1":           {"G1-process"},
	"G1-process":   {"G1-realtime"},

	"G-single-item":          {"G-single", "G-single-item-process", "G-nonadjacent-item"},
	"G-single-item-process":  {"G-single-process", "G-single-item-realtime", "G-nonadjacent-item-process"},
	"G-single-item-realtime": {"G-single-realtime", "G-nonadjacent-item-realtime"},

	"G-single":          {"G-nonadjacent", "GSIb", "G-single-process"},
	"G-single-process":  {"G-nonadjacent-process", "G-single-realtime"},
	"G-single-realtime": {"G-nonadjacent-realtime"},

	"G-nonadjacent-item":          {"G-nonadjacent", "G2-item", "G-nonadjacent-item-process"},
	"G-nonadjacent-item-process":  {"G-nonadjacent-process", "G2-item-process", "G-nonadjacent-item-realtime"},
	"G-nonadjacent-item-realtime": {"G2-item-realtime", "G-nonadjacent-realtime"},

	"G-nonadjacent":          {"G2", "G-nonadjacent-process"},
	"G-nonadjacent-process":  {"G2-process", "G-nonadjacent-realtime"},
	"G-nonadjacent-realtime": {"G2-realtime"},

	"G2":               {"G2-process"},
	"G2-item":          {"G2", "G2-item-process"},
	"G2-item-process":  {"G2-process", "G2-item-realtime"},
	"G2-item-realtime": {"G2-realtime"},
	"G2-process":       {"G2-realtime"},

	"GSIa": {"GSI"},
	"GSIb": {"GSI"},

	"incompatible-order": {"G1a"},
	"future-read":        {"G1c"},
	"dirty-update":       {"G1a"},
	"lost-update":        {"write-skew", "G2-item"},
	"write-skew":         {"G2"},
}, ident)

// anomalySeverity is Elle's anomaly-severity-graph: extra order used to
// search the worst anomalies first.
var anomalySeverity = map[string][]string{
	"G0":           {"G1c"},
	"G0-process":   {"G1c-process"},
	"G0-realtime":  {"G1c-realtime"},
	"G1c":          {"G-single", "G2-item"},
	"G1c-process":  {"G-single-process", "G2-item-process"},
	"G1c-realtime": {"G-single-realtime", "G2-item-realtime"},
	"G2":           {"G0-process"},
	"G2-process":   {"G0-realtime"},
}

// canonicalModelNames is Elle's canonical-model-names.
var canonicalModelNames = map[string]string{
	"consistent-view":                 "PL-2+",
	"conflict-serializable":           "PL-3",
	"cursor-stability":                "PL-CS",
	"forward-consistent-view":         "PL-FCV",
	"monotonic-snapshot-read":         "PL-MSR",
	"monotonic-view":                  "PL-2L",
	"read-committed":                  "PL-2",
	"read-uncommitted":                "PL-1",
	"repeatable-read":                 "PL-2.99",
	"serializable":                    "PL-3",
	"snapshot-isolation":              "PL-SI",
	"strict-serializable":             "PL-SS",
	"strong-serializable":             "PL-SS",
	"update-serializable":             "PL-3U",
	"strong-session-read-uncommitted": "strong-session-PL-1",
	"strong-session-read-committed":   "strong-session-PL-2",
	"strong-read-uncommitted":         "strong-PL-1",
	"strong-read-committed":           "strong-PL-2",
}

// friendlyModelNames maps canonical names back (PL-3 to serializable, and
// PL-SS to strict-serializable, as Elle's inversion of the map gives).
var friendlyModelNames = func() map[string]string {
	m := make(map[string]string)
	for f, c := range canonicalModelNames {
		m[c] = f
	}
	m["PL-3"] = "serializable"
	m["PL-SS"] = "strict-serializable"
	return m
}()

func canonicalModel(m string) string {
	if c, ok := canonicalModelNames[m]; ok {
		return c
	}
	return m
}

func friendlyModel(m string) string {
	if f, ok := friendlyModelNames[m]; ok {
		return f
	}
	return m
}

// models is Elle's model hierarchy: a -> b when a history satisfying a
// satisfies b.
var models = newDAG(map[string][]string{
	"causal-cerone":               {"read-atomic"},
	"consistent-view":             {"cursor-stability", "monotonic-view"},
	"conflict-serializable":       {"view-serializable"},
	"cursor-stability":            {"read-committed", "PL-2"},
	"forward-consistent-view":     {"consistent-view"},
	"PL-2":                        {"PL-1"},
	"PL-3":                        {"repeatable-read", "update-serializable"},
	"update-serializable":         {"forward-consistent-view"},
	"monotonic-atomic-view":       {"read-committed"},
	"monotonic-view":              {"PL-2"},
	"monotonic-snapshot-read":     {"PL-2"},
	"parallel-snapshot-isolation": {"causal-cerone", "update-atomic"},
	"prefix":                      {"causal-cerone"},
	"read-atomic":                 {"monotonic-atomic-view"},
	"read-committed":              {"read-uncommitted"},
	"repeatable-read":             {"cursor-stability", "monotonic-atomic-view"},
	"update-atomic":               {"read-atomic"},
	"serializable":                {"repeatable-read", "snapshot-isolation", "view-serializable"},
	"session-serializable":        {"1SR"},
	"snapshot-isolation":          {"forward-consistent-view", "monotonic-atomic-view", "monotonic-snapshot-read", "parallel-snapshot-isolation", "prefix"},
	"strict-serializable":         {"PL-3", "serializable", "linearizable", "snapshot-isolation", "strong-snapshot-isolation", "strong-session-serializable"},

	"strong-session-PL-1": {"PL-1"},
	"strong-session-PL-2": {"PL-2", "strong-session-PL-1"},
	"strong-PL-1":         {"strong-session-PL-1"},
	"strong-PL-2":         {"strong-session-PL-2", "strong-PL-1"},

	"strong-session-serializable":       {"serializable", "strong-session-snapshot-isolation"},
	"strong-session-snapshot-isolation": {"snapshot-isolation", "strong-session-PL-2"},
	"strong-serializable":               {"session-serializable"},
	"strong-snapshot-isolation":         {"strong-session-snapshot-isolation", "strong-PL-2"},

	"linearizable": {"sequential"},
	"sequential":   {"causal"},
	"causal":       {"writes-follow-reads", "PRAM"},
	"PRAM":         {"monotonic-reads", "monotonic-writes", "read-your-writes"},
}, canonicalModel)

// directProscribed is Elle's direct-proscribed-anomalies: the anomalies
// each (canonical) model forbids beyond those of the models it implies.
var directProscribed = newDAG(map[string][]string{
	"causal-cerone":               {"internal", "G1a"},
	"cursor-stability":            {"G1", "G-cursor", "lost-update"},
	"monotonic-view":              {"G1", "G-monotonic"},
	"monotonic-snapshot-read":     {"G1", "G-MSR"},
	"consistent-view":             {"G1", "G-single"},
	"forward-consistent-view":     {"G1", "G-SIb"},
	"parallel-snapshot-isolation": {"internal", "G1a"},
	"PL-3":                        {"G1", "G2", "predicate-read-miss", "PL-3-cycle-exists"},
	"PL-2":                        {"G1", "PL-2-cycle-exists"},
	"PL-1":                        {"G0", "duplicate-elements", "cyclic-versions", "PL-1-cycle-exists"},
	"prefix":                      {"internal", "G1a"},
	"serializable":                {"internal"},
	"snapshot-isolation":          {"internal", "G1", "G-SI", "G-nonadjacent", "PL-SI-cycle-exists"},
	"read-atomic":                 {"internal", "G1a", "future-read"},
	"repeatable-read":             {"G1", "G2-item", "PL-2.99-cycle-exists", "lost-update"},
	"update-atomic":               {"lost-update"},
	"strict-serializable":         {"G1", "G1c-realtime", "G2-realtime", "PL-SS-cycle-exists"},
	"strong-session-PL-1":         {"strong-session-PL-1-cycle-exists", "G0-process"},
	"strong-session-PL-2":         {"strong-session-PL-2-cycle-exists", "G1c-process"},
	"strong-PL-1":                 {"strong-PL-1-cycle-exists", "G0-realtime"},
	"strong-PL-2":                 {"strong-PL-2-cycle-exists", "G1c-realtime"},
	"strong-session-snapshot-isolation": {"internal", "G1-process", "G-nonadjacent-process",
		"strong-session-snapshot-isolation-cycle-exists"},
	"strong-snapshot-isolation": {"internal", "G1-realtime", "G-nonadjacent-realtime",
		"strong-snapshot-isolation-cycle-exists"},
	"strong-session-serializable": {"G1-process", "G2-process", "strong-session-serializable-cycle-exists"},
	"update-serializable":         {"G1", "G-update"},
}, canonicalModel)

// allModels is every model name Elle knows (friendly and canonical).
var allModels = func() map[string]bool {
	m := make(map[string]bool)
	for v := range models.out {
		m[v] = true
	}
	for f, c := range canonicalModelNames {
		m[f], m[c] = true, true
	}
	return m
}()

// KnownModels lists the consistency models the checker accepts, sorted.
func KnownModels() []string {
	out := make([]string, 0, len(allModels))
	for m := range allModels {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// KnownAnomalies lists the anomaly names accepted in Options.Anomalies:
// every name of Elle's implication and proscription tables, sorted.
func KnownAnomalies() []string {
	out := make([]string, 0, len(anomalyDepth))
	for a := range anomalyDepth {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// ValidateOptions reports an unknown model, anomaly or workload.
func ValidateOptions(o Options) error {
	switch o.Workload {
	case ListAppend, RWRegister:
	default:
		return fmt.Errorf("elle: unknown workload %q (want %s or %s)", o.Workload, ListAppend, RWRegister)
	}
	for _, m := range o.ConsistencyModels {
		if !allModels[m] {
			return fmt.Errorf("elle: unknown consistency model %q (known: %s)", m, strings.Join(KnownModels(), ", "))
		}
	}
	for _, a := range o.Anomalies {
		if _, ok := anomalyDepth[a]; !ok {
			return fmt.Errorf("elle: unknown anomaly %q (known: %s)", a, strings.Join(KnownAnomalies(), ", "))
		}
	}
	return nil
}

func allAnomaliesImplying(as []string) map[string]bool {
	if len(as) == 0 {
		return map[string]bool{}
	}
	return bfs(impliedAnomalies.in, as)
}

func allImpliedAnomalies(as []string) map[string]bool {
	if len(as) == 0 {
		return map[string]bool{}
	}
	return bfs(impliedAnomalies.out, as)
}

func canonAll(ms []string) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = canonicalModel(m)
	}
	return out
}

func allImpliedModels(ms []string) map[string]bool { return bfs(models.out, canonAll(ms)) }

func allImpossibleModels(ms []string) map[string]bool { return bfs(models.in, canonAll(ms)) }

// anomaliesProhibitedBy is every anomaly that cannot be present if all of
// ms hold.
func anomaliesProhibitedBy(ms []string) map[string]bool {
	var direct []string
	for m := range allImpliedModels(ms) {
		direct = append(direct, directProscribed.out[m]...)
	}
	return allAnomaliesImplying(direct)
}

// anomaliesToImpossibleModels is every model that cannot hold given as.
func anomaliesToImpossibleModels(as []string) map[string]bool {
	var direct []string
	for a := range allImpliedAnomalies(as) {
		direct = append(direct, directProscribed.in[a]...)
	}
	if len(direct) == 0 {
		return map[string]bool{}
	}
	return allImpossibleModels(direct)
}

// weakestModels keeps the models of ms that no other model of ms is
// implied by (Elle's most-models with g/out), friendly names, sorted.
func weakestModels(ms map[string]bool) []string {
	set := make(map[string]bool)
	for m := range ms {
		set[canonicalModel(m)] = true
	}
	keys := make([]string, 0, len(set))
	for m := range set {
		keys = append(keys, m)
	}
	sort.Strings(keys)
	for _, m := range keys {
		below := bfs(models.out, []string{m})
		delete(below, m)
		for b := range below {
			if set[b] && b != m {
				delete(set, m)
				break
			}
		}
	}
	return friendlySorted(set)
}

func friendlySorted(set map[string]bool) []string {
	seen := make(map[string]bool)
	for m := range set {
		seen[friendlyModel(m)] = true
	}
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// boundary is Elle's friendly-boundary: the weakest models the anomalies
// rule out (Not), the stronger ones also ruled out (AlsoNot), and the
// models of the hierarchy that stay possible.
func boundary(as []string) (not, alsoNot, possible []string) {
	imp := anomaliesToImpossibleModels(as)
	not = weakestModels(imp)
	isNot := make(map[string]bool)
	for _, m := range not {
		isNot[m] = true
	}
	rest := make(map[string]bool)
	for m := range imp {
		if !isNot[friendlyModel(m)] {
			rest[m] = true
		}
	}
	alsoNot = friendlySorted(rest)
	poss := make(map[string]bool)
	for m := range models.out {
		if !imp[m] {
			poss[m] = true
		}
	}
	possible = friendlySorted(poss)
	return not, alsoNot, possible
}

// anomalyDepth is Elle's anomaly-depths: the depth of each anomaly in the
// merged implication and severity graphs (0: implied by none), and 0 for
// every anomaly a model proscribes directly that is in neither.
var anomalyDepth = func() map[string]int {
	merged := make(map[string][]string)
	for a, bs := range impliedAnomalies.out {
		merged[a] = append(merged[a], bs...)
	}
	for a, bs := range anomalySeverity {
		merged[a] = append(merged[a], bs...)
		for _, b := range bs {
			if _, ok := merged[b]; !ok {
				merged[b] = nil
			}
		}
	}
	in := make(map[string][]string)
	for a, bs := range merged {
		for _, b := range bs {
			in[b] = append(in[b], a)
		}
	}
	depth := make(map[string]int)
	var visit func(string) int
	visit = func(v string) int {
		if d, ok := depth[v]; ok {
			return d
		}
		d := 0
		for _, p := range in[v] {
			d = max(d, visit(p)+1)
		}
		depth[v] = d
		return d
	}
	for v := range merged {
		visit(v)
	}
	for _, as := range directProscribed.out {
		for _, a := range as {
			if _, ok := depth[a]; !ok {
				depth[a] = 0
			}
		}
	}
	for _, a := range []string{"empty-transaction-graph", "cycle-search-timeout", "duplicate-appends", "unexpected-txn-micro-op-types"} {
		if _, ok := depth[a]; !ok {
			depth[a] = 0
		}
	}
	return depth
}()

// sortByDepth sorts anomaly names by depth, then name (Elle's
// anomaly-depth-compare).
func sortByDepth(as []string) {
	slices.SortFunc(as, func(a, b string) int {
		if da, db := anomalyDepth[a], anomalyDepth[b]; da != db {
			return da - db
		}
		return strings.Compare(a, b)
	})
}

// ForbiddenBy returns the weakest consistency models that an anomaly of
// type kind rules out (Elle's :not for that anomaly alone), friendly
// names, sorted; every stronger model is ruled out too. Empty for a type
// no model forbids (empty-transaction-graph, cycle-search-timeout).
func ForbiddenBy(kind string) []string {
	return weakestModels(anomaliesToImpossibleModels([]string{kind}))
}
