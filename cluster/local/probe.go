//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrNoFaketime is returned (joined) by Probe when libfaketime is missing:
// the cluster works, but SetClockOffset is unsupported.
var ErrNoFaketime = errors.New("libfaketime not found: clock skew unsupported (install Debian package faketime)")

// Probe checks what a local cluster needs: root, the ip command
// (iproute2), nft (nftables), a cgroup v2 mount that can freeze and kill,
// and, optionally, libfaketime. The error lists every missing piece with
// what to install. If only libfaketime is missing, the error is
// ErrNoFaketime alone (check with errors.Is): Up works, clock skew does
// not.
func Probe(ctx context.Context) error {
	errs := probeRequired(ctx)
	if findFaketime() == "" {
		errs = append(errs, ErrNoFaketime)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("local: probe: %w", err)
	}
	return nil
}

// ProbeRequired is Probe without the optional libfaketime: what Up needs.
// Targets that can run without clock faults call it at deploy.
func ProbeRequired(ctx context.Context) error {
	if err := errors.Join(probeRequired(ctx)...); err != nil {
		return fmt.Errorf("local: probe: %w", err)
	}
	return nil
}

func probeRequired(ctx context.Context) []error {
	var errs []error
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("not root: network namespaces, nftables and cgroups need root"))
	}
	if _, err := exec.LookPath("ip"); err != nil {
		errs = append(errs, fmt.Errorf("ip command missing (install Debian package iproute2): %w", err))
	} else if err := run(ctx, "", "ip", "netns", "list"); err != nil {
		errs = append(errs, fmt.Errorf("ip netns unusable: %w", err))
	}
	if _, err := exec.LookPath("nft"); err != nil {
		errs = append(errs, fmt.Errorf("nft command missing (install Debian package nftables): %w", err))
	}
	if _, err := exec.LookPath("sysctl"); err != nil {
		errs = append(errs, fmt.Errorf("sysctl command missing (install Debian package procps): %w", err))
	}
	if root, err := cgroup2Mount(); err != nil {
		errs = append(errs, err)
	} else if os.Geteuid() == 0 {
		if err := probeCgroup(ctx, root); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// probeCgroup creates a scratch cgroup and checks it has cgroup.freeze
// (kernel 5.2+) and cgroup.kill (5.14+), then removes it.
func probeCgroup(ctx context.Context, root string) error {
	dir, err := os.MkdirTemp(root, "chaoscheck-probe-")
	if err != nil {
		return fmt.Errorf("cannot create a cgroup under %s: %w", root, err)
	}
	defer func() { _ = removeCgroup(context.WithoutCancel(ctx), dir) }()
	for _, f := range []string{"cgroup.freeze", "cgroup.kill", "cgroup.events"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("cgroup v2 at %s lacks %s (kernel too old for freeze/kill): %w", root, f, err)
		}
	}
	if err := setFrozen(ctx, dir, true); err != nil {
		return fmt.Errorf("cgroup v2 freeze does not work: %w", err)
	}
	return nil
}
