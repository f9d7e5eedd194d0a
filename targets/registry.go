package targets

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/pflag"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/isolation"
)

// Registration is a target's row in the registry: its name and its flag
// group. Each target package provides its own (a Registration function);
// the table of all of them is targets/all.Registry, and the command line
// reads only that table, so adding a target never means editing a switch.
type Registration struct {
	// Name is the --target value.
	Name string
	// Summary says in a few words what the target deploys, for help.
	Summary string
	// InProcess marks targets whose nodes live inside the chaoscheck
	// process (the sim): nothing outside a test run can reach them, so
	// `chaoscheck cluster up` refuses them.
	InProcess bool
	// NodeNeeds are the programs and users the target's node specs
	// need on a node (the target resolves them on its runtime,
	// cluster.LayoutOn): runtimes that start nodes from images read them
	// in the image, and refuse one that lacks a program, before anything
	// is deployed. The target itself never sees which runtime reads it.
	NodeNeeds cluster.NodeNeeds
	// Image is the container image the target's users run (the official
	// one, e.g. "postgres:15"): runtimes that run images start the nodes
	// from it when it is on this machine, and say so when they fall back
	// to the local image (--image overrides both).
	Image string
	// HostPackages are the Debian packages whose binaries the target
	// runs on this machine: `chaoscheck images build` checks they are
	// installed and makes the target's local image from them.
	HostPackages []string
	// Runtimes, when not empty, are the only runtimes the target deploys
	// on; NotOnOthers says why not on the others (and what works), for
	// the refusal of any other --runtime.
	Runtimes    []string
	NotOnOthers string
	// Flags defines the target's flag group on fs and returns the
	// constructor that builds the target once fs has been parsed. The
	// group holds every flag the target reads, shared names included
	// (--nodes, --cl...): a flag given on the command line that is in no
	// group of the chosen target is refused (Registry.Build). The
	// constructor may ask fs which flags were given (fs.Changed), and
	// refuses contradictions and impossible values with an error naming
	// the flags.
	Flags func(fs *pflag.FlagSet) Constructor
	// Isolation, when not nil, runs the Hermitage isolation probes
	// (package isolation) at each of levels on a server of this target
	// deployed on c's runtime, removes it, and returns the table
	// (chaoscheck isolation). Nil: the target has no probes, and the
	// command refuses it.
	Isolation func(ctx context.Context, c Common, levels []isolation.Level) (*isolation.Report, error)
	// IsolationReference, when not nil, is the published table the
	// probes' results are compared with (Hermitage's for the database).
	IsolationReference func() map[isolation.Level]map[string]isolation.Outcome
}

// Constructor builds the configured target from its parsed flag group.
type Constructor func(Common) (Target, error)

// Common are the settings every target receives besides its own flags.
type Common struct {
	// Seed is the test's seed (always recorded).
	Seed int64
	// Runtime is where the target deploys its nodes (the wiring layer
	// picks it from cluster/runtimes; nil for targets whose nodes live
	// in-process, such as the sim, which ignore it). Targets keep it in
	// their Config and never import a runtime package.
	Runtime cluster.Runtime
}

// Registry is the table of targets, in the order help lists them. It is
// a value: no registration happens behind the caller's back.
type Registry []Registration

// Names returns the target names in table order.
func (r Registry) Names() []string {
	out := make([]string, len(r))
	for i, reg := range r {
		out[i] = reg.Name
	}
	return out
}

// Lookup finds the registration of a target.
func (r Registry) Lookup(name string) (Registration, bool) {
	for _, reg := range r {
		if reg.Name == name {
			return reg, true
		}
	}
	return Registration{}, false
}

// groups defines each target's flags on a flag set of its own.
func (r Registry) groups() []*pflag.FlagSet {
	out := make([]*pflag.FlagSet, len(r))
	for i, reg := range r {
		fs := pflag.NewFlagSet(reg.Name, pflag.ContinueOnError)
		reg.Flags(fs)
		out[i] = fs
	}
	return out
}

// Owners maps every target flag name to the targets whose groups define
// it, in table order.
func (r Registry) Owners() map[string][]string {
	owners := map[string][]string{}
	for i, fs := range r.groups() {
		fs.VisitAll(func(f *pflag.Flag) { owners[f.Name] = append(owners[f.Name], r[i].Name) })
	}
	return owners
}

