//go:build linux

package local

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// faketimePaths are where Debian's faketime package puts libfaketime.
var faketimePaths = []string{
	"/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
	"/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
	"/usr/lib/faketime/libfaketime.so.1",
	"/usr/local/lib/faketime/libfaketime.so.1",
}

// findFaketime returns the path of libfaketime.so.1, or "".
func findFaketime() string {
	for _, p := range faketimePaths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// faketimeEnv is appended to every process's environment when libfaketime
// is installed: the node's clock file is read on every clock call, so
// SetClockOffset acts on running processes. Only the wall clock is skewed
// (FAKETIME_DONT_FAKE_MONOTONIC), and libfaketime's shared memory is off
// so that it works after a uid switch.
//
// Programs that read the vDSO directly (Go programs such as etcd) are not
// affected by LD_PRELOAD: their clocks are not skewed.
func (c *Cluster) faketimeEnv(n *node) []string {
	if c.faketime == "" {
		return nil
	}
	return []string{
		"LD_PRELOAD=" + c.faketime,
		"FAKETIME_TIMESTAMP_FILE=" + n.clock,
		"FAKETIME_NO_CACHE=1",
		"FAKETIME_DONT_FAKE_MONOTONIC=1",
		"FAKETIME_DISABLE_SHM=1",
	}
}

// SetClockOffset sets the wall clock of the node's processes (those using
// libc's clock functions) to real time plus offset, live. Without
// libfaketime it returns an error wrapping cluster.ErrUnsupported.
func (c *Cluster) SetClockOffset(ctx context.Context, nodeName string, offset time.Duration) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	n, err := c.node(nodeName)
	if err != nil {
		return err
	}
	if c.faketime == "" {
		return fmt.Errorf("local: clock skew needs libfaketime (install Debian package faketime; then restart the nodes' processes): %w", cluster.ErrUnsupported)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := writeFileAtomic(n.clock, []byte(faketimeOffset(offset)+"\n")); err != nil {
		return fmt.Errorf("local: set clock offset of %s: %w", nodeName, err)
	}
	return nil
}

// faketimeOffset renders an offset in libfaketime's relative format:
// "+3600", "-1.5" (seconds).
func faketimeOffset(d time.Duration) string {
	s := strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
	if d >= 0 {
		s = "+" + s
	}
	return s
}
