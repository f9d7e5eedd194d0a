//go:build linux

package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"

	"github.com/chaoscheck/chaoscheck/cluster/docker"
	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// --runtime docker is probed before anything is deployed or stored: an
// --image that is not on this machine is bad input, one line naming it
// and what to do, exit 254, and an empty store. (With no daemon the line
// says that instead, exit 255; the store is empty as well.)
func TestDockerProbedUpFront(t *testing.T) {
	want := exitBadInput
	if cli, err := docker.Connect(context.Background()); err != nil {
		want = exitCrashed
	} else {
		cli.Close()
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--target", "redis", "--runtime", "docker", "--image", "chaoscheck/nosuch:1"}, []string{"chaoscheck/nosuch:1", "not on this machine", "never pulls"}},
		{[]string{"--target", "etcd", "--runtime", "docker", "--image", "chaoscheck/nosuch:1"}, []string{"chaoscheck/nosuch:1", "not on this machine"}},
	} {
		st := filepath.Join(t.TempDir(), "store")
		args := append([]string{"test", "--store", st, "--time-limit", "1s"}, c.args...)
		code, stderr := runCapture(args...)
		if code != want {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, want, stderr)
		}
		if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
			t.Errorf("%v: stderr has %d lines, want one: %q", c.args, n+1, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr %q does not name %q", c.args, stderr, w)
			}
		}
		if e := storeEntries(t, st); len(e) > 0 {
			t.Errorf("%v: the store holds %v, want nothing", c.args, e)
		}
	}
}

// An image named by --image that lacks what the target's node specs
// run (here: an image holding only an /etc/passwd, as a stranger's image
// laid out differently would) is refused before anything is deployed or
// stored: one line naming the missing programs, exit 254 (bad input).
func TestDockerImageProbedForNodeNeeds(t *testing.T) {
	ctx := context.Background()
	cli, err := docker.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	passwd := "root:x:0:0:root:/root:/bin/sh\n"
	for _, h := range []*tar.Header{{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, {Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(passwd))}} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tw.Write([]byte(passwd)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	const tag = "chaoscheck-test/cli-unfit:1"
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: &buf, SourceName: "-"}, tag, image.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.ImageRemove(ctx, tag, image.RemoveOptions{Force: true})
	for _, c := range []struct {
		target string
		want   []string
	}{
		{"redis", []string{"programs missing", "env (searched", "redis-server (searched /usr/local/sbin:"}},
		{"postgres", []string{"initdb (searched /usr/lib/postgresql/15/bin:", "sh (searched"}},
		{"etcd", []string{"etcd (searched"}},
	} {
		st := filepath.Join(t.TempDir(), "store")
		code, stderr := runCapture("test", "--store", st, "--time-limit", "1s", "--target", c.target, "--runtime", "docker", "--image", tag)
		if code != exitBadInput {
			t.Errorf("%s: exit %d, want %d (stderr %q)", c.target, code, exitBadInput, stderr)
		}
		if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
			t.Errorf("%s: stderr has %d lines, want one: %q", c.target, n+1, stderr)
		}
		for _, w := range append(c.want, tag) {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr %q does not name %q", c.target, stderr, w)
			}
		}
		if e := storeEntries(t, st); len(e) > 0 {
			t.Errorf("%s: the store holds %v, want nothing", c.target, e)
		}
	}
}

