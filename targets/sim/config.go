package sim

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// ConsistencyLevel is how many replicas must answer a read (R) or
// acknowledge a write (W), named the way Cassandra names them. The zero
// value means QUORUM.
type ConsistencyLevel int

const (
	// One needs a single replica.
	One ConsistencyLevel = iota + 1
	// Two needs two replicas.
	Two
	// Quorum needs a majority: N/2 + 1 replicas.
	Quorum
	// All needs every replica.
	All
	// LocalOne needs one replica of the coordinator's region.
	LocalOne
	// LocalQuorum needs a quorum of the coordinator's region's replicas.
	LocalQuorum
	// EachQuorum needs a quorum of the replicas of every region (writes
	// only, as in Cassandra).
	EachQuorum
)

// local reports whether the level counts replicas per region.
func (l ConsistencyLevel) local() bool { return l == LocalOne || l == LocalQuorum || l == EachQuorum }

// regionLink is the standing condition between regions.
func (c Config) regionLink() cluster.RegionLink {
	return cluster.RegionLink{RTT: c.RegionRTT, Jitter: c.RegionJitter, Loss: c.RegionLoss}
}

// ParseConsistency parses "ONE", "TWO", "QUORUM", "ALL", "LOCAL_ONE",
// "LOCAL_QUORUM" or "EACH_QUORUM", in any case.
func ParseConsistency(s string) (ConsistencyLevel, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "ONE":
		return One, nil
	case "TWO":
		return Two, nil
	case "QUORUM":
		return Quorum, nil
	case "ALL":
		return All, nil
	case "LOCAL_ONE":
		return LocalOne, nil
	case "LOCAL_QUORUM":
		return LocalQuorum, nil
	case "EACH_QUORUM":
		return EachQuorum, nil
	}
	return 0, fmt.Errorf("sim: unknown consistency level %q (want ONE, TWO, QUORUM, ALL, LOCAL_ONE, LOCAL_QUORUM or EACH_QUORUM)", s)
}

// String returns the level's name, e.g. "QUORUM".
func (l ConsistencyLevel) String() string {
	switch l {
	case 0, Quorum:
		return "QUORUM"
	case One:
		return "ONE"
	case Two:
		return "TWO"
	case All:
		return "ALL"
	case LocalOne:
		return "LOCAL_ONE"
	case LocalQuorum:
		return "LOCAL_QUORUM"
	case EachQuorum:
		return "EACH_QUORUM"
	}
	return fmt.Sprintf("ConsistencyLevel(%d)", int(l))
}

// Replicas is how many of n replicas the level needs in one region (the
// local levels are then ONE and QUORUM), or 0 for an unknown level.
func (l ConsistencyLevel) Replicas(n int) int {
	switch l {
	case One, LocalOne:
		return 1
	case Two:
		return 2
	case 0, Quorum, LocalQuorum, EachQuorum:
		return n/2 + 1
	case All:
		return n
	}
	return 0
}

// CoordinatorMode says which node coordinates a client's requests.
type CoordinatorMode int

const (
	// Sticky binds each client process to one node: process mod N. It is
	// the zero value.
	Sticky CoordinatorMode = iota
	// Random sends every request to a node chosen at random, which may be
	// down: the request then fails with a refused connection.
	Random
)

// ParseCoordinatorMode parses "sticky" or "random", in any case.
func ParseCoordinatorMode(s string) (CoordinatorMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "sticky":
		return Sticky, nil
	case "random":
		return Random, nil
	}
	return 0, fmt.Errorf("sim: unknown coordinator mode %q (want sticky or random)", s)
}

// String returns "sticky" or "random".
func (m CoordinatorMode) String() string {
	switch m {
	case Sticky:
		return "sticky"
	case Random:
		return "random"
	}
	return fmt.Sprintf("CoordinatorMode(%d)", int(m))
}

// SetMode is how the sim stores sets.
type SetMode int

const (
	// SetUnion: per-element adds that merge by union; never lost once on
	// a replica.
	SetUnion SetMode = iota
	// SetLWW: the whole set is one value, read, extended and written back
	// under last-write-wins.
	SetLWW
)

