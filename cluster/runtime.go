package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"strings"
	"time"
)

// Runtime is where a target deploys its nodes: network namespaces on this
// machine (cluster/local), and later containers (cluster/docker) or
// remote hosts (ssh). Targets never import a runtime package: they
// receive a Runtime from the wiring layer (the command line picks one
// from a Registry) and use only this interface, Hosts, and the optional
// fault interfaces of this package.
//
// A Runtime value holds no cluster: it is a factory, safe to share, and
// Plan, MaxNodes and Probe may be called before anything exists.
type Runtime interface {
	// Name is the --runtime name, e.g. "local".
	Name() string
	// MaxNodes is the largest node count Up accepts.
	MaxNodes() int
	// Plan is what a cluster of n nodes on this runtime will be able to
	// do, known before it exists: the fault capabilities the runtime
	// provides (each one it lacks with why). Targets start from it,
	// take away what their servers cannot take and add what they
	// provide themselves (failover). Every capability it supports is
	// implemented by the Hosts that Up returns.
	Plan(n int) Plan
	// Probe checks, before anything is deployed, what Up needs on this
	// machine (privileges, tools, a daemon), and says what is missing
	// and what to install. Optional pieces that only disable a
	// capability are not errors here: Plan says they are missing.
	Probe(ctx context.Context) error
	// Up removes what crashed earlier runs of this runtime left (note:
	// for the local runtime, also live clusters of this very process),
	// then brings up spec.Nodes nodes with their network, and returns
	// them. On error, everything it created is removed.
	Up(ctx context.Context, spec Spec) (Hosts, error)
	// RunCommand runs a helper on the controller, outside any cluster
	// (for work done before a cluster exists, such as filling a cache or
	// compiling a preload), and returns its standard output. The helper
	// dies with the controller, even on SIGKILL, and when ctx ends or
	// its timeout passes.
	RunCommand(ctx context.Context, cmd Command) ([]byte, error)
}

// Spec describes the cluster a target asks a Runtime for.
type Spec struct {
	// Target names the target (e.g. "postgres"): it names the default
	// state directory and the runtime's resources, so that a leftover
	// is recognisable.
	Target string
	// Nodes is the number of nodes, named n1..nN (1 to MaxNodes).
	Nodes int
	// Subnet is the IPv4 /24 the nodes get addresses in. Zero: the
	// runtime's choice (one that is free).
	Subnet netip.Prefix
	// StateDir is the controller-side directory holding logs and what
	// the target keeps there (data directories). Empty: a new directory
	// named after Target under os.TempDir(). A directory the runtime
	// creates is removed by Close (and by the next Up after a crash)
	// unless KeepStateDir; one that existed already is never removed.
	StateDir string
	// KeepStateDir keeps the state directory after Close (chaoscheck
	// test --keep-data).
	KeepStateDir bool
	// ServerUID is the user the target's servers run as (0: root); the
	// runtime checks they can reach the state directory.
	ServerUID uint32
}

// Hosts are the running nodes of one cluster, as a Runtime brought them
// up. Its methods are safe for concurrent use. It is a Cluster with kill,
// restart, pause and resume; partitions (Partitioner) and clock offsets
// (ClockSkewer) are optional, found by type assertion, and declared up
// front by Runtime.Plan.
type Hosts interface {
	Cluster
	Killer
	Pauser

	// Addr returns the node's address, or the invalid Addr for an
	// unknown node. Addr(Controller) is where the controller's clients
	// and Exec's commands come from.
	Addr(node string) netip.Addr
	// Name is the unique name of this cluster's resources (the local
	// runtime's prefix), stable for its life.
	Name() string

	// Start starts a process on node from spec and registers it with
	// the node: Kill, Restart, Stop, Pause and Resume act on it, and
	// Restart starts it again with the same spec.
	Start(ctx context.Context, node string, spec NodeSpec) (Process, error)
	// Processes returns the processes registered on node.
	Processes(node string) []Process
	// Stop stops every process of node gracefully (SIGTERM), bounded by
	// StopTimeout, and kills what is left after it. Restart starts them
	// again with their data.
	Stop(ctx context.Context, node string) error
	// Log is the controller-side file receiving the stdout and stderr of
	// the process named name on node, kept up to date while it runs (""
	// for an unknown process).
	Log(node, name string) string
	// Exec runs cmd on behalf of node (of the whole cluster when node is
	// ""), where it can reach every node's address and sees the node's
	// files, and returns its standard output. Nothing the command
	// started outlives Exec; Kill and Pause of node act on it too.
	Exec(ctx context.Context, node string, cmd Command) ([]byte, error)
	// CopyIn copies the controller's file or directory src to dst on
	// node; CopyOut copies node's src to the controller's dst. Paths
	// are absolute.
	CopyIn(ctx context.Context, node, src, dst string) error
	CopyOut(ctx context.Context, node, src, dst string) error

	// StateDir is the controller-side state directory (Spec.StateDir).
	StateDir() string
	// KeptStateDir returns StateDir if it stays after Close, "" if
	// Close removes it.
	KeptStateDir() string
	// DescribeStateDir is the state directory for a report: its path
	// and whether it stays.
	DescribeStateDir() string
	// Close kills every process (helper commands too), removes every
	// resource the runtime made for this cluster (network, rules,
	// cgroups, containers...), the state directory unless it is kept,
	// and the runtime's journal of them. It completes after a
	// cancellation of ctx too (it is bounded by the runtime's own
	// cleanup timeout), and a second call does nothing.
	Close(ctx context.Context) error
}

