//go:build linux

// Package dockerenv gives the integration tests of the targets the docker
// runtime, failing loudly when this machine cannot run it.
package dockerenv

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/docker"
)

var dockerProbes sync.Map // target -> error (nil: ready)

// Docker returns the docker runtime for target, whose node specs need
// needs (the target's Registration().NodeNeeds), as the command line
// builds it without --image: its nodes run the local image of chaoscheck
// images build. It fails the test (never skips:
// these tests exist to run on docker) when the daemon does not answer,
// the machine lacks root, nft or ip, or no image is there; the message
// says what to do.
func Docker(t testing.TB, target string, needs cluster.NodeNeeds) cluster.Runtime {
	t.Helper()
	rt := docker.Runtime{Target: target, Needs: needs}
	key := target
	v, ok := dockerProbes.Load(key)
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := rt.Probe(ctx)
		cancel()
		v, _ = dockerProbes.LoadOrStore(key, errBox{err})
	}
	if err := v.(errBox).err; err != nil {
		t.Fatalf("docker runtime for %s not ready (start dockerd, run chaoscheck images build): %v", target, err)
	}
	return rt
}

type errBox struct{ err error }
