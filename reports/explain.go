package reports

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/chaoscheck/chaoscheck/rundir"
)

// explanation is what a report says about one anomaly class.
type explanation struct {
	// Title names the class for people.
	Title string
	// What the anomaly means, in plain words.
	What string
	// Cause is the usual configuration mistake (or bug) behind it.
	Cause string
	// Facts are the target settings worth quoting for this class, in
	// order: see targetFacts.sentences.
	Facts []fact
}

// fact names a kind of target setting an explanation can quote.
type fact int

const (
	factQuorum fact = iota
	factCoordinator
	factConflict
	factReplication
	factDurability
	factReadRepair
	factAvailability
)

// explanations maps anomaly kinds (checkers' Anomaly.Kind) to their
// explanation. Kinds missing here get genericExplanation.
var explanations = map[string]explanation{
	"non-linearizable": {
		Title: "Not linearizable",
		What: "No order of this key's operations agrees both with real time (an operation that completed before another began must take effect first) " +
			"and with a single register: at some point a read returned a value that could not have been the latest one, or a write took effect out of order. " +
			"Linearizability is what a client of a single machine would see; here the cluster behaved like several diverging copies.",
		Cause: "Reads and writes answered by too few replicas to overlap (W + R ≤ N, e.g. consistency level ONE), asynchronous replication, " +
			"or conflicts resolved by last-write-wins on node clocks that disagree.",
		Facts: []fact{factQuorum, factConflict, factReplication, factCoordinator, factReadRepair},
	},
	"stale-read": {
		Title: "Stale read",
		What: "A read missed a write that had already completed before the read began, although a later read saw it: " +
			"the read was answered by a replica that had not caught up yet.",
		Cause: "Reads at a consistency level that does not overlap the write quorum (W + R ≤ N), reading from asynchronous followers, " +
			"or replicas cut off by a partition that keep serving reads.",
		Facts: []fact{factQuorum, factReplication, factReadRepair, factCoordinator},
	},
	"lost": {
		Title: "Lost write",
		What: "An element whose add was acknowledged (or that a read had already returned) is missing from the final read, taken after every fault was healed: " +
			"the database confirmed a write and then forgot it.",
		Cause: "Acknowledging a write before enough replicas made it durable (W = 1, asynchronous replication, periodic fsync), " +
			"so a crash or a partition loses it; or last-write-wins overwriting a concurrent update of the same set.",
		Facts: []fact{factDurability, factQuorum, factReplication, factConflict},
	},
	"unexpected": {
		Title: "Unexpected element",
		What:  "A read returned an element that no add ever attempted, or returned it before any add of it was invoked: the database produced data nobody wrote (yet).",
		Cause: "Rarely a configuration problem: usually corruption, a client mixing up keys or connections, or data left over from an earlier test in the same keyspace.",
	},
	"fail-add-present": {
		Title: "Failed write took effect",
		What: "An add that the database reported as definitely failed is present in a later read. " +
			"Clients (and checkers) rely on a definite failure meaning \"nothing was applied\", so they may retry and apply it twice.",
		Cause: "A coordinator that reports failure (too few acknowledgements within the timeout) after some replicas already applied the write, " +
			"which is then propagated rather than rolled back; or a client that turns a timeout (unknown outcome) into a definite failure.",
		Facts: []fact{factQuorum, factReplication},
	},
	"read-your-writes": {
		Title: "Read-your-writes violated",
		What: "After one of its writes was acknowledged, the same client read a state older than that write: nothing (the initial state), its own earlier write, " +
			"or a value it had itself read before writing. A user would see their own change disappear. " +
			"This rests on no assumption about how the store orders writes: whatever that order, the client's write comes after what it read back.",
		Cause: "One session's requests going to different replicas (a random coordinator or load balancer) while reads and writes do not overlap (W + R ≤ N), " +
			"with no sticky sessions or session tokens.",
		Facts: []fact{factQuorum, factCoordinator, factReplication},
	},
	"read-your-writes-realtime": {
		Title: "Acknowledged write overwritten by an older one",
		What: "After one of its writes was acknowledged, the client read another client's value whose write had completed before its own write even began, and that it had not read. " +
			"Read-your-writes itself does not order writes by real time: a store may order that other write after the client's and still satisfy it. " +
			"This class rests on one assumption, that the store orders writes by real time (as last-write-wins on synchronized clocks intends): " +
			"what the history shows is that the store's write order disagrees with real time, so under last-write-wins the acknowledged write was overwritten by an older one.",
		Cause: "Last-write-wins on node clocks that disagree (clock skew; the coordinator's clock stamps the write), or a read answered by a replica that has " +
			"neither write ordered as real time would order them (W + R ≤ N with a random coordinator).",
		Facts: []fact{factConflict, factQuorum, factCoordinator, factReplication},
	},
	"monotonic-reads": {
		Title: "Monotonic reads violated",
		What: "A client read a value, then later read an older one: nothing (the initial state), or a value written before the first one by the same writer, " +
			"or one that the first value's writer had read before writing it. For that client, time went backwards, " +
			"whatever order the store gives its writes.",
		Cause: "Successive reads of one session answered by different replicas at different replication points (random coordinator, low read consistency), " +
			"without read repair or session guarantees.",
		Facts: []fact{factQuorum, factCoordinator, factReadRepair, factReplication},
	},
	"monotonic-reads-realtime": {
		Title: "Reads went back in real time",
		What: "A client read a value, then later read another whose write had completed before the first value's write began, and nothing else orders the two writes. " +
			"This class rests on one assumption, that the store orders writes by real time: monotonic reads itself allows a store to order the two writes the other way. " +
			"What the history shows is that the store's write order disagrees with real time (under last-write-wins, the newer write was overwritten by the older one), " +
			"or that the two reads were answered by replicas that disagree.",
		Cause: "Successive reads of one session answered by different replicas at different replication points (random coordinator, low read consistency), " +
			"or last-write-wins on node clocks that disagree.",
		Facts: []fact{factQuorum, factCoordinator, factConflict, factReadRepair, factReplication},
	},
	"monotonic-writes": {
		Title: "Monotonic writes violated",
		What:  "Two writes of one client were seen in the opposite order: a reader observed the second write, then the first one as if it were newer.",
		Cause: "Writes of one session routed to different coordinators and ordered by last-write-wins on clocks that disagree (clock skew), " +
			"or replicas applying asynchronous updates out of order.",
		Facts: []fact{factConflict, factCoordinator, factQuorum},
	},
	"phantom-read": {
		Title: "Phantom read",
		What:  "A read returned a value that no write of that key attempted, whose only write had failed, or whose write began only after the read returned.",
		Cause: "Failed writes that were partially applied and not rolled back, clients reusing values or keys, or data corruption.",
		Facts: []fact{factQuorum, factReplication},
	},
	"lost-update": {
		Title: "Lost update",
		What:  "Two acknowledged read-modify-write operations read the same value and both wrote: the second overwrote an update it never saw.",
		Cause: "Read-modify-write done as a plain read followed by a plain write. Quorums (W + R > N) do not prevent it: it needs compare-and-set, " +
			"lightweight transactions (Paxos/Raft) or serializable isolation.",
		Facts: []fact{factConflict, factQuorum},
	},
	"counter-out-of-bounds": {
		Title: "Counter out of bounds",
		What: "A read of the counter returned a value outside what the increments allow: lower than the acknowledged increments " +
			"(increments lost, or a stale read) or higher than every attempted increment (an increment applied twice).",
		Cause: "Reads at a consistency level that misses recent increments (W + R ≤ N), increments lost on a crash, " +
			"or non-idempotent increments retried after a timeout.",
		Facts: []fact{factQuorum, factDurability, factReplication},
	},
}

