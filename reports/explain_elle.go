package reports

import (
	"strings"

	"github.com/chaoscheck/chaoscheck/checkers/elle"
)

// elleBase explains the transactional anomaly classes of Elle's
// checkers (package checkers/elle), by what they mean for an application.
var elleBase = map[string]explanation{
	"G0": {
		Title: "Dirty write (G0)",
		What: "Transactions overwrote each other's uncommitted writes in a cycle: the versions of two keys were installed in opposite orders by the same transactions, " +
			"so no order of the transactions explains the final state. An application sees updates of a multi-key record interleave (half of one, half of another).",
		Cause: "No write locks or no transactional isolation at all: a store that applies each key's write independently (last-write-wins per key, Dynamo style).",
	},
	"G1a": {
		Title: "Aborted read (G1a)",
		What:  "A committed transaction read a value written by a transaction that failed (aborted): the application acted on data that, officially, never existed.",
		Cause: "Writes made visible before commit, or a failure reported for a transaction that was in fact applied (a timeout turned into a definite failure).",
	},
	"G1b": {
		Title: "Intermediate read (G1b)",
		What:  "A transaction read a state another transaction produced in the middle of its work and then changed again: the application saw a half-done update.",
		Cause: "Uncommitted writes visible to others (read uncommitted), or each statement of a transaction committed on its own.",
	},
	"G1c": {
		Title: "Circular information flow (G1c)",
		What: "Each of two (or more) transactions saw the other's effects: T1 read T2's write and T2 read T1's (directly or through others). " +
			"No order of the transactions is consistent with what they read: the application observed effects before their causes.",
		Cause: "Reads served from uncommitted or per-key independent state; missing isolation between concurrent transactions.",
	},
	"G-single-item": {
		Title: "Read skew (G-single)",
		What: "A transaction saw part of another transaction's effects but not the rest: one read observed the other transaction's write, another read of the same snapshot missed a write that came before it. " +
			"The application reads an inconsistent snapshot (a transfer half-applied: money gone from one account and not yet in the other).",
		Cause: "Read committed isolation (each statement sees the latest committed data, not one snapshot for the whole transaction), or replicas that apply a transaction's writes one key at a time.",
	},
	"G-nonadjacent-item": {
		Title: "Non-adjacent anti-dependency cycle (G-nonadjacent)",
		What: "A cycle in which transactions missed each other's writes (at least two such anti-dependencies, never two in a row): a generalisation of read skew that snapshot isolation also forbids. " +
			"The application saw snapshots that cannot all be taken from one moving timeline.",
		Cause: "Weaker than snapshot isolation: read committed, or reads from replicas that lag differently.",
	},
	"G2-item": {
		Title: "Write skew / anti-dependency cycle (G2-item)",
		What: "Concurrent transactions each read something the other then changed, and both committed: each decision was based on a state the other made obsolete. " +
			"Classic write skew: two doctors each check that another is on call and both go off call. Snapshot isolation allows it; serializability forbids it.",
		Cause: "Snapshot isolation (PostgreSQL's repeatable read) or weaker, where a transaction's reads are not protected against concurrent writes.",
	},
	"lost-update": {
		Title: "Lost update",
		What: "Two committed transactions read the same version of a key and both updated it: one update was made without seeing the other, so at most one of them can be in a serial order, " +
			"and the application's read-modify-write (a counter, a balance) lost an increment.",
		Cause: "Read committed isolation without SELECT ... FOR UPDATE, or last-write-wins replication of concurrent updates.",
	},
	"internal": {
		Title: "Internal inconsistency",
		What:  "A transaction's read disagreed with its own earlier reads or writes of the same key: the application cannot even trust its own writes within one transaction.",
		Cause: "A bug in the database or the client (reads served from a different snapshot or replica than the transaction's writes).",
	},
	"dirty-update": {
		Title: "Dirty update",
		What:  "A committed transaction updated a key on top of state written by a transaction that failed: the aborted write survived inside committed data.",
		Cause: "Aborts that are not rolled back before others build on them; failures reported for writes that were applied.",
	},
	"duplicate-elements": {
		Title: "Duplicate elements",
		What:  "A read returned a list holding one appended value twice, although every value is appended once: a write was applied twice.",
		Cause: "A retry of a write that had succeeded (non-idempotent retries after a timeout), or a replication bug.",
	},
	"incompatible-order": {
		Title: "Incompatible order",
		What:  "Two reads of one list disagree on the order of its elements (neither is a prefix of the other): no single history of appends explains both, so some reader saw a state that never committed.",
		Cause: "Replicas that applied appends in different orders, or a lost and re-applied write.",
	},
	"future-read": {
		Title: "Future read",
		What:  "A transaction read a value that it wrote only later: it observed its own future.",
		Cause: "A bug: reads that see writes of the same transaction out of order.",
	},
	"cyclic-versions": {
		Title: "Cyclic version order",
		What:  "The version order of a register inferred from the history (and the assumptions asked for: linearizable, sequential or writes-follow-reads keys) is cyclic: the key cannot have had one order of versions.",
		Cause: "The assumption does not hold for this database (e.g. keys that are not linearizable), or values read that were never written.",
	},
	"empty-transaction-graph": {
		Title: "Nothing to judge (empty transaction graph)",
		What:  "No transaction observed another's effects, so the checker inferred no dependency at all and could not decide anything about isolation. The verdict is unknown, never valid.",
		Cause: "A run with too few successful transactions (every transaction failed or timed out), or reads that never see writes.",
	},
	"cycle-search-timeout": {
		Title: "Cycle search ran out of budget",
		What:  "A strongly connected component of the dependency graph was too large to search for every cycle type within the budget: a cycle exists there, but not every class could be named. The verdict is unknown unless another anomaly proves invalid.",
		Cause: "A very large, highly interconnected history (many transactions on few keys).",
	},
}

