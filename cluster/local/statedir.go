//go:build linux

package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// StragglerTimeout bounds how long HealAll and Down wait for processes
// that use a run's state directory (outside its cgroups) to go away
// before they fail.
const StragglerTimeout = 5 * time.Second

// Fresh is how a target brings up its cluster: it removes what crashed
// earlier runs left (HealAll: note that this also removes live clusters of
// this very process), then calls Up with the state directory named after
// target (chaoscheck-<target>-<prefix> under os.TempDir() when
// cfg.StateDir is empty) for servers running as uid, and a random prefix
// when cfg has none.
func Fresh(ctx context.Context, target string, uid uint32, cfg Config) (*Cluster, error) {
	if _, err := HealAll(ctx, ""); err != nil {
		return nil, fmt.Errorf("%s: remove leftovers of earlier runs: %w", target, err)
	}
	cfg.Target = target
	cfg.ServerUID = uid
	if cfg.Prefix == "" {
		cfg.Prefix = RandomPrefix()
	}
	c, err := Up(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", target, err)
	}
	return c, nil
}

// createStateDir makes the cluster's state directory, journaling it
// before it exists. A directory it creates is recorded to be removed by
// Down and HealAll (unless cfg.KeepStateDir); one that existed already
// (given in cfg.StateDir) is never removed. It returns the absolute path
// and whether it will be removed.
func createStateDir(jr *journal, cfg Config) (string, bool, error) {
	remove := !cfg.KeepStateDir
	record := func(dir string, remove bool) error {
		return jr.update(func(j *journalData) { j.StateDir, j.RemoveStateDir = dir, remove })
	}
	var dir string
	if cfg.StateDir != "" {
		d, err := filepath.Abs(cfg.StateDir)
		if err != nil {
			return "", false, fmt.Errorf("state dir: %w", err)
		}
		dir = d
		if _, err := os.Stat(dir); err == nil {
			remove = false // not ours
			if err := record(dir, false); err != nil {
				return "", false, err
			}
		} else {
			if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
				return "", false, fmt.Errorf("state dir: %w", err)
			}
			if err := record(dir, remove); err != nil {
				return "", false, err
			}
			if err := os.Mkdir(dir, 0o755); err != nil {
				// Not ours (created meanwhile) or not created: never remove.
				return "", false, errors.Join(fmt.Errorf("state dir: %w", err), record("", false))
			}
		}
	} else {
		name := cfg.Target
		if name == "" {
			name = "local"
		}
		base := filepath.Join(os.TempDir(), "chaoscheck-"+name+"-"+cfg.Prefix)
		for try := 0; ; try++ {
			dir = base
			if try > 0 {
				var b [3]byte
				_, _ = rand.Read(b[:])
				dir = base + "-" + hex.EncodeToString(b[:])
			}
			if err := record(dir, remove); err != nil {
				return "", false, err
			}
			err := os.Mkdir(dir, 0o755)
			if err == nil {
				break
			}
			if !errors.Is(err, os.ErrExist) || try == 4 {
				return "", false, errors.Join(fmt.Errorf("state dir: %w", err), record("", false))
			}
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return dir, remove, fmt.Errorf("state dir: %w", err)
	}
	return dir, remove, checkSearchable(dir, cfg.ServerUID)
}

// checkSearchable fails, when the servers run as an unprivileged user
// (uid != 0), if an ancestor of dir is not searchable by others: a server
// that cannot reach its data directory fails at start with an error far
// from the cause.
func checkSearchable(dir string, uid uint32) error {
	if uid == 0 {
		return nil
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("state dir ancestor: %w", err)
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("state dir %s: ancestor %s (mode %v) is not searchable by uid %d, which the servers run as; choose a state dir under a world-searchable directory", dir, p, st.Mode().Perm(), uid)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// removeStateDir deletes a state directory recorded in a journal. It
// refuses paths that cannot be a state directory (relative, or the root
// or a top-level directory).
func removeStateDir(dir string) error {
	clean := filepath.Clean(dir)
	if !filepath.IsAbs(clean) || strings.Count(clean, "/") < 2 {
		return fmt.Errorf("refusing to remove state dir %q: not a state directory path", dir)
	}
	if err := os.RemoveAll(clean); err != nil {
		return fmt.Errorf("remove state dir: %w", err)
	}
	return nil
}

// straggler is a live process that uses a run's state directory.
type straggler struct {
	pid  int
	why  string // "cwd" or "argument"
	args string
}

func (s straggler) String() string {
	return fmt.Sprintf("process %d (%s in the state dir: %s)", s.pid, s.why, s.args)
}

// stragglers lists the live processes (zombies excluded, and never this
// one) that have an argument naming dir or something under it, or, when
// cwdToo, their working directory under dir: what a run left running
// outside its cgroups (initdb's postgres --boot, a daemonized helper).
// The working directory only counts for directories the run created
// (a user may sit in a kept one).
func stragglers(dir string, cwdToo bool) []straggler {
	if dir == "" {
		return nil
	}
	dir = filepath.Clean(dir)
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []straggler
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if !alive(pid, mustStart(pid)) {
			continue
		}
		cl, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")
		argsText := strings.Join(args, " ")
		if len(argsText) > 200 {
			argsText = argsText[:200] + "..."
		}
		found := false
		for _, a := range args {
			if namesPath(a, dir) {
				out = append(out, straggler{pid: pid, why: "argument", args: argsText})
				found = true
				break
			}
		}
		if found || !cwdToo {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err == nil && (cwd == dir || strings.HasPrefix(cwd, dir+"/")) {
			out = append(out, straggler{pid: pid, why: "cwd", args: argsText})
		}
	}
	return out
}

// mustStart is procStart without the error (0 when unreadable).
func mustStart(pid int) uint64 {
	st, _ := procStart(pid)
	return st
}

// namesPath reports whether s contains path p as a whole path (followed
// by the end, a slash or a character that cannot continue a file name
// component such as '=' or ' '), e.g. "-D/tmp/x/n1" names /tmp/x but
// "/tmp/x2" does not.
func namesPath(s, p string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], p)
		if j < 0 {
			return false
		}
		end := i + j + len(p)
		if end == len(s) {
			return true
		}
		switch c := s[end]; {
		case c == '/', c == ' ', c == '=', c == ':', c == ',', c == '\'', c == '"':
			return true
		}
		i = i + j + 1
	}
}

// waitNoStragglers waits, bounded by StragglerTimeout, until no process
// uses dir (see stragglers), and fails naming those that remain.
func waitNoStragglers(ctx context.Context, dir string, cwdToo bool) error {
	var left []straggler
	ok := pollEvery(ctx, StragglerTimeout, 50*time.Millisecond, func() bool {
		left = stragglers(dir, cwdToo)
		return len(left) == 0
	})
	if ok {
		return nil
	}
	msgs := make([]string, len(left))
	for i, s := range left {
		msgs[i] = s.String()
	}
	return fmt.Errorf("still alive after %v, outside the run's cgroups (stop them, then run chaoscheck heal again): %s", StragglerTimeout, strings.Join(msgs, "; "))
}
