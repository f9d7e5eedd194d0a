package checkers

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Options are what a checker's constructor may read (each from a flag of
// `chaoscheck check`).
type Options struct {
	// Model is the linearizability model ("": chosen from the history
	// later, see ChooseModel).
	Model Model
	// TimeLimit bounds the search of checkers that search (0: none).
	TimeLimit time.Duration
	// OutDir is where checkers may write artifacts (porcupine's
	// visualization).
	OutDir string
}

// Option names an Options field a checker reads, by its flag.
type Option string

// The options, named by their `chaoscheck check` flags.
const (
	OptModel     Option = "model"
	OptTimeLimit Option = "time-limit"
)

// Registration is one checker's row in the table: adding a checker is
// a package-level type and a row.
type Registration struct {
	// Name is the --checker value and the checker's Name().
	Name string
	// Summary says what it judges and which operations it reads, for
	// help.
	Summary string
	// Reads are the options it reads; a flag of an option that no chosen
	// checker reads is refused.
	Reads []Option
	// New builds the checker.
	New func(Options) Checker
}

// Registry is the table of checkers `chaoscheck check` offers, in help
// order. It is a value: no registration happens behind the caller's
// back.
type Registry []Registration

// Checkers returns the table.
func Checkers() Registry {
	return Registry{
		{Name: "linearizable", Summary: "every key linearizable against a model: read, write, cas or get, put, append (porcupine)",
			Reads: []Option{OptModel, OptTimeLimit},
			New: func(o Options) Checker {
				return &Linearizable{Model: o.Model, TimeLimit: o.TimeLimit, VisualizeDir: o.OutDir}
			}},
		{Name: "set", Summary: "add and read of sets: lost, unexpected, stale and recovered elements", New: func(Options) Checker { return &Set{} }},
		{Name: "counter", Summary: "add and read of counters: reads within the bounds the increments allow", New: func(Options) Checker { return &Counter{} }},
		{Name: "session", Summary: "read and write per client: read-your-writes, monotonic reads and writes", New: func(Options) Checker { return &Session{} }},
		{Name: "lost-update", Summary: "read-modify-write: two acknowledged updates that read the same value", New: func(Options) Checker { return &LostUpdate{} }},
	}
}

// Names lists the checker names in table order.
func (r Registry) Names() []string {
	out := make([]string, len(r))
	for i, c := range r {
		out[i] = c.Name
	}
	return out
}

// Help lists every checker with its summary.
func (r Registry) Help() string {
	parts := make([]string, len(r))
	for i, c := range r {
		parts[i] = c.Name + " (" + c.Summary + ")"
	}
	return strings.Join(parts, "; ")
}

// Lookup finds a checker's row.
func (r Registry) Lookup(name string) (Registration, bool) {
	i := slices.IndexFunc(r, func(c Registration) bool { return c.Name == name })
	if i < 0 {
		return Registration{}, false
	}
	return r[i], true
}

// Build builds the named checkers with o, refusing an unknown name
// (naming the known ones) and an empty list. It also returns the
// options the chosen checkers read.
func (r Registry) Build(names []string, o Options) ([]Checker, map[Option]bool, error) {
	var out []Checker
	reads := map[Option]bool{}
	for _, n := range names {
		reg, ok := r.Lookup(strings.TrimSpace(n))
		if !ok {
			return nil, nil, fmt.Errorf("unknown checker %q (known: %s)", n, strings.Join(r.Names(), ", "))
		}
		out = append(out, reg.New(o))
		for _, opt := range reg.Reads {
			reads[opt] = true
		}
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("no checker given")
	}
	return out, reads, nil
}