// CloseTimeout bounds Hosts.Close on every runtime; a target's Close
// may use it to bound its own.
const CloseTimeout = 30 * time.Second

// StopTimeout bounds how long Hosts.Stop waits for processes to exit on
// SIGTERM before it kills them.
const StopTimeout = 10 * time.Second

// NodeSpec says what to run on a node.
type NodeSpec struct {
	// Name identifies the process on its node (e.g. "postgres"): 1 to 32
	// characters of [A-Za-z0-9_.-].
	Name string
	// Path is the executable; Args are its arguments (without argv[0]).
	Path string
	Args []string
	// Env is the environment; nil: the runtime's default (the local
	// runtime inherits the controller's). A runtime may append what its
	// faults need (the local runtime's libfaketime variables).
	Env []string
	// Dir is the working directory; empty: the runtime's default.
	Dir string
	// UID and GID, when UID is not 0, run the process as that user and
	// group with no supplementary groups. 0: root.
	UID, GID uint32
	// Files are placed on the node before the first start (not again
	// on Restart: the node keeps its files), owned by UID and GID.
	Files []File
	// SharedDirs are directories of the controller that the process
	// reads at the same path, read-only: artefacts the target prepared
	// once on the controller (a cache of jars, a compiled library). The
	// local runtime's nodes see the controller's filesystem already;
	// the docker runtime bind-mounts each read-only; a remote runtime
	// copies them. The process must not write in them.
	SharedDirs []string
	// DataDir is the directory whose content survives Kill and Restart
	// (created, owned by UID and GID, mode 0700, when missing; empty:
	// none). It must be under the state directory.
	DataDir string
	// Ports are the TCP ports the process listens on, at the node's
	// address (runtimes that publish or expose ports read them).
	Ports []uint16
	// LogFile is the controller-side file receiving stdout and stderr
	// (appended). Empty: the runtime's default, StateDir/logs/<node>-<name>.log.
	LogFile string
}

// File is a file to place on a node.
type File struct {
	// Path is the absolute path on the node.
	Path string
	// Data is the content.
	Data []byte
	// Mode is the permission bits (0: 0644).
	Mode fs.FileMode
}

// Process is a process started on a node. It stays valid across Kill and
// Restart: after Restart it refers to the new run.
type Process interface {
	// Node is the node the process runs on; Name its spec's name.
	Node() string
	Name() string
	// Pid is the pid of the current (or last) run, as the controller
	// sees it (0 when the runtime cannot tell).
	Pid() int
	// Running reports whether the current run has not exited; Done is
	// closed when it exits; Err is its exit error once it has (nil for a
	// clean exit or while running).
	Running() bool
	Done() <-chan struct{}
	Err() error
}

