// Package lag is the record of replication lag as the database itself
// reports it, sampled while a test runs: one Sample per replica per
// sampling round, stored as JSON lines in the run directory (lag.jsonl).
//
// Who does what, and why:
//
//   - A deployment with replicas implements targets.LagSampler: one call
//     asks the database once for every replica's lag (PostgreSQL's
//     pg_stat_replication, Redis's INFO replication, etcd's applied
//     index, Cassandra's pending hints, the sim's replication queue). It
//     leaves Sample.Time zero.
//   - The runner calls it every --lag-interval (default 100 ms) from one
//     goroutine of its own, never from a client, with a timeout of one
//     interval, and stamps Time with the controller's monotonic clock (ns
//     since the test started, as history times): node clocks are what a
//     nemesis skews, so they never stamp anything. The stamp is the
//     start of the round: the database answered within one interval
//     after it. The runner stamps a copy: the deployment's own samples
//     (the policy's) keep Time zero. A round that fails or
//     times out is recorded as one Sample per known replica with Err set,
//     not dropped: a gap in the plot must say why. A failed write of
//     lag.jsonl stops the run loudly, as for the history.
//   - A read policy that acts on lag (--max-replica-lag) uses the
//     deployment's own latest sample: the deployment keeps it when it
//     answers SampleLag, with the local time it took it, so the policy
//     can also refuse a sample that is too old.
//
// Figures are pointers: nil means the database does not report that
// figure, which is not the same as zero lag. LagNS is the figure a
// threshold (--lag-alert, --max-replica-lag) is compared with. When the
// database reports only a position (bytes or entries behind), the
// deployment may derive a time lag from the positions it has sampled
// over time (the replica is at the primary's position of t ago) and then
// sets Derived: the report says so, as such a figure has the sampling
// interval's resolution.
package lag

// Sample is one replica's lag at one instant.
type Sample struct {
	// Time is ns since the test started, on the controller's clock
	// (stamped by the runner).
	Time int64 `json:"time"`
	// Node is the replica.
	Node string `json:"node"`
	// Of is the node it lags behind (the primary, the leader), "" when
	// there is none (Cassandra's hints are per node).
	Of string `json:"of,omitempty"`

	// LagNS is how far behind in time the replica is: the database's own
	// figure (PostgreSQL's replay_lag) or a derived one (Derived).
	LagNS   *int64 `json:"lag_ns,omitempty"`
	Derived bool   `json:"derived,omitempty"`

	// PostgreSQL's pg_stat_replication write, flush and replay lag, ns.
	WriteLagNS  *int64 `json:"write_lag_ns,omitempty"`
	FlushLagNS  *int64 `json:"flush_lag_ns,omitempty"`
	ReplayLagNS *int64 `json:"replay_lag_ns,omitempty"`
	// Bytes behind: PostgreSQL's pg_current_wal_lsn() - replay_lsn,
	// Redis's master_repl_offset - the replica's offset.
	Bytes *int64 `json:"bytes,omitempty"`
	// Entries behind: etcd's applied index behind the leader's.
	Entries *int64 `json:"entries,omitempty"`
	// Hints: Cassandra's pending hints held for other nodes.
	Hints *int64 `json:"hints,omitempty"`

	// Err is why this replica could not be sampled in this round (its
	// node is down, the query timed out...); the figures are then nil.
	Err string `json:"error,omitempty"`
}

// Int64 returns a pointer to v, for the optional figures.
func Int64(v int64) *int64 { return &v }
