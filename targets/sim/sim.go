// Package sim is an in-process, Dynamo-style replicated key-value store:
// the default target of chaoscheck, made to be read. It is small on
// purpose, and it is not a database; it exists to show, under faults, the
// anomalies that real leaderless stores (Cassandra, Riak, DynamoDB's
// ancestors) show.
//
// # Topology
//
// N nodes, n1..nN, form one ring, and every key is replicated on every
// node: N is also the replication factor. A client sends each request to
// one node, its coordinator (Sticky: process mod N; or Random), which runs
// it against the replicas over a simulated network and answers.
//
// # Quorums
//
// A write waits for W replicas to acknowledge it, a read for R replicas to
// answer. When W + R > N every read quorum overlaps every write quorum, so
// a read sees the latest acknowledged write, as long as the clocks that
// order writes agree. When W + R <= N it may not: with ONE/ONE a read
// through a node that the write has not reached yet returns an old value.
//
// # Synchronous and asynchronous replication
//
// The coordinator applies a write itself and sends it at once to the next
// W-1 replicas it sees up; the other replicas receive it ReplicationLag
// later. A write acknowledged at ONE therefore lives on one node for a
// while: kill that node before the rest catch up, or partition it away,
// and the write is invisible or lost. Read repair (ReadRepair) and hinted
// handoff (HintedHandoff) are the two mechanisms that close the gaps.
//
// # Availability
//
// A coordinator's failure detector sees crashed and partitioned replicas
// at once. If it sees fewer than W (or R) replicas up it fails the request
// with ErrUnavailable, wrapped with workloads.Definite: nothing was
// written. A partition that cuts a node off makes QUORUM unavailable on
// the minority side while ONE keeps answering there, with stale data.
// Pauses cannot be seen: a paused replica or coordinator makes requests
// time out, and a write that times out (ErrTimeout, not Definite) may
// have been applied on some replicas, or may be applied later when a
// paused node resumes.
//
// # Last write wins
//
// Replicas resolve conflicting register writes by timestamp, taken from
// the coordinator's clock (real time plus the node's SetClockOffset). A
// coordinator whose clock is behind stamps its writes in the past: they
// are acknowledged and then lose to older writes. Sets merge by union and
// lose nothing; counters keep one shard per coordinator, ordered by a
// logical clock, so clock skew does not affect them.
//
// # CAS and read-modify-write
//
// There are no transactions and no Paxos: CAS and ReadModifyWrite are a
// read at R followed by a write at W on the coordinator, as a naive client
// would do them. Two of them can read the same value and both write, so
// they lose updates and are not linearizable, whatever R and W are.
//
// # Durability
//
// With LoseUnflushedOnKill a killed node forgets the writes it applied
// since its last flush (every FlushInterval), including writes it had
// acknowledged.
package sim

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/targets"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// Target is a configured simulated cluster; it implements targets.Target.
type Target struct {
	cfg Config // with defaults, valid
}

var (
	_ targets.Target     = (*Target)(nil)
	_ targets.Deployment = (*Deployment)(nil)
)

// New validates cfg and returns the target.
func New(cfg Config) (*Target, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Target{cfg: cfg.withDefaults()}, nil
}

// Name returns "sim".
func (t *Target) Name() string { return "sim" }

// Transactions: the client runs list-append and rw-register with no
// isolation (targets.Transactional).
func (t *Target) Transactions() error { return nil }

// Replicas says whether there are replicas to lag (targets.Replicated):
// every key lives on every node, so one node has none.
func (t *Target) Replicas() error {
	if t.cfg.Nodes < 2 {
		return errors.New("one node holds every key: no replica to lag")
	}
	return nil
}

// Config returns the target's configuration, defaults filled in.
func (t *Target) Config() Config { return t.cfg }

// Deploy starts the nodes. It starts no goroutine and returns at once.
func (t *Target) Deploy(ctx context.Context) (targets.Deployment, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &Deployment{cluster: newCluster(t.cfg)}, nil
}

// Deployment is a running simulated cluster.
type Deployment struct {
	cluster *Cluster
}

// Cluster returns the *Cluster, where faults are applied.
func (d *Deployment) Cluster() cluster.Cluster { return d.cluster }

// NewClient opens a client for process.
func (d *Deployment) NewClient(ctx context.Context, process int) (workloads.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return newClient(d.cluster, process), nil
}