// ParseSetMode parses "union" or "lww".
func ParseSetMode(s string) (SetMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "union":
		return SetUnion, nil
	case "lww":
		return SetLWW, nil
	}
	return 0, fmt.Errorf("sim: unknown set mode %q (want union or lww)", s)
}

// String returns "union" or "lww".
func (m SetMode) String() string {
	if m == SetLWW {
		return "lww"
	}
	return "union"
}

// Defaults of the zero Config.
const (
	DefaultNodes          = 3
	DefaultReplicationLag = 100 * time.Millisecond
	DefaultNetworkLatency = time.Millisecond
	DefaultRequestTimeout = 500 * time.Millisecond
	DefaultFlushInterval  = 200 * time.Millisecond
)

// Config configures a simulated cluster. The zero Config is valid: three
// nodes, QUORUM reads and writes, sticky coordinators. A zero field takes
// its default.
type Config struct {
	// Nodes is N, the number of nodes (named n1..nN) and also the
	// replication factor: every key lives on every node. Default 3.
	Nodes int

	// ReadCL and WriteCL are the consistency levels of reads and writes.
	// Default QUORUM.
	ReadCL, WriteCL ConsistencyLevel
	// R and W, when positive, give the number of replicas explicitly
	// instead of ReadCL and WriteCL; setting both a level and a different
	// count is an error.
	R, W int

	// ReplicationLag delays the write to every replica the coordinator
	// does not need for its W acknowledgements: replication to them is
	// asynchronous. Default 100ms; negative means no extra delay.
	ReplicationLag time.Duration
	// NetworkLatency is the maximum delay of one message; each message
	// takes a uniformly random time in [0, NetworkLatency]. Default 1ms;
	// negative means none.
	NetworkLatency time.Duration
	// RequestTimeout is how long a coordinator waits for its R or W
	// replicas to answer. A client waits 3×RequestTimeout for its
	// coordinator. Default 500ms.
	RequestTimeout time.Duration

	// ReadRepair makes a read write the newest value it saw back to the
	// replicas that answered with an older one.
	ReadRepair bool
	// HintedHandoff makes a coordinator keep a write meant for a replica
	// it sees down, and replay it when the replica is back.
	HintedHandoff bool

	// LoseUnflushedOnKill makes a killed node lose the writes it had not
	// flushed. Nodes flush every FlushInterval (default 200ms).
	LoseUnflushedOnKill bool
	FlushInterval       time.Duration

	// Coordinator chooses the node that coordinates a request.
	Coordinator CoordinatorMode

	// SetMode is how sets are stored: SetUnion (default, adds merge like a
	// Cassandra set collection) or SetLWW (the whole set is one
	// last-write-wins value).
	SetMode SetMode

	// Regions, when more than 1, splits the nodes into that many regions
	// in order (see regions.go); RegionRTT is the standing round trip
	// between two regions (RegionRTT/2 added to each message between
	// them), RegionJitter its jitter (up to RegionJitter/2 more each
	// way, at random) and RegionLoss the probability that a message
	// between two regions is lost.
	Regions      int
	RegionRTT    time.Duration
	RegionJitter time.Duration
	RegionLoss   float64

	// Seed seeds every random choice: network latencies and random
	// coordinators.
	Seed int64
}

// DefaultConfig returns the zero Config with every default filled in.
func DefaultConfig() Config { return Config{}.withDefaults() }

