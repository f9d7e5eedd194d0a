//go:build linux

package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chaoscheck/chaoscheck/internal/proc"
)

// journalData is what a journal file holds: every resource of one cluster,
// recorded before it was created.
type journalData struct {
	Prefix string `json:"prefix"`
	// OwnerPID and OwnerStart identify the controller process that wrote
	// the journal (start time from /proc/<pid>/stat, field 22).
	OwnerPID   int    `json:"owner_pid"`
	OwnerStart uint64 `json:"owner_start"`
	Subnet     string `json:"subnet,omitempty"`
	// StateDir is the cluster's state directory, recorded before it is
	// created; RemoveStateDir says the cluster created it and Down and
	// HealAll delete it (false: it existed before, or is kept).
	StateDir       string `json:"state_dir,omitempty"`
	RemoveStateDir bool   `json:"remove_state_dir,omitempty"`
	CgroupDir      string `json:"cgroup_dir,omitempty"`
	// Namespaces are network namespace names, the switch first.
	Namespaces []string `json:"namespaces,omitempty"`
	// RootVeths are veths in the root namespace.
	RootVeths []string      `json:"root_veths,omitempty"`
	NftTables []nftTableRef `json:"nft_tables,omitempty"`
	// Iptables are iptables tables the delay shaper fills (flushed by
	// heal before the namespace goes).
	Iptables []iptablesRef `json:"iptables,omitempty"`
	// Cgroups are cgroup directories, parents before children.
	Cgroups []string      `json:"cgroups,omitempty"`
	Procs   []journalProc `json:"procs,omitempty"`
}

// iptablesRef is an iptables table in a namespace, and the binary that
// writes it (iptables-legacy or iptables-nft: they keep separate rules).
type iptablesRef struct {
	NS     string `json:"ns"`
	Binary string `json:"binary"`
	Table  string `json:"table"`
}

type nftTableRef struct {
	NS     string `json:"ns"`
	Family string `json:"family"`
	Name   string `json:"name"`
}

// journalProc is a started process. Start is its start time in clock
// ticks since boot (/proc/<pid>/stat field 22), so a reused pid is never
// killed.
type journalProc struct {
	Node  string `json:"node"`
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// journal is the on-disk record of a cluster's resources.
type journal struct {
	path   string
	mu     sync.Mutex
	data   journalData
	closed bool // Down is removing (or removed) the file: no more writes
}

// errJournalClosed is returned by update once the cluster is going down:
// a resource created now would not be journaled, so it must not be.
var errJournalClosed = errors.New("local: journal closed: the cluster is down")

// close makes every later update fail with errJournalClosed, so the file
// that Down deletes is never written again.
func (jr *journal) close() {
	jr.mu.Lock()
	defer jr.mu.Unlock()
	jr.closed = true
}

func journalPath(dir, prefix string) string {
	return filepath.Join(dir, "journal-"+prefix+".json")
}

// newJournal creates the journal file; it fails if one with the same
// prefix exists (a leftover: run HealAll, or a clash: pick another prefix).
//
// The file appears with its owner already in it: the first contents are
// written and synced to a file of this process's own (a name HealAll's
// glob does not match), then hard-linked to the journal's name, which
// fails if that exists (as O_EXCL would). A concurrent HealAll in another
// process therefore never sees an empty journal, which it would take for
// that of a dead run, delete, and with it the ".tmp" of the first update.
func newJournal(dir, prefix string) (*journal, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("local: journal dir: %w", err)
	}
	self, err := procStart(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("local: own start time: %w", err)
	}
	jr := &journal{path: journalPath(dir, prefix), data: journalData{Prefix: prefix, OwnerPID: os.Getpid(), OwnerStart: self}}
	b, err := json.MarshalIndent(&jr.data, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("local: journal: %w", err)
	}
	fresh := fmt.Sprintf("%s.%d.new", jr.path, os.Getpid())
	if err := writeSynced(fresh, b, os.O_EXCL); err != nil {
		return nil, fmt.Errorf("local: journal: %w", err)
	}
	defer os.Remove(fresh)
	if err := os.Link(fresh, jr.path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("local: journal %s exists: a cluster with prefix %q is running or was left behind (run HealAll / chaoscheck heal): %w", jr.path, prefix, err)
		}
		return nil, fmt.Errorf("local: journal: %w", err)
	}
	return jr, nil
}

