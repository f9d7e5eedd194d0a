package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/chaoscheck/chaoscheck/cluster/docker"
	"github.com/chaoscheck/chaoscheck/internal/testenv"
)

var dockerEnv = testenv.Env{
	Needs: "root and a running dockerd (Debian docker.io)",
	Probe: func(ctx context.Context) error {
		if os.Geteuid() != 0 {
			return errors.New("not root")
		}
		return docker.Probe(ctx)
	},
}

// Without a Docker daemon, heal says so in one line and succeeds.
func TestHealWithoutDockerd(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "heal", "--journal-dir", dir)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+dir+"/no-docker.sock")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chaoscheck heal without dockerd: %v\n%s", err, out)
	}
	want := "docker: no daemon answers; no containers to heal\nnothing to heal\n"
	if string(out) != want {
		t.Fatalf("chaoscheck heal without dockerd said\n%s\nwant\n%s", out, want)
	}
}

// What a Docker-runtime run whose controller died left (a network, a
// running container, a volume, all labelled with its run and a dead
// controller) is removed by chaoscheck heal.
func TestHealRemovesDeadDockerRun(t *testing.T) {
	dockerEnv.Require(t)
	ctx := context.Background()
	cli, err := docker.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if err := docker.EnsureBaseImage(ctx, cli); err != nil {
		t.Fatal(err)
	}
	id := "cc-healtest-" + strconv.FormatInt(time.Now().UnixNano()%0xffffff, 16)
	// pid 1 never has start time 0: a dead controller.
	labels := map[string]string{docker.LabelRun: id, docker.LabelController: "1:0"}
	if _, err := cli.NetworkCreate(ctx, id, network.CreateOptions{Driver: "bridge", Internal: true, Labels: labels}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.VolumeCreate(ctx, volume.CreateOptions{Name: id + "-v", Labels: labels}); err != nil {
		t.Fatal(err)
	}
	binds := []string{}
	for _, m := range docker.HostMounts {
		if _, err := os.Stat(m); err == nil {
			binds = append(binds, m+":"+m+":ro")
		}
	}
	r, err := cli.ContainerCreate(ctx, &container.Config{Image: docker.BaseImage, Entrypoint: []string{"/bin/sleep", "1000"}, Labels: labels},
		&container.HostConfig{Binds: binds, NetworkMode: container.NetworkMode(id)}, nil, nil, id+"-n1")
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.ContainerStart(ctx, r.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	left, err := docker.Leftovers(ctx, cli, id)
	if err != nil || len(left) != 3 {
		t.Fatalf("the simulated dead run should have 3 objects: %v %v", left, err)
	}

	bin := buildBinary(t)
	out, err := exec.Command(bin, "heal", "--journal-dir", t.TempDir()).CombinedOutput()
	if err != nil {
		t.Fatalf("chaoscheck heal: %v\n%s", err, out)
	}
	t.Logf("chaoscheck heal:\n%s", out)
	for _, w := range []string{"removed container " + id + "-n1", "removed network " + id, "removed volume " + id + "-v"} {
		if !strings.Contains(string(out), w+"\n") {
			t.Errorf("heal output lacks %q", w)
		}
	}
	if left, err := docker.Leftovers(ctx, cli, id); err != nil || len(left) != 0 {
		t.Fatalf("after chaoscheck heal: %v %v", left, err)
	}
}
