//go:build linux

package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// upTemp starts a cluster whose state directory is the default one,
// under a TMPDIR of the test's own.
func upTemp(t *testing.T, subnet string, keep bool) (*Cluster, Config) {
	t.Helper()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	cfg := Config{Nodes: 1, Subnet: netip.MustParsePrefix(subnet), JournalDir: t.TempDir(), Prefix: RandomPrefix(), KeepStateDir: keep, Target: "unit"}
	c, err := Up(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(tmp, "chaoscheck-unit-"+cfg.Prefix); c.StateDir() != want {
		t.Errorf("state dir %s, want %s", c.StateDir(), want)
	}
	if err := os.WriteFile(filepath.Join(c.StateDir(), "data"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return c, cfg
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// Issue 11 case 3: every run left its state directory behind.
func TestDownRemovesStateDirUnlessKept(t *testing.T) {
	requireTools(t)
	c, _ := upTemp(t, "10.78.3.0/24", false)
	dir := c.StateDir()
	if k := c.KeptStateDir(); k != "" {
		t.Errorf("KeptStateDir %q for a directory Down removes", k)
	}
	if err := c.Down(t.Context()); err != nil {
		t.Fatal(err)
	}
	if exists(dir) {
		t.Errorf("state dir %s left after Down", dir)
	}

	c, cfg := upTemp(t, "10.78.3.0/24", true)
	dir = c.StateDir()
	if k := c.KeptStateDir(); k != dir {
		t.Errorf("KeptStateDir %q, want %q", k, dir)
	}
	if err := c.Down(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(dir, "data")) {
		t.Errorf("kept state dir %s removed by Down", dir)
	}
	checkNoLeftovers(t, cfg)

	// A directory that existed before is never removed.
	cfg = Config{Nodes: 1, Subnet: netip.MustParsePrefix("10.78.3.0/24"), JournalDir: t.TempDir(), StateDir: t.TempDir()}
	c, err := Up(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Down(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !exists(cfg.StateDir) {
		t.Errorf("pre-existing state dir %s removed by Down", cfg.StateDir)
	}
}

// Issue 11 case 3: heal did not touch the state directories of dead runs.
func TestHealRemovesStateDirOfDeadRun(t *testing.T) {
	requireTools(t)
	c, cfg := upTemp(t, "10.78.4.0/24", false)
	dir := c.StateDir()
	c = nil // crash: dropped without Down
	rep, err := HealAll(t.Context(), cfg.JournalDir)
	if err != nil {
		t.Fatal(err)
	}
	if exists(dir) {
		t.Errorf("state dir %s left after HealAll (%v)", dir, rep.Removed)
	}
	if !strings.Contains(strings.Join(rep.Removed, "\n"), "state dir "+dir) {
		t.Errorf("report does not name the state dir: %v", rep.Removed)
	}
	checkNoLeftovers(t, cfg)
}

// The state directory of a live run (another process owns the journal)
// is never deleted; one kept with KeepStateDir survives heal.
func TestHealKeepsLiveAndKeptStateDirs(t *testing.T) {
	jdir := t.TempDir()
	self, err := procStart(1)
	if err != nil {
		t.Skip("no /proc/1/stat:", err)
	}
	live, kept := t.TempDir(), t.TempDir()
	j := fmt.Sprintf(`{"prefix":"zz11","owner_pid":1,"owner_start":%d,"state_dir":%q,"remove_state_dir":true}`, self, live)
	if err := os.WriteFile(journalPath(jdir, "zz11"), []byte(j), 0o644); err != nil {
		t.Fatal(err)
	}
	j = fmt.Sprintf(`{"prefix":"zz12","owner_pid":999999999,"state_dir":%q}`, kept)
	if err := os.WriteFile(journalPath(jdir, "zz12"), []byte(j), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := HealAll(t.Context(), jdir)
	if err != nil {
		t.Fatal(err)
	}
	if !exists(live) || !exists(kept) {
		t.Errorf("live run's dir exists %v, kept dir exists %v (report %+v)", exists(live), exists(kept), rep)
	}
	if len(rep.Skipped) != 1 || len(rep.Journals) != 1 {
		t.Errorf("HealAll: %+v", rep)
	}
}

// Issue 11 case 4: heal reported success while a process of the run,
// outside its cgroups, was still writing into its state directory. It
// must fail, keeping the journal and the directory, until that process
// is gone.
func TestHealFailsWhileAProcessUsesTheStateDir(t *testing.T) {
	jdir, dir := t.TempDir(), t.TempDir()
	j := fmt.Sprintf(`{"prefix":"zz13","owner_pid":999999999,"state_dir":%q,"remove_state_dir":true}`, dir)
	if err := os.WriteFile(journalPath(jdir, "zz13"), []byte(j), 0o644); err != nil {
		t.Fatal(err)
	}
	// A leftover in no cgroup: its cwd is in the state dir.
	straggler := exec.Command("sleep", "600")
	straggler.Dir = dir
	if err := straggler.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := make(chan struct{})
	go func() { _ = straggler.Wait(); close(reaped) }()
	defer straggler.Process.Kill()

	rep, err := HealAll(t.Context(), jdir)
	if err == nil {
		t.Fatalf("HealAll succeeded while process %d uses the state dir: %+v", straggler.Process.Pid, rep)
	}
	t.Logf("HealAll: %v", err)
	if !strings.Contains(err.Error(), fmt.Sprintf("process %d ", straggler.Process.Pid)) {
		t.Errorf("error does not name process %d: %v", straggler.Process.Pid, err)
	}
	if !exists(dir) || !exists(journalPath(jdir, "zz13")) {
		t.Errorf("state dir (%v) or journal (%v) removed although the run is not dead", exists(dir), exists(journalPath(jdir, "zz13")))
	}
	_ = straggler.Process.Kill()
	<-reaped
	if rep, err := HealAll(t.Context(), jdir); err != nil || exists(dir) || exists(journalPath(jdir, "zz13")) {
		t.Errorf("HealAll once the process is gone: %+v %v (dir exists %v)", rep, err, exists(dir))
	}
}

func TestNamesPath(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"/tmp/x", true}, {"-D/tmp/x/n1/data", true}, {"dir=/tmp/x", true}, {"/tmp/x x", true},
		{"/tmp/x2", false}, {"/tmp/x-1", false}, {"/tmp/y", false}, {"/tmp/x2 /tmp/x/a", true},
	} {
		if got := namesPath(c.s, "/tmp/x"); got != c.want {
			t.Errorf("namesPath(%q, /tmp/x) = %v, want %v", c.s, got, c.want)
		}
	}
}

// execController is the controller process of
// TestExecOfKilledControllerIsHealed: it brings a cluster up, prints
// "ready <state dir>", and runs a command that forks a grandchild, until
// it is SIGKILLed.
func execController() error {
	ctx := context.Background()
	c, err := Up(ctx, Config{Nodes: 1, Subnet: netip.MustParsePrefix(os.Getenv("CHAOSCHECK_EXEC_SUBNET")),
		JournalDir: os.Getenv("CHAOSCHECK_EXEC_CONTROLLER"), Target: "unit"})
	if err != nil {
		return err
	}
	fmt.Printf("ready %s\n", c.StateDir())
	_, err = c.Exec(ctx, "n1", Command{Path: "/bin/sh", Args: []string{"-c", "sleep 600 & sleep 600; wait"}, Dir: c.StateDir(), Timeout: 10 * time.Minute})
	return err
}

// Issue 11 case 4: a helper command (and what it forked) of a controller
// killed with SIGKILL is found and killed by HealAll: the command is born
// in a journaled cgroup; the direct child also dies at once by its
// parent-death signal.
func TestExecOfKilledControllerIsHealed(t *testing.T) {
	requireTools(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	jdir, tmp := t.TempDir(), t.TempDir()
	ctl := exec.Command(exe, "-test.run=^$")
	ctl.Env = append(os.Environ(), "CHAOSCHECK_EXEC_CONTROLLER="+jdir, "CHAOSCHECK_EXEC_SUBNET=10.78.5.0/24", "TMPDIR="+tmp)
	ctl.Stderr = os.Stderr
	stdout, err := ctl.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	defer ctl.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("controller: %v", err)
	}
	dir := strings.TrimSpace(strings.TrimPrefix(line, "ready "))
	count := func(name string) int {
		n := 0
		for _, s := range stragglers(dir, true) {
			if strings.HasPrefix(s.args, name) {
				n++
			}
		}
		return n
	}
	if !pollUntil(t.Context(), 10*time.Second, func() bool { return count("sleep") == 2 }) {
		t.Fatalf("the command's processes never ran: %v", stragglers(dir, true))
	}
	if err := ctl.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = ctl.Wait()
	if !pollUntil(t.Context(), 5*time.Second, func() bool { return count("/bin/sh") == 0 }) {
		t.Errorf("the command outlived its controller (no parent-death signal)")
	}
	if count("sleep") != 2 {
		t.Fatalf("want the grandchildren alive until heal (so the test proves something), got %v", stragglers(dir, true))
	}
	rep, err := HealAll(t.Context(), jdir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HealAll removed %v", rep.Removed)
	if left := stragglers(dir, true); len(left) > 0 {
		t.Errorf("left alive after HealAll: %v", left)
	}
	if exists(dir) {
		t.Errorf("state dir %s left after HealAll", dir)
	}
	if m, _ := filepath.Glob(filepath.Join(jdir, "journal-*")); len(m) > 0 {
		t.Errorf("journals left: %v", m)
	}
}

// Exec kills what a command leaves behind when it exits, and a command
// past its timeout with everything it forked.
func TestExecLeavesNothingRunning(t *testing.T) {
	requireTools(t)
	c, cfg := upTemp(t, "10.78.6.0/24", false)
	defer c.Down(context.WithoutCancel(t.Context()))
	dir := c.StateDir()
	out, err := c.Exec(t.Context(), "n1", Command{Path: "/bin/sh", Args: []string{"-c", "sleep 600 >/dev/null 2>&1 & echo started"}, Dir: dir})
	if err != nil || strings.TrimSpace(string(out)) != "started" {
		t.Fatalf("Exec: %q %v", out, err)
	}
	if left := stragglers(dir, true); len(left) > 0 {
		t.Errorf("left running by Exec: %v", left)
	}
	start := time.Now()
	_, err = c.Exec(t.Context(), "n1", Command{Path: "/bin/sh", Args: []string{"-c", "sleep 600 & sleep 600"}, Dir: dir, Timeout: 300 * time.Millisecond})
	var ce *CommandError
	if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec past its timeout: %v", err)
	}
	t.Logf("timed out Exec returned after %v: %v", time.Since(start), err)
	if left := stragglers(dir, true); len(left) > 0 {
		t.Errorf("left running by a timed-out Exec: %v", left)
	}
	b, err := os.ReadFile(journalPath(cfg.JournalDir, cfg.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "x-sh-") {
		t.Errorf("journal still records finished commands:\n%s", b)
	}
	if err := c.Down(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkNoLeftovers(t, cfg)
	if exists(dir) {
		t.Errorf("state dir left")
	}
}
