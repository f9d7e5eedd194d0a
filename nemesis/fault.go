// Package nemesis injects faults into a cluster on a schedule and
// guarantees that every fault it applied is healed.
//
// A Fault is a typed spec with one job: apply one instance of itself to a
// cluster and return how to undo it. The Nemesis wraps faults with the
// bookkeeping (history events, the list of active faults, healing at stop)
// so that each fault stays simple. Faults use only the optional cluster
// capabilities they need and report ErrUnsupported-wrapped errors, up
// front, for clusters that lack them.
package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// Fault is one kind of fault.
type Fault interface {
	// Name is the kind, e.g. "partition"; it names the history events
	// start-<name> and stop-<name>.
	Name() string
	// Check reports whether a cluster of plan p can take this fault: the
	// capabilities it needs and enough nodes. It runs before anything is
	// deployed, on the plan the target declares (targets.Planner), and
	// again on the deployed cluster (cluster.PlanOf) in New.
	Check(p cluster.Plan) error
	// Apply applies one instance, chosen with rng.
	Apply(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Applied, error)
}

// Applied is an active fault instance.
type Applied struct {
	// Description says what was done, e.g. "halves n1 | n2,n3".
	Description string
	// Nodes are the nodes affected.
	Nodes []string
	// Heal undoes the fault. It must be safe to call once.
	Heal func(ctx context.Context) error
	// Extra is recorded in the start event's extra fields (e.g. the
	// round-trip times measured before and after a link fault).
	Extra map[string]string
	// HealNote, when set, is called after a successful Heal and its text
	// recorded in the stop event (e.g. the round-trip time measured
	// after healing).
	HealNote func() string
}

// Targets chooses which nodes a node fault hits.
type Targets string

const (
	// One random node.
	One Targets = "one"
	// Minority: fewer than half of the nodes (at least one).
	Minority Targets = "minority"
	// Majority: more than half of the nodes.
	Majority Targets = "majority"
	// All nodes.
	All Targets = "all"
)

// ParseTargets accepts one, minority, majority, all or a node count.
func ParseTargets(s string) (Targets, error) {
	switch Targets(s) {
	case One, Minority, Majority, All:
		return Targets(s), nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return Targets(s), nil
	}
	return "", fmt.Errorf("bad node selection %q: want one, minority, majority, all or a positive count", s)
}

// Count is how many of n nodes t selects; an error when t needs more
// nodes than there are, or n is 0.
func (t Targets) Count(n int) (int, error) {
	var k int
	switch t {
	case One, "":
		k = 1
	case Minority:
		k = max((n-1)/2, 1)
	case Majority:
		k = n/2 + 1
	case All:
		k = n
	default:
		c, err := strconv.Atoi(string(t))
		if err != nil || c <= 0 {
			return 0, fmt.Errorf("bad node selection %q", t)
		}
		k = c
	}
	if k > n || k == 0 {
		return 0, fmt.Errorf("node selection %q needs %d nodes, the cluster has %d (lower --nemesis-nodes or raise --nodes)", t, max(k, 1), n)
	}
	return k, nil
}

// pick draws the nodes t selects.
func (t Targets) pick(nodes []string, rng *rand.Rand) ([]string, error) {
	k, err := t.Count(len(nodes))
	if err != nil {
		return nil, err
	}
	return shuffled(nodes, rng)[:k], nil
}

