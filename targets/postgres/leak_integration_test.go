//go:build linux

package postgres

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster/local"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// leakKind is one way a run of the real CLI ends.
type leakKind struct {
	name string
	// args are extra `chaoscheck test` arguments.
	args []string
	// stop ends the run (nil: let it finish); it returns once the signals
	// are sent.
	stop func(t *testing.T, r *leakRun)
	// heal: run `chaoscheck heal` after the run (the run could not clean up).
	heal bool
	// exits are the acceptable exit codes (-1: killed by a signal).
	exits []int
	// stderr must contain this, if set.
	stderr string
}

// leakRun is one CLI run under observation.
type leakRun struct {
	cmd    *exec.Cmd
	store  string
	name   string
	done   chan struct{}
	err    error
	stderr *syncBuffer

	mu       sync.Mutex
	prefixes map[string]bool // clusters seen in the journals, owned by the run
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// leakKinds are the endings every run count cycles through.
func leakKinds() []leakKind {
	return []leakKind{
		{name: "clean-exit", args: []string{"--time-limit", "2s"}, exits: []int{0, 1, 2}},
		{name: "sigint-mid-run", stop: signalsMidRun(syscall.SIGINT), exits: []int{1, 2}},
		{name: "double-sigint-mid-run", stop: signalsMidRun(syscall.SIGINT, syscall.SIGINT), heal: true, exits: []int{130}, stderr: "chaoscheck heal"},
		{name: "triple-sigint-mid-run", stop: signalsMidRun(syscall.SIGINT, syscall.SIGINT, syscall.SIGINT), heal: true, exits: []int{130}, stderr: "chaoscheck heal"},
		{name: "sigkill-during-initdb", stop: killDuring("initdb"), heal: true, exits: []int{-1}},
		{name: "sigkill-during-basebackup", stop: killDuring("pg_basebackup"), heal: true, exits: []int{-1}},
		{name: "sigkill-mid-run", stop: signalsMidRun(syscall.SIGKILL), heal: true, exits: []int{-1}},
	}
}

// TestRunsLeaveNothing runs the real CLI against PostgreSQL and ends each
// run a different way (clean exit, SIGINT, two and three SIGINTs 50 ms
// apart, SIGKILL while initdb or pg_basebackup runs, SIGKILL mid-run),
// then `chaoscheck heal` where the run could not clean up, and checks
// that no state directory, process, cgroup, namespace, veth, nft table or
// journal of those runs is left. PGLEAK_RUNS sets the number of runs
// (default: one of each kind).
func TestRunsLeaveNothing(t *testing.T) {
	requireEnv(t)
	kinds := leakKinds()
	runs := len(kinds)
	if v := os.Getenv("PGLEAK_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("PGLEAK_RUNS=%q", v)
		}
		runs = n
	}
	bin := buildCLI(t)
	// The runs' temporary directory: every state directory goes there, so
	// anything in it afterwards is a leak. Searchable by the postgres user.
	tmp, err := os.MkdirTemp("", "chaoscheck-leaktest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	for i := 0; i < runs; i++ {
		k := kinds[i%len(kinds)]
		t.Run(fmt.Sprintf("%02d-%s", i, k.name), func(t *testing.T) {
			r := startLeakRun(t, bin, tmp, store, fmt.Sprintf("leak%02d", i), k.args)
			if k.stop != nil {
				k.stop(t, r)
			}
			code := r.wait(t, 3*time.Minute)
			t.Logf("exit %d; stderr tail:\n%s", code, tail(r.stderr.String(), 1200))
			if !containsInt(k.exits, code) {
				t.Errorf("exit %d, want one of %v", code, k.exits)
			}
			if k.stderr != "" && !strings.Contains(r.stderr.String(), k.stderr) {
				t.Errorf("stderr does not mention %q", k.stderr)
			}
			if k.heal {
				out, err := exec.Command(bin, "heal").CombinedOutput()
				t.Logf("chaoscheck heal:\n%s", out)
				if err != nil {
					t.Errorf("chaoscheck heal: %v", err)
				}
			}
			r.mu.Lock()
			prefixes := r.prefixes
			r.mu.Unlock()
			if len(prefixes) == 0 {
				t.Fatal("no cluster of this run was ever seen in the journals: the run proves nothing")
			}
			for _, left := range leftovers(t, tmp, prefixes, r.cmd.Process.Pid) {
				t.Errorf("left behind: %s", left)
			}
			// Each run is judged on its own leftovers.
			if t.Failed() {
				ents, _ := os.ReadDir(tmp)
				for _, e := range ents {
					_ = os.RemoveAll(filepath.Join(tmp, e.Name()))
				}
			}
		})
	}
}

