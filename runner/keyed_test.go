package runner

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/chaoscheck/chaoscheck/checkers"
	"github.com/chaoscheck/chaoscheck/history"
	"github.com/chaoscheck/chaoscheck/internal/histgen"
	"github.com/chaoscheck/chaoscheck/rundir"
)

// keyedHistory writes a generated register history of keys keys, named
// by prefix(k), with stale and phantom reads injected into every third
// key, and returns its path.
func keyedHistory(t *testing.T, seed int64, keys int, prefix func(k int) string) string {
	t.Helper()
	h, err := histgen.Register(rand.New(rand.NewPCG(uint64(seed), 1)), histgen.Config{
		Ops: 2500, Keys: keys, Processes: 5, InfoFraction: 0.01,
		ReadWeight: 2, WriteWeight: 1, CASWeight: 1, NotSwappedOK: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(seed), 2))
	first := map[string]history.Value{} // first value written per key
	for i := range h.Ops {
		op := &h.Ops[i]
		if !op.IsClient() {
			continue
		}
		k := 0
		for _, c := range op.Key {
			k = k*10 + int(c-'0')
		}
		op.Key = prefix(k)
		if op.Type == history.Invoke && op.F == "write" {
			if _, ok := first[op.Key]; !ok {
				first[op.Key] = op.Value
			}
		}
		if k%3 == 0 && op.Type == history.OK && op.F == "read" && r.IntN(200) == 0 {
			if v, ok := first[op.Key]; ok && r.IntN(2) == 0 {
				op.Value = v // stale, most likely
			} else {
				op.Value = history.Int(1_000_000 + int64(i)) // never written
			}
		}
	}
	// A nemesis event in the middle: groups see it, keyed checkers skip it.
	mid := len(h.Ops) / 2
	h.Ops = append(h.Ops[:mid], append([]history.Op{{Time: h.Ops[mid].Time, Type: history.Info, Process: history.Nemesis, F: "start-partition"}}, h.Ops[mid:]...)...)
	h.Reindex()
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "history.jsonl")
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
	return path
}

// TestCheckFileKeyedSameAsWhole: checking one key at a time gives the
// results of checking each group whole: verdicts, reasons, counts,
// anomalies (kinds, keys, witnesses, messages) and artifacts, for the
// keyed checkers (linearizable, stats) and next to a checker that sees
// the whole group (session). The spill directory is removed.
func TestCheckFileKeyedSameAsWhole(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		keys   int
		prefix func(int) string
		groups func(viz string) []Group
		// sameMessages: the whole-group check names ops by their index
		// in the group's re-indexed sub-history in messages, the keyed
		// one by their history index; they agree when the group is the
		// whole history.
		sameMessages bool
	}{
		{
			name: "one group", keys: 7, sameMessages: true,
			prefix: func(k int) string { return "k" + string(rune('0'+k)) },
			groups: func(viz string) []Group {
				return []Group{{Workload: "register", Checkers: []checkers.Checker{
					&checkers.Linearizable{Model: checkers.ModelCASRegister, VisualizeDir: viz},
				}}}
			},
		},
		{
			name: "two groups, mixed", keys: 9,
			prefix: func(k int) string {
				if k%2 == 0 {
					return "a:" + string(rune('0'+k))
				}
				return "b:" + string(rune('0'+k))
			},
			groups: func(viz string) []Group {
				return []Group{
					{Workload: "a", KeyPrefix: "a:", Checkers: []checkers.Checker{
						&checkers.Linearizable{Model: checkers.ModelCASRegister, VisualizeDir: viz},
					}},
					{Workload: "b", KeyPrefix: "b:", Checkers: []checkers.Checker{
						&checkers.Session{},
						&checkers.Linearizable{Model: checkers.ModelCASRegister, VisualizeDir: viz},
					}},
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := keyedHistory(t, 7, tc.keys, tc.prefix)
			vizWhole, vizKeyed := t.TempDir(), t.TempDir()
			whole, err := checkFile(ctx, path, tc.groups(vizWhole), false)
			if err != nil {
				t.Fatal(err)
			}
			keyed, err := checkFile(ctx, path, tc.groups(vizKeyed), true)
			if err != nil {
				t.Fatal(err)
			}
			ents, err := os.ReadDir(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if e.Name() != "history.jsonl" {
					t.Errorf("left in the run dir: %s", e.Name())
				}
			}
			var invalid, valid int
			for _, c := range whole {
				if c.Checker == "linearizable" {
					invalid += int(c.Counts["keys_invalid"])
					valid += int(c.Counts["keys"] - c.Counts["keys_invalid"] - c.Counts["keys_unknown"])
				}
			}
			if invalid == 0 || valid == 0 {
				t.Fatalf("the history should have linearizable and non-linearizable keys: %d invalid, %d valid", invalid, valid)
			}
			if !tc.sameMessages {
				blankMessages(whole)
				blankMessages(keyed)
			}
			if len(whole) != len(keyed) {
				t.Fatalf("%d results whole, %d keyed", len(whole), len(keyed))
			}
			for i := range whole {
				w, k := whole[i], keyed[i]
				w.Staleness, k.Staleness = nil, nil
				if !reflect.DeepEqual(w, k) {
					t.Errorf("result %d (%s %s) differs:\nwhole: %+v\nkeyed: %+v", i, w.Workload, w.Checker, w.Result, k.Result)
				}
				for _, a := range k.Artifacts {
					if _, err := os.Stat(filepath.Join(vizKeyed, a)); err != nil {
						t.Errorf("artifact %s: %v", a, err)
					}
				}
			}
		})
	}
}

// blankMessages clears the anomaly messages of checks (see sameMessages).
func blankMessages(cs []rundir.Check) {
	for i := range cs {
		for j := range cs[i].Anomalies {
			cs[i].Anomalies[j].Message = ""
		}
	}
}

// TestCheckFileKeyedMessagesNameHistoryLines: the keyed check's messages
// name the operations by their lines in the history file: every "#N" a
// non-linearizable message names is an op of that key in the file.
func TestCheckFileKeyedMessagesNameHistoryLines(t *testing.T) {
	path := keyedHistory(t, 11, 6, func(k int) string { return "z" + string(rune('0'+k)) })
	h, _, err := history.Load(path, history.FormatJSONL)
	if err != nil {
		t.Fatal(err)
	}
	// A group over a subset, so that sub-history positions differ from
	// history indexes.
	keyed, err := checkFile(context.Background(), path, []Group{{Workload: "z", KeyPrefix: "z", Checkers: []checkers.Checker{&checkers.Linearizable{}}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	var named int
	for _, c := range keyed {
		for _, a := range c.Anomalies {
			for _, f := range strings.Fields(a.Message) {
				f = strings.TrimRight(f, ",;:)")
				if !strings.HasPrefix(f, "#") {
					continue
				}
				var n int
				for _, ch := range f[1:] {
					n = n*10 + int(ch-'0')
				}
				if n < 0 || n >= len(h.Ops) || h.Ops[n].Key != a.Key {
					t.Errorf("message of key %s names #%d, not an op of that key", a.Key, n)
				}
				named++
			}
			for _, idx := range a.Ops {
				if h.Ops[idx].Key != a.Key {
					t.Errorf("witness %d of key %s is an op of key %q", idx, a.Key, h.Ops[idx].Key)
				}
			}
		}
	}
	if named == 0 {
		t.Fatal("no message named an op")
	}
}