// writeSynced writes b to a new file at path (flag: os.O_EXCL, or
// os.O_TRUNC to replace one) and syncs it.
func writeSynced(path string, b []byte, flag int) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|flag, 0o644)
	if err != nil {
		return err
	}
	_, werr := fh.Write(b)
	serr := fh.Sync()
	cerr := fh.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// update applies f to the journal and writes it to disk (atomically,
// synced) before returning.
func (jr *journal) update(f func(*journalData)) error {
	jr.mu.Lock()
	defer jr.mu.Unlock()
	if jr.closed {
		return errJournalClosed
	}
	f(&jr.data)
	b, err := json.MarshalIndent(&jr.data, "", "  ")
	if err != nil {
		return fmt.Errorf("local: journal: %w", err)
	}
	tmp := jr.path + ".tmp"
	if err := writeSynced(tmp, b, os.O_TRUNC); err != nil {
		return fmt.Errorf("local: journal: %w", err)
	}
	if err := os.Rename(tmp, jr.path); err != nil {
		return fmt.Errorf("local: journal: %w", err)
	}
	return nil
}

// procStart and alive: see package proc.
func procStart(pid int) (uint64, error) { return proc.Start(pid) }

func alive(pid int, start uint64) bool { return proc.Alive(pid, start) }

// HealReport says what HealAll found and removed.
type HealReport struct {
	// Journals are the journal files healed (and deleted).
	Journals []string
	// Skipped are journals of clusters whose controller process is still
	// running (another live run): left alone.
	Skipped []string
	// Removed describes each resource removed, e.g. "netns cc1a2b-n1".
	Removed []string
}

