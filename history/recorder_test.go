package history

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestRecorderConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRecorder(w)
	const clients, per = 8, 200
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				inv := r.Record(Op{Type: Invoke, Process: Process(c), F: "write", Value: Int(int64(i))})
				done := r.Record(Op{Type: OK, Process: Process(c), F: "write", Value: Int(int64(i))})
				if done.Index <= inv.Index || done.Time < inv.Time {
					t.Errorf("completion %+v before its invocation %+v", done, inv)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if r.History() != nil {
		t.Fatal("a streaming Recorder kept its ops")
	}
	// The streamed file is the history: every op, in index and time order.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, info, err := ReadJSONL(f)
	if err != nil {
		t.Fatal(err) // includes Index == position and non-decreasing times
	}
	if info.Truncated || len(h.Ops) != 2*clients*per || r.Len() != len(h.Ops) {
		t.Fatalf("%d ops (Len %d, %+v), want %d", len(h.Ops), r.Len(), info, 2*clients*per)
	}
	if r.Elapsed() < time.Duration(h.Ops[len(h.Ops)-1].Time) {
		t.Fatalf("Elapsed %v is before the last op's time %d", r.Elapsed(), h.Ops[len(h.Ops)-1].Time)
	}
}

// A memory Recorder keeps every op across its chunks, in order.
func TestRecorderMemoryChunks(t *testing.T) {
	r := NewRecorder(nil)
	const n = 3*recChunk + 17
	for i := range n {
		r.Record(Op{Type: Invoke, Process: 0, F: "write", Value: Int(int64(i))})
		r.Record(Op{Type: OK, Process: 0, F: "write", Value: Int(int64(i))})
	}
	h := r.History()
	if len(h.Ops) != 2*n || r.Len() != 2*n {
		t.Fatalf("%d ops (Len %d), want %d", len(h.Ops), r.Len(), 2*n)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	for i := range h.Ops {
		if v, _ := h.Ops[i].Value.AsInt(); v != int64(i/2) {
			t.Fatalf("op %d holds %v", i, h.Ops[i].Value)
		}
	}
}

func TestRecorderSnapshotAndCopies(t *testing.T) {
	r := NewRecorder(nil) // memory only
	extra := map[string]string{"try": "1"}
	r.Record(Op{Type: Invoke, Process: 0, F: "read", Extra: extra})
	extra["try"] = "2" // the caller's map is not the recorded one
	snap := r.History()
	r.Record(Op{Type: OK, Process: 0, F: "read", Value: Int(5)})
	if len(snap.Ops) != 1 {
		t.Fatalf("snapshot changed: %d ops", len(snap.Ops))
	}
	if got := r.History().Ops[0].Extra["try"]; got != "1" {
		t.Fatalf("recorded Extra changed to %q", got)
	}
	snap.Ops[0].F = "changed"
	if r.History().Ops[0].F != "read" {
		t.Fatal("modifying a snapshot changed the recorder")
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	if r.Start().IsZero() {
		t.Fatal("zero start")
	}
}

// sameOps fails unless got and want hold the same ops, field by field.
func sameOps(t *testing.T, got, want []Op) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d ops, want %d", len(got), len(want))
	}
	for i := range got {
		if !sameOp(got[i], want[i]) {
			t.Fatalf("op %d:\n got %#v\nwant %#v", i, got[i], want[i])
		}
	}
}

func sameOp(a, b Op) bool {
	if a.Index != b.Index || a.Time != b.Time || a.Type != b.Type || a.Process != b.Process ||
		a.F != b.F || a.Key != b.Key || !a.Value.Equal(b.Value) || a.Error != b.Error ||
		a.Node != b.Node || len(a.Extra) != len(b.Extra) {
		return false
	}
	for k, v := range a.Extra {
		if w, ok := b.Extra[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// RecordBefore records nothing once its limit has passed, and an op it
// records is stamped before the limit.
func TestRecordBefore(t *testing.T) {
	for _, w := range []*Writer{nil, NewWriter(io.Discard)} {
		r := NewRecorder(w)
		op, ok := r.RecordBefore(Op{Type: Invoke, Process: 0, F: "read"}, time.Hour)
		if !ok || op.Time >= time.Hour.Nanoseconds() || r.Len() != 1 {
			t.Fatalf("before the limit: %+v %v (Len %d)", op, ok, r.Len())
		}
		if _, ok := r.RecordBefore(Op{Type: OK, Process: 0, F: "read"}, 0); ok || r.Len() != 1 {
			t.Fatalf("recorded past the limit (Len %d)", r.Len())
		}
	}
}
