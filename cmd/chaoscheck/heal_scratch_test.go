package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/internal/scratch"
)

// kill -9 of chaoscheck while it checks a history key by key leaves the
// per-key spill (as big as the history) in the run directory; `chaoscheck
// heal` must remove it, and its journal. The sim needs no root: the
// scratch is journaled where the user can write.
func TestHealAfterKill9MidCheck(t *testing.T) {
	bin := buildBinary(t)
	st := t.TempDir()
	var dir string
	// The check of a few hundred thousand ops spills for about a second;
	// the test polls for the spill and kills the run as soon as it is
	// seen. A machine fast enough to spill between two polls gets
	// another, longer run.
	for _, limit := range []string{"8s", "20s"} {
		cmd := exec.Command(bin, "test", "--store", st, "--name", "spill", "--rate", "0",
			"--concurrency", "20", "--workload", "register", "--nemesis", "none", "--time-limit", limit)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		deadline := time.After(3 * time.Minute)
	poll:
		for {
			m, _ := filepath.Glob(filepath.Join(st, "spill", "*", scratch.Prefix+"*"))
			if len(m) > 0 {
				cmd.Process.Kill()
				<-done
				dir = m[0]
				break poll
			}
			select {
			case <-done:
				break poll
			case <-deadline:
				cmd.Process.Kill()
				<-done
				t.Fatal("no run ended or spilled within 3 minutes")
			case <-time.After(time.Millisecond):
			}
		}
		if dir != "" {
			break
		}
	}
	if dir == "" {
		t.Fatal("both runs checked without a spill directory being seen")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the killed run's spill %s is not there: %v", dir, err)
	}
	out, err := exec.Command(bin, "heal").CombinedOutput()
	if err != nil {
		t.Fatalf("heal: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "removed scratch dir "+dir) {
		t.Errorf("heal said:\n%s\nwant it to name %s", out, dir)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("spill %s still there after heal: %v", dir, err)
	}
	for _, jd := range scratchJournalDirs(scratch.DefaultJournalDir) {
		js, _ := filepath.Glob(filepath.Join(jd, "scratch-*.json"))
		for _, j := range js {
			if b, _ := os.ReadFile(j); strings.Contains(string(b), dir) {
				t.Errorf("journal %s of the removed spill still there", j)
			}
		}
	}
}