// kill -9 of chaoscheck while a partition is in force on the docker
// runtime leaves the run's containers (with their nft tables) and
// network behind; chaoscheck heal then removes every container, network
// and volume labelled with the run, and the state directory; the
// containers' processes, and with their network namespaces the rules,
// are gone.
func TestKill9DuringDockerPartitionThenHeal(t *testing.T) {
	ctx := context.Background()
	if err := (docker.Runtime{Target: "redis"}).Probe(ctx); err != nil {
		t.Fatalf("docker runtime not ready (start dockerd, run chaoscheck images build): %v", err)
	}
	bin := buildBinary(t)
	st := t.TempDir()
	cmd := exec.Command(bin, "test", "--store", st, "--name", "k9", "--target", "redis", "--runtime", "docker",
		"--workload", "register", "--nemesis", "partition", "--nemesis-interval", "3s", "--time-limit", "2m", "--seed", "3")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	hist := filepath.Join(st, "k9", "latest", rundir.HistoryFile)
	deadline := time.Now().Add(2 * time.Minute)
	for !faultActive(hist) {
		if time.Now().After(deadline) {
			t.Fatal("no partition became active within 2 min")
		}
		select {
		case err := <-done:
			t.Fatalf("chaoscheck exited before a partition: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	// test.json names the runtime and the image the nodes run.
	tj, err := os.ReadFile(filepath.Join(st, "k9", "latest", rundir.TestFile))
	if err != nil || !strings.Contains(string(tj), `"value": "docker, image `) {
		t.Errorf("test.json does not name the docker runtime and its image (%v):\n%s", err, tj)
	}
	cli, err := docker.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	// The run: the containers whose controller is this chaoscheck.
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", docker.LabelRun))})
	if err != nil {
		t.Fatal(err)
	}
	run := ""
	var pids []int
	for _, c := range cs {
		if strings.HasPrefix(c.Labels[docker.LabelController], strconv.Itoa(cmd.Process.Pid)+":") {
			run = c.Labels[docker.LabelRun]
			in, err := cli.ContainerInspect(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			pids = append(pids, in.State.Pid)
		}
	}
	if run == "" || len(pids) != 3 {
		t.Fatalf("run %q with %d containers of chaoscheck (pid %d), want 3", run, len(pids), cmd.Process.Pid)
	}
	tables := 0
	for _, pid := range pids {
		if _, err := local.RunInNetns(ctx, fmt.Sprintf("/proc/%d/ns/net", pid), local.Command{Path: "nft", Args: []string{"list", "table", "inet", "chaoscheck"}}); err == nil {
			tables++
		}
	}
	if tables == 0 {
		t.Fatal("a partition is in force but no container has the partition table")
	}
	ns, err := cli.NetworkInspect(ctx, run, network.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stateDir := ns.Labels[docker.LabelStateDir]
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("chaoscheck did not die within 30s of SIGKILL")
	}
	left, err := docker.Leftovers(ctx, cli, run)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) < 4 {
		t.Fatalf("after kill -9 the run left only %v: nothing for heal to do?", left)
	}
	t.Logf("left by kill -9 (partition tables in %d of 3 nodes): %v, state dir %s", tables, left, stateDir)
	start := time.Now()
	out, err := exec.Command(bin, "heal").CombinedOutput()
	if err != nil {
		t.Fatalf("chaoscheck heal: %v\n%s", err, out)
	}
	t.Logf("heal took %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	left, err = docker.Leftovers(ctx, cli, run)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("after heal the run still has %v", left)
	}
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil {
			t.Errorf("container process %d (and its partition table) still there", pid)
		}
	}
	if stateDir == "" {
		t.Error("the run named no state dir to remove")
	} else if _, err := os.Stat(stateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir %s still there: %v", stateDir, err)
	}
}

// chaoscheck cluster up --runtime docker deploys and prints the node
// addresses; cluster status lists the run as live with its nodes
// running; cluster down stops it and nothing of the run is left.
func TestClusterUpStatusDownDocker(t *testing.T) {
	ctx := context.Background()
	if err := (docker.Runtime{Target: "etcd"}).Probe(ctx); err != nil {
		t.Fatalf("docker runtime not ready (start dockerd, run chaoscheck images build): %v", err)
	}
	bin := buildBinary(t)
	up := exec.Command(bin, "cluster", "up", "--target", "etcd", "--runtime", "docker")
	upLog := filepath.Join(t.TempDir(), "up.log")
	f, err := os.Create(upLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	up.Stdout, up.Stderr = f, os.Stderr
	upOut := func() string { b, _ := os.ReadFile(upLog); return string(b) }
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- up.Wait() }()
	defer up.Process.Kill()
	var run docker.RunInfo
	deadline := time.Now().Add(2 * time.Minute)
	for run.Running < 3 || !strings.Contains(upOut(), "cluster up; Ctrl-C") {
		if time.Now().After(deadline) {
			t.Fatalf("no live docker run of cluster up within 2 min: %+v", run)
		}
		select {
		case err := <-done:
			t.Fatalf("cluster up exited: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		rs, err := docker.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.OwnerPID == up.Process.Pid {
				run = r
			}
		}
	}
	out, err := exec.Command(bin, "cluster", "status").CombinedOutput()
	if err != nil {
		t.Fatalf("cluster status: %v\n%s", err, out)
	}
	line := ""
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, run.ID+" ") {
			line = l
		}
	}
	if f := strings.Fields(line); len(f) < 6 || f[1] != "live" || f[2] != strconv.Itoa(up.Process.Pid) || f[4] != "3" || f[5] != "3" {
		t.Errorf("cluster status line of %s: %q (all: %s)", run.ID, line, out)
	}
	out, err = exec.Command(bin, "cluster", "down").CombinedOutput()
	if err != nil {
		t.Fatalf("cluster down: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "cluster "+run.ID+") to stop") {
		t.Errorf("cluster down did not stop %s:\n%s", run.ID, out)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("cluster up after cluster down: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("cluster up still running a minute after cluster down")
	}
	for _, want := range []string{"node addresses:", "n1  client 10.", "cluster stopped and removed"} {
		if !strings.Contains(upOut(), want) {
			t.Errorf("cluster up printed no %q:\n%s", want, upOut())
		}
	}
	cli, err := docker.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if left, err := docker.Leftovers(ctx, cli, run.ID); err != nil || len(left) != 0 {
		t.Errorf("after cluster down: %v %v", left, err)
	}
}

// Without --image, a target's nodes run its default image (etcd's own)
// when it is on this machine; no registry is reachable here, so it is
// not, and the run falls back to the local image: one line on stderr
// says so, and test.json records which image ran and why (typed).
func TestDockerDefaultImageFallback(t *testing.T) {
	ctx := context.Background()
	cli, err := docker.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	const def = "gcr.io/etcd-development/etcd:v3.5.17"
	_, err = cli.ImageInspect(ctx, def)
	present := err == nil
	st := filepath.Join(t.TempDir(), "store")
	var out, errb bytes.Buffer
	code := runWith([]string{"test", "--store", st, "--target", "etcd", "--runtime", "docker", "--nemesis", "none",
		"--time-limit", "2s", "--workload", "register", "--seed", "1"}, &out, &errb)
	if code != exitValid {
		t.Fatalf("exit %d, want %d: %s\n%s", code, exitValid, errb.String(), out.String())
	}
	var lines []string
	for _, l := range strings.Split(errb.String(), "\n") {
		if strings.Contains(l, def) {
			lines = append(lines, l)
		}
	}
	infos, err := filepath.Glob(filepath.Join(st, "*", "2*", rundir.TestFile))
	if err != nil || len(infos) != 1 {
		t.Fatalf("test.json files %v %v, want one", infos, err)
	}
	b, err := os.ReadFile(infos[0])
	if err != nil {
		t.Fatal(err)
	}
	var info rundir.TestInfo
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	img := info.Image
	if img == nil || img.Runtime != "docker" || img.Default != def || !strings.HasPrefix(img.ID, "sha256:") {
		t.Fatalf("test.json image %+v, want docker with default %s", img, def)
	}
	if present {
		if img.Ref != def || img.Reason != "default" || len(lines) != 0 {
			t.Errorf("%s is on this machine: ran %+v, stderr %q; want the default, silently", def, img, lines)
		}
		return
	}
	if img.Ref != docker.LocalImage("etcd") || img.Reason != "fallback" || !strings.Contains(img.Why, "not on this machine") || len(img.HostPackages) == 0 {
		t.Errorf("test.json image %+v, want the fallback to %s with why and host packages", img, docker.LocalImage("etcd"))
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "running the local image "+docker.LocalImage("etcd")) {
		t.Errorf("stderr lines naming %s: %q, want one saying it runs %s instead", def, lines, docker.LocalImage("etcd"))
	}
}
