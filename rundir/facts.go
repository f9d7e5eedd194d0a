package rundir

// Facts are a target's typed facts about the deployment a test ran on,
// as in force (chaoscheck's flags and the user's --server-config
// merged): what the report's explanations quote, so that they never
// parse the human-readable settings. Zero values mean unknown or not
// applicable; a target fills what it knows.
type Facts struct {
	// Nodes is the node count.
	Nodes int `json:"nodes"`
	// ReplicationFactor is N, the copies of each key (every node's, for
	// a primary/replica or raft target).
	ReplicationFactor int `json:"replication_factor,omitempty"`
	// ReadLevel and WriteLevel name the consistency level of reads and
	// writes as the user chose it: "QUORUM", "ONE", "linearizable",
	// "primary"...
	ReadLevel  string `json:"read_level,omitempty"`
	WriteLevel string `json:"write_level,omitempty"`
	// ReadReplicas and WriteReplicas are R and W: the replicas that must
	// answer a read, and acknowledge a write (0: not a quorum system).
	ReadReplicas  int `json:"read_replicas,omitempty"`
	WriteReplicas int `json:"write_replicas,omitempty"`
	// Replication is how a write reaches the other replicas.
	Replication Replication `json:"replication,omitempty"`
	// ReplicationDetail says it for people, with the settings behind it.
	ReplicationDetail string `json:"replication_detail,omitempty"`
	// Conflict is how concurrent writes of one key are resolved, for
	// people ("last write wins, by coordinator clock").
	Conflict string `json:"conflict_resolution,omitempty"`
	// ConflictByClock says that node clocks decide conflicts (last write
	// wins on server timestamps), so clock skew can lose writes.
	ConflictByClock bool `json:"conflict_by_clock,omitempty"`
	// Coordinator is how a client's requests pick a node.
	Coordinator Coordinator `json:"coordinator,omitempty"`
	// CoordinatorDetail says it for people.
	CoordinatorDetail string `json:"coordinator_detail,omitempty"`
	// Primary is the primary (or first primary) node, for primary/replica
	// targets.
	Primary string `json:"primary,omitempty"`
	// Isolation is the transaction isolation level, where there are
	// transactions ("read-committed", "serializable"...).
	Isolation string `json:"isolation,omitempty"`
	// Durability says what survives a killed node, for people.
	Durability string `json:"durability,omitempty"`
	// DurabilityLosesAcked says that a killed node can lose writes it
	// acknowledged.
	DurabilityLosesAcked bool `json:"durability_loses_acked,omitempty"`
	// ReadRepair and HintedHandoff are on or off where the target has
	// them (nil: not applicable or unknown).
	ReadRepair    *bool `json:"read_repair,omitempty"`
	HintedHandoff *bool `json:"hinted_handoff,omitempty"`
	// Topology is the regions of a multi-region deployment (nil: one
	// region); see topology.go.
	Topology *Topology `json:"topology,omitempty"`
}

// Replication is how writes reach the replicas.
type Replication string

const (
	// Synchronous: a write is acknowledged once the replicas the mode
	// names have it (PostgreSQL synchronous_standby_names, every replica
	// of the sim at W = N).
	Synchronous Replication = "synchronous"
	// Quorum: a write goes to every replica and is acknowledged after W
	// of them; the others apply it later (Dynamo style).
	Quorum Replication = "quorum"
	// Asynchronous: a write is acknowledged by one node alone and
	// streamed to the others afterwards; a failover can lose it.
	Asynchronous Replication = "asynchronous"
	// Consensus: a write is acknowledged once a majority logged it
	// (raft).
	Consensus Replication = "consensus"
)

// Coordinator is how a client's requests pick the node they go to.
type Coordinator string

const (
	// RandomCoordinator: any node, per request.
	RandomCoordinator Coordinator = "random"
	// StickyCoordinator: one node per client.
	StickyCoordinator Coordinator = "sticky"
	// PrimaryCoordinator: the current primary.
	PrimaryCoordinator Coordinator = "primary"
	// SlotOwner: the master of the key's slot (Redis Cluster).
	SlotOwner Coordinator = "slot-owner"
)

// Bool returns a pointer to b, for Facts.ReadRepair and HintedHandoff.
func Bool(b bool) *bool { return &b }