// elleVariant explains the -process and -realtime variants of the cycle
// classes.
func elleVariant(base explanation, variant string) explanation {
	e := base
	switch variant {
	case "-process":
		e.Title += ", with process order"
		e.What += " The cycle needs the order in which one client ran its transactions: the database broke session order (a client's later transaction did not see its earlier one)."
	case "-realtime":
		e.Title += ", with real-time order"
		e.What += " The cycle needs real time: a transaction that completed before another began was ordered after it (a stale read across clients), which only strict/strong models forbid."
	}
	return e
}

// elleExplain returns the explanation of an Elle anomaly type, with the
// isolation levels that forbid it, and false for a kind that is not
// Elle's.
func elleExplain(kind string) (explanation, bool) {
	e, ok := elleBase[kind]
	if !ok {
		for _, v := range []string{"-process", "-realtime"} {
			if b, found := strings.CutSuffix(kind, v); found {
				if be, ok2 := elleBase[b]; ok2 {
					e, ok = elleVariant(be, v), true
				}
			}
		}
	}
	if !ok && strings.HasSuffix(kind, "-cycle-exists") {
		e, ok = explanation{
			Title: "Cycle exists (" + strings.TrimSuffix(kind, "-cycle-exists") + ")",
			What:  "A cycle that this model forbids exists among a group of transactions (a strongly connected component of the dependency graph), although no specific cycle was named for it.",
			Cause: "See the anomalies named beside it, or raise the cycle search budget.",
		}, true
	}
	if !ok {
		return explanation{}, false
	}
	if by := elle.ForbiddenBy(kind); len(by) > 0 {
		e.What += " Forbidden by " + strings.Join(by, " and ") + " and every stronger level (per Elle's hierarchy: read uncommitted < read committed < repeatable read / snapshot isolation < serializable < strict serializable)."
	} else {
		e.What += " No isolation level forbids it: it says the check could not decide."
	}
	return e, true
}