// checkNodeFault checks a fault on the nodes t selects that needs
// capability c.
func checkNodeFault(p cluster.Plan, name string, c cluster.Capability, t Targets) error {
	if err := p.Supports(c); err != nil {
		return err
	}
	if _, err := t.Count(p.Nodes); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func shuffled(nodes []string, rng *rand.Rand) []string {
	out := append([]string(nil), nodes...)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// Shape is a partition shape.
type Shape string

const (
	// OneNode isolates one node from all others.
	OneNode Shape = "one-node"
	// Halves splits the nodes in two, the bigger half a majority.
	Halves Shape = "halves"
	// MajoritiesRing: every node sees a majority, but no two nodes see the
	// same one (Jepsen's majorities-ring).
	MajoritiesRing Shape = "majorities-ring"
	// Bridge: two halves joined by one node that sees both.
	Bridge Shape = "bridge"
	// OneWay: one node stops receiving from the others, which still
	// receive from it.
	OneWay Shape = "one-way"
	// Region cuts one region (drawn at random) off from the others, on a
	// cluster split into regions (cluster.Regioned). It is not among the
	// shapes a plain partition draws from: it is asked for by name.
	Region Shape = "region"
	// PrimaryIsolated is reserved for primary/replica targets.
)

// Shapes lists the partition shapes.
var Shapes = []Shape{OneNode, Halves, MajoritiesRing, Bridge, OneWay}

// MinNodes is the smallest cluster the shape can cut.
func (s Shape) MinNodes() int {
	if s == MajoritiesRing || s == Bridge {
		return 3
	}
	return 2
}

// shapes returns the shapes p draws from on n nodes: its own, or, when it
// has none, every shape that n nodes allow.
func (p *Partition) shapes(n int) []Shape {
	if len(p.Shapes) > 0 {
		return p.Shapes
	}
	var out []Shape
	for _, s := range Shapes {
		if n >= s.MinNodes() {
			out = append(out, s)
		}
	}
	return out
}

// Partition cuts the network in one of Shapes (drawn at random when
// several).
type Partition struct {
	Shapes []Shape
}

func (p *Partition) Name() string { return "partition" }

// Label names f as --nemesis does: a partition of one shape by its shape
// (halves, region...), any other fault by its name.
func Label(f Fault) string {
	if p, ok := f.(*Partition); ok && len(p.Shapes) == 1 {
		return string(p.Shapes[0])
	}
	return f.Name()
}

func (p *Partition) Check(pl cluster.Plan) error {
	if err := pl.Supports(cluster.CanPartition); err != nil {
		return err
	}
	if slices.Contains(p.Shapes, Region) && pl.Regions < 2 {
		return fmt.Errorf("partition region cuts a region off, and the cluster has one region: use --regions 2 or more (sim, cassandra)")
	}
	if pl.Nodes < 2 {
		return fmt.Errorf("partition needs at least 2 nodes, the cluster has %d (raise --nodes, or --nemesis none)", pl.Nodes)
	}
	for _, s := range p.shapes(pl.Nodes) {
		if pl.Nodes < s.MinNodes() {
			return fmt.Errorf("partition %s needs at least %d nodes, the cluster has %d (raise --nodes)", s, s.MinNodes(), pl.Nodes)
		}
	}
	return nil
}

func (p *Partition) Apply(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Applied, error) {
	shapes := p.shapes(len(c.Nodes()))
	if len(shapes) == 0 {
		return Applied{}, fmt.Errorf("partition needs at least 2 nodes, the cluster has %d", len(c.Nodes()))
	}
	shape := shapes[rng.IntN(len(shapes))]
	var g cluster.Grudge
	var desc string
	var err error
	if shape == Region {
		g, desc, err = regionGrudge(c, rng)
	} else {
		g, desc, err = Grudge(shape, c.Nodes(), rng)
	}
	if err != nil {
		return Applied{}, err
	}
	pc := c.(cluster.Partitioner)
	if err := pc.Partition(ctx, g); err != nil {
		return Applied{}, fmt.Errorf("partition %s: %w", shape, err)
	}
	return Applied{
		Description: string(shape) + " " + desc,
		Nodes:       sortedCopy(c.Nodes()),
		Heal:        pc.HealNetwork,
	}, nil
}

// Grudge builds the grudge of a shape over nodes and a short description.
func Grudge(shape Shape, nodes []string, rng *rand.Rand) (cluster.Grudge, string, error) {
	n := len(nodes)
	s := shuffled(nodes, rng)
	switch shape {
	case OneNode:
		return cluster.Bidirectional(s[:1], s[1:]), componentsString(s[:1], s[1:]), nil
	case Halves:
		k := n / 2
		return cluster.Bidirectional(s[:k], s[k:]), componentsString(s[:k], s[k:]), nil
	case Bridge:
		if n < 3 {
			return nil, "", fmt.Errorf("bridge needs at least 3 nodes")
		}
		// s[0] is the bridge; a and b see it but not each other.
		k := (n - 1) / 2
		a, b := s[1:1+k], s[1+k:]
		g := cluster.Bidirectional(a, b)
		return g, fmt.Sprintf("%s | bridge %s | %s", strings.Join(sortedCopy(a), ","), s[0], strings.Join(sortedCopy(b), ",")), nil
	case MajoritiesRing:
		if n < 3 {
			return nil, "", fmt.Errorf("majorities-ring needs at least 3 nodes")
		}
		// Node i hears exactly a majority m (itself included): the
		// nearest (m-1)/2 nodes on each side of the ring, plus one more
		// forward when m-1 is odd. Every node sees a majority, no two see
		// the same one (for n >= 4), and the grudges are one-way where
		// the ring is lopsided.
		m := n/2 + 1
		h, extra := (m-1)/2, (m-1)%2 == 1
		g := make(cluster.Grudge)
		for i, dst := range s {
			for j, src := range s {
				d := (j - i + n) % n
				if d == 0 || min(d, n-d) <= h || (extra && d == h+1) {
					continue
				}
				g[dst] = append(g[dst], src)
			}
		}
		return g, "ring " + strings.Join(s, "-"), nil
	case OneWay:
		g := cluster.Grudge{s[0]: append([]string(nil), s[1:]...)}
		return g, fmt.Sprintf("%s hears nothing from %s", s[0], strings.Join(sortedCopy(s[1:]), ",")), nil
	}
	return nil, "", fmt.Errorf("unknown partition shape %q", shape)
}

// regionGrudge cuts one region of c, drawn at random, off from the
// others: "r2 (n4,n5,n6) | n1,n2,n3".
func regionGrudge(c cluster.Cluster, rng *rand.Rand) (cluster.Grudge, string, error) {
	rc, ok := c.(cluster.Regioned)
	byRegion := map[string][]string{}
	if ok {
		for n, r := range rc.Regions() {
			byRegion[r] = append(byRegion[r], n)
		}
	}
	if len(byRegion) < 2 {
		return nil, "", fmt.Errorf("partition region: the cluster is not split into regions (use --regions 2 or more)")
	}
	names := make([]string, 0, len(byRegion))
	for r := range byRegion {
		names = append(names, r)
	}
	sort.Strings(names)
	cut := names[rng.IntN(len(names))]
	var rest []string
	for _, n := range c.Nodes() {
		if !slices.Contains(byRegion[cut], n) {
			rest = append(rest, n)
		}
	}
	in := sortedCopy(byRegion[cut])
	return cluster.Bidirectional(in, rest), fmt.Sprintf("%s (%s) | %s", cut, strings.Join(in, ","), strings.Join(sortedCopy(rest), ",")), nil
}

func componentsString(cs ...[]string) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = strings.Join(sortedCopy(c), ",")
	}
	return strings.Join(parts, " | ")
}

