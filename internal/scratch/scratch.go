// Package scratch makes temporary directories that no run leaves behind:
// the checker's per-key spill of a history can be as big as the history,
// and a run killed while it checks must not strand it.
//
// Invariants, and why:
//
//   - A directory's journal exists before the directory does: a journal
//     file in the journal directory names the directory and its owner (pid
//     and start time, package proc), written and synced first. A crash at
//     any point then leaves either nothing, a journal of a directory not
//     yet made (heal deletes the journal), or both (heal deletes both).
//   - The journal goes last: Remove deletes the directory, then its
//     journal; a crash in between leaves a journal whose directory is
//     gone, which heal deletes.
//   - Heal touches only directories of dead owners (pid reuse is caught by
//     the start time), so a live run's scratch is never removed under it,
//     and only directories whose name has this package's prefix, so a
//     corrupt or forged journal cannot make heal delete anything else.
package scratch

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/chaoscheck/chaoscheck/internal/proc"
)

// DefaultJournalDir is where chaoscheck journals what it creates on this
// machine (chaoscheck heal's default --journal-dir).
const DefaultJournalDir = "/run/chaoscheck"

// Prefix starts the base name of every scratch directory.
const Prefix = ".chaoscheck-scratch-"

// journalPattern matches the journal files of this package.
// (scratch-<owner pid>-<unique>.json).
const journalPattern = "scratch-*.json"

// entry is what a journal file holds.
type entry struct {
	Dir        string `json:"dir"`
	OwnerPID   int    `json:"owner_pid"`
	OwnerStart uint64 `json:"owner_start"`
}

// Dir is a journaled scratch directory.
type Dir struct {
	// Path is the directory.
	Path    string
	journal string
}

// JournalDir is where this process journals its scratch directories
// when the caller names none: dir if it can be created and written
// (chaoscheck heal's --journal-dir, /run/chaoscheck for root), else a
// directory of this user's under the system temp directory.
func JournalDir(dir string) string {
	if err := os.MkdirAll(dir, 0o755); err == nil {
		if f, err := os.CreateTemp(dir, ".probe-"); err == nil {
			f.Close()
			os.Remove(f.Name())
			return dir
		}
	}
	return UserJournalDir()
}

// UserJournalDir is the fallback journal directory of this user.
func UserJournalDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("chaoscheck-%d", os.Getuid()))
}

// Make journals, then creates, a new scratch directory under parent whose
// name starts with Prefix and then pattern. The caller must Remove it.
func Make(journalDir, parent, pattern string) (*Dir, error) {
	start, err := proc.Start(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("scratch: own start time: %w", err)
	}
	if err := os.MkdirAll(journalDir, 0o755); err != nil {
		return nil, fmt.Errorf("scratch: journal dir: %w", err)
	}
	// The journal's own name is reserved first (O_EXCL by CreateTemp);
	// the directory name is derived from it, so both are unique.
	jf, err := os.CreateTemp(journalDir, fmt.Sprintf("scratch-%d-*.json", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("scratch: journal: %w", err)
	}
	jpath := jf.Name()
	id := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(jpath), "scratch-"), ".json")
	abs, err := filepath.Abs(parent)
	if err != nil {
		jf.Close()
		os.Remove(jpath)
		return nil, fmt.Errorf("scratch: %w", err)
	}
	d := &Dir{Path: filepath.Join(abs, Prefix+pattern+id), journal: jpath}
	b, _ := json.Marshal(entry{Dir: d.Path, OwnerPID: os.Getpid(), OwnerStart: start})
	_, werr := jf.Write(b)
	serr := jf.Sync()
	cerr := jf.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(jpath)
		return nil, fmt.Errorf("scratch: journal: %w", err)
	}
	if err := os.Mkdir(d.Path, 0o700); err != nil {
		os.Remove(jpath)
		return nil, fmt.Errorf("scratch: %w", err)
	}
	return d, nil
}

// Remove deletes the directory, then its journal.
func (d *Dir) Remove() error {
	if err := os.RemoveAll(d.Path); err != nil {
		return fmt.Errorf("scratch: %w", err)
	}
	if err := os.Remove(d.journal); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("scratch: %w", err)
	}
	return nil
}

// HealAll removes the scratch directories, and their journals, of every
// dead owner journaled in journalDir; it returns what it removed. A
// journal that cannot be read is reported and left alone.
func HealAll(journalDir string) (removed []string, err error) {
	paths, err := filepath.Glob(filepath.Join(journalDir, journalPattern))
	if err != nil {
		return nil, fmt.Errorf("scratch: heal: %w", err)
	}
	var errs []error
	for _, p := range paths {
		b, rerr := os.ReadFile(p)
		if errors.Is(rerr, os.ErrNotExist) {
			continue // removed meanwhile by its owner
		}
		var e entry
		if rerr == nil && json.Unmarshal(b, &e) != nil {
			// Reserved but not (fully) written: its owner is between
			// CreateTemp and Write, or died there, before making any
			// directory. Once no process has the pid in its name, it
			// is a dead owner's and names nothing: delete it.
			if pid, ok := namePID(p); ok && !pidRunning(pid) {
				os.Remove(p)
			}
			continue
		}
		if rerr != nil || e.Dir == "" {
			errs = append(errs, fmt.Errorf("scratch: heal: unreadable journal %s", p))
			continue
		}
		if proc.Alive(e.OwnerPID, e.OwnerStart) {
			continue
		}
		if !strings.HasPrefix(filepath.Base(e.Dir), Prefix) || !filepath.IsAbs(e.Dir) {
			errs = append(errs, fmt.Errorf("scratch: heal: journal %s names %q, not a scratch directory: left alone", p, e.Dir))
			continue
		}
		if _, err := os.Lstat(e.Dir); err == nil {
			if err := os.RemoveAll(e.Dir); err != nil {
				errs = append(errs, fmt.Errorf("scratch: heal: %w", err))
				continue
			}
			removed = append(removed, "scratch dir "+e.Dir)
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("scratch: heal: %w", err))
		}
	}
	return removed, errors.Join(errs...)
}

// namePID is the owner's pid in a journal's name (scratch-<pid>-<id>.json).
func namePID(path string) (int, bool) {
	rest := strings.TrimPrefix(filepath.Base(path), "scratch-")
	pid, _, ok := strings.Cut(rest, "-")
	n, err := strconv.Atoi(pid)
	return n, ok && err == nil && n > 0
}

// pidRunning reports whether some process has pid.
func pidRunning(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}
