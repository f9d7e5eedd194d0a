//go:build linux

package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// cgroup2Mount finds the cgroup v2 mount point in /proc/self/mountinfo
// (/sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid
// one) and checks it can freeze and kill.
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("local: read mountinfo: %w", err)
	}
	defer f.Close()
	var found string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "id parent maj:min root mountpoint opts ... - fstype source superopts"
		line := sc.Text()
		sep := strings.Index(line, " - ")
		if sep < 0 {
			continue
		}
		post := strings.Fields(line[sep+3:])
		pre := strings.Fields(line[:sep])
		if len(post) < 1 || post[0] != "cgroup2" || len(pre) < 5 {
			continue
		}
		found = unescapeMount(pre[4])
		break
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("local: read mountinfo: %w", err)
	}
	if found == "" {
		return "", errors.New("local: no cgroup v2 (cgroup2) mount found in /proc/self/mountinfo: mount one, e.g. `mount -t cgroup2 none /sys/fs/cgroup/unified`")
	}
	if _, err := os.Stat(filepath.Join(found, "cgroup.procs")); err != nil {
		return "", fmt.Errorf("local: cgroup2 mount %s unusable: %w", found, err)
	}
	return found, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			v := (int(s[i+1]-'0') << 6) | (int(s[i+2]-'0') << 3) | int(s[i+3]-'0')
			b.WriteByte(byte(v))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupWrite writes a value to a cgroup control file.
func cgroupWrite(dir, file, value string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0); err != nil {
		return fmt.Errorf("write %s to %s/%s: %w", strings.TrimSpace(value), dir, file, err)
	}
	return nil
}

// cgroupEvent returns the value of key in cgroup.events ("populated",
// "frozen"), or "" if it cannot be read.
func cgroupEvent(dir, key string) string {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// cgroupProcs returns the number of processes directly in a cgroup.
func cgroupProcs(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return 0
	}
	return len(strings.Fields(string(b)))
}

// setFrozen freezes or thaws a cgroup and waits, bounded, until
// cgroup.events confirms it.
func setFrozen(ctx context.Context, dir string, frozen bool) error {
	want := "0"
	if frozen {
		want = "1"
	}
	if err := cgroupWrite(dir, "cgroup.freeze", want); err != nil {
		return err
	}
	if !pollUntil(ctx, FreezeTimeout, func() bool { return cgroupEvent(dir, "frozen") == want }) {
		return fmt.Errorf("cgroup %s: cgroup.events never showed frozen %s (waited up to %v)", dir, want, FreezeTimeout)
	}
	return nil
}

// killCgroup SIGKILLs every process in the cgroup and its descendants and
// waits, bounded, until it is empty.
func killCgroup(ctx context.Context, dir string) error {
	if err := cgroupWrite(dir, "cgroup.kill", "1"); err != nil {
		return err
	}
	if !pollUntil(ctx, KillTimeout, func() bool { return cgroupEvent(dir, "populated") == "0" }) {
		return fmt.Errorf("cgroup %s still populated after cgroup.kill (waited up to %v)", dir, KillTimeout)
	}
	return nil
}

// removeCgroup thaws, empties and removes a cgroup directory (which must
// have no child cgroups).
func removeCgroup(ctx context.Context, dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	_ = cgroupWrite(dir, "cgroup.freeze", "0")
	if cgroupEvent(dir, "populated") != "0" {
		if err := killCgroup(ctx, dir); err != nil {
			return err
		}
	}
	var err error
	// rmdir can briefly fail with EBUSY right after the last task exits.
	ok := pollUntil(ctx, KillTimeout, func() bool {
		err = os.Remove(dir)
		return err == nil || errors.Is(err, os.ErrNotExist)
	})
	if !ok {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return nil
}

// signalTree SIGKILLs every process of a cgroup and its descendants
// without cgroup.kill: the cgroup is frozen first so nothing forks while
// the pids are read, then thawed so the kills land, and the wait is
// bounded by KillTimeout. Kill uses it for cgroups that get new processes
// afterwards: on this machine's kernel, a process cloned into a cgroup
// (CLONE_INTO_CGROUP) after a cgroup.kill on it was SIGKILLed at once
// (measured), which made Restart fail.
func signalTree(ctx context.Context, dir string) error {
	if err := setFrozen(ctx, dir, true); err != nil {
		return err
	}
	var errs []error
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			return err
		}
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("kill %d: %w", pid, err))
			}
		}
		return nil
	})
	errs = append(errs, err, setFrozen(ctx, dir, false))
	if !pollUntil(ctx, KillTimeout, func() bool { return cgroupEvent(dir, "populated") == "0" }) {
		errs = append(errs, fmt.Errorf("cgroup %s still populated after SIGKILL (waited up to %v)", dir, KillTimeout))
	}
	return errors.Join(errs...)
}