// genericExplanation explains a kind this report does not know.
func genericExplanation(kind string) explanation {
	return explanation{
		Title: kind,
		What:  "The checker found operations that no correct execution of the workload allows. This report has no specific explanation for the class \"" + kind + "\": read the checker's message and the witness operations below.",
		Cause: "Often weak consistency settings (W + R ≤ N), asynchronous replication or clock-based conflict resolution; check the target settings.",
		Facts: []fact{factQuorum},
	}
}

// explain returns the explanation of kind.
func explain(kind string) explanation {
	if e, ok := explanations[kind]; ok {
		return e
	}
	if e, ok := elleExplain(kind); ok {
		return e
	}
	return genericExplanation(kind)
}

// targetFacts are the target's typed facts (test.json's facts, recorded
// by the target itself) and the test's faults: what the explanations
// quote. Known is false for a test.json without facts (an older
// chaoscheck, or a target that records none): the explanations then
// stay general, and the report says so.
type targetFacts struct {
	rundir.Facts
	Known  bool
	Faults []string
}

// readFacts returns the facts of a test description (nil: none).
func readFacts(ti *rundir.TestInfo) targetFacts {
	var tf targetFacts
	if ti == nil {
		return tf
	}
	tf.Faults = ti.Nemesis
	if ti.Facts != nil {
		tf.Facts, tf.Known = *ti.Facts, true
	}
	return tf
}