// DefineFlags adds to fs the union of the targets' flag groups, each flag
// once, so that the command line parses whichever target it names. Its
// usage says which targets the flag applies to, with each target's own
// text when they differ. It returns an error when two targets define one
// name with different types (a registry bug).
//
// The values fs parses into are only read by Build, which replays the
// flags that were given into the chosen target's own group.
func (r Registry) DefineFlags(fs *pflag.FlagSet) error {
	type union struct {
		flag   *pflag.Flag
		owners []string
		usages []string // per owner
	}
	var order []string
	byName := map[string]*union{}
	for i, g := range r.groups() {
		var err error
		g.VisitAll(func(f *pflag.Flag) {
			u := byName[f.Name]
			if u == nil {
				u = &union{flag: f}
				byName[f.Name] = u
				order = append(order, f.Name)
			} else if u.flag.Value.Type() != f.Value.Type() && err == nil {
				err = fmt.Errorf("targets: flag --%s is a %s for %s but a %s for %s", f.Name, u.flag.Value.Type(), u.owners[0], f.Value.Type(), r[i].Name)
			}
			u.owners = append(u.owners, r[i].Name)
			u.usages = append(u.usages, f.Usage)
		})
		if err != nil {
			return err
		}
	}
	for _, name := range order {
		u := byName[name]
		if fs.Lookup(name) != nil {
			return fmt.Errorf("targets: flag --%s of %s is also a common flag", name, strings.Join(u.owners, ", "))
		}
		f := *u.flag
		f.Usage = unionUsage(u.owners, u.usages)
		fs.AddFlag(&f)
	}
	return nil
}

// unionUsage is the help text of a flag shared by owners: each distinct
// text once, after the targets it is theirs, e.g. "sim, cassandra: ...".
func unionUsage(owners, usages []string) string {
	var texts []string
	who := map[string][]string{}
	for i, u := range usages {
		if _, ok := who[u]; !ok {
			texts = append(texts, u)
		}
		who[u] = append(who[u], owners[i])
	}
	parts := make([]string, len(texts))
	for i, u := range texts {
		parts[i] = strings.Join(who[u], ", ") + ": " + u
	}
	return strings.Join(parts, "; ")
}

// Build builds the target named name from the flags parsed into fs (whose
// target flags DefineFlags defined): every target flag given on the
// command line is set again in a fresh group of the chosen target, and
// one that the target's group lacks is refused with an error naming the
// targets it applies to. Flags of fs that belong to no target's group
// (common flags) are left alone.
func (r Registry) Build(name string, fs *pflag.FlagSet, c Common) (Target, error) {
	reg, ok := r.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown target %q (available: %s)", name, strings.Join(r.Names(), ", "))
	}
	owners := r.Owners()
	own := pflag.NewFlagSet(name, pflag.ContinueOnError)
	build := reg.Flags(own)
	var errs []string
	fs.Visit(func(f *pflag.Flag) {
		of := own.Lookup(f.Name)
		if of == nil {
			if o := owners[f.Name]; len(o) > 0 {
				errs = append(errs, fmt.Sprintf("--%s applies to --target %s, not %s", f.Name, orList(o), name))
			}
			return
		}
		if err := copyValue(own, of, f); err != nil {
			errs = append(errs, fmt.Sprintf("--%s: %v", f.Name, err))
		}
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return build(c)
}

// copyValue sets to, in fs, the value that from was given, so that fs
// also records to as given (fs.Changed, fs.Visit).
func copyValue(fs *pflag.FlagSet, to, from *pflag.Flag) error {
	sv, ok := from.Value.(pflag.SliceValue)
	if !ok {
		return fs.Set(to.Name, from.Value.String())
	}
	dst, ok := to.Value.(pflag.SliceValue)
	if !ok {
		return fmt.Errorf("not a list for this target")
	}
	// Set marks the flag given; Replace then puts the exact list (Set
	// would re-parse, and append on later calls).
	elems := sv.GetSlice()
	first := ""
	if len(elems) > 0 {
		first = elems[0]
	}
	if err := fs.Set(to.Name, first); err != nil {
		return err
	}
	return dst.Replace(elems)
}

// orList renders names as "a", "a or b", "a, b or c".
func orList(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Planner is implemented by targets that know, from their configuration
// alone, what cluster a deployment will have: its node count and fault
// capabilities, each unsupported one with why and what would work. The
// runner checks the nemesis's faults against the plan before anything is
// deployed or written (nemesis.CheckPlan), so that a test that cannot
// work is refused as bad input instead of failing after deployment.
//
// Invariant: every capability the plan supports is implemented by the
// cluster that Deploy returns (nemesis.New checks the deployed cluster
// again).
type Planner interface {
	Plan() cluster.Plan
}

// NodeAddr is where a client reaches one node's service.
type NodeAddr struct {
	// Node is the node name, e.g. "n1".
	Node string
	// Service names what listens, e.g. "postgres", "cql", "client".
	Service string
	// Addr is the address and port.
	Addr netip.AddrPort
}

// Addresser is implemented by deployments whose nodes are reachable over
// the network: `chaoscheck cluster up` prints the addresses, so that a
// user can connect to the nodes by hand.
type Addresser interface {
	// Addresses lists every node's service addresses, in node order.
	Addresses() []NodeAddr
}
