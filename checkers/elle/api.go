// Package elle checks transactional histories, after Kingsbury & Alvaro,
// "Elle: Inferring Isolation Anomalies from Experimental Observations"
// (VLDB 2020), with Elle's anomaly names and consistency-model hierarchy.
//
// The history form (shared by the workloads, the importers and this
// checker): a transaction is one operation with F "txn", an empty Key, and
// a Value that is a list of micro-operations. A micro-operation is a list
// of three values [f k v]:
//
//   - f is the string "append", "r" or "w";
//   - k is the key, an int or a string (EDN keywords import as strings
//     without the colon, vectors as lists);
//   - v is the appended or written value (an int), or for "r" the value
//     read: a list for list-append, an int for rw-register, nil for a read
//     of nothing, and nil in invocations (the value is not known yet).
//
// In JSONL: {"f":"txn","value":[["append",7,3],["r",9,[1,2]]]}.
package elle

// Workload names the kind of transactional history.
type Workload string

const (
	// ListAppend: appends to lists and reads of whole lists.
	ListAppend Workload = "list-append"
	// RWRegister: writes and reads of registers.
	RWRegister Workload = "rw-register"
)

// Options are Elle's checker options, with Elle's meaning.
type Options struct {
	// Workload is the history's kind (list-append or rw-register).
	Workload Workload
	// ConsistencyModels are the models to check the history against
	// (Elle's names, e.g. "strict-serializable", "snapshot-isolation").
	// Empty with no Anomalies: strict-serializable, as in Elle.
	ConsistencyModels []string
	// Anomalies are anomaly classes to look for, expanded to those they
	// imply as Elle does ("G1" also reports G0).
	Anomalies []string
	// rw-register inference options (Elle's :linearizable-keys?,
	// :sequential-keys?, :wfr-keys?).
	LinearizableKeys, SequentialKeys, WFRKeys bool
	// OutDir, when not empty, is where the checker may write artifacts
	// (cycle drawings).
	OutDir string
	// CycleSearchSteps bounds the cycle search in one strongly connected
	// component, in edge visits (0: DefaultCycleSearchSteps). Elle bounds
	// it by time instead (:cycle-search-timeout, 1 s); running out
	// reports cycle-search-timeout.
	CycleSearchSteps int64
}
