//go:build linux

package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/chaoscheck/chaoscheck/cluster"
	"github.com/chaoscheck/chaoscheck/internal/testenv"
)

var env = testenv.Env{
	Needs: "root, a running dockerd (Debian docker.io), nftables, redis-server and redis-tools",
	Probe: func(ctx context.Context) error {
		var errs []error
		if os.Geteuid() != 0 {
			errs = append(errs, errors.New("not root"))
		}
		if err := Probe(ctx); err != nil {
			errs = append(errs, err)
		}
		for _, b := range []string{"redis-server", "redis-cli", "timeout"} {
			if _, err := exec.LookPath(b); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	},
}

// redisDo sends one command to addr:6379 and returns its reply line,
// bounded by d.
func redisDo(addr string, d time.Duration, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(addr, "6379"), d)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(d))
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write(b.Bytes()); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "$") && line != "$-1" {
		v, err := r.ReadString('\n')
		return strings.TrimRight(v, "\r\n"), err
	}
	return line, nil
}

// eventually polls f every 20 ms until it returns nil, for at most d.
func eventually(t *testing.T, d time.Duration, what string, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < d {
		if err = f(); err == nil {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v: %v", what, d, err)
	return 0
}

// redisSpec runs redis-server as the host's redis user (root if there is
// none), with a config file placed by NodeSpec.Files and its data in the
// state directory.
func redisSpec(c *Cluster, n string) cluster.NodeSpec {
	data := filepath.Join(c.StateDir(), "data", n)
	var uid, gid uint32
	if u, err := user.Lookup("redis"); err == nil {
		u1, _ := strconv.Atoi(u.Uid)
		g1, _ := strconv.Atoi(u.Gid)
		uid, gid = uint32(u1), uint32(g1)
	}
	return cluster.NodeSpec{
		// Without the libfaketime preload the runtime adds (it hangs or
		// kills Debian's redis-server), as the redis target does.
		Name: "redis", Path: "/usr/bin/env", DataDir: data, Ports: []uint16{6379}, UID: uid, GID: gid,
		Files: []cluster.File{{Path: "/conf/node.conf", Data: []byte("hz 17\n")}},
		Args: []string{"-u", "LD_PRELOAD", "/usr/bin/redis-server", "/conf/node.conf", "--bind", "0.0.0.0", "--port", "6379", "--protected-mode", "no",
			"--dir", data, "--appendonly", "yes", "--appendfsync", "always", "--save", ""},
	}
}

// upRedis brings up 3 nodes running redis-server and waits until each
// answers PING from the controller; it returns the time that took.
func upRedis(t *testing.T, ctx context.Context) (*Cluster, time.Duration) {
	t.Helper()
	start := time.Now()
	c, err := New(ctx, cluster.Spec{Target: "redis", Nodes: 3}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("New (heal of dead runs, image check, network, state dir): %v", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { _ = c.Close(ctx) })
	t0 := time.Now()
	for _, n := range c.Nodes() {
		if _, err := c.Start(ctx, n, redisSpec(c, n)); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("Start of 3 containers (create, files, start, routes), one after another: %v", time.Since(t0).Round(time.Millisecond))
	for _, n := range c.Nodes() {
		eventually(t, 20*time.Second, n+" answers PING from the controller", func() error {
			if p := c.Processes(n)[0]; !p.Running() {
				b, _ := os.ReadFile(c.Log(n, "redis"))
				t.Fatalf("%s exited: %v; log:\n%s", n, p.Err(), b)
			}
			r, err := redisDo(c.Addr(n).String(), time.Second, "PING")
			if err == nil && r != "+PONG" {
				err = fmt.Errorf("reply %q", r)
			}
			return err
		})
	}
	return c, time.Since(start)
}

// reach says whether node from reaches node to's redis (redis-cli inside
// from's container, bounded by 1 s).
func reach(ctx context.Context, c *Cluster, from, to string) error {
	out, err := c.Exec(ctx, from, cluster.Command{Path: "/usr/bin/timeout", Args: []string{"1", "redis-cli", "-h", c.Addr(to).String(), "PING"}})
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(out)) != "PONG" {
		return fmt.Errorf("%s -> %s: %q", from, to, out)
	}
	return nil
}

func TestRedisContainers(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	c, startup := upRedis(t, ctx)
	id := c.Name()
	t.Logf("3 containers up, redis answering PING from the controller: %v", startup)
	if got := c.Addr(cluster.Controller); !c.Subnet().Contains(got) {
		t.Fatalf("controller address %v outside %v", got, c.Subnet())
	}

	// The run's network is internal: no default route in the nodes.
	if out, err := c.Exec(ctx, "n1", cluster.Command{Path: "/usr/sbin/ip", Args: []string{"-4", "route"}}); err != nil || strings.Contains(string(out), "default") || !strings.Contains(string(out), c.Subnet().String()) {
		t.Fatalf("n1's routes (want only %v, no default): %q %v", c.Subnet(), out, err)
	}

	// The file of NodeSpec.Files is the server's config.
	if out, err := c.Exec(ctx, "n2", cluster.Command{Path: "/usr/bin/redis-cli", Args: []string{"config", "get", "hz"}}); err != nil || !strings.Contains(string(out), "\n17\n") {
		t.Fatalf("hz from /conf/node.conf: %q %v", out, err)
	}

	// Kill keeps the data; restart brings it back.
	n1 := c.Addr("n1").String()
	if r, err := redisDo(n1, time.Second, "SET", "k", "v1"); err != nil || r != "+OK" {
		t.Fatalf("SET: %q %v", r, err)
	}
	t0 := time.Now()
	if err := c.Kill(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	killT := time.Since(t0)
	if p := c.Processes("n1")[0]; p.Running() {
		t.Fatal("n1 still running after Kill")
	}
	if _, err := redisDo(n1, 300*time.Millisecond, "PING"); err == nil {
		t.Fatal("n1 answers after Kill")
	}
	t0 = time.Now()
	if err := c.Restart(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "n1 serves k after restart", func() error {
		r, err := redisDo(n1, time.Second, "GET", "k")
		if err == nil && r != "v1" {
			err = fmt.Errorf("GET k = %q, want v1 (data lost?)", r)
		}
		return err
	})
	restartT := time.Since(t0)

	// Pause: no answer; resume: answers.
	n2 := c.Addr("n2").String()
	t0 = time.Now()
	if err := c.Pause(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	pauseT := time.Since(t0)
	if r, err := redisDo(n2, 500*time.Millisecond, "PING"); err == nil {
		t.Fatalf("paused n2 answered %q", r)
	}
	t0 = time.Now()
	if err := c.Resume(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	resumeT := time.Since(t0)
	if r, err := redisDo(n2, 2*time.Second, "PING"); err != nil || r != "+PONG" {
		t.Fatalf("resumed n2: %q %v", r, err)
	}

	// Kill of a paused node.
	if err := c.Pause(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(ctx, "n3"); err != nil {
		t.Fatalf("kill of a paused node: %v", err)
	}
	if err := c.Restart(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "n3 back after kill while paused", func() error {
		_, err := redisDo(c.Addr("n3").String(), time.Second, "PING")
		return err
	})

	// Stop (SIGTERM) and restart.
	if err := c.Stop(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if p := c.Processes("n2")[0]; p.Running() || p.Err() != nil {
		t.Fatalf("n2 after Stop: running %v, exit error %v (want a clean exit)", p.Running(), p.Err())
	}
	if err := c.Restart(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "n2 back after Stop", func() error { _, err := redisDo(n2, time.Second, "PING"); return err })

	// Partition n1 | n2 n3, and cut the controller from n3.
	for _, pair := range [][2]string{{"n2", "n1"}, {"n2", "n3"}} {
		if err := reach(ctx, c, pair[0], pair[1]); err != nil {
			t.Fatalf("before the partition: %v", err)
		}
	}
	g := cluster.Bidirectional([]string{"n1"}, []string{"n2", "n3"})
	g[cluster.Controller] = []string{"n3"}
	t0 = time.Now()
	if err := c.Partition(ctx, g); err != nil {
		t.Fatal(err)
	}
	partT := time.Since(t0)
	if err := reach(ctx, c, "n2", "n1"); err == nil {
		t.Fatal("n2 reaches n1 across the partition")
	}
	if err := reach(ctx, c, "n1", "n3"); err == nil {
		t.Fatal("n1 reaches n3 across the partition")
	}
	if err := reach(ctx, c, "n2", "n3"); err != nil {
		t.Fatalf("same side: %v", err)
	}
	if _, err := redisDo(c.Addr("n3").String(), 500*time.Millisecond, "PING"); err == nil {
		t.Fatal("controller reaches n3, cut off")
	}
	if _, err := redisDo(n1, time.Second, "PING"); err != nil {
		t.Fatalf("controller cut off from n1, not in the grudge: %v", err)
	}
	// A killed and restarted node gets the partition again.
	if err := c.Kill(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "n1 back", func() error { _, err := redisDo(n1, time.Second, "PING"); return err })
	if err := reach(ctx, c, "n1", "n2"); err == nil {
		t.Fatal("restarted n1 reaches n2")
	}
	// (the peers' tables cut n1 too: check n1's own table is back)
	wantRules, _ := c.rules(g)
	if got, err := readRules(ctx, c.Processes("n1")[0].Pid()); err != nil || !slices.Equal(got.in, wantRules["n1"].in) || !slices.Equal(got.out, wantRules["n1"].out) {
		t.Fatalf("restarted n1's table: %+v %v, want %+v", got, err, wantRules["n1"])
	}
	t0 = time.Now()
	if err := c.HealNetwork(ctx); err != nil {
		t.Fatal(err)
	}
	healT := time.Since(t0)
	for _, pair := range [][2]string{{"n2", "n1"}, {"n1", "n3"}} {
		if err := reach(ctx, c, pair[0], pair[1]); err != nil {
			t.Fatalf("after heal: %v", err)
		}
	}
	if _, err := redisDo(c.Addr("n3").String(), time.Second, "PING"); err != nil {
		t.Fatalf("after heal, controller -> n3: %v", err)
	}

	// Exec: output, failure, timeout (the command is killed).
	out, err := c.Exec(ctx, "n3", cluster.Command{Path: "/bin/sh", Args: []string{"-c", "echo hi; echo err >&2"}})
	if err != nil || string(out) != "hi\n" {
		t.Fatalf("exec: %q %v", out, err)
	}
	if _, err := c.Exec(ctx, "n3", cluster.Command{Path: "/bin/sh", Args: []string{"-c", "echo boom >&2; exit 3"}}); err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("failing exec: %v", err)
	}
	t0 = time.Now()
	_, err = c.Exec(ctx, "n3", cluster.Command{Path: "/bin/sleep", Args: []string{"1000"}, Timeout: 500 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("exec past its timeout: %v", err)
	}
	eventually(t, 5*time.Second, "timed-out sleep killed", func() error {
		out, _ := c.Exec(ctx, "n3", cluster.Command{Path: "/bin/sh", Args: []string{"-c", "for p in /proc/[0-9]*; do cat $p/cmdline 2>/dev/null | tr '\\0' ' '; echo; done"}})
		if strings.Contains(string(out), "sleep 1000") {
			return errors.New("sleep 1000 still runs in n3")
		}
		return nil
	})

	// Nothing a command started outlives Exec: a background child of a
	// command that exited at once is killed too.
	if out, err := c.Exec(ctx, "n3", cluster.Command{Path: "/bin/sh", Args: []string{"-c", "sleep 1001 >/dev/null 2>&1 & echo started"}}); err != nil || string(out) != "started\n" {
		t.Fatalf("exec with a background child: %q %v", out, err)
	}
	eventually(t, 5*time.Second, "background child of an exec killed", func() error {
		out, _ := c.Exec(ctx, "n3", cluster.Command{Path: "/bin/sh", Args: []string{"-c", "for p in /proc/[0-9]*; do cat $p/cmdline 2>/dev/null | tr '\\0' ' '; echo; done"}})
		if strings.Contains(string(out), "sleep 1001") {
			return errors.New("sleep 1001 still runs in n3")
		}
		return nil
	})

	// Copy in and out.
	dir := t.TempDir()
	src := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(src, []byte("payload\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.CopyIn(ctx, "n2", src, "/tmp/copied.txt"); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Exec(ctx, "n2", cluster.Command{Path: "/bin/cat", Args: []string{"/tmp/copied.txt"}}); err != nil || string(out) != "payload\n" {
		t.Fatalf("file copied in: %q %v", out, err)
	}
	if _, err := c.Exec(ctx, "n2", cluster.Command{Path: "/bin/sh", Args: []string{"-c", "mkdir -p /tmp/d/e && echo deep > /tmp/d/e/f"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.CopyOut(ctx, "n2", "/tmp/d", filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "out", "e", "f")); err != nil || string(b) != "deep\n" {
		t.Fatalf("dir copied out: %q %v", b, err)
	}

	// Logs come through the API into the state dir.
	logf := c.Log("n1", "redis")
	b, err := os.ReadFile(logf)
	if err != nil || strings.Count(string(b), "Ready to accept connections") != 3 {
		t.Fatalf("n1's log %s should show 3 starts, each once: %v\n%s", logf, err, b)
	}

	state := c.StateDir()
	t0 = time.Now()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closeT := time.Since(t0)
	cli, err := Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if left, err := Leftovers(ctx, cli, id); err != nil || len(left) != 0 {
		t.Fatalf("after Close: %v %v", left, err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatalf("state dir %s after Close: %v", state, err)
	}
	t.Logf("latencies: start-up(3 nodes, to PONG) %v, kill %v, restart to the key served %v, pause %v, resume %v, partition(3 nodes) %v, heal(3 nodes) %v, close %v",
		startup.Round(time.Millisecond), killT.Round(time.Millisecond), restartT.Round(time.Millisecond), pauseT.Round(time.Millisecond),
		resumeT.Round(time.Millisecond), partT.Round(time.Millisecond), healT.Round(time.Millisecond), closeT.Round(time.Millisecond))
}

// crashEnv makes the test binary a controller that brings a cluster up,
// partitions it, prints its run id and state dir, and waits to be killed.
const crashEnv = "CHAOSCHECK_DOCKER_CRASH_CHILD"

func TestCrashChild(t *testing.T) {
	if os.Getenv(crashEnv) == "" {
		t.Skip("helper of TestHealAllAfterCrash")
	}
	ctx := context.Background()
	c, _ := upRedis(t, ctx)
	if err := c.Pause(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	if err := c.Partition(ctx, cluster.Bidirectional([]string{"n1"}, []string{"n2", "n3"})); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("READY %s %s\n", c.Name(), c.StateDir())
	time.Sleep(5 * time.Minute) // killed by the parent long before
}

func TestHealAllAfterCrash(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") {
				lines <- sc.Text()
			}
		}
		close(lines)
	}()
	var id, state string
	select {
	case l, ok := <-lines:
		if !ok {
			cmd.Wait()
			t.Fatal("child ended before its cluster was up")
		}
		f := strings.Fields(l)
		id, state = f[1], f[2]
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("child: no cluster within 60 s")
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()

	cli, err := Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	left, err := Leftovers(ctx, cli, id)
	if err != nil || len(left) != 4 {
		t.Fatalf("the crashed run should leave 3 containers and a network: %v %v", left, err)
	}
	t0 := time.Now()
	rep, err := HealAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HealAll after the crash: %v: %v", time.Since(t0).Round(time.Millisecond), rep.Removed)
	if !strings.Contains(strings.Join(rep.Runs, " "), id) {
		t.Fatalf("HealAll did not heal run %s: %+v", id, rep)
	}
	if left, err := Leftovers(ctx, cli, id); err != nil || len(left) != 0 {
		t.Fatalf("after HealAll: %v %v", left, err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatalf("state dir %s after HealAll: %v", state, err)
	}
}

// A state directory a non-root server cannot enter is refused, and the
// refused New leaves nothing behind.
func TestStateDirNotSearchable(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	c, err := New(ctx, cluster.Spec{Target: "redis", Nodes: 1, StateDir: dir, ServerUID: 4242}, "")
	if err == nil {
		c.Close(ctx)
		t.Fatal("a state dir of mode 0700 was accepted for uid 4242")
	}
	if !strings.Contains(err.Error(), "not searchable by uid 4242") {
		t.Fatalf("error does not say why: %v", err)
	}
	cli, err := Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctl, _ := controllerLabel()
	runs, err := listRuns(ctx, cli)
	if err != nil {
		t.Fatal(err)
	}
	for id, owner := range runs {
		if owner == ctl {
			t.Errorf("the refused New left run %s", id)
		}
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the user's state dir was removed: %v", err)
	}
}

// BuildBaseImage makes BaseImage through the API, labelled, with the
// mount points the containers need.
func TestBuildBaseImage(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	cli, err := Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	id, err := BuildBaseImage(ctx, cli)
	if err != nil {
		t.Fatal(err)
	}
	in, err := cli.ImageInspect(ctx, BaseImage)
	if err != nil {
		t.Fatal(err)
	}
	if in.ID != id || in.Config == nil || in.Config.Labels[LabelImage] != "base" {
		t.Fatalf("%s: id %s (built %s), labels %v", BaseImage, in.ID, id, in.Config)
	}
	if in.Size > 64<<10 {
		t.Fatalf("%s is %d bytes: want a few empty directories", BaseImage, in.Size)
	}
	// A second build replaces the first, which no container uses.
	id2, err := BuildBaseImage(ctx, cli)
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelImage+"=base"))})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].ID != id2 {
		var ids []string
		for _, i := range imgs {
			ids = append(ids, i.ID)
		}
		t.Fatalf("after a rebuild: images %v, want only %s", ids, id2)
	}
}

// Exec on a node whose container is not running (never started, then
// killed) runs in a helper container: the node's address, its files in
// the state dir, the user asked for, the exit status and output
// reported; no helper container is left. A file placed by NodeSpec.Files
// inside the data directory leaves the data directory's owner and mode
// alone (the tarball has no entries for parents).
func TestExecOnStoppedNode(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	c, err := New(ctx, cluster.Spec{Target: "stopped", Nodes: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	data := filepath.Join(c.StateDir(), "n1", "data")
	out, err := c.Exec(ctx, "n1", cluster.Command{Path: "/bin/sh", Args: []string{"-c",
		`set -e; install -d -m 0700 -o 4242 -g 4242 "$1"; id -u; hostname; ip -4 -o addr show scope global | awk '{print $4}'`, "sh", data}})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(string(out))
	want := []string{"0", "n1", c.Addr("n1").String() + "/24"}
	if !slices.Equal(got, want) {
		t.Errorf("helper said %q, want %q", got, want)
	}
	if st, err := os.Stat(data); err != nil || st.Mode().Perm() != 0o700 || st.Sys().(*syscall.Stat_t).Uid != 4242 {
		t.Fatalf("data dir made by the helper: %v %v", st, err)
	}
	if _, err := c.Exec(ctx, "n1", cluster.Command{Path: "/bin/sh", Args: []string{"-c", "echo oops >&2; exit 3"}}); err == nil ||
		!strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "oops") {
		t.Errorf("failing helper: %v", err)
	}
	out, err = c.Exec(ctx, "n1", cluster.Command{Path: "/usr/bin/id", Args: []string{"-u"}, UID: 4242, GID: 4242})
	if err != nil || strings.TrimSpace(string(out)) != "4242" {
		t.Errorf("helper as uid 4242: %q %v", out, err)
	}
	spec := cluster.NodeSpec{Name: "sleep", Path: "/bin/sleep", Args: []string{"1000"}, UID: 4242, GID: 4242, DataDir: data,
		Files: []cluster.File{{Path: filepath.Join(data, "conf"), Data: []byte("x")}}}
	if _, err := c.Start(ctx, "n1", spec); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(data); err != nil || st.Mode().Perm() != 0o700 || st.Sys().(*syscall.Stat_t).Uid != 4242 {
		t.Errorf("data dir after a file was placed in it: %v %v", st, err)
	}
	if err := c.Kill(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Exec(ctx, "n1", cluster.Command{Path: "/bin/cat", Args: []string{filepath.Join(data, "conf")}}); err != nil || string(out) != "x" {
		t.Errorf("helper of a killed node reads its file: %q %v", out, err)
	}
	cli, err := Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	left, err := Leftovers(ctx, cli, c.Name())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range left {
		if strings.Contains(l, "-exec-") {
			t.Errorf("helper container left: %s", l)
		}
	}
}

// SetClockOffset moves the wall clock of a running container's process
// (through the host's libfaketime, mounted and preloaded) live, and not
// the controller's.
func TestClockOffset(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	if Plan(1).Supports(cluster.CanSkewClock) != nil {
		t.Fatalf("this machine has no libfaketime (install faketime): %v", Plan(1).Supports(cluster.CanSkewClock))
	}
	c, err := New(ctx, cluster.Spec{Target: "clock", Nodes: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	spec := cluster.NodeSpec{Name: "date", Path: "/bin/sh", Args: []string{"-c", "while :; do date +%s; sleep 0.1; done"}, UID: 4242, GID: 4242}
	if _, err := c.Start(ctx, "n1", spec); err != nil {
		t.Fatal(err)
	}
	// lastSeen returns the last clock reading the node logged.
	lastSeen := func() (int64, error) {
		b, err := os.ReadFile(c.Log("n1", "date"))
		if err != nil {
			return 0, err
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, errors.New("nothing logged yet")
		}
		return strconv.ParseInt(f[len(f)-1], 10, 64)
	}
	for _, off := range []time.Duration{24 * time.Hour, -10 * time.Minute, 0} {
		if err := c.SetClockOffset(ctx, "n1", off); err != nil {
			t.Fatal(err)
		}
		d := eventually(t, 10*time.Second, fmt.Sprintf("node clock at offset %v", off), func() error {
			v, err := lastSeen()
			if err != nil {
				return err
			}
			if diff := time.Duration(v-time.Now().Unix())*time.Second - off; diff < -3*time.Second || diff > 3*time.Second {
				return fmt.Errorf("node says %d, controller %d: off by %v from %v", v, time.Now().Unix(), diff+off, off)
			}
			return nil
		})
		t.Logf("offset %v seen by the node after %v", off, d.Round(time.Millisecond))
	}
}

// The image of a run: --image when given (and on this machine), else the
// target's local image, even when another image is on this machine; the
// The run's image: --image when given (not on this machine: refused,
// as bad input); else the target's default (the official image) when it
// is on this machine; else the local image, saying why; with neither,
// the error says to pull or load one or to run chaoscheck images build.
func TestResolveImage(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	cli, err := Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := BuildLocalImage(ctx, cli, "resolvetest", []string{"pkg=1"}); err != nil {
		t.Fatal(err)
	}
	defer cli.ImageRemove(ctx, LocalImage("resolvetest"), image.RemoveOptions{})
	if err := EnsureBaseImage(ctx, cli); err != nil {
		t.Fatal(err)
	}
	const absent = "chaoscheck-test/nosuch-official:1"
	for _, c := range []struct {
		target, want, def string
		got               string
		reason            cluster.ImageReason
		err               []string
		bad               bool
	}{
		{"resolvetest", BaseImage, "", BaseImage, cluster.ImageFlag, nil, false},
		// The default (here the base image stands for an official image
		// on this machine) wins over the local image.
		{"resolvetest", "", BaseImage, BaseImage, cluster.ImageDefault, nil, false},
		{"resolvetest", "", absent, LocalImage("resolvetest"), cluster.ImageFallback, nil, false},
		{"resolvetest", "", "", LocalImage("resolvetest"), cluster.ImageDefault, nil, false},
		{"resolvetest", "chaoscheck/nosuch:1", BaseImage, "", "", []string{"chaoscheck/nosuch:1 is not on this machine", "never pulls"}, true},
		{"nolocal", "", absent, "", "", []string{absent, "chaoscheck images build", "chaoscheck/nolocal:host", "--image"}, false},
		{"nolocal", "", "", "", "", []string{"chaoscheck images build", "chaoscheck/nolocal:host", "--image"}, false},
		{"", "", "", BaseImage, cluster.ImageBase, nil, false},
	} {
		r, err := resolveImage(ctx, cli, c.target, c.want, c.def)
		if c.err != nil {
			if err == nil {
				t.Errorf("%+v: %+v, want an error", c, r.choice)
				continue
			}
			for _, w := range c.err {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%+v: %v does not say %q", c, err, w)
				}
			}
			if errors.Is(err, cluster.ErrBadImage) != c.bad {
				t.Errorf("%+v: %v: bad input %v, want %v", c, err, !c.bad, c.bad)
			}
			continue
		}
		if err != nil || r.choice.Ref != c.got || r.choice.Reason != c.reason || r.choice.ID == "" {
			t.Errorf("%+v: %+v %v, want %q (%s)", c, r.choice, err, c.got, c.reason)
		}
		if c.reason == cluster.ImageFallback && !strings.Contains(r.choice.Why, absent) {
			t.Errorf("%+v: fallback says %q, not naming %s", c, r.choice.Why, absent)
		}
		if r.choice.Ref == LocalImage("resolvetest") && (!hostMounted(r.labels) || !slices.Equal(r.choice.HostPackages, []string{"pkg=1"})) {
			t.Errorf("local image labels %v, packages %v", r.labels, r.choice.HostPackages)
		}
	}
}

// importTestImage imports an image tagged tag whose filesystem holds
// files (path -> content; a content starting with "->" makes a symlink
// to the rest; paths ending in "/" are directories), with no chaoscheck
// labels (a stranger's image, as an official one would be).
func importTestImage(t testing.TB, cli client.APIClient, tag string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		c := files[n]
		h := &tar.Header{Name: n, Mode: 0o755, Typeflag: tar.TypeReg, Size: int64(len(c))}
		switch {
		case strings.HasSuffix(n, "/"):
			h.Typeflag, h.Size = tar.TypeDir, 0
		case strings.HasPrefix(c, "->"):
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, c[2:], 0
		case strings.HasPrefix(n, "etc/"):
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(c)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: &buf, SourceName: "-"}, tag, image.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.ImageRemove(context.Background(), tag, image.RemoveOptions{Force: true}) })
}

// The layout of an image is read from it: an image laid out as the
// official redis image is (redis-server in /usr/local/bin, which its
// PATH names; the redis user with uid 999; a merged /usr whose /bin is a
// link) gives those paths and ids; a program in a Program's Dirs is
// found there first; an image that lacks programs is refused naming
// each, and, named by --image, as bad input; the local image is
// resolved on this machine; and the probe leaves no container behind.
func TestDiscoverLayout(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	cli, err := Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	needs := cluster.NodeNeeds{Programs: []cluster.Program{{Name: "env"}, {Name: "redis-server"}, {Name: "sh"}, {Name: "initdb", Dirs: []string{"/opt/pg/bin"}}},
		Users: []string{"redis", "nosuchuser"}}
	official := "chaoscheck-test/official-like:1"
	importTestImage(t, cli, official, map[string]string{
		"usr/": "", "usr/bin/": "", "usr/local/": "", "usr/local/bin/": "", "etc/": "", "bin": "->usr/bin",
		"opt/": "", "opt/pg/": "", "opt/pg/bin/": "", "opt/pg/bin/initdb": "x", "usr/local/bin/initdb": "x",
		"usr/bin/env": "x", "usr/bin/dash": "x", "usr/bin/sh": "->dash", "usr/local/bin/redis-server": "x",
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nredis:x:999:998::/data:/bin/sh\n",
	})
	unfit := "chaoscheck-test/unfit:1"
	importTestImage(t, cli, unfit, map[string]string{
		"usr/": "", "usr/bin/": "", "etc/": "", "usr/bin/env": "x", "usr/bin/redis-server/": "",
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
	})
	before, err := cli.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}

	l, err := (Runtime{Target: "redis", Default: official}).Layout(ctx, needs)
	if err != nil {
		t.Fatal(err)
	}
	// PATH is defaultPath's (the test image sets none); sh is a link to
	// dash; initdb is in its Dirs and, later, in PATH.
	want := map[string]string{"env": "/usr/bin/env", "redis-server": "/usr/local/bin/redis-server", "sh": "/usr/bin/sh", "initdb": "/opt/pg/bin/initdb"}
	if !maps.Equal(l.Programs, want) {
		t.Errorf("programs %v, want %v", l.Programs, want)
	}
	if id, ok := l.User("redis"); !ok || id != (cluster.UserID{UID: 999, GID: 998}) {
		t.Errorf("user redis %+v %v, want 999:998", id, ok)
	}
	if _, ok := l.User("nosuchuser"); ok {
		t.Error("a user the image lacks was resolved")
	}

	_, err = (Runtime{Target: "redis", Image: unfit}).Layout(ctx, needs)
	if err == nil {
		t.Fatalf("%s resolved", unfit)
	}
	for _, w := range []string{unfit, "redis-server (searched", "sh (searched", "initdb (searched /opt/pg/bin:"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%v does not say %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "env (") || !errors.Is(err, cluster.ErrBadImage) || !errors.Is(err, cluster.ErrMissingPrograms) {
		t.Errorf("%v: names env, which is there, or is not bad input", err)
	}
	// As the default, the same image is not the user's input.
	if _, err := (Runtime{Target: "redis", Default: unfit}).Layout(ctx, needs); err == nil || errors.Is(err, cluster.ErrBadImage) {
		t.Errorf("unfit default: %v, want an error that is not bad input", err)
	}

	if _, err := BuildLocalImage(ctx, cli, "checktest", nil); err != nil {
		t.Fatal(err)
	}
	defer cli.ImageRemove(ctx, LocalImage("checktest"), image.RemoveOptions{})
	host := cluster.NodeNeeds{Programs: []cluster.Program{{Name: "env"}, {Name: "redis-server"}}, Users: []string{"redis"}}
	l, err = (Runtime{Target: "checktest"}).Layout(ctx, host)
	hl, herr := cluster.HostLayout(host)
	if err != nil || herr != nil || !maps.Equal(l.Programs, hl.Programs) || !maps.Equal(l.Users, hl.Users) {
		t.Errorf("local image: %+v %v, want this machine's %+v %v", l, err, hl, herr)
	}
	_, err = (Runtime{Target: "checktest"}).Layout(ctx, cluster.NodeNeeds{Programs: []cluster.Program{{Name: "no-such-server"}}})
	if err == nil || !strings.Contains(err.Error(), "no-such-server") || !strings.Contains(err.Error(), "this machine's packages") {
		t.Errorf("local image without the program: %v", err)
	}
	after, err := cli.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) > len(before) {
		for _, c := range after {
			if c.Image == official || c.Image == unfit {
				t.Errorf("probe container %s (%s) left behind", c.ID[:12], c.Image)
			}
		}
	}
}

// NodeSpec.SharedDirs are visible in the container at the same path,
// read-only: the node's process reads a file of one and cannot create
// a file in it; a shared dir that is not a directory on the controller
// is refused by Start, naming it.
func TestSharedDirs(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	c, err := New(ctx, cluster.Spec{Target: "shared", Nodes: 2}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	shared := t.TempDir()
	if err := os.WriteFile(filepath.Join(shared, "lib.jar"), []byte("jar"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(c.StateDir(), "n1", "data")
	script := `cat "$1/lib.jar" > "$2/read"; if touch "$1/new" 2>/dev/null; then echo yes; else echo no; fi > "$2/wrote"; exec sleep 1000`
	if _, err := c.Start(ctx, "n1", cluster.NodeSpec{Name: "sh", Path: "/bin/sh", Args: []string{"-c", script, "sh", shared, data},
		DataDir: data, SharedDirs: []string{shared}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var read, wrote []byte
	for time.Now().Before(deadline) {
		read, _ = os.ReadFile(filepath.Join(data, "read"))
		wrote, _ = os.ReadFile(filepath.Join(data, "wrote"))
		if len(wrote) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if string(read) != "jar" || strings.TrimSpace(string(wrote)) != "no" {
		t.Errorf("node read %q from the shared dir and could write in it: %q (want jar, no)", read, wrote)
	}
	if _, err := os.Stat(filepath.Join(shared, "new")); !os.IsNotExist(err) {
		t.Errorf("a file appeared in the shared dir: %v", err)
	}
	missing := filepath.Join(shared, "nosuch")
	_, err = c.Start(ctx, "n2", cluster.NodeSpec{Name: "sh", Path: "/bin/true", SharedDirs: []string{missing}})
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing shared dir: %v", err)
	}
}

// BenchmarkDiscoverLayout is the cost of reading a target's layout from
// an image that is not a local one (a probe container created and
// removed, the programs stat'ed, /etc/passwd read), which every run on
// such an image pays in its probe and its deploy.
func BenchmarkDiscoverLayout(b *testing.B) {
	env.Require(b)
	ctx := context.Background()
	cli, err := Connect(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	tag := "chaoscheck-test/bench-layout:1"
	importTestImage(b, cli, tag, map[string]string{
		"usr/": "", "usr/bin/": "", "usr/local/": "", "usr/local/bin/": "", "etc/": "", "bin": "->usr/bin",
		"usr/bin/env": "x", "usr/local/bin/redis-server": "x",
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nredis:x:999:999::/data:/bin/sh\n",
	})
	needs := cluster.NodeNeeds{Programs: []cluster.Program{{Name: "env"}, {Name: "redis-server"}}, Users: []string{"redis"}}
	rt := Runtime{Target: "redis", Image: tag}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := rt.Layout(ctx, needs); err != nil {
			b.Fatal(err)
		}
	}
}
