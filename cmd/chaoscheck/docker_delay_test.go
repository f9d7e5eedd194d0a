//go:build linux

package main

import (
	"context"
	"fmt"
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

	"github.com/chaoscheck/chaoscheck/cluster/docker"
	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// kill -9 of chaoscheck while a delay fault is in force on the docker
// runtime (issue 14): the delay measured in the start event (RTT up by
// twice the delay), the queue rules in the containers' namespaces with
// the delayer's queue bound there; after the kill the queues are gone
// with the process (the rules pass packets, failing open) and the
// containers are left; chaoscheck heal removes them, and no container,
// namespace (so no rule, no queue) or process of the run is left.
func TestKill9DuringDockerDelayThenHeal(t *testing.T) {
	ctx := context.Background()
	if err := (docker.Runtime{Target: "redis"}).Probe(ctx); err != nil {
		t.Fatalf("docker runtime not ready (start dockerd, run chaoscheck images build): %v", err)
	}
	if err := docker.ProbeShaper(); err != nil {
		t.Fatalf("docker shaper: %v", err)
	}
	bin := buildBinary(t)
	st := t.TempDir()
	const delay = 30 * time.Millisecond
	cmd := exec.Command(bin, "test", "--store", st, "--name", "k9delay", "--target", "redis", "--runtime", "docker",
		"--workload", "register", "--nemesis", "delay", "--nemesis-delay", delay.String(), "--nemesis-jitter", "0s",
		"--nemesis-interval", "3s", "--time-limit", "2m", "--seed", "5")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	hist := filepath.Join(st, "k9delay", "latest", rundir.HistoryFile)
	deadline := time.Now().Add(2 * time.Minute)
	for !faultActive(hist) {
		if time.Now().After(deadline) {
			t.Fatal("no delay became active within 2 min")
		}
		select {
		case err := <-done:
			t.Fatalf("chaoscheck exited before a delay: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	// The start event: measured before and after, up by 2x the delay
	// (the nemesis refuses a delay that did not take effect; the figures
	// are checked here too).
	h, _, err := history.Load(hist, history.FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	var start *history.Op
	for i := range h.Ops {
		if op := &h.Ops[i]; op.Process == history.Nemesis && op.Type == history.Info && op.F == "start-delay" && op.Error == "" {
			start = op
		}
	}
	if start == nil {
		t.Fatal("no start-delay event")
	}
	before, after := rttMedian(t, start.Extra["rtt_before"]), rttMedian(t, start.Extra["rtt_after"])
	t.Logf("start-delay: %s", start.Value)
	if after < before+2*delay {
		t.Errorf("RTT %v before, %v after a %v delay each way: want up by %v", before, after, delay, 2*delay)
	}

	cli, err := docker.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
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
	// Queue rules, and a queue bound (by chaoscheck) in some of the
	// containers' namespaces.
	inNS := func(pid int, script string) string {
		out, _ := local.RunInNetns(ctx, fmt.Sprintf("/proc/%d/ns/net", pid), local.Command{Path: "/bin/sh", Args: []string{"-c", script}})
		return string(out)
	}
	ipt := local.IptablesBinary()
	rules, queues := 0, 0
	for _, pid := range pids {
		if strings.Contains(inNS(pid, ipt+" -t raw -S"), "NFQUEUE") {
			rules++
		}
		if strings.TrimSpace(inNS(pid, "cat /proc/net/netfilter/nfnetlink_queue")) != "" {
			queues++
		}
	}
	if rules == 0 || queues == 0 {
		t.Fatalf("a delay is in force but %d containers have queue rules and %d a bound queue", rules, queues)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("chaoscheck did not die within 30s of SIGKILL")
	}
	// The queues went with the process; the containers (and rules) stay
	// for heal.
	for _, pid := range pids {
		if q := strings.TrimSpace(inNS(pid, "cat /proc/net/netfilter/nfnetlink_queue")); q != "" {
			t.Errorf("a queue is still bound in container process %d's namespace after the kill: %s", pid, q)
		}
	}
	left, err := docker.Leftovers(ctx, cli, run)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) < 4 {
		t.Fatalf("after kill -9 the run left only %v: nothing for heal to do?", left)
	}
	t.Logf("left by kill -9 (queue rules in %d of 3 nodes, queues in %d): %v", rules, queues, left)
	out, err := exec.Command(bin, "heal").CombinedOutput()
	if err != nil {
		t.Fatalf("chaoscheck heal: %v\n%s", err, out)
	}
	t.Logf("heal:\n%s", out)
	left, err = docker.Leftovers(ctx, cli, run)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("after heal the run still has %v", left)
	}
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil {
			t.Errorf("container process %d (and its queue rules) still there", pid)
		}
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid))); err == nil {
		t.Errorf("the killed chaoscheck (and its delayers) %d is still there", cmd.Process.Pid)
	}
}