// Kill crashes nodes and restarts them on heal.
type Kill struct{ Targets Targets }

func (k *Kill) Name() string { return "kill" }

func (k *Kill) Check(p cluster.Plan) error {
	return checkNodeFault(p, k.Name(), cluster.CanKill, k.Targets)
}

func (k *Kill) Apply(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Applied, error) {
	kc := c.(cluster.Killer)
	return applyToNodes(ctx, c, rng, k.Targets, "killed", kc.Kill, kc.Restart)
}

// Pause freezes nodes and resumes them on heal.
type Pause struct{ Targets Targets }

func (p *Pause) Name() string { return "pause" }

func (p *Pause) Check(pl cluster.Plan) error {
	return checkNodeFault(pl, p.Name(), cluster.CanPause, p.Targets)
}

func (p *Pause) Apply(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Applied, error) {
	pc := c.(cluster.Pauser)
	return applyToNodes(ctx, c, rng, p.Targets, "paused", pc.Pause, pc.Resume)
}

// applyToNodes does an action to the picked nodes, undoing what it did if
// one fails, and heals with the inverse.
func applyToNodes(ctx context.Context, c cluster.Cluster, rng *rand.Rand, t Targets, verb string,
	do, undo func(context.Context, string) error) (Applied, error) {
	nodes, err := t.pick(c.Nodes(), rng)
	if err != nil {
		return Applied{}, err
	}
	nodes = sortedCopy(nodes)
	for i, n := range nodes {
		if err := do(ctx, n); err != nil {
			for _, done := range nodes[:i] {
				_ = undo(context.WithoutCancel(ctx), done)
			}
			return Applied{}, fmt.Errorf("%s %s: %w", verb, n, err)
		}
	}
	heal := func(ctx context.Context) error {
		var first error
		for _, n := range nodes {
			if err := undo(ctx, n); err != nil && first == nil {
				first = fmt.Errorf("undo %s %s: %w", verb, n, err)
			}
		}
		return first
	}
	return Applied{Description: verb + " " + strings.Join(nodes, ","), Nodes: nodes, Heal: heal}, nil
}

// Clock skews node clocks: a bump sets an offset; a strobe flips between
// the offset and zero every Period until healed.
type Clock struct {
	Targets Targets
	// MaxOffset bounds the drawn offset (either sign); default 10s.
	MaxOffset time.Duration
	// Strobe, when set, makes every second application a strobe.
	Strobe bool
	// Period of a strobe; default 50ms.
	Period time.Duration
}

func (k *Clock) Name() string { return "clock" }

func (k *Clock) Check(p cluster.Plan) error {
	return checkNodeFault(p, k.Name(), cluster.CanSkewClock, k.Targets)
}

