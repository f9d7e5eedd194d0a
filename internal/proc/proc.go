// Package proc identifies a process across pid reuse: a pid together with
// its start time (in clock ticks since boot, /proc/<pid>/stat field 22)
// names one process forever. Journals record both, so that whatever heals
// after a crash never mistakes a new process for the dead owner of a
// resource, or kills one.
package proc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Start returns the start time of process pid in clock ticks since boot.
func Start(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// comm (field 2) may hold spaces and parentheses: parse after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// Alive reports whether pid is running and is the process that started at
// start (not a reuse of its pid). Zombies count as gone.
func Alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := Start(pid)
	if err != nil || st != start {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}