// n is N: the replication factor, else the node count (0: unknown).
func (tf targetFacts) n() int {
	if tf.ReplicationFactor > 0 {
		return tf.ReplicationFactor
	}
	return tf.Nodes
}

// hasFault reports whether the test injected a fault named like f.
func (tf targetFacts) hasFault(f string) bool {
	for _, x := range tf.Faults {
		if strings.Contains(strings.ToLower(x), f) {
			return true
		}
	}
	return false
}

// sentences makes the facts concrete for this target: one sentence per
// fact it can say something about.
func (tf targetFacts) sentences(facts []fact) []string {
	var out []string
	for _, f := range facts {
		if s := tf.sentence(f); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (tf targetFacts) sentence(f fact) string {
	n, r, w := tf.n(), tf.ReadReplicas, tf.WriteReplicas
	switch f {
	case factQuorum:
		if r <= 0 || w <= 0 || n <= 0 {
			return ""
		}
		levels := fmt.Sprintf("writes at %s and reads at %s", tf.WriteLevel, tf.ReadLevel)
		if tf.WriteLevel == tf.ReadLevel {
			levels = fmt.Sprintf("writes and reads at %s", tf.WriteLevel)
		}
		if w+r <= n {
			return fmt.Sprintf("This target: %s: W + R = %d + %d = %d ≤ N = %d, so the replicas answering a read need not include any replica that acknowledged the latest write, and a read can miss it.",
				levels, w, r, w+r, n)
		}
		return fmt.Sprintf("This target: %s: W + R = %d + %d = %d > N = %d, so every read quorum overlaps every write quorum; with overlapping quorums look at the other causes.",
			levels, w, r, w+r, n)
	case factCoordinator:
		if tf.Coordinator == rundir.RandomCoordinator {
			return "Coordinator: " + orText(tf.CoordinatorDetail, "random") + ", so one client's successive requests reach different nodes, which may be at different replication points."
		}
	case factConflict:
		if !tf.ConflictByClock && !strings.HasPrefix(tf.Conflict, "last write") {
			return ""
		}
		s := "Conflict resolution: " + orText(tf.Conflict, "by node clocks") + "."
		if tf.ConflictByClock && tf.hasFault("clock") {
			s += " This test skews clocks (nemesis clock): a write stamped by a node whose clock runs behind loses to an older write."
		}
		return s
	case factReplication:
		if tf.Replication == rundir.Asynchronous || (tf.Replication == rundir.Quorum && w > 0 && w < n) {
			return "Replication: " + orText(tf.ReplicationDetail, string(tf.Replication)) + "."
		}
	case factDurability:
		if tf.DurabilityLosesAcked {
			s := "Durability: " + tf.Durability + "."
			if tf.hasFault("kill") {
				s += " This test kills nodes (nemesis kill)."
			}
			return s
		}
	case factReadRepair:
		if tf.ReadRepair != nil && !*tf.ReadRepair {
			s := "Read repair is off"
			if tf.HintedHandoff != nil && !*tf.HintedHandoff {
				s += " and so is hinted handoff"
			}
			return s + ": a replica that missed a write stays behind until replication reaches it."
		}
	case factAvailability:
		if n <= 0 || (r <= 0 && w <= 0) {
			return ""
		}
		var parts []string
		if w > 0 {
			parts = append(parts, fmt.Sprintf("writes at %s need W = %d of N = %d replicas and so tolerate %s down or cut off", tf.WriteLevel, w, n, nodesWord(n-w)))
		}
		if r > 0 {
			parts = append(parts, fmt.Sprintf("reads at %s need R = %d and tolerate %s", tf.ReadLevel, r, nodesWord(n-r)))
		}
		return "This target: " + strings.Join(parts, "; ") + "."
	}
	return ""
}

// orText returns s, or def when s is empty.
func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func nodesWord(k int) string {
	switch {
	case k <= 0:
		return "no node"
	case k == 1:
		return "1 node"
	}
	return strconv.Itoa(k) + " nodes"
}