func (k *Clock) Apply(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Applied, error) {
	cs := c.(cluster.ClockSkewer)
	nodes, err := k.Targets.pick(c.Nodes(), rng)
	if err != nil {
		return Applied{}, err
	}
	nodes = sortedCopy(nodes)
	maxOff := k.MaxOffset
	if maxOff <= 0 {
		maxOff = 10 * time.Second
	}
	offsets := make([]time.Duration, len(nodes))
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		off := time.Duration(rng.Int64N(int64(2*maxOff))) - maxOff
		offsets[i] = off.Round(time.Millisecond)
		if err := cs.SetClockOffset(ctx, n, offsets[i]); err != nil {
			resetClocks(context.WithoutCancel(ctx), cs, nodes[:i])
			return Applied{}, fmt.Errorf("clock %s: %w", n, err)
		}
		parts[i] = fmt.Sprintf("%s%+v", n, offsets[i])
	}
	desc := "bump " + strings.Join(parts, " ")
	stop := func() {}
	if k.Strobe && rng.IntN(2) == 1 {
		desc = "strobe " + strings.Join(parts, " ")
		period := k.Period
		if period <= 0 {
			period = 50 * time.Millisecond
		}
		stop = strobe(cs, nodes, offsets, period)
	}
	heal := func(ctx context.Context) error {
		stop()
		return resetClocks(ctx, cs, nodes)
	}
	return Applied{Description: desc, Nodes: nodes, Heal: heal}, nil
}

