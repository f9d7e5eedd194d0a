//go:build linux

package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/local"
)

// FaketimeMount is where every container sees the host's libfaketime
// (mounted read-only, so images without it, the official ones too, get
// the same preload as the local runtime's processes).
const FaketimeMount = "/opt/chaoscheck/libfaketime.so.1"

// clockFile is node's libfaketime timestamp file: in the state directory,
// which the containers see at the same path.
func (c *Cluster) clockFile(node string) string {
	return filepath.Join(c.stateDir, "clock", node)
}

// faketimeEnv is appended to the environment of every node process when
// the host has libfaketime, exactly as on the local runtime: the node's
// clock file is read on every clock call, so SetClockOffset acts on
// running processes; only the wall clock is skewed; shared memory is
// off (it fails after the user switch). Programs that read the vDSO
// directly (Go programs such as etcd) are not affected.
func (c *Cluster) faketimeEnv(node string) []string {
	if c.faketime == "" {
		return nil
	}
	return []string{
		"LD_PRELOAD=" + FaketimeMount,
		"FAKETIME_TIMESTAMP_FILE=" + c.clockFile(node),
		"FAKETIME_NO_CACHE=1",
		"FAKETIME_DONT_FAKE_MONOTONIC=1",
		"FAKETIME_DISABLE_SHM=1",
	}
}

// initClock creates node's clock file with no offset (mode 0644 in a
// 0755 directory: the servers' users read it).
func (c *Cluster) initClock(node string) error {
	if c.faketime == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(c.clockFile(node)), 0o755); err != nil {
		return fmt.Errorf("docker: clock file of %s: %w", node, err)
	}
	if _, err := os.Stat(c.clockFile(node)); err == nil {
		return nil
	}
	if err := local.WriteFileAtomic(c.clockFile(node), []byte("+0\n")); err != nil {
		return fmt.Errorf("docker: clock file of %s: %w", node, err)
	}
	return nil
}

// SetClockOffset sets the wall clock of node's processes (those using
// libc's clock functions, through the libfaketime preload) to real time
// plus offset, live. Without libfaketime on the host it returns an error
// wrapping cluster.ErrUnsupported.
func (c *Cluster) SetClockOffset(ctx context.Context, nodeName string, offset time.Duration) error {
	if _, err := c.node(nodeName); err != nil {
		return err
	}
	if c.faketime == "" {
		return fmt.Errorf("docker: clock skew needs libfaketime on the host (install Debian package faketime): %w", cluster.ErrUnsupported)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := local.WriteFileAtomic(c.clockFile(nodeName), []byte(local.FaketimeOffset(offset)+"\n")); err != nil {
		return fmt.Errorf("docker: set clock offset of %s: %w", nodeName, err)
	}
	return nil
}

var errNoFaketime = errors.New("libfaketime is not installed on this machine (Debian package faketime)")
