//go:build linux

// Package docker is the container runtime of chaoscheck: each node is a
// Docker container on a user-defined internal bridge network made for the
// run (its own /24, no route out), created and controlled through the
// Docker Engine API with the official Go client (never the docker CLI).
//
// Images come from no registry (nothing is ever pulled): a run's nodes
// run the target's default image (the official one) when it is on this
// machine, else its local image: BuildLocalImage imports a minimal
// tarball through the API, whose containers run the host's binaries
// through read-only bind mounts of HostMounts (resolveImage). Where an
// image has the target's programs and which uids its users have is read
// from the image itself (discoverLayout), so targets run the official
// images' layouts as well as this machine's.
//
// Every container, network and volume carries the labels LabelRun (the
// run's id) and LabelController (the controller process that owns it),
// so HealAll can find and remove whatever a killed run left, with no
// journal file: the labels are the journal. Partitions are nftables
// tables inside the containers' network namespaces, and so are delay
// (iptables queue rules read by a delayer in this process, shaper.go)
// and loss (nft numgen rules): they die with the containers.
//
// Invariants: nothing is created before the network that carries the
// run's labels (a state directory the run creates is named in the
// network's labels first); Close and HealAll remove every object with the
// run's label, and report what they could not remove.
package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/docker/docker/client"
)

// The labels on every object of a run.
const (
	// LabelRun is the run's id (also the network's name and the
	// containers' name prefix).
	LabelRun = "chaoscheck.run"
	// LabelNode is a container's node name.
	LabelNode = "chaoscheck.node"
	// LabelController is "<pid>:<start time>" of the controller process
	// that owns the run: the run is dead when that process is.
	LabelController = "chaoscheck.controller"
	// LabelStateDir, on the network, is the controller-side state
	// directory the run created (and must remove); absent when the run
	// did not create it or keeps it.
	LabelStateDir = "chaoscheck.statedir"
	// LabelHelper, on a helper container (Exec on a node that is not
	// running), names its command.
	LabelHelper = "chaoscheck.helper"
	// LabelImage marks the images BuildBaseImage made.
	LabelImage = "chaoscheck.image"
)

// APIVersion is the oldest Engine API this package uses (Docker 20.10,
// Debian 12's docker.io); the client negotiates down to the daemon's.
const APIVersion = "1.41"

// CleanupTimeout bounds Close and HealAll after their context ended.
const CleanupTimeout = 60 * time.Second

// apiTimeout bounds one API call that is not itself a wait.
const apiTimeout = 30 * time.Second

// ErrNoDaemon wraps the error of Connect when no Docker daemon answers.
var ErrNoDaemon = errors.New("docker: no daemon answers")

// Connect returns a client for the daemon named by the environment
// (DOCKER_HOST, default unix:///var/run/docker.sock), with the API
// version negotiated down to the daemon's, after checking it answers and
// speaks APIVersion or later.
func Connect(ctx context.Context) (*client.Client, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker: client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ping, err := cli.Ping(pctx)
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("%w at %s (start dockerd): %w", ErrNoDaemon, cli.DaemonHost(), err)
	}
	cli.NegotiateAPIVersionPing(ping)
	if versionLess(cli.ClientVersion(), APIVersion) {
		cli.Close()
		return nil, fmt.Errorf("docker: daemon at %s speaks API %s, want %s or later (Docker 20.10+)", cli.DaemonHost(), cli.ClientVersion(), APIVersion)
	}
	return cli, nil
}

// Probe checks what Up needs: a daemon that answers (API 1.41+), root
// (setns into the containers' network namespaces), nft and ip.
func Probe(ctx context.Context) error {
	var errs []error
	cli, err := Connect(ctx)
	if err != nil {
		errs = append(errs, err)
	} else {
		cli.Close()
	}
	if _, err := exec.LookPath("nft"); err != nil {
		errs = append(errs, fmt.Errorf("nft command missing (install Debian package nftables): %w", err))
	}
	if _, err := exec.LookPath("ip"); err != nil {
		errs = append(errs, fmt.Errorf("ip command missing (install Debian package iproute2): %w", err))
	}
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("not root: the nodes' routes and partition rules are set from the host in their network namespaces"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	return nil
}

// versionLess compares API versions "major.minor".
func versionLess(a, b string) bool {
	var am, an, bm, bn int
	fmt.Sscanf(a, "%d.%d", &am, &an)
	fmt.Sscanf(b, "%d.%d", &bm, &bn)
	return am < bm || (am == bm && an < bn)
}