// Describe returns the settings of the cluster, including whether
// W + R > N.
func (d *Deployment) Describe() []targets.Setting {
	cfg := d.cluster.cfg
	n, r, w := cfg.Nodes, cfg.ReadReplicas(), cfg.WriteReplicas()
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	overlap := fmt.Sprintf("true (%d + %d > %d: every read quorum overlaps every write quorum)", w, r, n)
	if w+r <= n {
		overlap = fmt.Sprintf("false (%d + %d <= %d: a read may miss the latest acknowledged write)", w, r, n)
	}
	replication := fmt.Sprintf("synchronous to all %d replicas", n)
	if w < n {
		replication = fmt.Sprintf("synchronous to W=%d replicas, asynchronous to the other %d after %v", w, n-w, cfg.ReplicationLag)
	}
	durability := "a killed node keeps every write it applied"
	if cfg.LoseUnflushedOnKill {
		durability = fmt.Sprintf("a killed node loses the writes of the last %v (flush interval)", cfg.FlushInterval)
	}
	coordinator := fmt.Sprintf("sticky (process mod %d)", n)
	if cfg.Coordinator == Random {
		coordinator = "random node per request"
	}
	settings := []targets.Setting{
		{Name: "nodes", Value: fmt.Sprintf("%d (%s)", n, strings.Join(d.cluster.names, " "))},
		{Name: "replication factor", Value: fmt.Sprintf("%d (every key on every node)", n)},
		{Name: "read consistency", Value: levelName(cfg.ReadCL, "R", r)},
		{Name: "write consistency", Value: levelName(cfg.WriteCL, "W", w)},
		{Name: "W + R > N", Value: overlap},
		{Name: "replication", Value: replication},
		{Name: "replication lag", Value: cfg.ReplicationLag.String()},
		{Name: "conflict resolution", Value: "last write wins, by coordinator clock"},
		{Name: "sets", Value: setModeText(cfg.SetMode)},
		{Name: "network latency", Value: fmt.Sprintf("0-%v per message", cfg.NetworkLatency)},
		{Name: "request timeout", Value: cfg.RequestTimeout.String()},
		{Name: "read repair", Value: onOff(cfg.ReadRepair)},
		{Name: "hinted handoff", Value: onOff(cfg.HintedHandoff)},
		{Name: "durability", Value: durability},
		{Name: "coordinator", Value: coordinator},
		{Name: "seed", Value: fmt.Sprint(cfg.Seed)},
	}
	if cfg.Regions > 1 {
		settings = append(settings, d.regionSettings()...)
	}
	return settings
}

// regionSettings describe a multi-region topology.
func (d *Deployment) regionSettings() []targets.Setting {
	cfg := d.cluster.cfg
	var parts []string
	for _, r := range d.cluster.Topology() {
		parts = append(parts, r.Name+": "+strings.Join(r.Nodes, " "))
	}
	mode := "every write waits for its replicas wherever they are"
	if cfg.WriteCL.local() && cfg.WriteCL != EachQuorum && cfg.W == 0 {
		mode = fmt.Sprintf("active-active: each region acknowledges writes at %v on its own and replicates them to the other regions asynchronously (after %v plus the region delay); conflicts resolved by last write wins (Global Tables style)", cfg.WriteCL, cfg.ReplicationLag)
	}
	return []targets.Setting{
		{Name: "regions", Value: fmt.Sprintf("%d (%s)", cfg.Regions, strings.Join(parts, "; "))},
		{Name: "region rtt", Value: cfg.regionLink().String() + " between any two regions (half each way, on every message)"},
		{Name: "clients", Value: fmt.Sprintf("dealt to regions round-robin (process mod %d), each to coordinators of its own region", cfg.Regions)},
		{Name: "multi-region writes", Value: mode},
	}
}

// Close stops every node: messages in flight are dropped, waiting clients
// get ErrClosed, and Close returns when every goroutine of the deployment
// has returned, or with an error when ctx ends first. Closing twice is
// harmless.
func (d *Deployment) Close(ctx context.Context) error { return d.cluster.close(ctx) }

func setModeText(m SetMode) string {
	if m == SetLWW {
		return "lww: the whole set is one value, read and written back (last write wins)"
	}
	return "union: per-element adds merge (no add is lost once on a replica)"
}

// Quorums returns N, R and W (targets.Quorums); zeros with several
// regions, where the levels count replicas per region and N - down >= R
// predicts nothing.
func (d *Deployment) Quorums() (n, r, w int) {
	cfg := d.cluster.cfg
	if cfg.Regions > 1 {
		return 0, 0, 0
	}
	return cfg.Nodes, cfg.ReadReplicas(), cfg.WriteReplicas()
}

var _ targets.Regioner = (*Deployment)(nil)

// Regions maps each node to its region (targets.Regioner); nil with one
// region.
func (d *Deployment) Regions() map[string]string { return d.cluster.Regions() }

var _ cluster.Regioned = (*Cluster)(nil)

// Regions maps each node to its region (cluster.Regioned); nil with one
// region.
func (c *Cluster) Regions() map[string]string {
	if c.cfg.Regions < 2 {
		return nil
	}
	out := map[string]string{}
	for _, r := range c.Topology() {
		for _, n := range r.Nodes {
			out[n] = r.Name
		}
	}
	return out
}
