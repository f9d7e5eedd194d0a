package runner

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/rundir"
	"github.com/chaoscheck/chaoscheck/workloads"
)

// A message names operations as "#N": N must be the op's line in the
// whole history, not its position in its workload's sub-history. Here
// the ryw workload's ops come after the register workload's, so the
// two numberings differ by the register ops in front; the check in
// memory (Check) and from the file (CheckFile) must both name the
// read-your-writes witnesses by their lines of the file.
func TestMessagesNameOpsByTheirHistoryIndex(t *testing.T) {
	var ops []history.Op
	add := func(p history.Process, typ history.Type, f, key string, v history.Value) {
		ops = append(ops, history.Op{Time: int64(len(ops)+1) * 1000, Type: typ, Process: p, F: f, Key: key, Value: v})
	}
	for i := range 5 { // register ops first
		add(history.Process(i), history.Invoke, "write", "register:0", history.Int(int64(i+1)))
		add(history.Process(i), history.OK, "write", "register:0", history.Int(int64(i+1)))
	}
	add(7, history.Invoke, "write", "ryw:0", history.Int(1))
	add(7, history.OK, "write", "ryw:0", history.Int(1))
	add(7, history.Invoke, "write", "ryw:0", history.Int(2))
	add(7, history.OK, "write", "ryw:0", history.Int(2))
	add(7, history.Invoke, "read", "ryw:0", history.Nil())
	add(7, history.OK, "read", "ryw:0", history.Int(1)) // misses its own write of 2
	h := &history.History{Ops: ops}
	h.Reindex()
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	groups := Groups(mustWorkloads(t, "register", "ryw"), workloads.CheckOptions{})
	path := filepath.Join(t.TempDir(), "history.jsonl")
	writeHistoryFile(t, path, h)
	fromFile, err := CheckFile(context.Background(), path, groups)
	if err != nil {
		t.Fatal(err)
	}
	ref := regexp.MustCompile(`#(\d+)`)
	for name, checks := range map[string][]rundir.Check{"Check": Check(context.Background(), h, groups), "CheckFile": fromFile} {
		seen := 0
		for _, c := range checks {
			for _, a := range c.Anomalies {
				for _, g := range ref.FindAllStringSubmatch(a.Message, -1) {
					n, _ := strconv.Atoi(g[1])
					seen++
					if n >= len(h.Ops) || h.Ops[n].Key != "ryw:0" {
						t.Errorf("%s: message %q names #%d, which is not an op of key ryw:0", name, a.Message, n)
					} else if h.Ops[n].Type == history.Invoke && !slices.Contains(a.Ops, n) {
						t.Errorf("%s: message %q names #%d, not among its witnesses %v", name, a.Message, n, a.Ops)
					}
				}
			}
		}
		if seen == 0 {
			t.Errorf("%s: no message named an op: the read-your-writes violation was not found", name)
		}
	}
}

func writeHistoryFile(t *testing.T, path string, h *history.History) {
	t.Helper()
	w, err := history.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range h.Ops {
		if err := w.Write(&h.Ops[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
