package scratch

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The child mode: make a scratch directory, fill it, report it on
// stdout, and wait to be killed (TestHealRemovesDeadOwnersScratch).
func TestMain(m *testing.M) {
	if jd := os.Getenv("SCRATCH_CHILD_JOURNAL"); jd != "" {
		d, err := Make(jd, os.Getenv("SCRATCH_CHILD_PARENT"), "child-")
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		os.WriteFile(filepath.Join(d.Path, "key-0.jsonl"), make([]byte, 1<<20), 0o600)
		fmt.Println(d.Path)
		time.Sleep(time.Minute) // killed by the parent long before
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func TestMakeRemove(t *testing.T) {
	jd, parent := t.TempDir(), t.TempDir()
	d, err := Make(jd, parent, "check-keys-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(d.Path), Prefix+"check-keys-") || filepath.Dir(d.Path) != parent {
		t.Errorf("dir %s: want %s%s... under %s", d.Path, Prefix, "check-keys-", parent)
	}
	js, _ := filepath.Glob(filepath.Join(jd, journalPattern))
	if len(js) != 1 {
		t.Fatalf("journals %v, want 1", js)
	}
	var e entry
	b, _ := os.ReadFile(js[0])
	if err := json.Unmarshal(b, &e); err != nil || e.Dir != d.Path || e.OwnerPID != os.Getpid() {
		t.Errorf("journal %s: %+v (%v), want dir %s owner %d", b, e, err, d.Path, os.Getpid())
	}
	// A live owner's scratch is left alone by heal.
	if removed, err := HealAll(jd); err != nil || len(removed) != 0 {
		t.Errorf("heal of a live owner: removed %v, %v", removed, err)
	}
	if _, err := os.Stat(d.Path); err != nil {
		t.Errorf("heal removed a live owner's dir: %v", err)
	}
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Path); !os.IsNotExist(err) {
		t.Errorf("dir still there after Remove: %v", err)
	}
	if js, _ := filepath.Glob(filepath.Join(jd, "*")); len(js) != 0 {
		t.Errorf("journal dir after Remove: %v, want empty", js)
	}
}

func TestHealRemovesDeadOwnersScratch(t *testing.T) {
	jd, parent := t.TempDir(), t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SCRATCH_CHILD_JOURNAL="+jd, "SCRATCH_CHILD_PARENT="+parent)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _ := out.Read(buf)
	dir := strings.TrimSpace(string(buf[:n]))
	if !strings.HasPrefix(dir, parent) {
		cmd.Process.Kill()
		t.Fatalf("child said %q", dir)
	}
	// Alive: left alone.
	if removed, err := HealAll(jd); err != nil || len(removed) != 0 {
		t.Errorf("heal while the owner lives: removed %v, %v", removed, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	removed, err := HealAll(jd)
	if err != nil || len(removed) != 1 || removed[0] != "scratch dir "+dir {
		t.Errorf("heal after the owner died: removed %v, %v; want %s", removed, err, dir)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("dead owner's dir still there: %v", err)
	}
	if js, _ := filepath.Glob(filepath.Join(jd, "*")); len(js) != 0 {
		t.Errorf("journal dir after heal: %v, want empty", js)
	}
}

func TestHealLeavesWhatIsNotScratch(t *testing.T) {
	jd := t.TempDir()
	victim := t.TempDir()
	// A journal of a dead owner (pid 0 is nobody) naming a directory that
	// is not a scratch directory: heal must not delete it.
	b, _ := json.Marshal(entry{Dir: victim, OwnerPID: 0, OwnerStart: 1})
	os.WriteFile(filepath.Join(jd, "scratch-999999999-x.json"), b, 0o644)
	// An empty journal of a pid nobody has: deleted, nothing else.
	os.WriteFile(filepath.Join(jd, "scratch-999999998-y.json"), nil, 0o644)
	removed, err := HealAll(jd)
	if err == nil || !strings.Contains(err.Error(), "not a scratch directory") {
		t.Errorf("heal of a forged journal: %v, want it refused", err)
	}
	if len(removed) != 0 {
		t.Errorf("removed %v", removed)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("heal removed %s: %v", victim, err)
	}
	if _, err := os.Stat(filepath.Join(jd, "scratch-999999998-y.json")); !os.IsNotExist(err) {
		t.Errorf("empty journal of a dead pid left: %v", err)
	}
}
