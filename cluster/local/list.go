package local

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ClusterInfo describes a cluster recorded in a journal.
type ClusterInfo struct {
	Prefix     string
	Journal    string
	OwnerPID   int
	OwnerAlive bool
	Subnet     string
	StateDir   string
	Nodes      []string // node namespaces
	// Processes counts the live processes of the cluster: those in its
	// cgroups (helper commands and what they forked included), or, when
	// its cgroup is gone, the recorded ones still running.
	Processes int
}

// List reads the journals in dir (DefaultJournalDir if empty): the
// clusters of live runs, and the leftovers of dead ones that HealAll would
// remove.
func List(dir string) ([]ClusterInfo, error) {
	if dir == "" {
		dir = DefaultJournalDir
	}
	paths, err := filepath.Glob(filepath.Join(dir, "journal-*.json"))
	if err != nil {
		return nil, fmt.Errorf("local: list journals: %w", err)
	}
	sort.Strings(paths)
	var out []ClusterInfo
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("local: read journal: %w", err)
		}
		var j journalData
		if err := json.Unmarshal(b, &j); err != nil {
			return nil, fmt.Errorf("local: journal %s: %w", p, err)
		}
		ci := ClusterInfo{
			Prefix: j.Prefix, Journal: p, OwnerPID: j.OwnerPID,
			OwnerAlive: alive(j.OwnerPID, j.OwnerStart), Subnet: j.Subnet, StateDir: j.StateDir,
		}
		if len(j.Namespaces) > 1 {
			ci.Nodes = j.Namespaces[1:]
		}
		for _, pr := range j.Procs {
			if alive(pr.PID, pr.Start) {
				ci.Processes++
			}
		}
		if n := cgroupTreeProcs(j.CgroupDir); n > ci.Processes {
			ci.Processes = n
		}
		out = append(out, ci)
	}
	return out, nil
}

// cgroupTreeProcs counts the processes in a cgroup and its descendants (0
// when dir is empty or gone).
func cgroupTreeProcs(dir string) int {
	if dir == "" {
		return 0
	}
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if b, err := os.ReadFile(filepath.Join(p, "cgroup.procs")); err == nil {
			n += len(strings.Fields(string(b)))
		}
		return nil
	})
	return n
}
