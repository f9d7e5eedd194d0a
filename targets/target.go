// Package targets holds what every database target provides to the
// runner; each database lives in its own subpackage (sim, postgres,
// cassandra, redis, etcd).
package targets

import (
	"context"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/lag"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// Target is a configured database: it knows how to deploy its nodes.
type Target interface {
	// Name is the --target name, e.g. "sim".
	Name() string
	// Deploy starts the nodes and returns once they are healthy, or with
	// an error when they could not be started within ctx.
	Deploy(ctx context.Context) (Deployment, error)
}

// Deployment is a running cluster of a target.
type Deployment interface {
	// Cluster is where the nemesis applies faults.
	Cluster() cluster.Cluster
	// NewClient opens a client for one logical process. Clients are
	// opened once per process id; a process that ended info gets a new
	// client under its new id.
	NewClient(ctx context.Context, process int) (workloads.Client, error)
	// Describe returns the settings a reader of the report needs: topology,
	// consistency levels, replication mode... as ordered pairs.
	Describe() []Setting
	// Close stops every node and releases everything the deployment made.
	Close(ctx context.Context) error
}

// Setting is one described configuration value.
type Setting = rundir.Setting

// NodeOpsCounter is implemented by deployments that can count, on the
// servers themselves, the operations each node served (Redis INFO
// commandstats). The runner asks once the clients have stopped; the counts
// go next to the client-side per-node counts in the measurements, as a
// cross-check of the load the client saw.
type NodeOpsCounter interface {
	NodeOps(ctx context.Context) (map[string]int64, error)
}

// LogCollector is implemented by deployments whose nodes write logs to
// files. At the end of a run the runner copies each log (its tail, if
// large) into the run directory as nodes/<node>.log, so the evidence of
// what the database did sits next to the history, while data directories
// stay out of the store.
type LogCollector interface {
	// NodeLogs maps node names to their log files.
	NodeLogs() map[string]string
}

// Quorums is implemented by deployments whose operations need a number of
// replicas (Dynamo-style consistency levels): N replicas of each key, R
// answers per read, W acknowledgements per write. The measurements then
// set the availability observed with d replicas down next to what the
// quorum arithmetic predicts (available iff N - d >= R, or W).
type Quorums interface {
	Quorums() (n, r, w int)
}

// DataKeeper is implemented by targets whose nodes keep their data on
// this machine, in a state directory (data directories, full logs) that
// is removed at the end of the run. KeepData makes the deployments it
// makes from then on keep it (chaoscheck test --keep-data).
type DataKeeper interface {
	KeepData()
}

// KeptData is implemented by deployments that can keep their state
// directory: KeptData returns its path when it stays after Close, ""
// when Close removes it. The runner records it in test.json.
type KeptData interface {
	KeptData() string
}

// Transactional is implemented by targets that say, before anything is
// deployed, whether their clients run the transaction workloads
// (list-append, rw-register: workloads.TxnClient): nil, or why not. The
// runner refuses a transaction workload on a target that says no.
type Transactional interface {
	Transactions() error
}

// Replicated is implemented by targets that say, before anything is
// deployed, whether their deployments will have replicas whose
// replication lag can be sampled (LagSampler): nil, or why not (one node,
// a replication factor of 1). The runner refuses --lag-interval and
// --lag-alert, given explicitly, on a target that says no.
type Replicated interface {
	Replicas() error
}

// ServerConfigured is implemented by targets that take the user's own
// server configuration (--server-config). ServerConfig returns it as
// test.json keeps it (verbatim, with the effective merged settings), nil
// when none was given. It is known before anything is deployed: the
// merge is the target's, from its configuration alone.
type ServerConfigured interface {
	ServerConfig() *rundir.ServerConfig
}

// Facts are a deployment's typed facts (rundir.Facts).
type Facts = rundir.Facts

// FactReporter is implemented by deployments that state their typed
// facts: N, R, W, replication mode, conflict resolution, coordinator...
// as in force, with the user's server configuration merged. The runner
// records them in test.json after Deploy, and the report's explanations
// quote them. Every real target and the sim implement it.
type FactReporter interface {
	Facts() Facts
}

// Regioner is implemented by deployments whose nodes are split into
// regions (datacenters): Regions maps every node to its region's name, or
// is nil for a single-region deployment. The measurements then give the
// latency per region of the serving node.
type Regioner interface {
	Regions() map[string]string
}

// DeployBudget is implemented by targets whose Deploy may need longer
// than the runner's default deploy timeout (a JVM cluster across
// regions): the runner then waits up to DeployTimeout, unless its own
// DeployTimeout was set explicitly. Deploy still bounds every wait.
type DeployBudget interface {
	DeployTimeout() time.Duration
}

// LagSampler is implemented by deployments with replicas: SampleLag asks
// the database once for every replica's lag as it sees it, one
// lag.Sample per replica, with Time left zero. The runner calls it every
// sampling interval from one goroutine, with a timeout, and stores the
// stamped samples in lag.jsonl (see package lag). A replica that cannot
// be asked gets a Sample with Err; the error return is for a round that
// failed as a whole.
type LagSampler interface {
	SampleLag(ctx context.Context) ([]lag.Sample, error)
}

// Resetter is implemented by deployments that can empty their data while
// the cluster stays up, so that a suite's cases that share a deployment
// configuration (chaoscheck suite run) reuse one deployed cluster instead
// of redeploying. Reset returns once every node is healthy, no fault is
// in force and every key the workloads use reads as never written, on
// every replica; otherwise an error, and the suite then redeploys.
type Resetter interface {
	Reset(ctx context.Context) error
}