// buildCLI builds the chaoscheck binary.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chaoscheck")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/chaoscheck/chaoscheck/cmd/chaoscheck").CombinedOutput()
	if err != nil {
		t.Fatalf("build chaoscheck: %v\n%s", err, out)
	}
	return bin
}

func startLeakRun(t *testing.T, bin, tmp, store, name string, extra []string) *leakRun {
	t.Helper()
	args := []string{"test", "--target", "postgres", "--nodes", "2", "--workload", "register",
		"--nemesis", "partition", "--nemesis-interval", "300ms", "--time-limit", "5m",
		"--concurrency", "4", "--rate", "200", "--store", store, "--name", name}
	args = append(args, extra...)
	r := &leakRun{store: store, name: name, done: make(chan struct{}), stderr: &syncBuffer{}, prefixes: map[string]bool{}}
	r.cmd = exec.Command(bin, args...)
	r.cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	r.cmd.Stderr = r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.cmd.Process.Kill() })
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	// Record the clusters the run owns, from its journals, while it runs.
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if cs, err := local.List(""); err == nil {
				r.mu.Lock()
				for _, c := range cs {
					if c.OwnerPID == r.cmd.Process.Pid {
						r.prefixes[c.Prefix] = true
					}
				}
				r.mu.Unlock()
			}
			select {
			case <-r.done:
				return
			case <-tick.C:
			}
		}
	}()
	return r
}

// wait waits for the run to exit and returns its exit code (-1: killed
// by a signal).
func (r *leakRun) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(timeout):
		t.Fatalf("chaoscheck did not exit within %v; stderr:\n%s", timeout, r.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(r.err, &ee) {
		return ee.ExitCode()
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return 0
}

// waitFor polls cond until it holds, failing after timeout.
func (r *leakRun) waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case <-r.done:
			t.Fatalf("chaoscheck exited before %s; stderr:\n%s", what, r.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v; stderr:\n%s", what, timeout, r.stderr.String())
		}
		time.Sleep(5 * time.Millisecond) // poll interval, bounded by the deadline
	}
}

// acks are the lines chaoscheck prints when it has taken the first and
// the second interrupt.
var acks = []string{"chaoscheck: interrupted:", "chaoscheck: interrupted again:"}