// withDefaults fills in the zero fields and turns "negative means none"
// durations into zero.
func (c Config) withDefaults() Config {
	if c.Nodes == 0 {
		c.Nodes = DefaultNodes
	}
	if c.R == 0 && c.ReadCL == 0 {
		c.ReadCL = Quorum
	}
	if c.W == 0 && c.WriteCL == 0 {
		c.WriteCL = Quorum
	}
	switch {
	case c.ReplicationLag == 0:
		c.ReplicationLag = DefaultReplicationLag
	case c.ReplicationLag < 0:
		c.ReplicationLag = 0
	}
	switch {
	case c.NetworkLatency == 0:
		c.NetworkLatency = DefaultNetworkLatency
	case c.NetworkLatency < 0:
		c.NetworkLatency = 0
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	return c
}

// Validate reports the first thing wrong with c (after defaults), e.g. a
// consistency level that needs more replicas than there are nodes.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Nodes < 1 {
		return fmt.Errorf("sim: Nodes must be at least 1, got %d", c.Nodes)
	}
	for _, side := range []struct {
		what  string
		cl    ConsistencyLevel
		n     int
		field string
	}{
		{"read", c.ReadCL, c.R, "R"},
		{"write", c.WriteCL, c.W, "W"},
	} {
		if side.cl != 0 && side.cl.Replicas(1) == 0 {
			return fmt.Errorf("sim: unknown %s consistency level %d", side.what, int(side.cl))
		}
		if side.n < 0 {
			return fmt.Errorf("sim: %s must not be negative, got %d", side.field, side.n)
		}
		if side.n > 0 && side.cl != 0 && side.cl.Replicas(c.Nodes) != side.n {
			return fmt.Errorf("sim: %s consistency %v (%d replicas) contradicts %s=%d; set one or the other",
				side.what, side.cl, side.cl.Replicas(c.Nodes), side.field, side.n)
		}
	}
	if r := c.ReadReplicas(); r > c.Nodes {
		return fmt.Errorf("sim: reads need R=%d replicas but there are only N=%d nodes", r, c.Nodes)
	}
	if w := c.WriteReplicas(); w > c.Nodes {
		return fmt.Errorf("sim: writes need W=%d replicas but there are only N=%d nodes", w, c.Nodes)
	}
	if c.RequestTimeout < 0 {
		return fmt.Errorf("sim: RequestTimeout must be positive, got %v", c.RequestTimeout)
	}
	if c.FlushInterval < 0 {
		return fmt.Errorf("sim: FlushInterval must be positive, got %v", c.FlushInterval)
	}
	if c.Regions < 0 || c.Regions > c.Nodes {
		return fmt.Errorf("sim: %d regions: want 1 to the node count (%d)", c.Regions, c.Nodes)
	}
	if c.RegionRTT < 0 {
		return fmt.Errorf("sim: RegionRTT must not be negative, got %v", c.RegionRTT)
	}
	if c.RegionRTT > 0 && c.Regions < 2 {
		return fmt.Errorf("sim: a region RTT (%v) needs at least 2 regions", c.RegionRTT)
	}
	if c.RegionJitter < 0 || c.RegionLoss < 0 || c.RegionLoss >= 1 {
		return fmt.Errorf("sim: region jitter %v and loss %g: want a jitter of 0 or more and a loss within 0 and 1", c.RegionJitter, c.RegionLoss)
	}
	if (c.RegionJitter > 0 || c.RegionLoss > 0) && c.Regions < 2 {
		return errors.New("sim: a region jitter or loss needs at least 2 regions")
	}
	if c.ReadCL == EachQuorum && c.R == 0 {
		return errors.New("sim: EACH_QUORUM is for writes only (as in Cassandra): give reads another level")
	}
	if c.SetMode != SetUnion && c.SetMode != SetLWW {
		return errors.New("sim: unknown set mode " + c.SetMode.String())
	}
	if c.Coordinator != Sticky && c.Coordinator != Random {
		return errors.New("sim: unknown coordinator mode " + c.Coordinator.String())
	}
	return nil
}

// ReadReplicas is R, the number of replicas a read waits for.
func (c Config) ReadReplicas() int {
	c = c.withDefaults()
	if c.R > 0 {
		return c.R
	}
	return c.ReadCL.Replicas(c.Nodes)
}

// WriteReplicas is W, the number of replicas a write waits for.
func (c Config) WriteReplicas() int {
	c = c.withDefaults()
	if c.W > 0 {
		return c.W
	}
	return c.WriteCL.Replicas(c.Nodes)
}

// clientTimeout is how long a client waits for its coordinator: long
// enough for a CAS (a read then a write, each up to RequestTimeout) to
// report the coordinator's own timeout, plus the two network hops.
func (c Config) clientTimeout() time.Duration {
	return 3*c.RequestTimeout + 2*c.NetworkLatency
}

// levelName describes one side, e.g. "QUORUM (R=2)" or "R=2".
func levelName(cl ConsistencyLevel, field string, n int) string {
	if cl == 0 {
		return fmt.Sprintf("%s=%d", field, n)
	}
	return fmt.Sprintf("%v (%s=%d)", cl, field, n)
}