// HealAll removes what crashed runs left behind: for every journal in dir
// (DefaultJournalDir if empty) it kills the recorded processes whose start
// time still matches, thaws, empties and removes the cgroups (every helper
// command ran in one of them), deletes the nft tables, root-side veths and
// namespaces, checks that no process is left using the state directory
// (see stragglers; it waits up to StragglerTimeout and fails, keeping the
// journal and the directory, if one remains), removes the state directory
// if the run created it and did not keep it, then deletes the journal.
// Journals owned by another live process are skipped (reported in
// Skipped); those owned by the calling process are healed, so calling
// HealAll while this process holds a live Cluster destroys it.
//
// It runs under context.WithoutCancel bounded by CleanupTimeout.
func HealAll(ctx context.Context, dir string) (HealReport, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
	defer cancel()
	if dir == "" {
		dir = DefaultJournalDir
	}
	var rep HealReport
	paths, err := filepath.Glob(filepath.Join(dir, "journal-*.json"))
	if err != nil {
		return rep, fmt.Errorf("local: heal: %w", err)
	}
	var errs []error
	rep.Removed = append(rep.Removed, removeDeadFresh(dir)...)
	for _, p := range paths {
		r, err := healJournal(ctx, p, false)
		rep.Removed = append(rep.Removed, r.Removed...)
		rep.Skipped = append(rep.Skipped, r.Skipped...)
		rep.Journals = append(rep.Journals, r.Journals...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("local: heal: %w", err)
	}
	return rep, nil
}

// removeDeadFresh removes the first contents of journals (see newJournal)
// that a process which no longer runs wrote and never linked: it died
// between the two steps. It returns what it removed.
func removeDeadFresh(dir string) []string {
	paths, _ := filepath.Glob(filepath.Join(dir, "journal-*.json.*.new"))
	var out []string
	for _, p := range paths {
		pid, err := strconv.Atoi(strings.TrimSuffix(p[strings.LastIndexByte(strings.TrimSuffix(p, ".new"), '.')+1:], ".new"))
		if err != nil || pid <= 0 {
			continue
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			continue // alive (or its pid reused): left alone
		}
		if os.Remove(p) == nil {
			out = append(out, "unlinked journal "+p)
		}
	}
	return out
}

// healJournal removes everything one journal records. Unless force, a
// journal whose owner is another live process is skipped.
func healJournal(ctx context.Context, path string, force bool) (HealReport, error) {
	var rep HealReport
	b, err := os.ReadFile(path)
	if err != nil {
		return rep, fmt.Errorf("read journal: %w", err)
	}
	var j journalData
	if len(strings.TrimSpace(string(b))) > 0 {
		if err := json.Unmarshal(b, &j); err != nil {
			return rep, fmt.Errorf("journal %s: %w", path, err)
		}
	}
	if !force && j.OwnerPID != os.Getpid() && alive(j.OwnerPID, j.OwnerStart) {
		rep.Skipped = append(rep.Skipped, path)
		return rep, nil
	}
	var errs []error
	// Processes: SIGKILL each recorded process group whose leader is still
	// the recorded process, then cgroup.kill catches anything else.
	for _, p := range j.Procs {
		if alive(p.PID, p.Start) {
			if err := syscall.Kill(-p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("kill process group %d: %w", p.PID, err))
			} else {
				rep.Removed = append(rep.Removed, fmt.Sprintf("process %d (%s/%s)", p.PID, p.Node, p.Name))
			}
		}
	}
	// Cgroups, children first.
	cgs := slices.Clone(j.Cgroups)
	slices.SortFunc(cgs, func(a, b string) int { return len(b) - len(a) })
	for _, cg := range cgs {
		if _, err := os.Stat(cg); err != nil {
			continue
		}
		n := cgroupProcs(cg)
		if err := removeCgroup(ctx, cg); err != nil {
			if gone(cg) {
				continue // removed meanwhile (a concurrent Down)
			}
			errs = append(errs, err)
			continue
		}
		if n > 0 {
			rep.Removed = append(rep.Removed, fmt.Sprintf("cgroup %s (killed %d processes in it)", cg, n))
		} else {
			rep.Removed = append(rep.Removed, "cgroup "+cg)
		}
	}
	// Sweep cgroups under the cluster's cgroup that the journal did not
	// name (none expected).
	if j.CgroupDir != "" {
		if err := sweepCgroups(ctx, j.CgroupDir, &rep); err != nil {
			errs = append(errs, err)
		}
	}
	// iptables tables (the delay shaper's queue rules) in namespaces that
	// still exist.
	for _, t := range j.Iptables {
		if !netnsExists(t.NS) {
			continue
		}
		if err := runIn(ctx, t.NS, "", t.Binary, "-t", t.Table, "-F"); err != nil {
			if !netnsExists(t.NS) {
				continue
			}
			errs = append(errs, err)
			continue
		}
		rep.Removed = append(rep.Removed, fmt.Sprintf("iptables table %s (%s, netns %s)", t.Table, t.Binary, t.NS))
	}
	// nft tables in namespaces that still exist.
	for _, t := range j.NftTables {
		if !netnsExists(t.NS) {
			continue
		}
		if err := runIn(ctx, t.NS, "", "nft", "delete", "table", t.Family, t.Name); err != nil {
			if strings.Contains(err.Error(), "No such file") || !netnsExists(t.NS) {
				continue
			}
			errs = append(errs, err)
			continue
		}
		rep.Removed = append(rep.Removed, fmt.Sprintf("nft table %s %s (netns %s)", t.Family, t.Name, t.NS))
	}
	// Root-side veths before namespaces: `ip netns del` is asynchronous and
	// a lingering veth makes the next setup fail with "File exists".
	for _, v := range j.RootVeths {
		if !linkExists(v) {
			continue
		}
		if err := ip(ctx, "link", "del", v); err != nil {
			if !linkExists(v) {
				continue // removed meanwhile
			}
			errs = append(errs, err)
			continue
		}
		rep.Removed = append(rep.Removed, "veth "+v)
	}
	for i := len(j.Namespaces) - 1; i >= 0; i-- {
		ns := j.Namespaces[i]
		if !netnsExists(ns) {
			continue
		}
		if err := ip(ctx, "netns", "del", ns); err != nil {
			if !netnsExists(ns) {
				continue // removed meanwhile
			}
			errs = append(errs, err)
			continue
		}
		rep.Removed = append(rep.Removed, "netns "+ns)
	}
	// Nothing of the run may still run: not in its cgroups (removed
	// above, which waits until each is empty) and not outside them, using
	// its state directory.
	if err := waitNoStragglers(ctx, j.StateDir, j.RemoveStateDir); err != nil {
		errs = append(errs, fmt.Errorf("state dir %s: %w", j.StateDir, err))
	} else if j.RemoveStateDir {
		if _, err := os.Lstat(j.StateDir); err == nil {
			if err := removeStateDir(j.StateDir); err != nil {
				errs = append(errs, err)
			} else {
				rep.Removed = append(rep.Removed, "state dir "+j.StateDir)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("heal %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return rep, fmt.Errorf("remove journal: %w", err)
	}
	_ = os.Remove(path + ".tmp")
	rep.Journals = append(rep.Journals, path)
	return rep, nil
}

// sweepCgroups removes dir's subdirectories (deepest first) and dir.
func sweepCgroups(ctx context.Context, dir string, rep *HealReport) error {
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("walk %s: %w", dir, err)
	}
	var errs []error
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := removeCgroup(ctx, dirs[i]); err != nil {
			if !gone(dirs[i]) {
				errs = append(errs, err)
			}
			continue
		}
		rep.Removed = append(rep.Removed, "cgroup "+dirs[i])
	}
	return errors.Join(errs...)
}

// gone reports whether path no longer exists. Healing checks it after a
// failed removal: two heals of one journal (Down and the fast teardown of
// a second Ctrl-C) may race, and a resource the other one removed is not
// an error.
func gone(path string) bool {
	_, err := os.Lstat(path)
	return errors.Is(err, os.ErrNotExist)
}

// netnsExists reports whether /run/netns/<name> exists.
func netnsExists(name string) bool {
	_, err := os.Stat(filepath.Join("/run/netns", name))
	return err == nil
}

// linkExists reports whether a link of that name is in the root namespace.
func linkExists(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

// pollUntil calls cond every few milliseconds until it returns true, ctx is
// done, or timeout passes.
func pollUntil(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	return pollEvery(ctx, timeout, 2*time.Millisecond, cond)
}

// pollEvery calls cond every period until it returns true, ctx is done,
// or timeout passes.
func pollEvery(ctx context.Context, timeout, period time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return cond()
		case <-t.C:
		}
	}
}

// TeardownOwn removes the clusters of the calling process (the journals
// it owns), as HealAll does, but bounded by ctx alone: it is the fast
// teardown of a second Ctrl-C, which must not outlast the user's
// patience. Use List afterwards to see what, if anything, is left.
func TeardownOwn(ctx context.Context, dir string) (HealReport, error) {
	if dir == "" {
		dir = DefaultJournalDir
	}
	var rep HealReport
	paths, err := filepath.Glob(filepath.Join(dir, "journal-*.json"))
	if err != nil {
		return rep, fmt.Errorf("local: teardown: %w", err)
	}
	var errs []error
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // removed meanwhile (by Down)
		}
		var j journalData
		if json.Unmarshal(b, &j) != nil || j.OwnerPID != os.Getpid() {
			continue
		}
		r, err := healJournal(ctx, p, true)
		rep.Removed = append(rep.Removed, r.Removed...)
		rep.Journals = append(rep.Journals, r.Journals...)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("local: teardown: %w", err)
	}
	return rep, nil
}