// signalsMidRun waits until clients have completed operations and a
// partition is in force, then sends sigs, each one 50 ms after chaoscheck
// said it took the previous one (two signals sent closer than the process
// gets scheduled merge into one in the kernel: on a loaded machine, 50 ms
// apart is not enough to make them two).
func signalsMidRun(sigs ...syscall.Signal) func(t *testing.T, r *leakRun) {
	return func(t *testing.T, r *leakRun) {
		hist := filepath.Join(r.store, r.name, "latest", rundir.HistoryFile)
		r.waitFor(t, "partition with completed operations", 2*time.Minute, func() bool { return midRun(hist) })
		for i, s := range sigs {
			if i > 0 {
				ack := acks[i-1]
				r.waitFor(t, "line "+ack, time.Minute, func() bool { return strings.Contains(r.stderr.String(), ack) })
				time.Sleep(50 * time.Millisecond) // the spacing under test
			}
			if err := r.cmd.Process.Signal(s); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// killDuring SIGKILLs chaoscheck as soon as it runs tool (a child whose
// command line names it).
func killDuring(tool string) func(t *testing.T, r *leakRun) {
	return func(t *testing.T, r *leakRun) {
		pid := r.cmd.Process.Pid
		r.waitFor(t, tool+" running", 2*time.Minute, func() bool { return childRuns(pid, tool) })
		if err := r.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
	}
}

// midRun reports whether the history holds completed client operations
// and its last nemesis event is a successful start.
func midRun(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	oks, last := 0, ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, `"process":"nemesis"`) {
			if strings.Contains(line, `"type":"info"`) {
				last = line
			}
		} else if strings.Contains(line, `"type":"ok"`) {
			oks++
		}
	}
	return oks > 0 && strings.Contains(last, `"f":"start-`) && !strings.Contains(last, `"error"`)
}

// childRuns reports whether a direct child of pid has tool in argv[0].
func childRuns(pid int, tool string) bool {
	for _, p := range procs() {
		if p.ppid == pid && len(p.args) > 0 && filepath.Base(p.args[0]) == tool {
			return true
		}
	}
	return false
}

type procInfo struct {
	pid, ppid int
	cwd       string
	args      []string
}

// procs lists the processes of the machine (zombies excluded).
func procs() []procInfo {
	ents, _ := os.ReadDir("/proc")
	var out []procInfo
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, procInfo{pid: pid, ppid: ppid, cwd: cwd, args: strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")})
	}
	return out
}

// leftovers lists what the runs whose state directories live in tmp, with
// the given cluster prefixes, left: entries in tmp, processes using tmp
// (cwd or arguments), namespaces, veths, cgroups and journals.
func leftovers(t *testing.T, tmp string, prefixes map[string]bool, owner int) []string {
	t.Helper()
	var out []string
	ents, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		out = append(out, "state directory "+filepath.Join(tmp, e.Name()))
	}
	for _, p := range procs() {
		if strings.HasPrefix(p.cwd, tmp) || strings.Contains(strings.Join(p.args, " "), tmp) {
			out = append(out, fmt.Sprintf("process %d %q (cwd %s)", p.pid, p.args, p.cwd))
		}
	}
	netns, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	links, err := exec.Command("ip", "-o", "link").Output()
	if err != nil {
		t.Fatal(err)
	}
	for pfx := range prefixes {
		for _, line := range strings.Split(string(netns), "\n") {
			if strings.HasPrefix(line, pfx+"-") {
				out = append(out, "network namespace (and its nft tables) "+line)
			}
		}
		if strings.Contains(string(links), " "+pfx+"-") {
			out = append(out, "veth "+pfx+"-c")
		}
		for _, root := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
			if _, err := os.Stat(filepath.Join(root, pfx)); err == nil {
				out = append(out, "cgroup "+filepath.Join(root, pfx))
			}
		}
	}
	cs, err := local.List("")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if prefixes[c.Prefix] || c.OwnerPID == owner {
			out = append(out, "journal "+c.Journal)
		}
	}
	return out
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// --keep-data keeps the state directory of a run, prints its path and
// records it in test.json; nothing else of the run is left.
func TestKeepDataKeepsStateDir(t *testing.T) {
	requireEnv(t)
	bin := buildCLI(t)
	tmp, err := os.MkdirTemp("", "chaoscheck-leaktest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	r := startLeakRun(t, bin, tmp, store, "kept", []string{"--time-limit", "1s", "--keep-data"})
	if code := r.wait(t, 3*time.Minute); code > 2 {
		t.Fatalf("exit %d:\n%s", code, r.stderr.String())
	}
	var info rundir.TestInfo
	if err := rundir.ReadJSON(filepath.Join(store, "kept", "latest", rundir.TestFile), &info); err != nil {
		t.Fatal(err)
	}
	if info.KeptData == "" || filepath.Dir(info.KeptData) != tmp {
		t.Fatalf("test.json kept_data %q, want a directory in %s", info.KeptData, tmp)
	}
	if _, err := os.Stat(filepath.Join(info.KeptData, "n1", "data", "PG_VERSION")); err != nil {
		t.Errorf("kept state dir lacks n1's data directory: %v", err)
	}
	if !strings.Contains(r.stderr.String(), "data kept (--keep-data): "+info.KeptData) {
		t.Errorf("the kept path is not printed:\n%s", r.stderr.String())
	}
	r.mu.Lock()
	prefixes := r.prefixes
	r.mu.Unlock()
	var left []string
	for _, l := range leftovers(t, tmp, prefixes, r.cmd.Process.Pid) {
		if l != "state directory "+info.KeptData {
			left = append(left, l)
		}
	}
	if len(left) > 0 {
		t.Errorf("left behind besides the kept data: %v", left)
	}
}
