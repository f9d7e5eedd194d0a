//go:build linux

// Package dockerenv gives the integration tests of the targets the docker
// runtime, failing loudly when this machine cannot run it.
package dockerenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/cluster/docker"
	"github.com/chaoscheck/chaoscheck/internal/testenv/layoutimage"
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

// OfficialLayout builds, from this machine's packages, an image with
// the layout of the official image spec describes (layoutimage), tagged
// under a test-only name unique to this test (never the official name),
// and returns the docker runtime for target with that image as the
// target's default image, so that a deployment runs it as it would run
// the official one: programs and users read from the image. The image
// is removed when the test ends. It fails the test as Docker does.
func OfficialLayout(t testing.TB, target string, spec layoutimage.Spec, needs cluster.NodeNeeds) (docker.Runtime, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := docker.Probe(ctx); err != nil {
		t.Fatalf("docker runtime not ready (start dockerd): %v", err)
	}
	cli, err := docker.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	var b [4]byte
	_, _ = rand.Read(b[:])
	tag := fmt.Sprintf("chaoscheck-test/%s-official-layout:%d-%s", target, os.Getpid(), hex.EncodeToString(b[:]))
	start := time.Now()
	id, err := layoutimage.Build(ctx, cli, tag, spec)
	if err != nil {
		t.Fatalf("build %s (layout of %s): %v", tag, spec.Name, err)
	}
	t.Logf("built %s (layout of %s, %s) in %v", tag, spec.Name, id[:19], time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cli, err := docker.Connect(ctx)
		if err != nil {
			t.Errorf("remove %s: %v", tag, err)
			return
		}
		defer cli.Close()
		if _, err := cli.ImageRemove(ctx, tag, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Errorf("remove %s: %v", tag, err)
		}
	})
	return docker.Runtime{Target: target, Default: tag, Needs: needs}, tag
}

// CheckProcesses checks that the main process of every node of hosts
// runs the executable exe (its path in the container) as uid, from the
// host's /proc.
func CheckProcesses(t testing.TB, hosts cluster.Hosts, exe string, uid uint32) {
	t.Helper()
	for _, n := range hosts.Nodes() {
		ps := hosts.Processes(n)
		if len(ps) == 0 || ps[0].Pid() == 0 {
			t.Errorf("%s: no running process", n)
			continue
		}
		pid := ps[0].Pid()
		got, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil {
			t.Errorf("%s: exe of pid %d: %v", n, pid, err)
		} else if got != exe {
			t.Errorf("%s: pid %d runs %s, want %s", n, pid, got, exe)
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Errorf("%s: status of pid %d: %v", n, pid, err)
			continue
		}
		for _, line := range strings.Split(string(st), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "Uid:" {
				if f[1] != fmt.Sprint(uid) {
					t.Errorf("%s: pid %d runs as uid %s, want %d", n, pid, f[1], uid)
				}
			}
		}
	}
}
