//go:build linux

package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
)

// The test binary doubles as the processes run on the nodes:
// CHAOSCHECK_ECHO=1 serves the echo protocol on :7000, and
// CHAOSCHECK_CLIENT=addr sends one request to addr and exits 0 on an
// answer.
func TestMain(m *testing.M) {
	if os.Getenv("CHAOSCHECK_ECHO") == "1" {
		if err := serveEcho(":7000"); err != nil {
			fmt.Fprintln(os.Stderr, "echo server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv("CHAOSCHECK_EXEC_CONTROLLER") != "" {
		if err := execController(); err != nil {
			fmt.Fprintln(os.Stderr, "exec controller:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv("CHAOSCHECK_SHAPE_CONTROLLER") != "" {
		if err := shapeController(); err != nil {
			fmt.Fprintln(os.Stderr, "shape controller:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if addr := os.Getenv("CHAOSCHECK_CLIENT"); addr != "" {
		got, err := request(addr, "ping", 500*time.Millisecond)
		if err != nil || got != "ping" {
			fmt.Fprintf(os.Stderr, "client %s: %q %v\n", addr, got, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveEcho answers each line with the line itself, except "time", which
// is answered with the output of `date +%s` (a libc program, so that
// libfaketime applies: Go reads the vDSO clock directly and is never
// skewed).
func serveEcho(addr string) error {
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return err
	}
	for {
		conn, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer conn.Close()
			sc := bufio.NewScanner(conn)
			for sc.Scan() {
				line := sc.Text()
				if line == "time" {
					out, err := exec.Command("date", "+%s").Output()
					if err != nil {
						line = "error " + err.Error()
					} else {
						line = strings.TrimSpace(string(out))
					}
				}
				if _, err := fmt.Fprintln(conn, line); err != nil {
					return
				}
			}
		}()
	}
}

// request sends one line and reads one answer, all within timeout.
func request(addr, line string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp4", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if _, err := fmt.Fprintln(conn, line); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(got), err
}

// requireTools skips the test (or fails it when CI is set) if this
// machine cannot run a local cluster.
func requireTools(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for cmd, pkg := range map[string]string{"ip": "iproute2", "nft": "nftables", "sysctl": "procps", "date": "coreutils"} {
		if _, err := exec.LookPath(cmd); err != nil {
			missing = append(missing, cmd+" (Debian package "+pkg+")")
		}
	}
	if findFaketime() == "" {
		missing = append(missing, "libfaketime (Debian package faketime)")
	}
	if _, err := cgroup2Mount(); err != nil {
		missing = append(missing, err.Error())
	}
	if len(missing) == 0 {
		return
	}
	msg := "local cluster tests need: " + strings.Join(missing, ", ")
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// up starts a cluster for a test, with its journal in a test directory.
func up(t *testing.T, n int, subnet string) (*Cluster, Config) {
	t.Helper()
	cfg := Config{
		Nodes:      n,
		Subnet:     netip.MustParsePrefix(subnet),
		StateDir:   t.TempDir(),
		JournalDir: t.TempDir(),
	}
	cfg.Prefix = RandomPrefix()
	start := time.Now()
	c, err := Up(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Up %d nodes (prefix %s): %v", n, cfg.Prefix, time.Since(start))
	return c, cfg
}

func echoSpec(t *testing.T) ProcessSpec {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return ProcessSpec{Name: "echo", Path: exe, Env: append(os.Environ(), "CHAOSCHECK_ECHO=1")}
}

func hostPort(c *Cluster, node string) string {
	return netip.AddrPortFrom(c.Addr(node), 7000).String()
}

// waitServing polls until node answers the controller, or fails.
func waitServing(t *testing.T, c *Cluster, node string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := request(hostPort(c, node), "ping", 300*time.Millisecond)
		if err == nil && got == "ping" {
			return
		}
		if time.Now().After(deadline) {
			var logs []string
			for _, p := range c.Processes(node) {
				b, _ := os.ReadFile(p.spec.LogFile)
				logs = append(logs, fmt.Sprintf("%s (pid %d, running %v, err %v): %s", p.Name(), p.Pid(), p.Running(), p.Err(), b))
			}
			t.Fatalf("%s never served: %q %v\n%s", node, got, err, strings.Join(logs, "\n"))
		}
		time.Sleep(10 * time.Millisecond) // poll interval, bounded by deadline
	}
}

// nodeReaches runs a client inside from's namespace (via `ip netns exec`)
// and reports whether it got an answer from to.
func nodeReaches(t *testing.T, c *Cluster, from, to string) bool {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", c.Namespace(from), exe)
	cmd.Env = append(os.Environ(), "CHAOSCHECK_CLIENT="+hostPort(c, to))
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("client %s->%s: %v %s", from, to, err, out)
		}
		t.Logf("client %s->%s: %s", from, to, strings.TrimSpace(string(out)))
		return false
	}
	return true
}

// checkReach checks the node-to-node and controller reachability matrix:
// cut(a, b) says whether a message from a to b should be lost.
func checkReach(t *testing.T, c *Cluster, cut func(a, b string) bool) {
	t.Helper()
	for _, a := range c.Nodes() {
		got, err := request(hostPort(c, a), "ping", 500*time.Millisecond)
		if err != nil || got != "ping" {
			t.Errorf("controller -> %s: %q %v", a, got, err)
		}
		for _, b := range c.Nodes() {
			if a == b {
				continue
			}
			if want := !cut(a, b); nodeReaches(t, c, a, b) != want {
				t.Errorf("%s -> %s: reachable=%v, want %v", a, b, !want, want)
			}
		}
	}
}

// checkNoLeftovers fails if any namespace, link, cgroup or journal with the
// prefix remains.
func checkNoLeftovers(t *testing.T, cfg Config) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, cfg.Prefix+"-") {
			t.Errorf("leftover namespace %s", line)
		}
	}
	out, err = exec.Command("ip", "-o", "link").CombinedOutput()
	if err != nil {
		t.Fatalf("ip link: %v %s", err, out)
	}
	if strings.Contains(string(out), " "+cfg.Prefix+"-") {
		t.Errorf("leftover link with prefix %s:\n%s", cfg.Prefix, out)
	}
	root, err := cgroup2Mount()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, cfg.Prefix)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover cgroup %s (%v)", filepath.Join(root, cfg.Prefix), err)
	}
	if _, err := os.Stat(journalPath(cfg.JournalDir, cfg.Prefix)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover journal (%v)", err)
	}
}

func TestProbe(t *testing.T) {
	requireTools(t)
	if err := Probe(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestCluster(t *testing.T) {
	requireTools(t)
	ctx := t.Context()
	c, cfg := up(t, 3, "10.78.1.0/24")
	downed := false
	t.Cleanup(func() {
		if !downed {
			if err := c.Down(context.Background()); err != nil {
				t.Error(err)
			}
		}
	})
	if got := c.Nodes(); strings.Join(got, ",") != "n1,n2,n3" {
		t.Fatalf("Nodes() = %v", got)
	}
	if got := c.Addr("n2"); got != netip.MustParseAddr("10.78.1.12") {
		t.Fatalf("Addr(n2) = %v", got)
	}

	spec := echoSpec(t)
	procs := map[string]*Process{}
	for _, n := range c.Nodes() {
		p, err := c.Start(ctx, n, spec)
		if err != nil {
			t.Fatal(err)
		}
		procs[n] = p
	}
	for _, n := range c.Nodes() {
		waitServing(t, c, n)
	}

	t.Run("process in namespace, cgroup, group", func(t *testing.T) {
		p := procs["n1"]
		pid := p.Pid()
		var nsSt, procSt syscall.Stat_t
		if err := syscall.Stat(filepath.Join("/run/netns", c.Namespace("n1")), &nsSt); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &procSt); err != nil {
			t.Fatal(err)
		}
		if nsSt.Ino != procSt.Ino {
			t.Errorf("pid %d is not in namespace %s", pid, c.Namespace("n1"))
		}
		if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
			t.Errorf("pgid of %d = %d %v, want own group", pid, pgid, err)
		}
		cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if err != nil {
			t.Fatal(err)
		}
		if want := "0::/" + cfg.Prefix + "/n1/echo\n"; !strings.Contains(string(cg), want) {
			t.Errorf("cgroup of %d:\n%s\nwant line %q", pid, cg, want)
		}
	})

	t.Run("non-root user", func(t *testing.T) {
		p, err := c.Start(ctx, "n2", ProcessSpec{Name: "sleeper", Path: "/bin/sleep", Args: []string{"600"}, UID: 65534, GID: 65534})
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(st), "\nUid:\t65534\t65534\t65534\t65534\n") {
			t.Errorf("process not running as 65534:\n%s", st)
		}
	})

	t.Run("connectivity", func(t *testing.T) {
		checkReach(t, c, func(a, b string) bool { return false })
	})

	t.Run("partition and heal", func(t *testing.T) {
		g := cluster.Bidirectional([]string{"n1"}, []string{"n2", "n3"})
		start := time.Now()
		if err := c.Partition(ctx, g); err != nil {
			t.Fatal(err)
		}
		t.Logf("Partition %v (incl. verify): %v", g, time.Since(start))
		checkReach(t, c, func(a, b string) bool { return g.Drops(a, b) })

		start = time.Now()
		if err := c.HealNetwork(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("HealNetwork (incl. verify): %v", time.Since(start))
		checkReach(t, c, func(a, b string) bool { return false })

		// One-way cut of the controller: n3 drops messages from it.
		if err := c.Partition(ctx, cluster.Grudge{"n3": {cluster.Controller}}); err != nil {
			t.Fatal(err)
		}
		if _, err := request(hostPort(c, "n3"), "ping", 300*time.Millisecond); err == nil {
			t.Error("controller reached n3 through a partition")
		}
		if err := c.Partition(ctx, cluster.Grudge{"n9": {"n1"}}); err == nil {
			t.Error("Partition accepted an unknown node")
		}
		if err := c.HealNetwork(ctx); err != nil {
			t.Fatal(err)
		}
		waitServing(t, c, "n3")
	})

	t.Run("kill and restart", func(t *testing.T) {
		start := time.Now()
		if err := c.Kill(ctx, "n1"); err != nil {
			t.Fatal(err)
		}
		t.Logf("Kill n1: %v", time.Since(start))
		if procs["n1"].Running() {
			t.Fatal("process still running after Kill")
		}
		_, err := request(hostPort(c, "n1"), "ping", time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("after Kill: %v, want connection refused", err)
		}
		oldPid := procs["n1"].Pid()
		start = time.Now()
		if err := c.Restart(ctx, "n1"); err != nil {
			t.Fatal(err)
		}
		waitServing(t, c, "n1")
		t.Logf("Restart n1 until serving: %v", time.Since(start))
		if procs["n1"].Pid() == oldPid {
			t.Error("Restart kept the old pid")
		}
	})

	t.Run("pause and resume", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp4", hostPort(c, "n2"), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		start := time.Now()
		if err := c.Pause(ctx, "n2"); err != nil {
			t.Fatal(err)
		}
		t.Logf("Pause n2: %v", time.Since(start))
		if _, err := fmt.Fprintln(conn, "ping"); err != nil {
			t.Fatal(err)
		}
		if err := conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if got, err := r.ReadString('\n'); err == nil {
			t.Fatalf("paused node answered %q", got)
		} else if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("paused node: %v, want a timeout", err)
		}
		start = time.Now()
		if err := c.Resume(ctx, "n2"); err != nil {
			t.Fatal(err)
		}
		t.Logf("Resume n2: %v", time.Since(start))
		if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if got, err := r.ReadString('\n'); err != nil || strings.TrimSpace(got) != "ping" {
			t.Fatalf("after Resume: %q %v", got, err)
		}
	})

	t.Run("kill while paused", func(t *testing.T) {
		if err := c.Pause(ctx, "n2"); err != nil {
			t.Fatal(err)
		}
		if err := c.Kill(ctx, "n2"); err != nil {
			t.Fatal(err)
		}
		if err := c.Restart(ctx, "n2"); err != nil {
			t.Fatal(err)
		}
		waitServing(t, c, "n2")
	})

	t.Run("clock offset", func(t *testing.T) {
		nodeTime := func(node string) int64 {
			t.Helper()
			got, err := request(hostPort(c, node), "time", 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			v, err := strconv.ParseInt(got, 10, 64)
			if err != nil {
				t.Fatalf("time answer %q: %v", got, err)
			}
			return v - time.Now().Unix()
		}
		if d := nodeTime("n3"); d < -5 || d > 5 {
			t.Fatalf("n3 clock off by %ds before any skew", d)
		}
		if err := c.SetClockOffset(ctx, "n3", time.Hour); err != nil {
			t.Fatal(err)
		}
		if d := nodeTime("n3"); d < 3600-5 || d > 3600+5 {
			t.Errorf("n3 clock off by %ds, want about 3600", d)
		}
		if d := nodeTime("n2"); d < -5 || d > 5 {
			t.Errorf("n2 clock off by %ds, want about 0", d)
		}
		if err := c.SetClockOffset(ctx, "n3", -90*time.Second); err != nil {
			t.Fatal(err)
		}
		if d := nodeTime("n3"); d < -95 || d > -85 {
			t.Errorf("n3 clock off by %ds, want about -90", d)
		}
		if err := c.SetClockOffset(ctx, "n3", 0); err != nil {
			t.Fatal(err)
		}
	})

	start := time.Now()
	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	downed = true
	t.Logf("Down: %v", time.Since(start))
	checkNoLeftovers(t, cfg)
	for n, p := range procs {
		if p.Running() {
			t.Errorf("%s process still running after Down", n)
		}
	}
	if _, err := c.Start(ctx, "n1", spec); err == nil {
		t.Error("Start after Down succeeded")
	}
}

func TestHealAllAfterCrash(t *testing.T) {
	requireTools(t)
	ctx := t.Context()
	c, cfg := up(t, 2, "10.78.2.0/24")
	p, err := c.Start(ctx, "n1", ProcessSpec{Name: "sleeper", Path: "/bin/sleep", Args: []string{"600"}})
	if err != nil {
		_ = c.Down(ctx)
		t.Fatal(err)
	}
	if err := c.Pause(ctx, "n2"); err != nil {
		_ = c.Down(ctx)
		t.Fatal(err)
	}
	if err := c.Partition(ctx, cluster.Bidirectional([]string{"n1"}, []string{"n2"})); err != nil {
		_ = c.Down(ctx)
		t.Fatal(err)
	}
	pid := p.Pid()
	c = nil // crash: the cluster is dropped without Down

	start := time.Now()
	rep, err := HealAll(ctx, cfg.JournalDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HealAll: %v, removed %d resources: %v", time.Since(start), len(rep.Removed), rep.Removed)
	if len(rep.Journals) != 1 {
		t.Errorf("healed journals %v, want 1", rep.Journals)
	}
	if !strings.Contains(strings.Join(rep.Removed, "\n"), fmt.Sprintf("process %d ", pid)) {
		t.Errorf("report does not name process %d: %v", pid, rep.Removed)
	}
	checkNoLeftovers(t, cfg)
	select {
	case <-p.Done():
	case <-time.After(KillTimeout):
		t.Errorf("process %d not reaped after HealAll", pid)
	}

	// A second HealAll finds nothing.
	rep, err = HealAll(ctx, cfg.JournalDir)
	if err != nil || len(rep.Removed) != 0 || len(rep.Journals) != 0 {
		t.Errorf("second HealAll: %+v %v", rep, err)
	}
}

func TestHealSkipsLiveOwnerAndReusedPid(t *testing.T) {
	dir := t.TempDir()
	// A journal owned by a live process that is not us (pid 1) is skipped.
	self, err := procStart(1)
	if err != nil {
		t.Skip("no /proc/1/stat:", err)
	}
	j := fmt.Sprintf(`{"prefix":"zz01","owner_pid":1,"owner_start":%d}`, self)
	if err := os.WriteFile(journalPath(dir, "zz01"), []byte(j), 0o644); err != nil {
		t.Fatal(err)
	}
	// A journal recording our own pid with a wrong start time must not
	// kill us (pid reuse).
	j = fmt.Sprintf(`{"prefix":"zz02","owner_pid":999999999,"procs":[{"node":"n1","name":"x","pid":%d,"start":1}]}`, os.Getpid())
	if err := os.WriteFile(journalPath(dir, "zz02"), []byte(j), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := HealAll(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Skipped) != 1 || len(rep.Journals) != 1 || len(rep.Removed) != 0 {
		t.Errorf("HealAll: %+v", rep)
	}
}

func TestFaketimeOffset(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour:               "+3600",
		-90 * time.Second:       "-90",
		1500 * time.Millisecond: "+1.5",
		0:                       "+0",
		-250 * time.Millisecond: "-0.25",
	} {
		if got := faketimeOffset(d); got != want {
			t.Errorf("faketimeOffset(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	ctx := t.Context()
	for _, cfg := range []Config{
		{Prefix: "Bad-Prefix", Nodes: 1},
		{Prefix: "toolongprefix", Nodes: 1},
		{Prefix: "ok", Nodes: 0},
		{Prefix: "ok", Nodes: 1, Subnet: netip.MustParsePrefix("10.0.0.0/16")},
	} {
		if _, err := Up(ctx, cfg); err == nil {
			t.Errorf("Up(%+v) succeeded", cfg)
		}
	}
}

func TestClockUnsupportedWithoutFaketime(t *testing.T) {
	c := &Cluster{nodes: map[string]*node{"n1": {name: "n1"}}, names: []string{"n1"}}
	err := c.SetClockOffset(t.Context(), "n1", time.Second)
	if !errors.Is(err, cluster.ErrUnsupported) || !strings.Contains(err.Error(), "faketime") {
		t.Errorf("SetClockOffset without libfaketime: %v, want ErrUnsupported naming faketime", err)
	}
	if env := c.faketimeEnv(c.nodes["n1"]); env != nil {
		t.Errorf("faketimeEnv without libfaketime = %v", env)
	}
}
