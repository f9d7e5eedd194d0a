package history

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A filtered load returns the selected ops re-indexed, with the index of
// each in the file, whatever the size hint (none, exact, too small, too
// large), and the same ops as a whole load filtered afterwards.
func TestLoadJSONLKeep(t *testing.T) {
	var ops []Op
	for i := range 3000 {
		key := []string{"a:1", "b:1", "a:2"}[i%3]
		ops = append(ops,
			Op{Type: Invoke, Process: Process(i % 3), F: "write", Key: key, Value: Int(int64(i))},
			Op{Type: OK, Process: Process(i % 3), F: "write", Key: key, Value: Int(int64(i)), Node: "n1"})
		if i%500 == 0 {
			ops = append(ops, Op{Type: Info, Process: Nemesis, F: "start", Value: Str("x")})
		}
	}
	h := &History{Ops: ops}
	h.Reindex()
	path := filepath.Join(t.TempDir(), "h.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteJSONL(f, h); err != nil {
		t.Fatal(err)
	}
	f.Close()
	keep := func(op *Op) bool { return !op.IsClient() || strings.HasPrefix(op.Key, "a:") }
	var want []int
	for i := range h.Ops {
		if keep(&h.Ops[i]) {
			want = append(want, i)
		}
	}
	for _, hint := range []int{0, len(want), 10, 10 * len(want)} {
		sub, orig, _, err := LoadJSONL(path, LoadOptions{Keep: keep, SizeHint: hint})
		if err != nil {
			t.Fatalf("hint %d: %v", hint, err)
		}
		if len(sub.Ops) != len(want) || len(orig) != len(want) {
			t.Fatalf("hint %d: %d ops, %d origins, want %d", hint, len(sub.Ops), len(orig), len(want))
		}
		for i, o := range orig {
			wantOp := h.Ops[o]
			wantOp.Index = i
			if o != want[i] || !sameOp(sub.Ops[i], wantOp) {
				t.Fatalf("hint %d: op %d is %v from #%d, want %v from #%d", hint, i, sub.Ops[i], o, wantOp, want[i])
			}
		}
	}
	whole, orig, _, err := LoadJSONL(path, LoadOptions{})
	if err != nil || orig != nil {
		t.Fatal(err, orig)
	}
	sameOps(t, whole.Ops, h.Ops)
}
