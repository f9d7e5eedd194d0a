package runner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/targets/sim"
)

// fullDisk accepts limit bytes, then fails every write with ENOSPC, like a
// file on a full disk (the write that crosses the limit is partial).
type fullDisk struct {
	mu    sync.Mutex
	limit int
	buf   bytes.Buffer
}

func (d *fullDisk) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	room := d.limit - d.buf.Len()
	if room >= len(p) {
		return d.buf.Write(p)
	}
	d.buf.Write(p[:max(room, 0)])
	return max(room, 0), &os.PathError{Op: "write", Path: "history.jsonl", Err: syscall.ENOSPC}
}

func (d *fullDisk) bytes() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return bytes.Clone(d.buf.Bytes())
}

// checkFailedRunDir asserts that a run stopped by a failed history write
// left no results and no report behind, half-written or not.
func checkFailedRunDir(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if strings.HasPrefix(name, rundir.ResultsFile) || strings.HasSuffix(name, ".html") || strings.HasSuffix(name, ".tmp") || name == "junit.xml" {
			t.Errorf("left behind: %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A history write that fails stops the run at once: the clients stop long
// before the time limit, the faults are healed, and Run returns an error
// that says why (exit 255), instead of running on with the history held in
// memory only and reporting a verdict on ops that are not on disk.
func TestHistoryWriteFailureStopsRun(t *testing.T) {
	root := t.TempDir()
	disk := &fullDisk{limit: 200 << 10}
	cfg := Config{
		Name: "full", StoreRoot: root, Target: noopTarget{},
		Workloads:   mustWorkloads(t, "register", "ryw"),
		Concurrency: 8, TimeLimit: time.Minute, Seed: 3,
	}
	cfg.historyWriter = func(string) (*history.Writer, error) { return history.NewWriter(disk), nil }
	start := time.Now()
	out, err := Run(context.Background(), cfg)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("a failed history write gave no error (verdict %s after %v)", out.Results.Verdict, took)
	}
	if !errors.Is(err, ErrSetup) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("error %q: want ErrSetup naming the write failure", err)
	}
	if took > cfg.TimeLimit/2 {
		t.Fatalf("the run went on for %v after the history could not be written (time limit %v)", took, cfg.TimeLimit)
	}
	// What reached the disk is a history prefix that reads back.
	h, _, rerr := history.ReadJSONL(bytes.NewReader(disk.bytes()))
	if rerr != nil || len(h.Ops) == 0 {
		t.Fatalf("the written prefix does not read back: %v", rerr)
	}
	checkFailedRunDir(t, root)
}

// The same on a real full disk: a 2 MiB tmpfs as the store (root only).
// The history file keeps a readable prefix of whole lines, and nothing
// half-written is left next to it.
func TestFullDiskTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("mounting a tmpfs needs root, and CI runs as root")
		}
		t.Skip("mounting a tmpfs needs root (set CI to make this a failure)")
	}
	tiny := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", tiny).CombinedOutput(); err != nil {
		t.Fatalf("cannot mount a tmpfs as root: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", tiny).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", tiny, err, out)
		}
	})
	target, err := sim.New(sim.Config{Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Name: "tiny", StoreRoot: tiny, Target: target,
		Workloads:   mustWorkloads(t, "register", "ryw"),
		Concurrency: 20, TimeLimit: time.Minute, Seed: 4,
	}
	start := time.Now()
	out, err := Run(context.Background(), cfg)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("a full disk gave no error (verdict %s after %v)", out.Results.Verdict, took)
	}
	if !errors.Is(err, ErrSetup) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("error %q: want ErrSetup naming the full disk", err)
	}
	if took > cfg.TimeLimit/2 {
		t.Fatalf("the run went on for %v on a full disk (time limit %v)", took, cfg.TimeLimit)
	}
	paths, _ := filepath.Glob(filepath.Join(tiny, "tiny", "2*", rundir.HistoryFile))
	if len(paths) != 1 {
		t.Fatalf("history files: %v", paths)
	}
	h, info, err := history.Load(paths[0], history.FormatJSONL)
	if err != nil || len(h.Ops) == 0 || info.Truncated {
		t.Fatalf("history on the full disk: %v (%+v)", err, info)
	}
	// A figure for the note, not an assertion (the machine is noisy): how
	// long the run went on after the last operation that reached the
	// disk, which bounds the time from the first failed write to the
	// return of Run from above (the writer flushes every 100 ms).
	last := time.Duration(h.Ops[len(h.Ops)-1].Time)
	t.Logf("full disk: %d ops on disk, the last at %v of the run; Run returned %v after the start (%v after that op, healing included)",
		len(h.Ops), last.Round(time.Millisecond), took.Round(time.Millisecond), (took - last).Round(time.Millisecond))
	checkFailedRunDir(t, tiny)
}
