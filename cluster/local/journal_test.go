//go:build linux

package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// TestNewJournalNeverEmpty: a journal file is never seen without its owner
// in it, so a concurrent heal in another process can never take a journal
// being created for that of a dead run. A reader polls the path while
// journals are created and removed; every read must parse and name this
// process.
func TestNewJournalNeverEmpty(t *testing.T) {
	dir := t.TempDir()
	path := journalPath(dir, "race")
	var stop atomic.Bool
	var reads, bad atomic.Int64
	var firstBad atomic.Value
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			b, err := os.ReadFile(path)
			if err != nil {
				continue
			}
			reads.Add(1)
			var j journalData
			if err := json.Unmarshal(b, &j); err != nil || j.OwnerPID != os.Getpid() || j.OwnerStart == 0 {
				if bad.Add(1) == 1 {
					firstBad.Store(fmt.Sprintf("%q (%v)", b, err))
				}
			}
		}
	})
	for i := 0; i < 300; i++ {
		jr, err := newJournal(dir, "race")
		if err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatal(err)
		}
		if err := jr.update(func(j *journalData) { j.Subnet = "10.0.0.0/24" }); err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatal(err)
		}
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if reads.Load() == 0 {
		t.Fatal("the reader never saw a journal")
	}
	if n := bad.Load(); n > 0 {
		t.Fatalf("%d of %d reads saw a journal without its owner, first: %s", n, reads.Load(), firstBad.Load())
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestNewJournalExists: a second journal of the same prefix is refused,
// and the first is untouched.
func TestNewJournalExists(t *testing.T) {
	dir := t.TempDir()
	if _, err := newJournal(dir, "dup"); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(journalPath(dir, "dup"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = newJournal(dir, "dup")
	if !errors.Is(err, os.ErrExist) {
		t.Fatalf("second journal: %v, want an error wrapping ErrExist", err)
	}
	after, err := os.ReadFile(journalPath(dir, "dup"))
	if err != nil || string(after) != string(before) {
		t.Fatalf("the first journal changed: %q (%v)", after, err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.new"))
	if len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestHealAllRemovesDeadFresh: first contents that a dead process wrote
// and never linked are removed by HealAll; a live process's are kept.
func TestHealAllRemovesDeadFresh(t *testing.T) {
	dir := t.TempDir()
	dead := filepath.Join(dir, "journal-x.json.999999999.new") // above pid_max
	live := filepath.Join(dir, fmt.Sprintf("journal-y.json.%d.new", os.Getpid()))
	for _, p := range []string{dead, live} {
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := HealAll(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dead process's file kept: %v (report %+v)", err, rep)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("live process's file: %v", err)
	}
}
