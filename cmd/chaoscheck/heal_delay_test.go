package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// kill -9 of chaoscheck while a delay fault is in force (issue 14): the
// queue rules stay in the switch namespace (they pass packets, failing
// open); `chaoscheck heal` removes them with everything else, and no
// queue, rule or shaper is left.
func TestHealAfterKill9MidDelay(t *testing.T) {
	requireRootCluster(t)
	bin := buildBinary(t)
	st := t.TempDir()
	before := prefixes(t)
	cmd := exec.Command(bin, "test", "--target", "postgres", "--store", st, "--name", "kill9delay",
		"--workload", "register", "--nemesis", "delay", "--nemesis-delay", "30ms", "--nemesis-interval", "1s", "--time-limit", "5m")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()

	hist := filepath.Join(st, "kill9delay", "latest", rundir.HistoryFile)
	deadline := time.Now().Add(2 * time.Minute)
	for !faultActive(hist) {
		if time.Now().After(deadline) {
			t.Fatal("no delay became active within 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("chaoscheck survived SIGKILL")
	}
	var left []local.ClusterInfo
	cs, err := local.List("")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if !before[c.Prefix] && c.OwnerPID == cmd.Process.Pid {
			left = append(left, c)
		}
	}
	if len(left) != 1 {
		t.Fatalf("want the killed run's journal, got %+v", left)
	}
	c := left[0]
	sw := c.Prefix + "-sw"
	rules := func() string {
		out, _ := exec.Command("ip", "netns", "exec", sw, "iptables-legacy", "-S", "FORWARD").CombinedOutput()
		out2, _ := exec.Command("ip", "netns", "exec", sw, "iptables-nft", "-S", "FORWARD").CombinedOutput()
		return string(out) + string(out2)
	}
	if r := rules(); !strings.Contains(r, "NFQUEUE") {
		t.Fatalf("the killed run left no queue rule (the test proves nothing): %s", r)
	}
	out, err := exec.Command(bin, "heal").CombinedOutput()
	if err != nil {
		t.Fatalf("chaoscheck heal: %v\n%s", err, out)
	}
	t.Logf("chaoscheck heal:\n%s", out)
	if !strings.Contains(string(out), "iptables table filter") {
		t.Errorf("heal did not report the queue rules")
	}
	if netnsPresent(t, c.Prefix) {
		t.Errorf("namespaces left after heal (queue rules: %s)", rules())
	}
	// The shaper lived in the killed process: nothing may hold a queue
	// for the run, and nothing of it may run.
	if ps, _ := exec.Command("pgrep", "-f", c.StateDir).Output(); len(strings.TrimSpace(string(ps))) > 0 {
		t.Errorf("processes of the killed run still alive: %s", ps)
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid))); err == nil {
		t.Errorf("the killed chaoscheck (and its shaper) %d is still there", cmd.Process.Pid)
	}
	cs, err = local.List("")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range cs {
		if o.Prefix == c.Prefix {
			t.Errorf("journal left after heal: %+v", o)
		}
	}
}

// Ctrl-C during a delay fault on the local runtime: chaoscheck heals it,
// the stop event carries the RTT measured after healing, and the cluster
// (with the queue rules) is gone.
func TestInterruptDuringDelayHeals(t *testing.T) {
	requireRootCluster(t)
	bin := buildBinary(t)
	st := t.TempDir()
	before := prefixes(t)
	cmd := exec.Command(bin, "test", "--target", "postgres", "--store", st, "--name", "sigintdelay",
		"--workload", "register", "--nemesis", "delay", "--nemesis-delay", "40ms", "--nemesis-interval", "1s", "--time-limit", "5m")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	hist := filepath.Join(st, "sigintdelay", "latest", rundir.HistoryFile)
	deadline := time.Now().Add(2 * time.Minute)
	for !faultActive(hist) {
		if time.Now().After(deadline) {
			t.Fatal("no delay became active within 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
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
	if start.Extra["rtt_before"] == "" || start.Extra["rtt_after"] == "" || !strings.Contains(stop.Extra["healed"], "after heal") {
		t.Errorf("RTTs not recorded: start %v, stop %v", start.Extra, stop.Extra)
	}
	t.Logf("start: %v\nstop: %v", start.Value, stop.Extra["healed"])
	cs, err := local.List("")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if !before[c.Prefix] && c.OwnerPID == cmd.Process.Pid {
			t.Errorf("cluster left after Ctrl-C: %+v", c)
		}
	}
}
