//go:build linux

package local

import (
	"context"
	"net/netip"
)

// RunInNetns runs cmd, as RunCommand does, inside the network namespace
// at nsPath (e.g. /proc/<pid>/ns/net of a container's process), and
// returns its standard output. Only the command enters the namespace:
// the controller's thread that forks it is discarded afterwards. Other
// runtimes (cluster/docker) apply their nftables rules through it, so
// every helper process of the module is still started in one place.
func RunInNetns(ctx context.Context, nsPath string, cmd Command) ([]byte, error) {
	out, err := runCommand(ctx, cmd, nsPath, nil)
	return out, nsError(nsPath, err)
}

// ProcStart returns the start time of process pid (field 22 of
// /proc/<pid>/stat, in clock ticks since boot): with the pid, it names a
// process even after the pid is reused.
func ProcStart(pid int) (uint64, error) { return procStart(pid) }

// ProcAlive reports whether process pid is running (not a zombie) and
// still has start time start.
func ProcAlive(pid int, start uint64) bool { return alive(pid, start) }

// SubnetFree returns an error when an interface of this machine (this
// network namespace) has an address in p.
func SubnetFree(p netip.Prefix) error { return subnetFree(p) }