// strobe flips the nodes' clocks between their offsets and zero until the
// returned stop is called; stop waits for the flipping goroutine to end.
func strobe(cs cluster.ClockSkewer, nodes []string, offsets []time.Duration, period time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(period)
		defer t.Stop()
		on := true
		for {
			select {
			case <-done:
				return
			case <-t.C:
				on = !on
				for i, n := range nodes {
					off := time.Duration(0)
					if on {
						off = offsets[i]
					}
					ctx, cancel := context.WithTimeout(context.Background(), period)
					_ = cs.SetClockOffset(ctx, n, off)
					cancel()
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

func resetClocks(ctx context.Context, cs cluster.ClockSkewer, nodes []string) error {
	var first error
	for _, n := range nodes {
		if err := cs.SetClockOffset(ctx, n, 0); err != nil && first == nil {
			first = fmt.Errorf("reset clock of %s: %w", n, err)
		}
	}
	return first
}

// Kind is one --nemesis name: a row of the fault table (Kinds). Adding
// a fault is a Fault type and a row: the command line reads its names,
// help and validation from the table.
type Kind struct {
	// Name is the --nemesis value.
	Name string
	// Summary says in a few words what the fault does, for help.
	Summary string
	// Needs are the capabilities a cluster must have for the fault
	// (Fault.Check refuses a plan lacking any of them; TestKindNeeds
	// holds the two to each other).
	Needs []cluster.Capability
	// Nodes says that the fault hits the nodes a Targets selection
	// (--nemesis-nodes) picks.
	Nodes bool
	// New builds the fault; t is the node selection.
	New func(t Targets) Fault
}

// shapeSummary describes each partition shape.
var shapeSummary = map[Shape]string{
	OneNode:        "cut one node off from the others",
	Halves:         "split the nodes in two, one half a majority",
	MajoritiesRing: "every node sees a majority, no two the same one",
	Bridge:         "two halves joined by one node that sees both",
	OneWay:         "one node stops receiving from the others",
	Region:         "cut one region off from the others (--regions)",
}

// Kinds returns the table of fault kinds, in the order help lists them:
// partition, each partition shape on its own, kill, pause, clock, delay,
// loss, bandwidth, failover and kill-primary. The link faults (delay, loss) get
// their defaults here; SetLinkOptions sets the figures. ("none" is not a kind: it is the empty
// list.)
func Kinds() []Kind {
	part := []cluster.Capability{cluster.CanPartition}
	ks := []Kind{{Name: "partition", Summary: "a network partition of a random shape", Needs: part, New: func(Targets) Fault { return &Partition{} }}}
	for _, sh := range append(slices.Clone(Shapes), Region) {
		ks = append(ks, Kind{Name: string(sh), Summary: "partition: " + shapeSummary[sh], Needs: part, New: func(Targets) Fault { return &Partition{Shapes: []Shape{sh}} }})
	}
	return append(ks,
		Kind{Name: "kill", Summary: "SIGKILL nodes, restart them on heal", Needs: []cluster.Capability{cluster.CanKill}, Nodes: true,
			New: func(t Targets) Fault { return &Kill{Targets: t} }},
		Kind{Name: "pause", Summary: "freeze nodes with SIGSTOP, resume them on heal", Needs: []cluster.Capability{cluster.CanPause}, Nodes: true,
			New: func(t Targets) Fault { return &Pause{Targets: t} }},
		Kind{Name: "clock", Summary: "skew and strobe nodes' clocks", Needs: []cluster.Capability{cluster.CanSkewClock}, Nodes: true,
			New: func(t Targets) Fault { return &Clock{Targets: t, Strobe: true} }},
		Kind{Name: "delay", Summary: "delay packets on the chosen nodes' links (--nemesis-delay, --nemesis-jitter)", Needs: []cluster.Capability{cluster.CanShape}, Nodes: true,
			New: func(t Targets) Fault { return &Delay{Targets: t, Delay: DefaultDelay, Jitter: DefaultJitter} }},
		Kind{Name: "loss", Summary: "drop a share of the packets on the chosen nodes' links (--nemesis-loss)", Needs: []cluster.Capability{cluster.CanShape}, Nodes: true,
			New: func(t Targets) Fault { return &Loss{Targets: t, Loss: DefaultLoss} }},
		Kind{Name: "bandwidth", Summary: "limit the chosen nodes' links to a rate (--nemesis-bandwidth), by a token bucket", Needs: []cluster.Capability{cluster.CanThrottle}, Nodes: true,
			New: func(t Targets) Fault { return &Bandwidth{Targets: t, Rate: DefaultRate} }},
		Kind{Name: "failover", Summary: "isolate the primary from its replicas for 2 s, kill it, promote a replica", Needs: []cluster.Capability{cluster.CanFailover, cluster.CanKill, cluster.CanPartition},
			New: func(Targets) Fault { return &Failover{Isolate: 2 * time.Second} }},
		Kind{Name: "kill-primary", Summary: "kill the primary, promote a replica", Needs: []cluster.Capability{cluster.CanFailover, cluster.CanKill},
			New: func(Targets) Fault { return &Failover{} }},
	)
}

// KindHelp is the --nemesis help: none, then every kind with its
// summary.
func KindHelp() string {
	parts := []string{"none"}
	for _, k := range Kinds() {
		parts = append(parts, k.Name+" ("+k.Summary+")")
	}
	return strings.Join(parts, ", ")
}

// KindNames lists the --nemesis names: none, then the kinds.
func KindNames() []string {
	names := []string{"none"}
	for _, k := range Kinds() {
		names = append(names, k.Name)
	}
	return names
}

// NodeSelector is implemented by faults that hit the nodes a Targets
// selection picks (kill, pause, clock).
type NodeSelector interface {
	Selection() Targets
}

// Selection returns the node selection.
func (k *Kill) Selection() Targets { return k.Targets }

// Selection returns the node selection.
func (p *Pause) Selection() Targets { return p.Targets }

// Selection returns the node selection.
func (k *Clock) Selection() Targets { return k.Targets }

// Parse builds faults from --nemesis names (KindNames): partition, a
// partition shape name (halves, one-node, ...) for that shape only, kill,
// pause, clock, failover, kill-primary. "none" or "" gives no faults;
// "none" with any other name is refused as a contradiction.
func Parse(names []string, t Targets) ([]Fault, error) {
	var out []Fault
	none := false
	kinds := Kinds()
	for _, raw := range names {
		name := strings.TrimSpace(raw)
		switch name {
		case "":
			continue
		case "none":
			none = true
			continue
		}
		i := slices.IndexFunc(kinds, func(k Kind) bool { return k.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown nemesis %q (known: %s)", name, strings.Join(KindNames(), ", "))
		}
		out = append(out, kinds[i].New(t))
	}
	if none && len(out) > 0 {
		return nil, fmt.Errorf("--nemesis none contradicts the faults also given (%s): give none alone, or only faults", strings.Join(names, ","))
	}
	return out, nil
}

// LinkOptions are the figures of the link faults (--nemesis-delay,
// --nemesis-jitter, --nemesis-loss).
type LinkOptions struct {
	Delay, Jitter time.Duration
	Loss          float64
}

// SetLinkOptions sets the figures of the link faults among faults (Delay
// and Loss) and reports whether there was one of each kind the options
// set: hasDelay, hasLoss.
func SetLinkOptions(faults []Fault, o LinkOptions) (hasDelay, hasLoss bool) {
	for _, f := range faults {
		switch f := f.(type) {
		case *Delay:
			f.Delay, f.Jitter = o.Delay, o.Jitter
			hasDelay = true
		case *Loss:
			f.Loss = o.Loss
			hasLoss = true
		}
	}
	return hasDelay, hasLoss
}
