package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runCapture runs a command line in-process and returns its exit code and
// standard error.
func runCapture(args ...string) (int, string) {
	var out, errb bytes.Buffer
	code := runWith(args, &out, &errb)
	return code, errb.String()
}

// storeEntries lists what a store directory holds ("" if it does not
// exist).
func storeEntries(t *testing.T, st string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(st, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != st {
			names = append(names, strings.TrimPrefix(p, st))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return names
}

// Faults a target's cluster cannot take, and node counts a fault cannot
// have, are refused before anything is deployed: exit 254, one line
// naming what would work, and no run directory (nor latest link) left in
// the store.
func TestFaultsRefusedBeforeDeploy(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // in the error line: what would work
	}{
		{[]string{"--target", "etcd", "--nemesis", "clock"}, "--target"},
		{[]string{"--nemesis", "region"}, "--regions 2"},
		{[]string{"--target", "etcd", "--nemesis", "region"}, "--regions 2"},
		{[]string{"--target", "redis", "--nemesis", "clock"}, "--target"},
		{[]string{"--target", "redis", "--nemesis", "failover"}, "--redis-mode replication"},
		{[]string{"--target", "redis", "--nemesis", "kill-primary"}, "--redis-mode replication"},
		{[]string{"--target", "etcd", "--nemesis", "failover"}, "--nemesis kill"},
		{[]string{"--target", "etcd", "--nemesis-nodes", "9", "--nemesis", "kill"}, "--nodes"},
		{[]string{"--nemesis-nodes", "7", "--nemesis", "kill"}, "--nodes"},
		{[]string{"--nemesis-nodes", "4", "--nemesis", "pause"}, "--nodes"},
		{[]string{"--nodes", "1"}, "--nodes"},
		{[]string{"--nodes", "2", "--nemesis", "bridge"}, "--nodes"},
		{[]string{"--nemesis", "failover"}, "postgres"},
		{[]string{"--nemesis-delay", "10ms"}, "--nemesis delay"},
		{[]string{"--nemesis", "delay", "--nemesis-loss", "5"}, "--nemesis loss"},
		{[]string{"--nemesis", "loss", "--nemesis-loss", "0"}, "--nemesis-loss"},
		{[]string{"--nemesis", "delay", "--nemesis-nodes", "3"}, "all"},
		{[]string{"--region-rtt", "80ms"}, "--regions"},
		{[]string{"--regions", "4"}, "--nodes"},
		{[]string{"--target", "cassandra", "--nodes", "4", "--regions", "2", "--replication-factor", "2"}, "--regions"},
	} {
		st := filepath.Join(t.TempDir(), "store")
		args := append([]string{"test", "--store", st, "--time-limit", "1s"}, c.args...)
		code, stderr := runCapture(args...)
		if code != exitBadInput {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, exitBadInput, stderr)
		}
		if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: stderr %q: want one line naming %q", c.args, stderr, c.want)
		}
		if strings.Contains(stderr, "deploying") {
			t.Errorf("%v: deployed before refusing: %q", c.args, stderr)
		}
		if e := storeEntries(t, st); len(e) > 0 {
			t.Errorf("%v: the store holds %v, want nothing", c.args, e)
		}
	}
}