// rttMedian reads the median of an RTT's rendering, "rtt 80.4ms (min ...".
func rttMedian(t *testing.T, s string) time.Duration {
	t.Helper()
	f := strings.Fields(s)
	if len(f) < 2 || f[0] != "rtt" {
		t.Fatalf("RTT %q: not measured", s)
	}
	d, err := time.ParseDuration(f[1])
	if err != nil {
		t.Fatalf("RTT %q: %v", s, err)
	}
	return d
}

// Ctrl-C during a delay fault on the docker runtime: chaoscheck heals it
// (the stop event carries the RTT measured after healing, back to
// normal), and the run's containers, with their rules, are gone.
func TestInterruptDuringDockerDelayHeals(t *testing.T) {
	ctx := context.Background()
	if err := (docker.Runtime{Target: "redis"}).Probe(ctx); err != nil {
		t.Fatalf("docker runtime not ready (start dockerd, run chaoscheck images build): %v", err)
	}
	bin := buildBinary(t)
	st := t.TempDir()
	const delay = 40 * time.Millisecond
	cmd := exec.Command(bin, "test", "--store", st, "--name", "intdelay", "--target", "redis", "--runtime", "docker",
		"--workload", "register", "--nemesis", "delay", "--nemesis-delay", delay.String(), "--nemesis-jitter", "0s",
		"--nemesis-interval", "3s", "--time-limit", "2m", "--seed", "6")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	hist := filepath.Join(st, "intdelay", "latest", rundir.HistoryFile)
	deadline := time.Now().Add(2 * time.Minute)
	for !faultActive(hist) {
		if time.Now().After(deadline) {
			t.Fatal("no delay became active within 2 min")
		}
		select {
		case err := <-done:
			t.Fatalf("chaoscheck exited before a delay: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cli, err := docker.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", docker.LabelRun))})
	if err != nil {
		t.Fatal(err)
	}
	run := ""
	for _, c := range cs {
		if strings.HasPrefix(c.Labels[docker.LabelController], strconv.Itoa(cmd.Process.Pid)+":") {
			run = c.Labels[docker.LabelRun]
		}
	}
	if run == "" {
		t.Fatal("no container of this chaoscheck")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("chaoscheck did not exit within 2 minutes of SIGINT")
	}
	h, _, err := history.Load(hist, history.FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	var start, stop *history.Op
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.Process == history.Nemesis && op.Type == history.Info && op.Error == "" {
			switch op.F {
			case "start-delay":
				start = op
			case "stop-delay":
				stop = op
			}
		}
	}
	if start == nil || stop == nil || stop.Index < start.Index {
		t.Fatalf("want the last delay started and stopped: start %v stop %v", start, stop)
	}
	healed := strings.TrimSuffix(strings.TrimPrefix(stop.Extra["healed"], start.Extra["probe"]+" "), " after heal")
	before, during, after := rttMedian(t, start.Extra["rtt_before"]), rttMedian(t, start.Extra["rtt_after"]), rttMin(t, healed)
	t.Logf("rtt %v before, %v during, fastest %v after heal", before, during, after)
	if during < before+2*delay || after > delay {
		t.Errorf("rtt %v before, %v during a %v delay, fastest %v after heal: want up by %v, then back under %v", before, during, delay, after, 2*delay, delay)
	}
	left, err := docker.Leftovers(ctx, cli, run)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("after Ctrl-C the run still has %v", left)
	}
}

// rttMin reads the fastest probe of an RTT's rendering, "rtt 80.4ms (min 80.1ms max ...".
func rttMin(t *testing.T, s string) time.Duration {
	t.Helper()
	_, rest, ok := strings.Cut(s, "(min ")
	f := strings.Fields(rest)
	if !ok || len(f) == 0 {
		t.Fatalf("RTT %q: no minimum", s)
	}
	d, err := time.ParseDuration(f[0])
	if err != nil {
		t.Fatalf("RTT %q: %v", s, err)
	}
	return d
}
