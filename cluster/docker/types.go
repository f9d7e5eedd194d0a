//go:build linux

package docker

import (
	"io"
	"io/fs"
	"net/netip"
	"time"
)

// These mirror the runtime seam being defined in package cluster
// (cluster.Spec, cluster.NodeSpec, cluster.File, cluster.Command): when
// it lands they become aliases of it.

// Spec describes the cluster to bring up.
type Spec struct {
	// Target names the target (e.g. "redis"); it is part of the run id.
	Target string
	// Nodes is the number of nodes, named n1..nN (1 to MaxNodes).
	Nodes int
	// Subnet is the run's IPv4 /24. Zero: the first free /24 of
	// 10.78.0.0/16.
	Subnet netip.Prefix
	// StateDir is the controller-side directory for logs and data
	// directories. Empty: a new one under os.TempDir(), removed by Close
	// (and by HealAll after a crash) unless KeepStateDir.
	StateDir     string
	KeepStateDir bool
	// Image is the image of every node (empty: BaseImage, built when
	// missing). HostMounts are bind-mounted read-only only into
	// BaseImage containers.
	Image string
}

// NodeSpec says what to run on a node: one container per node, whose
// main process it is.
type NodeSpec struct {
	// Name identifies the process on its node (e.g. "redis").
	Name string
	// Path is the executable; Args its arguments (without argv[0]).
	Path string
	Args []string
	// Env is the environment (nil: PATH only).
	Env []string
	// Dir is the working directory (empty: /).
	Dir string
	// UID and GID run the process as that user (0: root).
	UID, GID uint32
	// Files are placed in the container before its first start.
	Files []File
	// DataDir is the controller-side directory (under the state
	// directory) bind-mounted read-write at the same path: its content
	// survives Kill and Restart. Created owned by UID:GID, mode 0700.
	DataDir string
	// Ports the process listens on (informative: the nodes' addresses
	// are reachable from the controller, nothing is published).
	Ports []uint16
	// LogFile receives stdout and stderr (appended; empty:
	// StateDir/logs/<node>-<name>.log).
	LogFile string
}

// File is a file to place on a node.
type File struct {
	Path string
	Data []byte
	Mode fs.FileMode
}

// Command is a helper run by Exec inside a node's container.
type Command struct {
	Name     string
	Path     string
	Args     []string
	Env      []string
	Dir      string
	UID, GID uint32
	Stdin    io.Reader
	// Timeout bounds the run (0: CommandTimeout).
	Timeout time.Duration
}

// CommandTimeout is Exec's default timeout.
const CommandTimeout = 2 * time.Minute
