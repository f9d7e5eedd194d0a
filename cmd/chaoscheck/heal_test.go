package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// requireRootCluster skips (or, in CI, fails) when the local runtime and
// PostgreSQL cannot run here.
func requireRootCluster(t *testing.T) {
	t.Helper()
	why := ""
	switch {
	case os.Geteuid() != 0:
		why = "needs root (network namespaces, nftables, cgroups)"
	default:
		if _, err := os.Stat("/usr/lib/postgresql/15/bin/postgres"); err != nil {
			why = "needs postgresql-15"
		} else if _, err := exec.LookPath("nft"); err != nil {
			why = "needs nftables"
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("cannot run in CI: %s", why)
	}
	t.Skip(why)
}

// kill -9 of chaoscheck itself while a partition is in force leaves
// namespaces, nftables rules, cgroups and database processes behind;
// `chaoscheck heal` must remove all of them.
func TestHealAfterKill9MidPartition(t *testing.T) {
	requireRootCluster(t)
	bin := buildBinary(t)
	st := t.TempDir()
	before := prefixes(t)
	cmd := exec.Command(bin, "test", "--target", "postgres", "--store", st, "--name", "kill9",
		"--workload", "register", "--nemesis", "partition", "--nemesis-interval", "500ms", "--time-limit", "5m")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()

	hist := filepath.Join(st, "kill9", "latest", rundir.HistoryFile)
	deadline := time.Now().Add(2 * time.Minute)
	for !faultActive(hist) {
		if time.Now().After(deadline) {
			t.Fatal("no partition became active within 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup at all
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
	if !netnsPresent(t, c.Prefix) || c.Processes == 0 {
		t.Fatalf("the killed run left nothing to heal (namespaces %v, %d processes): the test proves nothing", netnsPresent(t, c.Prefix), c.Processes)
	}
	t.Logf("left behind by kill -9: %d namespaces, %d database processes", len(c.Nodes)+1, c.Processes)

	out, err := exec.Command(bin, "heal").CombinedOutput()
	if err != nil {
		t.Fatalf("chaoscheck heal: %v\n%s", err, out)
	}
	t.Logf("chaoscheck heal:\n%s", out)
	if netnsPresent(t, c.Prefix) {
		t.Error("network namespaces left after heal")
	}
	if links, _ := exec.Command("ip", "-o", "link").Output(); strings.Contains(string(links), c.Prefix+"-") {
		t.Error("veth left after heal")
	}
	if tables, _ := exec.Command("nft", "list", "tables").Output(); strings.Contains(string(tables), c.Prefix) {
		t.Error("nft table left after heal")
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
	if ps, _ := exec.Command("pgrep", "-f", c.StateDir).Output(); len(strings.TrimSpace(string(ps))) > 0 {
		t.Errorf("processes of the killed run still alive: %s", ps)
	}
	if m, _ := filepath.Glob("/sys/fs/cgroup/*/" + c.Prefix); len(m) > 0 {
		t.Errorf("cgroups left after heal: %v", m)
	}
	if m, _ := filepath.Glob("/sys/fs/cgroup/" + c.Prefix); len(m) > 0 {
		t.Errorf("cgroups left after heal: %v", m)
	}
}

func prefixes(t *testing.T) map[string]bool {
	t.Helper()
	cs, err := local.List("")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, c := range cs {
		out[c.Prefix] = true
	}
	return out
}

func netnsPresent(t *testing.T, prefix string) bool {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(out), prefix+"-")
}