// Command is a short-lived helper process that chaoscheck runs and waits
// for: initdb, pg_basebackup, redis-cli, nodetool, a compiler... Every
// such process is started by a Runtime (RunCommand, Hosts.Exec), never by
// os/exec directly, so that none can outlive the controller unseen.
type Command struct {
	// Name identifies the command in the runtime's resource names: 1 to
	// 32 characters of [A-Za-z0-9_.-]. Empty: the base name of Path.
	Name string
	// Path is the executable (looked up in PATH when it has no slash);
	// Args are its arguments (without argv[0]).
	Path string
	Args []string
	// Env is the environment; nil inherits the controller's.
	Env []string
	// Dir is the working directory; empty: the controller's.
	Dir string
	// UID and GID, when UID is not 0, run the command as that user and
	// group with no supplementary groups.
	UID, GID uint32
	// Stdin is the standard input (nil: /dev/null).
	Stdin io.Reader
	// Timeout bounds the run (0: the runtime's default); past it, or
	// when ctx ends, the command and everything it started are killed.
	Timeout time.Duration
}

// PlanOn is rt's plan for n nodes; with no runtime (a target configured
// without one, e.g. in a unit test), every capability is unsupported,
// saying so.
func PlanOn(rt Runtime, n int) Plan {
	if rt == nil {
		p := Plan{Nodes: n}
		for _, c := range AllCapabilities {
			p = p.Without(c, "no cluster runtime given")
		}
		return p
	}
	return rt.Plan(n)
}

// ErrNoRuntime is returned by targets asked to deploy without a Runtime.
var ErrNoRuntime = errors.New("no cluster runtime given (the target's Config.Runtime)")

// RuntimeRegistration is a runtime's row in a RuntimeRegistry.
type RuntimeRegistration struct {
	// Name is the --runtime value.
	Name string
	// Summary says in a few words where nodes run, for help.
	Summary string
	// Images marks runtimes that start nodes from container images:
	// they read RuntimeOptions.Image and Needs (--image is refused for
	// the others).
	Images bool
	// New builds the runtime for the target named in o. It deploys
	// nothing (Runtime.Up does).
	New func(o RuntimeOptions) (Runtime, error)
}

// RuntimeOptions are what the wiring layer knows of the test when it
// builds a runtime.
type RuntimeOptions struct {
	// Target is the target's name (e.g. "redis").
	Target string
	// Needs is what the target's node specs need on a node (its
	// registration's NodeNeeds): runtimes that run images resolve it in
	// the image (Layout) and refuse an image that lacks a program.
	Needs NodeNeeds
	// Image is the user's --image ("": the target's DefaultImage).
	Image string
	// DefaultImage is the image the target's users run (its
	// registration's Image, e.g. "postgres:15"): the nodes run it when
	// it is on this machine, else the runtime's local image of the
	// target, saying so (ImageChoice).
	DefaultImage string
}

// RuntimeRegistry is the table of runtimes, the default first. It is a
// value: no registration happens behind the caller's back (the table of
// every runtime is cluster/runtimes.Registry).
type RuntimeRegistry []RuntimeRegistration

// Names returns the runtime names in table order.
func (r RuntimeRegistry) Names() []string {
	out := make([]string, len(r))
	for i, reg := range r {
		out[i] = reg.Name
	}
	return out
}

// Default is the name of the first runtime of the table ("" if empty).
func (r RuntimeRegistry) Default() string {
	if len(r) == 0 {
		return ""
	}
	return r[0].Name
}

// Lookup finds the registration of the runtime named name.
func (r RuntimeRegistry) Lookup(name string) (RuntimeRegistration, bool) {
	for _, reg := range r {
		if reg.Name == name {
			return reg, true
		}
	}
	return RuntimeRegistration{}, false
}

// New builds the runtime named name for o, or says which exist. An
// o.Image for a runtime that runs no images is refused.
func (r RuntimeRegistry) New(name string, o RuntimeOptions) (Runtime, error) {
	for _, reg := range r {
		if reg.Name == name {
			if o.Image != "" && !reg.Images {
				var img []string
				for _, x := range r {
					if x.Images {
						img = append(img, x.Name)
					}
				}
				return nil, fmt.Errorf("--image applies to runtimes that run container images (%s), not %s", strings.Join(img, ", "), name)
			}
			rt, err := reg.New(o)
			if err != nil {
				return nil, fmt.Errorf("runtime %s: %w", name, err)
			}
			return rt, nil
		}
	}
	return nil, fmt.Errorf("unknown runtime %q (available: %s)", name, strings.Join(r.Names(), ", "))
}