// Flags that do not apply to the chosen target, contradictions and
// impossible values are refused with exit 254 and a line naming what the
// flag applies to, before anything is deployed.
func TestFlagsThatDoNotApplyRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string // in the error line
	}{
		{[]string{"--target", "etcd", "--isolation", "serializable"}, []string{"--isolation", "postgres"}},
		{[]string{"--target", "etcd", "--cl", "QUORUM"}, []string{"--cl", "sim", "cassandra"}},
		{[]string{"--target", "postgres", "--cl", "QUORUM"}, []string{"--cl", "sim", "cassandra"}},
		{[]string{"--target", "postgres", "--redis-mode", "replication"}, []string{"--redis-mode", "redis"}},
		{[]string{"--target", "sim", "--isolation", "serializable"}, []string{"--isolation", "postgres"}},
		{[]string{"--target", "cassandra", "--workload", "list-append"}, []string{"--workload list-append on --target cassandra", "one partition"}},
		{[]string{"--workload", "list-append,rw-register"}, []string{"run one of them per test"}},
		{[]string{"--target", "postgres", "--isolation", "serializable", "--workload", "register"}, []string{"--isolation applies to --workload lost-update|list-append|rw-register", "not register"}},
		{[]string{"--target", "cassandra", "--r", "2"}, []string{"--r", "sim"}},
		{[]string{"--target", "redis", "--etcd-read", "serializable"}, []string{"--etcd-read", "etcd"}},
		{[]string{"--nemesis", "none,partition"}, []string{"none"}},
		{[]string{"--read-cl", "ONE", "--r", "2"}, []string{"--read-cl", "--r"}},
		{[]string{"--write-cl", "ONE", "--w", "2"}, []string{"--write-cl", "--w"}},
		{[]string{"--cl", "ALL", "--r", "1", "--w", "1"}, []string{"--cl"}},
		{[]string{"--check-time-limit", "-1s"}, []string{"--check-time-limit"}},
		{[]string{"--check-time-limit", "0s"}, []string{"--check-time-limit"}},
		{[]string{"--lag-interval", "0s"}, []string{"--lag-interval", "1ms"}},
		{[]string{"--lag-interval", "1us"}, []string{"--lag-interval"}},
		{[]string{"--lag-interval", "1h"}, []string{"--lag-interval", "1m0s"}},
		{[]string{"--lag-alert", "0s"}, []string{"--lag-alert"}},
		{[]string{"--nodes", "1", "--lag-interval", "50ms"}, []string{"--lag-interval applies to targets with replicas", "--target sim has none"}},
		{[]string{"--target", "etcd", "--nodes", "1", "--lag-interval", "50ms"}, []string{"--lag-interval", "--target etcd has none"}},
		{[]string{"--target", "cassandra", "--nodes", "1", "--lag-interval", "50ms"}, []string{"--lag-interval", "--target cassandra has none", "replication factor 1"}},
		{[]string{"--target", "etcd", "--nodes", "0"}, []string{"--nodes"}},
		{[]string{"--target", "postgres", "--nodes", "0"}, []string{"--nodes"}},
		{[]string{"--target", "redis", "--nodes", "0"}, []string{"--nodes"}},
		{[]string{"--target", "cassandra", "--nodes", "0"}, []string{"--nodes"}},
		{[]string{"--target", "cassandra", "--cl", "ONE", "--read-cl", "ALL", "--write-cl", "ALL"}, []string{"--cl"}},
		{[]string{"--target", "redis", "--nodes", "5"}, []string{"--redis-mode replication"}},
		{[]string{"--nodes", "0"}, []string{"--nodes"}},
		{[]string{"--target", "postgres", "--runtime", "ssh"}, []string{"--runtime", `"ssh"`, "available: local, docker"}},
		{[]string{"--target", "postgres", "--image", "postgres:15"}, []string{"--image", "docker", "not local"}},
		{[]string{"--image", "x"}, []string{"--image", "sim"}},
		{[]string{"--target", "cassandra", "--runtime", "docker", "--nodes", "4", "--regions", "5", "--region-rtt", "50ms"}, []string{"--regions", "within 1 and --nodes (4)"}},
		{[]string{"--runtime", "local"}, []string{"--runtime", "sim", "postgres"}},
		{[]string{"--region-loss", "5"}, []string{"--region-loss applies between regions", "--regions 2"}},
		{[]string{"--nodes", "4", "--regions", "2", "--region-loss", "100"}, []string{"--region-loss", "less than 100"}},
		{[]string{"--nodes", "4", "--regions", "2", "--region-jitter", "-1ms"}, []string{"--region-jitter"}},
		{[]string{"--target", "cassandra", "--region-jitter", "5ms"}, []string{"--region-jitter applies between regions"}},
		{[]string{"--target", "postgres", "--region-loss", "5"}, []string{"--region-loss", "sim", "cassandra"}},
	} {
		st := filepath.Join(t.TempDir(), "store")
		args := append([]string{"test", "--store", st, "--time-limit", "1s"}, c.args...)
		code, stderr := runCapture(args...)
		if code != exitBadInput {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, exitBadInput, stderr)
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

// Workload and nemesis flags that no chosen workload or fault reads are
// refused too, naming what they apply to.
func TestWorkloadAndNemesisFlagsThatDoNotApplyRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--consistency-models", "serializable"}, []string{"--consistency-models applies to --workload list-append|rw-register"}},
		{[]string{"--workload", "list-append", "--wfr-keys"}, []string{"--wfr-keys applies to --workload rw-register"}},
		{[]string{"--workload", "ryw", "--cas=false"}, []string{"--cas", "register"}},
		{[]string{"--workload", "register", "--salt", "4"}, []string{"--salt", "hotkey"}},
		{[]string{"--hot-fraction", "0.5"}, []string{"--hot-fraction", "hotkey"}},
		{[]string{"--workload", "set", "--counter", "native"}, []string{"--counter", "counter"}},
		{[]string{"--workload", "ryw", "--keys", "3"}, []string{"--keys", "register"}},
		{[]string{"--nemesis", "partition", "--nemesis-nodes", "2"}, []string{"--nemesis-nodes", "kill"}},
		{[]string{"--nemesis", "none", "--nemesis-interval", "1s"}, []string{"--nemesis-interval", "none"}},
	} {
		st := filepath.Join(t.TempDir(), "store")
		args := append([]string{"test", "--store", st, "--time-limit", "300ms"}, c.args...)
		code, stderr := runCapture(args...)
		if code != exitBadInput {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, exitBadInput, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr %q does not name %q", c.args, stderr, w)
			}
		}
	}
	st := t.TempDir()
	for _, args := range [][]string{
		{"--workload", "register", "--cas=false", "--keys", "2"},
		{"--workload", "hotkey,counter", "--salt", "2", "--hot-fraction", "0.5", "--counter", "rmw"},
		{"--nemesis", "kill,partition", "--nemesis-nodes", "minority", "--nemesis-interval", "100ms"},
	} {
		a := append([]string{"test", "--store", st, "--time-limit", "200ms", "--recovery-time", "0s", "--seed", "1"}, args...)
		if code, stderr := runCapture(a...); code == exitBadInput || code == exitCrashed {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
}

// The flags of the chosen target are accepted: refusing flags that do not
// apply must not refuse those that do.
func TestTargetFlagsAccepted(t *testing.T) {
	st := t.TempDir()
	for _, args := range [][]string{
		{"--cl", "QUORUM"},
		{"--read-cl", "ALL", "--w", "1"},
		{"--r", "2", "--w", "2", "--coordinator", "sticky", "--read-repair"},
		{"--nodes", "5", "--nemesis-nodes", "minority", "--nemesis", "kill"},
	} {
		a := append([]string{"test", "--store", st, "--time-limit", "200ms", "--nemesis-interval", "100ms",
			"--recovery-time", "0s", "--seed", "1"}, args...)
		if code, stderr := runCapture(a...); code == exitBadInput || code == exitCrashed {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
}

// requireBinary skips (or, in CI, fails) when a database binary or root
// is missing.
func requireBinary(t *testing.T, bin string) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root (network namespaces, nftables, cgroups)"
	} else if _, err := exec.LookPath(bin); err != nil {
		why = "needs " + bin
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("cannot run in CI: %s", why)
	}
	t.Skip(why)
}

// `chaoscheck cluster up` prints where clients reach every node, for
// every real target.
func TestClusterUpPrintsAddresses(t *testing.T) {
	requireBinary(t, "nft")
	bin := buildBinary(t)
	for _, c := range []struct {
		target, binary string
		args           []string
		port           string
	}{
		{"etcd", "etcd", nil, "2379"},
		{"redis", "redis-server", nil, "6379"},
		{"postgres", "/usr/lib/postgresql/15/bin/postgres", nil, "5432"},
	} {
		t.Run(c.target, func(t *testing.T) {
			requireBinary(t, c.binary)
			out := clusterUp(t, bin, append([]string{"--target", c.target}, c.args...))
			for _, n := range []string{"n1", "n2", "n3"} {
				re := regexp.MustCompile(`(?m)^` + n + `\s.*\b\d+\.\d+\.\d+\.\d+:` + c.port + `\b`)
				if !re.MatchString(out) {
					t.Errorf("no address of %s (port %s) in:\n%s", n, c.port, out)
				}
			}
		})
	}
}

// clusterUp runs `cluster up` until it says the cluster is up, stops it
// with SIGTERM and returns what it printed up to then.
func clusterUp(t *testing.T, bin string, args []string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"cluster", "up"}, args...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()
	var out strings.Builder
	timeout := time.After(3 * time.Minute)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("cluster up ended before the cluster was up:\n%s", out.String())
			}
			out.WriteString(l + "\n")
			if strings.HasPrefix(l, "cluster up") {
				break wait
			}
		case <-timeout:
			_ = cmd.Process.Kill()
			t.Fatalf("cluster up: not up within 3 minutes:\n%s", out.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range lines {
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("cluster up after SIGTERM: %v", err)
		}
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("cluster up did not stop within 2 minutes of SIGTERM")
	}
	return out.String()
}

// check: --model and --time-limit only matter to the linearizable
// checker; given with other checkers alone they are refused.
func TestCheckFlagsThatDoNotApplyRefused(t *testing.T) {
	hist := filepath.Join("..", "..", "testdata", "porcupine", "etcd", "etcd_002.log")
	for _, args := range [][]string{
		{"--checker", "set", "--model", "kv"},
		{"--checker", "session,counter", "--time-limit", "5s"},
	} {
		a := append(append([]string{"check", "--out", t.TempDir()}, args...), hist)
		code, stderr := runCapture(a...)
		if code != exitBadInput || !strings.Contains(stderr, "linearizable") {
			t.Errorf("%v: exit %d, stderr %q: want %d naming the linearizable checker", args, code, stderr, exitBadInput)
		}
	}
	a := []string{"check", "--out", t.TempDir(), "--checker", "linearizable,session", "--model", "register", "--time-limit", "30s", hist}
	if code, stderr := runCapture(a...); code == exitBadInput {
		t.Errorf("%v: refused: %s", a, stderr)
	}
}
